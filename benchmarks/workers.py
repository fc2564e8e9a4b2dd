"""Shot-parallel speed-up: the same video in process and with N Dask worker processes.

    python benchmarks/workers.py [--workers 0 1 2] [--seconds 20] [--videos 1] [--unit-s 6]
                                 [--config JSON] [--core-per-worker]

``--workers``: the settings, 0 = in process (no cluster), N >= 1 = a local cluster of N workers.
The table gives each setting's speed-up over the in-process run and over the 1-worker cluster
(the shot-parallel path's own scaling: the same flow, task runner and per-worker models, one
worker more).

``--config`` adds settings, e.g. ``'{"estimator": "pmrr", "checkpoint": "c.pt", "device":
"cuda"}'`` (with ``device`` cuda the workers are one per GPU).

The input is real footage (the two-person interview sample looped to ``--seconds``, 640x360, a
cut every 3 s); with ``--videos N`` the same footage comes as a batch of N videos of about
``--seconds / N`` each (one frame longer each, so no two have the same content), which a cluster
runs side by side. Each setting runs :func:`flows.archive.process_archive` -- the flow users run --
in a fresh interpreter, every stage recomputed, render and analytics off (they run in the flow's
process and are not spread over workers). Reported: wall time of the whole flow, the CPU time of all
its processes (flow, Prefect server, scheduler, workers: the run's children, from ``getrusage``)
and how many cores that kept busy on average (CPU / wall: this separates how the work scales
from how fast a shared machine happens to be), wall time of the two stages that are spread
(detect+track, estimate), the speed-up over the in-process run, that the
rows are identical to it, and the peak resident memory of the flow process and of each worker
(``ru_maxrss``). Model loading happens inside the measured time in every setting (each worker
builds its own detector and estimator).

``--core-per-worker`` runs each setting on as many cores as it has workers (the child process
and everything it starts may run only there: CPU affinity), the in-process run on one: how the
shot-parallel path scales per core, which is what a machine with more cores than one process
uses gets from its workers. Without it every setting may use every core of the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import flows  # noqa: F401  (first: caps malloc arenas before numpy/torch start threads)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(videos: list[str], workers: int, unit_s: float, work: str, extra: dict) -> dict:
    """One setting in this (fresh) process."""
    import numpy as np

    from flows.archive import process_archive
    from flows.cluster import local_cluster
    from flows.config import PipelineConfig
    from storage import Store

    cfg = PipelineConfig(
        **{"render": False, "analytics": False, "export_npz": False, "unit_s": unit_s, **extra}
    )
    out = Path(work) / "out"
    worker_mb: list[float] = []
    start = time.perf_counter()
    if workers == 0:
        rows = process_archive(videos, str(out), config=cfg, cache_dir=f"{work}/c", force=True)
    else:
        from distributed import Client

        with local_cluster(workers, cfg.device) as address:
            cfg = cfg.model_copy(update={"cluster": address})
            rows = process_archive(videos, str(out), config=cfg, cache_dir=f"{work}/c", force=True)
            with Client(address) as client:
                worker_mb = sorted(client.run(_peak_mb).values())
    wall = time.perf_counter() - start
    digest = hashlib.sha256()  # same rows -> same digest
    n_rows = 0
    for row in rows:  # in input order
        smpl = Store(out).read_table("smpl", [row["video_id"]]).to_pandas()
        n_rows += len(smpl)
        for column in ("frame", "track_id", "global_orient", "body_pose", "betas", "joints3d_m"):
            digest.update(np.ascontiguousarray(np.stack(smpl[column].to_numpy())).tobytes())
    return {
        "workers": workers,
        "videos": len(rows),
        "wall_s": wall,
        # summed over the videos (they overlap in time on a cluster)
        "track_s": sum(row["timings"].get("track", 0.0) for row in rows),
        "estimate_s": sum(row["timings"].get("estimate", 0.0) for row in rows),
        "rows": n_rows,
        "digest": digest.hexdigest(),
        "flow_peak_mb": _peak_mb(),
        "worker_peak_mb": worker_mb,
        "duration_s": sum(row["frames"] / row["fps"] for row in rows),
    }


def _child(
    seconds: float, n_videos: int, workers: int, unit_s: float, config: str, core_each: bool
) -> dict:
    from pmrr_interviews.samples import FPS, cache_dir, looped_clip

    if n_videos == 1:
        videos = [looped_clip(cache_dir(), seconds)]
    else:  # one frame longer each: distinct content, so none is skipped as a repeat
        videos = [looped_clip(cache_dir(), seconds / n_videos + i / FPS) for i in range(n_videos)]
    with tempfile.TemporaryDirectory(prefix="pmrr-workers-") as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--child", str(workers), "--unit-s", str(unit_s),
               "--result", str(result), "--work", tmp, "--config", config,
               "--video", *map(str, videos)]  # fmt: skip
        env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        cores = sorted(os.sched_getaffinity(0))
        n_cores = max(workers, 1) if core_each else len(cores)  # in process: one core
        if n_cores > len(cores):
            raise SystemExit(f"--core-per-worker: {workers} workers, {len(cores)} cores")
        before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run(
            cmd,
            check=True,
            env=env,
            preexec_fn=(lambda: os.sched_setaffinity(0, cores[:n_cores])) if core_each else None,
        )
        after, took = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter() - began
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # busy: over the child's whole life (interpreter start included), as its CPU time is
        return {
            **json.loads(result.read_text()),
            "cores": n_cores,
            "cpu_s": cpu,
            "busy": cpu / took,
        }


def print_table(results: list[dict]) -> None:
    """One row per setting; speed-ups over the in-process run and over the 1-worker cluster
    (where those settings ran), rows compared with the first setting's."""
    base = results[0]
    by_workers = {r["workers"]: r for r in results}
    print(f"{base['duration_s']:.0f} s input in {base['videos']} videos")
    head = (f"{'setting':>10} {'cores':>5} {'wall s':>8} {'CPU s':>7} {'busy':>5} "
            f"{'track s':>8} {'estimate s':>10} "
            f"{'vs in process':>13} {'vs 1 worker':>11} {'x real time':>11} {'same rows':>9} "
            f"{'flow MiB':>8}  worker peak MiB")  # fmt: skip
    print(head)
    print("-" * len(head))

    def ratio(reference: dict | None, r: dict) -> str:
        return f"{reference['wall_s'] / r['wall_s']:.2f}x" if reference else "-"

    for r in results:
        same = "yes" if (r["digest"], r["rows"]) == (base["digest"], base["rows"]) else "NO"
        workers = ", ".join(f"{m:.0f}" for m in r["worker_peak_mb"]) or "-"
        setting = "in process" if r["workers"] == 0 else f"{r['workers']} workers"
        print(f"{setting:>10} {r['cores']:>5} {r['wall_s']:>8.1f} {r['cpu_s']:>7.1f} "
              f"{r['busy']:>5.2f} {r['track_s']:>8.1f} "
              f"{r['estimate_s']:>10.1f} {ratio(by_workers.get(0), r):>13} "
              f"{ratio(by_workers.get(1), r):>11} {r['duration_s'] / r['wall_s']:>11.3f} "
              f"{same:>9} {r['flow_peak_mb']:>8.0f}  {workers}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[0, 1, 2], help="0 = in process, N = N workers"
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--videos", type=int, default=1, help="the input as a batch of N videos")
    parser.add_argument("--unit-s", type=float, default=6.0)
    parser.add_argument("--config", default="{}", help="more PipelineConfig fields, as JSON")
    parser.add_argument(
        "--core-per-worker", action="store_true", help="each setting on one core per worker"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--video", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        result = run_child(args.video, args.child, args.unit_s, args.work, json.loads(args.config))
        Path(args.result).write_text(json.dumps(result))
        return
    results = []
    for workers in args.workers:
        results.append(
            _child(
                args.seconds, args.videos, workers, args.unit_s, args.config, args.core_per_worker
            )
        )
        label = f"{workers} workers" if workers else "in process"
        print(f"done: {label} in {results[-1]['wall_s']:.1f} s", flush=True)
    print_table(results)


if __name__ == "__main__":
    main()
