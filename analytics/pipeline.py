"""Entry point: the `smpl` table of one video -> the four analytics tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analytics import events as ev
from analytics import joints as J
from analytics import synchrony
from analytics.body_frame import STANDIN_NEUTRAL, Neutral
from analytics.clock import Timeline, even_clock
from analytics.dyad import Dyad, dyad_signals, main_pair, person_positions, person_rows
from analytics.head import head_angles_in_place_deg, head_seen
from analytics.measures import frame_measures
from analytics.motion import (
    GESTURE_SPEED_M_PER_S,
    WALKING_SPEED_M_PER_S,
    neck_speed_across_sight,
    wrist_across_sight,
)
from analytics.roles import video_roles
from analytics.tables import FRAME_BOOLS, SYNC_SIGNALS, conform
from analytics.windows import WINDOW_S, summary_row, summary_table, window_table


def _track_events(
    f: pd.DataFrame,
    fps: float,
    joints: np.ndarray | None = None,
    neutral: Neutral = STANDIN_NEUTRAL,
    trunk_seen: np.ndarray | None = None,
) -> list[dict]:
    """All events of one person from their per-frame measures; ``joints`` (T, 49, 3), the
    person's camera-frame joints, for the strokes' extent rule (the wrists across the line of
    sight: :func:`analytics.motion.wrist_across_sight`), for walking, when no stroke counts
    (:func:`analytics.motion.neck_speed_across_sight`), and for the head's angles in place,
    which confirm nods and shakes (:func:`analytics.events.head_movement_events`; ``neutral``:
    the body model's zero pose, and ``trunk_seen``, the frames whose shoulders were observed,
    as for the per-frame angles)."""
    out: list[dict] = []
    touching = f["is_touching_face"].fillna(False).to_numpy(dtype=bool)
    crossed = f["is_arms_crossed"].fillna(False).to_numpy(dtype=bool)
    wrists, walking = None, None
    if joints is not None:
        wrists = wrist_across_sight(joints)
        times = f["t_s"].to_numpy(np.float64) if "t_s" in f else None
        walking = neck_speed_across_sight(joints, fps, times) > WALKING_SPEED_M_PER_S
    not_gesturing = ev.non_gesture_frames(touching, crossed, fps, walking)
    for k, side in enumerate(("left", "right")):
        speed = f[f"wrist_rel_speed_{side}_m_per_s"].to_numpy()
        position = wrists[:, k] if wrists is not None else None
        out += ev.gesture_strokes(speed, GESTURE_SPEED_M_PER_S, fps, side, position, not_gesturing)
    angles = f[["head_pitch_deg", "head_yaw_deg"]].to_numpy(dtype=np.float64)
    in_place = None
    if joints is not None:
        in_place = head_angles_in_place_deg(joints, neutral, trunk_seen)
    out += ev.head_movement_events(angles, fps, in_place)
    lean = f[["trunk_lean_forward_deg", "trunk_lean_side_deg"]].to_numpy()
    out += ev.posture_shift_events(lean, fps)
    for kind, col in (
        ("face_touch", "is_touching_face"),
        ("hands_together", "is_hands_together"),
        ("arms_crossed", "is_arms_crossed"),
    ):
        out += ev.episode_events(kind, f[col].fillna(False).to_numpy(dtype=bool), fps)
    return out


def _events_on_clock(
    f: pd.DataFrame,
    fps: float,
    joints: np.ndarray | None,
    neutral: Neutral,
    trunk_seen: np.ndarray | None = None,
) -> list[dict]:
    """:func:`_track_events` of one track whose frames may be unevenly spaced in time: where
    they are (``f.t_s``; :func:`analytics.clock.even_clock`), the detectors see the frame on
    screen at each tick of an even clock, at its rate, and each event is given the frames shown
    at its first and last tick. Evenly spaced frames, every constant-rate video's, go as they
    are."""
    clock = even_clock(f["t_s"].to_numpy(np.float64), fps)
    if clock is None:
        return _track_events(f, fps, joints, neutral, trunk_seen)
    rate, shown = clock
    on_ticks = f.iloc[shown].reset_index(drop=True)
    on_ticks["t_s"] = float(f["t_s"].iloc[0]) + np.arange(len(shown)) / rate
    found = _track_events(
        on_ticks, rate, None if joints is None else joints[shown], neutral,
        None if trunk_seen is None else np.asarray(trunk_seen)[shown],
    )  # fmt: skip
    for event in found:
        event["start_frame"] = int(shown[event["start_frame"]])
        event["end_frame"] = int(shown[event["end_frame"]])
    return found


def _own_span(frames: np.ndarray, n_frames: int) -> tuple[int, int]:
    """First and last of a track's frames (inclusive), clipped to the video."""
    frames = frames[(frames >= 0) & (frames < n_frames)]
    return (int(frames.min()), int(frames.max())) if len(frames) else (0, 0)


