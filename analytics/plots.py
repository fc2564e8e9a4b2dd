"""Per-video figures: time series of the main measures per person, and an event raster."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
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
#: the figures had a row or a line for each. Tables of 600 tracks (as many as ten minutes of the
#: looped two-person sample has, a cut every 3 s) made an events raster of 1320 x 148,016 pixels,
#: 95 s and 1.5 GB of memory to draw and unreadable once drawn; with the cap 3,132 pixels, 1.3 s
#: and 41 MB (``tests/test_plots.py``'s tables, measured). The figures are an overview; every
#: person's numbers are in the tables.
MAX_PEOPLE_PLOTTED = 12


def fps_of(frames: pd.DataFrame) -> float:
    """Frame rate from the reindexed frames (t_s = frame / fps)."""
    f = frames[frames["frame"] > 0].head(1)
    return float(f["frame"].iloc[0] / f["t_s"].iloc[0]) if len(f) else 1.0


def _label(track: int, roles: dict[int, str]) -> str:
    return f"track {track} ({roles.get(track, '?')})"


def _roles(tables: dict[str, pd.DataFrame]) -> dict[int, str]:
    s = tables["features_summary"]
    return {int(t): str(r) for t, r in zip(s["track_id"], s["role"], strict=True)}


def shown_tracks(frames: pd.DataFrame, roles: dict[int, str]) -> list[int]:
    """The tracks a figure draws, in id order: all of them up to :data:`MAX_PEOPLE_PLOTTED`,
    else the interviewer's and interviewee's and then those with the most frames with data."""
    seen = frames.groupby("track_id")["has_data"].sum()
    ranked = sorted(
        (int(t) for t in seen.index),
        key=lambda t: (roles.get(t, "other") == "other", -int(seen[t]), t),
    )
    return sorted(ranked[:MAX_PEOPLE_PLOTTED])


def _shown_note(shown: list[int], frames: pd.DataFrame) -> str:
    total = frames["track_id"].nunique()
    if len(shown) == total:
        return ""
    return f" ({len(shown)} of {total} people: roles first, then the longest in view)"


def plot_timeseries(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    frames = tables["features_frames"]
    roles = _roles(tables)
    shown = shown_tracks(frames, roles)
    fig, axes = plt.subplots(
        len(TIMESERIES), 1, figsize=(12, 1.7 * len(TIMESERIES) + 1), sharex=True
    )
    for k, (track, f) in enumerate(frames[frames["track_id"].isin(shown)].groupby("track_id")):
        for ax, (col, _) in zip(axes, TIMESERIES, strict=True):
            ax.plot(
                f["t_s"], f[col], color=COLORS[k % len(COLORS)], lw=1.2, label=_label(track, roles)
            )
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
    events = tables["events"]
    frames = tables["features_frames"]
    roles = _roles(tables)
    tracks = shown_tracks(frames, roles)
    rows = [(t, kind) for t in tracks for kind in EVENT_TYPES]
    fig, ax = plt.subplots(figsize=(12, 0.32 * len(rows) + 1.6))
    for y, (track, kind) in enumerate(rows):
        e = events[(events["track_id"] == track) & (events["event_type"] == kind)]
        spans = list(zip(e["start_s"], e["duration_s"], strict=True))
        color = COLORS[tracks.index(track) % len(COLORS)]
        ax.broken_barh(spans, (y - 0.35, 0.7), color=color)
    # grey bands over a person's rows where they have no data
    for track in tracks:
        f = frames[frames["track_id"] == track]
        dt = 1.0 / fps_of(frames)
        gaps = runs(~f["has_data"].to_numpy(dtype=bool))
        ys = [y for y, (t, _) in enumerate(rows) if t == track]
        spans = [(f["t_s"].iloc[s], (e + 1 - s) * dt) for s, e in gaps]
        ax.broken_barh(spans, (min(ys) - 0.5, len(ys)), color="0.85", zorder=0)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{_label(t, roles)}: {kind}" for t, kind in rows], fontsize=8)
    ax.invert_yaxis()
    if len(frames):
        ax.set_xlim(0, frames["t_s"].max() + 1.0 / fps_of(frames))
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"Events (grey: person not detected){_shown_note(tracks, frames)}")
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
