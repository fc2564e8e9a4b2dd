"""Head orientation relative to the trunk (pitch, yaw, roll) and head angular speed."""

from __future__ import annotations

import numpy as np

from analytics.body_frame import Neutral, head_frame, trunk_frame


def head_angles_deg(j: np.ndarray, neutral: Neutral) -> np.ndarray:
    """(T, 49, 3) -> (T, 3) pitch, yaw, roll of the head relative to the trunk, degrees.

    The head's rotation relative to its zero-pose orientation, in the trunk frame, decomposed as
    R = Ry(yaw) Rx(pitch) Rz(roll) (intrinsic yaw-pitch-roll). With right-hand rotations about the
    trunk axes (X = subject's left, Y = up, Z = forward): pitch + = chin down (flexion),
    yaw + = turned to the subject's left, roll + = tilted toward the right shoulder.
    """
    rel = np.einsum("tji,tjk->tik", trunk_frame(j), head_frame(j))
    r = rel @ neutral.head_offset_matrix.T
    pitch = np.arcsin(np.clip(-r[:, 1, 2], -1.0, 1.0))
    yaw = np.arctan2(r[:, 0, 2], r[:, 2, 2])
    roll = np.arctan2(r[:, 1, 0], r[:, 1, 1])
    return np.degrees(np.stack([pitch, yaw, roll], axis=-1))


def angular_speed_deg_per_s(angles_deg: np.ndarray, fps: float) -> np.ndarray:
    """Norm of the time derivative of (pitch, yaw, roll), deg/s; NaN next to missing frames."""
    if len(angles_deg) < 2:
        return np.full(len(angles_deg), np.nan)
    rate = np.gradient(angles_deg, axis=0) * fps
    return np.linalg.norm(rate, axis=-1)