def _in_span(track: pd.DataFrame, span: tuple[int, int]) -> tuple[pd.DataFrame, int]:
    """The track's rows inside the span, frames counted from the span's start, and the span's
    length. Rows outside are left out here, not later: a partner's rows cover the whole video,
    and converting all of them for each of the pair's tracks made analytics quadratic in a
    video's length (62 s for 10 minutes with a cut every 3 s, over 10 minutes for an hour)."""
    frames = track["frame"].to_numpy(dtype=np.int64)
    inside = (frames >= span[0]) & (frames <= span[1])
    shifted = track[inside].assign(frame=frames[inside] - span[0])
    return shifted, span[1] - span[0] + 1


def _span_joints(track: pd.DataFrame, span: tuple[int, int]) -> np.ndarray:
    """(span length, 49, 3) joints of the frames in ``span``, NaN where the person has no row."""
    return J.dense_joints(*_in_span(track, span))


def _span_hands(track: pd.DataFrame, span: tuple[int, int]) -> np.ndarray:
    """(span length, 2, 3) centres of the hands seen apart from the body (:func:`J.dense_hands`)."""
    return J.dense_hands(*_in_span(track, span))


def _span_same_view(a: pd.DataFrame, b: pd.DataFrame, span: tuple[int, int]) -> np.ndarray:
    """(span length,) bool: frames where two people are in one camera's picture -- not in
    two tiles of a split screen (:mod:`tasks.layout`), where no measure between them exists."""
    tiles_a, tiles_b = (J.dense_tiles(*_in_span(t, span)) for t in (a, b))
    one_picture = np.isnan(tiles_a).all(axis=1) & np.isnan(tiles_b).all(axis=1)
    return one_picture | (tiles_a == tiles_b).all(axis=1)


def _span_in_view(track: pd.DataFrame, span: tuple[int, int]) -> np.ndarray:
    """(span length, 49) bool: which joints are in view (see :func:`J.dense_in_view`)."""
    return J.dense_in_view(*_in_span(track, span), tuple(range(J.N_JOINTS)))


def _span_trunk_observed(track: pd.DataFrame, span: tuple[int, int]) -> np.ndarray:
    """(span length,) bool: both shoulders observed (see :func:`J.dense_observed`)."""
    return J.dense_observed(*_in_span(track, span), (J.L_SHOULDER, J.R_SHOULDER)).all(axis=1)


def _span_head_seen(track: pd.DataFrame, span: tuple[int, int], fps: float) -> np.ndarray:
    """(span length,) bool: the head's angles measured (:func:`analytics.head.head_seen`)."""
    return head_seen(J.dense_observed(*_in_span(track, span), (J.HEAD,))[:, 0], fps)


def _with_states(frames: pd.DataFrame) -> pd.DataFrame:
    """The per-frame states (``is_*``) as nullable booleans, null on frames without data."""
    for b in FRAME_BOOLS:
        frames[b] = frames[b].astype("boolean").mask(~frames["has_data"])
    return frames


