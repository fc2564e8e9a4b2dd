"""Pyarrow schemas of the pipeline's tables (DESIGN.md §4).

One schema per table, versioned by :data:`SCHEMA_VERSION` under the key
:data:`SCHEMA_VERSION_KEY` (stored in each file's schema metadata and in the commit manifest), so
readers can refuse data written by an incompatible release instead of silently mis-reading it.
The analytics tables (:mod:`analytics.tables`) import the same version and key: one version for
every table the pipeline writes. Units are in the column names (``_m``, ``_s``, ``_px``).
Fixed-size lists keep per-person arrays (pose, joints) in one row per person-frame, which is what
analysts filter on, while staying columnar for DuckDB/pyarrow.

Every field carries a ``description`` in its field metadata (units, range, meaning);
``docs/TABLES.md`` is generated from them by ``scripts/tables_doc.py``.

``track_id`` (and ``partner_track_id`` in the analytics tables) is int32 in every table: track
ids are small (numbered from 0 per video, one per person and shot), so int32 is ample, and one
dtype everywhere lets tables be joined without casts.
"""

from __future__ import annotations

import pyarrow as pa

from pmrr_model.constants import JOINT_NAMES, SMPL_JOINT_NAMES

SCHEMA_VERSION = "3.9"
SCHEMA_VERSION_KEY = b"pmrr.schema_version"

N_JOINTS = len(JOINT_NAMES)  # 49: pmrr_model.constants.JOINT_NAMES
BODY_JOINT_NAMES = SMPL_JOINT_NAMES[1:24]  # the 23 joints of body_pose (the root is global_orient)
TRACK_ID_TYPE = pa.int32()  # track_id / partner_track_id in every table (ids are small)
PERSON_ID = (
    "The person the track shows, numbered from 0 within the video in order of their first "
    "track: tracks of different shots whose clothing and head colours match share it "
    "(tasks.people; the run's people_max_distance, 0 = every track its own person); tracks seen "
    "in one frame never do. Roles are a person's: all their tracks have the same role."
)

TILE = (
    "The split-screen tile [x1, y1, x2, y2] (pixel frame) the person is seen in, where the shot "
    "is a video call's gallery of tiles (tasks/layout.py: borders across a region of the "
    "picture); the person was detected and estimated within it alone, and measures between two "
    "people in different tiles (orientation_to_other_deg) are null."
)

#: Coordinate frames used by the tables (also written to docs/TABLES.md).
CAMERA_FRAME = (
    "Camera frame: right-handed, origin at the camera centre, x right, y down, z forward "
    "(into the scene), metres; a pinhole camera with focal length videos.focal_px (pixels) and "
    "its principal point at the image centre. A person in a split screen's tile (smpl.tile_px) is "
    "in that tile's own camera: principal point at the tile's centre, focal length the tile's "
    "diagonal in pixels (each tile of a video call is another webcam)."
)
PIXEL_FRAME = (
    "Pixel frame: pixels of the frame as displayed (upright, after the container's display "
    "rotation), origin at the top-left corner of the image, x right, y down; width_px x height_px."
)


def schema_metadata() -> dict[bytes, bytes]:
    """Schema-level metadata of every pipeline table: the schema version."""
    return {SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()}


