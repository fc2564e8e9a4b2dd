"""Batched PMRR inference on person crops: the one place that loads the weights and sets eval mode,
no-grad, device and precision, so the estimator (and through it the pipeline and the demos) and
the benchmarks all run the network the same way.

Crops are normalised by :func:`pmrr_model.crop.normalize_crops` only: a second copy of the
ImageNet normalisation could drift from the one the crop helpers document.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch

from pmrr_model.assets import AssetSet, resolve_assets
from pmrr_model.body_model import BodyModel
from pmrr_model.checkpoint import KeyReport, load_into
from pmrr_model.constants import IMG_RES
from pmrr_model.crop import normalize_crops
from pmrr_model.devices import DeviceError, checked_device
from pmrr_model.estimators.sparse_joints import SparseJoints
from pmrr_model.network import PMRROutput, build_pmrr
from pmrr_model.network.fold import fold_batchnorm
from pmrr_model.network.pmrr import SMPLPrediction

logger = logging.getLogger(__name__)
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def checkpoint_id(path: str | Path) -> str:
    """Short name recorded in outputs: the checkpoint file's name without its suffix."""
    return Path(path).stem


def network_input(
    crops: np.ndarray | torch.Tensor, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """The network's input for ``crops`` on ``device``: uint8 (B, 224, 224, 3) RGB crops are
    moved there as uint8 and normalised there by :func:`pmrr_model.crop.normalize_crops`; float
    (B, 3, 224, 224) input is taken as already normalised (training code and tests feed tensors
    directly)."""
    if isinstance(crops, torch.Tensor) and crops.is_floating_point():
        if crops.shape[1:] != (3, IMG_RES, IMG_RES):
            raise ValueError(
                f"normalised crops must be (B, 3, {IMG_RES}, {IMG_RES}), got {tuple(crops.shape)}"
            )
        return crops.float().to(device)
    if not isinstance(crops, torch.Tensor):
        crops = torch.from_numpy(np.ascontiguousarray(crops))
    return normalize_crops(crops.to(device))


def _check_bf16(device: torch.device) -> None:
    """:class:`DeviceError` where the GPU has no bfloat16 arithmetic of its own (before
    compute capability 8.0): torch would emulate it, slower than fp32, so say so instead."""
    if torch.cuda.get_device_capability(device) < (8, 0):
        raise DeviceError(
            f"device {str(device)!r}: {torch.cuda.get_device_name(device)} has no bf16 "
            "arithmetic (compute capability 8.0 or later); use --precision fp32"
        )


class PMRRPredictor:
    """PMRR + body model on one device. ``checkpoint=None`` keeps the initial weights (for tests,
    benchmarks and training starts only: the output is then meaningless, and a warning says so).
    A checkpoint that does not fit raises :class:`~pmrr_model.checkpoint.CheckpointError`."""

    def __init__(
        self,
        assets: AssetSet | None = None,
        checkpoint: str | Path | None = None,
        device: str | torch.device = "cpu",
        precision: str = "fp32",
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        self.assets = assets or resolve_assets()
        self.device = checked_device(device)
        if precision == "bf16" and self.device.type == "cuda":
            _check_bf16(self.device)
        self.precision = precision
        self.model = build_pmrr(self.assets)
        self.report: KeyReport | None = None
        if checkpoint is not None:
            self.report = load_into(self.model, checkpoint)
            logger.info("loaded %s: %s", checkpoint, self.report.summary())
        else:
            logger.warning("PMRR has no checkpoint: its output is not a real estimate")
        self.checkpoint = str(checkpoint) if checkpoint is not None else None
        self.model.eval().to(self.device)
        fold_batchnorm(self.model)  # inference only: the predictor never trains or saves it
        # NHWC convolutions: faster on an H200 at every batch size (3,316 -> 3,863 crops/s
        # fp32 and 4,284 -> 5,158 bf16 at batch 512, 51 -> 84 fp32 at batch 1; README) and on
        # this project's 2-core CPU at the pipeline's batches (9.2-9.3 -> 12.1-13.3 fp32 at
        # batch 32), though not for one crop there (10.6-11.3 -> 8.9-9.7 crops/s); the same
        # estimates within float rounding (tests/test_network.py)
        self.model.to(memory_format=torch.channels_last)
        self.body_model = BodyModel(self.assets).eval().to(self.device)
        # the 49 joints and the points the mesh-aligned features read, for estimates that
        # keep no mesh (:meth:`predict_final` without vertices); from the loaded ``Dmap``s.
        # None: skin the whole mesh there too (the benchmark's ``full_mesh`` variant)
        self.sparse_body: SparseJoints | None = SparseJoints(
            self.body_model, n_joints=49, mesh_map=self.model.mesh_map()
        ).to(self.device)

    @property
    def name(self) -> str:
        """What outputs record: ``pmrr:<checkpoint file stem>`` or ``pmrr:untrained``."""
        return f"pmrr:{checkpoint_id(self.checkpoint)}" if self.checkpoint else "pmrr:untrained"

    @torch.inference_mode()
    def predict(self, crops: np.ndarray | torch.Tensor, batch_size: int = 64) -> PMRROutput:
        """All refinement iterations for a batch of crops (processed ``batch_size`` at a time)."""
        outputs = [self._run(crops[i : i + batch_size]) for i in range(0, len(crops), batch_size)]
        if not outputs:
            raise ValueError("no crops to predict")
        if len(outputs) == 1:
            return outputs[0]
        iterations = [
            _concatenate([out.iterations[k] for out in outputs])
            for k in range(len(outputs[0].iterations))
        ]
        return PMRROutput(iterations=iterations)

    @torch.inference_mode()
    def predict_final(
        self, crops: np.ndarray | torch.Tensor, batch_size: int = 64, with_vertices: bool = True
    ) -> SMPLPrediction | None:
        """The last refinement only, as float32 on the CPU (what estimators keep; dropping the
        other iterations per chunk keeps memory flat on long batches). ``None`` for no crops.

        ``with_vertices=False`` leaves ``vertices`` empty, (B, 0, 3): the estimator keeps only
        the parameters, and copying every vertex of every crop back to the host took a third of
        a GPU batch's time (63 of 185 ms for 512 crops, bf16, H200). Nor is the whole mesh
        skinned then: only the vertices the network's mesh-aligned features and the joints read
        (:attr:`sparse_body`; the same estimates within float rounding, tested)."""
        finals = []
        sparse = None if with_vertices else self.sparse_body
        for i in range(0, len(crops), batch_size):
            final = self._run(crops[i : i + batch_size], with_initial=False, sparse=sparse).final
            if not with_vertices:  # already so with sparse_body; not with None (whole mesh)
                final = dataclasses.replace(final, vertices=final.vertices[:, :0])
            finals.append(
                type(final)(
                    **{f.name: getattr(final, f.name).float().cpu() for f in _fields(final)}
                )
            )
        return _concatenate(finals) if finals else None

    def _run(
        self,
        crops: np.ndarray | torch.Tensor,
        with_initial: bool = True,
        sparse: SparseJoints | None = None,
    ) -> PMRROutput:
        """One batch: normalised on the device, so only uint8 crosses to a GPU
        (``with_initial``, ``sparse``: :meth:`pmrr_model.network.pmrr.PMRR.forward`'s)."""
        images = network_input(crops, self.device)
        with torch.autocast(
            self.device.type,
            dtype=PRECISIONS[self.precision],
            enabled=self.precision != "fp32",
        ):
            return self.model(
                images, self.body_model, with_dense=False, with_initial=with_initial, sparse=sparse
            )


def _fields(prediction: SMPLPrediction) -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(prediction)


def _concatenate(parts: list[SMPLPrediction]) -> SMPLPrediction:
    """Join chunked predictions field by field."""
    if len(parts) == 1:
        return parts[0]
    return type(parts[0])(
        **{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in _fields(parts[0])}
    )
