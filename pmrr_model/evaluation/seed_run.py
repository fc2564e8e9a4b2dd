"""``pmrr eval --dataset 3dpw|h36m|coco|synthetic``: the seed's benchmark evaluation on the
user's own preprocessed files, images and checkpoint, or the 3DPW protocol on a set generated
here (``pmrr train --make-synthetic``: the body model it was made with gives the ground truth).

Reads the dataset file (:mod:`~pmrr_model.evaluation.seed_data`), crops every sample as the seed
does (square box of side ``200 * scale`` around ``center``, resized to 224, zeros outside; the
project's :func:`pmrr_model.crop.crop_image`, no augmentation), runs PMRR in batches on the chosen
device (:class:`pmrr_model.inference.PMRRPredictor`), scores with
:mod:`~pmrr_model.evaluation.seed_eval` / :mod:`~pmrr_model.evaluation.coco_ap`, and writes a JSON
of the dataset's numbers plus a per-sample parquet next to it (``<out stem>.samples.parquet``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pmrr_model.assets import SMPL_FILE, resolve_assets
from pmrr_model.crop import crop_image
from pmrr_model.devices import checked_device
from pmrr_model.evaluation import coco_ap, seed_data, seed_eval
from pmrr_model.evaluation.seed_data import SeedDataError, SeedSamples

logger = logging.getLogger(__name__)
DEFAULT_DATA_DIR = Path("data")


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )


def _crops(samples: SeedSamples, images: Path, part: slice) -> np.ndarray:
    return np.stack(
        [
            crop_image(
                seed_data.read_rgb(images, samples.imgname[i]), samples.center[i], samples.scale[i]
            )
            for i in range(part.start, part.stop)
        ]
    )


def evaluate(
    dataset: str,
    checkpoint: str | Path,
    images: str | Path | None,
    data_dir: str | Path | None = None,
    out: str | Path | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    limit: int | None = None,
    annotations: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Run one dataset's protocol; returns (and writes to ``out``) the results dict."""
    from pmrr_model.inference import PMRRPredictor

    started = time.time()
    data_root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    made_with = None
    if dataset == "synthetic":
        npz, made_with = seed_data.synthetic_split(data_root)
        images = npz.parent if images is None else images
    else:
        npz = seed_data.find_npz(data_root, dataset)
    if images is None:
        raise SeedDataError(f"--dataset {dataset}: give the images folder (--images)")
    images = Path(images)
    samples = seed_data.read_samples(npz, dataset).head(limit)
    if len(samples) == 0:
        raise SeedDataError(f"{samples.source}: no samples to evaluate (--limit {limit})")
    if dataset == "3dpw" and samples.gender is None:
        raise SeedDataError(f"{samples.source}: missing key 'gender'")
    seed_data.check_images(images, samples.imgname)
    annotation_file = None
    if dataset == "coco":
        annotation_file = (
            Path(annotations) if annotations else seed_data.find_coco_annotations(images, data_root)
        )
        coco_ap.load_ground_truth(annotation_file)  # fail on a bad file before the network runs
    device = str(checked_device(device))
    if (data_root / SMPL_FILE).exists():
        assets = resolve_assets(data_root)
    else:
        assets = resolve_assets(None)
        if made_with is None:
            logger.warning(
                "no %s in %s: body model %s (%s)",
                SMPL_FILE, data_root, assets.describe(), assets.root,
            )  # fmt: skip
    if made_with is not None and made_with != assets.describe():
        raise SeedDataError(
            f"{data_root / seed_data.SYNTHETIC_MANIFEST}: the set was made with body model "
            f"{made_with}, this run resolves {assets.describe()} ({assets.root}); its ground "
            "truth would be another body's"
        )
    predictor = PMRRPredictor(assets, checkpoint, device=device)
    j_regressor = torch.from_numpy(np.load(assets.j_regressor_h36m, allow_pickle=False)).float()
    bodies = None
    if dataset == "synthetic":
        bodies = seed_eval.GroundTruthBodies.own(assets, device)
    elif dataset == "3dpw" or (dataset == "h36m" and samples.pose is not None):
        bodies = seed_eval.GroundTruthBodies.load(assets, (data_root / "smpl",), device)

    rows: list[dict] = []
    keypoints: list[np.ndarray] = []
    with _progress(progress) as bar:
        task = bar.add_task(f"eval {dataset}", total=len(samples))
        for part in _batches(len(samples), batch_size):
            pred = predictor.predict_final(_crops(samples, images, part), batch_size=batch_size)
            batch = {
                "index": np.arange(part.start, part.stop),
                "imgname": samples.imgname[part],
            }
            if dataset == "coco":
                kp = seed_eval.coco_keypoints_px(
                    pred.joints.numpy(), pred.cam.numpy(), samples.center[part], samples.scale[part]
                )
                keypoints.append(kp)
                batch["image_id"] = [seed_data.coco_image_id(n) for n in samples.imgname[part]]
                batch["keypoints_px"] = [k.reshape(-1).tolist() for k in kp]
            else:
                batch.update(_score_3d(samples, part, pred.vertices, j_regressor, bodies, device))
            rows.extend(pd.DataFrame(batch).to_dict("records"))
            bar.advance(task, part.stop - part.start)

    per_sample = pd.DataFrame(rows)
    result = {
        "dataset": dataset,
        "dataset_file": str(samples.source),
        "images": str(images),
        "checkpoint": str(checkpoint),
        "estimator": predictor.name,
        "assets": assets.describe(),
        "device": device,
        "n_samples": len(samples),
        "limit": limit,
        "seconds": round(time.time() - started, 2),
    }
    if dataset == "coco":
        evaluated = sorted(set(per_sample["image_id"]))
        # The seed scores every image of the annotation file; with --limit only the images
        # evaluated count, or the missing ones would read as misses.
        scope = evaluated if limit is not None else None
        results = coco_ap.keypoint_results(list(per_sample["image_id"]), np.concatenate(keypoints))
        result["annotations"] = str(annotation_file)
        result["coco_images"] = "evaluated only" if scope is not None else "all annotated"
        result["metrics"] = coco_ap.keypoint_ap(annotation_file, results, scope)
    else:
        result["gt_body_model"] = bodies.description if bodies is not None else None
        result["metrics"] = {
            column: _mean(per_sample[column])
            for column in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "pve_root_mm")
        }
        if dataset == "h36m" and samples.pose is None:
            result["note"] = (
                "PVE needs SMPL ground truth: not in this file (the seed's MoSh file has it)"
            )
    if out is not None:
        result.update(write_results(result, per_sample, Path(out)))
    return result