def field(name: str, type_: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    """A field with its ``description`` in the field metadata."""
    return pa.field(name, type_, nullable, metadata={b"description": description.encode()})


def description(f: pa.Field) -> str:
    """The field's description ("" when it has none)."""
    return (f.metadata or {}).get(b"description", b"").decode()


def _fixed(n: int) -> pa.DataType:
    return pa.list_(pa.float32(), n)


VIDEO_ID = (
    "Content hash of the video file (first 16 hex digits of its sha256). Stored as the hive "
    "partition `video_id=<id>/` (the folder's name), not inside the parquet files: read a "
    "table's folder with hive partitioning (pandas or pyarrow on the folder, DuckDB "
    "`hive_partitioning=true`) and it is a column; a single part file alone does not have it."
)
TRACK_ID = (
    "Person track, unique within the video: numbered from 0 in order of first appearance; a "
    "track never spans a shot cut (a person seen in two shots has two tracks, which share "
    "tracks.person_id)."
)

VIDEOS = pa.schema(
    [
        field("video_id", pa.string(), VIDEO_ID),
        field("source_uri", pa.string(), "Where the video was read from (path or URI as given)."),
        field(
            "duration_s",
            pa.float64(),
            "Duration in seconds: presentation time of the last frame (from the first frame) "
            "plus one median frame interval.",
        ),
        field(
            "fps",
            pa.float64(),
            "Mean frame rate (frames/s) = n_frames / duration_s; smoothing and analytics windows "
            "use it as the frame grid.",
        ),
        field(
            "width_px",
            pa.int32(),
            "Frame width in pixels as displayed (after rotation_deg and sample_aspect): the size "
            "every stage analyses and every pixel column is in.",
        ),
        field(
            "height_px",
            pa.int32(),
            "Frame height in pixels as displayed (after rotation_deg and sample_aspect).",
        ),
        field(
            "n_frames",
            pa.int64(),
            "Frames on the video stream's timeline (its packets), including frames that could "
            "not be decoded (frames_lost); frame numbers run 0..n_frames-1.",
        ),
        field("n_shots", pa.int32(), "Number of shots (rows of the shots table)."),
        field("n_tracks", pa.int32(), "Number of person tracks (rows of the tracks table)."),
        field(
            "n_people",
            pa.int32(),
            "Number of people: distinct tracks.person_id (a person seen in several shots counts "
            "once).",
        ),
        field(
            "rotation_deg",
            pa.int32(),
            "Display rotation of the stream (0, 90, 180 or 270 degrees, from the display matrix "
            "or `rotate` tag). Information only: decoders apply it, frames are analysed upright "
            "as a viewer sees them and width_px/height_px are the displayed size.",
        ),
        field(
            "sample_aspect",
            pa.string(),
            "Stored pixels' width:height (the stream's sample aspect ratio, SAR), e.g. `4:3` for "
            "HDV, `64:45` for widescreen PAL DV; `1:1` for square pixels. Non-square frames are "
            "resampled to square pixels at width_px x height_px when decoded, so boxes, joints, "
            "angles and the render are as a viewer sees the video.",
        ),
        field(
            "interlaced",
            pa.bool_(),
            "The stream is stored as interlaced fields (broadcast, DV); it was decoded by ffmpeg "
            "with a deinterlacer (bwdif, one frame per stored frame), so a moving person's lines "
            "are not two moments woven together.",
        ),
        field(
            "start_offset_s",
            pa.float64(),
            "When a player shows the first frame, in seconds from the file's start (its earliest "
            "stream's: audio that starts before the picture, as in some broadcast and DVD files); "
            "0 for most files (and below half a frame). Every time column (t_s, start_s, end_s) counts from the first "
            "frame: add this to line them up with the audio, a transcript or a player's clock "
            "(the ELAN file's TIME_ORIGIN and the render already do).",
        ),
        field(
            "stream_index",
            pa.int32(),
            "ffprobe index of the decoded video stream: the one ffmpeg plays by default (most "
            "pixels, the first on a tie, cover art excluded).",
        ),
        field(
            "decoder",
            pa.string(),
            "`decord` when decord opens the file, indexes the same number of frames and decodes "
            "the same frames as ffmpeg, the first ones and frames reached by a seek to a key "
            "frame; otherwise `ffmpeg` (an ffmpeg pipe), which also decodes every interlaced "
            "stream and every stream with frames stored without a time.",
        ),
        field(
            "vfr",
            pa.bool_(),
            "Variable frame rate: some frame interval differs from the median by more than 1 %. "
            "Times (t_s, start_s, end_s) are always the container's presentation times.",
        ),
        field(
            "frames_lost",
            pa.int64(),
            "Frames of the timeline that could not be decoded (left out; a stretch of them ends "
            "the shot); 0 when none.",
        ),
        field(
            "lost_ranges",
            pa.string(),
            "The lost frames as inclusive runs of frame numbers, e.g. `12-20,40`; empty string "
            "when none.",
        ),
        field("codec", pa.string(), "ffprobe codec name of the decoded video stream (e.g. h264)."),
        field("has_audio", pa.bool_(), "The file has an audio stream."),
        field(
            "focal_px",
            pa.float64(),
            "Focal length in pixels of the pinhole camera the estimator assumed (principal point "
            "at the image centre; by default the image diagonal); 0 when no person was estimated. "
            "People in a split screen's tiles have their tile's own camera (smpl.tile_px).",
        ),
        field(
            "estimator",
            pa.string(),
            "Per-person body estimator, e.g. `landmark-fit` or `pmrr:<checkpoint id>`.",
        ),
        field(
            "assets",
            pa.string(),
            "Body-model asset set used (kind and content hash of its files), e.g. `standin:3f2a...`.",
        ),
        field(
            "code_version",
            pa.string(),
            "Package version + hash of every stage's code (informative; fingerprints decide reuse).",
        ),
        field(
            "fingerprint",
            pa.string(),
            "Fingerprint of everything committed (flows.identity): first 16 hex digits of the "
            "sha256 of fingerprints_json. Two rows with the same value were computed from the "
            "same video, settings, model files and code.",
        ),
        field(
            "fingerprints_json",
            pa.string(),
            'JSON object {stage: fingerprint} (sorted keys), e.g. {"probe": "...", "shots": ...}; '
            "a stage's fingerprint hashes its inputs' fingerprints, its settings, the model files "
            "it loads and its code.",
        ),
        field(
            "failed_stages",
            pa.list_(pa.string()),
            "Optional stages that failed (render, exports, analytics, plots), sorted; their "
            "outputs are missing and the next run makes only them. Empty when all succeeded.",
        ),
        field(
            "error",
            pa.string(),
            "The failures as `stage: message; ...` (sorted by stage); null when none failed.",
        ),
        field(
            "processed_at",
            pa.timestamp("us", tz="UTC"),
            "When this row was made (UTC, microseconds).",
        ),
    ],
    metadata=schema_metadata(),
)

SHOTS = pa.schema(
    [
        field("video_id", pa.string(), VIDEO_ID),
        field("shot_id", pa.int32(), "Shot number within the video, from 0 in time order."),
        field("start_frame", pa.int64(), "First frame of the shot (inclusive)."),
        field("end_frame", pa.int64(), "Last frame of the shot (inclusive)."),
        field(
            "start_s",
            pa.float64(),
            "Presentation time of start_frame, seconds from the video's first frame.",
        ),
        field(
            "end_s",
            pa.float64(),
            "When the shot's last frame stops being displayed, seconds from the video's first "
            "frame: the next frame's presentation time (or the video's end for the last shot).",
        ),
    ],
    metadata=schema_metadata(),
)

TRACKS = pa.schema(
    [
        field("video_id", pa.string(), VIDEO_ID),
        field("track_id", TRACK_ID_TYPE, TRACK_ID),
        field("shot_id", pa.int32(), "The shot the track lies in (shots.shot_id)."),
        field("person_id", TRACK_ID_TYPE, PERSON_ID),
        field(
            "role",
            pa.string(),
            "`interviewer`, `interviewee` or `other`: the per-video roles override when given, "
            "otherwise the framing heuristic of analytics.roles (presence x apparent size).",
        ),
        field("first_frame", pa.int64(), "First frame with a body estimate for the track."),
        field("last_frame", pa.int64(), "Last frame with a body estimate for the track."),
        field(
            "n_frames",
            pa.int64(),
            "Frames with a body estimate (rows of smpl for the track); may be fewer than "
            "last_frame - first_frame + 1 where the person was lost.",
        ),
        field(
            "tile_px",
            _fixed(4),
            f"{TILE} Null where the shot is one picture.",
        ),
    ],
    metadata=schema_metadata(),
)

_JOINTS = f"the {N_JOINTS} joints of pmrr_model.constants.JOINT_NAMES (listed in docs/TABLES.md)"
_BODY = ", ".join(BODY_JOINT_NAMES)

SMPL = pa.schema(
    [
        field("video_id", pa.string(), VIDEO_ID),
        field("track_id", TRACK_ID_TYPE, TRACK_ID),
        field(
            "frame",
            pa.int64(),
            "Frame number in the video, from 0, in presentation order (index into the timeline).",
        ),
        field(
            "t_s",
            pa.float64(),
            "Presentation time of the frame in seconds from the video's first frame (container "
            "timestamps, so real times for variable-frame-rate videos; frame / fps when the "
            "container gives no timeline).",
        ),
        field(
            "bbox_px",
            _fixed(4),
            "Person box [x1, y1, x2, y2] in the pixel frame (top-left and bottom-right corners).",
        ),
        field(
            "det_score",
            pa.float32(),
            "Detector score of the box, 0..1; NaN where the box was interpolated between "
            "detections (detection runs every k-th frame).",
        ),
        field(
            "global_orient",
            _fixed(3),
            "Rotation of the root joint (pelvis) as an axis-angle vector [rx, ry, rz] in radians "
            "(direction = axis, norm = angle), in the camera frame.",
        ),
        field(
            "body_pose",
            _fixed(69),
            "Rotations of the 23 SMPL body joints relative to their parent joint, 3 axis-angle "
            f"values (radians) each, joint-major, in this order: {_BODY}.",
        ),
        field(
            "betas",
            _fixed(10),
            "10 shape coefficients of the body model (unitless, in its shape space; the stand-in "
            "model's shape space is not SMPL's). The confidence-weighted mean over the track, so "
            "constant within a track.",
        ),
        field(
            "cam",
            _fixed(3),
            "Weak-perspective camera [s, tx, ty] of the person's 224x224 crop (PyMAF convention, "
            "crop coordinates normalised to -1..1) giving the same projection as transl_m.",
        ),
        field(
            "transl_m",
            _fixed(3),
            "Translation [x, y, z] added to the posed body model (SMPL `transl`), camera frame, "
            "metres; joints3d_m already include it.",
        ),
        field(
            "joints3d_m",
            _fixed(N_JOINTS * 3),
            f"3D positions of {_JOINTS}, camera frame, metres, flattened joint-major "
            "[x0, y0, z0, x1, y1, z1, ...] (reshape to (49, 3)); translation applied.",
        ),
        field(
            "joints2d_px",
            _fixed(N_JOINTS * 2),
            f"joints3d_m projected with focal_px into the pixel frame: {_JOINTS}, flattened "
            "joint-major [x0, y0, x1, y1, ...] (reshape to (49, 2)); may lie outside the image.",
        ),
        field(
            "confidence",
            pa.float32(),
            "Estimator's confidence in this person-frame, 0..1: for `landmark-fit` the mean "
            "MediaPipe visibility of the landmarks mapped to the 25 OpenPose joints; for the PMRR "
            "network always 1 (it gives none). Weights the per-track betas average.",
        ),
        field(
            "joints_observed",
            pa.list_(pa.bool_(), N_JOINTS),
            f"Per joint of {_JOINTS} (same order as joints3d_m): true when this frame's image "
            "evidence saw it, false when the estimator inferred it (body-model prior, the "
            "other joints, temporal warm start). `landmark-fit`: a MediaPipe landmark of the "
            "joint was an observed fitting target (both passes of the mirror consensus agree, "
            "visibility >= 0.5, inside the frame and the person's box; a limb end also needs its "
            "parent joint observed; MediaPipe's low-visibility guesses of hidden joints are weak "
            "targets, never observed; where Pose found nobody, as in a face filling the frame, "
            "Face Mesh's nose, eyes and ears are observed targets); joints between landmarks "
            "(neck, thorax, pelvis, spine) need all their "
            "neighbours; head joints need the face (Face Mesh) or the nose. PMRR network: the "
            "joint projects inside the person's box and the image. With estimate_every_k > 1, "
            "a frame between two estimated frames (parameters interpolated) has a joint "
            "observed only where both of them did. Measures built on joints that are never "
            "observed (the legs of a chest-up shot) are the model's guess; the trunk lean and "
            "the shoulder raise are NaN where either shoulder is not observed.",
        ),
        field(
            "hands3d_m",
            _fixed(6),
            "Centres [x, y, z] of up to two hands seen apart from the body's landmarks, camera "
            "frame, metres, flattened [x0, y0, z0, x1, y1, z1] (reshape to (2, 3)); NaN where "
            "none. `landmark-fit` looks for them (MediaPipe Hands, followed from frame to frame) "
            "where the person has no forearm observed, as in a head-and-shoulders close-up: the "
            "mean image position of a hand's 21 landmarks, at the depth the palm's metric size "
            "implies. Slots are in the order found, not by side. The body's own hands are in "
            "joints3d_m; the hand-face measures use both. Always NaN for the PMRR network and "
            "for frames between two estimated ones (estimate_every_k > 1).",
        ),
        field(
            "tile_px",
            _fixed(4),
            f"{TILE} The person's 3D "
            "values (transl_m, joints3d_m, cam, hands3d_m) are in the tile's own camera "
            "(principal point at its centre, focal length its diagonal in pixels), as in a video "
            "of that tile alone; joints2d_px and bbox_px are in the frame's pixels. NaN where the "
            "frame is one picture.",
        ),
        field(
            "smoothed",
            pa.bool_(),
            "True when the temporal smoothing stage filtered the sequence (method offline, "
            "gaussian or online: rotations on the rotation manifold and transl_m per "
            "coordinate, per run of consecutive frames, then joints3d_m and joints2d_px "
            "recomputed from the smoothed parameters by the body model; runs under 3 frames "
            "stay as estimated by the offline/gaussian methods); false for method none "
            "(per-frame estimates).",
        ),
    ],
    metadata=schema_metadata(),
)

SCHEMAS: dict[str, pa.Schema] = {"videos": VIDEOS, "shots": SHOTS, "tracks": TRACKS, "smpl": SMPL}
