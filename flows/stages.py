"""Prefect tasks around the plain stage functions of :mod:`tasks` and :mod:`analytics`.

Tasks carry no Prefect cache and persist nothing: reuse across runs is decided by the stage
fingerprints of :mod:`flows.identity` and stored by :mod:`flows.cache` in a format that cannot
execute code. Deterministic input errors (:class:`~tasks.errors.VideoError`) are not retried;
anything else (an I/O hiccup, a worker dying) is retried once.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows import components
from flows.config import PipelineConfig
from flows.progress import report
from tasks import detection, layout, shots, smoothing, tracking
from tasks.errors import VideoError
from tasks.inference import estimate_sequence, estimated_rows
from tasks.probe import VideoInfo, probe_video
from tasks.sequence import SmplSequence
from tasks.tracking import TrackedBoxes
from tasks.units import WorkUnit, rows_of, split_shots, stitch


def _retry_unless_bad_input(_task, _task_run, state) -> bool:
    error = state.result(raise_on_failure=False)
    return not isinstance(error, VideoError)


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A new temporary folder for a stage's files, removed if the stage fails.

    On success the folder is handed on and removed once published (:func:`remove_scratch`);
    without this a failed render left its half-written video behind, once per try.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def remove_scratch(paths: list[str | None]) -> None:
    """Remove the scratch folders of the stage outputs ``paths`` (files or folders).

    Called whether publishing worked or not: a batch over thousands of videos must not leave a
    folder per video in the system's temporary directory.
    """
    for path in filter(None, paths):
        folder = Path(path)
        shutil.rmtree(folder if folder.is_dir() else folder.parent, ignore_errors=True)


def _stage(name: str, retries: int = 1):
    return task(
        name=name,
        cache_policy=NO_CACHE,
        persist_result=False,
        retries=retries,
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


def units(info: VideoInfo, shot_list: list[shots.Shot], cfg: PipelineConfig) -> list[WorkUnit]:
    return split_shots(shot_list, info.fps, cfg.unit_s)


def track_unit(info: VideoInfo, unit: WorkUnit, cfg: PipelineConfig, progress=None) -> TrackedBoxes:
    """Detect and track the people of one unit (unit-local track IDs)."""
    model = components.detector(
        cfg.detector, cfg.detector_config, cfg.detector_checkpoint, cfg.device
    )
    frames = detection.detection_frames([unit.as_shot()], cfg.detect_every_k)
    tiles = layout.unit_tiles(info, unit.start_frame, unit.end_frame) if cfg.split_screen else ()

    def stream():
        for item in detection.detect_in_tiles(info, frames, model, tiles):
            if progress is not None:
                progress(1)
            yield item

    tracked = tracking.track_detections(stream(), [unit.as_shot()], info.fps, cfg.detect_every_k)
    return tracked.with_tiles(tiles)


def estimate_unit(
    info: VideoInfo, tracked: TrackedBoxes, cfg: PipelineConfig, progress=None
) -> SmplSequence:
    """SMPL bodies of one unit's tracked people (the estimator starts cold at the unit)."""
    model = components.estimator(
        cfg.estimator, cfg.checkpoint, cfg.data_dir, cfg.device, cfg.precision
    )
    return estimate_sequence(
        info,
        tracked,
        model,
        chunk_size=cfg.chunk_size,
        on_progress=progress,
        every_k=cfg.estimate_every_k,
    )


track_unit_task = _stage("track-unit")(track_unit)
estimate_unit_task = _stage("estimate-unit")(estimate_unit)


def _counter(info: VideoInfo, label: str, total: int):
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if done % 16 == 0 or done >= total:
            report(info.path, label, done, total)

    return progress


@_stage("track")
def track_people(info: VideoInfo, shot_list: list[shots.Shot], cfg: PipelineConfig) -> TrackedBoxes:
    """Every unit in this process, in order."""
    todo = units(info, shot_list, cfg)
    total = sum(len(detection.detection_frames([u.as_shot()], cfg.detect_every_k)) for u in todo)
    progress = _counter(info, "detect+track", total)
    tracked = stitch([(u, track_unit(info, u, cfg, progress)) for u in todo])
    return tracking.without_lone_detections(tracked, shot_list, cfg.detect_every_k)


def _unit_rows(info, shot_list, tracked, cfg) -> list[TrackedBoxes]:
    """Each unit's tracked rows, for the units that have any."""
    parts = [rows_of(tracked, u) for u in units(info, shot_list, cfg)]
    return [p for p in parts if len(p)]


def _joined(parts: list[SmplSequence]) -> SmplSequence:
    """Units' sequences as one (metadata from a unit that found someone)."""
    found = [p for p in parts if len(p)]
    return SmplSequence.concat(found) if found else (parts[0] if parts else SmplSequence.empty())


@_stage("estimate")
def estimate(
    info: VideoInfo, shot_list: list[shots.Shot], tracked: TrackedBoxes, cfg: PipelineConfig
) -> SmplSequence:
    """Every unit in this process, in order."""
    parts = _unit_rows(info, shot_list, tracked, cfg)
    seen = [p.frame[estimated_rows(p, cfg.estimate_every_k)] for p in parts]
    progress = _counter(info, "estimate", sum(len(np.unique(f)) for f in seen))
    return _joined([estimate_unit(info, t, cfg, progress) for t in parts])


