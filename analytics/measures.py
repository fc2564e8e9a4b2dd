"""All per-frame measures of one person as columns (vectorised over frames)."""

from __future__ import annotations

import numpy as np

from analytics import hands, head, motion, posture
from analytics.body_frame import Neutral


def frame_measures(
    j: np.ndarray,
    fps: float,
    neutral: Neutral,
    other: np.ndarray | None = None,
    head_vertices: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """(T, 49, 3) joints of one person (NaN = missing) -> {column: (T,) values}.

    ``other`` is the partner's joints (orientation toward them); ``head_vertices`` (T, K, 3) the
    head's mesh vertices when available (finer face-touch distance).
    """
    out: dict[str, np.ndarray] = {}
    valid = ~np.isnan(j).any(axis=(1, 2))
    out["trunk_lean_forward_deg"], out["trunk_lean_side_deg"] = posture.trunk_lean_deg(j, neutral)
    angles = head.head_angles_deg(j, neutral)
    out["head_pitch_deg"], out["head_yaw_deg"], out["head_roll_deg"] = angles.T
    out["head_angular_speed_deg_per_s"] = head.angular_speed_deg_per_s(angles, fps)
    out["expansiveness_ratio"] = posture.expansiveness_ratio(j)
    out["arm_openness_ratio"] = posture.arm_openness_ratio(j)
    out["shoulder_width_m"] = posture.shoulder_width_m(j)
    out["shoulder_raise_m"] = posture.shoulder_raise_m(j)
    out["arms_crossed_conf_ratio"] = hands.arms_crossed_confidence(j)
    out["hand_face_dist_m"] = hands.hand_face_distance_m(j, head_vertices)
    out["hands_dist_m"] = hands.hands_distance_m(j)
    out["orientation_to_other_deg"] = (
        posture.orientation_to_other_deg(j, other) if other is not None else np.full(len(j), np.nan)
    )
    out["motion_energy_m_per_s"] = motion.motion_energy_m_per_s(j, fps)
    for name, s in motion.joint_speeds(j, fps).items():
        out[f"speed_{name}_m_per_s"] = s
    left, right = motion.wrist_speed_rel_trunk(j, fps)
    out["wrist_rel_speed_left_m_per_s"], out["wrist_rel_speed_right_m_per_s"] = left, right

    margin = (
        hands.FACE_TOUCH_MARGIN_VERTICES_M
        if head_vertices is not None
        else hands.FACE_TOUCH_MARGIN_M
    )
    face = out["hand_face_dist_m"] <= margin
    together = out["hands_dist_m"] <= hands.HANDS_TOGETHER_M
    on_arm = hands.hand_to_other_arm_m(j) <= hands.ARM_TOUCH_M
    states = {
        "is_shrugging": out["shoulder_raise_m"] > posture.SHRUG_THRESHOLD_M,
        "is_arms_crossed": out["arms_crossed_conf_ratio"] > 0.5,
        "is_touching_face": face,
        "is_hands_together": together,
        "is_self_touch": face | together | on_arm,
        "is_gesturing": np.fmax(left, right) > motion.GESTURE_SPEED_M_PER_S,
    }
    for name, state in states.items():
        out[name] = np.where(valid, state, False)  # masked to NA by the caller
    out["has_data"] = valid
    return out
