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
from prefect.artifacts import (
    create_image_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from flows import stages
from flows.config import PipelineConfig, code_version, config_hash_with_roles
from flows.progress import report
from storage import Store, localize
from tasks import tables
from tasks.errors import VideoError
from tasks.probe import content_hash
from tasks.publish import core_tables, publish

UNCACHED = ("render", "plots")  # stages that write temporary files instead of returning data


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


SUMMARY_COLUMNS = (
    "track_id", "role", "coverage_ratio", "trunk_lean_forward_mean_deg",
    "expansiveness_mean_ratio", "motion_energy_mean_m_per_s", "gesture_stroke_per_min",
    "nod_per_min", "shake_per_min", "sync_motion_peak_r_ratio", "sync_motion_peak_lag_s",
)  # fmt: skip


def _analytics_artifacts(store: Store, video_id: str, summary, plot_paths: list[str]) -> None:
    """Per-person summary table and the committed plot PNGs, shown on the flow run's page."""
    columns = [c for c in SUMMARY_COLUMNS if c in summary.columns]
    rows = summary[columns].astype(object).where(summary[columns].notna(), None)
    create_table_artifact(
        table=[
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
            for row in rows.to_dict("records")
        ],
        key=f"people-{video_id}",
        description=f"body-language summary per person of {video_id}",
    )
    for png in plot_paths:
        name = Path(png).name
        create_image_artifact(
            image_url=store.uri("plots", video_id, name),
            key=f"plot-{video_id}-{Path(name).stem.rsplit('_', 1)[-1]}",
            description=f"{name} of {video_id}",
        )


@flow(name="process-video", log_prints=True)
def process_video(
    source: str,
    out: str,
    config: dict | None = None,
    cache_dir: str | None = None,
    force: bool = False,
    roles: dict[int, str] | None = None,
) -> dict:
    """Run the pipeline on ``source`` (path or fsspec URL) into the output root ``out``.

    ``config``: fields of :class:`flows.config.PipelineConfig`. ``roles``: track_id -> role
    (interviewer / interviewee / other) overriding the role heuristic for this video (read the
    track ids from a first run's ``tracks`` table). Returns a status row.
    """
    logger = get_run_logger()
    cfg = PipelineConfig(**(config or {}))
    roles = {int(k): str(v) for k, v in roles.items()} if roles else None
    version = code_version()
    # Stages up to smoothing depend on the config only; a roles override changes what gets
    # committed (analytics, tracks.role), so it is part of the commit's hash.
    stage_hash = cfg.hash()
    cfg_hash = config_hash_with_roles(stage_hash, roles)
    cache = Path(cache_dir) if cache_dir else default_cache_dir(out)
    store = Store(out)
    timings: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        report(source, name)
        start = time.perf_counter()
        result = fn.with_options(
            **({"result_storage": cache / "results"} if name not in UNCACHED else {})
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

    ids = {"video_id": video_id, "config_hash": stage_hash}
    info = timed("probe", stages.probe, path, **ids)
    info = dataclasses.replace(info, path=path)
    shot_list = timed("shots", stages.detect_shots, path, info, **ids)
    tracked = timed("track", stages.track_people, path, info, shot_list, cfg.to_dict(), **ids)
    if len(tracked) == 0:
        raise NoPeopleError(f"{source}: no person detected in {info.n_frames} frames")
    seq = timed("estimate", stages.estimate, path, info, tracked, cfg.to_dict(), **ids)
    seq = timed("smooth", stages.smooth, seq, info, cfg.to_dict(), **ids)
    core = core_tables(video_id, source, info, shot_list, seq, version, cfg_hash)
    features, plot_paths = None, []
    if cfg.analytics:
        smpl_df = core["smpl"].to_pandas()
        features = timed(
            "analytics", stages.analytics, smpl_df, info, roles, video_id=video_id,
            config_hash=cfg_hash,
        )  # fmt: skip
        track_roles = features["features_summary"].attrs.get("tracks_roles")
        if track_roles:  # only the tracks table carries roles; the rest stays as built
            core["tracks"] = tables.tracks_table(video_id, seq, track_roles)
        plot_paths = timed("plots", stages.plots, features, video_id)
        features = {**features, "plots": plot_paths}
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
    for temporary in [render_path, *plot_paths]:
        if temporary:
            Path(temporary).unlink(missing_ok=True)
    _artifact(video_id, source, summary, timings)
    if features is not None:
        _analytics_artifacts(store, video_id, features["features_summary"], plot_paths)
    report(source, "done")
    return {
        "source": source,
        "video_id": video_id,
        "status": "ok",
        **summary,
        "seconds": round(sum(timings.values()), 2),
    }
