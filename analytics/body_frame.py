"""Body-centred coordinate frames built from 3D joints.

Two frames per person and frame, both invariant to where the person stands and to rotations of
the camera about the vertical axis (the camera is assumed level: camera -y is "up", as for a
tripod interview camera; a pitched camera biases trunk lean by its pitch, nothing else):

* the *body* frame: origin at the pelvis, X = the subject's left (hip + shoulder line projected
  on the horizontal plane), Y = up, Z = X x Y = the direction the body faces (horizontal);
* the *trunk* frame: Y = pelvis -> neck, X = shoulder line orthogonalised to Y, Z = X x Y.

All matrices hold the axes as *columns* (camera coordinates), so ``R.T @ v`` expresses a camera
vector in the frame. "Upright" and "head level" are those of the body model's zero pose; the
:class:`Neutral` offsets carry that calibration (see :func:`neutral_from_rest_joints`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics import joints as J

#: Camera-frame up direction (camera y points down).
UP = np.array([0.0, -1.0, 0.0])


def normalize(v: np.ndarray) -> np.ndarray:
    """Unit vectors along the last axis (NaN stays NaN; zero vectors become NaN)."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1e-12, v / n, np.nan)


def frame_from_x_y(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Right-handed frame (..., 3, 3) with columns X, Y, Z: Y = unit(y), X = x orthogonalised."""
    y = normalize(y)
    x = normalize(x - np.sum(x * y, axis=-1, keepdims=True) * y)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def body_frame(j: np.ndarray) -> np.ndarray:
    """(T, 49, 3) -> (T, 3, 3) yaw-only body frame (gravity-aligned Y, heading from hips+shoulders)."""
    lateral = (j[:, J.L_HIP] - j[:, J.R_HIP]) + (j[:, J.L_SHOULDER] - j[:, J.R_SHOULDER])
    return frame_from_x_y(lateral, np.broadcast_to(UP, lateral.shape))


def trunk_frame(j: np.ndarray) -> np.ndarray:
    """(T, 49, 3) -> (T, 3, 3) frame of the upper trunk (pelvis->neck up, shoulder line left)."""
    return frame_from_x_y(j[:, J.L_SHOULDER] - j[:, J.R_SHOULDER], j[:, J.NECK] - j[:, J.PELVIS])


def head_frame(j: np.ndarray) -> np.ndarray:
    """(T, 49, 3) -> (T, 3, 3) head frame: X = right ear -> left ear, Z ~ ear midpoint -> nose."""
    x = normalize(j[:, J.L_EAR] - j[:, J.R_EAR])
    fwd = j[:, J.NOSE] - J.head_center(j)
    z = normalize(fwd - np.sum(fwd * x, axis=-1, keepdims=True) * x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def to_frame(rot: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Camera vectors (T, ..., 3) expressed in per-frame frames ``rot`` (T, 3, 3)."""
    extra = v.ndim - 2
    r = rot.reshape(rot.shape[0], *([1] * extra), 3, 3)
    return np.einsum("...ji,...j->...i", r, v)


@dataclass(frozen=True)
class Neutral:
    """Geometry of the body model's zero pose that defines "upright" and "head level".

    ``trunk_dir`` is the pelvis->neck direction in the body frame at rest (SMPL's spine is not
    vertical: the neck sits a few cm behind the pelvis); ``head_offset`` is the head frame
    expressed in the trunk frame at rest (the ear->nose line is not horizontal).
    """

    trunk_dir: tuple[float, float, float]
    head_offset: tuple[tuple[float, float, float], ...]

    @property
    def head_offset_matrix(self) -> np.ndarray:
        return np.asarray(self.head_offset, dtype=np.float64)


def neutral_from_rest_joints(rest: np.ndarray) -> Neutral:
    """Calibration from the 49 camera-frame joints (49, 3) of the body model's zero pose (upright,
    camera y down; any position and heading)."""
    j = np.asarray(rest, dtype=np.float64)[None]
    trunk = to_frame(body_frame(j), normalize(j[:, J.NECK] - j[:, J.PELVIS]))[0]
    offset = np.einsum("ji,jk->ik", trunk_frame(j)[0], head_frame(j)[0])
    return Neutral(
        trunk_dir=tuple(float(v) for v in trunk),
        head_offset=tuple(tuple(float(v) for v in row) for row in offset),
    )


def neutral_from_body_model(body: Any) -> Neutral:
    """Zero-pose calibration of ``body``; see :func:`analytics.calibration.neutral_from_body_model`
    (imported on call: it needs torch, this module does not)."""
    from analytics.calibration import neutral_from_body_model as calibrate

    return calibrate(body)


#: Zero pose of the project's *stand-in* body model, mean shape: a fallback for tests and for
#: callers without a body model, never a property of SMPL. The calibration of the body model
#: actually used comes from :func:`analytics.calibration.neutral_from_body_model`;
#: ``compute_video_features`` warns when it has to fall back to this constant. A test checks
#: that it still equals the stand-in's computed calibration.
STANDIN_NEUTRAL = Neutral(
    trunk_dir=(0.0, 0.999993, 0.003794),
    head_offset=((1.0, 0.0, 0.0), (0.0, 0.991943, -0.126683), (0.0, 0.126683, 0.991943)),
)
