"""``create_detector``: pick a person detector by name."""

from __future__ import annotations

from pmrr_model.detection.base import DetectorError, PersonDetector

DETECTORS = ("mediapipe", "mmdet")


def create_detector(
    name: str = "mediapipe",
    config: str | dict | None = None,
    checkpoint: str | None = None,
    device: str = "cpu",
) -> PersonDetector:
    """``mediapipe`` (default, offline; ``config`` may be a dict of MediaPipeDetectorConfig
    fields) or ``mmdet`` (``config`` = mmdet config file, ``checkpoint`` = its weights)."""
    if name == "mediapipe":
        from pmrr_model.detection.mediapipe_detector import MediaPipePersonDetector

        return MediaPipePersonDetector(config if isinstance(config, dict) else None)
    if name == "mmdet":
        from pmrr_model.detection.mmdet_detector import MMDetPersonDetector

        return MMDetPersonDetector(config, checkpoint, device=device)
    raise DetectorError(f"unknown detector {name!r}; choose one of {DETECTORS}")
