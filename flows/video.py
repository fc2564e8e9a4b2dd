"""``process_video``: one video through every stage (a thin flow; the work is in :mod:`tasks`).

What runs is decided by fingerprints (:mod:`flows.identity`): each committed output records the
fingerprint it was made with, and a run

- skips the video when every wanted output is committed with its current fingerprint;
- otherwise produces only the outputs whose fingerprint changed or that are missing, loading the
  stages they need from the stage cache (:mod:`flows.cache`) when their fingerprint is there,
  and carrying the unchanged outputs into the new commit without rewriting them;
- with ``force``, recomputes every stage and rewrites every output.

Failure isolation: probe -> shots -> track -> estimate -> smooth -> people and the core tables
are the video; a failure there fails the video and leaves its previous commit untouched.
Render, exports, analytics and plots are optional outputs: a failure in one is recorded (stage
and error, in the manifest and the ``videos`` row), the rest is committed, and the next run
produces only what is missing.

Outputs are staged as they are made (:class:`tasks.publish.Publication`): the core tables and
exports, then the render, all from the smoothed sequence, which then goes, so analytics, plots
and annotations run without the whole video's person-frames in memory. Readers see nothing
before the one commit at the end.
"""

from __future__ import annotations

import dataclasses
import os
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from prefect import flow, get_run_logger

from flows import cluster, components, identity, stages, ui
from flows.cache import StageCache
from flows.config import PipelineConfig, load_config
from flows.progress import report
from storage import Store, localize
from storage.errors import StorageError
from tasks import tables
from tasks.errors import VideoError
from tasks.memory import release_freed_memory
from tasks.probe import content_hash
from tasks.publish import Publication, core_tables

CORE_TABLES = ("shots", "tracks", "smpl")
ANALYTICS_TABLES = (
    "features_frames",
    "features_windows",
    "features_summary",
    "features_people",
    "events",
)
AFTER_ANALYTICS = ("plots", "annotations")  # outputs made from the analytics tables


class NoPeopleError(VideoError):
    """The video decodes but nobody was detected in it."""


def default_cache_dir(out: str) -> Path:
    """Stage cache and downloaded inputs: under a local output, else the user cache."""
    if "://" not in out or out.startswith("file://"):
        return Path(out.removeprefix("file://")) / "_cache"
    base = os.environ.get("PMRR_CACHE_DIR") or Path.home() / ".cache" / "pmrr_interviews"
    return Path(base) / "pipeline-cache"


def wanted_outputs(cfg: PipelineConfig, fps: identity.Fingerprints) -> dict[str, str]:
    """Output name -> the fingerprint it must carry under this configuration."""
    wanted = {name: fps["tables"] for name in CORE_TABLES}
    if cfg.export_npz:
        wanted["exports"] = fps["exports"]
    if cfg.render:
        wanted["render"] = fps["render"]
    if cfg.analytics:
        wanted.update({name: fps["analytics"] for name in ANALYTICS_TABLES})
        wanted["plots"] = fps["plots"]
        wanted["annotations"] = fps["annotations"]
    return wanted


