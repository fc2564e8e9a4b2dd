"""Per-window and per-video aggregates of the per-frame measures and the events."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.synchrony import window_ids
from analytics.tables import EVENT_TYPES, FRAME_BOOLS, FRAME_FLOATS, state_name, with_stat

#: Window lengths of features_windows, seconds: moment to moment, and long enough for a
#: synchrony estimate over several turns of talk.
WINDOW_S = (1.0, 10.0)


def aggregate(
    frames: pd.DataFrame, events: pd.DataFrame, group: np.ndarray, fps: float
) -> pd.DataFrame:
    """Aggregates of one track's frames grouped by ``group`` (one int per frame row).

    Means/stds skip missing frames; ``_time_ratio`` is the fraction of frames *with data* in the
    state (of those where the state is known: null states, joints out of view, are skipped); ``_per_min`` divides event counts (by start frame) by the time with data, so a person
    who is off-screen half the window is not made to look calmer; ``coverage_ratio`` is the
    fraction of frames with data.
    """
    g = frames.groupby(group)
    out = pd.concat(
        [
            g["has_data"].size().rename("n_frames"),
            g["has_data"].mean().astype("float64").rename("coverage_ratio"),
            g[list(FRAME_FLOATS)].mean().rename(columns=lambda c: with_stat(c, "mean")),
            g[list(FRAME_FLOATS)].std().rename(columns=lambda c: with_stat(c, "std")),
        ],
        axis=1,
    )
    bools = frames[list(FRAME_BOOLS)].astype("float64")  # NA -> NaN, skipped by the mean
    ratios = bools.groupby(group).mean()
    ratios.columns = [f"{state_name(c)}_time_ratio" for c in ratios.columns]
    out = out.join(ratios)
    minutes_with_data = out["coverage_ratio"] * out["n_frames"] / fps / 60.0
    frame_group = pd.Series(group, index=frames["frame"].to_numpy())
    for kind in EVENT_TYPES:
        starts = events.loc[events["event_type"] == kind, "start_frame"].to_numpy()
        counts = frame_group.loc[starts].value_counts() if len(starts) else pd.Series(dtype=float)
        n = counts.reindex(out.index, fill_value=0).astype("float64")
        out[f"{kind}_per_min"] = (n / minutes_with_data.where(minutes_with_data > 0)).to_numpy()
        out[f"{kind}_count"] = n.astype("int64").to_numpy()
    return out


def window_table(
    frames: pd.DataFrame, events: pd.DataFrame, fps: float, window_s: float
) -> pd.DataFrame:
    """Aggregates over consecutive windows of ``window_s`` starting at t = 0 (last may be partial)."""
    group = window_ids(frames["frame"].to_numpy(), fps, window_s)
    out = aggregate(frames, events, group, fps)
    end_of_rows = (int(frames["frame"].max()) + 1) / fps if len(frames) else 0.0
    out["window_s"] = float(window_s)
    out["window_index"] = out.index.to_numpy()
    out["start_s"] = out.index.to_numpy() * window_s
    out["end_s"] = np.minimum((out.index.to_numpy() + 1) * window_s, end_of_rows)
    return out.reset_index(drop=True)


def summary_row(frames: pd.DataFrame, events: pd.DataFrame, fps: float) -> pd.DataFrame:
    """The same aggregates over all of a person's frames (their span; one row)."""
    out = aggregate(frames, events, np.zeros(len(frames), dtype=np.int64), fps)
    out["duration_s"] = len(frames) / fps
    return out.reset_index(drop=True)
