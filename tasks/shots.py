"""Shot boundaries from colour-histogram differences with an adaptive threshold.

Why not PySceneDetect: it opens the video again through its own OpenCV/PyAV backend (a second
full-resolution decode) and its ContentDetector uses a fixed threshold; here the histograms come
from a decord pass at 64 px width (a few thousand frames/s), and the threshold adapts to the
clip: a frame starts a new shot when its histogram distance to the previous frame is both above
an absolute floor and far above the recent distances (median + ``k`` x MAD of the last second).
Hand-held motion or lighting drift raises the recent level and so does not trigger; a hard cut
between two framings does. Fades are not detected (interview archives rarely use them).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from tasks.decode import iter_chunks

BINS = (8, 8, 8)  # hue, saturation, value


@dataclass(frozen=True)
class Shot:
    shot_id: int
    start_frame: int  # inclusive
    end_frame: int  # inclusive

    @property
    def n_frames(self) -> int:
        return self.end_frame - self.start_frame + 1


def colour_histogram(frame_rgb: np.ndarray) -> np.ndarray:
    """Normalised HSV histogram (sums to 1)."""
    hsv = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance in [0, 1]."""
    return 0.5 * float(np.abs(a - b).sum())


@dataclass
class CutDetector:
    """Online cut detector; feed it frames in order with :meth:`update`."""

    fps: float = 25.0
    floor: float = 0.3  # absolute minimum distance for a cut
    k: float = 6.0  # MADs above the recent median
    min_shot_s: float = 0.4

    def __post_init__(self) -> None:
        self._recent: deque[float] = deque(maxlen=max(int(self.fps), 5))
        self._prev: np.ndarray | None = None
        self._last_cut = 0
        self.cuts: list[int] = []
        self.distances: list[float] = []

    def update(self, index: int, frame_rgb: np.ndarray) -> bool:
        hist = colour_histogram(frame_rgb)
        prev, self._prev = self._prev, hist
        if prev is None:
            return False
        d = histogram_distance(prev, hist)
        self.distances.append(d)
        recent = np.asarray(self._recent) if self._recent else np.zeros(1)
        median = float(np.median(recent))
        mad = float(np.median(np.abs(recent - median))) + 0.01
        is_cut = (
            d > max(self.floor, median + self.k * mad)
            and index - self._last_cut >= self.min_shot_s * self.fps
        )
        if is_cut:
            self.cuts.append(index)
            self._last_cut = index
            self._recent.clear()
        else:
            self._recent.append(d)
        return is_cut


def shots_from_cuts(cuts: list[int], n_frames: int) -> list[Shot]:
    """Shots of a video whose frames all decode."""
    return shots_from_runs(cuts, np.arange(n_frames))


def shots_from_runs(cuts: list[int], decoded: np.ndarray) -> list[Shot]:
    """Shots over the decoded frames: a cut, or a stretch of undecodable frames, ends a shot
    (tracks never bridge frames that nobody could see); lost frames belong to no shot."""
    decoded = np.unique(np.asarray(decoded, np.int64))
    if not len(decoded):
        return []
    breaks = set(int(c) for c in cuts)
    breaks.update(int(decoded[i]) for i in np.flatnonzero(np.diff(decoded) > 1) + 1)
    shots, start, previous = [], int(decoded[0]), int(decoded[0])
    for frame in decoded[1:].tolist():
        if frame in breaks:
            shots.append(Shot(len(shots), start, previous))
            start = frame
        previous = frame
    shots.append(Shot(len(shots), start, previous))
    return shots


def scan_video(
    source,
    fps: float,
    chunk_size: int = 256,
    size: tuple[int, int] = (64, 48),
    **detector_kwargs,
) -> tuple[list[Shot], np.ndarray]:
    """Shots and lost frames of a video, from one decode pass at ``size`` (width, height).

    ``source``: a :class:`~tasks.probe.VideoInfo` (or a path, read with decord). Returns the shots
    and the indices of the timeline's frames that could not be decoded. The aspect ratio is not
    kept: a colour histogram does not depend on it.
    """
    detector = CutDetector(fps=fps, **detector_kwargs)
    decoded: list[np.ndarray] = []
    for indices, frames in iter_chunks(
        source, chunk_size=chunk_size, width=size[0], height=size[1]
    ):
        for index, frame in zip(indices, frames, strict=True):
            detector.update(int(index), frame)
        decoded.append(indices)
    found = np.concatenate(decoded) if decoded else np.zeros(0, np.int64)
    n_frames = getattr(source, "n_frames", int(found.max()) + 1 if len(found) else 0)
    lost = np.setdiff1d(np.arange(n_frames), found)
    return shots_from_runs(detector.cuts, found), lost


def detect_shots(source, fps: float, **kwargs) -> list[Shot]:
    """Shots of a video (see :func:`scan_video`)."""
    return scan_video(source, fps, **kwargs)[0]
