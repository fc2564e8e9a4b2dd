"""Memory and time by input length up to an hour: the stages that hold the whole video.

    python benchmarks/long_input.py [--seconds 60 600 3600] [--base 60] [--render]

Why a second benchmark: ``pipeline.py`` runs every stage, so an hour of input takes about five
hours on two cores, and it has shown that the stages up to estimation keep their memory flat (they
work a chunk of frames at a time). What grows with a video's length is what holds all its
person-frames at once: smoothing, joining people across cuts, the core tables, analytics, plots,
annotations and the commit.

How: the input is the same looped interview sample ``pipeline.py`` uses (a 3 s clip with two
people, :func:`pmrr_interviews.samples.looped_clip`), so its shots, tracks and per-frame
estimates are those of a shorter run of it, repeated. A ``--base``-second input runs the whole
``process-video`` flow once; its ``shots``, ``track`` and ``estimate`` stage results, repeated
(frames, shot and track ids moved on by one base length each time), are put in the flow's own
stage cache under each longer input's fingerprints, and the flow then runs on that input as it
does on a re-run: it probes the real file and computes everything after estimation from those
results, models loaded as in a full run. Each input runs in its own process (its own peak
memory); per stage the table gives seconds and the highest resident memory sampled while it ran.
The render is left out unless ``--render``: it draws chunk by chunk, and ``pipeline.py`` has
measured its memory flat from one minute to ten.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.pipeline import finish, run_child, run_one  # noqa: E402  (flows first)

#: the stage results a longer input is given from the base run; every later stage is computed
GIVEN = ("shots", "track", "estimate")


def _config(render: bool):
    from flows.config import PipelineConfig

    return PipelineConfig(render=render)


def _stage_keys(video: Path, cfg) -> tuple[str, dict[str, str]]:
    """The video id and stage fingerprints :func:`flows.video.process_video` uses for ``video``."""
    from flows import components, identity
    from tasks.probe import content_hash

    video_id = content_hash(str(video))
    roles = cfg.roles_for(video_id, str(video))
    return video_id, identity.fingerprints(
        video_id, cfg, components.assets(cfg.data_dir).describe(), roles
    )


def repeat(values: dict, times: int, n_frames: int) -> dict:
    """The base run's ``shots``, ``track`` and ``estimate`` results as ``times`` copies one after
    another: frames moved on by ``n_frames`` per copy, shot and track ids by the base's counts
    (track ids stay unique in the video, as the tracker makes them)."""
    from tasks.sequence import SmplSequence

    shots, lost = values["shots"]
    tracked, seq = values["track"], values["estimate"]
    n_shots = max(s.shot_id for s in shots) + 1
    n_tracks = int(max(tracked.track_id.max(), seq.track_id.max())) + 1

    def moved(rows, i: int):
        return replace(
            rows,
            frame=rows.frame + i * n_frames,
            track_id=(rows.track_id + i * n_tracks).astype(rows.track_id.dtype),
            shot_id=(rows.shot_id + i * n_shots).astype(rows.shot_id.dtype),
        )

    copies = range(times)
    all_shots = [
        replace(
            s,
            shot_id=s.shot_id + i * n_shots,
            start_frame=s.start_frame + i * n_frames,
            end_frame=s.end_frame + i * n_frames,
        )
        for i in copies
        for s in shots
    ]
    all_lost = np.concatenate([np.asarray(lost) + i * n_frames for i in copies]).astype(
        np.asarray(lost).dtype
    )
    boxes = [moved(tracked, i) for i in copies]
    box_fields = ("frame", "track_id", "shot_id", "bbox_px", "det_score", "tile_px")
    all_boxes = replace(
        tracked, **{f: np.concatenate([getattr(b, f) for b in boxes]) for f in box_fields}
    )
    return {
        "shots": (all_shots, all_lost),
        "track": all_boxes,
        "estimate": SmplSequence.concat([moved(seq, i) for i in copies]),
    }


def base_results(seconds: float, size: tuple[int, int], render: bool, work: Path) -> dict:
    """Run the flow on the ``seconds`` input; its GIVEN stage results, from the stage cache."""
    from flows.cache import StageCache
    from flows.video import process_video
    from pmrr_interviews.samples import cache_dir, looped_clip

    video = looped_clip(cache_dir(), seconds, size)
    cfg = _config(render)
    process_video(str(video), str(work / "out"), config=cfg, cache_dir=str(work / "cache"))
    video_id, fps = _stage_keys(video, cfg)
    cache = StageCache(work / "cache")
    values = {}
    for stage in GIVEN:
        found, values[stage] = cache.get(video_id, stage, fps[stage])
        if not found:
            raise RuntimeError(f"{video}: the base run left no {stage} stage in {work / 'cache'}")
    return values


def give_stages(
    values: dict, base_s: float, seconds: float, size: tuple[int, int], cfg, cache_folder: Path
) -> Path:
    """Put the base run's GIVEN stages, repeated to ``seconds``, in ``cache_folder`` under the
    ``seconds`` input's fingerprints; returns that input (encoded here if new)."""
    from flows.cache import StageCache
    from pmrr_interviews.samples import cache_dir, looped_clip

    video = looped_clip(cache_dir(), seconds, size)
    video_id, fps = _stage_keys(video, cfg)
    n_frames = max(s.end_frame for s in values["shots"][0]) + 1
    cache = StageCache(cache_folder)
    for stage, value in repeat(values, round(seconds / base_s), n_frames).items():
        cache.put(video_id, stage, fps[stage], value)
    return video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[60, 600, 3600])
    parser.add_argument("--base", type=float, default=60, help="seconds run in full (x 3 s)")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--render", action="store_true")
    parser.add_argument("--json", help="also write all results to this file")
    parser.add_argument(
        "--work", help="keep the base run here and reuse it next time (default: a temporary one)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:  # one input in this process: the flow, with its stages given
        result = run_one(args.child, args.render, args.work, {}, force=False)
        Path(args.result).write_text(json.dumps(result))
        return
    size = tuple(int(v) for v in args.size.split("x"))
    for seconds in args.seconds:
        if seconds % args.base:
            parser.error(f"--seconds {seconds:g} is not a whole number of --base {args.base:g}")
    cfg = _config(args.render)
    results = []
    with ExitStack() as stack:
        tmp = args.work or stack.enter_context(tempfile.TemporaryDirectory(prefix="pmrr-long-"))
        values = base_results(args.base, size, args.render, Path(tmp) / f"base-{args.base:g}")
        for seconds in args.seconds:
            run_dir = Path(tmp) / f"run-{seconds:g}"
            shutil.rmtree(run_dir, ignore_errors=True)  # every run computes its later stages
            video = give_stages(values, args.base, seconds, size, cfg, run_dir / "cache")
            args_child = ["--child", str(video)] + (["--render"] if args.render else [])
            results.append(run_child(__file__, args_child, str(run_dir)))
            print(f"done: {seconds:g} s input in {results[-1]['wall_s']:.1f} s", flush=True)
    print(f"stages {', '.join(GIVEN)} repeated from a {args.base:g} s run; the rest computed")
    finish(results, args.json)


if __name__ == "__main__":
    main()
