"""Joint indices into the 49-joint set and conversion of the `smpl` table to dense arrays.

Only joints that are SMPL kinematic joints or skinned surface keypoints are used (pelvis, hips,
neck, shoulders, elbows, wrists, nose, ears): they are exact functions of the pose, whereas the
learned extra regressors (H36M / LSP / MPII joints) differ between body-model asset sets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from pmrr_model.constants import JOINT_NAMES

N_JOINTS = len(JOINT_NAMES)


def _idx(name: str) -> int:
    return JOINT_NAMES.index(name)


NOSE = _idx("OP Nose")
NECK = _idx("OP Neck")  # SMPL neck (12)
PELVIS = _idx("OP MidHip")  # SMPL pelvis (0)
R_HIP, L_HIP = _idx("OP RHip"), _idx("OP LHip")  # SMPL hips (2, 1)
R_SHOULDER, L_SHOULDER = _idx("OP RShoulder"), _idx("OP LShoulder")
R_ELBOW, L_ELBOW = _idx("OP RElbow"), _idx("OP LElbow")
R_WRIST, L_WRIST = _idx("OP RWrist"), _idx("OP LWrist")
R_EAR, L_EAR = _idx("OP REar"), _idx("OP LEar")
R_KNEE, L_KNEE = _idx("OP RKnee"), _idx("OP LKnee")
R_ANKLE, L_ANKLE = _idx("OP RAnkle"), _idx("OP LAnkle")
#: The head as ``smpl.joints_observed`` flags it: observed where Face Mesh measured the head's
#: orientation or Pose saw the nose (``pmrr_model.estimators.landmark_targets.observed_joints``)
HEAD = _idx("Head (H36M)")

#: Joints averaged into the motion energy (one per body segment end, head as the ear midpoint).
MOTION_JOINTS = (
    PELVIS, L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE,
    NECK, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST, NOSE,
)  # fmt: skip


def head_center(j: np.ndarray) -> np.ndarray:
    """Midpoint of the ears: the centre of rotation-ish of the skull, (..., 3)."""
    return 0.5 * (j[..., L_EAR, :] + j[..., R_EAR, :])


def dense_joints(track: pd.DataFrame, n_frames: int) -> np.ndarray:
    """Rows of one track -> (n_frames, 49, 3) float64, NaN where the person has no row.

    Missing frames stay NaN on purpose: researchers must see gaps, not invented poses.
    Rows outside ``[0, n_frames)`` are dropped; for a duplicated frame the last row wins.
    """
    return _dense(track, n_frames, "joints3d_m", (N_JOINTS, 3))


def dense_hands(track: pd.DataFrame, n_frames: int) -> np.ndarray:
    """Rows of one track -> (n_frames, 2, 3) centres of the hands seen apart from the body (the
    smpl table's ``hands3d_m``), NaN where none or where the table has no such column (written
    before it existed)."""
    if "hands3d_m" not in track:
        return np.full((n_frames, 2, 3), np.nan)
    return _dense(track, n_frames, "hands3d_m", (2, 3))


def dense_tiles(track: pd.DataFrame, n_frames: int) -> np.ndarray:
    """Rows of one track -> (n_frames, 4) split-screen tile of each frame (the smpl table's
    ``tile_px``), NaN where the frame is one picture, where the track has no row, or where the
    table has no such column (written before it existed)."""
    if "tile_px" not in track:
        return np.full((n_frames, 4), np.nan)
    return _dense(track, n_frames, "tile_px", (4,))


def dense_observed(track: pd.DataFrame, n_frames: int, joints: tuple[int, ...]) -> np.ndarray:
    """(n_frames, len(joints)) bool: the smpl table's ``joints_observed`` (image evidence saw
    the joint; the estimator did not infer it) for ``joints``. Without that column (synthetic
    input, tables written before it) every joint of a row counts as observed; frames without a
    row are False."""
    if "joints_observed" not in track:
        rows = ~np.isnan(_dense(track, n_frames, "frame", (1,)))
        return np.repeat(rows, len(joints), axis=1)
    return _dense(track, n_frames, "joints_observed", (N_JOINTS,))[:, list(joints)] == 1.0


def list_values(
    rows: pd.DataFrame,
    column: str,
    dtype: type | None = np.float64,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """(len(rows), width) of a fixed-size list column (``dtype`` None: as stored); ``columns``:
    only those positions of each row's list, (len(rows), len(columns)).

    pandas holds such a column either as one array or list per cell (``to_pandas()``'s default,
    and what tests build) or Arrow-backed (``pd.ArrowDtype``, :func:`analytics.tables.from_arrow`:
    how the flow hands the ``smpl`` table to analytics, since a Python object per row and cell
    was 140 MiB more an hour of video); both read the same here. Arrow chunks are read one at a
    time: with ``columns``, a few values of every row of an hour's table never make a copy of
    the whole column (80 MiB for its joints)."""
    series = rows[column]
    if len(series) == 0:
        return np.empty((0, 0 if columns is None else len(columns)), dtype or np.float64)
    if isinstance(series.dtype, pd.ArrowDtype) and not series.isna().any():
        values = pa.array(series.array)
        parts = []
        for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
            flat = chunk.flatten().to_numpy(zero_copy_only=False).reshape(len(chunk), -1)
            parts.append(flat if columns is None else flat[:, columns])
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return out.astype(dtype or out.dtype, copy=False)
    out = np.stack([np.asarray(v, dtype=dtype).reshape(-1) for v in series])
    return out if columns is None else out[:, columns]


def _dense(track: pd.DataFrame, n_frames: int, column: str, shape: tuple[int, ...]) -> np.ndarray:
    """A fixed-size list column of one track's rows -> (n_frames, *shape), NaN where no row."""
    out = np.full((n_frames, *shape), np.nan)
    if len(track) == 0:
        return out
    frames = track["frame"].to_numpy(dtype=np.int64)
    values = list_values(track, column)
    if values.shape[1] != int(np.prod(shape)):
        raise ValueError(
            f"{column} has {values.shape[1]} values per row, expected {int(np.prod(shape))}"
        )
    keep = (frames >= 0) & (frames < n_frames)
    out[frames[keep]] = values[keep].reshape(-1, *shape)
    return out


