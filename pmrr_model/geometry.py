"""Rotation and camera helpers: the network speaks 6D, SMPL speaks rotation matrices or
axis-angle, and the crop camera is weak-perspective. Kept small and separately tested."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pmrr_model.constants import FOCAL_LENGTH, IMG_RES


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


def rotmat_to_rot6d(rotmat: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns, in the layout rot6d_to_rotmat reads."""
    return rotmat[..., :, :2].reshape(*rotmat.shape[:-2], 6)


def axis_angle_to_rotmat(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 3, 3) with Rodrigues' formula, exact at zero angle."""
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


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 3), stable near 0 and pi (via the quaternion)."""
    return quaternion_to_axis_angle(rotmat_to_quaternion(rotmat))


def rotmat_to_quaternion(rotmat: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) unit quaternion (w, x, y, z) with w >= 0; branch picked per entry
    on the largest diagonal term so no division by a small number happens."""
    m = rotmat
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    candidates = torch.stack(
        [
            torch.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
            torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
        ],
        dim=-2,
    )  # fmt: skip
    diag = torch.stack([m00 + m11 + m22, m00, m11, m22], dim=-1)
    best = diag.argmax(dim=-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) (w, x, y, z) -> (..., 3)."""
    xyz = q[..., 1:]
    sin_half = xyz.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(sin_half, q[..., :1])
    scale = torch.where(
        sin_half > 1e-8, angle / sin_half.clamp_min(1e-8), 2.0 / q[..., :1].clamp_min(1e-8)
    )
    return xyz * scale


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
