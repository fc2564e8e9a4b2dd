"""``create_detector``: pick a person detector by name."""

from __future__ import annotations

from pmrr_model.detection.base import DetectorError, PersonDetector

DETECTORS = ("mediapipe", "mmdet")


def create_detector(
    name: str = "mediapipe",
    config: str | dict | None = None,
    checkpoint: str | None = None,
    device: str = "cpu",
    photos: bool = False,
) -> PersonDetector:
    """``mediapipe`` (default, offline; ``config`` may be a dict of MediaPipeDetectorConfig
    fields) or ``mmdet`` (``config`` = mmdet config file, ``checkpoint`` = its weights).

    ``photos``: for single images. MediaPipe then also searches for people small in the frame
    (``small_people``: nine more runs of its person detector, +65 ms on a video frame of this
    project's 2-core machine). Videos do without: interviewees fill much of the frame, and a
    video's detection time is its largest cost after the bodies' own."""
    if name == "mediapipe":
        from pmrr_model.detection.mediapipe_detector import MediaPipePersonDetector

        settings = dict(config) if isinstance(config, dict) else {}
        if photos:
            settings.setdefault("small_people", True)
        return MediaPipePersonDetector(settings or None)
    if name == "mmdet":
        from pmrr_model.detection.mmdet_detector import MMDetPersonDetector

        return MMDetPersonDetector(config, checkpoint, device=device)
    raise DetectorError(f"unknown detector {name!r}; choose one of {DETECTORS}")
