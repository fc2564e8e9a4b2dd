"""The seed's crop conventions, in one place.

A person box becomes a square crop described by a ``center`` (pixels) and a ``scale`` whose unit
is 200 pixels (SPIN/PyMAF: ``scale = max(w, h) / 200 * rescale``; the crop side is ``200 *
scale``). The network sees that square resized to 224 x 224. Everything that moves points or
cameras between the crop and the full image goes through the helpers below, so the estimator,
the renderer and the tests agree on one definition.

The crop is an affine map (uniform scale + shift, no rotation), so ``crop_to_image`` is the exact
inverse of ``image_to_crop``; regions outside the frame are padded with zeros as the seed does.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from pmrr_model.constants import IMG_NORM_MEAN, IMG_NORM_STD, IMG_RES

SCALE_UNIT_PX = 200.0
DEFAULT_RESCALE = 1.2  # SPIN/PyMAF training crops: tight box enlarged by 20 %


def box_to_center_scale(
    boxes_xyxy: np.ndarray, rescale: float = DEFAULT_RESCALE
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) boxes -> centers (N, 2) and scales (N,) with ``scale = max(w, h) / 200 * rescale``."""
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    center = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return center, side / SCALE_UNIT_PX * rescale


def crop_side_px(scale: np.ndarray | float) -> np.ndarray:
    """Side of the square crop in image pixels."""
    return np.asarray(scale, dtype=np.float64) * SCALE_UNIT_PX


def crop_affine(center: np.ndarray, scale: float, res: int = IMG_RES) -> np.ndarray:
    """2 x 3 matrix taking image pixels to crop pixels (pixel centres at integer coordinates)."""
    side = float(crop_side_px(scale))
    k = res / side
    top_left = np.asarray(center, dtype=np.float64) - side / 2.0
    # Crop pixel p looks at image point top_left + p / k: one convention (no half-pixel terms)
    # shared with the network's [-1, 1] coordinates, where -1 is crop pixel 0 and +1 is ``res``.
    return np.array([[k, 0.0, -top_left[0] * k], [0.0, k, -top_left[1] * k]])


def image_to_crop(
    points_px: np.ndarray, center: np.ndarray, scale: float, res: int = IMG_RES
) -> np.ndarray:
    """(..., 2) image pixels -> crop pixels."""
    m = crop_affine(center, scale, res)
    pts = np.asarray(points_px, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def crop_to_image(
    points_crop: np.ndarray, center: np.ndarray, scale: float, res: int = IMG_RES
) -> np.ndarray:
    """(..., 2) crop pixels -> image pixels (exact inverse of :func:`image_to_crop`)."""
    m = crop_affine(center, scale, res)
    pts = np.asarray(points_crop, dtype=np.float64)
    return (pts - m[:, 2]) / np.diag(m[:, :2])


def normalized_crop_to_image(
    points_norm: np.ndarray, center: np.ndarray, scale: float, res: int = IMG_RES
) -> np.ndarray:
    """(..., 2) crop coordinates in [-1, 1] (the network's 2D keypoints) -> image pixels.

    The network's [-1, 1] range spans the crop's full side (``2 * x / res - 1`` in crop pixels),
    so this is ``center + p * side / 2``.
    """
    side = float(crop_side_px(scale))
    return np.asarray(center, dtype=np.float64) + np.asarray(points_norm) * side / 2.0


def crop_image(
    image: np.ndarray, center: np.ndarray, scale: float, res: int = IMG_RES
) -> np.ndarray:
    """Square crop of ``image`` resized to ``res`` (zeros outside the frame), same dtype."""
    m = crop_affine(center, scale, res)
    side = float(crop_side_px(scale))
    interp = cv2.INTER_AREA if side > res else cv2.INTER_LINEAR
    return cv2.warpAffine(
        image, m, (res, res), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def normalize_crops(
    crops_rgb: np.ndarray | torch.Tensor, res: int = IMG_RES
) -> np.ndarray | torch.Tensor:
    """(N, res, res, 3) uint8 RGB -> (N, 3, res, res) float32, ImageNet mean/std (network input).

    The only copy of the network's input normalisation (the predictor, the estimator, training
    and the benchmarks all come through here). A numpy array gives a numpy array; a tensor gives
    a tensor on the tensor's device, so the predictor moves uint8 crops (a quarter of the bytes)
    to the GPU and normalises them there instead of on the host. Both run the same float32
    operations, so the two paths agree bit for bit. A wrong shape is refused rather than
    broadcast: a (H, W, 3) frame or a channels-first array would otherwise give silently wrong
    input.
    """
    is_numpy = not isinstance(crops_rgb, torch.Tensor)
    x = torch.from_numpy(np.asarray(crops_rgb)) if is_numpy else crops_rgb
    if x.ndim != 4 or tuple(x.shape[1:]) != (res, res, 3):
        raise ValueError(f"crops must be (B, {res}, {res}, 3) uint8 RGB, got {tuple(x.shape)}")
    mean = torch.tensor(IMG_NORM_MEAN, dtype=torch.float32, device=x.device)
    std = torch.tensor(IMG_NORM_STD, dtype=torch.float32, device=x.device)
    x = ((x.to(torch.float32) / 255.0 - mean) / std).permute(0, 3, 1, 2).contiguous()
    return x.numpy() if is_numpy else x


def crop_cam_to_full_translation(
    cam: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    image_size_hw: tuple[int, int],
    focal_px: float,
) -> np.ndarray:
    """Weak-perspective crop camera [s, tx, ty] -> translation in the full image's camera frame.

    The crop camera puts a body point X at ``center + s * (X + t) * side / 2`` pixels. A pinhole
    camera of focal ``focal_px`` at the image centre puts it at ``c_img + f (X + T) / T_z``.
    Matching both gives ``T_z = 2 f / (s * side)`` and ``T_xy = t + (center - c_img) * T_z / f``
    (the full-image form of the seed's ``convert_crop_cam_to_orig_img``).
    """
    cam = np.asarray(cam, dtype=np.float64).reshape(-1, 3)
    center = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    side = crop_side_px(scale).reshape(-1)
    height, width = image_size_hw
    img_center = np.array([width / 2.0, height / 2.0])
    s = np.clip(cam[:, 0], 1e-6, None)
    tz = 2.0 * focal_px / (s * side)
    txy = cam[:, 1:] + (center - img_center) * tz[:, None] / focal_px
    return np.concatenate([txy, tz[:, None]], axis=1)


def full_translation_to_crop_cam(
    transl: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    image_size_hw: tuple[int, int],
    focal_px: float,
) -> np.ndarray:
    """Inverse of :func:`crop_cam_to_full_translation` (for fits made in the full image)."""
    transl = np.asarray(transl, dtype=np.float64).reshape(-1, 3)
    center = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    side = crop_side_px(scale).reshape(-1)
    height, width = image_size_hw
    img_center = np.array([width / 2.0, height / 2.0])
    tz = np.clip(transl[:, 2], 1e-6, None)
    s = 2.0 * focal_px / (tz * side)
    txy = transl[:, :2] - (center - img_center) * tz[:, None] / focal_px
    return np.concatenate([s[:, None], txy], axis=1)


def default_focal_px(image_size_hw: tuple[int, int]) -> float:
    """Focal length assumed for a frame of unknown camera: the image diagonal in pixels
    (about a 53 degree diagonal field of view, typical of interview cameras; CLIFF does the same)."""
    height, width = image_size_hw
    return float(np.hypot(height, width))
