"""Accuracy of the default pipeline against ground truth: synthetic interview scenes with known
bodies (``pmrr_model.evaluation.scenes``), scored by ``pmrr_model.evaluation.metrics``.

    pmrr eval --synthetic [--quick] [--fps N] [--json FILE] [--seed N] [--cache DIR] [--force]
    python3 benchmarks/accuracy.py [the same options]

1. Generates the scenes (videos + ground truth) once under
   ``<cache>/<generator version, seed, quick|full, spec hash>/`` (default cache:
   ``$PMRR_CACHE_DIR`` or ``~/.cache/pmrr_interviews``, then ``eval/``).
2. Runs the real pipeline on them: :func:`flows.run.process` (the ``process-archive`` flow, as
   ``pmrr process`` does) with the default :class:`flows.config.PipelineConfig` except
   ``render=False``, into ``<that folder>/out`` (a rerun skips videos already committed with
   the same fingerprints; ``--force`` recomputes). Prefect runs with a private
   ``PREFECT_HOME`` under the cache unless ``PREFECT_API_URL`` is set.
3. Reads the committed parquet tables back (``smpl``, ``features_frames``, ``events``,
   ``videos``), matches estimated tracks to ground-truth people per frame by box IoU
   (Hungarian, IoU >= 0.5) and prints ONE table: a row per scene kind and ``all`` (pooled over
   every person-frame / event of every scene), a column per metric (definitions in
   ``pmrr_model/evaluation/metrics.py``):

   recall, prec      person recall / precision per frame (IoU >= 0.5)
   IDsw              ID switches (summed over shots)
   MPJPE, PA, PVE    mm, visible joints of the 24 SMPL joints; PVE on all vertices
   2D%               2D joint error, % of the ground-truth box height
   accel             acceleration error, mm/frame^2
   lean_f .. roll    MAE (deg) of trunk lean forward / side, head pitch / yaw / roll
   expans            MAE of expansiveness_ratio; hface: MAE of hand_face_dist_m in cm
   F1 <type>         per event type (nod, shake, face_touch, arms_crossed, posture_shift,
                     gesture_stroke); F1gt: all types, the analytics run on the ground-truth
                     bodies (the best the event rules can do on these scripts)
   FPev/min          estimated events matching nothing, per minute (``still`` = a still
                     listener: every event there is false)

``--quick`` (CI, tests/test_accuracy_benchmark.py): medium, interview and still scenes, a few
seconds each. ``--fps N`` renders the same scripts at N frames a second instead of 25 (the
phone's 30 or 60, PAL's 25, a webcam's 15): measures and events must not depend on the rate, and
this is where that is measured. ``--json FILE`` writes every number (also per-type
precision/recall and the per-shot ID switches).

Real annotated photos (person recall, PCK@0.1): ``benchmarks/real_people.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

EVENT_TYPES = ("nod", "shake", "face_touch", "arms_crossed", "posture_shift", "gesture_stroke")
MEASURES = {
    "lean_f": "trunk_lean_forward_deg",
    "lean_s": "trunk_lean_side_deg",
    "pitch": "head_pitch_deg",
    "yaw": "head_yaw_deg",
    "roll": "head_roll_deg",
    "expans": "expansiveness_ratio",
    "hface": "hand_face_dist_m",
}
SHORT_EVENT = {
    "nod": "nod",
    "shake": "shake",
    "face_touch": "touch",
    "arms_crossed": "cross",
    "posture_shift": "shift",
    "gesture_stroke": "gest",
}
COLUMNS = (
    ["frames", "people", "recall", "prec", "IDsw", "MPJPE", "PA", "PVE", "2D%", "accel"]
    + list(MEASURES)
    + [f"F1 {SHORT_EVENT[t]}" for t in EVENT_TYPES]
    + ["F1 all", "F1gt", "FPev/min"]
)


def default_cache() -> Path:
    base = os.environ.get("PMRR_CACHE_DIR") or Path.home() / ".cache" / "pmrr_interviews"
    return Path(base) / "eval"


def _prepare_env(cache: Path) -> None:
    """A private Prefect home (its own SQLite database: no lock fights with other runs)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's default 20 s to start the ephemeral server is not enough on a busy 2-core host.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    if not os.environ.get("PREFECT_API_URL"):
        home = cache / "prefect_home"
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# ---------------------------------------------------------------- evaluation of one scene


