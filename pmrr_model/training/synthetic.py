"""A small training / validation set in the SPIN npz format, rendered from the project's own
body model (the stand-in by default): varied poses (standing and seated, random limb angles),
shapes, clothing and skin colours, headings and camera distances, over real photos without
people (the scene benchmark's backgrounds, randomly cropped and mirrored).

It exists so that ``pmrr train`` can run, be tested and be benchmarked offline; it is not a
substitute for the seed's datasets (H36M, COCO/EFT, MPII, LSP, 3DHP), whose npz files the same
reader takes. Layout written by :func:`make_synthetic_set`::

    DIR/train/standin_train.npz   DIR/train/images/000000.jpg ...
    DIR/val/standin_val.npz       DIR/val/images/000000.jpg ...

Each npz holds imgname, center, scale, part (24 x 3, pixels + in-image visibility), openpose
(25 x 3), S (24 x 4, camera frame, metres), pose (72, camera-frame global orientation first),
shape (10), has_smpl. Dense targets are rendered per batch from pose/shape by
:mod:`pmrr_model.training.dense_targets`, as the seed does.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from pmrr_model.constants import SMPL_JOINT_NAMES
from pmrr_model.crop import DEFAULT_RESCALE, SCALE_UNIT_PX, default_focal_px

SIZE_HW = (320, 320)
GENERATOR_VERSION = "1"


def _joint(name: str) -> int:
    return SMPL_JOINT_NAMES.index(name) - 1  # index into the 23 body joints


def random_body_pose(rng: np.random.Generator) -> np.ndarray:
    """(69,) axis-angle: standing or seated legs, arms from hanging to raised, small spine and
    head turns (degrees below; SMPL's left side is +x, elbows bend about y)."""
    deg = np.zeros((23, 3))
    for name in ("spine1", "spine2", "spine3", "neck", "head"):
        deg[_joint(name)] = rng.normal(0, 8, 3)
    seated = rng.uniform() < 0.5
    for side, sign in (("left", 1.0), ("right", -1.0)):
        hip, knee = _joint(f"{side}_hip"), _joint(f"{side}_knee")
        if seated:
            deg[hip] = (-90 + rng.normal(0, 12), sign * rng.normal(0, 8), sign * rng.uniform(0, 15))
            deg[knee] = (90 + rng.normal(0, 12), 0, 0)
        else:
            deg[hip] = (rng.normal(0, 15), sign * rng.normal(0, 6), sign * rng.uniform(-5, 10))
            deg[knee] = (rng.uniform(0, 40), 0, 0)
        deg[_joint(f"{side}_shoulder")] = (
            rng.normal(0, 15),
            rng.normal(0, 25),
            sign * -rng.uniform(10, 85),  # arm lowered from the T-pose by 10..85 degrees
        )
        deg[_joint(f"{side}_elbow")] = (0, sign * -rng.uniform(0, 110), 0)
        deg[_joint(f"{side}_wrist")] = rng.normal(0, 10, 3)
    return np.radians(deg).reshape(69)


def camera_orientation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> Rotation:
    """Body frame (y up, facing +z) -> camera frame (y down, z forward) for a body turned by
    ``yaw`` (0 faces the camera), tilted by ``pitch`` and ``roll``."""
    flip = Rotation.from_matrix(np.diag([1.0, -1.0, -1.0]))
    tilt = Rotation.from_euler("zx", [roll_deg, pitch_deg], degrees=True)
    return flip * tilt * Rotation.from_euler("y", yaw_deg, degrees=True)


def _background(rng: np.random.Generator, size_hw: tuple[int, int]) -> np.ndarray:
    from pmrr_model.evaluation.scenes import BACKGROUNDS, background

    h, w = size_hw
    photo = background(BACKGROUNDS[rng.integers(len(BACKGROUNDS))], (2 * h, 2 * w))
    y0, x0 = rng.integers(0, h + 1), rng.integers(0, w + 1)
    out = photo[y0 : y0 + h, x0 : x0 + w]
    return np.ascontiguousarray(out[:, ::-1] if rng.uniform() < 0.5 else out)


def _project(points: np.ndarray, focal: float, size_hw: tuple[int, int]) -> np.ndarray:
    h, w = size_hw
    return focal * points[..., :2] / points[..., 2:3] + np.array([w / 2.0, h / 2.0])


def _with_visibility(px: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    h, w = size_hw
    inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    return np.c_[px, inside.astype(np.float64)]


def render_sample(body, rng: np.random.Generator, size_hw: tuple[int, int] = SIZE_HW) -> dict:
    """One person over a background: the image and its SPIN-format annotation."""
    from pmrr_model.evaluation.scenes import render_people, vertex_colors

    focal = default_focal_px(size_hw)
    betas = np.clip(rng.normal(0, 1, 10), -2.5, 2.5)
    body_pose = random_body_pose(rng)
    orient = camera_orientation(rng.uniform(-70, 70), rng.normal(0, 8), rng.normal(0, 6))
    go = orient.as_rotvec()
    with torch.no_grad():
        out = body(
            betas=torch.tensor(betas[None], dtype=torch.float32),
            body_pose=torch.tensor(body_pose[None], dtype=torch.float32),
            global_orient=torch.tensor(go[None], dtype=torch.float32),
        )
    depth = rng.uniform(2.2, 7.0)
    h, w = size_hw
    spread = 0.25 * depth / focal
    position = np.array([rng.uniform(-1, 1) * spread * w, rng.uniform(-1, 1) * spread * h, depth])
    transl = position - out.smpl_joints[0, 0].numpy().astype(np.float64)
    verts = out.vertices[0].numpy().astype(np.float64) + transl
    joints = out.joints[0].numpy().astype(np.float64) + transl
    rgb, _, ids = render_people([verts], body.faces, [vertex_colors(body, rng)], focal, size_hw)
    image = np.where((ids >= 0)[..., None], rgb, _background(rng, size_hw))
    vpx = _project(verts, focal, size_hw)
    lo, hi = vpx.min(0), vpx.max(0)
    return {
        "image": image,
        "center": (lo + hi) / 2,
        "scale": float(np.max(hi - lo)) / SCALE_UNIT_PX * DEFAULT_RESCALE,
        "part": _with_visibility(_project(joints[25:], focal, size_hw), size_hw),
        "openpose": _with_visibility(_project(joints[:25], focal, size_hw), size_hw),
        "S": np.c_[joints[25:], np.ones(24)],
        "pose": np.concatenate([go, body_pose]),
        "shape": betas,
    }


def write_split(body, folder: Path, name: str, n: int, seed: int) -> Path:
    """``n`` samples as ``folder/<name>.npz`` + ``folder/images/*.jpg``; returns the npz."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("imgname", "center", "scale", "part", "openpose", "S", "pose", "shape")}  # fmt: skip
    for i in range(n):
        sample = render_sample(body, rng)
        imgname = f"images/{i:06d}.jpg"
        cv2.imwrite(
            str(folder / imgname), sample.pop("image")[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92]
        )
        rows["imgname"].append(imgname)
        for key, value in sample.items():
            rows[key].append(value)
    arrays = {key: np.asarray(value) for key, value in rows.items()}
    arrays["imgname"] = arrays["imgname"].astype(str)
    arrays["has_smpl"] = np.ones(n, np.float32)
    path = folder / f"{name}.npz"
    np.savez(path, **arrays)
    return path


def make_synthetic_set(
    out_dir: str | Path, n_train: int, n_val: int | None = None, seed: int = 0, assets=None
) -> dict[str, Path]:
    """Render the train and validation splits (validation: ``n_val``, default n_train // 4,
    at least 2) and write ``DIR/synthetic.json`` describing them."""
    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel

    out_dir = Path(out_dir)
    assets = assets or resolve_assets()
    body = BodyModel(assets).eval()
    n_val = max(2, n_train // 4) if n_val is None else n_val
    paths = {
        "train": write_split(body, out_dir / "train", "standin_train", n_train, seed),
        "val": write_split(body, out_dir / "val", "standin_val", n_val, seed + 1_000_003),
    }
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "assets": assets.describe(),
        "image_size_hw": list(SIZE_HW),
        "focal_px": default_focal_px(SIZE_HW),
        "splits": {
            k: {"file": str(p.relative_to(out_dir)), "n": n}
            for (k, p), n in zip(paths.items(), (n_train, n_val), strict=True)
        },
    }
    (out_dir / "synthetic.json").write_text(json.dumps(manifest, indent=2))
    return paths
