"""Targets of the auxiliary dense-correspondence head (56 x 56: part index, U, V, coarse part).

The seed renders them per batch from the ground-truth SMPL mesh (``IUV_Renderer`` in
``core/trainer.py``), with the camera estimated from the ground-truth 2D keypoints, using the
per-vertex DensePose labels of ``data/UV_data/UV_Processed.mat``. This module does the same:
``render_iuv`` splats the mesh's vertices and face centres into a 56 x 56 z-buffer, which is
enough at that resolution (the body covers about 45 x 45 cells and has thousands of points).

Per-vertex labels come from ``UV_Processed.mat`` when the user supplies it (real SMPL,
6890 vertices). The stand-in body has no DensePose charting, so :func:`standin_vertex_iuv`
derives its own **stand-in for UV_Processed.mat**: each vertex's part is its dominant skinning
joint mapped to the 24 DensePose parts (front/back split by which side of the part's centre it
lies on in the rest pose; the head split left/right), and U, V come from a cylinder around
the part's main axis (V along the axis, U around it), each in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pmrr_model.constants import FOCAL_LENGTH, IMG_RES

DENSE_SIZE = 56
N_PARTS = 24  # DensePose parts; index 0 is background in the 25-channel head outputs
# The seed's coarse annotation (iuv_img2map's Index2mask): 15 classes over the 25 part indices.
COARSE_GROUPS = ((0,), (1, 2), (3,), (4,), (5,), (6,), (7, 9), (8, 10), (11, 13), (12, 14),
                 (15, 17), (16, 18), (19, 21), (20, 22), (23, 24))  # fmt: skip
COARSE_OF_PART = np.zeros(N_PARTS + 1, np.int64)
for _coarse, _parts in enumerate(COARSE_GROUPS):
    COARSE_OF_PART[list(_parts)] = _coarse

# Stand-in: SMPL joint index -> DensePose (back, front) part pair ((right, left) for the head).
_PARTS_OF_JOINT = {
    **{j: (1, 2) for j in (0, 3, 6, 9, 13, 14)},  # pelvis, spine, collars: torso
    **{j: (3, 3) for j in (21, 23)},  # right wrist, right hand
    **{j: (4, 4) for j in (20, 22)},  # left wrist, left hand
    **{j: (5, 5) for j in (7, 10)},  # left ankle, left foot
    **{j: (6, 6) for j in (8, 11)},  # right ankle, right foot
    2: (7, 9), 1: (8, 10), 5: (11, 13), 4: (12, 14),  # upper / lower legs (right, left)
    16: (15, 17), 17: (16, 18), 18: (19, 21), 19: (20, 22),  # upper / lower arms (left, right)
    12: (23, 24), 15: (23, 24),  # neck, head
}  # fmt: skip


@dataclass(frozen=True)
class VertexIUV:
    """Per-vertex DensePose labels: ``part`` (V,) in 1..24, ``u``, ``v`` (V,) in [0, 1]."""

    part: np.ndarray
    u: np.ndarray
    v: np.ndarray
    source: str  # "UV_Processed.mat" or "standin"


def _cylinder_uv(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centred = points - points.mean(0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    along = centred @ axes[0]
    v = (along - along.min()) / max(np.ptp(along), 1e-9)
    angle = np.arctan2(centred @ axes[2], centred @ axes[1])
    return (angle + np.pi) / (2 * np.pi), v


def standin_vertex_iuv(template: np.ndarray, skin_weights: np.ndarray) -> VertexIUV:
    """Derived labels for a body without DensePose charting (see the module docstring)."""
    joint = np.asarray(skin_weights).argmax(1)
    template = np.asarray(template, np.float64)
    part = np.zeros(len(template), np.int64)
    for j in range(24):
        sel = joint == j
        if not sel.any():
            continue
        first, second = _PARTS_OF_JOINT[j]
        if j in (12, 15):  # head: right (x < 0) / left
            part[sel] = np.where(template[sel, 0] < 0, first, second)
        else:
            centre_z = template[sel, 2].mean()
            part[sel] = np.where(template[sel, 2] < centre_z, first, second)
    u, v = np.zeros(len(template)), np.zeros(len(template))
    for p in np.unique(part):
        sel = part == p
        if sel.sum() >= 3:
            u[sel], v[sel] = _cylinder_uv(template[sel])
    return VertexIUV(part, u.astype(np.float32), v.astype(np.float32), "standin")


def uv_processed_vertex_iuv(path: str | Path, n_vertices: int) -> VertexIUV:
    """Per-vertex labels from DensePose's ``UV_Processed.mat`` (``All_vertices`` 1-based SMPL
    indices of its 7829 chart vertices, ``All_Faces``, ``All_FaceIndices`` part per face,
    ``All_U_norm`` / ``All_V_norm``); a vertex on a seam takes its first chart copy."""
    import scipy.io

    path = Path(path)
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as error:  # scipy raises several types for a bad file
        raise ValueError(f"{path}: not a readable UV_Processed.mat ({error})") from error
    missing = {"All_vertices", "All_Faces", "All_FaceIndices", "All_U_norm", "All_V_norm"} - set(
        mat
    )
    if missing:
        raise ValueError(f"{path}: missing {sorted(missing)}")
    smpl_index = np.asarray(mat["All_vertices"]).reshape(-1).astype(np.int64) - 1
    faces = np.asarray(mat["All_Faces"]).astype(np.int64) - 1
    face_part = np.asarray(mat["All_FaceIndices"]).reshape(-1).astype(np.int64)
    if smpl_index.max() >= n_vertices:
        raise ValueError(f"{path}: refers to vertex {smpl_index.max()}, body has {n_vertices}")
    chart_part = np.zeros(len(smpl_index), np.int64)
    chart_part[faces.reshape(-1)] = np.repeat(face_part, 3)
    first = np.full(n_vertices, -1)
    for k in range(len(smpl_index) - 1, -1, -1):  # reversed: the first copy wins
        first[smpl_index[k]] = k
    if (first < 0).any():
        raise ValueError(f"{path}: {int((first < 0).sum())} body vertices have no chart vertex")
    u = np.asarray(mat["All_U_norm"]).reshape(-1)[first]
    v = np.asarray(mat["All_V_norm"]).reshape(-1)[first]
    return VertexIUV(
        chart_part[first], u.astype(np.float32), v.astype(np.float32), "UV_Processed.mat"
    )


def vertex_iuv_for(
    body_model, data_root: str | Path | None = None, uv_processed: str | Path | None = None
) -> VertexIUV:
    """``uv_processed`` when given, else ``data_root/UV_data/UV_Processed.mat`` when it exists
    (the seed's layout), else the stand-in derivation."""
    smpl = body_model.smpl
    n = int(smpl.v_template.shape[0])
    if uv_processed is None and data_root is not None:
        candidate = Path(data_root) / "UV_data" / "UV_Processed.mat"
        uv_processed = candidate if candidate.is_file() else None
    if uv_processed is not None:
        return uv_processed_vertex_iuv(uv_processed, n)
    return standin_vertex_iuv(
        smpl.v_template.detach().cpu().numpy(), smpl.lbs_weights.detach().cpu().numpy()
    )


class IUVRenderer(torch.nn.Module):
    """Ground-truth 56 x 56 part / U / V / coarse maps of posed meshes under the crop camera."""

    def __init__(self, table: VertexIUV, faces: np.ndarray, size: int = DENSE_SIZE) -> None:
        super().__init__()
        self.size = size
        faces = np.asarray(faces, np.int64)
        part = np.concatenate([table.part, table.part[faces[:, 0]]])
        u = np.concatenate([table.u, table.u[faces].mean(1)])
        v = np.concatenate([table.v, table.v[faces].mean(1)])
        self.register_buffer("faces", torch.from_numpy(faces), persistent=False)
        self.register_buffer("part", torch.from_numpy(part), persistent=False)
        self.register_buffer("u", torch.from_numpy(u.astype(np.float32)), persistent=False)
        self.register_buffer("v", torch.from_numpy(v.astype(np.float32)), persistent=False)

    @torch.no_grad()
    def forward(self, vertices: torch.Tensor, cam_t: torch.Tensor) -> dict[str, torch.Tensor]:
        """``vertices`` (B, V, 3) body frame, ``cam_t`` (B, 3) -> maps (B, size, size):
        ``part`` and ``coarse`` (long, 0 = background), ``u``, ``v`` (0 on background)."""
        batch, size = vertices.shape[0], self.size
        points = torch.cat([vertices, vertices[:, self.faces].mean(2)], dim=1) + cam_t[:, None]
        z = points[..., 2]
        xy = FOCAL_LENGTH * points[..., :2] / z.clamp_min(1e-6)[..., None] / (IMG_RES / 2.0)
        cell = torch.floor((xy + 1) / 2 * size).long()
        ok = (z > 0) & (cell >= 0).all(-1) & (cell < size).all(-1)
        flat = (
            torch.arange(batch, device=z.device)[:, None] * size * size
            + cell[..., 1] * size
            + cell[..., 0]
        )
        flat, zs = flat[ok], z[ok]
        index = torch.arange(points.shape[1], device=z.device).expand(batch, -1)[ok]
        depth = torch.full((batch * size * size,), float("inf"), device=z.device)
        depth.scatter_reduce_(0, flat, zs, reduce="amin")
        front = zs <= depth[flat]
        flat, index = flat[front], index[front]
        part = torch.zeros(batch * size * size, dtype=torch.long, device=z.device)
        u = torch.zeros(batch * size * size, device=z.device)
        v = torch.zeros(batch * size * size, device=z.device)
        part[flat], u[flat], v[flat] = self.part[index], self.u[index], self.v[index]
        coarse = torch.as_tensor(COARSE_OF_PART, device=z.device)[part]
        shape = (batch, size, size)
        return {
            "part": part.view(shape),
            "u": u.view(shape),
            "v": v.view(shape),
            "coarse": coarse.view(shape),
        }


def estimate_translation(
    joints: torch.Tensor, keypoints: torch.Tensor, conf: torch.Tensor,
    focal_length: float = FOCAL_LENGTH, img_res: int = IMG_RES,
) -> torch.Tensor:  # fmt: skip
    """Camera translation (B, 3) placing body-frame ``joints`` (B, J, 3) on ``keypoints``
    (B, J, 2, normalised crop coordinates) by confidence-weighted least squares (the seed's
    ``estimate_translation``: the perspective equations are linear in the translation).

    A weak prior (weight 1e-4) toward the crop's mean depth keeps samples with fewer than two
    confident joints solvable.
    """
    f = focal_length
    uv = keypoints * (img_res / 2.0)  # pixels from the crop centre
    w = conf.clamp_min(0).sqrt()[..., None]  # (B, J, 1)
    x, y, z = joints.unbind(-1)
    zero, ones = torch.zeros_like(x), torch.ones_like(x)
    rows_x = torch.stack([f * ones, zero, -uv[..., 0]], -1)
    rows_y = torch.stack([zero, f * ones, -uv[..., 1]], -1)
    a = torch.cat([rows_x * w, rows_y * w], dim=1)  # (B, 2J, 3)
    b = torch.cat(
        [(uv[..., 0] * z - f * x)[..., None] * w, (uv[..., 1] * z - f * y)[..., None] * w], dim=1
    )
    prior_depth = 2 * f / (img_res * 0.9)
    reg = 1e-4 * f
    ata = a.transpose(1, 2) @ a + reg**2 * torch.eye(3, dtype=a.dtype, device=a.device)
    atb = a.transpose(1, 2) @ b
    atb[:, 2, 0] += reg**2 * prior_depth
    return torch.linalg.solve(ata, atb)[..., 0]
