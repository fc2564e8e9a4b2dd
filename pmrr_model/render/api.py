"""Renderer-independent entry points.

Inputs are always in the estimators' camera frame (x right, y down, z forward, metres) with a
pinhole of ``focal_px`` at the image centre, so a mesh rendered here lands where
``BodyEstimates.joints2d_px`` says. The backend is pytorch3d when it imports (GPU hosts that
built it), otherwise pyrender offscreen (OSMesa on CPU machines, EGL where a GPU is present).
``PMRR_RENDERER=pyrender|pytorch3d`` forces one.
"""

from __future__ import annotations

import colorsys
import os
from functools import lru_cache

import numpy as np


class RendererUnavailableError(RuntimeError):
    """No rendering backend can be imported; the message lists the install steps."""


PYRENDER_INSTALL = (
    "apt-get install -y libosmesa6 && pip install pyrender && pip install 'PyOpenGL>=3.1.4'"
)


def person_colors(n: int) -> np.ndarray:
    """(n, 3) distinct, light colours in [0, 1] (golden-ratio hue steps: neighbours differ)."""
    hues = (0.6 + np.arange(n) * 0.618034) % 1.0
    return np.array([colorsys.hls_to_rgb(h, 0.65, 0.55) for h in hues]).reshape(n, 3)


@lru_cache(maxsize=1)
def renderer_name() -> str:
    forced = os.environ.get("PMRR_RENDERER")
    if forced in ("pyrender", "pytorch3d"):
        return forced
    try:
        import pytorch3d.renderer  # noqa: F401

        return "pytorch3d"
    except ImportError:
        return "pyrender"


def _backend():
    if renderer_name() == "pytorch3d":
        from pmrr_model.render import pytorch3d_backend

        return pytorch3d_backend
    from pmrr_model.render import pyrender_backend

    return pyrender_backend


def _as_people(vertices_m: np.ndarray) -> np.ndarray:
    v = np.asarray(vertices_m, dtype=np.float32)
    return v[None] if v.ndim == 2 else v


def render_overlay(
    image_rgb: np.ndarray,
    vertices_m: np.ndarray,
    faces: np.ndarray,
    focal_px: float,
    colors: np.ndarray | None = None,
    alpha: float = 0.85,
) -> np.ndarray:
    """Meshes of N people (N, V, 3) drawn over ``image_rgb`` (H, W, 3) uint8 -> uint8 image."""
    people = _as_people(vertices_m)
    image = np.asarray(image_rgb)
    if len(people) == 0:
        return image.copy()
    colors = person_colors(len(people)) if colors is None else np.asarray(colors)
    rgb, mask = _backend().render(people, np.asarray(faces), focal_px, image.shape[:2], colors)
    out = image.copy()
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return out
    # blended only inside the meshes' bounding box (outside the mask the weight is 0): people
    # cover a fraction of the frame, and the whole frame's float blend took ~7 ms, 1.2 ms boxed
    box = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    weight = (mask[box].astype(np.float32) * alpha)[..., None]
    blend = image[box].astype(np.float32) * (1 - weight) + rgb[box].astype(np.float32) * weight
    out[box] = blend.clip(0, 255).astype(np.uint8)
    return out


def render_views(
    image_rgb: np.ndarray,
    vertices_m: np.ndarray,
    faces: np.ndarray,
    focal_px: float,
    colors: np.ndarray | None = None,
    background: int = 255,
) -> tuple[np.ndarray, np.ndarray]:
    """The seed's demo figure minus the overlay: ``front`` = the meshes alone from the camera,
    ``side`` = each mesh turned 90 degrees about the vertical axis through its own centre (so
    depth errors invisible in the overlay show up as a lean). Each person turns in place:
    turning side-by-side people about their common centre put them behind one another and off
    the frame (seen on the two-person sample)."""
    people = _as_people(vertices_m)
    blank = np.full_like(np.asarray(image_rgb), background)
    if len(people) == 0:
        return blank, blank.copy()
    front = render_overlay(blank, people, faces, focal_px, colors, alpha=1.0)
    center = people.mean(axis=1, keepdims=True)
    # 90 degrees about the camera's y axis (vertical, pointing down): x -> -z, z -> x.
    rot = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]], dtype=np.float32)
    side = (people - center) @ rot.T + center
    return front, render_overlay(blank, side, faces, focal_px, colors, alpha=1.0)
