"""Arrow schemas of the analytics tables.

The schema version is the pipeline's one version, :data:`storage.schemas.SCHEMA_VERSION`, stored
under the same key (``pmrr.schema_version``) in each schema's metadata as in the core tables.
Units are in the column names (``_deg``, ``_m``, ``_m_per_s``, ``_deg_per_s``, ``_s``, ``_hz``,
``_ratio``, ``_per_min``); booleans start with ``is_`` / ``has_``. Every field carries a
``description`` in its field metadata; definitions: ``MEASURES.md``, generated column reference:
``docs/TABLES.md``. ``track_id`` / ``partner_track_id`` are int32, as in the core tables.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from analytics.motion import SPEED_JOINTS
from storage.schemas import (
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    TRACK_ID,
    TRACK_ID_TYPE,
    VIDEO_ID,
    field,
    schema_metadata,
)

__all__ = ["SCHEMA_VERSION", "SCHEMA_VERSION_KEY", "SCHEMAS", "conform", "empty_frame", "to_arrow"]

#: Continuous per-frame measures (window/summary tables get ``<name>_mean_<unit>`` and
#: ``<name>_std_<unit>`` of each).
FRAME_FLOATS = (
    "trunk_lean_forward_deg",
    "trunk_lean_side_deg",
    "head_pitch_deg",
    "head_yaw_deg",
    "head_roll_deg",
    "head_angular_speed_deg_per_s",
    "expansiveness_ratio",
    "arm_openness_ratio",
    "shoulder_width_m",
    "shoulder_raise_m",
    "arms_crossed_conf_ratio",
    "hand_face_dist_m",
    "hands_dist_m",
    "orientation_to_other_deg",
    "motion_energy_m_per_s",
    *(f"speed_{name}_m_per_s" for name in SPEED_JOINTS),
    "wrist_rel_speed_left_m_per_s",
    "wrist_rel_speed_right_m_per_s",
)
#: Boolean per-frame states (window/summary tables get ``<state>_time_ratio``).
FRAME_BOOLS = (
    "is_shrugging",
    "is_arms_crossed",
    "is_touching_face",
    "is_hands_together",
    "is_self_touch",
    "is_gesturing",
)
#: Event types (window/summary tables get ``<type>_per_min``; summary also ``<type>_count``).
EVENT_TYPES = (
    "gesture_stroke",
    "nod",
    "shake",
    "posture_shift",
    "face_touch",
    "hands_together",
    "arms_crossed",
)
#: Synchrony signals: name in the sync_* columns -> the features_frames column correlated.
SYNC_SIGNALS = {"motion": "motion_energy_m_per_s", "head": "head_angular_speed_deg_per_s"}
#: Synchrony columns; lag > 0 = this person leads and the partner follows.
SYNC_COLUMNS = tuple(
    c for s in SYNC_SIGNALS for c in (f"sync_{s}_peak_r_ratio", f"sync_{s}_peak_lag_s")
)


UNITS = ("_deg_per_s", "_m_per_s", "_deg", "_ratio", "_m")


def state_name(col: str) -> str:
    return col.removeprefix("is_")


def with_stat(col: str, stat: str) -> str:
    """``head_pitch_deg`` + ``mean`` -> ``head_pitch_mean_deg`` (the unit stays last)."""
    for unit in UNITS:
        if col.endswith(unit):
            return f"{col[: -len(unit)]}_{stat}{unit}"
    raise ValueError(f"{col}: no unit suffix")


def aggregate_columns() -> list[str]:
    """The measure columns shared by the windows and summary tables (after their ids)."""
    cols = [with_stat(f, s) for f in FRAME_FLOATS for s in ("mean", "std")]
    cols += [f"{state_name(b)}_time_ratio" for b in FRAME_BOOLS]
    cols += [f"{e}_per_min" for e in EVENT_TYPES]
    return cols


# ------------------------------------------------------------------------ descriptions ----
# One line per measure; MEASURES.md has the full definitions and sources.

#: The in-view rule, shared by the descriptions of the measures that use it (MEASURES.md, *In view*).
IN_VIEW = (
    "In view = the joint's projection (smpl.joints2d_px) lies inside the person's box "
    "(smpl.bbox_px); an unseen joint is placed by the fit's priors, so it is not measured."
)
_ARMS = f"NaN where a wrist or elbow is not in view. {IN_VIEW}"

_SPEED_DESC = {
    name: f"Speed of the {name.replace('_', ' ')} joint (camera frame; the difference across "
    "0.04 s, at least one frame, either side, one-sided at a track's first and last frame, "
    "over the time between those frames' t_s), m/s, >= 0; NaN unless the joint is in view at "
    f"every frame of that difference. {IN_VIEW}"
    for name in SPEED_JOINTS
}

#: Description of every per-frame measure (features_frames); aggregates are derived from them.
FRAME_DESCRIPTIONS: dict[str, str] = {
    "trunk_lean_forward_deg": "Angle of pelvis->neck in the body's sagittal plane minus the zero "
    "pose's; + = forward. Degrees, -180..180 (within +-90 unless the trunk is past horizontal). "
    "With the hips out of view the landmark fit holds "
    "the trunk upright (lean is not observable), so such shots read ~0.",
    "trunk_lean_side_deg": "Angle of pelvis->neck in the body's frontal plane minus the zero "
    "pose's; + = toward the subject's right. Degrees, -180..180 (as the forward lean; ~0 with "
    "the hips out of view).",
    "head_pitch_deg": "Head pitch (ears, nose) relative to the trunk frame (where the shoulders were not observed: an "
    "upright trunk facing the camera) and the zero pose; "
    "+ = chin down. Degrees, -90..90.",
    "head_yaw_deg": "Head yaw relative to the trunk frame (where the shoulders were not observed: an "
    "upright trunk facing the camera) and the zero pose; + = toward the "
    "subject's left. Degrees, -180..180.",
    "head_roll_deg": "Head roll relative to the trunk frame (where the shoulders were not observed: an "
    "upright trunk facing the camera) and the zero pose; + = toward the "
    "subject's right. Degrees, -180..180.",
    "head_angular_speed_deg_per_s": "Norm of d(pitch, yaw, roll)/dt of the head (differenced "
    "as the joint speeds are), deg/s, >= 0; NaN where the head angles are NaN at any frame of "
    "that difference.",
    "expansiveness_ratio": "Area of the 2D convex hull of wrists, elbows, shoulders, head and "
    "hips on the body's frontal plane / shoulder width squared; ratio >= 0 (arms down ~2.2, "
    f"T-pose ~4.0 on the stand-in body). {_ARMS}",
    "arm_openness_ratio": f"Wrist distance / shoulder width; ratio >= 0 (T-pose ~3.8). {_ARMS}",
    "shoulder_width_m": "Distance between the shoulder joints, metres.",
    "shoulder_raise_m": "Shoulder height above the neck along the trunk axis minus its median "
    "over the track (each track its own baseline: the fitted shape differs between tracks, so a "
    "person shrugging through a whole track reads ~0); metres, + = raised (shrug); NaN where "
    "either shoulder is not observed.",
    "arms_crossed_conf_ratio": "Confidence that the arms are folded: logistic of the smallest "
    f"geometric margin / 0.02 m; 0..1, 0.5 at the boundary. {_ARMS}",
    "hand_face_dist_m": "Smallest distance of a hand point or wrist to the head surface (head "
    "sphere, or head vertices when given); metres, may be negative (inside the sphere). Only "
    "hands whose wrist and elbow are in view count; NaN when neither hand is in view. "
    f"{IN_VIEW}",
    "hands_dist_m": "Distance between the two hand points (wrist + 0.3 x (wrist - elbow)), "
    f"metres. {_ARMS}",
    "orientation_to_other_deg": "Angle between the body's horizontal facing direction and the "
    "horizontal direction to the partner's pelvis; degrees, 0 (facing) .. 180 (back turned); "
    "NaN without a partner, and where the two are in different tiles of a split screen (a video "
    "call's gallery: two cameras, no shared space; smpl.tile_px).",
    "motion_energy_m_per_s": "Mean speed of those of 15 body joints (pelvis, hips, knees, "
    "ankles, neck, shoulders, elbows, wrists, nose) in view at every frame of their difference "
    "(as the joint speeds), "
    f"m/s, >= 0 (0 when still); NaN when none is. {IN_VIEW}",
    **{f"speed_{name}_m_per_s": desc for name, desc in _SPEED_DESC.items()},
    "wrist_rel_speed_left_m_per_s": "Speed of the left wrist in the trunk frame (origin neck): "
    "hand motion, not the body carrying it; m/s, >= 0; NaN unless the left wrist and elbow are "
    f"in view at every frame of the difference (as the joint speeds). {IN_VIEW}",
    "wrist_rel_speed_right_m_per_s": "Speed of the right wrist in the trunk frame (origin neck); "
    "m/s, >= 0; NaN unless the right wrist and elbow are in view at every frame of the "
    "difference.",
    "is_shrugging": "shoulder_raise_m > 0.02 m; null where that is NaN (shoulders not observed).",
    "is_arms_crossed": "arms_crossed_conf_ratio > 0.5; null where that is NaN (arms not in view).",
    "is_touching_face": "A hand point or wrist in view within 0.12 m of the head sphere's "
    "outline across the line of sight (moved along its camera ray to the head's depth) and at "
    "most 0.4 m in front of or behind the head centre (a monocular fit misplaces the hand's "
    "depth); hands MediaPipe Hands saw apart from the body (smpl.hands3d_m) count too; with head "
    "vertices, hand_face_dist_m <= 0.05 m. Null where no hand is in view.",
    "is_hands_together": "hands_dist_m <= 0.10 m; null where that is NaN (a hand not in view).",
    "is_self_touch": "Face touch, hands together, or a hand point <= 0.08 m from the opposite "
    "upper arm / forearm axis; true if any is, null if none is and one is unknown (hands not in "
    "view).",
    "is_gesturing": "Largest trunk-relative wrist speed > 0.3 m/s (false where neither wrist "
    "speed is defined).",
}
#: What each event type is (events.event_type and the per-event-type columns).
EVENT_DESCRIPTIONS: dict[str, str] = {
    "gesture_stroke": "gesture strokes (runs of one wrist's trunk-relative speed > 0.3 m/s, "
    ">= 0.1 s, in which the wrist spans >= 6 cm across the camera's line of sight; only where "
    "that forearm is in view; none within 0.3 s of a frame with a face touch or arms crossed, "
    "nor of walking)",
    "nod": "head nods (>= 2 half-cycles of band-passed head pitch, each >= 5 deg, 0.125-0.5 s; "
    "a shake overlapping it with a larger swing wins)",
    "shake": "head shakes (>= 2 half-cycles of band-passed head yaw, each >= 5 deg, 0.125-0.5 s; "
    "a nod overlapping it with a larger swing wins)",
    "posture_shift": "posture shifts (change of mean trunk lean between the next and previous "
    "1 s > 8 deg)",
    "face_touch": "face touches (runs of is_touching_face >= 0.2 s)",
    "hands_together": "hands-together episodes (runs of is_hands_together >= 0.2 s)",
    "arms_crossed": "arms-crossed episodes (runs of is_arms_crossed >= 0.2 s)",
}
_SYNC_SIGNAL_DESC = {
    s: f"{words} ({SYNC_SIGNALS[s]})"
    for s, words in (("motion", "motion energy"), ("head", "head angular speed"))
}


def _aggregate_description(col: str, over: str) -> str:
    of = over + ("'" if over.endswith("s") else "'s")  # "the window's", "all the person's tracks'"
    for f in FRAME_FLOATS:
        for stat, word in (("mean", "Mean"), ("std", "Sample standard deviation (ddof 1)")):
            if col == with_stat(f, stat):
                what = f"{word} of features_frames.{f} over {of} frames with data."
                return f"{what} {FRAME_DESCRIPTIONS[f]}"
    for b in FRAME_BOOLS:
        if col == f"{state_name(b)}_time_ratio":
            return (
                f"Fraction of {of} frames where {b} is known (not null) that have it "
                f"true, 0..1 "
                f"({FRAME_DESCRIPTIONS[b]})"
            )
    for e in EVENT_TYPES:
        if col == f"{e}_per_min":
            return (
                f"Rate of {EVENT_DESCRIPTIONS[e]} starting in {over}, per minute with data "
                "(the time the frames with data are shown)."
            )
    raise KeyError(col)


def _sync_description(col: str, what: str) -> str:
    for s in SYNC_SIGNALS:
        if col == f"sync_{s}_peak_r_ratio":
            return (
                f"Synchrony of {_SYNC_SIGNAL_DESC[s]} with the partner: largest Pearson r of the "
                f"lagged cross-correlation ({what}), -1..1; null outside the main pair and "
                "where there is too little data (the person's partner_track_id in "
                "features_summary is null outside the main pair)."
            )
        if col == f"sync_{s}_peak_lag_s":
            return (
                f"Lag of sync_{s}_peak_r_ratio in seconds ({what}); > 0 = this person leads and "
                "the partner follows; |lag| <= min(3 s, window/2)."
            )
    raise KeyError(col)


_T_S = (
    "Presentation time of the frame from the video's first frame, seconds (as smpl.t_s; the "
    "pipeline sets it from the container's timeline, so variable-frame-rate video keeps its real "
    "times)."
)


def _ids() -> list[pa.Field]:
    return [
        field("video_id", pa.string(), VIDEO_ID, False),
        field("track_id", TRACK_ID_TYPE, TRACK_ID + " Same as tracks.track_id.", False),
    ]


def _schema(fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(fields, metadata=schema_metadata())


_WIN = "the window"
_SUM = "the person's span"

FEATURES_FRAMES = _schema(
    _ids()
    + [
        field(
            "frame",
            pa.int64(),
            "Video frame number (from 0); rows cover the track's span, its first to last frame.",
            False,
        ),
        field("t_s", pa.float64(), _T_S),
        field(
            "has_data",
            pa.bool_(),
            "The person has a row in smpl for this frame; when false every measure is NaN/null "
            "(nothing is interpolated).",
            False,
        ),
    ]
    + [field(c, pa.float64(), FRAME_DESCRIPTIONS[c]) for c in FRAME_FLOATS]
    + [field(c, pa.bool_(), FRAME_DESCRIPTIONS[c] + " Null without data.") for c in FRAME_BOOLS]
)
_PERSON_ID = field("person_id", TRACK_ID_TYPE, "The person the track shows (as tracks.person_id).")
FEATURES_WINDOWS = _schema(
    _ids()
    + [
        _PERSON_ID,
        field(
            "window_s",
            pa.float64(),
            "Window length in seconds (default 1 s and 10 s; each length has its own rows).",
            False,
        ),
        field(
            "window_index",
            pa.int64(),
            "Window number k: frames with t_s (presentation time) in [k x window_s, (k+1) x "
            "window_s), from t = 0.",
            False,
        ),
        field(
            "start_s",
            pa.float64(),
            "Start of the track's part of the window, seconds: window_index x window_s, or the "
            "t_s of the track's first frame for a track that starts inside the window.",
        ),
        field(
            "end_s",
            pa.float64(),
            "End of the track's part of the window, seconds: (window_index + 1) x window_s, or "
            "the end of the track's last frame for a track that ends inside it.",
        ),
        field("n_frames", pa.int64(), "Frames of the track's rows in the window."),
        field("coverage_ratio", pa.float64(), "Fraction of those n_frames with data, 0..1."),
    ]
    + [field(c, pa.float64(), _aggregate_description(c, _WIN)) for c in aggregate_columns()]
    + [field(c, pa.float64(), _sync_description(c, "this window")) for c in SYNC_COLUMNS]
)
FEATURES_SUMMARY = _schema(
    _ids()
    + [
        _PERSON_ID,
        field("role", pa.string(), "`interviewer`, `interviewee` or `other` (as tracks.role)."),
        field(
            "partner_person_id",
            TRACK_ID_TYPE,
            "person_id of the other person of the main pair (interviewer <-> interviewee), on "
            "every track of both; null for tracks outside the pair.",
        ),
        field(
            "partner_track_id",
            TRACK_ID_TYPE,
            "Of the partner's tracks, the one seen with this track in the most frames (ties, "
            "and never together: the lowest track_id); null for tracks outside the pair.",
        ),
        field(
            "duration_s",
            pa.float64(),
            "Length of the person's span, seconds: the time its frames are shown (n_frames / fps "
            "at a constant rate).",
        ),
        field("n_frames", pa.int64(), "Frames in the person's span (rows of features_frames)."),
        field("coverage_ratio", pa.float64(), "Fraction of the span's frames with data, 0..1."),
    ]
    + [field(c, pa.float64(), _aggregate_description(c, _SUM)) for c in aggregate_columns()]
    + [
        field(f"{e}_count", pa.int64(), f"Number of {EVENT_DESCRIPTIONS[e]} in the span.")
        for e in EVENT_TYPES
    ]
    + [
        field(
            c,
            pa.float64(),
            _sync_description(c, "Fisher-z average over the windows of length sync_window_s"),
        )
        for c in SYNC_COLUMNS
    ]
    + [
        field(
            "sync_window_s",
            pa.float64(),
            "Window length (s) whose lagged cross-correlations the sync_* columns average: the "
            "longest of which one window has a value (e.g. 1 s in an edit of shots under 10 s); "
            "null outside the main pair.",
        )
    ]
)
_PEOPLE = "all the person's tracks"
FEATURES_PEOPLE = _schema(
    [
        field("video_id", pa.string(), VIDEO_ID, False),
        field(
            "person_id",
            TRACK_ID_TYPE,
            "The person (as tracks.person_id): one row for all their tracks, in every shot.",
            False,
        ),
        field(
            "role",
            pa.string(),
            "`interviewer`, `interviewee` or `other`: the role of the person's tracks (as "
            "tracks.role; where an override gave them several, the role of most of their frames).",
        ),
        field(
            "partner_person_id",
            TRACK_ID_TYPE,
            "person_id of the other person of the main pair; null outside the pair.",
        ),
        field("n_tracks", pa.int64(), "Number of the person's tracks (rows of features_summary)."),
        field(
            "duration_s",
            pa.float64(),
            "Time the person's tracks span, seconds: the time their frames are shown, a frame "
            "counted once (n_frames / fps at a constant rate).",
        ),
        field(
            "n_frames",
            pa.int64(),
            "Frames in the person's tracks' spans (their rows of features_frames).",
        ),
        field("coverage_ratio", pa.float64(), "Fraction of those frames with data, 0..1."),
    ]
    + [field(c, pa.float64(), _aggregate_description(c, _PEOPLE)) for c in aggregate_columns()]
    + [
        field(f"{e}_count", pa.int64(), f"Number of {EVENT_DESCRIPTIONS[e]} in all their tracks.")
        for e in EVENT_TYPES
    ]
    + [f for f in FEATURES_SUMMARY if f.name.startswith("sync_")]
)
EVENTS = _schema(
    _ids()
    + [
        _PERSON_ID,
        field(
            "event_type",
            pa.string(),
            "One of: " + "; ".join(f"`{e}`: {d}" for e, d in EVENT_DESCRIPTIONS.items()) + ".",
            False,
        ),
        field(
            "side", pa.string(), "`left` / `right` for gesture strokes (which wrist), else null."
        ),
        field("start_frame", pa.int64(), "First frame of the event (inclusive).", False),
        field("end_frame", pa.int64(), "Last frame of the event (inclusive).", False),
        field("start_s", pa.float64(), "Presentation time of start_frame, seconds."),
        field(
            "end_s",
            pa.float64(),
            "Presentation time of the frame after end_frame (the video's duration for the last "
            "frame), seconds.",
        ),
        field("duration_s", pa.float64(), "end_s - start_s, seconds."),
        field(
            "n_half_cycles",
            pa.int64(),
            "Nods/shakes: number of half-cycles (extremum to extremum), >= 2; else null.",
        ),
        field(
            "amplitude_deg",
            pa.float64(),
            "Nods/shakes: mean peak-to-peak swing of the band-passed angle; posture shifts: peak "
            "lean change. Degrees; else null.",
        ),
        field(
            "frequency_hz",
            pa.float64(),
            "Nods/shakes: half-cycles / 2 / the time from the first to the last extremum (a "
            "frame shorter than duration_s), Hz; else null.",
        ),
        field(
            "peak_speed_m_per_s",
            pa.float64(),
            "Gesture strokes: peak trunk-relative wrist speed, m/s; else null.",
        ),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "features_frames": FEATURES_FRAMES,
    "features_windows": FEATURES_WINDOWS,
    "features_summary": FEATURES_SUMMARY,
    "features_people": FEATURES_PEOPLE,
    "events": EVENTS,
}

_PANDAS_DTYPES = {
    pa.string(): "string",
    pa.int32(): "Int32",
    pa.int64(): "Int64",
    pa.float64(): "float64",
    pa.bool_(): "boolean",
}


def empty_frame(name: str) -> pd.DataFrame:
    """A zero-row DataFrame with the table's columns and dtypes."""
    return conform(pd.DataFrame(), name)


