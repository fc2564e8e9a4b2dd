"""Arrow schemas of the analytics tables (``SCHEMA_VERSION`` is stored in each schema's metadata).

Units are in the column names (``_deg``, ``_m``, ``_m_per_s``, ``_deg_per_s``, ``_s``, ``_hz``,
``_ratio``, ``_per_min``); booleans start with ``is_`` / ``has_``. Definitions: ``MEASURES.md``.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from analytics.motion import SPEED_JOINTS

SCHEMA_VERSION = "1.0.0"

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
SYNC_SIGNALS = ("motion", "head")
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


def _schema(fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(fields, metadata={"schema_version": SCHEMA_VERSION})


_IDS = [pa.field("video_id", pa.string(), False), pa.field("track_id", pa.int64(), False)]

FEATURES_FRAMES = _schema(
    _IDS
    + [
        pa.field("frame", pa.int64(), False),
        pa.field("t_s", pa.float64()),
        pa.field("has_data", pa.bool_(), False),
    ]
    + [pa.field(c, pa.float64()) for c in FRAME_FLOATS]
    + [pa.field(c, pa.bool_()) for c in FRAME_BOOLS]
)
FEATURES_WINDOWS = _schema(
    _IDS
    + [
        pa.field("window_s", pa.float64(), False),
        pa.field("window_index", pa.int64(), False),
        pa.field("start_s", pa.float64()),
        pa.field("end_s", pa.float64()),
        pa.field("n_frames", pa.int64()),
        pa.field("coverage_ratio", pa.float64()),
    ]
    + [pa.field(c, pa.float64()) for c in aggregate_columns()]
    + [pa.field(c, pa.float64()) for c in SYNC_COLUMNS]
)
FEATURES_SUMMARY = _schema(
    _IDS
    + [
        pa.field("role", pa.string()),
        pa.field("partner_track_id", pa.int64()),
        pa.field("duration_s", pa.float64()),
        pa.field("n_frames", pa.int64()),
        pa.field("coverage_ratio", pa.float64()),
    ]
    + [pa.field(c, pa.float64()) for c in aggregate_columns()]
    + [pa.field(f"{e}_count", pa.int64()) for e in EVENT_TYPES]
    + [pa.field(c, pa.float64()) for c in SYNC_COLUMNS]
    + [pa.field("sync_window_s", pa.float64())]
)
EVENTS = _schema(
    _IDS
    + [
        pa.field("event_type", pa.string(), False),
        pa.field("side", pa.string()),
        pa.field("start_frame", pa.int64(), False),
        pa.field("end_frame", pa.int64(), False),
        pa.field("start_s", pa.float64()),
        pa.field("end_s", pa.float64()),
        pa.field("duration_s", pa.float64()),
        pa.field("n_half_cycles", pa.int64()),
        pa.field("amplitude_deg", pa.float64()),
        pa.field("frequency_hz", pa.float64()),
        pa.field("peak_speed_m_per_s", pa.float64()),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "features_frames": FEATURES_FRAMES,
    "features_windows": FEATURES_WINDOWS,
    "features_summary": FEATURES_SUMMARY,
    "events": EVENTS,
}

_PANDAS_DTYPES = {
    pa.string(): "string",
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
    for field in schema:
        dtype = _PANDAS_DTYPES[field.type]
        col = df[field.name] if field.name in df else pd.Series(pd.NA, index=df.index)
        if dtype == "float64":
            col = pd.to_numeric(col, errors="coerce").astype("float64")
        out[field.name] = col.astype(dtype)
    return out.reset_index(drop=True)


def to_arrow(df: pd.DataFrame, name: str) -> pa.Table:
    """Validated Arrow table (schema with version metadata) for storage."""
    return pa.Table.from_pandas(conform(df, name), schema=SCHEMAS[name], preserve_index=False)
