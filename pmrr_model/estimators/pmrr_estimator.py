"""``pmrr``: the PMRR network on 224 crops of each person box (the seed's inference path).

Crops follow the seed (square box enlarged 1.2, ImageNet normalisation; :mod:`pmrr_model.crop`).
The crop camera becomes a translation in the full image's camera frame for a pinhole of
``focal_px`` (default: the image diagonal), so outputs match the landmark fit's frame. PMRR's
mean global orientation already turns SMPL's y-up body into the y-down camera frame, so vertices
are used as predicted (no extra flip).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from pmrr_model.assets import AssetSet, resolve_assets
from pmrr_model.body_model import BodyModel
from pmrr_model.checkpoint import load_into
from pmrr_model.crop import (
    DEFAULT_RESCALE,
    box_to_center_scale,
    crop_cam_to_full_translation,
    crop_image,
    default_focal_px,
    normalize_crops,
)
from pmrr_model.estimators.base import BodyEstimates, Estimator
from pmrr_model.estimators.common import assemble_estimates
from pmrr_model.estimators.fitting import FitParams
from pmrr_model.geometry import rotmat_to_axis_angle
from pmrr_model.network.pmrr import build_pmrr


def checkpoint_id(path: str | Path) -> str:
    """Short name recorded in outputs: the file name without its suffix."""
    return Path(path).stem


class PMRREstimator(Estimator):
    name = "pmrr"

    def __init__(
        self,
        checkpoint: str | Path,
        assets: AssetSet | None = None,
        data_dir: str | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        batch_size: int = 32,
        focal_px: float | None = None,
        rescale: float = DEFAULT_RESCALE,
    ) -> None:
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', not {precision!r}")
        self.assets = assets or resolve_assets(data_dir)
        self.device = torch.device(device)
        self.model = build_pmrr(self.assets)
        self.report = load_into(self.model, checkpoint)  # CheckpointError names file + problem
        self.model.to(self.device).eval()
        self.body_model = BodyModel(self.assets).to(self.device).eval()
        self.precision = precision
        self.batch_size = batch_size
        self.focal_px = focal_px
        self.rescale = rescale
        self.name = f"pmrr:{checkpoint_id(checkpoint)}"

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.no_grad()
    def predict_params(
        self, frame_rgb: np.ndarray, boxes_xyxy: np.ndarray
    ) -> tuple[FitParams, np.ndarray]:
        """SMPL parameters in the full-image camera frame, and the crop cameras (N, 3)."""
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        size = frame_rgb.shape[:2]
        focal = self.focal_px or default_focal_px(size)
        centers, scales = box_to_center_scale(boxes, self.rescale)
        rotmats, betas, cams = [], [], []
        for start in range(0, len(boxes), self.batch_size):
            part = slice(start, start + self.batch_size)
            crops = np.stack(
                [
                    crop_image(frame_rgb, c, s)
                    for c, s in zip(centers[part], scales[part], strict=True)
                ]
            )
            images = torch.from_numpy(normalize_crops(crops)).to(self.device)
            with self._autocast():
                final = self.model(images, self.body_model, with_dense=False).final
            rotmats.append(final.rotmat.float().cpu())
            betas.append(final.betas.float().cpu())
            cams.append(final.cam.float().cpu())
        if not rotmats:
            empty = FitParams(
                np.zeros((0, 3)), np.zeros((0, 69)), np.zeros((0, 10)), np.zeros((0, 3))
            )
            return empty, np.zeros((0, 3))
        aa = rotmat_to_axis_angle(torch.cat(rotmats)).reshape(-1, 72).double().numpy()
        cam = torch.cat(cams).double().numpy()
        transl = crop_cam_to_full_translation(cam, centers, scales, size, focal)
        return FitParams(aa[:, :3], aa[:, 3:], torch.cat(betas).double().numpy(), transl), cam

    def estimate(
        self,
        frame_rgb: np.ndarray,
        boxes_xyxy: np.ndarray,
        track_ids: np.ndarray | None = None,
    ) -> BodyEstimates:
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        size = frame_rgb.shape[:2]
        focal = self.focal_px or default_focal_px(size)
        params, _ = self.predict_params(frame_rgb, boxes)
        return assemble_estimates(
            self.body_model,
            global_orient=params.global_orient,
            body_pose=params.body_pose,
            betas=params.betas,
            transl=params.transl,
            boxes_xyxy=boxes,
            image_size_hw=size,
            focal_px=focal,
            confidence=np.ones(len(boxes)),  # the network gives no per-person confidence
            estimator=self.name,
            rescale=self.rescale,
        )


class RefinedPMRREstimator(Estimator):
    """PMRR's estimate as the start of the landmark fit (as EFT/SPIN refine a regressor's
    output with an optimisation): the network supplies a plausible 3D pose, the fit aligns it
    with the image."""

    def __init__(self, pmrr: PMRREstimator, fit) -> None:
        self.pmrr = pmrr
        self.fit = fit
        self.name = f"{pmrr.name}+landmark-fit"

    def reset(self) -> None:
        self.fit.reset()

    def estimate(
        self,
        frame_rgb: np.ndarray,
        boxes_xyxy: np.ndarray,
        track_ids: np.ndarray | None = None,
    ) -> BodyEstimates:
        start, _ = self.pmrr.predict_params(frame_rgb, boxes_xyxy)
        result = self.fit.estimate(frame_rgb, boxes_xyxy, track_ids, init=start)
        result.estimator = self.name
        return result
