"""Streamed decoding with decord.

Frames are read in chunks of ``chunk_size`` through ``VideoReader.get_batch``, so memory is one
chunk (``chunk_size`` x H x W x 3 bytes) whatever the video's length; every stage that needs
pixels iterates this generator instead of holding a video. decord can also decode straight to a
small size (``width``/``height``), which the shot detector uses to make its pass nearly free.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from tasks.errors import VideoError


def _reader(path: str, width: int = -1, height: int = -1):
    import decord

    try:
        return decord.VideoReader(
            path, ctx=decord.cpu(0), width=width, height=height, num_threads=0
        )
    except Exception as error:  # decord raises DECORDError/RuntimeError with C++ messages
        raise VideoError(f"{path}: cannot be decoded ({str(error).splitlines()[0]})") from error


def frame_count(path: str) -> int:
    """Number of decodable frames (decord's index, more reliable than container headers)."""
    return len(_reader(path))


def _rotate(frames: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Apply the container's display rotation (clockwise) so boxes match what a viewer sees."""
    if rotation_deg % 360 == 0:
        return frames
    return np.ascontiguousarray(np.rot90(frames, k=-(rotation_deg // 90), axes=(1, 2)))


def iter_chunks(
    path: str,
    chunk_size: int = 64,
    frames: Sequence[int] | None = None,
    width: int = -1,
    height: int = -1,
    rotation_deg: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(frame_indices, frames_rgb)`` with frames (n, H, W, 3) uint8, in order.

    ``frames`` restricts decoding to some indices (sorted); default all frames.
    """
    reader = _reader(path, width, height)
    wanted = (
        np.arange(len(reader)) if frames is None else np.asarray(sorted(frames), dtype=np.int64)
    )
    for start in range(0, len(wanted), chunk_size):
        indices = wanted[start : start + chunk_size]
        try:
            batch = reader.get_batch(indices.tolist()).asnumpy()
        except Exception as error:
            raise VideoError(
                f"{path}: decoding frames {indices[0]}-{indices[-1]} failed ({error})"
            ) from error
        yield indices, _rotate(batch, rotation_deg)
    del reader
