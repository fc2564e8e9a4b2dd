"""Single-image demo (the seed's ``run_demo.py --img_file``): detect every person, estimate
their SMPL bodies, and write the overlay plus front and side views.

Outputs in ``output_folder``: ``<stem>_overlay.png``, ``<stem>_front.png``, ``<stem>_side.png``
and ``<stem>_smpl.npz`` (parameters, joints, boxes). The returned dict (also printed) says which
estimator and which body-model assets produced them, so a stand-in result is never mistaken for
a real-SMPL one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


class DemoError(RuntimeError):
    """The demo cannot run on this input (unreadable image, nobody in it)."""


class NoPersonFoundError(DemoError):
    pass


def read_image_rgb(img_file: str | Path) -> np.ndarray:
    """RGB uint8 image, or DemoError naming the file."""
    import cv2

    path = Path(img_file)
    if not path.is_file():
        raise DemoError(f"{path}: image file not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DemoError(f"{path}: not a readable image (OpenCV could not decode it)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_png(path: Path, image_rgb: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), np.ascontiguousarray(image_rgb[..., ::-1])):
        raise DemoError(f"{path}: could not be written")


def run_image_demo(
    img_file: str | Path,
    output_folder: str | Path = "output",
    checkpoint: str | None = None,
    estimator=None,
    data_dir: str | None = None,
    detector=None,
) -> dict:
    """Run the demo on one image. ``estimator`` is an Estimator, an estimator name, or None
    (``pmrr`` when a checkpoint is given, else ``landmark-fit``)."""
    from pmrr_model.detection import create_detector
    from pmrr_model.estimators.factory import create_estimator
    from pmrr_model.render import render_overlay, render_views, renderer_name

    image = read_image_rgb(img_file)
    if estimator is None or isinstance(estimator, str):
        name = estimator or ("pmrr" if checkpoint else "landmark-fit")
        estimator = create_estimator(name, checkpoint=checkpoint, data_dir=data_dir, photos=True)
    detector = detector or create_detector("mediapipe", photos=True)
    boxes, scores = detector.detect(image)
    if len(boxes) == 0:
        raise NoPersonFoundError(f"{img_file}: no person found by the {detector.name} detector")
    bodies = estimator.estimate(image, boxes)
    faces = estimator.body_model.faces

    out_dir = Path(output_folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(img_file).stem
    files = {
        "overlay": out_dir / f"{stem}_overlay.png",
        "front": out_dir / f"{stem}_front.png",
        "side": out_dir / f"{stem}_side.png",
        "params": out_dir / f"{stem}_smpl.npz",
    }
    write_png(files["overlay"], render_overlay(image, bodies.vertices_m, faces, bodies.focal_px))
    front, side = render_views(image, bodies.vertices_m, faces, bodies.focal_px)
    write_png(files["front"], front)
    write_png(files["side"], side)
    np.savez_compressed(
        files["params"],
        boxes_xyxy=boxes, det_scores=scores, global_orient=bodies.global_orient,
        body_pose=bodies.body_pose, betas=bodies.betas, cam=bodies.cam, transl_m=bodies.transl_m,
        joints3d_m=bodies.joints3d_m, joints2d_px=bodies.joints2d_px,
        confidence=bodies.confidence, focal_px=bodies.focal_px,
        estimator=bodies.estimator, assets=bodies.assets,
    )  # fmt: skip
    summary = {
        "image": str(img_file),
        "people": len(bodies),
        "estimator": bodies.estimator,
        "assets": bodies.assets,
        "detector": detector.name,
        "renderer": renderer_name(),
        "files": {key: str(path) for key, path in files.items()},
    }
    print(
        f"{img_file}: {len(bodies)} people; estimator {bodies.estimator}; body model "
        f"{bodies.assets}; renderer {summary['renderer']}; wrote {', '.join(summary['files'].values())}"
    )
    return summary
