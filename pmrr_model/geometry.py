"""Rotation and camera helpers: the network speaks 6D, SMPL speaks rotation matrices or
axis-angle, smoothing speaks quaternions, and the crop camera is weak-perspective. This module is
the project's one place for rotation conversions, so every part uses the same conventions:

- **rotation matrix** (..., 3, 3): acts on column vectors (``R @ v``), right-handed frames.
- **axis-angle** (..., 3): the rotation vector ``axis * angle`` (radians), as SMPL's pose
  parameters and scipy's ``as_rotvec``; conversions return angles in [0, pi].
- **quaternion** (..., 4): **scalar-last (x, y, z, w)**, unit norm - scipy's
  ``Rotation.as_quat`` order, so numpy code can hand arrays to scipy and back unchanged.
  ``q`` and ``-q`` are the same rotation; quaternions made from matrices or rotation vectors are
  returned with ``w >= 0``.
- **6D** (..., 6): the first two matrix columns read row-major (the reference network's layout).

The conversions take either a ``torch.Tensor`` (differentiable torch code, used inside the
network, the body model and the fits) or a numpy array (scipy's ``Rotation``, used for time series
such as the smoother), and return the same kind. ``smplx.lbs.batch_rodrigues`` is not used for the
torch path: it only takes (N, 3) and biases the angle by its ``+1e-8`` guard (errors near 1e-8),
while these functions are exact to float64 round-off, including at zero angle.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial.transform import Rotation

from pmrr_model.constants import FOCAL_LENGTH, IMG_RES

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt (Zhou et al. CVPR 2019).

    The 6 numbers are the first two *columns* of the matrix read row-major, i.e. the reference
    reshapes to (3, 2); keeping that layout is what makes released weights usable.
    """
    shape = x.shape[:-1]
    x = x.reshape(-1, 3, 2)
    b1 = F.normalize(x[:, :, 0], dim=-1)
    a2 = x[:, :, 1]
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1).reshape(*shape, 3, 3)


def rotmat_to_rot6d(rotmat: Array) -> Array:
    """(..., 3, 3) -> (..., 6): the first two columns, in the layout rot6d_to_rotmat reads
    (plain slicing, so numpy arrays work too)."""
    return rotmat[..., :, :2].reshape(*rotmat.shape[:-2], 6)


def _scipy(x: np.ndarray, width: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """(..., width) float64 rows for scipy's ``Rotation`` and the leading shape to restore."""
    x = np.asarray(x, dtype=np.float64)
    lead = x.shape[: x.ndim - (2 if width == 9 else 1)]
    return x.reshape((-1, 3, 3) if width == 9 else (-1, width)), lead


def _w_positive(q: Array) -> Array:
    """The representative with a non-negative scalar part (last entry)."""
    if isinstance(q, torch.Tensor):
        return torch.where(q[..., 3:] < 0, -q, q)
    return np.where(q[..., 3:] < 0, -q, q)


def axis_angle_to_rotmat(aa: Array) -> Array:
    """(..., 3) axis-angle -> (..., 3, 3); torch by Rodrigues' formula, exact at zero angle."""
    if not isinstance(aa, torch.Tensor):
        flat, lead = _scipy(aa, 3)
        return Rotation.from_rotvec(flat).as_matrix().reshape(*lead, 3, 3)
    angle = aa.norm(dim=-1, keepdim=True)
    safe = torch.where(angle > 1e-8, angle, torch.ones_like(angle))
    axis = aa / safe
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*aa.shape[:-1], 3, 3)
    s = torch.sin(angle)[..., None]
    c = torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(k)
    rot = eye + s * k + (1 - c) * (k @ k)
    return torch.where((angle > 1e-8)[..., None], rot, eye + k)


def rotmat_to_axis_angle(rotmat: Array) -> Array:
    """(..., 3, 3) -> (..., 3), stable near 0 and pi (via the quaternion)."""
    if not isinstance(rotmat, torch.Tensor):
        flat, lead = _scipy(rotmat, 9)
        return Rotation.from_matrix(flat).as_rotvec().reshape(*lead, 3)
    return quaternion_to_axis_angle(rotmat_to_quaternion(rotmat))


