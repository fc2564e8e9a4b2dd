"""Pipeline throughput and memory: frames/s per stage, end to end (x real time), peak RSS.

Per stage also ``cores``: CPU seconds of the process over wall seconds, and ``MiB``: the highest
resident memory sampled while the stage ran (:class:`StageCpu`; nan where no sample fell in it.
Both follow the stage reported last, so a stage computed inside another keeps the time and
memory of the rest of the outer one: in ``long_input.py``, whose first stages come from the
cache, the probe runs inside smoothing and its row holds smoothing's. The process's own
high-water mark, ``peak RSS``, misses nothing).

    python benchmarks/pipeline.py [--seconds 60 600] [--size 640x360] [--no-render]
        [--config '{"estimate_every_k": 2}']

Inputs are real footage (the two-person interview sample, looped with ``ffmpeg -stream_loop`` to
the wanted length and scaled: :func:`pmrr_interviews.samples.looped_clip`). Each input runs in
its own subprocess, so its peak resident memory (``ru_maxrss``, the kernel's high-water mark) is
its own and not the maximum of everything measured before it -- that is what shows whether memory
stays flat in video length. The child runs :func:`flows.video.process_video` itself (``force``:
every stage recomputed), so the numbers are the flow's, Prefect's bookkeeping included (its
API is started before the clock, as the models are loaded: :func:`start_prefect_api`); stage
seconds are the flow's own timings. The ffmpeg encoder of the render is a separate process and
is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import flows  # noqa: E402,F401  (first: caps malloc arenas before numpy/torch start threads)


def _rss_mb() -> float:
    """Current resident set of this process, MiB (from /proc, no psutil needed)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakSampler:
    """Samples RSS every 20 ms, so each stage gets its own peak (ru_maxrss only has one):
    ``on_sample`` (e.g. :meth:`StageCpu.sample`) is given each sample."""

    def __init__(self, on_sample=None) -> None:
        self.peak = 0.0
        self._on_sample = on_sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = _rss_mb()
            self.peak = max(self.peak, rss)
            if self._on_sample is not None:
                self._on_sample(rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakSampler:
        self.peak = _rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


class StageCpu:
    """CPU seconds of this process per stage, against the wall clock: how many of the cores a
    stage keeps busy (``cores``), which says whether overlapping stages could gain anything or
    only less work can. ``time.process_time`` counts every thread of the process, MediaPipe's
    graph threads included. A :data:`flows.progress.Reporter`: time is attributed to the stage
    the flow reported last. A stage reports when it starts and as it goes, a stage computed
    inside another (tracking inside the estimate) hands back to the outer one when it ends, and
    the optional outputs (render, plots, annotations) and the staging of each output ("write")
    report too (before the twenty-fifth session they did not, and their time and memory went to
    the stage before them)."""

    def __init__(self) -> None:
        self.cpu_s: dict[str, float] = {}
        self.wall_s: dict[str, float] = {}
        #: highest resident memory sampled while each stage was the current one, MiB
        self.peak_mb: dict[str, float] = {}
        self._stage: str | None = None
        self._since = (0.0, 0.0)
        self._lock = threading.Lock()

    def __call__(self, video: str, stage: str, done: int = 0, total: int = 0) -> None:
        if stage != self._stage:
            self.switch(stage)

    def switch(self, stage: str | None) -> None:
        """From now on, time counts for ``stage`` (None: for nothing)."""
        with self._lock:  # tasks report from their own threads
            now = (time.perf_counter(), time.process_time())
            if self._stage is not None:
                wall, cpu = now[0] - self._since[0], now[1] - self._since[1]
                self.wall_s[self._stage] = self.wall_s.get(self._stage, 0.0) + wall
                self.cpu_s[self._stage] = self.cpu_s.get(self._stage, 0.0) + cpu
            self._stage, self._since = stage, now

    def sample(self, rss_mb: float) -> None:
        """Attribute one memory sample to the current stage."""
        stage = self._stage
        if stage is not None:
            self.peak_mb[stage] = max(self.peak_mb.get(stage, 0.0), rss_mb)

    def cores(self, stage: str) -> float:
        """Cores kept busy on average while ``stage`` ran (nan when it never reported)."""
        wall = self.wall_s.get(stage, 0.0)
        return self.cpu_s[stage] / wall if wall > 0 else float("nan")


def run_one(
    video: str, render: bool, out_dir: str, settings: dict | None = None, force: bool = True
) -> dict:
    """Run :func:`flows.video.process_video` -- the flow users run, not a re-wiring of it -- on
    ``video`` with every stage recomputed (``force``; else stages found in ``out_dir``'s stage
    cache are loaded from it); returns per-stage seconds, frame counts, memory."""
    from flows import components
    from flows.config import PipelineConfig
    from flows.progress import set_reporter
    from flows.video import process_video

    cfg = PipelineConfig(**{**(settings or {}), "render": render})
    # Heavy components load once per worker in the flow too; keep it out of the stage numbers.
    load_start = time.perf_counter()
    components.detector(cfg.detector, cfg.detector_config, cfg.detector_checkpoint, cfg.device)
    components.estimator(cfg.estimator, cfg.checkpoint, cfg.data_dir, cfg.device)
    if render:
        components.body_model(cfg.data_dir)
    load_s = time.perf_counter() - load_start
    api_s = start_prefect_api()
    rss_after_load = _rss_mb()
    clock = StageCpu()
    set_reporter(clock)
    try:
        with PeakSampler(clock.sample) as sampler:
            wall_start = time.perf_counter()
            row = process_video(
                video, str(Path(out_dir) / "out"), config=cfg,
                cache_dir=str(Path(out_dir) / "cache"), force=force,
            )  # fmt: skip
            wall = time.perf_counter() - wall_start
    finally:
        clock.switch(None)
        set_reporter(None)
    n = row["frames"]
    stages = [
        {
            "stage": name,
            "seconds": seconds,
            "frames": 0 if name == "hash" else n,
            "cores": clock.cores(name),
            "peak_mb": clock.peak_mb.get(name, float("nan")),
        }
        for name, seconds in row["timings"].items()
    ]
    return {
        "video": video,
        "duration_s": n / row["fps"],
        "frames": n,
        "person_frames": row["person_frames"],
        "tracks": row["tracks"],
        "shots": row["shots"],
        "stages": stages,
        "wall_s": wall,
        "load_s": load_s,
        "api_start_s": api_s,
        "rss_after_load_mb": rss_after_load,
        "peak_rss_mb": max(sampler.peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "flow_peak_rss_mb": sampler.peak,
    }


def start_prefect_api() -> float:
    """Seconds to bring up the Prefect API this process's flows report to, by running an empty
    flow: with no ``PREFECT_API_URL`` that starts Prefect's temporary server (about 5.5 s here),
    once per process, like the model loads above. Kept off the clock for the same reason: a
    batch pays it once (``pmrr process`` once per command, a deployment's worker never: its
    server is running), so in a per-video figure it would make short inputs look slower by a
    cost that does not grow with them. The table prints it on its own row."""
    from prefect import flow

    @flow(name="pmrr-benchmark-api-start", persist_result=False)
    def api_start() -> None:
        """Nothing: the run itself brings the API up."""

    began = time.perf_counter()
    api_start()
    return time.perf_counter() - began


def run_child(script: str, args: list[str], work: str | None = None) -> dict:
    """Run ``script`` with ``args`` in a fresh interpreter, so its peak RSS is its own; it
    writes its JSON result to the ``--result`` file it is given (and works in ``--work``: a
    temporary folder unless given). Returns that result."""
    with tempfile.TemporaryDirectory(prefix="pmrr-bench-") as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [sys.executable, script, *args, "--result", str(result_file), "--work", work or tmp]
        env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        subprocess.run(cmd, check=True, env=env)
        return json.loads(result_file.read_text())


def _child(seconds: float, size: tuple[int, int], render: bool, settings: str | None) -> dict:
    """Run one input in a fresh interpreter (own peak RSS); returns its JSON result."""
    args = ["--child", str(seconds), "--size", f"{size[0]}x{size[1]}"]
    if not render:
        args.append("--no-render")
    if settings:
        args += ["--config", settings]
    return run_child(__file__, args)


def finish(results: list[dict], json_path: str | None) -> None:
    """Print the table of ``results``; also write them to ``json_path`` when given."""
    print_table(results)
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2))


