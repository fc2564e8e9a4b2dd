"""Per-video figures: time series of the main measures per person, and an event raster."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analytics.events import runs  # noqa: E402
from analytics.tables import EVENT_TYPES  # noqa: E402

#: (column, axis label) of the time-series panels, top to bottom.
TIMESERIES = (
    ("trunk_lean_forward_deg", "trunk lean fwd (deg)"),
    ("head_pitch_deg", "head pitch (deg)"),
    ("head_yaw_deg", "head yaw (deg)"),
    ("expansiveness_ratio", "expansiveness"),
    ("hand_face_dist_m", "hand-face dist (m)"),
    ("motion_energy_m_per_s", "motion energy (m/s)"),
)
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
#: People drawn in a figure at most. Why: a video with cuts has a track per person per shot, and
#: the figures had a row or a line for each (now one per person, :func:`by_person`, but tracks
#: whose person is not recognised in another shot are each someone). Tables of 600 tracks (as many as ten minutes of the
#: looped two-person sample has, a cut every 3 s) made an events raster of 1320 x 148,016 pixels,
#: 95 s and 1.5 GB of memory to draw and unreadable once drawn; with the cap 3,132 pixels, 1.3 s
#: and 41 MB (``tests/test_plots.py``'s tables, measured). The figures are an overview; every
#: person's numbers are in the tables.
MAX_PEOPLE_PLOTTED = 12


def fps_of(frames: pd.DataFrame) -> float:
    """Frame rate from the reindexed frames (t_s = frame / fps)."""
    f = frames[frames["frame"] > 0].head(1)
    return float(f["frame"].iloc[0] / f["t_s"].iloc[0]) if len(f) else 1.0


def _label(person: int, roles: dict[int, str]) -> str:
    return f"person {person} ({roles.get(person, '?')})"


def by_person(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``features_frames`` and ``events`` with a ``person`` column (``features_summary.person_id``;
    the track where the summary has none), and each person's role. Why: a track ends at every
    cut, so an edited interview has a track per person per shot; the figures draw one line and
    one raster row per person, their tracks one after another. Only the frame columns the
    figures read are kept: a copy of the whole table was 60 MiB more an hour."""
    s = tables["features_summary"]
    ids = s["person_id"] if "person_id" in s else s["track_id"]
    person = {int(t): int(p) for t, p in zip(s["track_id"], ids, strict=True)}
    roles = {person[int(t)]: str(r) for t, r in zip(s["track_id"], s["role"], strict=True)}
    frames, events = tables["features_frames"], tables["events"]
    read = ("video_id", "track_id", "frame", "t_s", "has_data", *(c for c, _ in TIMESERIES))
    frames = frames[[c for c in read if c in frames]]
    frames = frames.assign(person=[person[int(t)] for t in frames["track_id"]])
    events = events.assign(person=[person[int(t)] for t in events["track_id"]])
    return frames, events, roles


def shown_people(frames: pd.DataFrame, roles: dict[int, str]) -> list[int]:
    """The people (``frames.person``) a figure draws, in id order: all of them up to
    :data:`MAX_PEOPLE_PLOTTED`, else the interviewer and interviewee and then those with the
    most frames with data."""
    seen = frames.groupby("person")["has_data"].sum()
    ranked = sorted(
        (int(p) for p in seen.index),
        key=lambda p: (roles.get(p, "other") == "other", -int(seen[p]), p),
    )
    return sorted(ranked[:MAX_PEOPLE_PLOTTED])


def _shown_note(shown: list[int], frames: pd.DataFrame) -> str:
    total = frames["person"].nunique()
    if len(shown) == total:
        return ""
    return f" ({len(shown)} of {total} people: roles first, then the longest in view)"


