"""Shaded previews of the stand-in, posed through smplx (the path the pipeline uses).

Rendering is plain matplotlib (flat-shaded triangles, painter's algorithm) so it runs anywhere;
the pictures are for eyeballing skinning artefacts at shoulders, hips and knees.

    python -m pmrr_model.standin.preview [cache_root] [out_dir]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

LIGHT = np.array([0.35, 0.55, 1.0])


def seated_pose() -> np.ndarray:
    """(69,) axis-angle body pose: sitting (hips and knees ~90 deg) with both arms raised."""
    pose = np.zeros((23, 3))  # row i is SMPL joint i + 1 (the root is global_orient)
    deg = math.radians
    pose[0] = [-deg(90), 0.0, 0.0]  # left hip: thigh forward (+z)
    pose[1] = [-deg(90), 0.0, 0.0]  # right hip
    pose[3] = [deg(90), 0.0, 0.0]  # left knee: shin back down
    pose[4] = [deg(90), 0.0, 0.0]  # right knee
    pose[15] = [0.0, 0.0, deg(50)]  # left shoulder: arm up
    pose[16] = [0.0, 0.0, -deg(50)]  # right shoulder
    pose[17] = [0.0, -deg(60), 0.0]  # left elbow: forearm forward
    pose[18] = [0.0, deg(60), 0.0]  # right elbow
    return pose.reshape(-1)


def pose_vertices(
    asset_dir: Path, body_pose: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and faces of the stand-in at beta = 0, posed through smplx."""
    import smplx

    vertex_ids = json.loads((asset_dir / "standin_vertex_ids.json").read_text())
    model = smplx.create(
        str(asset_dir / "smpl"), model_type="smpl", gender="neutral", vertex_ids=vertex_ids
    )
    kwargs = {}
    if body_pose is not None:
        kwargs["body_pose"] = torch.tensor(body_pose, dtype=torch.float32)[None]
    with torch.no_grad():
        out = model(**kwargs)
    return out.vertices[0].numpy().astype(np.float64), np.asarray(model.faces, dtype=np.int64)


def _draw(ax, vertices: np.ndarray, faces: np.ndarray, yaw_deg: float) -> None:
    from matplotlib.collections import PolyCollection

    yaw = math.radians(yaw_deg)
    rot = np.array(
        [[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]]
    )
    v = vertices @ rot.T
    tri = v[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    visible = normals[:, 2] > 0  # camera looks down -z
    order = np.argsort(tri[visible][:, :, 2].mean(axis=1))
    light = LIGHT / np.linalg.norm(LIGHT)
    shade = np.clip(normals[visible] @ light, 0.0, 1.0)[order]
    base = np.array([0.78, 0.66, 0.58])
    colors = np.clip(base[None] * (0.25 + 0.75 * shade[:, None]), 0, 1)
    polys = tri[visible][order][:, :, :2]
    ax.add_collection(
        PolyCollection(polys, facecolors=colors, edgecolors="none", antialiased=False)
    )
    lo, hi = v[:, :2].min(axis=0), v[:, :2].max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * 1.05
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_aspect("equal")
    ax.axis("off")


def render(vertices: np.ndarray, faces: np.ndarray, path: Path, title: str) -> None:
    """Front and side views side by side, white background, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 6), dpi=110, facecolor="white")
    for ax, yaw, name in zip(
        axes, (0.0, 90.0, 35.0), ("front", "side", "three-quarter"), strict=True
    ):
        _draw(ax, vertices, faces, yaw)
        ax.set_title(name, fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, facecolor="white")
    plt.close(fig)


def main(argv: list[str]) -> None:
    from pmrr_model.standin import ensure_standin_assets

    cache_root = Path(argv[0]) if argv else Path.home() / ".cache" / "pmrr_interviews"
    out_dir = Path(argv[1]) if len(argv) > 1 else Path("docs")
    asset_dir = ensure_standin_assets(cache_root)
    vertices, faces = pose_vertices(asset_dir)
    render(vertices, faces, out_dir / "standin_tpose.png", f"stand-in T-pose ({asset_dir.name})")
    vertices, faces = pose_vertices(asset_dir, seated_pose())
    render(vertices, faces, out_dir / "standin_seated.png", "stand-in seated, arms raised (smplx)")


if __name__ == "__main__":
    main(sys.argv[1:])
