"""Calibration of the analytics from the body model that actually produced the joints.

"Upright" and "head level" are defined by the body model's zero pose (:class:`Neutral`), and
the vertex face-touch distance by its head vertices. Both differ between asset sets (SMPL's rest
spine leans a few degrees back, the stand-in's does not; the two meshes have different
topologies), so they must come from the body model in use, not from a constant. Needs torch
(it runs the body model once); the rest of ``analytics`` does not import it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics import joints as J
from analytics.body_frame import Neutral, neutral_from_rest_joints

#: Head vertices: zero-pose vertices this close to the ear midpoint (and above the neck joint).
HEAD_RADIUS_M = 0.13


@dataclass(frozen=True)
class BodyCalibration:
    """What analytics needs from one body model: its zero-pose calibration and head vertices."""

    asset_id: str
    neutral: Neutral
    head_vertex_ids: tuple[int, ...]


def _rest_output(body: Any) -> tuple[np.ndarray, np.ndarray]:
    """Zero pose, mean shape: (vertices (V, 3), joints (49, 3)) in the body model's frame
    (y up, facing +z), float64."""
    import torch

    tensors = [*body.parameters(), *body.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    n_betas = int(getattr(getattr(body, "smpl", None), "num_betas", 10))
    with torch.no_grad():
        out = body(
            betas=torch.zeros(1, n_betas, device=device),
            body_pose=torch.zeros(1, 69, device=device),
            global_orient=torch.zeros(1, 3, device=device),
        )
    vertices = out.vertices[0].detach().cpu().double().numpy()
    joints = out.joints[0].detach().cpu().double().numpy()
    return vertices, joints


def _to_camera(points: np.ndarray) -> np.ndarray:
    """Body-model frame (y up, facing +z) -> camera frame (y down, facing the camera): 180 deg
    about x. The calibration is invariant to position and heading, so nothing else is needed."""
    return points * np.array([1.0, -1.0, -1.0])


def _head_ids(vertices: np.ndarray, joints: np.ndarray, radius_m: float) -> np.ndarray:
    near = np.linalg.norm(vertices - J.head_center(joints), axis=1) < radius_m
    return np.flatnonzero(near & (vertices[:, 1] > joints[J.NECK, 1]))


def compute_body_calibration(body: Any, radius_m: float = HEAD_RADIUS_M) -> BodyCalibration:
    """Calibration of ``body`` (a :class:`pmrr_model.body_model.BodyModel` or anything with the
    same ``forward(betas, body_pose, global_orient)`` -> ``.vertices``, ``.joints`` (49)),
    computed now, never cached."""
    vertices, joints = _rest_output(body)
    return BodyCalibration(
        asset_id=str(getattr(body, "asset_id", "")),
        neutral=neutral_from_rest_joints(_to_camera(joints)),
        head_vertex_ids=tuple(int(i) for i in _head_ids(vertices, joints, radius_m)),
    )


_CACHE: dict[str, BodyCalibration] = {}
_LOCK = threading.Lock()


def body_calibration(body: Any) -> BodyCalibration:
    """Calibration of ``body``, memoised by its ``asset_id`` (``AssetSet.describe()``: asset kind
    and content digest), since every video of a run uses the same body model and running it per
    video is wasted work. A body without ``asset_id`` is computed every time. A body model whose
    tensors are edited in place after the first call keeps its old calibration: give it a new
    ``asset_id``."""
    key = getattr(body, "asset_id", None)
    if not key:
        return compute_body_calibration(body)
    with _LOCK:
        found = _CACHE.get(key)
    if found is None:
        found = compute_body_calibration(body)
        with _LOCK:
            _CACHE.setdefault(key, found)
    return found


def neutral_from_body_model(body: Any) -> Neutral:
    """Zero-pose calibration of ``body`` (what ``compute_video_features(neutral=)`` wants)."""
    return body_calibration(body).neutral


def head_vertex_ids(body: Any, radius_m: float = HEAD_RADIUS_M) -> np.ndarray:
    """Head-surface vertex indices of ``body``: zero-pose vertices within ``radius_m`` of the ear
    midpoint and above the neck joint (the arms are far away in the zero pose). Index a posed
    mesh's vertices with them to build ``compute_video_features(head_vertices=)``."""
    if radius_m == HEAD_RADIUS_M:
        return np.asarray(body_calibration(body).head_vertex_ids, dtype=np.int64)
    vertices, joints = _rest_output(body)
    return _head_ids(vertices, joints, radius_m)