@flow(name="process-video", log_prints=True)
def process_video(
    source: str,
    out: str,
    config: PipelineConfig | None = None,
    cache_dir: str | None = None,
    force: bool = False,
) -> dict:
    """Run the pipeline on ``source`` (path or fsspec URL) into the output root ``out``.

    ``config.roles`` may hold this video's roles override (by video id or file name). Returns a
    status row: status ``ok``, ``partial`` (some optional outputs failed; see ``failures``) or
    ``skipped``."""
    logger = get_run_logger()
    cfg = load_config(config)
    store = Store(out, credentials_block=cfg.credentials_block)
    cache = StageCache(Path(cache_dir) if cache_dir else default_cache_dir(out))
    timings: dict[str, float] = {}
    start = time.perf_counter()
    path = localize(source, cache.folder, cfg.credentials_block)
    video_id = content_hash(path)
    timings["hash"] = time.perf_counter() - start
    roles = cfg.roles_for(video_id, source)
    assets = components.assets(cfg.data_dir)
    fps = identity.fingerprints(video_id, cfg, assets.describe(), roles)
    wanted = wanted_outputs(cfg, fps)
    try:
        manifest = store.manifest(video_id) or {}
    except StorageError as error:  # unknown what is committed: make it all, the commit replaces
        logger.warning("%s: %s; processing it again in full", source, error)
        manifest = {}
    committed = {} if force else dict(manifest.get("outputs", {}))
    todo = [name for name in wanted if committed.get(name) != wanted[name]]
    if not todo and not manifest.get("failures") and set(committed) == set(wanted):
        logger.info("%s: committed as %s with the same fingerprints, skipping", source, video_id)
        report(source, "skipped")
        return {"source": source, "video_id": video_id, "status": "skipped"}
    logger.info("%s (%s): producing %s", source, video_id, ", ".join(todo) or "the videos row")

    results: dict[str, object] = {}
    nested = [0.0]  # seconds of stages computed inside the stage being computed
    computing: list[str] = []  # the stages being computed, outermost first

    def get(stage: str, compute):
        """A stage's result: memo, then the stage cache, then computed (and cached)."""
        if stage in results:
            return results[stage]
        found, value = (False, None) if force else cache.get(video_id, stage, fps[stage])
        if found:
            logger.info("%s: %s loaded from the stage cache", Path(source).name, stage)
        else:
            report(source, stage)
            computing.append(stage)
            outer, nested[0] = nested[0], 0.0
            began = time.perf_counter()
            try:
                value = compute()
            except Exception as error:
                if not hasattr(error, "pmrr_stage"):  # the innermost stage is the one that failed
                    error.pmrr_stage = stage
                raise
            finally:  # the next stage starts from what this one holds, not what it held
                release_freed_memory()
                computing.pop()
                if computing:  # a stage computed on the way: the rest is the outer one's again
                    report(source, computing[-1])
            took = time.perf_counter() - began
            # a stage's own time: the stages it computed on the way (tracking inside the
            # estimate) have their own entry, and the sum of all entries is the run's time
            timings[stage] = took - nested[0]
            nested[0] = outer + took
            logger.info("%s: %s done in %.2f s", Path(source).name, stage, timings[stage])
            cache.put(video_id, stage, fps[stage], value)
        results[stage] = value
        return value

    def info():
        value = get("probe", lambda: stages.probe(path))
        return dataclasses.replace(value, path=path)  # the cached path may be another copy

    def scan():
        shots, lost = get("shots", lambda: stages.scan_shots(info()))
        if not shots:
            error = VideoError(f"{source}: no decodable frames (all {info().n_frames} damaged)")
            error.pmrr_stage = "shots"
            raise error
        return shots, lost

    def shot_list():
        return scan()[0]

    def tracked():
        value = get("track", lambda: stages.track_on(runner(), info(), shot_list(), cfg))
        if len(value) == 0:
            error = NoPeopleError(f"{source}: no person detected in {info().n_frames} frames")
            error.pmrr_stage = "track"
            raise error
        return value

    def smoothed():
        seq = get(
            "estimate", lambda: stages.estimate_on(runner(), info(), shot_list(), tracked(), cfg)
        )
        return get("smooth", lambda: stages.smooth(seq, info(), cfg))

    # Core: any failure here fails the video (the previous commit stays untouched). The units
    # of work go to a Dask cluster when the configuration names one or asks for workers.
    units_on = ExitStack()
    started: list = []

    def runner():
        if not started:
            address = units_on.enter_context(cluster.scheduler(cfg))
            started.append(units_on.enter_context(cluster.task_runner(address)))
        return started[0]

    with units_on:
        seq = smoothed()
    for stage in ("track", "estimate"):  # only smoothing reads them: free them for long videos
        results.pop(stage, None)
    release_freed_memory()
    persons = get("people", lambda: stages.people(info(), seq, cfg))
    failures: dict[str, str] = {}
    produced: dict[str, str] = {n: wanted[n] for n in CORE_TABLES}

    def optional(stage: str, fn, timed: bool = False):
        """Run an optional stage; on failure record it and go on (``timed``: not a cached
        stage, so time it here). What it freed goes back where the next step starts (each
        staging step, and ``get`` after a cached stage), not here as well."""
        try:
            report(source, stage)
            began = time.perf_counter()
            value = fn()
            if timed:
                timings[stage] = time.perf_counter() - began
            return value
        except Exception as error:  # recorded per video; the core tables still commit
            failures[stage] = f"{type(error).__name__}: {error}"
            logger.error("%s: %s failed: %s", source, stage, failures[stage])
            logger.debug("%s failed", stage, exc_info=True)
            return None

    def staged(fn) -> None:
        """Stage an output (``fn`` writes it), timed as part of the write. What the previous
        step freed goes back first: the writer's buffers come from Arrow's allocator, which
        cannot reuse what glibc keeps, and the two stacked up (at an hour, the core tables)."""
        report(source, "write")
        began = time.perf_counter()
        release_freed_memory()
        fn()
        timings["write"] = timings.get("write", 0.0) + time.perf_counter() - began

    # Each output is staged as soon as it is made, so that what made it can go (an hour's
    # smoothed sequence and smpl table are hundreds of MiB); nothing is visible before the
    # commit, and any failure until then leaves the previous commit untouched.
    scratch: list[str | None] = []  # the stages' temporary folders, removed in any case
    try:
        with Publication(store, video_id) as publication:
            report(source, "write")
            core = core_tables(video_id, info(), shot_list(), seq, roles, persons)
            for name in CORE_TABLES:
                if name in todo:
                    staged(lambda name=name: publication.table(name, core[name]))
            if "exports" in todo:
                staged(lambda: publication.exports(seq, info()))
            if "render" in todo:
                render_path = optional(
                    "render", lambda: stages.render(info(), seq, cfg, video_id), timed=True
                )
                scratch.append(render_path)
                if render_path:
                    staged(lambda: publication.file(render_path, "render"))
            if cfg.render and "render" not in failures:
                produced["render"] = wanted["render"]
            if cfg.export_npz:
                produced["exports"] = wanted["exports"]
            # what the videos row and the analytics still read; the rest of the person-frames go
            from analytics.pipeline import SMPL_COLUMNS

            summary = {
                "tracks": len(set(seq.track_id.tolist())),
                "person_frames": len(seq),
                "meta": seq.take(np.zeros(0, np.int64)),  # no rows: focal length, estimator
            }
            smpl_columns = core["smpl"].select(list(SMPL_COLUMNS))
            tracks_df = core["tracks"].to_pandas()
            results.pop("smooth", None)
            core = seq = None  # not del: the closures above read these names
            release_freed_memory()

            features = plot_paths = None
            if cfg.analytics and not any(n in todo for n in (*ANALYTICS_TABLES, *AFTER_ANALYTICS)):
                produced.update({n: wanted[n] for n in (*ANALYTICS_TABLES, *AFTER_ANALYTICS)})
            elif cfg.analytics:

                def compute_features():
                    from analytics.tables import from_arrow

                    smpl_df = from_arrow(smpl_columns)
                    return get(
                        "analytics",
                        lambda: stages.analytics(smpl_df, info(), roles, persons, cfg),
                    )

                features = optional("analytics", compute_features)
                del smpl_columns
                if features is not None:  # else the plots are missing too, and the next run
                    from analytics.tables import to_arrow  # makes both

                    for name in ANALYTICS_TABLES:
                        produced[name] = wanted[name]
                        if name in todo:
                            staged(lambda name=name: publication.table(
                                name, to_arrow(features[name], name)
                            ))  # fmt: skip
                    if "plots" in todo:
                        plot_paths = optional(
                            "plots", lambda: stages.plots(features, video_id), timed=True
                        )
                        scratch.extend(plot_paths or ())
                        if plot_paths:
                            # the plots stage's own folder holds them and nothing else
                            staged(lambda: publication.folder(
                                Path(plot_paths[0]).parent, "plots"
                            ))  # fmt: skip
                    if "plots" not in failures:
                        produced["plots"] = wanted["plots"]
                    if "annotations" in todo:
                        annotations_dir = optional(
                            "annotations",
                            lambda: stages.annotations(
                                video_id, source, info(), features, tracks_df
                            ),
                            timed=True,
                        )
                        scratch.append(annotations_dir)
                        if annotations_dir:
                            staged(lambda: publication.folder(
                                Path(annotations_dir), "annotations"
                            ))  # fmt: skip
                    if "annotations" not in failures:
                        produced["annotations"] = wanted["annotations"]

            report(source, "write")
            status = "partial" if failures else "ok"
            row = {
                "source": source,
                "video_id": video_id,
                "status": status,
                "frames": info().n_frames,
                "frames_lost": len(scan()[1]),
                "fps": round(info().fps, 3),
                "shots": len(shot_list()),
                "tracks": summary["tracks"],
                "people": len(set(persons.values())),
                "person_frames": summary["person_frames"],
                "estimator": summary["meta"].estimator or cfg.estimator,
                "assets": summary["meta"].assets,
                "render": store.uri("renders", f"{video_id}.mp4") if "render" in produced else "",
                "tables": store.url,
                "failures": failures,
            }
            videos = tables.videos_table(
                video_id, info(), source, len(shot_list()), row["tracks"], row["people"],
                summary["meta"], identity.code_version(), fps.to_dict(), failures, scan()[1],
            )  # fmt: skip
            staged(lambda: publication.table("videos", videos))
            began = time.perf_counter()
            publication.commit(
                keep=[n for n in produced if n not in todo],
                extra={
                    "status": status,
                    "source_uri": source,
                    "estimator": row["estimator"],
                    "assets": row["assets"],
                    "code_version": identity.code_version(),
                    "fingerprints": fps.to_dict(),
                    "outputs": dict(produced),
                    "failures": failures,
                    "summary": {
                        k: row[k]
                        for k in (
                            "frames",
                            "frames_lost",
                            "fps",
                            "shots",
                            "tracks",
                            "people",
                            "person_frames",
                        )
                    },
                },
            )
            timings["write"] = timings.get("write", 0.0) + time.perf_counter() - began
    finally:  # published or not, the stages' scratch folders go
        stages.remove_scratch(scratch)
    cache.prune(video_id, fps.to_dict())
    row["timings"] = {k: round(v, 3) for k, v in timings.items()}
    row["seconds"] = round(sum(timings.values()), 2)
    ui.video_artifacts(store, row, features, show_plots="plots" in produced)
    report(source, "done")
    return row
