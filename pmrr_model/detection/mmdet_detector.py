"""Users' detector: an mmdet model from their own config and checkpoint (COCO class 0 = person).

mmdet (with full mmcv) is heavy and optional, so it is imported only when this backend is built,
and every missing piece is named before anything is loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pmrr_model.detection.base import DetectorError, PersonDetector, empty_detections

MMDET_INSTALL = (
    "pip install 'setuptools<81' && MMCV_WITH_OPS=1 pip install --no-build-isolation "
    "mmcv==2.1.0 && pip install mmdet==3.3.0"
)


class MMDetPersonDetector(PersonDetector):
    name = "mmdet"

    def __init__(
        self,
        config: str | Path | None,
        checkpoint: str | Path | None,
        device: str = "cpu",
        score_threshold: float = 0.5,
    ) -> None:
        problems = []
        if config is None:
            problems.append("no mmdet config file given (config=...)")
        elif not Path(config).is_file():
            problems.append(f"mmdet config file not found: {config}")
        if checkpoint is None:
            problems.append("no mmdet checkpoint file given (checkpoint=...)")
        elif not Path(checkpoint).is_file():
            problems.append(f"mmdet checkpoint file not found: {checkpoint}")
        try:
            from mmdet.apis import inference_detector, init_detector
        except ImportError as error:
            problems.insert(
                0, f"the mmdet package is not installed ({error}); install: {MMDET_INSTALL}"
            )
            inference_detector = init_detector = None
        if problems:
            raise DetectorError("mmdet detector unavailable: " + "; ".join(problems))
        from pmrr_model.devices import checked_device

        self._inference = inference_detector
        self._model = init_detector(
            str(config), str(checkpoint), device=str(checked_device(device))
        )
        self.score_threshold = score_threshold

    def detect(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # mmdet's image pipeline expects OpenCV's BGR order for arrays.
        result = self._inference(self._model, np.ascontiguousarray(frame_rgb[..., ::-1]))
        instances = result.pred_instances
        labels = instances.labels.cpu().numpy()
        scores = instances.scores.cpu().numpy()
        boxes = instances.bboxes.cpu().numpy()
        keep = (labels == 0) & (scores >= self.score_threshold)
        if not keep.any():
            return empty_detections()
        order = np.argsort(-scores[keep])
        return boxes[keep][order].astype(np.float32), scores[keep][order].astype(np.float32)