def dense_in_view(track: pd.DataFrame, n_frames: int, joints: tuple[int, ...]) -> np.ndarray:
    """(n_frames, len(joints)) bool: each joint projects inside the person's box this frame.

    The box (``bbox_px``, from the detector: the visible landmarks plus a margin, clipped to the
    image) holds every joint the camera sees; a fitted joint outside it was seen by nobody, so
    its motion is the fit's prior and optimiser noise, not the person's (in the chest-up
    carphone clip, both hands out of the frame, the unseen wrists made 180 "gesture strokes" a
    minute). Without ``joints2d_px``/``bbox_px`` columns (synthetic input) every joint counts as
    seen; frames without a row are False.
    """
    out = np.zeros((n_frames, len(joints)), dtype=bool)
    if len(track) == 0:
        return out
    frames = track["frame"].to_numpy(dtype=np.int64)
    keep = (frames >= 0) & (frames < n_frames)
    if "joints2d_px" not in track or "bbox_px" not in track:
        out[frames[keep]] = True
        return out
    pts = list_values(track, "joints2d_px").reshape(len(track), -1, 2)
    box = list_values(track, "bbox_px").reshape(len(track), 4)
    p = pts[:, list(joints)]  # (n, k, 2)
    inside = (
        (p[..., 0] >= box[:, None, 0])
        & (p[..., 0] <= box[:, None, 2])
        & (p[..., 1] >= box[:, None, 1])
        & (p[..., 1] <= box[:, None, 3])
    )
    out[frames[keep]] = inside[keep]
    return out
