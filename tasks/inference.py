"""Per-shot batched SMPL estimation through the :class:`~pmrr_model.estimators.base.Estimator`.

Frames that carry at least one tracked box are decoded in chunks and handed to
``estimate_batch`` with their boxes and track IDs; a chunk never spans a cut, and the estimator's
temporal state is reset at every shot start so a warm start never crosses a cut. Only the
parameters and joints are kept (no vertices), so memory grows with the number of person-frames
(~1.6 kB each), not with pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pmrr_model.estimators.base import joints_in_view
from tasks.decode import iter_chunks
from tasks.sequence import SmplSequence
from tasks.tracking import TrackedBoxes


def _rows_from_estimates(
    est, frame: int, rows: np.ndarray, tracked: TrackedBoxes, image_size_hw: tuple[int, int]
) -> dict:
    n = len(rows)
    joints2d = np.asarray(est.joints2d_px, np.float32).reshape(n, -1, 2)
    observed = getattr(est, "observed", None)
    if observed is None:  # no per-joint evidence: what projects into the box and image
        observed = joints_in_view(joints2d, tracked.bbox_px[rows], image_size_hw)
    return {
        "frame": np.full(n, frame, np.int64),
        "track_id": tracked.track_id[rows],
        "shot_id": tracked.shot_id[rows],
        "bbox_px": tracked.bbox_px[rows],
        "det_score": tracked.det_score[rows],
        "global_orient": np.asarray(est.global_orient, np.float32).reshape(n, 3),
        "body_pose": np.asarray(est.body_pose, np.float32).reshape(n, 69),
        "betas": np.asarray(est.betas, np.float32).reshape(n, 10),
        "cam": np.asarray(est.cam, np.float32).reshape(n, 3),
        "transl_m": np.asarray(est.transl_m, np.float32).reshape(n, 3),
        "joints3d_m": np.asarray(est.joints3d_m, np.float32).reshape(n, -1, 3),
        "joints2d_px": joints2d,
        "confidence": np.asarray(est.confidence, np.float32).reshape(n),
        "joints_observed": np.asarray(observed, bool).reshape(n, -1),
    }


def estimate_sequence(
    source,
    tracked: TrackedBoxes,
    estimator,
    chunk_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> SmplSequence:
    """SMPL parameters for every tracked person-frame that can be decoded. ``source``: a
    :class:`~tasks.probe.VideoInfo` or a path."""
    if len(tracked) == 0:
        return SmplSequence.empty(estimator=getattr(estimator, "name", ""))
    frames = np.unique(tracked.frame)
    rows_of = tracked.at_frames(frames)
    shot_of_frame = {int(f): int(tracked.shot_id[rows_of[int(f)][0]]) for f in frames}
    parts: list[dict] = []
    focal, name, assets = 0.0, getattr(estimator, "name", ""), ""
    current_shot = None
    for indices, chunk in iter_chunks(source, chunk_size=chunk_size, frames=frames.tolist()):
        shot_ids = np.array([shot_of_frame[int(f)] for f in indices])
        for shot_id in np.unique(shot_ids):  # split a chunk at cuts
            sel = np.flatnonzero(shot_ids == shot_id)
            if shot_id != current_shot:
                estimator.reset()
                current_shot = shot_id
            sel_frames = [int(indices[i]) for i in sel]
            results = estimator.estimate_batch(
                [chunk[i] for i in sel],
                [tracked.bbox_px[rows_of[f]] for f in sel_frames],
                [tracked.track_id[rows_of[f]] for f in sel_frames],
                with_vertices=False,  # only parameters and joints are kept
            )
            for frame, est in zip(sel_frames, results, strict=True):
                if len(est) == 0:
                    continue
                size = chunk[0].shape[:2]
                parts.append(_rows_from_estimates(est, frame, rows_of[frame], tracked, size))
                focal, name, assets = float(est.focal_px), est.estimator, est.assets
        if on_progress is not None:
            on_progress(len(indices))
    if not parts:
        return SmplSequence.empty(estimator=name)
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return SmplSequence(**arrays, focal_px=focal, estimator=name, assets=assets)