def _shift_event(event: dict, first_frame: int, fps: float, timeline: Timeline) -> dict:
    """Event detectors count frames from the span's start; tables use video frames, and times
    from the ``timeline`` when there is one (else ``frame / fps``)."""
    out = dict(event)
    out["start_frame"] += first_frame
    out["end_frame"] += first_frame
    if timeline is None:
        out["start_s"] = out["start_frame"] / fps
        out["end_s"] = (out["end_frame"] + 1) / fps
    else:
        out["start_s"] = float(timeline[0][out["start_frame"]])
        out["end_s"] = float(timeline[1][out["end_frame"]])
    if "duration_s" in out:
        out["duration_s"] = out["end_s"] - out["start_s"]
    return out


def _span_rows(per_frame: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """Rows ``span[0]..span[1]`` of a video-length per-frame array, NaN past its end."""
    out = np.full((span[1] - span[0] + 1, *per_frame.shape[1:]), np.nan)
    part = per_frame[span[0] : span[1] + 1]
    out[: len(part)] = part
    return out


#: The ``smpl`` columns :func:`compute_video_features` reads. The flow hands it only these: the
#: others (body pose, shape, camera: 90 values a row) would be a pandas object per row and cell
#: for nothing, memory that grows with a video's length.
SMPL_COLUMNS = (
    "video_id", "track_id", "frame", "t_s", "bbox_px", "joints3d_m", "joints2d_px",
    "joints_observed", "hands3d_m", "tile_px",
)  # fmt: skip


#: the columns of the events table when a video has no events (the detectors' own come first)
EVENT_KEYS = ["event_type", "start_frame", "track_id", "person_id"]

#: the columns read of a partner's rows: their joints, and the split-screen tile they are in
PARTNER_COLUMNS = ("track_id", "frame", "joints3d_m", "tile_px")


def compute_video_features(
    smpl: pd.DataFrame,
    fps: float,
    n_frames: int,
    roles: dict[int, str] | None = None,
    window_s: tuple[float, ...] = WINDOW_S,
    neutral: Neutral | None = None,
    head_vertices: dict[int, np.ndarray] | None = None,
    persons: dict[int, int] | None = None,
    timeline: Timeline = None,
) -> dict[str, pd.DataFrame]:
    """-> {'features_frames', 'features_windows', 'features_summary', 'features_people',
    'events'} DataFrames.

    ``smpl``: rows (video_id, track_id, frame, t_s, joints3d_m) of one video, camera frame.
    ``roles``: explicit track_id -> role mapping (overrides the framing heuristic); roles come
    from :func:`analytics.roles.video_roles`, the same function the flow uses without analytics.
    ``neutral``: zero-pose calibration of the body model that produced ``smpl``
    (:func:`analytics.calibration.neutral_from_body_model`). Without it the stand-in's
    calibration is used with a warning: for real SMPL it would read SMPL's rest spine as lean.
    ``head_vertices``: optional track_id -> (n_frames, K, 3) head-mesh vertices per video frame
    (e.g. the vertices of :attr:`analytics.calibration.BodyCalibration.head_vertex_ids`), for
    face touch.
    ``persons``: {track_id: person_id} (:mod:`tasks.people`; None: every track its own person):
    a person's tracks share a role, and the main pair is two people, the interviewer and the
    interviewee (:func:`analytics.dyad.main_pair`), whose orientation and synchrony are measured
    over all their tracks.
    ``timeline``: (start, end) presentation time of every video frame, seconds
    (``VideoInfo.times()``, ``.end_times()``): the windows are cut on it, so they hold the
    frames whose ``t_s`` falls in them (:func:`analytics.synchrony.window_ids`); None: on the
    frame grid ``frame / fps``. ``features_frames.t_s`` and the events' times are taken from
    it too, and the durations and per-minute rates add up each frame's time on it
    (:func:`analytics.clock.frame_seconds`), speeds divide by the time between the frames they
    difference, and the event detectors see unevenly spaced frames on an even clock
    (:func:`_events_on_clock`).
    Per-frame rows cover each track's *span*, not the whole video: from the track's first to its
    last frame. Inside a span missing frames are NaN/NA, never interpolated. Spanning the whole
    video made the table tracks x frames, quadratic in video length (a 10-minute clip with a cut
    every 3 s has ~800 tracks: 12 M mostly-empty rows and 17 GB).
    The role mapping is also in ``tables['features_summary'].attrs['tracks_roles']``.
    """
    if neutral is None:
        warnings.warn(
            "compute_video_features: no neutral= calibration given, using the stand-in body "
            "model's; pass analytics.calibration.neutral_from_body_model(body) for the body "
            "model that produced the smpl table",
            UserWarning,
            stacklevel=2,
        )
        neutral = STANDIN_NEUTRAL
    video_id = str(smpl["video_id"].iloc[0]) if len(smpl) else ""
    track_roles = video_roles(smpl, n_frames, roles, persons)
    tracks = sorted(track_roles)
    person = {t: (persons[t] if persons is not None else t) for t in tracks}
    # each track's row positions, its rows taken when it is measured: a copy of every track's
    # rows at once is a copy of the table (150 MiB an hour with Arrow-backed list columns)
    rows_of = smpl.groupby("track_id", sort=False).indices if len(smpl) else {}
    no_rows = np.zeros(0, np.int64)
    frame_col = smpl["frame"].to_numpy(np.int64) if len(smpl) else no_rows
    frames_of = {t: frame_col[rows_of.get(t, no_rows)] for t in tracks}
    spans = {t: _own_span(frames_of[t], n_frames) for t in tracks}
    dyad = main_pair(track_roles, frames_of, person)
    # where each of the pair's people's rows are, whichever track shows them (once, not per
    # partner track); a partner's rows are taken on each track's span, the columns read only
    pair_rows = {}
    if dyad:
        partner_columns = smpl[[c for c in PARTNER_COLUMNS if c in smpl]]
        pair_rows = {
            dyad.a: person_positions(smpl, dyad.tracks_a),
            dyad.b: person_positions(smpl, dyad.tracks_b),
        }
    pair_frames = {p: frame_col[rows] for p, rows in pair_rows.items()}  # ascending

    # Each track's measures are kept as plain arrays, column by column, and its events as
    # dicts: a DataFrame per track costs pandas' fixed overhead 3,600 times an hour (110 MiB for
    # 36 MiB of measures, and 34 MiB more for as many small events frames).
    measured: dict[str, list[np.ndarray]] = {}
    found_events: list[dict] = []
    for t in tracks:
        mine = smpl.iloc[rows_of.pop(t, no_rows)]  # rows go once used
        first = spans[t][0]
        frame_idx = np.arange(first, spans[t][1] + 1)
        other = None
        if dyad and t in dyad.tracks:  # the partner on this track's span, NaN where unseen
            them = dyad.partner(t)[0]
            lo, hi = np.searchsorted(pair_frames[them], [spans[t][0], spans[t][1] + 1])
            partner = partner_columns.iloc[pair_rows[them][lo:hi]]
            other = _span_joints(partner, spans[t])
            other[~_span_same_view(mine, partner, spans[t])] = np.nan
        verts = head_vertices.get(t) if head_vertices else None
        if verts is not None:
            verts = _span_rows(np.asarray(verts, dtype=np.float64), spans[t])
        # one track's joints at a time: as float64 for every track at once they were 170 MiB
        # an hour with two people
        joints = _span_joints(mine, spans[t])
        seen = _span_in_view(mine, spans[t])
        hand_centres = _span_hands(mine, spans[t])
        trunk = _span_trunk_observed(mine, spans[t])
        head_ok = _span_head_seen(mine, spans[t], fps)
        t_s = timeline[0][frame_idx] if timeline is not None else frame_idx / fps
        cols = frame_measures(
            joints, fps, neutral, other, verts, seen, hand_centres, trunk, head_ok, t_s
        )
        cols = {
            "track_id": np.full(len(frame_idx), t, np.int64),
            "frame": frame_idx,
            "t_s": t_s,
            **cols,
        }
        states = _with_states(pd.DataFrame(cols))
        for e in _events_on_clock(states, fps, joints, neutral, trunk):
            found_events.append(
                {**_shift_event(e, first, fps, timeline), "track_id": t, "person_id": person[t]}
            )
        for name, values in cols.items():
            measured.setdefault(name, []).append(np.asarray(values))

    del pair_rows, pair_frames  # read only above
    frames_df = pd.DataFrame()
    if measured:
        # a column's parts go as it is joined, and the frame takes the joined arrays as they
        # are: parts, joined arrays and pandas' copy of them side by side were 70 MiB more an hour
        columns = {name: np.concatenate(measured.pop(name)) for name in list(measured)}
        frames_df = _with_states(pd.DataFrame({"video_id": video_id, **columns}, copy=False))
        del columns
    events_df = pd.DataFrame(found_events or None, columns=None if found_events else EVENT_KEYS)
    events_df["video_id"] = video_id
    windows_df, summary_df = pd.DataFrame(), pd.DataFrame()
    if len(frames_df):
        windows_df = pd.concat(
            [window_table(frames_df, events_df, fps, w, timeline) for w in window_s]
        )
        windows_df = windows_df.sort_values(  # per track, then window length, then time
            ["track_id", "window_s", "window_index"], kind="stable", ignore_index=True
        )
        summary_df = summary_table(frames_df, events_df, fps, timeline)
        track_of = summary_df["track_id"].to_numpy()
        partners = [_partner_ids(dyad, int(t), frames_of) for t in track_of]
        summary_df["role"] = [track_roles[int(t)] for t in track_of]
        summary_df["partner_person_id"] = [p for p, _ in partners]
        summary_df["partner_track_id"] = [p for _, p in partners]
        for table in (windows_df, summary_df):
            table["video_id"] = video_id
            table["person_id"] = [person[int(t)] for t in table["track_id"]]
    if dyad and len(frames_df):
        windows_df, summary_df = _add_synchrony(
            frames_df, windows_df, summary_df, dyad, fps, window_s, timeline
        )
    people_df = _people_table(frames_df, events_df, summary_df, person, fps, timeline)
    tables = {
        "features_frames": conform(frames_df, "features_frames"),
        "features_windows": conform(windows_df, "features_windows"),
        "features_summary": conform(summary_df, "features_summary"),
        "features_people": conform(people_df, "features_people"),
        "events": conform(events_df, "events"),
    }
    tables["features_summary"].attrs["tracks_roles"] = dict(track_roles)
    return tables


def _people_table(
    frames: pd.DataFrame,
    events: pd.DataFrame,
    summary: pd.DataFrame,
    person: dict[int, int],
    fps: float,
    timeline: Timeline,
) -> pd.DataFrame:
    """One row per person: the summary's aggregates over all their tracks' frame rows at once
    (a mean over frames, so a long shot weighs more than a brief one, which a mean of the
    per-track rows would not do), their events counted together, their role (that of most of
    their frames with data) and the pair's synchrony as on their tracks' rows."""
    rows = []
    frames_of = frames.groupby("track_id", sort=False).indices if len(frames) else {}
    events_of = events.groupby("track_id", sort=False).indices if len(events) else {}
    no_rows = np.zeros(0, np.int64)
    has_data = frames["has_data"].to_numpy(bool) if len(frames) else no_rows
    for p in sorted(set(person.values())):
        own = tuple(t for t in sorted(person) if person[t] == p)
        f = person_rows(frames.iloc[np.concatenate([frames_of.get(t, no_rows) for t in own])], own)
        e = events.iloc[np.concatenate([events_of.get(t, no_rows) for t in own])]
        row = summary_row(f, e, fps, timeline)
        mine = summary[summary["track_id"].isin(own)]
        seen: dict[str, int] = {}  # frames with data per role
        for t, role in zip(mine["track_id"], mine["role"], strict=True):
            seen[role] = seen.get(role, 0) + int(has_data[frames_of.get(int(t), no_rows)].sum())
        row["video_id"], row["person_id"], row["n_tracks"] = mine["video_id"].iloc[0], p, len(own)
        row["role"] = max(seen, key=lambda r: (seen[r], r))
        pair = mine[mine["partner_person_id"].notna()]
        if len(pair):
            for c in ["partner_person_id"] + [c for c in mine if c.startswith("sync_")]:
                row[c] = pair[c].iloc[0]
        rows.append(row)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _partner_ids(dyad: Dyad | None, track: int, frames_of: dict[int, np.ndarray]) -> tuple:
    """(partner_person_id, partner_track_id) of one track: the pair's other person, and of
    their tracks the one seen with this track in the most frames (ties and none: the lowest
    id); NA for tracks outside the pair."""
    if dyad is None or track not in dyad.tracks:
        return pd.NA, pd.NA
    person, tracks, _ = dyad.partner(track)
    together = [(len(np.intersect1d(frames_of[track], frames_of[t])), -t) for t in tracks]
    return person, -max(together)[1]


def _add_synchrony(
    frames: pd.DataFrame,
    windows: pd.DataFrame,
    summary: pd.DataFrame,
    dyad: Dyad,
    fps: float,
    window_s: tuple[float, ...],
    timeline: Timeline = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synchrony of the main pair's two people, per window and for the video (Fisher-z mean
    over the longest windows of which one has a value), written on every track of both. Lags
    are written from each person's side: > 0 = that person leads.

    Windows are identified by their video-time index (:func:`analytics.synchrony.window_ids`,
    the same as the window table), never by position in the pair's span: the span rarely starts
    at frame 0, and positions then point at the wrong window or past the end. Lagged pairs stay
    within one segment, so within one shot (:func:`analytics.dyad.dyad_signals`). Lags are
    counted on an even clock where the pair's frames are unevenly spaced on the ``timeline``
    (:func:`analytics.clock.even_clock`, as the event detectors see a track), so a lag in
    seconds is one on a variable-frame-rate video too.
    """
    grid, signals, segment = dyad_signals(frames, dyad, tuple(SYNC_SIGNALS.values()))
    rate = fps
    clock = even_clock(timeline[0][grid], fps) if timeline is not None and len(grid) else None
    if clock is not None:  # the frame on screen at each tick; windows still by its own time
        rate, shown = clock
        grid, segment = grid[shown], segment[shown]
        signals = {c: (a[shown], b[shown]) for c, (a, b) in signals.items()}
    windows = windows.copy()
    summary = summary.copy()
    curves: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = {}
    for name, column in SYNC_SIGNALS.items():
        a_sig, b_sig = signals[column]
        r_col, lag_col = f"sync_{name}_peak_r_ratio", f"sync_{name}_peak_lag_s"
        for w in window_s:
            ids = synchrony.window_ids(grid, fps, w, timeline[0] if timeline else None)
            lags, present, r = synchrony.lagged_xcorr_by_window(
                a_sig, b_sig, ids, rate, w, segment=segment
            )
            curves[name, w] = (lags, r)
            lag, best = synchrony.peak(lags, r)
            best_of = pd.Series(best, index=present)
            lag_of = pd.Series(lag, index=present)
            for track in dyad.tracks:
                sign = dyad.partner(track)[2]
                rows = (windows["track_id"] == track) & (windows["window_s"] == w)
                index = windows.loc[rows, "window_index"].to_numpy()
                windows.loc[rows, r_col] = best_of.reindex(index).to_numpy()
                windows.loc[rows, lag_col] = sign * lag_of.reindex(index).to_numpy()
    # the video's figure: the longest windows of which one has a value (in an edit of short
    # shots no 10 s window lies within one, and the 1 s windows still measure the pair)
    valid = [w for w in window_s if any(np.isfinite(curves[n, w][1]).any() for n in SYNC_SIGNALS)]
    w = max(valid, default=max(window_s))
    for name in SYNC_SIGNALS:
        lags, r = curves[name, w]
        lag, best = synchrony.peak(lags, synchrony.mean_curve(r))
        for track in dyad.tracks:
            rows = summary["track_id"] == track
            summary.loc[rows, f"sync_{name}_peak_r_ratio"] = best[0]
            summary.loc[rows, f"sync_{name}_peak_lag_s"] = dyad.partner(track)[2] * lag[0]
            summary.loc[rows, "sync_window_s"] = float(w)
    return windows, summary
