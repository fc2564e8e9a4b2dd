"""COCO keypoint AP through pycocotools (the official OKS matching and 101-point AP), so the
number is comparable with every published COCO keypoint result.

The seed (``eval_coco.py`` + ``datasets/coco_keypoint_dataset.py``) gives every prediction a
keypoint confidence of 1 and a box score of 1 (so the rescored detection score is 1), applies no
OKS-NMS, and runs ``COCOeval(..., 'keypoints')`` with ``useSegm = None``; this module does the same.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from pmrr_model.evaluation.seed_data import SeedDataError

STAT_NAMES = ("AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")  # fmt: skip
PERSON_CATEGORY = 1


def keypoint_results(
    image_ids: list[int], keypoints_xy: np.ndarray, scores: np.ndarray | None = None
) -> list[dict]:
    """COCO result records: ``keypoints_xy`` (N, 17, 2) image pixels; confidence 1 per keypoint
    and score 1 per person unless ``scores`` are given (the seed's choice)."""
    keypoints_xy = np.asarray(keypoints_xy, dtype=np.float64)
    if keypoints_xy.ndim != 3 or keypoints_xy.shape[1:] != (17, 2):
        raise ValueError(f"keypoints must be (N, 17, 2), got {keypoints_xy.shape}")
    scores = np.ones(len(keypoints_xy)) if scores is None else np.asarray(scores, float)
    triples = np.concatenate([keypoints_xy, np.ones((*keypoints_xy.shape[:2], 1))], axis=2)
    return [
        {
            "image_id": int(image_id),
            "category_id": PERSON_CATEGORY,
            "keypoints": [float(v) for v in triples[i].reshape(-1)],
            "score": float(scores[i]),
        }
        for i, image_id in enumerate(image_ids)
    ]


def load_ground_truth(annotation_file: str | Path):
    """pycocotools' COCO object for an annotation json (its chatter kept off the terminal)."""
    from pycocotools.coco import COCO

    path = Path(annotation_file)
    if not path.is_file():
        raise SeedDataError(f"{path}: COCO annotation file not found")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return COCO(str(path))
    except Exception as error:  # json or layout errors of many kinds
        raise SeedDataError(f"{path}: not a COCO annotation file ({error})") from error


def keypoint_ap(
    annotation_file: str | Path, results: list[dict], image_ids: list[int] | None = None
) -> dict[str, float]:
    """The ten COCO keypoint stats (AP, AP .5, ..., AR (L)) of ``results`` against the file.

    ``image_ids``: evaluate on these images only (None: every image of the annotation file, as
    the seed does; people in images without a prediction then count as misses)."""
    from pycocotools.cocoeval import COCOeval

    coco_gt = load_ground_truth(annotation_file)
    if not results:
        return {name: 0.0 for name in STAT_NAMES}
    unknown = sorted({r["image_id"] for r in results} - set(coco_gt.getImgIds()))
    if unknown:
        raise SeedDataError(
            f"{annotation_file}: has no image with id {unknown[:5]} (named by the predictions)"
        )
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(results)
        evaluator = COCOeval(coco_gt, coco_dt, "keypoints")
        evaluator.params.useSegm = None
        if image_ids is not None:
            evaluator.params.imgIds = sorted({int(i) for i in image_ids})
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(value) for name, value in zip(STAT_NAMES, evaluator.stats, strict=True)}