def track_on(runner, info: VideoInfo, shot_list: list[shots.Shot], cfg: PipelineConfig):
    """The ``track`` stage with its units spread over ``runner``'s workers (None: in process)."""
    if runner is None:
        return track_people(info, shot_list, cfg)
    from flows.cluster import run_units

    todo = units(info, shot_list, cfg)
    items = [{"info": info, "unit": u, "cfg": cfg} for u in todo]
    parts = run_units(runner, track_unit_task, items, _units_done(info, "detect+track", len(items)))
    tracked = stitch(list(zip(todo, parts, strict=True)))
    return tracking.without_lone_detections(tracked, shot_list, cfg.detect_every_k)


def estimate_on(runner, info, shot_list, tracked: TrackedBoxes, cfg: PipelineConfig):
    """The ``estimate`` stage with its units spread over ``runner``'s workers."""
    if runner is None:
        return estimate(info, shot_list, tracked, cfg)
    from flows.cluster import run_units

    parts = _unit_rows(info, shot_list, tracked, cfg)
    items = [{"info": info, "tracked": t, "cfg": cfg} for t in parts]
    done = _units_done(info, "estimate", len(items))
    return _joined(run_units(runner, estimate_unit_task, items, done))


def _units_done(info: VideoInfo, stage: str, total: int):
    report(info.path, f"{stage} (units)", 0, total)
    return lambda n: report(info.path, f"{stage} (units)", n, total)


@_stage("smooth", retries=0)  # in place: a retry would smooth smoothed values
def smooth(seq: SmplSequence, info: VideoInfo, cfg: PipelineConfig) -> SmplSequence:
    """The estimated sequence smoothed in place (the flow drops the estimate after it)."""
    return smoothed(seq, info, cfg, in_place=True)


def smoothed(
    seq: SmplSequence, info: VideoInfo, cfg: PipelineConfig, in_place: bool = False
) -> SmplSequence:
    """Smoothed parameters; joints re-posed from them by the run's body model (the stage's
    work as a plain function, also for benchmarks that run the stages without Prefect)."""
    return smoothing.smooth_sequence(
        seq, info.fps, cfg.smoothing, cfg.smoothing_sigma_s,
        joints_fn=components.body_joints_fn(cfg.data_dir),
        image_size_hw=(info.height_px, info.width_px), stride=cfg.estimate_every_k,
        in_place=in_place, times=info.times(),
    )  # fmt: skip


@_stage("people")
def people(info: VideoInfo, seq: SmplSequence, cfg: PipelineConfig) -> dict[int, int]:
    """{track_id: person_id}: the tracks of one person across shots (:mod:`tasks.people`)."""
    from tasks.people import link_people

    return link_people(info, seq, cfg.people_max_distance)


@_stage("analytics")
def analytics(
    smpl_df,
    info: VideoInfo,
    roles: dict[int, str] | None,
    persons: dict[int, int],
    cfg: PipelineConfig,
) -> dict:
    """Body-language tables (:mod:`analytics`) calibrated on the body model the run uses;
    ``roles`` overrides the role heuristic; ``persons`` ({track_id: person_id}) gives a
    person's tracks one role."""
    from analytics.calibration import neutral_from_body_model
    from analytics.pipeline import compute_video_features

    neutral = neutral_from_body_model(components.body_model(cfg.data_dir))
    # the video's presentation times: per-frame times, events and windows on one clock (the
    # mean rate's frame grid drifts from them on variable-rate video)
    return compute_video_features(
        smpl_df, info.fps, info.n_frames, roles=roles, neutral=neutral, persons=persons,
        timeline=(info.times(), info.end_times()),
    )  # fmt: skip


@_stage("plots")
def plots(features: dict, video_id: str) -> list[str]:
    """Time-series and event-raster PNGs in a temporary folder (staged by
    :class:`tasks.publish.Publication`)."""
    from analytics.plots import plot_video_features

    with scratch_folder("pmrr-plots-") as folder:
        paths = [str(p) for p in plot_video_features(features, folder)]
        if not paths:  # nothing to hand on, so nothing would remove it later
            folder.rmdir()
        return paths


@_stage("annotations")
def annotations(video_id: str, source: str, info: VideoInfo, features: dict, tracks) -> str:
    """ELAN, windows CSV and rMEA files in a temporary folder (staged by
    :class:`tasks.publish.Publication`)."""
    from tasks.annotations import write_annotations

    with scratch_folder("pmrr-annotations-") as folder:
        return str(write_annotations(folder, video_id, source, info, features, tracks))


@_stage("render")
def render(info: VideoInfo, seq: SmplSequence, cfg: PipelineConfig, video_id: str) -> str:
    """Local .mp4 in a temporary folder (staged by :class:`tasks.publish.Publication`)."""
    from tasks.render import render_video

    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        report(info.path, "render", done, info.n_frames)

    with scratch_folder("pmrr-render-") as folder:
        out = folder / f"{video_id}.mp4"
        render_video(
            info,
            seq,
            out,
            components.body_model(cfg.data_dir),
            components.overlay(),
            chunk_size=cfg.chunk_size,
            on_progress=progress,
            max_side=cfg.render_max_side,
        )
        return str(out)