def _mean(column: pd.Series) -> float | None:
    values = column.dropna()
    return float(values.mean()) if len(values) else None


def _score_3d(
    samples: SeedSamples,
    part: slice,
    pred_vertices: torch.Tensor,
    j_regressor: torch.Tensor,
    bodies: seed_eval.GroundTruthBodies | None,
    device: str,
) -> dict[str, np.ndarray]:
    """Per-sample MPJPE, PA-MPJPE and both PVEs of one batch (NaN where no ground truth)."""
    n = part.stop - part.start
    pred17 = seed_eval.regress_h36m(j_regressor, pred_vertices).numpy()
    gt_vertices = None
    if bodies is not None:
        pose = torch.as_tensor(samples.pose[part], dtype=torch.float32, device=device)
        betas = torch.as_tensor(samples.betas[part], dtype=torch.float32, device=device)
        gender = None
        if samples.dataset == "3dpw":
            gender = torch.as_tensor(samples.gender[part], device=device)
        gt_vertices = bodies.vertices(pose, betas, gender).float().cpu()
    gt17 = None if gt_vertices is None else seed_eval.regress_h36m(j_regressor, gt_vertices).numpy()
    if samples.dataset in ("3dpw", "synthetic"):  # ground truth from the SMPL parameters
        gt14 = seed_eval.lsp14_centred(gt17)
    else:
        gt14 = seed_eval.lsp14_from_seed_joints(samples.joints3d[part])
    out = seed_eval.pose_errors_mm(seed_eval.lsp14_centred(pred17), gt14)
    if gt_vertices is not None:
        out.update(
            seed_eval.pve_errors_mm(
                pred_vertices.numpy(),
                gt_vertices.numpy(),
                pred17[:, seed_eval.H36M_PELVIS],
                gt17[:, seed_eval.H36M_PELVIS],
            )
        )
        out["gender"] = (
            np.where(samples.gender[part] == 0, "m", "f")
            if samples.gender is not None
            else np.full(n, "neutral")
        )
    else:
        out["pve_mm"] = np.full(n, np.nan)
        out["pve_root_mm"] = np.full(n, np.nan)
    return out


def write_results(result: dict, per_sample: pd.DataFrame, out: Path) -> dict[str, str]:
    """JSON at ``out``, per-sample parquet beside it; returns their paths (recorded in the JSON)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    parquet = out.with_name(f"{out.stem}.samples.parquet")
    per_sample.to_parquet(parquet, index=False)
    paths = {"results_json": str(out), "per_sample": str(parquet)}
    out.write_text(json.dumps({**result, **paths}, indent=2, allow_nan=False) + "\n")
    return paths


def summary(result: dict) -> str:
    """A few lines for the terminal."""
    lines = [
        f"{result['dataset']}: {result['n_samples']} samples, {result['estimator']}, "
        f"assets {result['assets']}, {result['seconds']} s"
    ]
    for name, value in result["metrics"].items():
        lines.append(f"  {name:<12} {'n/a' if value is None else f'{value:.3f}'}")
    if "results_json" in result:
        lines.append(f"written: {result['results_json']} and {result['per_sample']}")
    return "\n".join(lines)
