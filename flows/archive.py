"""``process_archive``: discover videos and run :func:`flows.video.process_video` on each.

Failure policy (chosen): a failed video is recorded in the status table and the batch goes on;
the archive flow run *fails only when every video failed* (or none was found, or the output
is unreachable -- then nothing could be written at all). A partly failed batch completes, and
its per-video status table (artifact ``archive-status`` and the return value) lists each
failure with its error, so a nightly run keeps the good videos while the bad ones are visible.

On a Dask cluster the videos of a batch run side by side, as many at a time as the cluster has
workers: each video is a ``process-video`` subflow in a thread of this flow run, and all of them
send their units to the same workers. A video's own steps (probing, the shot scan, smoothing,
analytics, the render) run in this process, and one after another they left the workers idle;
now another video's units fill that time. Each video's rows are the same as when it runs alone
(tested). Two inputs with the same content in one batch may then be processed at the same time
instead of the second being skipped: both commit the same rows under the same video id (each
commit replaces the video's files whole), and the ``videos`` row names either source.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows import cluster, components
from flows.config import PipelineConfig, load_config
from flows.video import process_video
from storage import Store, discover
from storage.errors import StorageError


class ArchiveFailedError(RuntimeError):
    """Every video of the batch failed; ``rows`` holds each one's status row."""

    def __init__(self, message: str, rows: list[dict] | None = None) -> None:
        super().__init__(message)
        self.rows = rows or []


@flow(name="process-archive", log_prints=True)
def process_archive(
    inputs: list[str],
    out: str,
    config: PipelineConfig = PipelineConfig(),  # noqa: B008 (frozen, validated model)
    force: bool = False,
    cache_dir: str | None = None,
) -> list[dict]:
    """Process every video found in ``inputs`` (files, folders, globs, fsspec URLs) into ``out``.

    Returns one status row per input: ``ok``, ``partial`` (an optional output failed),
    ``skipped`` (already committed with the same fingerprints) or ``failed`` (with ``error``)."""
    logger = get_run_logger()
    cfg = load_config(config)
    store = Store(out, credentials_block=cfg.credentials_block)
    store.check_writable()
    if cache_dir is not None and Path(cache_dir).exists() and not Path(cache_dir).is_dir():
        # else every video would fail on it, each blamed for the option's mistake
        raise StorageError(f"{cache_dir}: the stage cache (--cache-dir) is a file, not a folder")
    sources, problems = discover(inputs, exclude=[out], credentials_block=cfg.credentials_block)
    if not sources and not problems:
        raise FileNotFoundError(f"no videos found in {inputs}")
    if sources:
        # Wrong detector or estimator files would fail every video the same way: fail once, first.
        components.detector(cfg.detector, cfg.detector_config, cfg.detector_checkpoint, cfg.device)
        components.estimator(cfg.estimator, cfg.checkpoint, cfg.data_dir, cfg.device, cfg.precision)
    rows: list[dict] = [
        {"source": item, "status": "failed", "error": message} for item, message in problems
    ]
    for _item, message in problems:
        logger.error("%s", message)
    # One cluster for the whole batch (``workers``), not one per video.
    with cluster.scheduler(cfg if sources else PipelineConfig()) as address:
        video_cfg = cluster.on_scheduler(cfg, address)
        states = _run_videos(
            sources, out, video_cfg, cache_dir, force, at_once=cluster.worker_count(address)
        )
        for source, state in zip(sources, states, strict=True):
            if state.is_completed():
                rows.append(state.result())
            else:
                error = state.result(raise_on_failure=False)
                logger.error("%s failed: %s", source, error)
                rows.append(
                    {
                        "source": source,
                        "status": "failed",
                        "stage": getattr(error, "pmrr_stage", "setup"),
                        "error": _one_line(error),
                    }
                )
    create_table_artifact(
        table=[{k: str(v) for k, v in row.items() if k != "timings"} for row in rows],
        key="archive-status",
        description=f"{len(rows)} videos -> {out}",
    )
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        create_markdown_artifact(
            markdown="\n".join(
                ["| video | failed stage | error |", "|---|---|---|"]
                + [
                    f"| {r['source']} | {r.get('stage', 'input')} | {r['error'].replace('|', '/')} |"
                    for r in failed
                ]
            ),
            key="archive-failures",
            description=f"{len(failed)} of {len(rows)} videos failed",
        )
    logger.info(
        "%d videos: %d ok/partial/skipped, %d failed",
        len(rows), len(rows) - len(failed), len(failed),
    )  # fmt: skip
    if failed and len(failed) == len(rows):
        raise ArchiveFailedError(
            "all videos failed: " + "; ".join(f"{r['source']}: {r['error']}" for r in failed),
            rows,
        )
    return rows


def _run_videos(
    sources: list[str],
    out: str,
    cfg: PipelineConfig,
    cache_dir: str | None,
    force: bool,
    at_once: int,
) -> list:
    """Each source's ``process_video`` final state, in the order of ``sources``; up to
    ``at_once`` videos at a time (module docstring). Each thread runs in a copy of this flow
    run's context, so its subflow is a child of this run in the Prefect UI."""

    def one(source: str):
        return process_video(
            source, out, config=cfg, cache_dir=cache_dir, force=force, return_state=True
        )

    if at_once <= 1 or len(sources) <= 1:
        return [one(source) for source in sources]
    with ThreadPoolExecutor(min(at_once, len(sources)), thread_name_prefix="video") as pool:
        futures = [pool.submit(contextvars.copy_context().run, one, s) for s in sources]
        return [future.result() for future in futures]


def _one_line(error: BaseException | object) -> str:
    """The error's own message, first line only (the file and the problem, no traceback)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
