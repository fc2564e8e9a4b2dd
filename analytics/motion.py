"""Motion measures: per-joint speed, motion energy and gesture activity.

Speeds are central differences over a fixed stretch of *time*, :data:`DERIVATIVE_HALF_SPAN_S`
either side (one-sided at the ends of the video); a frame within that stretch of a missing frame
gets NaN rather than a speed across the gap. Given the frames' presentation ``times`` (a
variable-frame-rate video's), a difference is divided by the time between its two frames, not by
their count at the mean rate: a phone that drops to half its rate for a while would otherwise
read every movement there twice as fast (and 20 % slow where it keeps its rate). Camera-frame
speeds are invariant to any fixed camera placement, so no body frame is needed except for the
trunk-relative wrist speed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


#: Half the stretch of time a speed is measured over. A difference between neighbouring frames
#: measures over 2 / fps seconds, so the fit's frame-to-frame jitter weighed more the higher the
#: frame rate: on the synthetic medium shot rendered at 60 fps a seated person's wrists read
#: 0.14-0.50 m/s while still (0.07-0.15 at 25 fps), over the gesture threshold, and motion
#: energy read 2-3 times higher (``pmrr eval --synthetic --fps 60``, docs/MEASUREMENTS.md).
#: 0.04 s is one frame at 25 fps, the rate the speed thresholds were set at (the synthetic
#: scenes); at 30 fps and below it is the neighbouring frames, as before.
DERIVATIVE_HALF_SPAN_S = 0.04


def derivative_half_span(fps: float) -> int:
    """Frames either side a speed at ``fps`` differences: :data:`DERIVATIVE_HALF_SPAN_S`, at
    least one."""
    return max(1, round(DERIVATIVE_HALF_SPAN_S * fps))


def span_bounds(n: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) frame of each of ``n`` frames' span of ``h`` either side, clipped to the
    series (one-sided at its ends)."""
    i = np.arange(n)
    return np.maximum(i - h, 0), np.minimum(i + h, n - 1)


def time_derivative(x: np.ndarray, fps: float, times: np.ndarray | None = None) -> np.ndarray:
    """(T, ...) series -> its derivative per second (T, ...): the difference across
    :func:`derivative_half_span` frames either side, the span shrinking to one side at the ends
    (one frame, at 30 fps and below, is ``np.gradient``, value for value, except at a NaN
    frame); NaN where a frame in that span is NaN, the frame itself included (``np.gradient``
    differences its neighbours and so gave a speed to a frame with no data), and for T < 2.
    ``times`` (T,): the frames' presentation times, seconds; the difference is divided by the
    time between its frames (None: their count at ``fps``)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    n = len(x)
    if n < 2:
        return np.full(x.shape, np.nan)
    h = derivative_half_span(fps)
    lo, hi = span_bounds(n, h)
    shape = (-1, *([1] * (x.ndim - 1)))
    if times is None:
        out = (x[hi] - x[lo]) / (hi - lo).astype(x.dtype).reshape(shape) * fps
    else:
        times = np.asarray(times, np.float64)
        out = (x[hi] - x[lo]) / (times[hi] - times[lo]).reshape(shape)
    # a NaN strictly inside the span (the frame itself among them), value by value: the ends
    # alone would bridge it
    gaps = np.cumsum(np.isnan(x), axis=0, dtype=np.int32)
    inside = np.concatenate([np.zeros((1, *x.shape[1:]), np.int32), gaps])
    out[(inside[hi] - inside[lo + 1]) > 0] = np.nan
    return out


def velocity_m_per_s(points: np.ndarray, fps: float, times: np.ndarray | None = None) -> np.ndarray:
    """(T, ..., 3) positions -> (T, ..., 3) velocities (:func:`time_derivative`)."""
    return time_derivative(points, fps, times)


def speed_m_per_s(points: np.ndarray, fps: float, times: np.ndarray | None = None) -> np.ndarray:
    """(T, ..., 3) positions -> (T, ...) speeds."""
    return np.linalg.norm(velocity_m_per_s(points, fps, times), axis=-1)


def joint_speeds(
    j: np.ndarray, fps: float, times: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Speed of each SPEED_JOINTS joint, m/s."""
    idx = list(SPEED_JOINTS.values())
    s = speed_m_per_s(j[:, idx], fps, times)
    return {name: s[:, k] for k, name in enumerate(SPEED_JOINTS)}


