"""Split-screen layouts: the tiles of a video call's gallery view, each its own camera.

Interviews recorded from a video call show each person in a tile of their own (side by side,
stacked, a 2x2 grid), often with a dark gutter between the tiles and bars around them. Read as
one picture, the tiles fool every stage: a face that fills its tile is widened into a body box
that reaches over the neighbouring tile and its person, a landmark model's region spills over
the seam, and two people sitting in different rooms are placed side by side in one camera's 3D
space and given an orientation towards each other. So a unit of work's tiles are found first
(:func:`find_tiles`), and each person is detected and estimated within their own tile only,
as in a video of that tile alone (:mod:`tasks.detection`, :mod:`tasks.inference`), in the tile's
own camera (:func:`tile_focal_px`; the render draws them with it); measures between two people
in different tiles are null (:mod:`analytics.pipeline`).

A tile border is a straight line across the whole picture (the content area inside any
letterbox or pillarbox bars) where the picture changes abruptly in nearly every row, or a
gutter: a narrow band that is one flat colour from end to end. It must be there in every sampled
frame, and tiles are at least :data:`MIN_TILE_FRACTION` of the content area wide (or high).
A region is cut along borders that cross the whole of it, and each part is split again: grids,
and galleries with a row of two over a row of one. A self-view inset or a speaker view with a
strip of small tiles is read as one picture (their people are still found, as in any frame),
and so is a seam without a gutter between two tiles whose edges look alike in most
rows (two bright windows side by side): there is nothing in those rows to see the seam by.
Video-call apps draw a gutter between tiles.

Why a rule of its own rather than a library: no packaged layout detector exists, and the shot
detectors (PySceneDetect and the like) look at time, not at the picture's geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pmrr_model.crop import default_focal_px
from tasks.decode import iter_chunks

#: Frames sampled evenly over a unit of work to read its layout...
SAMPLES = 6
#: ...at most this wide.
READ_WIDTH_PX = 640
#: A border changes the grey level by at least this much (of 255) more than the picture
#: changes just before and just after it...
STEP_GREY = 6.0
#: ...in at least this fraction of the rows it crosses, in every sampled frame. Measured on real
#: pictures (tests/test_layout.py's): seams between two real scenes 0.85-0.90; the most
#: seam-like line of real single-camera clips and photos 0.52 (scikit-image's cameraman), but
#: for a brick wall's mortar joints (0.97, too close together to make tiles).
STEP_ROWS = 0.7
#: The change happens within this many pixels (a seam, not a soft edge of the scene). Two, not
#: one: a layout scaled by a non-integer factor blends the two tiles in one column.
STEP_WIDTH_PX = 2
#: A line or band this flat (std of grey levels along it) is a gutter or a bar.
FLAT_STD = 3.0
#: Gutters are at most this fraction of the content area wide (a flat wall is wider).
MAX_GUTTER_FRACTION = 0.04
#: Each tile spans at least this fraction of the content area's width (or height).
MIN_TILE_FRACTION = 0.2
#: Splits within splits, at most (a 3x3 grid needs 2).
MAX_DEPTH = 3

Tile = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, exclusive ends


@dataclass(frozen=True)
class _Axis:
    """Borders along one axis of the picture: where the content starts and ends, and the
    (start, end) of each cut between tiles (a seam has start == end, a gutter spans columns)."""

    start: int
    end: int
    cuts: tuple[tuple[int, int], ...]

    def spans(self) -> list[tuple[int, int]]:
        edges = [self.start, *[c for cut in self.cuts for c in cut], self.end]
        return list(zip(edges[::2], edges[1::2], strict=True))


def _grey(frame_rgb: np.ndarray) -> np.ndarray:
    return frame_rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _flat_lines(greys: np.ndarray) -> np.ndarray:
    """(W,) bool: columns that are one flat colour in every frame (greys: (F, H, W))."""
    return (greys.std(axis=1) < FLAT_STD).all(axis=0)


def _step_lines(greys: np.ndarray) -> np.ndarray:
    """(W,) bool: borders b (between columns b - 1 and b) where the grey level jumps, within
    STEP_WIDTH_PX columns, in at least STEP_ROWS of the rows of every frame, while it stays steady
    just before and just after the jump: a seam, not a gradient or a textured area."""
    width = greys.shape[2]
    w = STEP_WIDTH_PX
    out = np.zeros(width, bool)
    n = width - 4 * w + 1  # borders b = 2w .. width - 2w
    if n <= 0:
        return out

    def column(offset: int) -> np.ndarray:  # the column b + offset, for every b (a view)
        return greys[:, :, 2 * w + offset : 2 * w + offset + n]

    jump = np.abs(column(w - 1) - column(-w))
    steady = np.maximum(
        np.abs(column(-w) - column(-2 * w)), np.abs(column(2 * w - 1) - column(w - 1))
    )
    rate = (jump - steady >= STEP_GREY).mean(axis=1)  # (F, n)
    out[2 * w : 2 * w + n] = (rate >= STEP_ROWS).all(axis=0)
    return out


def _bordered(greys: np.ndarray, start: int, end: int) -> bool:
    """Whether the flat band of columns ``start..end`` ends in a jump of grey level on at least
    one side, in STEP_ROWS of the rows of every frame: a gutter between tiles, not a smooth
    stretch of a wall or a backdrop (which blends into what is next to it)."""
    sides = [(start - 1, start), (end, end - 1)]
    for outside, inside in sides:
        if 0 <= outside < greys.shape[2]:
            rate = (np.abs(greys[:, :, outside] - greys[:, :, inside]) >= STEP_GREY).mean(axis=1)
            if (rate >= STEP_ROWS).all():
                return True
    return False


def _content(greys: np.ndarray) -> tuple[int, int]:
    """Where the columns of ``greys`` (F, H, W) stop being the flat bars at the edges."""
    solid = np.flatnonzero(~_flat_lines(greys))
    return (int(solid[0]), int(solid[-1]) + 1) if len(solid) else (0, greys.shape[2])


def _axis(greys: np.ndarray, start: int, end: int) -> _Axis:
    """Borders between columns ``start..end`` of ``greys`` (F, H, W), the content area's rows
    only (bars would dilute a seam's rows)."""
    length = end - start
    flat = _flat_lines(greys)
    cuts: list[tuple[int, int]] = []
    x = start
    while x < end:  # gutters: narrow flat bands inside the content
        if not flat[x]:
            x += 1
            continue
        run_end = x
        while run_end < end and flat[run_end]:
            run_end += 1
        if run_end - x <= MAX_GUTTER_FRACTION * length and _bordered(greys, x, run_end):
            cuts.append((x, run_end))
        x = run_end
    for s in _centres(np.flatnonzero(_step_lines(greys))):
        if start < s < end and not any(a - 2 <= s <= b + 2 for a, b in cuts):
            cuts.append((s, s))
    thin = MIN_TILE_FRACTION * length
    merged = list(_merged(sorted(cuts), MAX_GUTTER_FRACTION * length, flat))
    while merged and merged[0][0] - start < thin:  # the blurred edge of a bar, not a tile
        merged.pop(0)
    while merged and end - merged[-1][1] < thin:
        merged.pop()
    axis = _Axis(start, end, tuple(merged))
    if any(b - a < thin for a, b in axis.spans()):
        return _Axis(start, end, ())  # tiles too thin: an edge of the scene, not a layout
    return axis


def _merged(
    cuts: list[tuple[int, int]], gap: float, flat: np.ndarray
) -> tuple[tuple[int, int], ...]:
    """Cuts less than ``gap`` apart with a flat column between them as one band: a gutter whose
    edges scaling blurred into ripples, found as two seams a few pixels apart (and not as its
    flat core, whose edges are no jump). Without a flat column between them (a brick wall's
    joints) they stay apart."""
    out: list[tuple[int, int]] = []
    for a, b in cuts:
        if out and a - out[-1][1] <= gap and flat[out[-1][1] : a].any():
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def _centres(positions: np.ndarray) -> list[int]:
    """One position per run of neighbouring ones (its middle)."""
    if not len(positions):
        return []
    runs = np.split(positions, np.flatnonzero(np.diff(positions) > 1) + 1)
    return [int(round(float(r.mean()))) for r in runs]


def find_tiles(frames_rgb: Sequence[np.ndarray]) -> tuple[Tile, ...]:
    """The tiles of a split-screen layout, each ``(x0, y0, x1, y1)``, in the order the regions
    were split (a grid: row by row); ``()`` where the frames are one picture (one tile, or
    nothing to read)."""
    if not len(frames_rgb):
        return ()
    greys = np.stack([_grey(f) for f in frames_rgb])  # (F, H, W)
    tiles = _split(greys, 0, 0, MAX_DEPTH)
    return tuple(tiles) if len(tiles) > 1 else ()


def _split(greys: np.ndarray, left: int, top: int, depth: int) -> list[Tile]:
    """The tiles of the region ``greys`` (F, h, w) whose corner is ``(left, top)`` in the
    frame: its content cut along the rows' borders, else the columns', each part split again
    (a gallery of 2 above 1 is a row of two over one; a grid is rows of columns)."""
    across = greys.transpose(0, 2, 1)
    x0, x1 = _content(greys)
    y0, y1 = _content(across)
    rows = _axis(across[:, x0:x1, :], y0, y1)
    columns = _axis(greys[:, y0:y1, :], x0, x1)
    if depth == 0 or not (rows.cuts or columns.cuts):
        return [(left + x0, top + y0, left + x1, top + y1)]
    if rows.cuts:
        parts = [(x0, a, x1, b) for a, b in rows.spans()]
    else:
        parts = [(a, y0, b, y1) for a, b in columns.spans()]
    return [
        tile
        for a, b, c, d in parts
        for tile in _split(greys[:, b:d, a:c], left + a, top + b, depth - 1)
    ]


def sample_frames(first: int, last: int, n: int = SAMPLES) -> list[int]:
    """``n`` frames spread evenly over ``first..last`` (inclusive)."""
    return sorted(set(np.linspace(first, last, n).round().astype(int).tolist()))


def unit_tiles(source, first: int, last: int) -> tuple[Tile, ...]:
    """The layout of frames ``first..last`` of a video (:func:`find_tiles` on a few of them),
    read at most :data:`READ_WIDTH_PX` wide (a 1080p frame at full size took 3 s a unit of
    work) and scaled back to the frame's pixels (within ``width / READ_WIDTH_PX`` pixels)."""
    width, height = int(getattr(source, "width_px", 0)), int(getattr(source, "height_px", 0))
    scale = READ_WIDTH_PX / width if width > READ_WIDTH_PX else 1.0
    size = (READ_WIDTH_PX, max(int(round(height * scale)), 1)) if scale < 1 else (-1, -1)
    frames: list[np.ndarray] = []
    wanted = sample_frames(first, last)
    for _, chunk in iter_chunks(
        source, chunk_size=SAMPLES, frames=wanted, width=size[0], height=size[1]
    ):
        frames.extend(chunk)
    tiles = find_tiles(frames)
    if scale == 1.0:
        return tiles
    sx, sy = width / frames[0].shape[1], height / frames[0].shape[0]
    return tuple(
        (round(x0 * sx), round(y0 * sy), min(round(x1 * sx), width), min(round(y1 * sy), height))
        for x0, y0, x1, y1 in tiles
    )


def tile_keys(tile_px: np.ndarray) -> list[Tile | None]:
    """(M, 4) rows' tiles (NaN: one picture) -> each row's tile as a key (None: one picture)."""
    return [None if np.isnan(t).any() else tuple(int(v) for v in t) for t in tile_px]


def tile_focal_px(tile: Tile) -> float:
    """Focal length of a tile's own camera (its principal point is the tile's centre): what the
    estimator assumes for a picture of the tile's size (:func:`pmrr_model.crop.default_focal_px`).
    Each tile of a call is another webcam, and a wider picture's focal would place its person
    deeper than a video of that webcam alone does."""
    x0, y0, x1, y1 = tile
    return default_focal_px((y1 - y0, x1 - x0))


def tile_of(box_xyxy: np.ndarray, tiles: Sequence[Tile]) -> int:
    """Index of the tile holding most of the box (-1: no tiles)."""
    if not len(tiles):
        return -1
    t = np.asarray(tiles, np.float64)
    b = np.asarray(box_xyxy, np.float64)
    w = np.clip(np.minimum(t[:, 2], b[2]) - np.maximum(t[:, 0], b[0]), 0, None)
    h = np.clip(np.minimum(t[:, 3], b[3]) - np.maximum(t[:, 1], b[1]), 0, None)
    return int(np.argmax(w * h))
