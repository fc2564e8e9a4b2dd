"""Rendering: the mesh lands exactly where the camera model projects it (pixels where the body
is, none elsewhere), people keep their own colours, and the side view turns each body in place."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from pmrr_model.estimators.common import project
from pmrr_model.render import person_colors, render_overlay, render_views, renderer_name

SIZE = (240, 320)
FOCAL = 400.0


@pytest.fixture(scope="module")
def body():
    """The body model's mean-shape body, upright and facing the camera (y down, z forward)."""
    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel

    model = BodyModel(resolve_assets()).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 10), torch.zeros(1, 69), torch.tensor([[np.pi, 0.0, 0.0]]))
    return out.vertices[0].numpy().astype(np.float64), model.faces


def place(vertices: np.ndarray, x: float, z: float) -> np.ndarray:
    return vertices - vertices.mean(0) + np.array([x, 0.0, z])


def silhouette(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Reference mask: every projected triangle filled with OpenCV (no renderer involved)."""
    mask = np.zeros(SIZE, np.uint8)
    tris = project(vertices, FOCAL, SIZE)[faces]
    cv2.fillPoly(mask, [np.round(t * 16).astype(np.int32) for t in tris], 1, shift=4)
    return mask.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def test_default_renderer_is_a_real_one():
    try:
        import pytorch3d  # noqa: F401

        expected = {"pytorch3d", "pyrender"}
    except ImportError:
        expected = {"pyrender"}
    assert renderer_name() in expected


def test_mesh_pixels_are_where_the_body_projects(body):
    vertices, faces = body
    person = place(vertices, 0.0, 3.0)
    background = np.full((*SIZE, 3), 40, np.uint8)
    front, _ = render_views(background, person, faces, FOCAL, background=255)
    drawn = (front != 255).any(-1)
    expected = silhouette(person, faces)
    assert expected.sum() > 2000, "the body should cover a good part of the frame"
    # Edge pixels differ between rasterisers (thin fingers at this size); the body does not.
    assert iou(drawn, expected) > 0.9
    assert np.abs(centroid(drawn) - centroid(expected)).max() < 1.0  # pixels

    overlay = render_overlay(background, person, faces, FOCAL)
    changed = (overlay != background).any(-1)
    assert iou(changed, expected) > 0.9
    # Away from the body the frame is untouched, pixel for pixel.
    far = ~cv2.dilate(expected.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert (overlay[far] == background[far]).all()
    # Everywhere: the renderer's mesh colour over the frame at alpha 0.85 where its mask is set,
    # to the last pixel row and column (the blend runs only inside the mask's bounding box)
    from pmrr_model.render.api import _backend

    rgb, mask = _backend().render(person[None], faces, FOCAL, SIZE, person_colors(1))
    weight = (mask.astype(np.float32) * np.float32(0.85))[..., None]
    blend = background.astype(np.float32) * (1 - weight) + rgb.astype(np.float32) * weight
    assert np.array_equal(overlay, blend.clip(0, 255).astype(np.uint8))


def test_two_people_keep_their_colours(body):
    vertices, faces = body
    people = np.stack([place(vertices, -0.7, 4.0), place(vertices, 0.7, 4.0)])
    colors = person_colors(2)
    assert np.abs(colors[0] - colors[1]).max() > 0.2
    front, _ = render_views(np.zeros((*SIZE, 3), np.uint8), people, faces, FOCAL, colors)
    means = []
    for person in people:
        mask = silhouette(person, faces) & (front != 255).any(-1)
        assert mask.sum() > 500
        means.append(front[mask].mean(0))
    # Shaded, but each body's average colour is nearer its own colour than the other's.
    for i, mean in enumerate(means):
        hue = mean / mean.sum()
        own = np.abs(hue - colors[i] / colors[i].sum()).sum()
        other = np.abs(hue - colors[1 - i] / colors[1 - i].sum()).sum()
        assert own < other


def test_side_view_turns_each_person_in_place(body):
    vertices, faces = body
    people = np.stack([place(vertices, -0.7, 4.0), place(vertices, 0.7, 4.0)])
    front, side = render_views(np.zeros((*SIZE, 3), np.uint8), people, faces, FOCAL)
    for image in (front, side):
        drawn = (image != 255).any(-1)
        left, right = drawn[:, : SIZE[1] // 2], drawn[:, SIZE[1] // 2 :]
        assert left.sum() > 300 and right.sum() > 300, "both people stay in view"
    front_cols = np.flatnonzero((front != 255).any(-1)[:, : SIZE[1] // 2].any(0))
    side_cols = np.flatnonzero((side != 255).any(-1)[:, : SIZE[1] // 2].any(0))
    # Seen from the side, the T-posed body is much narrower than from the front.
    assert len(side_cols) < 0.6 * len(front_cols)
    assert abs(side_cols.mean() - front_cols.mean()) < 0.1 * SIZE[1]


def test_nobody_leaves_the_image_as_it_was():
    image = np.random.default_rng(0).integers(0, 255, (*SIZE, 3), dtype=np.uint8)
    out = render_overlay(image, np.zeros((0, 10, 3)), np.zeros((0, 3), np.int64), FOCAL)
    assert np.array_equal(out, image) and out is not image
    front, side = render_views(image, np.zeros((0, 10, 3)), np.zeros((0, 3), np.int64), FOCAL)
    assert (front == 255).all() and (side == 255).all()


RSS_SCRIPT = """
import numpy as np, torch
from pmrr_model.assets import resolve_assets
from pmrr_model.body_model import BodyModel
from pmrr_model.render import render_overlay
from pmrr_model.render import pyrender_backend

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

model = BodyModel(resolve_assets()).eval()
with torch.no_grad():
    out = model(torch.zeros(2, 10), torch.zeros(2, 69), torch.tensor([[np.pi, 0, 0]] * 2))
verts = out.vertices.numpy() + np.array([[[-0.4, 0, 3.0]], [[0.4, 0, 3.0]]])
frame = np.zeros((360, 640, 3), np.uint8)
marks = []
for i in range(150):
    render_overlay(frame, verts + 0.001 * i, model.faces, 500.0)
    if i in (25, 149):
        marks.append(rss_mb())
(renderer,) = pyrender_backend._RENDERERS.values()
programs = len(renderer._renderer._program_cache._program_cache)
from OpenGL import contextdata

print(len(contextdata.storedPointers), programs, marks[0], marks[1])
"""


def test_rendering_memory_stays_flat_over_many_frames():
    """pyrender on OSMesa compiled a shader program per primitive per frame and kept each until
    its GL context was destroyed (~7 MB a frame); with programs cached by their source, one
    program serves every frame and memory stays flat in the number of frames. PyOpenGL's
    per-context storage got a new context key every frame (and rendering slowed with the number
    of frames drawn); it keeps one for the one context."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT], capture_output=True, text=True, check=True
    )
    contexts, programs, early, late = map(float, result.stdout.split()[-4:])
    assert contexts == 1, f"PyOpenGL stored values under {contexts:.0f} contexts for one"
    assert programs == 1, f"{programs:.0f} shader programs compiled for one kind of mesh"
    assert late - early < 40, f"RSS grew {late - early:.0f} MB over 124 frames"