def _body_outputs(body, betas, body_pose, global_orient, chunk: int = 128):
    """(joints49, smpl_joints24, vertices) of the body model for rows of parameters."""
    import numpy as np
    import torch

    j49, j24, verts = [], [], []
    for s in range(0, len(betas), chunk):
        with torch.no_grad():
            out = body(
                betas=torch.as_tensor(np.asarray(betas[s : s + chunk]), dtype=torch.float32),
                body_pose=torch.as_tensor(
                    np.asarray(body_pose[s : s + chunk]), dtype=torch.float32
                ),
                global_orient=torch.as_tensor(
                    np.asarray(global_orient[s : s + chunk]), dtype=torch.float32
                ),
            )
        j49.append(out.joints.numpy().astype(np.float64))
        j24.append(out.smpl_joints.numpy().astype(np.float64))
        verts.append(out.vertices.numpy())
    return np.concatenate(j49), np.concatenate(j24), np.concatenate(verts)


def evaluate_scene(scene_dir: Path, tables: dict, body) -> dict:
    """Every metric of one scene; ``tables``: the pipeline's smpl, features_frames, events
    (DataFrames of this video) and focal_px. Returns summary numbers and the raw per-item
    values (for pooling into ``all``)."""
    import numpy as np
    import pandas as pd

    from pmrr_model.evaluation import metrics as M
    from pmrr_model.evaluation.scenes import SIZE_HW, ground_truth_analytics

    meta = json.loads((scene_dir / "scene.json").read_text())
    fps, n_frames = meta["fps"], meta["n_frames"]
    duration = n_frames / fps
    gt = pd.read_parquet(scene_dir / "gt_frames.parquet")
    gt_events = pd.read_parquet(scene_dir / "gt_events.parquet")
    on_gt = ground_truth_analytics(gt, fps, n_frames, body)
    gt_measures, gt_events_an = on_gt["features_frames"], on_gt["events"]
    smpl = tables["smpl"]
    matches, counts = M.match_people(gt, smpl[["frame", "track_id", "bbox_px"]])
    switches = M.id_switches(matches)
    raw: dict[str, list] = {k: [] for k in ("mpjpe", "pa", "pve", "2d", "accel")}

    # Bodies of the matched, counted person-frames.
    use = matches[matches["counted"]]
    if len(use):
        g = gt.set_index(["frame", "track_id"]).loc[list(zip(use.frame, use.gt_track, strict=True))]
        p = smpl.set_index(["frame", "track_id"]).loc[
            list(zip(use.frame, use.pred_track, strict=True))
        ]
        stack = lambda s, shape: np.stack(s.to_list()).astype(np.float64).reshape(-1, *shape)  # noqa: E731
        gt_j = stack(g["joints3d_m"], (24, 3))
        gt_2d = stack(g["joints2d_px"], (24, 2))
        vis = np.stack(g["visible"].to_list()).astype(bool)
        boxes = stack(g["bbox_px"], (4,))
        _, _, gt_v = _body_outputs(body, stack(g["betas"], (10,)), stack(g["body_pose"], (69,)),
                                   stack(g["global_orient"], (3,)))  # fmt: skip
        gt_v = gt_v + stack(g["transl_m"], (3,))[:, None, :]
        p_j49, p_j24, p_v = _body_outputs(body, stack(p["betas"], (10,)),
                                          stack(p["body_pose"], (69,)), stack(p["global_orient"], (3,)))  # fmt: skip
        offset = (stack(p["joints3d_m"], (49, 3)) - p_j49).mean(axis=1, keepdims=True)
        est_j = p_j24 + offset  # the table's translation convention, as tasks.render does
        est_v = p_v + offset
        h, w = SIZE_HW
        est_2d = tables["focal_px"] * est_j[..., :2] / est_j[..., 2:3] + np.array([w / 2, h / 2])
        aligned = np.zeros_like(est_j)
        gt_aligned = np.zeros_like(gt_j)
        for i in range(len(use)):
            off = M.root_offset(est_j[i], gt_j[i], vis[i]) if vis[i].any() else np.zeros(3)
            raw["mpjpe"].append(1000 * M.mpjpe(est_j[i], gt_j[i], vis[i]))
            raw["pa"].append(1000 * M.pa_mpjpe(est_j[i], gt_j[i], vis[i]))
            raw["pve"].append(1000 * M.pve(est_v[i], gt_v[i], off))
            raw["2d"].append(
                M.joint2d_error_pct(est_2d[i], gt_2d[i], boxes[i, 3] - boxes[i, 1], vis[i])
            )
            aligned[i] = est_j[i] + off
            gt_aligned[i] = gt_j[i]
        # Acceleration: runs of consecutive frames of one (ground truth, estimate) pair.
        key = use[["gt_track", "pred_track", "frame"]].to_numpy()
        order = np.lexsort((key[:, 2], key[:, 1], key[:, 0]))
        start = 0
        for k in range(1, len(order) + 1):
            a, b = order[k - 1], order[k] if k < len(order) else None
            same = b is not None and (key[b, :2] == key[a, :2]).all() and key[b, 2] == key[a, 2] + 1
            if not same:
                run = order[start:k]
                if len(run) >= 3:
                    value = M.accel_error(1000 * aligned[run], 1000 * gt_aligned[run], vis[run])
                    if np.isfinite(value):
                        raw["accel"].append((value, len(run) - 2))
                start = k

    # Measures: estimated track's frames against its matched ground-truth track's.
    est_f = tables["features_frames"]
    raw_measures: dict[str, tuple[list, list]] = {k: ([], []) for k in MEASURES}
    if len(use) and len(est_f):
        joined = use.merge(
            est_f, left_on=["frame", "pred_track"], right_on=["frame", "track_id"], how="inner"
        ).merge(
            gt_measures, left_on=["frame", "gt_track"], right_on=["frame", "track_id"],
            how="inner", suffixes=("_est", "_gt"),
        )  # fmt: skip
        for short, col in MEASURES.items():
            scale = 100.0 if col.endswith("_m") else 1.0
            raw_measures[short] = (
                list(scale * joined[f"{col}_est"].to_numpy(float)),
                list(scale * joined[f"{col}_gt"].to_numpy(float)),
            )

    # Events: estimated tracks belong to the ground-truth track they are matched to most.
    assign = M.track_assignment(matches)
    est_ev = tables["events"].copy()
    est_ev["person"] = [assign.get(int(t), -1) for t in est_ev["track_id"]]
    gt_ev = gt_events.assign(person=gt_events["track_id"])
    ev_scores = M.event_scores(est_ev, gt_ev, list(EVENT_TYPES))
    gt_an = gt_events_an.assign(person=gt_events_an["track_id"])
    oracle = M.event_scores(gt_an, gt_ev, list(EVENT_TYPES))
    false_rate = M.false_events_per_min(est_ev, gt_ev, duration)
    return {
        "scene": scene_dir.name,
        "frames": n_frames,
        "duration_s": duration,
        "counts": counts,
        "id_switches_per_shot": switches,
        "raw": raw,
        "raw_measures": raw_measures,
        "events": ev_scores,
        "events_on_gt_bodies": oracle,
        "false_events": false_rate * duration / 60.0,
    }