def conform(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Select, order and type the columns of ``df`` as the schema ``name`` says (missing -> null)."""
    schema = SCHEMAS[name]
    out = pd.DataFrame(index=df.index)
    for f in schema:
        dtype = _PANDAS_DTYPES[f.type]
        col = df[f.name] if f.name in df else pd.Series(pd.NA, index=df.index)
        if dtype == "float64":
            col = pd.to_numeric(col, errors="coerce").astype("float64")
        out[f.name] = col.astype(dtype)  # ints: a value out of the type's range raises
    return out.reset_index(drop=True)


def to_arrow(df: pd.DataFrame, name: str) -> pa.Table:
    """Validated Arrow table for storage: the schema ``name`` exactly (types, field descriptions,
    ``pmrr.schema_version``), plus pandas' own metadata."""
    return pa.Table.from_pandas(conform(df, name), schema=SCHEMAS[name], preserve_index=False)


def from_arrow(table: pa.Table) -> pd.DataFrame:
    """An Arrow table (the ``smpl`` table's columns) as pandas for analytics, its list columns
    left Arrow-backed (``pd.ArrowDtype``) rather than a numpy array per row and cell: on an hour
    of video (``benchmarks/long_input.py``) those objects were 140 MiB for nothing, since
    analytics reads the columns a track at a time (:func:`analytics.joints.list_values`)."""

    def lists_in_arrow(kind: pa.DataType) -> pd.ArrowDtype | None:
        return pd.ArrowDtype(kind) if pa.types.is_fixed_size_list(kind) else None

    return table.to_pandas(types_mapper=lists_in_arrow)
