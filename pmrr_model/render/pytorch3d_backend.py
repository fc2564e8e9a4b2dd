"""pytorch3d backend, used when ``import pytorch3d`` works (GPU hosts that built it).

pytorch3d's screen camera has +x left, +y up, +z into the scene; ours has x right, y down, z
forward, so points are turned 180 degrees about z before rendering.
"""

from __future__ import annotations

import numpy as np
import torch


def render(
    people: np.ndarray,
    faces: np.ndarray,
    focal_px: float,
    size_hw: tuple[int, int],
    colors: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """-> (rgb (H, W, 3) uint8, coverage mask (H, W) bool); all people in one mesh batch."""
    from pytorch3d.renderer import (
        HardPhongShader,
        MeshRasterizer,
        MeshRenderer,
        PerspectiveCameras,
        PointLights,
        RasterizationSettings,
        TexturesVertex,
    )
    from pytorch3d.structures import Meshes, join_meshes_as_scene

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    height, width = size_hw
    flip = torch.tensor([-1.0, -1.0, 1.0], device=device)
    faces_t = torch.as_tensor(np.asarray(faces), dtype=torch.int64, device=device)
    meshes = []
    for verts, color in zip(people, colors, strict=True):
        v = torch.as_tensor(verts, dtype=torch.float32, device=device) * flip
        rgb = torch.as_tensor(color, dtype=torch.float32, device=device).expand(v.shape[0], 3)
        meshes.append(Meshes([v], [faces_t], textures=TexturesVertex([rgb])))
    scene = join_meshes_as_scene(meshes)
    cameras = PerspectiveCameras(
        focal_length=((focal_px, focal_px),),
        principal_point=((width / 2.0, height / 2.0),),
        image_size=((height, width),),
        in_ndc=False,
        device=device,
    )
    settings = RasterizationSettings(image_size=(height, width), blur_radius=0.0, faces_per_pixel=1)
    lights = PointLights(device=device, location=((0.0, 0.0, 0.0),))
    renderer = MeshRenderer(
        rasterizer=MeshRasterizer(cameras=cameras, raster_settings=settings),
        shader=HardPhongShader(device=device, cameras=cameras, lights=lights),
    )
    with torch.no_grad():
        fragments = renderer.rasterizer(scene)
        image = renderer.shader(fragments, scene)[0]
    mask = (fragments.pix_to_face[0, ..., 0] >= 0).cpu().numpy()
    rgb = (image[..., :3].clamp(0, 1) * 255).byte().cpu().numpy()
    return rgb, mask
