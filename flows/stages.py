"""Prefect tasks around the plain stage functions of :mod:`tasks` and :mod:`analytics`.

Tasks carry no Prefect cache and persist nothing: reuse across runs is decided by the stage
fingerprints of :mod:`flows.identity` and stored by :mod:`flows.cache` in a format that cannot
execute code. Deterministic input errors (:class:`~tasks.errors.VideoError`) are not retried;
anything else (an I/O hiccup, a worker dying) is retried once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows import components
from flows.config import PipelineConfig
from flows.progress import report
from tasks import detection, shots, smoothing, tracking
from tasks.errors import VideoError
from tasks.inference import estimate_sequence
from tasks.probe import VideoInfo, probe_video
from tasks.sequence import SmplSequence
from tasks.tracking import TrackedBoxes


def _retry_unless_bad_input(_task, _task_run, state) -> bool:
    error = state.result(raise_on_failure=False)
    return not isinstance(error, VideoError)


def _stage(name: str):
    return task(
        name=name,
        cache_policy=NO_CACHE,
        persist_result=False,
        retries=1,
        retry_delay_seconds=1,
        retry_condition_fn=_retry_unless_bad_input,
    )


@_stage("probe")
def probe(path: str) -> VideoInfo:
    return probe_video(path)


@_stage("shots")
def scan_shots(info: VideoInfo) -> tuple[list[shots.Shot], np.ndarray]:
    """Shots and the frames that could not be decoded (one small-size decode pass)."""
    report(info.path, "shots")
    return shots.scan_video(info, info.fps)


@_stage("track")
def track_people(info: VideoInfo, shot_list: list[shots.Shot], cfg: PipelineConfig) -> TrackedBoxes:
    frames = detection.detection_frames(shot_list, cfg.detect_every_k)
    model = components.detector(
        cfg.detector, cfg.detector_config, cfg.detector_checkpoint, cfg.device
    )
    done = 0

    def stream():
        nonlocal done
        for item in detection.detect_people(info, frames, model):
            done += 1
            if done % 16 == 0 or done == len(frames):
                report(info.path, "detect+track", done, len(frames))
            yield item

    return tracking.track_detections(stream(), shot_list, info.fps, cfg.detect_every_k)


@_stage("estimate")
def estimate(info: VideoInfo, tracked: TrackedBoxes, cfg: PipelineConfig) -> SmplSequence:
    model = components.estimator(
        cfg.estimator, cfg.checkpoint, cfg.data_dir, cfg.device, cfg.precision
    )
    total = len(set(tracked.frame.tolist()))
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        report(info.path, "estimate", done, total)

    return estimate_sequence(info, tracked, model, chunk_size=cfg.chunk_size, on_progress=progress)


@_stage("smooth")
def smooth(seq: SmplSequence, info: VideoInfo, cfg: PipelineConfig) -> SmplSequence:
    return smoothed(seq, info, cfg)


def smoothed(seq: SmplSequence, info: VideoInfo, cfg: PipelineConfig) -> SmplSequence:
    """Smoothed parameters; joints re-posed from them by the run's body model (the stage's
    work as a plain function, also for benchmarks that run the stages without Prefect)."""
    return smoothing.smooth_sequence(
        seq, info.fps, cfg.smoothing, cfg.smoothing_sigma_s,
        joints_fn=components.body_joints_fn(cfg.data_dir),
        image_size_hw=(info.height_px, info.width_px),
    )  # fmt: skip


@_stage("analytics")
def analytics(smpl_df, info: VideoInfo, roles: dict[int, str] | None, cfg: PipelineConfig) -> dict:
    """Body-language tables (:mod:`analytics`) calibrated on the body model the run uses;
    ``roles`` overrides the role heuristic."""
    from analytics.calibration import neutral_from_body_model
    from analytics.pipeline import compute_video_features

    neutral = neutral_from_body_model(components.body_model(cfg.data_dir))
    tables = compute_video_features(smpl_df, info.fps, info.n_frames, roles=roles, neutral=neutral)
    return on_timeline(tables, info)


def on_timeline(tables: dict, info: VideoInfo) -> dict:
    """Per-frame and event times from the video's presentation times (analytics counts frames
    at the mean rate; for variable-rate video that drifts). Windows stay on the frame grid."""
    times = info.times()
    frames = tables["features_frames"]
    if len(frames):
        frames["t_s"] = times[frames["frame"].to_numpy(np.int64)]
    events = tables["events"]
    if len(events):
        events["start_s"] = times[events["start_frame"].to_numpy(np.int64)]
        events["end_s"] = info.end_times()[events["end_frame"].to_numpy(np.int64)]
        if "duration_s" in events:
            events["duration_s"] = events["end_s"] - events["start_s"]
    return tables


@_stage("plots")
def plots(features: dict, video_id: str) -> list[str]:
    """Time-series and event-raster PNGs in a temporary folder (committed by :func:`publish`)."""
    from analytics.plots import plot_video_features

    folder = Path(tempfile.mkdtemp(prefix="pmrr-plots-"))
    return [str(p) for p in plot_video_features(features, folder)]


@_stage("annotations")
def annotations(video_id: str, source: str, info: VideoInfo, features: dict, tracks) -> str:
    """ELAN, windows CSV and rMEA files in a temporary folder (committed by :func:`publish`)."""
    from tasks.annotations import write_annotations

    folder = Path(tempfile.mkdtemp(prefix="pmrr-annotations-"))
    return str(write_annotations(folder, video_id, source, info, features, tracks))


@_stage("render")
def render(info: VideoInfo, seq: SmplSequence, cfg: PipelineConfig, video_id: str) -> str:
    """Local .mp4 in a temporary folder (uploaded by :func:`publish`)."""
    from tasks.render import render_video

    out = Path(tempfile.mkdtemp(prefix="pmrr-render-")) / f"{video_id}.mp4"
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        report(info.path, "render", done, info.n_frames)

    render_video(
        info,
        seq,
        out,
        components.body_model(cfg.data_dir),
        components.overlay(),
        chunk_size=cfg.chunk_size,
        on_progress=progress,
    )
    return str(out)
