"""Per-window and per-video aggregates of the per-frame measures and the events."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.clock import Timeline, frame_seconds
from analytics.synchrony import window_ids
from analytics.tables import EVENT_TYPES, FRAME_BOOLS, FRAME_FLOATS, state_name, with_stat

#: Window lengths of features_windows, seconds: moment to moment, and long enough for a
#: synchrony estimate over several turns of talk.
WINDOW_S = (1.0, 10.0)


def aggregate(
    frames: pd.DataFrame,
    events: pd.DataFrame,
    keys: list[np.ndarray],
    event_keys: list[np.ndarray],
    seconds: np.ndarray,
) -> pd.DataFrame:
    """Aggregates of frame rows grouped by ``keys`` (arrays with one value per frame row, e.g.
    track and window), indexed by the keys' values; ``event_keys``: the group of each event row
    (that of its start frame); ``seconds``: how long each frame row is shown
    (:func:`frame_seconds`).

    Means/stds skip missing frames; ``_time_ratio`` is the fraction of frames *with data* in the
    state (of those where the state is known: null states, joints out of view, are skipped);
    ``_per_min`` divides event counts by the time with data, so a person who is off-screen half
    the window is not made to look calmer; ``coverage_ratio`` is the fraction of frames with data;
    ``duration_s`` the time the rows are shown.
    One call for every track of a video, not one per track: pandas' fixed cost per group-by made
    the per-track calls most of analytics' time (600 tracks in 10 minutes with a cut every 3 s).
    """
    g = frames.groupby(keys)
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
    ratios = bools.groupby(keys).mean()
    ratios.columns = [f"{state_name(c)}_time_ratio" for c in ratios.columns]
    out = out.join(ratios)
    seconds = np.asarray(seconds, np.float64)
    with_data = seconds * frames["has_data"].to_numpy(bool)
    timed = pd.DataFrame({"all": seconds, "with_data": with_data}, index=frames.index)
    timed = timed.groupby(keys).sum().reindex(out.index)
    out["duration_s"] = timed["all"].to_numpy()
    minutes_with_data = timed["with_data"] / 60.0
    kinds = events["event_type"].to_numpy() if len(events) else np.zeros(0, object)
    for kind in EVENT_TYPES:
        mine = kinds == kind
        found = pd.Series(1, index=pd.MultiIndex.from_arrays([k[mine] for k in event_keys]))
        n = found.groupby(level=list(range(len(keys)))).sum() if mine.any() else found
        if not isinstance(out.index, pd.MultiIndex):
            n.index = n.index.get_level_values(0)
        n = n.reindex(out.index, fill_value=0).astype("float64")
        out[f"{kind}_per_min"] = (n / minutes_with_data.where(minutes_with_data > 0)).to_numpy()
        out[f"{kind}_count"] = n.astype("int64").to_numpy()
    return out


def _event_column(events: pd.DataFrame, name: str) -> np.ndarray:
    """An int column of the events (empty when there are none: the table may lack it then)."""
    return events[name].to_numpy(np.int64) if len(events) else np.zeros(0, np.int64)


def window_table(
    frames: pd.DataFrame,
    events: pd.DataFrame,
    fps: float,
    window_s: float,
    timeline: Timeline = None,
) -> pd.DataFrame:
    """Aggregates per track (``track_id``) over consecutive windows of ``window_s`` starting at
    t = 0, every track of ``frames`` at once. A track's first and last windows may be partial:
    ``start_s`` and ``end_s`` are clipped to the track's frames, the span ``n_frames`` and
    ``coverage_ratio`` count (before, ``start_s`` was not, so a track that began at 6 s had a
    0-10 s window of ``coverage_ratio`` 1.0 over its own 4 s). ``timeline``: (start, end)
    presentation time of every video frame (:func:`analytics.synchrony.window_ids`); None: the
    frame grid, ``frame / fps``."""
    starts, ends = timeline if timeline is not None else (None, None)
    window = window_ids(frames["frame"].to_numpy(), fps, window_s, starts)
    tracks = frames["track_id"].to_numpy(np.int64)
    event_tracks = _event_column(events, "track_id")
    event_window = window_ids(_event_column(events, "start_frame"), fps, window_s, starts)
    seconds = frame_seconds(frames["frame"].to_numpy(), fps, timeline)
    out = aggregate(frames, events, [tracks, window], [event_tracks, event_window], seconds)
    track = out.index.get_level_values(0).to_numpy()
    index = out.index.get_level_values(1).to_numpy()
    span = frames.groupby(tracks)["frame"].agg(["min", "max"]).reindex(track)
    first, last = span["min"].to_numpy(np.int64), span["max"].to_numpy(np.int64)
    if timeline is None:
        start_of_rows, end_of_rows = first / fps, (last + 1) / fps
    else:
        start_of_rows, end_of_rows = starts[first], ends[last]
    out["track_id"] = track
    out["window_s"] = float(window_s)
    out["window_index"] = index
    # clipped to the track at both ends, so n_frames and coverage_ratio describe [start, end)
    out["start_s"] = np.maximum(index * window_s, start_of_rows)
    out["end_s"] = np.minimum((index + 1) * window_s, end_of_rows)
    return out.reset_index(drop=True)


def summary_table(
    frames: pd.DataFrame, events: pd.DataFrame, fps: float, timeline: Timeline = None
) -> pd.DataFrame:
    """The same aggregates over each track's frames (its span; one row per ``track_id``)."""
    tracks = frames["track_id"].to_numpy(np.int64)
    event_tracks = _event_column(events, "track_id")
    seconds = frame_seconds(frames["frame"].to_numpy(), fps, timeline)
    out = aggregate(frames, events, [tracks], [event_tracks], seconds)
    out["track_id"] = out.index.to_numpy()
    return out.reset_index(drop=True)


def summary_row(
    frames: pd.DataFrame, events: pd.DataFrame, fps: float, timeline: Timeline = None
) -> pd.DataFrame:
    """The same aggregates over all of ``frames`` (one row), e.g. a person's frames over all
    their tracks, a frame counted once."""
    one = [np.zeros(len(frames), np.int64)]
    seconds = frame_seconds(frames["frame"].to_numpy(), fps, timeline)
    out = aggregate(frames, events, one, [np.zeros(len(events), np.int64)], seconds)
    return out.reset_index(drop=True)
