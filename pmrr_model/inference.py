"""Batched PMRR inference on person crops: the one place that sets eval mode, no-grad, device and
precision, so the estimator, the demos and the benchmarks all run the network the same way."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from pmrr_model.assets import AssetSet, resolve_assets
from pmrr_model.body_model import BodyModel
from pmrr_model.checkpoint import load_into
from pmrr_model.constants import IMG_NORM_MEAN, IMG_NORM_STD, IMG_RES
from pmrr_model.network import PMRROutput, build_pmrr

logger = logging.getLogger(__name__)
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def normalize_crops(crops: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (B, 224, 224, 3) RGB crops -> ImageNet-normalised float (B, 3, 224, 224).
    Float tensors already shaped (B, 3, 224, 224) are taken as normalised."""
    tensor = torch.as_tensor(crops)
    if tensor.dtype == torch.uint8:
        if tensor.shape[1:] != (IMG_RES, IMG_RES, 3):
            raise ValueError(
                f"crops must be (B, {IMG_RES}, {IMG_RES}, 3) uint8, got {tuple(tensor.shape)}"
            )
        tensor = tensor.permute(0, 3, 1, 2).float() / 255.0
        mean = torch.tensor(IMG_NORM_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMG_NORM_STD).view(1, 3, 1, 1)
        return (tensor - mean) / std
    if tensor.shape[1:] != (3, IMG_RES, IMG_RES):
        raise ValueError(
            f"normalised crops must be (B, 3, {IMG_RES}, {IMG_RES}), got {tuple(tensor.shape)}"
        )
    return tensor.float()


class PMRRPredictor:
    """PMRR + body model on one device. ``checkpoint=None`` keeps the initial weights (for tests
    and training starts only: the output is then meaningless, and a warning says so)."""

    def __init__(
        self,
        assets: AssetSet | None = None,
        checkpoint: str | Path | None = None,
        device: str = "cpu",
        precision: str = "fp32",
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        self.assets = assets or resolve_assets()
        self.device = torch.device(device)
        self.precision = precision
        self.model = build_pmrr(self.assets)
        if checkpoint is not None:
            report = load_into(self.model, checkpoint)
            logger.info("loaded %s: %s", checkpoint, report.summary())
        else:
            logger.warning("PMRR has no checkpoint: its output is not a real estimate")
        self.checkpoint = str(checkpoint) if checkpoint else None
        self.model.eval().to(self.device)
        self.body_model = BodyModel(self.assets).eval().to(self.device)

    @property
    def name(self) -> str:
        return f"pmrr:{Path(self.checkpoint).name}" if self.checkpoint else "pmrr:untrained"

    @torch.inference_mode()
    def predict(self, crops: np.ndarray | torch.Tensor, batch_size: int = 64) -> PMRROutput:
        """All refinement iterations for a batch of crops (processed ``batch_size`` at a time)."""
        images = normalize_crops(crops)
        outputs = [
            self._predict_chunk(images[i : i + batch_size])
            for i in range(0, len(images), batch_size)
        ]
        if len(outputs) == 1:
            return outputs[0]
        return _concatenate(outputs)

    def _predict_chunk(self, images: torch.Tensor) -> PMRROutput:
        images = images.to(self.device)
        use_autocast = self.precision != "fp32"
        with torch.autocast(
            self.device.type, dtype=PRECISIONS[self.precision], enabled=use_autocast
        ):
            return self.model(images, self.body_model, with_dense=False)


def _concatenate(outputs: list[PMRROutput]) -> PMRROutput:
    """Join chunked outputs field by field."""
    first = outputs[0]
    iterations = []
    for index in range(len(first.iterations)):
        parts = [out.iterations[index] for out in outputs]
        fields = {name: torch.cat([getattr(p, name) for p in parts]) for name in vars(parts[0])}
        iterations.append(type(parts[0])(**fields))
    return PMRROutput(iterations=iterations)
