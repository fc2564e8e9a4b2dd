"""``process_archive``: discover videos and run :func:`flows.video.process_video` on each.

Failure policy (chosen): a failed video is recorded in the status table and the batch goes on;
the archive flow run *fails only when every video failed* (or none was found, or the output
is unreachable -- then nothing could be written at all). A partly failed batch completes, and
its per-video status table (artifact ``archive-status`` and the return value) lists each
failure with its error, so a nightly run keeps the good videos while the bad ones are visible.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows import components
from flows.config import PipelineConfig
from flows.video import process_video
from storage import Store, discover


class ArchiveFailedError(RuntimeError):
    """Every video of the batch failed."""


@flow(name="process-archive", log_prints=True)
def process_archive(
    inputs: list[str],
    out: str,
    estimator: str = "landmark-fit",
    render: bool = True,
    detector: str = "mediapipe",
    detector_config: str | None = None,
    detector_checkpoint: str | None = None,
    detect_every_k: int = 3,
    smoothing: str = "offline",
    analytics: bool = True,
    checkpoint: str | None = None,
    data_dir: str | None = None,
    device: str = "cpu",
    cache_dir: str | None = None,
    force: bool = False,
) -> list[dict]:
    """Process every video found in ``inputs`` (files, folders, globs, fsspec URLs) into ``out``."""
    logger = get_run_logger()
    sources = discover(inputs)
    if not sources:
        raise FileNotFoundError(f"no videos found in {inputs}")
    Store(out).check_writable()
    config = PipelineConfig(
        estimator=estimator,
        checkpoint=checkpoint,
        data_dir=data_dir,
        device=device,
        detector=detector,
        detector_config=detector_config,
        detector_checkpoint=detector_checkpoint,
        detect_every_k=detect_every_k,
        smoothing=smoothing,
        render=render,
        analytics=analytics,
    ).to_dict()
    # Wrong detector or estimator files would fail every video the same way: fail once, first.
    components.detector(detector, detector_config, detector_checkpoint, device)
    components.estimator(estimator, checkpoint, data_dir, device)
    rows: list[dict] = []
    for source in sources:
        state = process_video(
            source, out, config=config, cache_dir=cache_dir, force=force, return_state=True
        )
        if state.is_completed():
            rows.append(state.result())
        else:
            error = state.result(raise_on_failure=False)
            logger.error("%s failed: %s", source, error)
            rows.append({"source": source, "status": "failed", "error": str(error)})
    create_table_artifact(
        table=[{k: str(v) for k, v in row.items()} for row in rows],
        key="archive-status",
        description=f"{len(rows)} videos -> {out}",
    )
    failed = [r for r in rows if r["status"] == "failed"]
    logger.info(
        "%d videos: %d ok/skipped, %d failed", len(rows), len(rows) - len(failed), len(failed)
    )
    if failed and len(failed) == len(rows):
        raise ArchiveFailedError(
            "all videos failed: " + "; ".join(f"{r['source']}: {r['error']}" for r in failed)
        )
    return rows