def rotmat_to_quaternion(rotmat: Array) -> Array:
    """(..., 3, 3) -> (..., 4) unit quaternion (x, y, z, w) with w >= 0. The torch path picks its
    formula per entry on the largest diagonal term, so no division by a small number happens."""
    if not isinstance(rotmat, torch.Tensor):
        flat, lead = _scipy(rotmat, 9)
        return _w_positive(Rotation.from_matrix(flat).as_quat()).reshape(*lead, 4)
    m = rotmat
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Row b holds 4 * q_b * q (in x, y, z, w order) computed from the entries; b = w, x, y, z.
    candidates = torch.stack(
        [
            torch.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1], 1 + m00 + m11 + m22], -1),
            torch.stack([1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0], m[..., 2, 1] - m[..., 1, 2]], -1),
            torch.stack([m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1], m[..., 0, 2] - m[..., 2, 0]], -1),
            torch.stack([m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22, m[..., 1, 0] - m[..., 0, 1]], -1),
        ],
        dim=-2,
    )  # fmt: skip
    diag = torch.stack([m00 + m11 + m22, m00, m11, m22], dim=-1)
    best = diag.argmax(dim=-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    return _w_positive(F.normalize(q, dim=-1))


def axis_angle_to_quaternion(aa: Array) -> Array:
    """(..., 3) axis-angle -> (..., 4) unit quaternion (x, y, z, w) with w >= 0."""
    if not isinstance(aa, torch.Tensor):
        flat, lead = _scipy(aa, 3)
        return _w_positive(Rotation.from_rotvec(flat).as_quat()).reshape(*lead, 4)
    angle = aa.norm(dim=-1, keepdim=True)
    # sin(angle / 2) / angle, by its series where the division would lose precision
    ratio = torch.where(
        angle > 1e-4,
        torch.sin(angle / 2) / torch.where(angle > 1e-4, angle, torch.ones_like(angle)),
        0.5 - angle**2 / 48,
    )
    return _w_positive(torch.cat([aa * ratio, torch.cos(angle / 2)], dim=-1))


def quaternion_to_axis_angle(q: Array) -> Array:
    """(..., 4) quaternion (x, y, z, w), any sign -> (..., 3) with angle in [0, pi]."""
    if not isinstance(q, torch.Tensor):
        flat, lead = _scipy(q, 4)
        return Rotation.from_quat(flat).as_rotvec().reshape(*lead, 3)
    q = _w_positive(q)
    xyz, w = q[..., :3], q[..., 3:]
    sin_half = xyz.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(sin_half, w)
    scale = torch.where(sin_half > 1e-8, angle / sin_half.clamp_min(1e-8), 2.0 / w.clamp_min(1e-8))
    return xyz * scale


def quaternion_sign_continuous(q: np.ndarray) -> np.ndarray:
    """Flip quaternions (T, ..., 4) along axis 0 so consecutive ones have a non-negative dot
    product: averaging or filtering over time needs one of q / -q chosen consistently."""
    q = np.array(q, np.float64, copy=True)
    for t in range(1, q.shape[0]):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t][flip] *= -1
    return q


def quaternion_slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Per-row spherical interpolation of unit quaternions (..., 4) along the shorter arc,
    ``t`` broadcast as (..., 1); the result is re-normalised."""
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot).clip(-1.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    small = sin < 1e-6
    w0 = np.where(small, 1 - t, np.sin((1 - t) * theta) / np.where(small, 1, sin))
    w1 = np.where(small, t, np.sin(t * theta) / np.where(small, 1, sin))
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def weak_perspective_to_translation(
    cam: torch.Tensor, focal_length: float = FOCAL_LENGTH, img_res: int = IMG_RES
) -> torch.Tensor:
    """Crop camera [s, tx, ty] -> camera-frame translation [tx, ty, 2 f / (res s)] (metres).

    A body scaled by s on a crop of ``img_res`` pixels seen through focal ``f`` stands at this depth.
    """
    depth = 2.0 * focal_length / (img_res * cam[..., 0] + 1e-9)
    return torch.stack([cam[..., 1], cam[..., 2], depth], dim=-1)


def perspective_projection(
    points: torch.Tensor,
    translation: torch.Tensor,
    focal_length: float | torch.Tensor,
    camera_center: torch.Tensor,
) -> torch.Tensor:
    """Pinhole projection of (B, N, 3) camera-aligned points moved by (B, 3) -> (B, N, 2) pixels."""
    p = points + translation[:, None, :]
    focal = torch.as_tensor(focal_length, dtype=p.dtype, device=p.device).reshape(-1, 1, 1)
    return focal * p[..., :2] / p[..., 2:3] + camera_center[:, None, :]


def project_to_crop(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Project points with the weak-perspective crop camera into normalised crop coordinates
    in [-1, 1] (the coordinates ``grid_sample`` and the reference's 2D losses use)."""
    translation = weak_perspective_to_translation(cam)
    center = torch.zeros(points.shape[0], 2, dtype=points.dtype, device=points.device)
    return perspective_projection(points, translation, FOCAL_LENGTH, center) / (IMG_RES / 2.0)


def smallest_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Axis-angle of the smallest rotation taking direction ``source`` onto ``target``."""
    u = source / np.linalg.norm(source)
    v = target / np.linalg.norm(target)
    axis = np.cross(u, v)
    sin, cos = np.linalg.norm(axis), float(np.dot(u, v))
    if sin < 1e-9:  # parallel (no rotation) or opposite (any perpendicular axis, half a turn)
        if cos > 0:
            return np.zeros(3)
        axis = np.cross(u, [1.0, 0.0, 0.0] if abs(u[0]) < 0.9 else [0.0, 1.0, 0.0])
        return np.pi * axis / np.linalg.norm(axis)
    return np.arctan2(sin, cos) * axis / sin
