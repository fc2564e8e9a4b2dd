"""Plain-Python entry points used by the ``pmrr`` CLI (``pmrr process``, ``pmrr demo``).

They run the same Prefect flows (ephemeral server unless ``PREFECT_API_URL`` points at one) and
add what a terminal user wants: a progress bar per video and where the outputs went.
"""

from __future__ import annotations

import os
from pathlib import Path

from flows import progress as progress_mod
from flows.config import PipelineConfig, load_config

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _rich_reporter():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.fields[name]}"),
        TextColumn("[cyan]{task.fields[stage]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    ids: dict[str, int] = {}

    def report(video: str, stage: str, done: int, total: int) -> None:
        if video not in ids:
            ids[video] = bar.add_task("", name=Path(video).name, stage=stage, total=None)
        fields = {"stage": stage}
        if total:
            fields.update(completed=done, total=total)
        elif stage in ("done", "skipped"):
            fields.update(completed=1, total=1)
        bar.update(ids[video], **fields)

    return bar, report


EXIT_OK, EXIT_ALL_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def exit_code(rows: list[dict]) -> int:
    """0: every video ok or skipped; 1: every video failed; 3: some failed or lack an output."""
    bad = [r for r in rows if r["status"] in ("failed", "partial")]
    if not bad:
        return EXIT_OK
    if all(r["status"] == "failed" for r in rows):
        return EXIT_ALL_FAILED
    return EXIT_PARTIAL


def process(
    inputs: list[str] | str,
    out: str,
    config: PipelineConfig | dict | None = None,
    force: bool = False,
    cache_dir: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Run :func:`flows.archive.process_archive`; prints one line per video and where the
    tables and renders are. ``config``: a :class:`PipelineConfig` or its fields."""
    from flows.archive import ArchiveFailedError, process_archive
    from storage.errors import CredentialsError

    cfg = load_config(config)  # invalid settings fail here, before anything runs
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    bar = None
    if progress:
        bar, reporter = _rich_reporter()
        progress_mod.set_reporter(reporter)
        bar.start()
    try:
        state = process_archive(
            inputs, out, config=cfg, force=force, cache_dir=cache_dir, return_state=True
        )
        result = state.result(raise_on_failure=False)
    finally:
        progress_mod.set_reporter(None)
        if bar is not None:
            bar.stop()
    if isinstance(result, ArchiveFailedError):
        rows = result.rows
    elif isinstance(result, CredentialsError):  # one line saying what to set, no traceback
        rows = [{"source": item, "status": "failed", "error": str(result)} for item in inputs]
    elif isinstance(result, BaseException):
        raise result
    else:
        rows = result
    for row in rows:
        if row["status"] == "failed":
            error, source = str(row["error"]), str(row["source"])
            print(f"FAILED  {error if error.startswith(source) else f'{source}: {error}'}")
        else:
            notes = [f"video_id={row['video_id']}"]
            if row.get("assets"):
                notes.append(f"{row['estimator']} on {row['assets']}")
            if row.get("render"):
                notes.append(f"render {row['render']}")
            for stage, error in (row.get("failures") or {}).items():
                notes.append(f"{stage} FAILED: {error}")
            print(f"{row['status']:<7} {row['source']} -> {', '.join(notes)}")
    print(f"tables: {out.rstrip('/')}/{{videos,shots,tracks,smpl,features_*}}/video_id=<id>/")
    return rows


def video_demo(vid_file: str, output_folder: str, **options) -> dict:
    """The seed's ``demo --vid_file``: one video, rendered, outputs under ``output_folder``."""
    (row,) = process([vid_file], output_folder, config={**options, "render": True})
    if row["status"] == "failed":
        raise RuntimeError(f"{vid_file}: {row['error']}")
    return row
