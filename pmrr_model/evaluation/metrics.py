"""Accuracy metrics of the pipeline against ground truth (numpy only; unit-tested on
hand-computed values in ``tests/test_eval_metrics.py``).

Definitions (every function below says which it computes):

* **Person matching** (per frame): estimated and ground-truth boxes are paired by the Hungarian
  algorithm on box IoU; a pair counts when IoU >= 0.5. Ground-truth people marked not
  ``counted`` (mostly hidden or off the frame) are *ignored*: a box matched to one is neither a
  hit nor a false positive, and missing one is not a miss. **Recall** = matched counted people /
  counted people; **precision** = matched boxes / (boxes - boxes matched to ignored people),
  both pooled over frames.
* **ID switches** (per shot): for each ground-truth track, the estimated track it is matched to
  in successive matched frames; every change is a switch (frames without a match are skipped,
  so a lost-then-refound person under the same id is not a switch; CLEAR-MOT's IDSW).
* **MPJPE** (mm): mean Euclidean distance of the visible joints after translating the
  estimate so its root coincides with the ground truth's root; root = the pelvis when it is
  visible, otherwise the centroid of the visible joints (close-ups cut the pelvis off).
* **PA-MPJPE** (mm): after the similarity transform (rotation, uniform scale, translation;
  Umeyama 1991) that best maps the estimate's visible joints onto the ground truth's.
* **PVE** (mm): mean vertex distance after the MPJPE's root translation; only for meshes of the
  same topology (here the stand-in on both sides).
* **2D joint error** (% of box height): mean pixel distance of the visible joints / the height
  of the ground-truth box, x 100.
* **Acceleration error** (mm/frame^2): mean over visible joints and frames t with matches at
  t-1, t, t+1 (same estimated track) of ||a_est - a_gt||, a = x[t+1] - 2 x[t] + x[t-1] of the
  root-aligned joints (HMMR / VIBE's definition).
* **Measure MAE**: mean |estimate - ground truth| over matched frames where both are finite.
* **Events**: an estimated event *matches* a ground-truth event of the same type and person
  when their temporal IoU >= 0.3 **or** the estimated event's centre lies within the ground-truth
  interval. Precision = estimated events that match some ground-truth event / estimated
  events; recall = ground-truth events matched by some estimated event / ground-truth events
  (many-to-one: the several strokes of one gesture phrase, or a posture shift the detector
  splits in two, are all correct); F1 = 2PR / (P + R). Events of estimated tracks matched to no
  ground-truth person are false positives. **False events per minute** = estimated events
  matching nothing / minutes of video.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

IOU_MATCH = 0.5
EVENT_TIOU = 0.3


# ---------------------------------------------------------------- people


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) xyxy boxes -> (N, M) intersection over union."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_boxes(
    gt_boxes: np.ndarray, pred_boxes: np.ndarray, threshold: float = IOU_MATCH
) -> list[tuple[int, int, float]]:
    """Hungarian pairing maximising total IoU; pairs with IoU >= threshold as (gt, pred, iou)."""
    iou = box_iou(gt_boxes, pred_boxes)
    if iou.size == 0:
        return []
    rows, cols = linear_sum_assignment(-iou)
    return [
        (int(r), int(c), float(iou[r, c]))
        for r, c in zip(rows, cols, strict=True)
        if iou[r, c] >= threshold
    ]


def match_people(gt: pd.DataFrame, pred: pd.DataFrame, threshold: float = IOU_MATCH):
    """Per-frame matching of estimated boxes to ground-truth people.

    ``gt``: columns frame, track_id, bbox_px, counted (bool; optional, default True), and
    optionally shot_id. ``pred``: frame, track_id, bbox_px. Returns (matches DataFrame with
    frame, gt_track, pred_track, iou, counted[, shot_id]; counts dict tp, fn, fp,
    n_gt, n_pred, recall, precision)."""
    counted_col = gt["counted"] if "counted" in gt else pd.Series(True, index=gt.index)
    gt = gt.assign(counted=counted_col.astype(bool))
    pred_by_frame = {f: g for f, g in pred.groupby("frame")}
    gt_by_frame = {f: g for f, g in gt.groupby("frame")}
    rows = []
    tp = fn = fp = n_gt = n_pred = 0
    for frame in sorted(set(gt_by_frame) | set(pred_by_frame)):
        g = gt_by_frame.get(frame)
        p = pred_by_frame.get(frame)
        g_boxes = np.stack(g["bbox_px"].to_list()) if g is not None else np.zeros((0, 4))
        p_boxes = np.stack(p["bbox_px"].to_list()) if p is not None else np.zeros((0, 4))
        counted = g["counted"].to_numpy() if g is not None else np.zeros(0, bool)
        pairs = match_boxes(g_boxes, p_boxes, threshold)
        ignored_preds = sum(1 for gi, _, _ in pairs if not counted[gi])
        hits = sum(1 for gi, _, _ in pairs if counted[gi])
        n_gt += int(counted.sum())
        n_pred += len(p_boxes) - ignored_preds
        tp += hits
        fn += int(counted.sum()) - hits
        fp += len(p_boxes) - ignored_preds - hits
        for gi, pi, iou in pairs:
            row = {
                "frame": int(frame),
                "gt_track": int(g["track_id"].iloc[gi]),
                "pred_track": int(p["track_id"].iloc[pi]),
                "iou": iou,
                "counted": bool(counted[gi]),
            }
            if "shot_id" in g:
                row["shot_id"] = int(g["shot_id"].iloc[gi])
            rows.append(row)
    cols = ["frame", "gt_track", "pred_track", "iou", "counted"]
    matches = pd.DataFrame(rows, columns=cols + (["shot_id"] if "shot_id" in gt else []))
    counts = {
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "n_gt": n_gt,
        "n_pred": n_pred,
        "recall": tp / n_gt if n_gt else float("nan"),
        "precision": tp / n_pred if n_pred else float("nan"),
    }
    return matches, counts


def id_switches(matches: pd.DataFrame) -> dict[int, int]:
    """ID switches per shot (``shot_id`` column; all in shot 0 without it): for each
    ground-truth track, changes of the matched estimated track between successive matched
    frames."""
    out: dict[int, int] = {}
    if "shot_id" not in matches:
        matches = matches.assign(shot_id=0)
    for (shot, _), g in matches.sort_values("frame").groupby(["shot_id", "gt_track"]):
        ids = g["pred_track"].to_numpy()
        out[int(shot)] = out.get(int(shot), 0) + int((ids[1:] != ids[:-1]).sum())
    return out


def track_assignment(matches: pd.DataFrame) -> dict[int, int]:
    """Estimated track -> the ground-truth track it is matched to most often (counted or
    not); estimated tracks never matched are absent."""
    if matches.empty:
        return {}
    counts = matches.groupby(["pred_track", "gt_track"]).size().reset_index(name="n")
    best = counts.sort_values(["pred_track", "n", "gt_track"], ascending=[True, False, True])
    return {
        int(r.pred_track): int(r.gt_track) for r in best.drop_duplicates("pred_track").itertuples()
    }


# ---------------------------------------------------------------- bodies


def root_offset(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, root: int = 0) -> np.ndarray:
    """(3,) translation moving ``pred`` onto ``gt``: the root joint's when visible, else the
    visible joints' centroid's."""
    visible = np.asarray(visible, bool)
    if visible[root]:
        return gt[root] - pred[root]
    return gt[visible].mean(0) - pred[visible].mean(0)


def mpjpe(
    pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None = None, root: int = 0
) -> float:
    """Root-aligned mean per-joint position error of one frame (J, 3), in the input's unit."""
    visible = np.ones(len(gt), bool) if visible is None else np.asarray(visible, bool)
    if not visible.any():
        return float("nan")
    aligned = pred + root_offset(pred, gt, visible, root)
    return float(np.linalg.norm(aligned[visible] - gt[visible], axis=1).mean())


