"""Posture measures: trunk lean, expansiveness, arm openness, shoulder raise, orientation."""

from __future__ import annotations

import numpy as np

from analytics import joints as J
from analytics.body_frame import Neutral, body_frame, normalize, to_frame, trunk_frame

#: A shoulder raise above the person's own median by more than this counts as a shrug.
SHRUG_THRESHOLD_M = 0.02


def trunk_lean_deg(j: np.ndarray, neutral: Neutral) -> tuple[np.ndarray, np.ndarray]:
    """Forward (+) / backward (-) and sideways lean (+ = toward the subject's right), degrees.

    Angles of the pelvis->neck line projected on the body's sagittal and frontal planes,
    minus the same angles in the zero pose, so a rigid pitch of the upper body by 20 deg reads 20.
    """
    t = to_frame(body_frame(j), j[:, J.NECK] - j[:, J.PELVIS])
    n = np.asarray(neutral.trunk_dir)
    forward = np.arctan2(t[:, 2], t[:, 1]) - np.arctan2(n[2], n[1])
    side = np.arctan2(-t[:, 0], t[:, 1]) - np.arctan2(-n[0], n[1])
    return _wrapped_deg(forward), _wrapped_deg(side)


def _wrapped_deg(radians: np.ndarray) -> np.ndarray:
    """Degrees in [-180, 180): past horizontal, the zero pose's offset could take a lean just
    beyond. Values already inside are returned exactly as they are."""
    deg = np.degrees(radians)
    return np.where(deg >= 180.0, deg - 360.0, np.where(deg < -180.0, deg + 360.0, deg))


def shoulder_width_m(j: np.ndarray) -> np.ndarray:
    """Distance between the shoulder joints (T,), the body-size unit of the ratio measures."""
    return np.linalg.norm(j[:, J.L_SHOULDER] - j[:, J.R_SHOULDER], axis=-1)


def convex_hull_area(xy: np.ndarray) -> np.ndarray:
    """Area of the 2D convex hull of N points per frame, (T, N, 2) -> (T,), fully vectorised.

    A directed pair (i, k) is a counter-clockwise hull edge when no point lies to its right
    (points on its line must lie within the segment, so collinear points are not double-counted);
    the shoelace sum over hull edges is the area. Duplicate points keep their first copy only.
    O(N^3) per frame, which is cheap for the 9 points used here.
    """
    n = xy.shape[1]
    scale = np.max(np.abs(np.nan_to_num(xy)), axis=(1, 2)) + 1e-12  # (T,)
    eps = (1e-9 * scale**2)[:, None, None]  # (T, 1, 1) in squared length units
    d = xy[:, None, :, :] - xy[:, :, None, :]  # d[t, i, k] = p_k - p_i
    close = np.linalg.norm(d, axis=-1) <= 1e-9 * scale[:, None, None]
    dup = close & np.tri(n, k=-1, dtype=bool)[None]  # dup[t, i, k]: p_i equals an earlier p_k
    dup_point = dup.any(axis=2)  # point i equals an earlier point k < i
    e = d[:, :, :, None, :]  # edge i -> k
    q = d[:, :, None, :, :]  # i -> m
    cross = e[..., 0] * q[..., 1] - e[..., 1] * q[..., 0]  # (T, i, k, m)
    length2 = np.sum(d * d, axis=-1)[:, :, :, None]
    t = np.sum(e * q, axis=-1) / np.where(length2 > 0, length2, 1.0)
    ok_m = (cross > eps[..., None]) | (
        (np.abs(cross) <= eps[..., None]) & (t >= -1e-9) & (t <= 1 + 1e-9)
    )
    ok_m |= dup_point[:, None, None, :]
    is_edge = ok_m.all(axis=-1) & (length2[..., 0] > eps)
    is_edge &= ~dup_point[:, :, None] & ~dup_point[:, None, :]
    p = xy
    shoelace = p[:, :, None, 0] * p[:, None, :, 1] - p[:, None, :, 0] * p[:, :, None, 1]
    area = 0.5 * np.sum(np.where(is_edge, shoelace, 0.0), axis=(1, 2))
    return np.where(np.isnan(xy).any(axis=(1, 2)), np.nan, area)


def expansiveness_ratio(j: np.ndarray) -> np.ndarray:
    """Hull area of wrists, elbows, shoulders, head and hips on the body's frontal plane / shoulder
    width^2.

    The hips anchor the hull to the trunk: without them, arms spread sideways at shoulder height
    (the prototypical expansive display) would collapse the hull to a thin line and score lower
    than arms hanging down.
    """
    pts = np.stack(
        [
            j[:, J.L_WRIST], j[:, J.R_WRIST], j[:, J.L_ELBOW], j[:, J.R_ELBOW],
            j[:, J.L_SHOULDER], j[:, J.R_SHOULDER], J.head_center(j), j[:, J.L_HIP], j[:, J.R_HIP],
        ],
        axis=1,
    )  # fmt: skip
    local = to_frame(body_frame(j), pts - j[:, J.PELVIS][:, None])
    return convex_hull_area(local[..., :2]) / shoulder_width_m(j) ** 2


def arm_openness_ratio(j: np.ndarray) -> np.ndarray:
    """Distance between the wrists / shoulder width."""
    return np.linalg.norm(j[:, J.L_WRIST] - j[:, J.R_WRIST], axis=-1) / shoulder_width_m(j)


def shoulder_height_m(j: np.ndarray) -> np.ndarray:
    """Mean height of the shoulder joints above the neck along the trunk axis (T,)."""
    up = trunk_frame(j)[:, :, 1]
    rel = 0.5 * (j[:, J.L_SHOULDER] + j[:, J.R_SHOULDER]) - j[:, J.NECK]
    return np.sum(rel * up, axis=-1)


def shoulder_raise_m(j: np.ndarray) -> np.ndarray:
    """Shoulder height relative to the person's own median over the video (shrug > 0)."""
    h = shoulder_height_m(j)
    if np.isnan(h).all():
        return h
    return h - np.nanmedian(h)


def orientation_to_other_deg(j: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Angle between the body's horizontal facing direction and the direction to the other's pelvis.

    0 = facing the other person, 90 = side-on, 180 = back turned (unsigned, degrees).
    """
    rot = body_frame(j)
    to_other = to_frame(rot, other[:, J.PELVIS] - j[:, J.PELVIS])
    horizontal = normalize(to_other[:, [0, 2]])
    return np.degrees(np.arccos(np.clip(horizontal[:, 1], -1.0, 1.0)))
