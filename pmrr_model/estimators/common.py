"""Pieces both estimators share: turning SMPL parameters plus a full-image translation into
:class:`BodyEstimates`, and keeping torch's thread pool small around tiny-tensor work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from pmrr_model.body_model import BodyModel
from pmrr_model.crop import box_to_center_scale, full_translation_to_crop_cam
from pmrr_model.estimators.base import BodyEstimates
from pmrr_model.estimators.sparse_joints import SparseJoints


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily use ``n`` intra-op threads. Optimising a few people means hundreds of small
    ops; on 2 cores thread hand-offs cost more than they save (0.5 ms vs 30 ms per joint
    evaluation measured here), so fits run single-threaded. ``None`` leaves the setting alone."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def project(points: np.ndarray, focal_px: float, image_size_hw: tuple[int, int]) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels, pinhole at the image centre."""
    height, width = image_size_hw
    z = np.clip(points[..., 2:3], 1e-6, None)
    return focal_px * points[..., :2] / z + np.array([width / 2.0, height / 2.0])


@torch.no_grad()
def assemble_estimates(
    body_model: BodyModel,
    *,
    global_orient: np.ndarray,
    body_pose: np.ndarray,
    betas: np.ndarray,
    transl: np.ndarray,
    boxes_xyxy: np.ndarray,
    image_size_hw: tuple[int, int],
    focal_px: float,
    confidence: np.ndarray,
    estimator: str,
    rescale: float,
    joints_fn: SparseJoints | None = None,
    joints_m: np.ndarray | None = None,
) -> BodyEstimates:
    """Run the full body model once and express everything in the image's camera frame.

    With ``joints_fn`` (a 49-joint :class:`SparseJoints`) only the joints are evaluated and
    ``vertices_m`` is empty (N, 0, 3): for callers that keep no vertices (the pipeline's
    estimate stage), skinning every vertex of every frame was wasted work. ``joints_m`` (N, 49,
    3), body frame: joints already evaluated for these parameters (PMRR's network returns
    them), used as they are, vertices empty too.

    ``cam`` is the weak-perspective camera of each person's crop that reproduces the same image
    projection (the inverse of the crop-to-full conversion), so the ``smpl`` table's ``cam`` means
    the same for both estimators.
    """
    device = next(body_model.buffers()).device
    as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32, device=device)  # noqa: E731
    n = len(betas)
    if n == 0:
        nv = body_model.num_vertices
        z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
        return BodyEstimates(z(0, 3), z(0, 69), z(0, 10), z(0, 3), z(0, 3), z(0, 49, 3),
                             z(0, 49, 2), z(0, nv, 3), z(0), focal_px, estimator,
                             body_model.asset_id)  # fmt: skip
    t = np.asarray(transl, np.float64)
    if joints_m is not None:
        joints = np.asarray(joints_m, np.float64) + t[:, None]
        vertices = np.zeros((n, 0, 3))
    elif joints_fn is None:
        out = body_model(as_t(betas), as_t(body_pose), as_t(global_orient))
        joints = out.joints.cpu().numpy() + t[:, None]
        vertices = out.vertices.cpu().numpy() + t[:, None]
    else:
        joints = joints_fn(as_t(betas), as_t(body_pose), as_t(global_orient)).cpu().numpy()
        joints = joints + t[:, None]
        vertices = np.zeros((n, 0, 3))
    center, scale = box_to_center_scale(boxes_xyxy, rescale)
    cam = full_translation_to_crop_cam(t, center, scale, image_size_hw, focal_px)
    return BodyEstimates(
        global_orient=np.asarray(global_orient, np.float32),
        body_pose=np.asarray(body_pose, np.float32),
        betas=np.asarray(betas, np.float32),
        cam=cam.astype(np.float32),
        transl_m=t.astype(np.float32),
        joints3d_m=joints.astype(np.float32),
        joints2d_px=project(joints, focal_px, image_size_hw).astype(np.float32),
        vertices_m=vertices.astype(np.float32),
        confidence=np.clip(np.asarray(confidence, np.float32), 0, 1),
        focal_px=float(focal_px),
        estimator=estimator,
        assets=body_model.asset_id,
    )
