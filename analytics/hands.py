"""Hand measures: hand-to-face touch, hands together, self-touch and crossed arms.

The 49 joints stop at the wrists, so the hand is placed HAND_EXTENSION forearm lengths beyond
the wrist along the forearm (the palm centre of an adult is ~0.3 forearm lengths past the wrist).
"""

from __future__ import annotations

import numpy as np

from analytics import joints as J
from analytics.body_frame import to_frame, trunk_frame

HAND_EXTENSION = 0.3
#: Head sphere: centred between the ears, radius = HEAD_RADIUS_EAR_RATIO x ear-to-ear distance.
HEAD_RADIUS_EAR_RATIO = 0.6
#: With head vertices, a hand point this close to one counts as touching the face; it allows for
#: the hand's own half-thickness and for estimation noise.
FACE_TOUCH_MARGIN_VERTICES_M = 0.05
#: Without head vertices (the pipeline's case) a face touch is decided across the line of sight
#: (:func:`face_touch_m`): a hand point within this distance of the head sphere's outline, in the
#: plane facing the camera at the head's depth (the chin and a hand held to it lie outside the
#: ear-based sphere; the benchmark's touching hands measured 0.04-0.10 m across) ...
FACE_TOUCH_ACROSS_M = 0.12
#: ... and at most this far in front of or behind the head centre (the ear midpoint; a hand on
#: the cheek is ~0.1 m in front of it). A monocular fit places the hand's depth badly: on the
#: synthetic benchmark's face touches (hand at the chin) the fitted hand sat 0.19-0.29 m in front
#: of the head centre, about 0.2 m too close to the camera (3D distance, median 0.21 and 0.26 m:
#: three times a contact margin), while across the line of sight it was 0.04-0.10 m away; people
#: not touching their face never came within 0.24 m across.
FACE_TOUCH_DEPTH_M = 0.4
HANDS_TOGETHER_M = 0.10
ARM_TOUCH_M = 0.08
#: Softness (metres) of the crossed-arms confidence around its geometric margin.
ARMS_CROSSED_SOFTNESS_M = 0.02