def motion_energy_m_per_s(
    j: np.ndarray, fps: float, in_view: np.ndarray | None = None, times: np.ndarray | None = None
) -> np.ndarray:
    """Mean speed over the MOTION_JOINTS (T,): 0 when still, v for a rigid translation at v.

    With ``in_view`` (T, 49) only the joints in view count (NaN when none is): an unseen joint
    (the legs of a chest-up shot) moves only by the fit's prior and optimiser noise."""
    s = speed_m_per_s(j[:, list(J.MOTION_JOINTS)], fps, times)
    if in_view is None:
        return np.mean(s, axis=1)
    seen = in_view[:, list(J.MOTION_JOINTS)]
    n = seen.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.sum(np.where(seen, s, 0.0), axis=1) / n, np.nan)


def wrist_across_sight(j: np.ndarray) -> np.ndarray:
    """(T, 49, 3) camera-frame joints -> (T, 2, 3) left and right wrist relative to the neck,
    without the component along the camera's line of sight through the neck.

    What one camera sees of a hand's travel: a monocular fit places a hand's depth far less
    surely than its position across the view, and when the landmarks behind a fit change from
    one frame to the next its wrist can jump in depth alone (on the synthetic benchmark, runs
    with 3-21 cm of depth and 1-5 cm across the view, while its scripted strokes span 13-29 cm
    across it)."""
    return across_sight(j[:, [J.L_WRIST, J.R_WRIST]] - j[:, J.NECK][:, None], j[:, J.NECK])


def across_sight(vectors: np.ndarray, through: np.ndarray) -> np.ndarray:
    """(T, ..., 3) vectors without their component along the camera's line of sight through
    the points ``through`` (T, 3): what one camera sees of them."""
    sight = through / np.linalg.norm(through, axis=-1, keepdims=True)
    sight = sight.reshape(sight.shape[:1] + (1,) * (vectors.ndim - 2) + (3,))
    return vectors - (vectors * sight).sum(-1, keepdims=True) * sight


#: Whole-body travel across the view (the neck's speed across the line of sight, median over
#: :data:`WALKING_WINDOW_S`) above which a person is walking, m/s. Measured: the pedestrians of
#: the real two-person sample's street shot 0.64-0.69 (median over their frames); seated people
#: at most 0.18 on the real sample and 0.17 on the synthetic benchmark's scenes, except the
#: synthetic close-up's first frames (fitted from the face's whole-frame box: up to 0.87).
WALKING_SPEED_M_PER_S = 0.4
WALKING_WINDOW_S = 0.5


def neck_speed_across_sight(
    j: np.ndarray, fps: float, times: np.ndarray | None = None
) -> np.ndarray:
    """(T, 49, 3) camera-frame joints -> (T,) the neck's speed across the camera's line of sight,
    median over :data:`WALKING_WINDOW_S` (NaN frames ignored): how fast the whole body travels
    across the view. Depth is left out as in :func:`wrist_across_sight`: a monocular fit's depth
    wobbles (the close-up's fitted neck moved as fast as a walker's in 3D)."""
    neck = j[:, J.NECK]
    speed = pd.Series(
        np.linalg.norm(across_sight(velocity_m_per_s(neck, fps, times), neck), axis=-1)
    )
    window = max(int(round(WALKING_WINDOW_S * fps)), 1)
    return speed.rolling(window, center=True, min_periods=1).median().to_numpy()


def wrist_rel_trunk(j: np.ndarray) -> np.ndarray:
    """(T, 49, 3) -> (T, 2, 3) left and right wrist positions in the trunk frame (origin neck)."""
    return to_frame(trunk_frame(j), j[:, [J.L_WRIST, J.R_WRIST]] - j[:, J.NECK][:, None])


def wrist_speed_rel_trunk(
    j: np.ndarray, fps: float, times: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Left and right wrist speeds (T,) in the trunk frame (origin neck): hand motion only,
    not the body carrying the hand around."""
    s = speed_m_per_s(wrist_rel_trunk(j), fps, times)
    return s[:, 0], s[:, 1]
