"""Person detection behind one interface: MediaPipe (default, weights in the wheel) or mmdet."""

from pmrr_model.detection.base import DetectorError, PersonDetector
from pmrr_model.detection.factory import DETECTORS, create_detector

__all__ = ["DETECTORS", "DetectorError", "PersonDetector", "create_detector"]
