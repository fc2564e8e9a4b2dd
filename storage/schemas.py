"""Pyarrow schemas of the pipeline's tables (DESIGN.md §4).

One schema per table, versioned by :data:`SCHEMA_VERSION` (stored in each file's schema metadata
and in the commit manifest), so readers can refuse data written by an incompatible release
instead of silently mis-reading it. Units are in the column names (``_m``, ``_s``, ``_px``).
Fixed-size lists keep per-person arrays (pose, joints) in one row per person-frame, which is what
analysts filter on, while staying columnar for DuckDB/pyarrow.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "2.1"

N_JOINTS = 49  # pmrr_model.constants.JOINT_NAMES

_META = {b"pmrr.schema_version": SCHEMA_VERSION.encode()}


def _fixed(n: int) -> pa.DataType:
    return pa.list_(pa.float32(), n)


VIDEOS = pa.schema(
    [
        ("video_id", pa.string()),
        ("source_uri", pa.string()),
        ("duration_s", pa.float64()),
        ("fps", pa.float64()),
        ("width_px", pa.int32()),
        ("height_px", pa.int32()),
        ("n_frames", pa.int64()),
        ("n_shots", pa.int32()),
        ("n_tracks", pa.int32()),
        ("rotation_deg", pa.int32()),  # display rotation; frames are analysed upright
        ("stream_index", pa.int32()),  # the decoded video stream (ffmpeg's default choice)
        ("decoder", pa.string()),  # decord, or ffmpeg where decord cannot read it right
        ("vfr", pa.bool_()),  # variable frame rate: t_s are the container's presentation times
        ("frames_lost", pa.int64()),  # frames of the timeline that could not be decoded
        ("lost_ranges", pa.string()),  # those frames as "12-20,40" ("" when none)
        ("codec", pa.string()),
        ("has_audio", pa.bool_()),
        ("focal_px", pa.float64()),
        ("estimator", pa.string()),
        ("assets", pa.string()),
        ("code_version", pa.string()),
        ("fingerprint", pa.string()),  # of everything committed (flows.identity)
        ("fingerprints_json", pa.string()),  # {stage: fingerprint} as JSON
        ("failed_stages", pa.list_(pa.string())),  # stages whose outputs are missing
        ("error", pa.string()),  # "stage: message; ..." or null
        ("processed_at", pa.timestamp("us", tz="UTC")),
    ],
    metadata=_META,
)

SHOTS = pa.schema(
    [
        ("video_id", pa.string()),
        ("shot_id", pa.int32()),
        ("start_frame", pa.int64()),  # inclusive
        ("end_frame", pa.int64()),  # inclusive
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
    ],
    metadata=_META,
)

TRACKS = pa.schema(
    [
        ("video_id", pa.string()),
        ("track_id", pa.int32()),
        ("shot_id", pa.int32()),
        ("role", pa.string()),  # interviewer / interviewee / other
        ("first_frame", pa.int64()),
        ("last_frame", pa.int64()),
        ("n_frames", pa.int64()),
    ],
    metadata=_META,
)

SMPL = pa.schema(
    [
        ("video_id", pa.string()),
        ("track_id", pa.int32()),
        ("frame", pa.int64()),
        ("t_s", pa.float64()),
        ("bbox_px", _fixed(4)),  # x1, y1, x2, y2
        ("det_score", pa.float32()),  # NaN where the box was interpolated between detections
        ("global_orient", _fixed(3)),  # axis-angle, rad, camera frame
        ("body_pose", _fixed(69)),  # 23 x axis-angle, rad
        ("betas", _fixed(10)),
        ("cam", _fixed(3)),  # weak perspective [s, tx, ty] of the 224 crop
        ("transl_m", _fixed(3)),
        ("joints3d_m", _fixed(N_JOINTS * 3)),
        ("joints2d_px", _fixed(N_JOINTS * 2)),
        ("confidence", pa.float32()),
        ("smoothed", pa.bool_()),
    ],
    metadata=_META,
)

SCHEMAS: dict[str, pa.Schema] = {"videos": VIDEOS, "shots": SHOTS, "tracks": TRACKS, "smpl": SMPL}
