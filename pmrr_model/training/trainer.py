"""The training loop: the seed's recipe (Adam, lr 5e-5, batch 64, losses of :mod:`.losses` on
every refinement iteration, dense targets of :mod:`.dense_targets`) on mixed SPIN-format data,
with validation PA-MPJPE every ``val_every`` steps and checkpoints in the released layout.

A checkpoint is ``{'model': state_dict, 'optimizer': ..., 'total_step': N, ...}``: the
``model`` entry is what ``pmrr process --estimator pmrr --checkpoint`` and
:class:`~pmrr_model.inference.PMRRPredictor` load; the rest (plain tensors, numbers, strings)
lets ``--resume`` continue, and everything is read back with ``weights_only=True``.
Batches are a function of ``(seed, step)`` (:class:`.dataset.StepBatches`), so a resumed run
continues the same sequence of batches.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation
from torch.utils.data import DataLoader

from pmrr_model.assets import AssetSet, resolve_assets
from pmrr_model.body_model import BodyModel
from pmrr_model.checkpoint import CheckpointError, load_into, read_checkpoint, save_checkpoint
from pmrr_model.constants import J24_TO_J14
from pmrr_model.devices import checked_device
from pmrr_model.evaluation.metrics import pa_mpjpe
from pmrr_model.network import build_pmrr
from pmrr_model.training.augment import AugmentSettings
from pmrr_model.training.dataset import MixedDataset, SpinDataset, StepBatches, collate
from pmrr_model.training.dense_targets import IUVRenderer, estimate_translation, vertex_iuv_for
from pmrr_model.training.losses import LossWeights, pmrr_losses
from pmrr_model.training.run_log import RunLog
from pmrr_model.training.spin_format import find_annotation_files, read_spin_npz

logger = logging.getLogger(__name__)
CHECKPOINT_NAME = "checkpoint.pt"


def j14_errors(pred24: np.ndarray, gt24: np.ndarray) -> tuple[list[float], list[float]]:
    """Per sample PA-MPJPE and pelvis-aligned MPJPE (metres) on the 14 LSP joints of the 24
    ground-truth joints (the seed's J24_TO_J14 protocol for data with ``S``); ``gt24`` is
    (B, 24, 4) with a visibility column, ``pred24`` (B, 24, 3)."""
    pa, mp = [], []
    for p, g in zip(pred24, gt24, strict=True):
        p14, g14 = p[list(J24_TO_J14)], g[list(J24_TO_J14)]
        visible = g14[:, 3] > 0
        pa.append(pa_mpjpe(p14, g14[:, :3], visible))
        pelvis_p, pelvis_g = (p[2] + p[3]) / 2, (g[2, :3] + g[3, :3]) / 2
        err = np.linalg.norm((p14 - pelvis_p) - (g14[:, :3] - pelvis_g), axis=1)
        mp.append(float(err[visible].mean()))
    return pa, mp


def _summary(pa: list[float], mp: list[float]) -> dict[str, float]:
    if not pa:
        return {}
    return {
        "pa_mpjpe_mm": 1000 * float(np.nanmean(pa)),
        "mpjpe_mm": 1000 * float(np.nanmean(mp)),
        "n": float(len(pa)),
    }


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; raised before the optimiser step, so no weight is
    changed by it and nothing is saved (the last checkpoint on disk stays as it was)."""


@dataclass
class TrainConfig:
    data: list[str]
    out: str
    steps: int = 1000  # total optimiser steps of the run (a resumed run stops at the same total)
    batch_size: int = 64
    lr: float = 5e-5
    val: list[str] = field(default_factory=list)
    val_every: int = 500
    val_batch_size: int = 32
    save_every: int = 1000
    log_every: int = 10
    device: str = "cpu"
    seed: int = 0
    workers: int = 0
    proportions: list[float] | None = None
    image_root: str | None = None
    resume: str | None = None
    init: str | None = None  # start from these weights (e.g. the released checkpoint)
    data_dir: str | None = None  # body-model assets (None: seed layout or the stand-in)
    uv_processed: str | None = None
    time_limit_s: float | None = None  # stop (validate, save) after this long; benchmarks
    # Train everything but the ResNet-50 encoder, whose weights stay as loaded (its BatchNorm
    # statistics still follow the data in training mode): fine-tuning a released checkpoint on
    # a small set. A CPU step is about a third cheaper; from random weights it learnt no faster.
    freeze_backbone: bool = False
    weights: LossWeights = field(default_factory=LossWeights)
    augment: AugmentSettings = field(default_factory=AugmentSettings)


def _plain(config: TrainConfig) -> dict:
    """The config as str/number/list values only (what ``weights_only`` loading accepts)."""
    out = dataclasses.asdict(config)
    return {k: v for k, v in out.items() if v is not None}


class Trainer:
    def __init__(self, config: TrainConfig, assets: AssetSet | None = None) -> None:
        self.config = config
        self.device = checked_device(config.device)
        self.out = Path(config.out)
        self.assets = assets or resolve_assets(config.data_dir)
        self.train_set = MixedDataset(
            [
                SpinDataset(
                    read_spin_npz(p, config.image_root), augment=True, settings=config.augment
                )
                for p in find_annotation_files(config.data)
            ],
            config.proportions,
        )
        self.val_sets = [
            SpinDataset(read_spin_npz(p, config.image_root), augment=False)
            for p in find_annotation_files(config.val)
        ]
        torch.manual_seed(config.seed)
        self.model = build_pmrr(self.assets).to(self.device)
        self.body = BodyModel(self.assets).to(self.device)
        table = vertex_iuv_for(self.body, self.assets.root, config.uv_processed)
        if table.source == "standin" and self.assets.kind == "smpl":
            logger.warning(
                "no UV_Processed.mat (data/UV_data/ or --uv-processed): dense targets use the "
                "stand-in part/UV derivation on the SMPL mesh, not DensePose's charts"
            )
        self.iuv = IUVRenderer(table, self.body.faces).to(self.device)
        if config.freeze_backbone:
            self.model.feature_extractor.requires_grad_(False)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        # One fused kernel for every tensor (CPU and CUDA): the per-tensor loop took 0.33 s of
        # a ~2 s CPU step over the 45 M parameters, the fused update 0.12 s.
        fused = self.device.type in ("cpu", "cuda")
        self.optimizer = torch.optim.Adam(trainable, lr=config.lr, weight_decay=0, fused=fused)
        self.step = 0
        if config.init:
            load_into(self.model, config.init)
        if config.resume:
            self._resume(config.resume)
        self.log = RunLog(self.out, resume_step=self.step if config.resume else None)

    # ------------------------------------------------------------------ checkpoints

    def _resume(self, path: str) -> None:
        content = read_checkpoint(path)
        if "optimizer" not in content or "total_step" not in content:
            raise CheckpointError(
                f"{path}: has no optimizer state / total_step (not written by `pmrr train`); "
                "use --init to start from its weights instead"
            )
        load_into(self.model, path)
        try:
            self.optimizer.load_state_dict(content["optimizer"])
        except ValueError as error:  # another set of trainable parameters
            raise CheckpointError(
                f"{path}: its optimizer state is for another set of trained parameters "
                f"(freeze_backbone was {content.get('config', {}).get('freeze_backbone', False)}, "
                f"now {self.config.freeze_backbone}); resume with the same setting, or use --init"
            ) from error
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr
        self.step = int(content["total_step"])
        logger.info("resumed %s at step %d", path, self.step)

    def save(self, path: str | Path | None = None) -> Path:
        path = Path(path) if path else self.out / CHECKPOINT_NAME
        return save_checkpoint(
            self.model,
            path,
            optimizer=self.optimizer.state_dict(),
            total_step=self.step,
            assets=self.assets.describe(),
            trained_on=[str(p) for p in self.config.data],
            config=_plain(self.config),
            note="written by `pmrr train`",
        )

    # ------------------------------------------------------------------ steps

    @torch.no_grad()
    def dense_targets(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Render the ground-truth meshes' IUV maps under the camera that best fits the
        ground-truth 2D keypoints (the seed's ``estimate_translation`` + ``IUV_Renderer``)."""
        pose, betas = batch["pose"], batch["betas"]
        gt = self.body(betas=betas, body_pose=pose[:, 3:], global_orient=pose[:, :3])
        kp = batch["keypoints"][:, 25:]
        cam_t = estimate_translation(gt.joints[:, 25:], kp[..., :2], kp[..., 2])
        return self.iuv(gt.vertices, cam_t)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        batch = {k: v.to(self.device) for k, v in batch.items()}
        target = self.dense_targets(batch)
        output = self.model(batch["img"], self.body, with_dense=True)
        terms = pmrr_losses(output, batch, target, self.config.weights)
        loss = torch.stack(list(terms.values())).sum()
        if not torch.isfinite(loss):
            bad = sorted(k for k, v in terms.items() if not torch.isfinite(v))
            raise TrainingDiverged(
                f"step {self.step + 1}: non-finite loss ({', '.join(bad)}); the step was not "
                f"applied and the last saved checkpoint is unchanged: lower --lr "
                f"(now {self.config.lr:g}) or check the data, then --resume"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return {"loss": float(loss.detach()), **{k: float(v.detach()) for k, v in terms.items()}}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """PA-MPJPE and pelvis-aligned MPJPE (mm) of the final iteration on the 14 LSP joints
        of the 24 ground-truth joints (the seed's J24_TO_J14 protocol for datasets with ``S``)."""
        self.model.eval()
        pa, mp = [], []
        for dataset in self.val_sets:
            if not dataset.ann.has_pose_3d:
                continue
            for start in range(0, len(dataset), self.config.val_batch_size):
                items = [
                    dataset[i]
                    for i in range(start, min(len(dataset), start + self.config.val_batch_size))
                ]
                batch = collate(items)
                out = self.model(batch["img"].to(self.device), self.body, with_dense=False)
                errors = j14_errors(
                    out.final.joints[:, 25:].cpu().numpy(), batch["pose_3d"].numpy()
                )
                pa.extend(errors[0])
                mp.extend(errors[1])
        return _summary(pa, mp)

    @torch.no_grad()
    def prior_baseline(self) -> dict[str, float]:
        """The validation errors of one guess for every image: the training data's mean pose
        (rotations averaged per joint) and mean shape.
        A network that gets no further than this has learnt the data's prior, not the images."""
        pose = np.concatenate([d.ann.pose[d.ann.has_smpl > 0] for d in self.train_set.datasets])
        betas = np.concatenate([d.ann.betas[d.ann.has_smpl > 0] for d in self.train_set.datasets])
        if not len(pose):
            return {}
        per_joint = pose.reshape(-1, 24, 3)
        mean_pose = np.concatenate(
            [Rotation.from_rotvec(per_joint[:, j]).mean().as_rotvec() for j in range(24)]
        )  # scipy's chordal mean of rotations
        mean_pose = torch.as_tensor(mean_pose[None], dtype=torch.float32)
        mean_betas = torch.as_tensor(betas.mean(axis=0, keepdims=True), dtype=torch.float32)
        out = self.body(
            betas=mean_betas.to(self.device),
            body_pose=mean_pose[:, 3:].to(self.device),
            global_orient=mean_pose[:, :3].to(self.device),
        )
        guess = out.joints[0, 25:].cpu().numpy()
        pa, mp = [], []
        for dataset in self.val_sets:
            if dataset.ann.has_pose_3d:
                gt = dataset.ann.joints3d
                errors = j14_errors(np.repeat(guess[None], len(gt), axis=0), gt)
                pa.extend(errors[0])
                mp.extend(errors[1])
        return _summary(pa, mp)

    def _loader(self) -> DataLoader:
        sampler = StepBatches(
            self.train_set, self.config.batch_size, self.config.seed, self.step,
            max(0, self.config.steps - self.step),
        )  # fmt: skip
        return DataLoader(
            self.train_set, batch_sampler=sampler, collate_fn=collate,
            num_workers=self.config.workers, persistent_workers=False,
        )  # fmt: skip

    def fit(self) -> list[dict[str, float]]:
        """Train up to ``config.steps`` total steps; returns the validation curve of this call."""
        cfg = self.config
        curve = []
        if self.val_sets and self.step == 0:
            curve.append(self._record_validation())
        started = time.time()
        try:
            for batch in self._loader():
                values = self.train_step(batch)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    lr = self.optimizer.param_groups[0]["lr"]
                    self.log.train(
                        self.step, {**values, "lr": lr, "seconds": time.time() - started}
                    )
                    logger.info("step %d loss %.4f", self.step, values["loss"])
                if self.val_sets and (self.step % cfg.val_every == 0 or self.step == cfg.steps):
                    curve.append(self._record_validation())
                out_of_time = (
                    cfg.time_limit_s is not None and time.time() - started > cfg.time_limit_s
                )
                if out_of_time and self.val_sets and self.step % cfg.val_every != 0:
                    curve.append(self._record_validation())
                if self.step % cfg.save_every == 0 and self.step != cfg.steps and not out_of_time:
                    self.save()
                if out_of_time:
                    break
            self.save()
        finally:
            self.log.close()
        return curve

    def _record_validation(self) -> dict[str, float]:
        values = self.validate()
        if values:
            self.log.validation(self.step, values)
        return {"step": float(self.step), **values}