def similarity_transform(
    source: np.ndarray, target: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """(scale, R (3, 3), t (3,)) minimising ||s R source + t - target||^2 (Umeyama 1991)."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    xs, xt = source - mu_s, target - mu_t
    cov = xt.T @ xs / len(source)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1.0
    rot = u @ sign @ vt
    var = (xs**2).sum() / len(source)
    scale = float(np.trace(np.diag(d) @ sign) / var) if var > 0 else 1.0
    return scale, rot, mu_t - scale * rot @ mu_s


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None = None) -> float:
    """Mean joint error after the best similarity transform on the visible joints (>= 3)."""
    visible = np.ones(len(gt), bool) if visible is None else np.asarray(visible, bool)
    if visible.sum() < 3:
        return float("nan")
    s, r, t = similarity_transform(pred[visible], gt[visible])
    aligned = s * pred[visible] @ r.T + t
    return float(np.linalg.norm(aligned - gt[visible], axis=1).mean())


def pve(
    pred_vertices: np.ndarray, gt_vertices: np.ndarray, offset: np.ndarray | None = None
) -> float:
    """Mean vertex distance after translating the estimate by ``offset`` (the MPJPE's root
    alignment; none when not given). Same topology required."""
    if pred_vertices.shape != gt_vertices.shape:
        raise ValueError(f"PVE needs one topology: {pred_vertices.shape} vs {gt_vertices.shape}")
    moved = pred_vertices + (0 if offset is None else offset)
    return float(np.linalg.norm(moved - gt_vertices, axis=1).mean())


def joint2d_error_pct(
    pred_px: np.ndarray, gt_px: np.ndarray, box_height_px: float, visible: np.ndarray | None = None
) -> float:
    """Mean 2D distance of the visible joints as % of the ground-truth box height."""
    visible = np.ones(len(gt_px), bool) if visible is None else np.asarray(visible, bool)
    if not visible.any() or box_height_px <= 0:
        return float("nan")
    return float(
        100 * np.linalg.norm(pred_px[visible] - gt_px[visible], axis=1).mean() / box_height_px
    )


def accel_error(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> float:
    """Acceleration error of one track: ``pred``/``gt`` (T, J, 3) root-aligned joints of
    consecutive frames, ``valid`` (T, J) (joint visible and matched). Mean over joints and
    frames t with valid t-1, t, t+1 of ||a_pred - a_gt||; NaN when none."""
    if len(gt) < 3:
        return float("nan")
    acc_p = pred[2:] - 2 * pred[1:-1] + pred[:-2]
    acc_g = gt[2:] - 2 * gt[1:-1] + gt[:-2]
    ok = valid[2:] & valid[1:-1] & valid[:-2]
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(acc_p - acc_g, axis=-1)[ok].mean())


def mae(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute error over entries where both are finite; NaN when none."""
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    ok = np.isfinite(pred) & np.isfinite(gt)
    return float(np.abs(pred[ok] - gt[ok]).mean()) if ok.any() else float("nan")


# ---------------------------------------------------------------- events


def temporal_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def event_matches(
    pred: tuple[float, float], gt: tuple[float, float], tiou: float = EVENT_TIOU
) -> bool:
    """The matching rule: temporal IoU >= ``tiou`` or the estimate's centre inside ``gt``."""
    centre = (pred[0] + pred[1]) / 2
    return temporal_iou(pred, gt) >= tiou or gt[0] <= centre <= gt[1]


def event_scores(pred: pd.DataFrame, gt: pd.DataFrame, types: list[str] | None = None) -> dict:
    """Per event type: tp_pred (estimated events matching), n_pred, tp_gt (ground-truth
    events matched), n_gt, precision, recall, f1. Frames: columns event_type, person (the
    ground-truth person or track the event belongs to; -1 or NaN for none), start_s, end_s."""
    types = types or sorted(set(pred["event_type"]) | set(gt["event_type"]))
    out = {}
    for kind in types:
        p = pred[pred["event_type"] == kind]
        g = gt[gt["event_type"] == kind]
        hit_p = np.zeros(len(p), bool)
        hit_g = np.zeros(len(g), bool)
        for i, pe in enumerate(p.itertuples()):
            for k, ge in enumerate(g.itertuples()):
                if pe.person == ge.person and event_matches(
                    (pe.start_s, pe.end_s), (ge.start_s, ge.end_s)
                ):
                    hit_p[i] = hit_g[k] = True
        out[kind] = _prf(int(hit_p.sum()), len(p), int(hit_g.sum()), len(g))
    return out


def _prf(tp_pred: int, n_pred: int, tp_gt: int, n_gt: int) -> dict:
    precision = tp_pred / n_pred if n_pred else float("nan")
    recall = tp_gt / n_gt if n_gt else float("nan")
    if n_pred == 0 and n_gt == 0:
        f1 = float("nan")
    elif not (precision > 0 and recall > 0):  # also NaN on one side: nothing right
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return {"tp_pred": tp_pred, "n_pred": n_pred, "tp_gt": tp_gt, "n_gt": n_gt,
            "precision": precision, "recall": recall, "f1": f1}  # fmt: skip


def pool_event_scores(scores: list[dict]) -> dict:
    """Sum the counts of several :func:`event_scores` results and recompute P/R/F1."""
    out: dict[str, dict] = {}
    for s in scores:
        for kind, c in s.items():
            acc = out.setdefault(kind, {"tp_pred": 0, "n_pred": 0, "tp_gt": 0, "n_gt": 0})
            for key in acc:
                acc[key] += c[key]
    return {k: _prf(**v) for k, v in out.items()}


def false_events_per_min(pred: pd.DataFrame, gt: pd.DataFrame, duration_s: float) -> float:
    """Estimated events matching no ground-truth event (any type), per minute of video."""
    false = 0
    for pe in pred.itertuples():
        g = gt[(gt["event_type"] == pe.event_type) & (gt["person"] == pe.person)]
        if not any(
            event_matches((pe.start_s, pe.end_s), (ge.start_s, ge.end_s)) for ge in g.itertuples()
        ):
            false += 1
    return 60.0 * false / duration_s if duration_s > 0 else float("nan")


# --- real annotated photos (benchmarks/real_people.py) -------------------------------------------
def keypoint_match(
    truth: np.ndarray, visible: np.ndarray, size: np.ndarray, predicted: np.ndarray,
    radius: float = 0.2, min_fraction: float = 0.5,
) -> dict[int, int]:  # fmt: skip
    """Annotated person -> predicted person (Hungarian, one to one) by the fraction of the
    annotated person's visible joints within ``radius x size`` of the prediction's; a pair counts
    when that fraction is at least ``min_fraction``. ``truth`` (P, J, 2), ``visible`` (P, J),
    ``size`` (P,), ``predicted`` (Q, J, 2), joints in the same order. Used where boxes are not
    comparable (annotated boxes hug the visible body, predicted ones the fitted body)."""
    if len(truth) == 0 or len(predicted) == 0:
        return {}
    score = np.zeros((len(truth), len(predicted)))
    for i in range(len(truth)):
        if visible[i].any() and size[i] > 0:
            dist = np.linalg.norm(predicted[:, visible[i]] - truth[i, visible[i]], axis=-1)
            score[i] = (dist < radius * size[i]).mean(axis=1)
    rows, cols = linear_sum_assignment(-score)
    return {int(r): int(c) for r, c in zip(rows, cols, strict=True) if score[r, c] >= min_fraction}


def pck_hits(
    truth: np.ndarray, visible: np.ndarray, size: float, predicted: np.ndarray | None,
    radius: float = 0.1,
) -> tuple[int, int]:  # fmt: skip
    """(visible joints within ``radius x size``, visible joints) of one annotated person; a missed
    person (``predicted`` None) has every joint wrong."""
    total = int(visible.sum())
    if predicted is None:
        return 0, total
    dist = np.linalg.norm(predicted - truth, axis=-1)[visible]
    return int((dist < radius * size).sum()), total