def print_table(results: list[dict]) -> None:
    names = [s["stage"] for s in results[0]["stages"]]
    labels = [f"{r['duration_s']:.0f} s input" for r in results]
    head = f"{'stage':<14}" + "".join(f"{label:>43}" for label in labels)
    print(head)
    print(
        f"{'':<14}" + "".join(f"{'s':>18}{'frames/s':>10}{'cores':>7}{'MiB':>8}" for _ in results)
    )
    for name in names:
        line = f"{name:<14}"
        for r in results:
            s = next((x for x in r["stages"] if x["stage"] == name), None)
            if s is None:
                line += f"{'-':>43}"
                continue
            fps = s["frames"] / s["seconds"] if s["frames"] and s["seconds"] > 0 else float("nan")
            line += f"{s['seconds']:>18.1f}{fps:>10.1f}{s.get('cores', float('nan')):>7.1f}"
            line += f"{s.get('peak_mb', float('nan')):>8.0f}"
        print(line)
    print("-" * len(head))
    rows = [
        ("frames", lambda r: f"{r['frames']}"),
        ("person-frames", lambda r: f"{r['person_frames']}"),
        ("tracks/shots", lambda r: f"{r['tracks']}/{r['shots']}"),
        ("end-to-end s", lambda r: f"{r['wall_s']:.1f}"),
        ("frames/s", lambda r: f"{r['frames'] / r['wall_s']:.1f}"),
        ("x real time", lambda r: f"{r['duration_s'] / r['wall_s']:.3f}"),
        ("model load s", lambda r: f"{r['load_s']:.1f}"),
        ("API start s", lambda r: f"{r.get('api_start_s', float('nan')):.1f}"),
        ("peak RSS MiB", lambda r: f"{r['peak_rss_mb']:.0f}"),
        ("in the flow", lambda r: f"{r.get('flow_peak_rss_mb', float('nan')):.0f}"),
    ]
    for label, fmt in rows:
        print(f"{label:<14}" + "".join(f"{fmt(r):>43}" for r in results))
    if len(results) > 1:
        first, last = results[0], results[-1]
        for label, key in (("", "peak_rss_mb"), (" in the flow", "flow_peak_rss_mb")):
            lo, hi = first.get(key, float("nan")), last.get(key, float("nan"))
            print(f"peak RSS growth{label} {first['duration_s']:.0f} s -> "
                  f"{last['duration_s']:.0f} s: {100 * (hi - lo) / lo:+.1f} %")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[60, 600])
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--no-render", action="store_true")
    parser.add_argument("--json", help="also write all results to this file")
    parser.add_argument("--config", help="pipeline settings other than the defaults (JSON)")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    from pmrr_interviews.samples import cache_dir, looped_clip

    if args.child is not None:
        video = looped_clip(cache_dir(), args.child, size)
        settings = json.loads(args.config) if args.config else None
        result = run_one(str(video), not args.no_render, args.work, settings)
        Path(args.result).write_text(json.dumps(result))
        return
    results = []
    for seconds in args.seconds:
        looped_clip(cache_dir(), seconds, size)  # build outside the measured child
        results.append(_child(seconds, size, not args.no_render, args.config))
        print(f"done: {seconds:g} s input in {results[-1]['wall_s']:.1f} s", flush=True)
    if args.config:
        print(f"settings: {args.config}")
    finish(results, args.json)


if __name__ == "__main__":
    main()