def hand_points(j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimated palm centres (T, 3) of the left and right hand."""
    left = j[:, J.L_WRIST] + HAND_EXTENSION * (j[:, J.L_WRIST] - j[:, J.L_ELBOW])
    right = j[:, J.R_WRIST] + HAND_EXTENSION * (j[:, J.R_WRIST] - j[:, J.R_ELBOW])
    return left, right


def head_sphere(j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (T, 3) and radius (T,) of a sphere approximating the head from the ears."""
    ears = np.linalg.norm(j[:, J.L_EAR] - j[:, J.R_EAR], axis=-1)
    return J.head_center(j), HEAD_RADIUS_EAR_RATIO * ears


def _touch_points(
    j: np.ndarray,
    hands_seen: tuple[np.ndarray, np.ndarray] | None,
    hand_centres: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The points a face touch is measured from, (T, K, 3), and which of them are seen (T, K):
    the left and right hand points and wrists of the body (seen as ``hands_seen`` (left, right)
    (T,) bools say; None = both), then the ``hand_centres`` (T, 2, 3) seen apart from the body (the
    smpl table's ``hands3d_m``; seen where not NaN)."""
    left, right = hand_points(j)
    pts = np.stack([left, right, j[:, J.L_WRIST], j[:, J.R_WRIST]], axis=1)
    seen = np.ones(pts.shape[:2], dtype=bool)
    if hands_seen is not None:
        seen_l, seen_r = (np.asarray(s, dtype=bool) for s in hands_seen)
        seen = np.stack([seen_l, seen_r, seen_l, seen_r], axis=1)
    if hand_centres is not None:
        hand_centres = np.asarray(hand_centres, dtype=np.float64)
        pts = np.concatenate([pts, hand_centres], axis=1)
        seen = np.concatenate([seen, ~np.isnan(hand_centres).any(axis=-1)], axis=1)
    return pts, seen


def _nearest_seen(d: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Smallest of the points' distances ``d`` (T, K) per frame over the ``seen`` ones; NaN when
    none is."""
    return np.fmin.reduce(np.where(seen, d, np.nan), axis=1)


def hand_face_distance_m(
    j: np.ndarray,
    head_vertices: np.ndarray | None = None,
    hands_seen: tuple[np.ndarray, np.ndarray] | None = None,
    hand_centres: np.ndarray | None = None,
) -> np.ndarray:
    """Smallest distance (T,) from either hand point or wrist to the head surface.

    With ``head_vertices`` (T, K, 3) the surface is the vertices' point cloud; otherwise the
    head sphere (distance can be negative inside it). ``hands_seen`` (left, right), (T,) bools:
    only those hands count (an unseen hand's position is the fit's guess); ``hand_centres``
    (T, 2, 3): hands seen apart from the body count too (:func:`_touch_points`), each moved
    along its camera ray to the head centre's depth (left out beyond FACE_TOUCH_DEPTH_M from
    it): their depth comes from the hand's size and the head's from the body fit, two guesses
    that disagreed by 0.4 m on the synthetic close-up's hand at its chin, which alone made the
    distance 0.3 m too large. NaN without data or without a hand.
    """
    if hand_centres is not None:
        hand_centres = _at_head_depth(np.asarray(hand_centres, np.float64), j)
    pts, seen = _touch_points(j, hands_seen, hand_centres)
    if head_vertices is not None:
        d = np.min(np.linalg.norm(pts[:, :, None] - head_vertices[:, None], axis=-1), axis=2)
    else:
        centre, radius = head_sphere(j)
        d = np.linalg.norm(pts - centre[:, None], axis=-1) - radius[:, None]
    return _nearest_seen(d, seen)


def _at_head_depth(points: np.ndarray, j: np.ndarray) -> np.ndarray:
    """(T, K, 3) points moved along their camera rays to the head centre's depth; NaN where more
    than FACE_TOUCH_DEPTH_M in front of or behind it."""
    depth = J.head_center(j)[:, None, 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        moved = points / points[..., 2:3] * depth
        near = np.abs(points[..., 2:3] - depth) <= FACE_TOUCH_DEPTH_M
    return np.where(near, moved, np.nan)


def face_touch_m(
    j: np.ndarray,
    hands_seen: tuple[np.ndarray, np.ndarray] | None = None,
    hand_centres: np.ndarray | None = None,
) -> np.ndarray:
    """Smallest distance (T,) across the line of sight from a hand point or wrist to the head
    sphere: each point is moved along its camera ray to the head centre's depth, then measured
    to the sphere's outline there (negative inside). Points more than FACE_TOUCH_DEPTH_M in front
    of or behind the head centre are left out (inf); ``hands_seen`` and ``hand_centres`` as in
    :func:`hand_face_distance_m`. Camera coordinates (z along the line of sight) are assumed,
    as in the ``smpl`` table's ``joints3d_m``."""
    pts, seen = _touch_points(j, hands_seen, hand_centres)
    centre, radius = head_sphere(j)
    depth = centre[:, None, 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        at_head = pts[..., :2] / pts[..., 2:3] * depth
    d = np.linalg.norm(at_head - centre[:, None, :2], axis=-1) - radius[:, None]
    with np.errstate(invalid="ignore"):
        d = np.where(np.abs(pts[..., 2] - centre[:, None, 2]) <= FACE_TOUCH_DEPTH_M, d, np.inf)
    return _nearest_seen(d, seen)


def hands_distance_m(j: np.ndarray) -> np.ndarray:
    """Distance between the two hand points (T,)."""
    left, right = hand_points(j)
    return np.linalg.norm(left - right, axis=-1)


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, -1) / np.maximum(np.sum(ab * ab, -1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)


def hand_to_other_arm_m(j: np.ndarray) -> np.ndarray:
    """Smallest distance (T,) from a hand point to the opposite upper arm or forearm axis."""
    left, right = hand_points(j)
    d = [
        _point_segment_distance(left, j[:, J.R_SHOULDER], j[:, J.R_ELBOW]),
        _point_segment_distance(left, j[:, J.R_ELBOW], j[:, J.R_WRIST]),
        _point_segment_distance(right, j[:, J.L_SHOULDER], j[:, J.L_ELBOW]),
        _point_segment_distance(right, j[:, J.L_ELBOW], j[:, J.L_WRIST]),
    ]
    return np.min(np.stack(d, axis=1), axis=1)


def arms_crossed_confidence(j: np.ndarray) -> np.ndarray:
    """Confidence in [0, 1] (T,) that the arms are folded across the trunk; > 0.5 = crossed.

    In the trunk frame (origin pelvis, X = subject's left) all of these must hold: each wrist is
    past the body midline on the opposite side, each elbow stays on its own side, and both wrists
    are between pelvis and neck height. The smallest of these margins (metres) goes through a
    logistic of width ARMS_CROSSED_SOFTNESS_M, so confidence is 0.5 exactly at the boundary.
    """
    rot = trunk_frame(j)
    pts = np.stack(
        [j[:, J.L_WRIST], j[:, J.R_WRIST], j[:, J.L_ELBOW], j[:, J.R_ELBOW], j[:, J.NECK]], 1
    )
    lw, rw, le, re, neck = np.moveaxis(to_frame(rot, pts - j[:, J.PELVIS][:, None]), 1, 0)
    margins = np.stack(
        [
            -lw[:, 0],
            rw[:, 0],
            le[:, 0],
            -re[:, 0],
            lw[:, 1],
            rw[:, 1],
            neck[:, 1] - lw[:, 1],
            neck[:, 1] - rw[:, 1],
        ],
        axis=1,
    )
    m = np.min(margins, axis=1)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-m / ARMS_CROSSED_SOFTNESS_M))
