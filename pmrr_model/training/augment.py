"""The seed's training augmentation (SPIN/PyMAF ``BaseDataset.augm_params`` and the
``*_processing`` helpers), written against this project's crop convention.

Distributions (``train_options.py`` defaults): flip with probability 1/2; per-channel pixel
gain uniform in [1 - 0.4, 1 + 0.4]; rotation N(0, 30 deg) clipped to +-60 deg and zero with
probability 0.6; box scale N(1, 0.25) clipped to [0.75, 1.25].

One affine map takes image pixels to crop pixels (scale, in-plane rotation about the box
centre, and the horizontal flip folded in as ``x -> res - x``), so image, 2D keypoints, 3D
joints and the SMPL global orientation move together exactly: the crop convention is
:mod:`pmrr_model.crop`'s (normalised ``2 x / res - 1``), and a flipped point lands at exactly
``-x`` (``np.fliplr`` after cropping would be one pixel off).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pmrr_model.constants import IMG_RES
from pmrr_model.crop import SCALE_UNIT_PX
from pmrr_model.geometry import axis_angle_to_rotmat, rotmat_to_axis_angle

# Left/right swaps of the seed's joint sets (core/constants.py).
SMPL_JOINTS_FLIP_PERM = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22)  # fmt: skip
SMPL_POSE_FLIP_PERM = tuple(3 * j + k for j in SMPL_JOINTS_FLIP_PERM for k in range(3))
J24_FLIP_PERM = (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14, 15, 16, 17, 18, 19, 21, 20, 23, 22)  # fmt: skip
OPENPOSE_FLIP_PERM = (0, 1, 5, 6, 7, 2, 3, 4, 8, 12, 13, 14, 9, 10, 11, 16, 15, 18, 17, 22, 23, 24, 19, 20, 21)  # fmt: skip
J49_FLIP_PERM = OPENPOSE_FLIP_PERM + tuple(25 + j for j in J24_FLIP_PERM)


@dataclass(frozen=True)
class AugmentSettings:
    noise_factor: float = 0.4
    rot_factor: float = 30.0
    scale_factor: float = 0.25
    flip_prob: float = 0.5
    rot_zero_prob: float = 0.6


@dataclass(frozen=True)
class Augmentation:
    flip: bool = False
    pixel_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    rot_deg: float = 0.0  # counter-clockwise on screen
    scale: float = 1.0  # multiplies the box scale


def sample_augmentation(rng: np.random.Generator, settings: AugmentSettings) -> Augmentation:
    """Draw one sample's augmentation with the seed's distributions."""
    flip = bool(rng.uniform() <= settings.flip_prob)
    gain = rng.uniform(1 - settings.noise_factor, 1 + settings.noise_factor, 3)
    rot = float(
        np.clip(
            rng.normal() * settings.rot_factor, -2 * settings.rot_factor, 2 * settings.rot_factor
        )
    )
    scale = float(
        np.clip(
            rng.normal() * settings.scale_factor + 1,
            1 - settings.scale_factor,
            1 + settings.scale_factor,
        )
    )
    if rng.uniform() <= settings.rot_zero_prob:
        rot = 0.0
    return Augmentation(flip, (float(gain[0]), float(gain[1]), float(gain[2])), rot, scale)


def in_plane_rotation(rot_deg: float) -> np.ndarray:
    """2 x 2 matrix turning image-frame offsets (x right, y down) counter-clockwise on screen."""
    a = np.radians(rot_deg)
    return np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])


def crop_matrix(
    center: np.ndarray, scale: float, aug: Augmentation, res: int = IMG_RES
) -> np.ndarray:
    """2 x 3 affine: image pixels -> augmented crop pixels."""
    k = res / (SCALE_UNIT_PX * scale * aug.scale)
    linear = k * in_plane_rotation(aug.rot_deg)
    if aug.flip:
        linear = np.diag([-1.0, 1.0]) @ linear
    offset = np.array([res / 2.0, res / 2.0]) - linear @ np.asarray(center, np.float64)
    return np.c_[linear, offset]


def crop_rgb(
    image: np.ndarray, matrix: np.ndarray, aug: Augmentation, res: int = IMG_RES
) -> np.ndarray:
    """(res, res, 3) uint8 crop (zeros outside the frame) with the per-channel gain applied."""
    crop = cv2.warpAffine(
        image,
        matrix,
        (res, res),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    gained = crop.astype(np.float32) * np.asarray(aug.pixel_gain, np.float32)
    return np.clip(gained, 0, 255).astype(np.uint8)


def keypoints_to_crop(
    keypoints: np.ndarray, matrix: np.ndarray, aug: Augmentation, res: int = IMG_RES
) -> np.ndarray:
    """(J, 3) pixels + confidence -> normalised crop coordinates [-1, 1] + confidence, with the
    left/right permutation of the seed's joint set when flipped (J = 24 or 49)."""
    out = np.array(keypoints, dtype=np.float64, copy=True)
    out[:, :2] = out[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    out[:, :2] = 2.0 * out[:, :2] / res - 1.0
    if aug.flip:
        out = out[list(_perm_for(len(out)))]  # x is already mirrored by the matrix
    return out.astype(np.float32)


def _perm_for(n_joints: int) -> tuple[int, ...]:
    if n_joints == 49:
        return J49_FLIP_PERM
    if n_joints == 24:
        return J24_FLIP_PERM
    raise ValueError(f"no flip permutation for {n_joints} joints (expected 24 or 49)")


def rotation_3d(rot_deg: float) -> np.ndarray:
    """3 x 3 rotation about the optical axis that turns projections like ``in_plane_rotation``."""
    out = np.eye(3)
    out[:2, :2] = in_plane_rotation(rot_deg)
    return out


def joints3d_augment(joints: np.ndarray, aug: Augmentation) -> np.ndarray:
    """(24, 4) camera-frame joints + confidence, rotated and flipped like the crop."""
    out = np.array(joints, dtype=np.float64, copy=True)
    out[:, :3] = out[:, :3] @ rotation_3d(aug.rot_deg).T
    if aug.flip:
        out = out[list(J24_FLIP_PERM)]
        out[:, 0] = -out[:, 0]
    return out.astype(np.float32)


def pose_augment(pose: np.ndarray, aug: Augmentation) -> np.ndarray:
    """(72,) axis-angle SMPL pose: global orientation turned with the crop, then the seed's
    mirror (swap left/right joints, negate the y and z axis-angle components)."""
    out = np.array(pose, dtype=np.float64, copy=True)
    if aug.rot_deg:
        out[:3] = rotmat_to_axis_angle(rotation_3d(aug.rot_deg) @ axis_angle_to_rotmat(out[:3]))
    if aug.flip:
        out = out[list(SMPL_POSE_FLIP_PERM)]
        out[1::3] *= -1
        out[2::3] *= -1
    return out.astype(np.float32)