def broken_lines(
    rows: pd.DataFrame, columns: list[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One person's ``t_s`` and ``columns`` as one line each, their tracks one after another
    with a NaN between two tracks, where matplotlib breaks a line: no line runs across a cut.
    Why not a line per track: an hour with a cut every 3 s drew 3,600 lines a panel, which
    took 350 MiB and 13 s (now 100 MiB and 1.3 s)."""
    rows = rows.sort_values(["track_id", "frame"], kind="stable")
    track = rows["track_id"].to_numpy()
    cuts = np.flatnonzero(track[1:] != track[:-1]) + 1
    times = np.insert(rows["t_s"].to_numpy(np.float64), cuts, np.nan)
    return times, {
        c: np.insert(rows[c].to_numpy(np.float64, na_value=np.nan), cuts, np.nan) for c in columns
    }


def plot_timeseries(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    frames, _, roles = by_person(tables)
    shown = shown_people(frames, roles)
    fig, axes = plt.subplots(
        len(TIMESERIES), 1, figsize=(12, 1.7 * len(TIMESERIES) + 1), sharex=True
    )
    columns = [c for c, _ in TIMESERIES]
    for k, person in enumerate(shown):
        times, values = broken_lines(frames[frames["person"] == person], columns)
        for ax, col in zip(axes, columns, strict=True):
            label = _label(person, roles)
            ax.plot(times, values[col], color=COLORS[k % len(COLORS)], lw=1.2, label=label)
    for ax, (_col, label) in zip(axes, TIMESERIES, strict=True):
        ax.set_ylabel(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    handles, labels = axes[0].get_legend_handles_labels()
    columns = max(1, min(len(labels), 4))
    fig.legend(handles, labels, loc="lower center", fontsize=8, ncol=columns)
    video = frames["video_id"].iloc[0] if len(frames) else ""
    fig.suptitle(f"Body-language measures — video {video}{_shown_note(shown, frames)}")
    legend_rows = -(-len(labels) // columns)
    fig.tight_layout(rect=(0, 0.02 * legend_rows + 0.005, 1, 1))  # the legend below the panels
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_events(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    frames, events, roles = by_person(tables)
    people = shown_people(frames, roles)
    rows = [(p, kind) for p in people for kind in EVENT_TYPES]
    fig, ax = plt.subplots(figsize=(12, 0.32 * len(rows) + 1.6))
    for y, (person, kind) in enumerate(rows):
        e = events[(events["person"] == person) & (events["event_type"] == kind)]
        spans = list(zip(e["start_s"], e["duration_s"], strict=True))
        color = COLORS[people.index(person) % len(COLORS)]
        ax.broken_barh(spans, (y - 0.35, 0.7), color=color)
    # grey bands over a person's rows where they have no data, in any of their tracks
    if len(frames):
        dt = 1.0 / fps_of(frames)
        timeline = np.arange(int(frames["frame"].max()) + 1)
        for person in people:
            f = frames[(frames["person"] == person) & frames["has_data"].astype(bool)]
            gaps = runs(~np.isin(timeline, f["frame"].to_numpy()))
            ys = [y for y, (p, _) in enumerate(rows) if p == person]
            spans = [(s * dt, (e + 1 - s) * dt) for s, e in gaps]
            ax.broken_barh(spans, (min(ys) - 0.5, len(ys)), color="0.85", zorder=0)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{_label(p, roles)}: {kind}" for p, kind in rows], fontsize=8)
    ax.invert_yaxis()
    if len(frames):
        ax.set_xlim(0, frames["t_s"].max() + 1.0 / fps_of(frames))
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"Events (grey: person not detected){_shown_note(people, frames)}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_video_features(tables: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Save ``<video_id>_timeseries.png`` and ``<video_id>_events.png`` in ``out_dir``; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = tables["features_frames"]
    video = str(frames["video_id"].iloc[0]) if len(frames) else "video"
    return [
        plot_timeseries(tables, out_dir / f"{video}_timeseries.png"),
        plot_events(tables, out_dir / f"{video}_events.png"),
    ]
