"""Motion measures: per-joint speed, motion energy and gesture activity.

Speeds are central differences (one-sided at the ends of the video); a frame next to a missing
frame gets NaN rather than a speed across the gap. Camera-frame speeds are invariant to any
fixed camera placement, so no body frame is needed except for the trunk-relative wrist speed.
"""

from __future__ import annotations

import numpy as np

from analytics import joints as J
from analytics.body_frame import to_frame, trunk_frame

#: Wrist speed relative to the trunk above which a hand is "gesturing" (m/s). Conversational
#: gesture strokes peak at roughly 0.5-2 m/s; resting hands and slow repositioning stay below.
GESTURE_SPEED_M_PER_S = 0.3

#: Joints reported individually as ``speed_<name>_m_per_s``.
SPEED_JOINTS = {
    "pelvis": J.PELVIS, "neck": J.NECK, "nose": J.NOSE,
    "left_shoulder": J.L_SHOULDER, "right_shoulder": J.R_SHOULDER,
    "left_elbow": J.L_ELBOW, "right_elbow": J.R_ELBOW,
    "left_wrist": J.L_WRIST, "right_wrist": J.R_WRIST,
}  # fmt: skip


def speed_m_per_s(points: np.ndarray, fps: float) -> np.ndarray:
    """(T, ..., 3) positions -> (T, ...) speeds."""
    if len(points) < 2:
        return np.full(points.shape[:-1], np.nan)
    return np.linalg.norm(np.gradient(points, axis=0), axis=-1) * fps


def joint_speeds(j: np.ndarray, fps: float) -> dict[str, np.ndarray]:
    """Speed of each SPEED_JOINTS joint, m/s."""
    idx = list(SPEED_JOINTS.values())
    s = speed_m_per_s(j[:, idx], fps)
    return {name: s[:, k] for k, name in enumerate(SPEED_JOINTS)}


def motion_energy_m_per_s(
    j: np.ndarray, fps: float, in_view: np.ndarray | None = None
) -> np.ndarray:
    """Mean speed over the MOTION_JOINTS (T,): 0 when still, v for a rigid translation at v.

    With ``in_view`` (T, 49) only the joints in view count (NaN when none is): an unseen joint
    (the legs of a chest-up shot) moves only by the fit's prior and optimiser noise."""
    s = speed_m_per_s(j[:, list(J.MOTION_JOINTS)], fps)
    if in_view is None:
        return np.mean(s, axis=1)
    seen = in_view[:, list(J.MOTION_JOINTS)]
    n = seen.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.sum(np.where(seen, s, 0.0), axis=1) / n, np.nan)


def wrist_rel_trunk(j: np.ndarray) -> np.ndarray:
    """(T, 49, 3) -> (T, 2, 3) left and right wrist positions in the trunk frame (origin neck)."""
    return to_frame(trunk_frame(j), j[:, [J.L_WRIST, J.R_WRIST]] - j[:, J.NECK][:, None])


def wrist_speed_rel_trunk(j: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Left and right wrist speeds (T,) in the trunk frame (origin neck): hand motion only,
    not the body carrying the hand around."""
    s = speed_m_per_s(wrist_rel_trunk(j), fps)
    return s[:, 0], s[:, 1]
