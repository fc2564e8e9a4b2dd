"""``process_video``: one video through every stage (a thin flow; the work is in :mod:`tasks`).

Skips everything when the output already holds a commit made with the same config and code
version (unless ``force``); otherwise cached stages load from the cache folder and the rest run.
Ends with a markdown artifact: shots, people, frames, estimator, time per stage, render path.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows import stages
from flows.config import PipelineConfig, code_version
from flows.progress import report
from storage import Store, localize
from tasks.errors import VideoError
from tasks.probe import content_hash
from tasks.publish import core_tables, publish


class NoPeopleError(VideoError):
    """The video decodes but nobody was detected in it."""


def default_cache_dir(out: str) -> Path:
    """Prefect results and downloaded inputs: under a local output, else the user cache."""
    if "://" not in out or out.startswith("file://"):
        return Path(out.removeprefix("file://")) / "_cache"
    base = (
        os.environ.get("PREFECT_LOCAL_STORAGE_PATH") or Path.home() / ".cache" / "pmrr_interviews"
    )
    return Path(base) / "pipeline-cache"


def _artifact(video_id: str, source: str, summary: dict, timings: dict[str, float]) -> None:
    lines = [
        f"### {Path(source).name} (`{video_id}`)",
        "",
        "| item | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in summary.items()),
        "",
        "| stage | seconds |",
        "|---|---|",
        *(f"| {k} | {v:.2f} |" for k, v in timings.items()),
    ]
    create_markdown_artifact(
        markdown="\n".join(lines), key=f"video-{video_id}", description=f"PMRR run of {source}"
    )


@flow(name="process-video", log_prints=True)
def process_video(
    source: str,
    out: str,
    config: dict | None = None,
    cache_dir: str | None = None,
    force: bool = False,
) -> dict:
    """Run the pipeline on ``source`` (path or fsspec URL) into the output root ``out``.

    ``config``: fields of :class:`flows.config.PipelineConfig`. Returns a status row.
    """
    logger = get_run_logger()
    cfg = PipelineConfig(**(config or {}))
    cfg_hash, version = cfg.hash(), code_version()
    cache = Path(cache_dir) if cache_dir else default_cache_dir(out)
    store = Store(out)
    timings: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        report(source, name)
        start = time.perf_counter()
        result = fn.with_options(
            **({"result_storage": cache / "results"} if name != "render" else {})
        )(*args, **kwargs)
        timings[name] = time.perf_counter() - start
        logger.info("%s: %s done in %.2f s", Path(source).name, name, timings[name])
        return result

    start = time.perf_counter()
    path = localize(source, cache)
    video_id = content_hash(path)
    timings["hash"] = time.perf_counter() - start
    manifest = store.manifest(video_id)
    if (
        not force
        and manifest
        and manifest.get("config_hash") == cfg_hash
        and manifest.get("code_version") == version
    ):
        logger.info("%s: already committed as %s, skipping", source, video_id)
        report(source, "skipped")
        return {
            "source": source,
            "video_id": video_id,
            "status": "skipped",
            **manifest.get("summary", {}),
        }

    ids = {"video_id": video_id, "config_hash": cfg_hash}
    info = timed("probe", stages.probe, path, **ids)
    info = dataclasses.replace(info, path=path)
    shot_list = timed("shots", stages.detect_shots, path, info, **ids)
    tracked = timed("track", stages.track_people, path, info, shot_list, cfg.to_dict(), **ids)
    if len(tracked) == 0:
        raise NoPeopleError(f"{source}: no person detected in {info.n_frames} frames")
    seq = timed("estimate", stages.estimate, path, info, tracked, cfg.to_dict(), **ids)
    seq = timed("smooth", stages.smooth, seq, info, cfg.to_dict(), **ids)
    core = core_tables(video_id, source, info, shot_list, seq, version, cfg_hash)
    features = None
    if cfg.analytics:
        smpl_df = core["smpl"].to_pandas()
        features = timed("analytics", stages.analytics, smpl_df, info, **ids)
        if features is None:
            logger.warning("analytics package not importable; feature tables skipped")
        else:
            roles = features["features_summary"].attrs.get("tracks_roles")
            if roles:
                core = core_tables(video_id, source, info, shot_list, seq, version, cfg_hash, roles)
    render_path = (
        timed("render", stages.render, info, seq, cfg.to_dict(), video_id) if cfg.render else None
    )
    summary = {
        "frames": info.n_frames,
        "fps": round(info.fps, 3),
        "shots": len(shot_list),
        "people": int(len(set(seq.track_id.tolist()))),
        "person_frames": len(seq),
        "estimator": seq.estimator or cfg.estimator,
        "render": store.uri("renders", f"{video_id}.mp4") if render_path else "",
        "tables": store.url,
    }
    report(source, "write")
    start = time.perf_counter()
    publish(
        store,
        video_id,
        core,
        seq,
        info.fps,
        analytics=features,
        render_path=render_path,
        export_npz=cfg.export_npz,
        extra={
            "config_hash": cfg_hash,
            "code_version": version,
            "source_uri": source,
            "summary": summary,
        },
    )
    timings["write"] = time.perf_counter() - start
    if render_path:
        Path(render_path).unlink(missing_ok=True)
    _artifact(video_id, source, summary, timings)
    report(source, "done")
    return {
        "source": source,
        "video_id": video_id,
        "status": "ok",
        **summary,
        "seconds": round(sum(timings.values()), 2),
    }
