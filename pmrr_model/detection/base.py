"""The person-detector contract: an RGB frame in, person boxes and scores out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

import numpy as np


class DetectorError(RuntimeError):
    """A detector cannot be built (missing package, config or checkpoint); the message says which."""


class PersonDetector(ABC):
    """Finds every person in a frame. Boxes are ``xyxy`` pixels, best score first."""

    name: str = "detector"

    @abstractmethod
    def detect(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``frame_rgb`` (H, W, 3) uint8 -> ``(boxes (N, 4) float32, scores (N,) float32)``."""

    def detect_run(self, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """:meth:`detect` on each of the frames of one run (the detected frames of one unit of
        work), in order. A detector may carry what it saw from one frame to the next within the
        run, never across runs, so a run's detections depend on that run alone (whichever
        process or worker computes it)."""
        for frame in frames:
            yield self.detect(frame)


def empty_detections() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)


def _intersections(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """(N, 4) x (M, 4) -> intersection areas (N, M) and the two boxes' areas (N,), (M,)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    return inter, np.prod(a[:, 2:] - a[:, :2], axis=-1), np.prod(b[:, 2:] - b[:, :2], axis=-1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) -> (N, M) intersection over union."""
    inter, area_a, area_b = _intersections(a, b)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def box_overlap_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box's area: catches a box nested inside another, which
    IoU alone lets through (a face-derived box inside a pose-derived one)."""
    inter, area_a, area_b = _intersections(a, b)
    return inter / np.maximum(np.minimum(area_a[:, None], area_b[None, :]), 1e-9)


def box_region(box: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices of an ``xyxy`` pixel box into an image (rounded, clipped at 0)."""
    x0, y0, x1, y1 = (max(int(round(float(v))), 0) for v in box)
    return slice(y0, y1), slice(x0, x1)


def mean_colour(image: np.ndarray) -> np.ndarray:
    """The image's mean colour in its own dtype: what a person is painted out with, so that
    MediaPipe finds nobody there and the next most prominent person instead. OpenCV's mean:
    numpy's over a (H x W, 3) view took 3.5 ms a 640x360 frame (strided), OpenCV 0.2 ms; both
    sum the integers exactly and divide once, so they give the same colour (tested)."""
    import cv2

    return np.asarray(cv2.mean(image)[:3]).astype(image.dtype)


def clip_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return boxes
