"""Plain-Python entry points used by the ``pmrr`` CLI (``pmrr process``, ``pmrr demo``).

They run the same Prefect flows (ephemeral server unless ``PREFECT_API_URL`` points at one) and
add what a terminal user wants: a progress bar per video and where the outputs went.
"""

from __future__ import annotations

import os
from pathlib import Path

from flows import progress as progress_mod

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


def process(
    inputs: list[str] | str,
    out: str,
    estimator: str = "landmark-fit",
    render: bool = True,
    progress: bool = True,
    **options,
) -> list[dict]:
    """Run :func:`flows.archive.process_archive`; prints a status line per video and where the
    tables and renders are. ``options`` go to the flow (detector, detect_every_k, ...)."""
    from flows.archive import process_archive

    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    bar = None
    if progress:
        bar, reporter = _rich_reporter()
        progress_mod.set_reporter(reporter)
        bar.start()
    try:
        rows = process_archive(inputs, out, estimator=estimator, render=render, **options)
    finally:
        progress_mod.set_reporter(None)
        if bar is not None:
            bar.stop()
    for row in rows:
        if row["status"] == "failed":
            print(f"FAILED  {row['source']}: {row['error']}")
        else:
            render_note = f", render {row['render']}" if row.get("render") else ""
            print(f"{row['status']:<7} {row['source']} -> video_id={row['video_id']}{render_note}")
    print(f"tables: {out.rstrip('/')}/{{videos,shots,tracks,smpl,features_*}}/video_id=<id>/")
    return rows


def video_demo(
    vid_file: str, output_folder: str, estimator: str = "landmark-fit", **options
) -> dict:
    """The seed's ``demo --vid_file``: one video, rendered, outputs under ``output_folder``."""
    rows = process([vid_file], output_folder, estimator=estimator, render=True, **options)
    row = rows[0]
    if row["status"] == "failed":
        raise RuntimeError(f"{vid_file}: {row['error']}")
    return row
