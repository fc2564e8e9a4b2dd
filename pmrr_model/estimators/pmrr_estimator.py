"""``pmrr``: the PMRR network on 224 crops of each person box (the seed's inference path).

Crops follow the seed (square box enlarged 1.2, ImageNet normalisation; :mod:`pmrr_model.crop`).
The crop camera becomes a translation in the full image's camera frame for a pinhole of
``focal_px`` (default: the image diagonal), so outputs match the landmark fit's frame. PMRR's
mean global orientation already turns SMPL's y-up body into the y-down camera frame, so vertices
are used as predicted (no extra flip).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from pmrr_model.assets import AssetSet, resolve_assets
from pmrr_model.constants import IMG_RES
from pmrr_model.crop import (
    DEFAULT_RESCALE,
    box_to_center_scale,
    crop_cam_to_full_translation,
    crop_image,
    default_focal_px,
)
from pmrr_model.estimators.base import BodyEstimates, Estimator
from pmrr_model.estimators.common import assemble_estimates
from pmrr_model.estimators.fitting import FitParams
from pmrr_model.estimators.sparse_joints import SparseJoints
from pmrr_model.geometry import rotmat_to_axis_angle
from pmrr_model.inference import PMRRPredictor, checkpoint_id

__all__ = ["PMRREstimator", "RefinedPMRREstimator", "checkpoint_id", "network_batch_size"]

#: Crops per network batch on a GPU. On the sixth session's H200 (README, "On a GPU") crops/s
#: rose with the batch up to 512 (bf16, channels-last: 1,651 at 32, 3,696 at 128, 5,158 at
#: 512, 5,144 at 1024), and 512 crops in bf16 are well under a gigabyte of activations.
GPU_BATCH = 512
#: On a CPU batch 32 is as fast as larger ones and bounds the memory a worker needs.
CPU_BATCH = 32


def network_batch_size(device: torch.device) -> int:
    """Crops per network batch that suit ``device`` (:data:`GPU_BATCH`, :data:`CPU_BATCH`)."""
    return GPU_BATCH if device.type == "cuda" else CPU_BATCH


@dataclass
class _Crops:
    """What :meth:`PMRREstimator.observe_batch` reads from the frames: every person's crop,
    and per frame where its crops came from."""

    crops: np.ndarray  # (M, 224, 224, 3) uint8, the frames' people in order
    boxes: list[np.ndarray]  # per frame (N, 4)
    centers: list[np.ndarray]  # per frame (N, 2)
    scales: list[np.ndarray]  # per frame (N,)
    sizes: list[tuple[int, int]]  # per frame (H, W)


@dataclass
class _FramePrediction:
    """The network's estimate of one frame's people."""

    params: FitParams  # full-image camera frame
    cam: np.ndarray  # (N, 3) the crops' weak-perspective cameras
    joints: np.ndarray  # (N, 49, 3) the 49 joints the network evaluated for them, body frame

    @staticmethod
    def empty() -> _FramePrediction:
        none = FitParams(np.zeros((0, 3)), np.zeros((0, 69)), np.zeros((0, 10)), np.zeros((0, 3)))
        return _FramePrediction(none, np.zeros((0, 3)), np.zeros((0, 49, 3)))


class PMRREstimator(Estimator):
    """Person boxes -> crops -> :class:`~pmrr_model.inference.PMRRPredictor` -> SMPL in the full
    image's camera frame. The network itself is run only by the predictor, so the pipeline, the
    demos and the benchmarks share its device, precision and no-grad handling. ``checkpoint``
    None keeps the initial weights (speed benchmarks only; the factory requires a file)."""

    name = "pmrr"

    def __init__(
        self,
        checkpoint: str | Path | None,
        assets: AssetSet | None = None,
        data_dir: str | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        batch_size: int | None = None,
        focal_px: float | None = None,
        rescale: float = DEFAULT_RESCALE,
    ) -> None:
        # CheckpointError (names the file and the problem) for a missing or misfitting file.
        self.predictor = PMRRPredictor(
            assets or resolve_assets(data_dir), checkpoint, device=device, precision=precision
        )
        self.assets = self.predictor.assets
        self.report = self.predictor.report
        # the estimate stage hands over a chunk's crops at once (flows.config's chunk_size)
        self.batch_size = batch_size or network_batch_size(self.predictor.device)
        self.focal_px = focal_px
        self.rescale = rescale
        self.name = self.predictor.name

    @property
    def model(self) -> torch.nn.Module:
        return self.predictor.model

    @property
    def body_model(self):
        return self.predictor.body_model

    @cached_property
    def joints49(self) -> SparseJoints:
        """All 49 joints without the mesh, for parameters the network did not give (the
        interpolated frames of ``estimate_every_k``, :func:`tasks.inference.fill_between`)."""
        return SparseJoints(self.body_model, n_joints=49).to(self.device)

    @property
    def device(self) -> torch.device:
        return self.predictor.device

    @property
    def precision(self) -> str:
        return self.predictor.precision

    def predict_params(
        self, frame_rgb: np.ndarray, boxes_xyxy: np.ndarray
    ) -> tuple[FitParams, np.ndarray]:
        """SMPL parameters in the full-image camera frame, and the crop cameras (N, 3)."""
        return self.predict_params_batch([frame_rgb], [boxes_xyxy])[0]

    def predict_params_batch(
        self, frames_rgb: list[np.ndarray], boxes_xyxy: list[np.ndarray]
    ) -> list[tuple[FitParams, np.ndarray]]:
        """:meth:`predict_params` for several frames, their crops sent through the network
        together (``batch_size`` at a time), so a GPU sees full batches even with one person
        per frame."""
        predictions = self._predict(self.observe_batch(frames_rgb, boxes_xyxy))
        return [(p.params, p.cam) for p in predictions]

    def observe_batch(
        self,
        frames_rgb: list[np.ndarray],
        boxes_xyxy: list[np.ndarray],
        track_ids: list[np.ndarray] | None = None,
    ) -> _Crops:
        """The people's crops (the part that reads the images): the estimate stage cuts the
        next chunk's in a helper thread while the network runs on this one's
        (:func:`tasks.inference.estimate_sequence`). On a GPU that hides the cutting, which on
        one core of this project's CPU takes about 0.16 ms a crop, 80 ms for a batch of
        :data:`GPU_BATCH`."""
        observed = _Crops(np.zeros((0, IMG_RES, IMG_RES, 3), np.uint8), [], [], [], [])
        crops = []
        for frame, frame_boxes in zip(frames_rgb, boxes_xyxy, strict=True):
            boxes = np.asarray(frame_boxes, np.float64).reshape(-1, 4)
            centers, scales = box_to_center_scale(boxes, self.rescale)
            crops += [crop_image(frame, c, s) for c, s in zip(centers, scales, strict=True)]
            observed.boxes.append(boxes)
            observed.centers.append(centers)
            observed.scales.append(scales)
            observed.sizes.append(frame.shape[:2])
        if crops:
            observed.crops = np.stack(crops)
        return observed

    def _predict(self, observed: _Crops) -> list[_FramePrediction]:
        if not len(observed.crops):
            return [_FramePrediction.empty() for _ in observed.boxes]
        final = self.predictor.predict_final(
            observed.crops, batch_size=self.batch_size, with_vertices=False
        )
        aa = rotmat_to_axis_angle(final.rotmat).reshape(-1, 72).double().numpy()
        cams = final.cam.double().numpy()
        betas = final.betas.double().numpy()
        joints = final.joints.double().numpy()
        results, start = [], 0
        for centers, scales, size in zip(
            observed.centers, observed.scales, observed.sizes, strict=True
        ):
            rows = slice(start, start + len(centers))
            start += len(centers)
            if len(centers) == 0:
                results.append(_FramePrediction.empty())
                continue
            focal = self.focal_px or default_focal_px(size)
            transl = crop_cam_to_full_translation(cams[rows], centers, scales, size, focal)
            params = FitParams(aa[rows, :3], aa[rows, 3:], betas[rows], transl)
            results.append(_FramePrediction(params, cams[rows], joints[rows]))
        return results

    def estimate_observed(
        self, observed: _Crops, with_vertices: bool = True
    ) -> list[BodyEstimates]:
        """Several frames' people (:meth:`observe_batch`'s crops) with one pass of the network
        over all their crops."""
        predictions = self._predict(observed)
        return [
            self._assemble(boxes, size, prediction, with_vertices)
            for boxes, size, prediction in zip(
                observed.boxes, observed.sizes, predictions, strict=True
            )
        ]

    def estimate_batch(
        self,
        frames_rgb: list[np.ndarray],
        boxes_xyxy: list[np.ndarray],
        track_ids: list[np.ndarray] | None = None,
        with_vertices: bool = True,
    ) -> list[BodyEstimates]:
        """Several frames with one pass of the network over all their crops."""
        return self.estimate_observed(self.observe_batch(frames_rgb, boxes_xyxy), with_vertices)

    def _assemble(
        self,
        boxes: np.ndarray,
        size: tuple[int, int],
        prediction: _FramePrediction,
        with_vertices: bool = True,
    ) -> BodyEstimates:
        """Without vertices the joints are the network's own (its last body-model evaluation),
        not a second evaluation per frame: on a GPU that was a round trip per frame, 256 a
        chunk there (:data:`flows.config.GPU_CHUNK_FRAMES`)."""
        params = prediction.params
        return assemble_estimates(
            self.body_model,
            global_orient=params.global_orient,
            body_pose=params.body_pose,
            betas=params.betas,
            transl=params.transl,
            boxes_xyxy=boxes,
            image_size_hw=size,
            focal_px=self.focal_px or default_focal_px(size),
            confidence=np.ones(len(boxes)),  # the network gives no per-person confidence
            estimator=self.name,
            rescale=self.rescale,
            joints_m=None if with_vertices else prediction.joints,
        )

    def estimate(
        self,
        frame_rgb: np.ndarray,
        boxes_xyxy: np.ndarray,
        track_ids: np.ndarray | None = None,
        with_vertices: bool = True,
    ) -> BodyEstimates:
        return self.estimate_batch([frame_rgb], [boxes_xyxy], with_vertices=with_vertices)[0]


class RefinedPMRREstimator(Estimator):
    """PMRR's estimate as the start of the landmark fit (as EFT/SPIN refine a regressor's
    output with an optimisation): the network supplies a plausible 3D pose, the fit aligns it
    with the image."""

    def __init__(self, pmrr: PMRREstimator, fit) -> None:
        self.pmrr = pmrr
        self.fit = fit
        self.name = f"{pmrr.name}+{fit.name}"
        # the bodies are the fit's: its body model, joints and crop margin
        self.body_model, self.joints49, self.rescale = fit.body_model, fit.joints49, fit.rescale

    def reset(self) -> None:
        self.fit.reset()

    def estimate(
        self,
        frame_rgb: np.ndarray,
        boxes_xyxy: np.ndarray,
        track_ids: np.ndarray | None = None,
        with_vertices: bool = True,
    ) -> BodyEstimates:
        start, _ = self.pmrr.predict_params(frame_rgb, boxes_xyxy)
        result = self.fit.estimate(
            frame_rgb, boxes_xyxy, track_ids, init=start, with_vertices=with_vertices
        )
        result.estimator = self.name
        return result
