"""Person detection on every k-th frame of each shot.

Detection is the slowest per-frame step on CPU, so it runs on a subsample; the tracker links the
detections and boxes are interpolated in between (:mod:`tasks.tracking`). Each shot's first and
last frames are always detected so that interpolation covers the whole shot and a cut never has
to borrow boxes from the previous shot.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tasks.decode import iter_chunks
from tasks.shots import Shot


def detection_frames(shots: list[Shot], every_k: int) -> list[int]:
    frames: set[int] = set()
    for shot in shots:
        frames.update(range(shot.start_frame, shot.end_frame + 1, max(every_k, 1)))
        frames.add(shot.end_frame)
    return sorted(frames)


def detect_people(
    source,
    frames: list[int],
    detector,
    chunk_size: int = 32,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(frame, boxes_xyxy (N, 4), scores (N,))`` for each requested frame that could be
    decoded, in order: one run of :meth:`PersonDetector.detect_run` (the caller passes one unit's
    frames). ``source``: a :class:`~tasks.probe.VideoInfo` or a path."""
    decoded: list[int] = []

    def images() -> Iterator[np.ndarray]:
        for indices, chunk in iter_chunks(source, chunk_size=chunk_size, frames=frames):
            for index, frame in zip(indices, chunk, strict=True):
                decoded.append(int(index))
                yield frame

    for k, (boxes, scores) in enumerate(detector.detect_run(images())):
        yield (
            decoded[k],
            np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(scores, np.float32).reshape(-1),
        )
