"""Per-shot batched SMPL estimation through the :class:`~pmrr_model.estimators.base.Estimator`.

Frames that carry at least one tracked box are decoded in chunks and handed to the estimator with
their boxes and track IDs; a chunk never spans a cut, and the estimator's temporal state is reset
at every shot start so a warm start never crosses a cut. Each chunk is estimated in two steps
(``observe_batch``, which reads the images, then ``estimate_observed``, which updates the
temporal state): the next chunk is observed in a helper thread while this one is fitted. Only the
parameters and joints are kept (no vertices), so memory grows with the number of person-frames
(~1.6 kB each), not with pixels.

**Estimating every k-th frame** (``every_k``, the config's ``estimate_every_k``): the estimator
sees each track's first frame, every k-th frame after it and its last frame; the frames between
get parameters interpolated between their two estimated neighbours (rotations by quaternion
slerp per joint, shape and translation linearly) and joints recomputed from those parameters
by the body model, so every row's joints are the body model's joints of its parameters, as for
estimated rows. Why: the per-person estimate is most of the CPU default's time, and at 25-30
frames/s body motion between neighbouring frames is small against the estimator's own error
(``benchmarks/accuracy.py`` measures both). A joint counts as observed in an interpolated row
only when it was observed in both neighbours; the confidence is the smaller of the two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from pmrr_model.crop import default_focal_px
from pmrr_model.estimators.base import joints_in_view
from pmrr_model.estimators.common import assemble_estimates
from pmrr_model.geometry import (
    axis_angle_to_quaternion,
    quaternion_slerp,
    quaternion_to_axis_angle,
)
from tasks.decode import iter_chunks
from tasks.layout import Tile, tile_keys
from tasks.sequence import SmplSequence
from tasks.tracking import TrackedBoxes


def _rows_from_estimates(
    est,
    frame: int,
    rows: np.ndarray,
    tracked: TrackedBoxes,
    image_size_hw: tuple[int, int],
    corner: np.ndarray | None = None,
) -> dict:
    """Table rows of one frame's estimates; ``corner``: where the picture the estimator saw
    (a split screen's tile) starts in the frame, so 2D joints come out in frame pixels."""
    n = len(rows)
    joints2d = np.asarray(est.joints2d_px, np.float32).reshape(n, -1, 2)
    if corner is not None:
        joints2d = joints2d + np.asarray(corner, np.float32)
    observed = getattr(est, "observed", None)
    if observed is None:  # no per-joint evidence: what projects into the box and image
        observed = joints_in_view(joints2d, tracked.bbox_px[rows], image_size_hw)
    return {
        "frame": np.full(n, frame, np.int64),
        "track_id": tracked.track_id[rows],
        "shot_id": tracked.shot_id[rows],
        "bbox_px": tracked.bbox_px[rows],
        "det_score": tracked.det_score[rows],
        "tile_px": tracked.tile_px[rows],
        "global_orient": np.asarray(est.global_orient, np.float32).reshape(n, 3),
        "body_pose": np.asarray(est.body_pose, np.float32).reshape(n, 69),
        "betas": np.asarray(est.betas, np.float32).reshape(n, 10),
        "cam": np.asarray(est.cam, np.float32).reshape(n, 3),
        "transl_m": np.asarray(est.transl_m, np.float32).reshape(n, 3),
        "joints3d_m": np.asarray(est.joints3d_m, np.float32).reshape(n, -1, 3),
        "joints2d_px": joints2d,
        "confidence": np.asarray(est.confidence, np.float32).reshape(n),
        "joints_observed": np.asarray(observed, bool).reshape(n, -1),
        "hands3d_m": (
            np.full((n, 2, 3), np.nan, np.float32)
            if getattr(est, "hands_m", None) is None
            else np.asarray(est.hands_m, np.float32).reshape(n, 2, 3)
        ),
    }


def _runs(tracked: TrackedBoxes) -> list[np.ndarray]:
    """Row indices of each run of consecutive frames of one track in one shot, in frame order."""
    if len(tracked) == 0:
        return []
    order = np.lexsort((tracked.frame, tracked.track_id, tracked.shot_id))
    frame, track, shot = tracked.frame[order], tracked.track_id[order], tracked.shot_id[order]
    breaks = (np.diff(frame) != 1) | (np.diff(track) != 0) | (np.diff(shot) != 0)
    return np.split(order, np.flatnonzero(breaks) + 1)


def estimated_rows(tracked: TrackedBoxes, every_k: int) -> np.ndarray:
    """(M,) bool: the tracked rows the estimator sees with ``every_k`` (module docstring)."""
    keep = np.zeros(len(tracked), bool)
    for run in _runs(tracked):
        keep[run[::every_k]] = True
        keep[run[-1]] = True
    return keep


def estimate_sequence(
    source,
    tracked: TrackedBoxes,
    estimator,
    chunk_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
    every_k: int = 1,
) -> SmplSequence:
    """SMPL parameters for every tracked person-frame that can be decoded. ``source``: a
    :class:`~tasks.probe.VideoInfo` or a path. ``every_k`` > 1: the estimator sees every k-th
    frame of each track, the others are interpolated (module docstring).

    A split screen's people (:mod:`tasks.layout`) are estimated tile by tile, each tile a
    picture of its own seen by its own camera (:func:`tasks.layout.tile_focal_px`): no landmark
    region reaches over a seam, nobody in another tile is anyone's neighbour, and each webcam's
    person is placed in depth as in a video of that tile alone. The sequence's ``focal_px`` is
    the whole frame's."""
    keys = tile_keys(tracked.tile_px)
    groups = sorted(set(keys), key=lambda k: (k is not None, k or ()))
    if len(groups) <= 1:
        view = groups[0] if groups else None
        return _estimate_view(source, tracked, estimator, chunk_size, on_progress, every_k, view)[0]
    done = [0.0, 0]  # frames reported over all passes / passes, and frames reported so far

    def share(n: int) -> None:  # each frame is decoded once per tile: report each pass's part
        done[0] += n / len(groups)
        if on_progress is not None and int(done[0]) > done[1]:
            on_progress(int(done[0]) - done[1])
            done[1] = int(done[0])

    views = [
        _estimate_view(
            source,
            tracked.take(np.asarray([k == tile for k in keys])),
            estimator,
            chunk_size,
            share,
            every_k,
            tile,
        )
        for tile in groups
    ]
    found = [seq for seq, _ in views if len(seq)]
    if not found:
        return views[0][0]
    size = next(s for _, s in views if s is not None)
    both = replace(SmplSequence.concat(found), focal_px=default_focal_px(size))
    return both.take(np.lexsort((both.track_id, both.frame)))


def _estimate_view(
    source, tracked, estimator, chunk_size, on_progress, every_k: int, tile: Tile | None
) -> tuple[SmplSequence, tuple[int, int] | None]:
    """The rows of one view (the whole frame, or one tile) estimated, and with ``every_k`` > 1
    the frames between filled in, in that view's camera; and the frames' size (None: none
    decoded)."""
    seen = tracked.take(estimated_rows(tracked, every_k)) if every_k > 1 else tracked
    estimated, size = _estimate(source, seen, estimator, chunk_size, on_progress, tile)
    if every_k <= 1 or size is None:
        return estimated, size
    return fill_between(estimated, tracked, estimator, size, tile), size


@dataclass
class _Piece:
    """The frames of one chunk that belong to one shot (a chunk never spans a cut)."""

    shot_id: int
    frames: list[int]
    images: list[np.ndarray]
    boxes: list[np.ndarray]
    track_ids: list[np.ndarray]
    size: tuple[int, int]  # decoded frames' (height, width)
    decoded: int  # frames of the chunk to report as done after this piece (0: more follow)


def _observed_ahead(pieces: Iterator[_Piece], estimator) -> Iterator[tuple[_Piece, object]]:
    """``(piece, estimator.observe_batch(...))`` in order, each next piece observed in a helper
    thread while the caller fits the one before. MediaPipe (the landmark fit's observation) and
    torch (its fit) both release the GIL, so on two cores they overlap; the observation reads
    only the images and boxes, so the results are those of doing one after the other."""
    with ThreadPoolExecutor(1, thread_name_prefix="observe") as pool:
        pending: tuple[_Piece, Future] | None = None
        for piece in pieces:
            job = pool.submit(estimator.observe_batch, piece.images, piece.boxes, piece.track_ids)
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (piece, job)
        if pending is not None:
            yield pending[0], pending[1].result()


def _estimate(
    source,
    tracked: TrackedBoxes,
    estimator,
    chunk_size: int,
    on_progress,
    tile: Tile | None = None,
) -> tuple[SmplSequence, tuple[int, int] | None]:
    """The estimator on every tracked row; also the decoded frames' size (None: none decoded).
    ``tile``: the estimator sees only that part of each frame, as a picture of its own (its
    camera: :func:`estimate_sequence`); the rows' 2D joints are in frame pixels all the same."""
    if len(tracked) == 0:
        return SmplSequence.empty(estimator=getattr(estimator, "name", "")), None
    frames = np.unique(tracked.frame)
    rows_of = tracked.at_frames(frames)
    shot_of_frame = {int(f): int(tracked.shot_id[rows_of[int(f)][0]]) for f in frames}
    size: tuple[int, int] | None = None
    x0, y0, x1, y1 = tile if tile is not None else (0, 0, None, None)
    corner = np.array([x0, y0, x0, y0], np.float32)

    def pieces() -> Iterator[_Piece]:
        nonlocal size
        for indices, chunk in iter_chunks(source, chunk_size=chunk_size, frames=frames.tolist()):
            size = chunk[0].shape[:2]
            shot_ids = np.array([shot_of_frame[int(f)] for f in indices])
            shots = np.unique(shot_ids)
            for n, shot_id in enumerate(shots):  # split a chunk at cuts
                sel = np.flatnonzero(shot_ids == shot_id)
                sel_frames = [int(indices[i]) for i in sel]
                yield _Piece(
                    int(shot_id),
                    sel_frames,
                    [np.ascontiguousarray(chunk[i][y0:y1, x0:x1]) for i in sel],
                    [tracked.bbox_px[rows_of[f]] - corner for f in sel_frames],
                    [tracked.track_id[rows_of[f]] for f in sel_frames],
                    size,
                    len(indices) if n == len(shots) - 1 else 0,
                )

    parts: list[dict] = []
    focal, name, assets = 0.0, getattr(estimator, "name", ""), ""
    current_shot = None
    estimator.reset_observation()  # before the helper thread observes anything
    for piece, observed in _observed_ahead(pieces(), estimator):
        if piece.shot_id != current_shot:
            estimator.reset()
            current_shot = piece.shot_id
        # only parameters and joints are kept
        results = estimator.estimate_observed(observed, with_vertices=False)
        for frame, est in zip(piece.frames, results, strict=True):
            if len(est) == 0:
                continue
            parts.append(
                _rows_from_estimates(est, frame, rows_of[frame], tracked, piece.size, corner[:2])
            )
            focal, name, assets = float(est.focal_px), est.estimator, est.assets
        if on_progress is not None and piece.decoded:
            on_progress(piece.decoded)
    if not parts:
        return SmplSequence.empty(estimator=name), size
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return SmplSequence(**arrays, focal_px=focal, estimator=name, assets=assets), size


def fill_between(
    estimated: SmplSequence,
    tracked: TrackedBoxes,
    estimator,
    image_size_hw: tuple[int, int],
    tile: Tile | None = None,
) -> SmplSequence:
    """Rows for the tracked person-frames between two estimated frames of the same run of a
    track: parameters interpolated, joints from the body model (module docstring). A frame
    without an estimated row on both sides (the end of a run the decoder could not read) gets
    no row, as an undecodable frame gets none. ``tile``: the rows' split-screen tile, whose
    camera ``estimated`` is in (:func:`estimate_sequence`)."""
    if len(estimated) == 0:
        return estimated
    index = {
        (int(f), int(t)): i
        for i, (f, t) in enumerate(zip(estimated.frame, estimated.track_id, strict=True))
    }
    before, after, weight, rows = [], [], [], []
    for run in _runs(tracked):
        track = int(tracked.track_id[run[0]])
        last, waiting = None, []  # the last estimated (frame, row), the rows since it
        for r in run:
            frame = int(tracked.frame[r])
            i = index.get((frame, track))
            if i is None:
                waiting.append((r, frame))
                continue
            if last is not None:
                for row, f in waiting:
                    before.append(last[1])
                    after.append(i)
                    weight.append((f - last[0]) / (frame - last[0]))
                    rows.append(row)
            last, waiting = (frame, i), []
    if not rows:
        return estimated
    a, b, w = np.asarray(before), np.asarray(after), np.asarray(weight)[:, None]
    rows = np.asarray(rows)

    def slerp(axis_angle: np.ndarray) -> np.ndarray:
        q0 = axis_angle_to_quaternion(axis_angle[a].reshape(len(a), -1, 3).astype(np.float64))
        q1 = axis_angle_to_quaternion(axis_angle[b].reshape(len(b), -1, 3).astype(np.float64))
        q = quaternion_slerp(q0, q1, w[:, None])
        return quaternion_to_axis_angle(q).reshape(len(a), -1)

    def lerp(values: np.ndarray) -> np.ndarray:
        return (1 - w) * values[a].astype(np.float64) + w * values[b].astype(np.float64)

    corner = np.zeros(2, np.float32)
    view_hw = image_size_hw
    if tile is not None:
        corner = np.array(tile[:2], np.float32)
        view_hw = (tile[3] - tile[1], tile[2] - tile[0])
    bodies = assemble_estimates(
        estimator.body_model,
        global_orient=slerp(estimated.global_orient),
        body_pose=slerp(estimated.body_pose),
        betas=lerp(estimated.betas),
        transl=lerp(estimated.transl_m),
        boxes_xyxy=tracked.bbox_px[rows] - np.tile(corner, 2),
        image_size_hw=view_hw,
        focal_px=estimated.focal_px,
        confidence=np.minimum(estimated.confidence[a], estimated.confidence[b]),
        estimator=estimated.estimator,
        rescale=estimator.rescale,
        joints_fn=estimator.joints49,
    )
    bodies.observed = estimated.joints_observed[a] & estimated.joints_observed[b]
    filled = _rows_from_estimates(bodies, 0, rows, tracked, image_size_hw, corner)
    filled["frame"] = tracked.frame[rows].astype(np.int64)
    both = SmplSequence.concat([estimated, SmplSequence(**filled)])  # metadata of `estimated`
    return both.take(np.lexsort((both.track_id, both.frame)))
