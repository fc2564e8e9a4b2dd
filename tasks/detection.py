"""Person detection on every k-th frame of each shot.

Detection is the slowest per-frame step on CPU, so it runs on a subsample; the tracker links the
detections and boxes are interpolated in between (:mod:`tasks.tracking`). Each shot's first and
last frames are always detected so that interpolation covers the whole shot and a cut never has
to borrow boxes from the previous shot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np

from tasks.decode import iter_chunks
from tasks.layout import Tile
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
    tile: Tile | None = None,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(frame, boxes_xyxy (N, 4), scores (N,))`` for each requested frame that could be
    decoded, in order: one run of :meth:`PersonDetector.detect_run` (the caller passes one unit's
    frames). ``source``: a :class:`~tasks.probe.VideoInfo` or a path. ``tile``: the detector
    sees only that part of each frame, as a picture of its own (boxes in frame pixels)."""
    decoded: list[int] = []
    x0, y0, x1, y1 = tile if tile is not None else (0, 0, None, None)

    def images() -> Iterator[np.ndarray]:
        for indices, chunk in iter_chunks(source, chunk_size=chunk_size, frames=frames):
            for index, frame in zip(indices, chunk, strict=True):
                decoded.append(int(index))
                yield np.ascontiguousarray(frame[y0:y1, x0:x1])

    offset = np.array([x0, y0, x0, y0], np.float32)
    for k, (boxes, scores) in enumerate(detector.detect_run(images())):
        yield (
            decoded[k],
            np.asarray(boxes, np.float32).reshape(-1, 4) + offset,
            np.asarray(scores, np.float32).reshape(-1),
        )


def detect_in_tiles(
    source, frames: list[int], detector, tiles: tuple[Tile, ...]
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """:func:`detect_people` over a split-screen layout: one run per tile, each tile a picture
    of its own (:mod:`tasks.layout`), so no box reaches over a seam; the tiles' people merged
    per frame, in frame order. Without tiles, :func:`detect_people` on the whole frame."""
    if not tiles:
        yield from detect_people(source, frames, detector)
        return
    found: dict[int, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for tile in tiles:
        for frame, boxes, scores in detect_people(source, frames, detector, tile=tile):
            found[frame].append((boxes, scores))
    for frame in sorted(found):
        boxes, scores = zip(*found[frame], strict=True)
        yield frame, np.concatenate(boxes), np.concatenate(scores)
