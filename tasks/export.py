"""Per-track ``.npz`` exports of SMPL parameters, for tools that read SMPL sequences directly
(Blender add-ons, AMASS-style loaders) rather than parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tasks.sequence import SmplSequence


def export_tracks(seq: SmplSequence, fps: float, out_dir: Path) -> list[Path]:
    """Write ``track_<id>.npz`` per track into ``out_dir`` (a local staging folder)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for track in np.unique(seq.track_id):
        rows = np.flatnonzero(seq.track_id == track)
        path = out_dir / f"track_{int(track)}.npz"
        np.savez(
            path,
            global_orient=seq.global_orient[rows],
            body_pose=seq.body_pose[rows],
            betas=seq.betas[rows],
            transl=seq.transl_m[rows],
            frame_indices=seq.frame[rows],
            fps=np.float64(fps),
            smoothed=np.bool_(seq.smoothed),
            estimator=np.str_(seq.estimator),
            assets=np.str_(seq.assets),
        )
        written.append(path)
    return written
