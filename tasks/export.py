"""Per-track ``.npz`` exports of SMPL parameters, for tools that read SMPL sequences directly
(Blender add-ons, AMASS-style loaders) rather than parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pmrr_model.constants import JOINT_NAMES
from pmrr_model.geometry import axis_angle_to_rotmat, rotmat_to_axis_angle
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


#: Camera frame (OpenCV: x right, y down, z forward) -> AMASS-style world frame (y up): a
#: rotation of 180 degrees about x. It is its own inverse.
CAMERA_TO_WORLD = np.diag([1.0, -1.0, -1.0])

#: Row of the pelvis (SMPL joint 0) in the pipeline's 49-joint ``joints3d_m``.
_PELVIS = JOINT_NAMES.index("OP MidHip")


def camera_to_world(
    global_orient: np.ndarray, transl: np.ndarray, root_offset: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Re-express SMPL root parameters (N, 3) axis-angle / (N, 3) ``transl`` given in the camera
    frame in the world frame of :data:`CAMERA_TO_WORLD` (the map is its own inverse, so this also
    converts back).

    SMPL rotates the body about its root joint ``J0`` (the pelvis of the rest shape, which is not
    at the origin): ``v = R_g (v_rest - J0) + J0 + transl``. Rotating the whole posed body by
    ``R`` therefore gives ``global_orient' = R R_g`` and ``transl' = R (transl + J0) - J0``.
    ``root_offset``: ``J0`` per row (N, 3); without it ``J0 = 0`` is assumed and
    ``transl' = R transl``, which moves the mesh by ``(I - R) J0`` (for SMPL about twice the
    pelvis height above the origin, i.e. tens of centimetres).
    """
    rot = CAMERA_TO_WORLD
    orient = rotmat_to_axis_angle(rot @ axis_angle_to_rotmat(np.asarray(global_orient, np.float64)))
    t = np.asarray(transl, np.float64)
    j0 = np.zeros_like(t) if root_offset is None else np.asarray(root_offset, np.float64)
    return orient, (t + j0) @ rot.T - j0


def export_amass(
    seq: SmplSequence, frame_times_s: np.ndarray, fps: float, out_dir: Path
) -> list[Path]:
    """Write ``amass_track_<id>.npz`` per track into ``out_dir``, in the layout of AMASS's SMPL
    sequences (load with ``np.load(path, allow_pickle=False)``).

    Arrays: ``poses`` (N, 72) axis-angle, global_orient (3) then body_pose (69); ``trans`` (N, 3)
    metres; ``betas`` (10,) the track's mean of the per-frame betas, ``betas_per_frame`` (N, 10);
    ``gender`` "neutral"; ``mocap_framerate`` = ``fps``; ``frame_indices`` (N,) video frames and
    ``frame_times_s`` (N,) their presentation times (``frame_times_s`` argument: one time per
    video frame, indexed by frame number, so variable-rate video keeps its real timing);
    provenance ``estimator``, ``assets`` (body-model asset id), ``smoothed``.

    Coordinates: the pipeline's SMPL is in the camera frame (x right, y down, z forward); AMASS
    uses a y-up world frame. Both are converted by ``R = diag(1, -1, -1)`` (180 degrees about x):
    ``global_orient' = R * global_orient`` (rotation composition) and the translation so that the
    whole posed body is rotated by R (see :func:`camera_to_world`).

    ``trans`` is SMPL's ``transl`` argument (added to the posed mesh, as AMASS loaders do:
    ``vertices = SMPL(poses, betas) + trans``), **not the pelvis position**: SMPL's root joint is
    not at the origin of the body model, so the pelvis sits at ``J0(betas) + trans``. Because the
    rotation is about the camera's origin, ``trans' = R (transl + J0) - J0`` rather than
    ``R transl``; ``J0`` per frame is taken as ``joints3d_m[pelvis] - transl_m`` (exact for the
    estimators, which build ``joints3d_m`` as model joints + ``transl_m``). With ``betas`` (the
    track mean) instead of ``betas_per_frame`` the mesh differs by the shape change only.
    """
    frame_times_s = np.asarray(frame_times_s, np.float64)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for track in np.unique(seq.track_id):
        rows = np.flatnonzero(seq.track_id == track)
        rows = rows[np.argsort(seq.frame[rows], kind="stable")]
        frames = np.asarray(seq.frame[rows], np.int64)
        if len(frames) and (frames.min() < 0 or frames.max() >= len(frame_times_s)):
            raise ValueError(
                f"track {int(track)}: frames {frames.min()}..{frames.max()} outside "
                f"frame_times_s ({len(frame_times_s)} frames)"
            )
        transl = np.asarray(seq.transl_m[rows], np.float64)
        joints = np.asarray(seq.joints3d_m[rows], np.float64)
        root = joints[:, _PELVIS] - transl if joints.shape[1] > _PELVIS else None
        orient, trans = camera_to_world(seq.global_orient[rows], transl, root)
        betas = np.asarray(seq.betas[rows], np.float64)
        path = out_dir / f"amass_track_{int(track)}.npz"
        np.savez(
            path,
            poses=np.concatenate([orient, np.asarray(seq.body_pose[rows], np.float64)], axis=1),
            trans=trans,
            betas=betas.mean(axis=0) if len(rows) else np.zeros(10),
            betas_per_frame=betas,
            gender=np.str_("neutral"),
            mocap_framerate=np.float64(fps),
            frame_times_s=frame_times_s[frames],
            frame_indices=frames,
            estimator=np.str_(seq.estimator),
            assets=np.str_(seq.assets),
            smoothed=np.bool_(seq.smoothed),
        )
        written.append(path)
    return written