def summarise(parts: list[dict], name: str) -> dict:
    """One table row from one or more evaluated scenes (pooled)."""
    import numpy as np

    from pmrr_model.evaluation import metrics as M

    def mean(values):
        values = [v for v in values if np.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")

    tp = sum(p["counts"]["tp"] for p in parts)
    n_gt = sum(p["counts"]["n_gt"] for p in parts)
    n_pred = sum(p["counts"]["n_pred"] for p in parts)
    accel = [a for p in parts for a in p["raw"]["accel"]]
    row = {
        "frames": sum(p["frames"] for p in parts),
        "people": n_gt,
        "recall": tp / n_gt if n_gt else float("nan"),
        "prec": tp / n_pred if n_pred else float("nan"),
        "IDsw": sum(sum(p["id_switches_per_shot"].values()) for p in parts),
        "MPJPE": mean([v for p in parts for v in p["raw"]["mpjpe"]]),
        "PA": mean([v for p in parts for v in p["raw"]["pa"]]),
        "PVE": mean([v for p in parts for v in p["raw"]["pve"]]),
        "2D%": mean([v for p in parts for v in p["raw"]["2d"]]),
        "accel": (sum(v * n for v, n in accel) / sum(n for _, n in accel))
        if accel
        else float("nan"),
    }
    for short in MEASURES:
        est = [v for p in parts for v in p["raw_measures"][short][0]]
        gt = [v for p in parts for v in p["raw_measures"][short][1]]
        row[short] = M.mae(np.asarray(est), np.asarray(gt)) if est else float("nan")
    events = M.pool_event_scores([p["events"] for p in parts])
    for kind in EVENT_TYPES:
        row[f"F1 {SHORT_EVENT[kind]}"] = events[kind]["f1"]
    total = M.pool_event_scores([{"all": _sum_types(p["events"])} for p in parts])["all"]
    oracle = M.pool_event_scores([{"all": _sum_types(p["events_on_gt_bodies"])} for p in parts])
    row["F1 all"] = total["f1"]
    row["F1gt"] = oracle["all"]["f1"]
    minutes = sum(p["duration_s"] for p in parts) / 60.0
    row["FPev/min"] = sum(p["false_events"] for p in parts) / minutes if minutes else float("nan")
    row["events"] = events
    row["events_all"] = total
    row["events_on_gt_bodies"] = oracle["all"]
    row["id_switches_per_shot"] = (
        {str(k): v for k, v in parts[0]["id_switches_per_shot"].items()}
        if len(parts) == 1
        else None
    )
    row["scene"] = name
    return row


def _sum_types(scores: dict) -> dict:
    acc = {"tp_pred": 0, "n_pred": 0, "tp_gt": 0, "n_gt": 0}
    for c in scores.values():
        for key in acc:
            acc[key] += c[key]
    return acc


def format_table(rows: list[dict]) -> str:
    """The one printed table: a row per scene and ``all``, every column of COLUMNS."""

    def cell(col: str, value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        if col in ("frames", "people", "IDsw"):
            return str(int(value))
        if col in ("recall", "prec") or col.startswith("F1"):
            return f"{value:.2f}"
        if col in ("MPJPE", "PA", "PVE"):
            return f"{value:.0f}"
        if col == "expans":
            return f"{value:.2f}"
        return f"{value:.1f}"

    header = ["scene", *COLUMNS]
    body = [[r["scene"], *(cell(c, r.get(c)) for c in COLUMNS)] for r in rows]
    widths = [max(len(x[i]) for x in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    lines.append("-" * len(lines[0]))
    for b in body:
        lines.append(
            "  ".join(
                x.rjust(w) if i else x.ljust(w)
                for i, (x, w) in enumerate(zip(b, widths, strict=True))
            )
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- the run


def run(quick: bool = False, seed: int = 0, cache: Path | None = None, force: bool = False,
        json_path: str | None = None, print_fn=print, config: dict | None = None,
        fps: float | None = None) -> dict:  # fmt: skip
    """Generate (or reuse) the scenes, run the pipeline, score it; returns every number.
    ``config``: pipeline settings other than the defaults (render is always off); ``fps``: the
    scenes' frame rate (default :data:`scenes.FPS`)."""
    cache = Path(cache) if cache else default_cache()
    _prepare_env(cache)
    import pandas as pd

    from flows import components
    from flows.config import PipelineConfig
    from flows.run import process
    from pmrr_model.evaluation import scenes

    fps = float(fps or scenes.FPS)
    began = time.perf_counter()
    body = components.body_model(None)
    folder = cache / scenes.cache_key(quick, seed, str(body.asset_id), fps)
    scene_dirs = scenes.generate_scenes(folder, body, quick=quick, seed=seed, fps=fps)
    generated = time.perf_counter()
    out = folder / "out"
    videos = [str(d / "video.mp4") for d in scene_dirs]
    settings = PipelineConfig(**{**(config or {}), "render": False})
    rows = process(videos, str(out), config=settings, force=force, progress=False)
    processed = time.perf_counter()
    by_source = {str(r["source"]): r for r in rows}
    parts = []
    for scene_dir, video in zip(scene_dirs, videos, strict=True):
        row = by_source[video]
        if row["status"] == "failed":
            raise RuntimeError(f"{video}: the pipeline failed: {row['error']}")
        vid = row["video_id"]

        def read(table: str, vid=vid) -> pd.DataFrame:
            path = out / table / f"video_id={vid}"
            return pd.read_parquet(path) if path.exists() else pd.DataFrame()

        videos_row = read("videos")
        tables = {
            "smpl": read("smpl"),
            "features_frames": read("features_frames"),
            "events": read("events"),
            "focal_px": float(videos_row["focal_px"].iloc[0])
            if len(videos_row)
            else scenes.FOCAL_PX,
        }
        if tables["events"].empty:
            tables["events"] = pd.DataFrame(columns=["event_type", "track_id", "start_s", "end_s"])
        parts.append(evaluate_scene(scene_dir, tables, body))
    rows_out = [summarise([p], p["scene"]) for p in parts] + [summarise(parts, "all")]
    table = format_table(rows_out)
    finished = time.perf_counter()
    timing = {
        "generate_s": round(generated - began, 1),
        "pipeline_s": round(processed - generated, 1),
        "score_s": round(finished - processed, 1),
        "total_s": round(finished - began, 1),
    }
    changed = f"; settings {json.dumps(config)}" if config else ""
    print_fn(f"accuracy of the default pipeline on synthetic scenes ({'quick' if quick else 'full'}, "
             f"{fps:g} fps, seed {seed}, {folder.name}; body model {body.asset_id}{changed})")  # fmt: skip
    print_fn(table)
    print_fn(f"seconds: {json.dumps(timing)}")
    result = {"quick": quick, "seed": seed, "fps": fps, "config": config or {},
              "scenes_folder": str(folder), "timing": timing,
              "columns": COLUMNS, "rows": rows_out, "table": table}  # fmt: skip
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=1, default=_json_default))
    return result


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="CI version: fewer, shorter scenes")
    parser.add_argument("--json", default=None, metavar="FILE", help="write every number here")
    parser.add_argument(
        "--fps", type=float, default=None, help="the scenes' frame rate (default 25)"
    )
    parser.add_argument("--seed", type=int, default=0, help="scene generator seed (default 0)")
    parser.add_argument(
        "--cache", default=None, help="scene cache (default ~/.cache/pmrr_interviews/eval)"
    )
    parser.add_argument("--force", action="store_true", help="recompute every pipeline stage")
    parser.add_argument(
        "--config",
        type=json.loads,
        default=None,
        metavar="JSON",
        help="pipeline settings other than the defaults, e.g. '{\"estimate_every_k\": 2}'",
    )


def run_args(args: argparse.Namespace) -> dict:
    """:func:`run` with the options of :func:`add_arguments` (this script's and ``pmrr eval
    --synthetic``'s)."""
    return run(args.quick, args.seed, args.cache, args.force, args.json, config=args.config,
               fps=args.fps)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    run_args(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
