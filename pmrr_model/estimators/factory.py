"""``create_estimator``: pick an estimator by name, failing early with a clear message."""

from __future__ import annotations

import logging
from pathlib import Path

from pmrr_model.checkpoint import CheckpointError
from pmrr_model.estimators.base import Estimator

ESTIMATORS = ("landmark-fit", "pmrr", "pmrr+fit")  # pmrr+fit: PMRR refined by the landmark fit

logger = logging.getLogger(__name__)


class EstimatorError(ValueError):
    """Unknown estimator name or unusable options; the message lists the choices."""


def create_estimator(
    name: str = "landmark-fit",
    checkpoint: str | None = None,
    data_dir: str | None = None,
    device: str = "cpu",
    refine: bool = False,
    precision: str = "fp32",
    photos: bool = False,
) -> Estimator:
    """``landmark-fit`` (offline default, no weights) or ``pmrr`` (needs ``checkpoint``).

    ``photos=True`` (single images: ``pmrr demo --img_file``, ``benchmarks/real_people.py``)
    gives the landmark fit MoveNet's limb joints where ``scripts/install_movenet.sh`` installed
    it (:mod:`pmrr_model.detection.movenet`; two more passes per person, too slow for videos).

    ``precision`` ("fp32" or "bf16") is the PMRR network's; the landmark fit runs in float64
    (:data:`pmrr_model.estimators.fitting.FIT_DTYPE`).
    ``refine=True`` with ``pmrr`` starts the landmark fit from the network's estimate.
    Wrong or missing checkpoints raise :class:`CheckpointError` naming the file, a device
    torch cannot use here :class:`~pmrr_model.devices.DeviceError`.
    """
    from pmrr_model.assets import resolve_assets

    if name not in ESTIMATORS:
        raise EstimatorError(f"unknown estimator {name!r}; choose one of {ESTIMATORS}")
    if name == "pmrr+fit":
        name, refine = "pmrr", True
    if name == "pmrr":
        if checkpoint is None:
            raise CheckpointError(
                "the pmrr estimator needs a checkpoint (--checkpoint data/pretrained_model/"
                "PyMAF_model_checkpoint.pt or a file from `pmrr train`); "
                "use --estimator landmark-fit to run without one"
            )
        if not Path(checkpoint).is_file():
            raise CheckpointError(f"{checkpoint}: checkpoint file not found")
    assets = resolve_assets(data_dir)
    if name == "landmark-fit":
        from pmrr_model.estimators.landmark_fit import LandmarkFitEstimator

        if device != "cpu":  # said, not refused: a deployment may name cuda for every estimator
            logger.warning(
                "device %r is not used by the landmark-fit estimator, which runs on the CPU "
                "(MediaPipe and a small fit); it is for --estimator pmrr and --detector mmdet",
                device,
            )
        return LandmarkFitEstimator(assets=assets, limb_keypoints=_photo_keypoints(photos))
    from pmrr_model.estimators.pmrr_estimator import PMRREstimator, RefinedPMRREstimator

    pmrr = PMRREstimator(checkpoint, assets=assets, device=device, precision=precision)
    if refine:
        from pmrr_model.estimators.landmark_fit import LandmarkFitEstimator

        fit = LandmarkFitEstimator(assets=assets, limb_keypoints=_photo_keypoints(photos))
        return RefinedPMRREstimator(pmrr, fit)
    return pmrr


def _photo_keypoints(photos: bool):
    """The installed MoveNet for photos (None for videos, or where it is not installed)."""
    if not photos:
        return None
    from pmrr_model.detection.movenet import shared_movenet

    return shared_movenet()
