"""Turn stage results into the pyarrow tables of :mod:`storage.schemas`.

Roles come from one place, :func:`analytics.roles.video_roles` (the framing heuristic, or the
per-video override, which always wins); the tracks table only writes them down.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pyarrow as pa

from storage.schemas import SHOTS, SMPL, TRACKS, VIDEOS
from tasks.probe import VideoInfo
from tasks.sequence import SmplSequence
from tasks.shots import Shot


def _fixed(values: np.ndarray, width: int) -> pa.Array:
    flat = np.ascontiguousarray(np.asarray(values, np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), width)


def videos_table(
    video_id: str,
    info: VideoInfo,
    source_uri: str,
    n_shots: int,
    n_tracks: int,
    n_people: int,
    seq: SmplSequence,
    code_version: str,
    fingerprints: dict[str, str],
    failures: dict[str, str] | None = None,
    lost_frames: np.ndarray | None = None,
) -> pa.Table:
    """The video's row. ``fingerprint`` hashes every stage fingerprint, so two rows with the
    same value were computed from the same inputs, settings, model files and code."""
    failures = failures or {}
    row = {
        "video_id": video_id,
        "source_uri": source_uri,
        "duration_s": info.duration_s,
        "fps": info.fps,
        "width_px": info.width_px,
        "height_px": info.height_px,
        "n_frames": info.n_frames,
        "n_shots": n_shots,
        "n_tracks": n_tracks,
        "n_people": n_people,
        "rotation_deg": info.rotation_deg,
        "sample_aspect": info.sample_aspect,
        "interlaced": info.interlaced,
        "start_offset_s": info.start_offset_s,
        "stream_index": info.stream_index,
        "decoder": info.decoder,
        "vfr": info.vfr,
        "frames_lost": 0 if lost_frames is None else len(lost_frames),
        "lost_ranges": frame_ranges(lost_frames),
        "codec": info.codec,
        "has_audio": info.has_audio,
        "focal_px": seq.focal_px,
        "estimator": seq.estimator,
        "assets": seq.assets,
        "code_version": code_version,
        "fingerprint": hashlib.sha256(
            json.dumps(fingerprints, sort_keys=True).encode()
        ).hexdigest()[:16],
        "fingerprints_json": json.dumps(fingerprints, sort_keys=True),
        "failed_stages": sorted(failures),
        "error": "; ".join(f"{k}: {v}" for k, v in sorted(failures.items())) or None,
        "processed_at": dt.datetime.now(dt.timezone.utc),
    }
    return pa.Table.from_pylist([row], schema=VIDEOS)


def frame_ranges(frames: np.ndarray | None) -> str:
    """Sorted frame indices as runs: [3, 4, 5, 9] -> "3-5,9"."""
    if frames is None or not len(frames):
        return ""
    frames = np.unique(np.asarray(frames, np.int64))
    starts = np.flatnonzero(np.diff(np.r_[-2, frames]) != 1)
    ends = np.r_[starts[1:] - 1, len(frames) - 1]
    return ",".join(
        f"{frames[a]}" if a == b else f"{frames[a]}-{frames[b]}"
        for a, b in zip(starts, ends, strict=True)
    )


def shots_table(video_id: str, shots: list[Shot], info: VideoInfo) -> pa.Table:
    """Shot times are presentation times; a shot ends when its last frame's display ends."""
    times, ends = info.times(), info.end_times()
    return pa.Table.from_pylist(
        [
            {
                "video_id": video_id,
                "shot_id": s.shot_id,
                "start_frame": s.start_frame,
                "end_frame": s.end_frame,
                "start_s": float(times[s.start_frame]),
                "end_s": float(ends[s.end_frame]),
            }
            for s in shots
        ],
        schema=SHOTS,
    )


def tracks_table(
    video_id: str, seq: SmplSequence, roles: dict[int, str], persons: dict[int, int]
) -> pa.Table:
    """One row per track; ``persons``: {track_id: person_id} (:mod:`tasks.people`)."""
    rows = []
    for track in np.unique(seq.track_id):
        mine = seq.track_id == track
        frames = seq.frame[mine]
        tile = seq.tile_px[mine][0]
        rows.append(
            {
                "video_id": video_id,
                "track_id": int(track),
                "shot_id": int(seq.shot_id[mine][0]),
                "person_id": persons[int(track)],
                "role": roles.get(int(track), "other"),
                "first_frame": int(frames.min()),
                "last_frame": int(frames.max()),
                "n_frames": len(frames),
                "tile_px": None if np.isnan(tile).any() else tile.tolist(),
            }
        )
    return pa.Table.from_pylist(rows, schema=TRACKS)


def smpl_table(video_id: str, seq: SmplSequence, info: VideoInfo) -> pa.Table:
    """One row per person-frame; ``t_s`` is the frame's presentation time."""
    n = len(seq)
    n_joints = seq.joints3d_m.shape[1] if n else 49
    columns = {
        "video_id": pa.array([video_id] * n, pa.string()),
        "track_id": pa.array(seq.track_id.astype(np.int32)),
        "frame": pa.array(seq.frame.astype(np.int64)),
        "t_s": pa.array(info.times()[seq.frame.astype(np.int64)], pa.float64()),
        "bbox_px": _fixed(seq.bbox_px, 4),
        "det_score": pa.array(seq.det_score.astype(np.float32)),
        "global_orient": _fixed(seq.global_orient, 3),
        "body_pose": _fixed(seq.body_pose, 69),
        "betas": _fixed(seq.betas, 10),
        "cam": _fixed(seq.cam, 3),
        "transl_m": _fixed(seq.transl_m, 3),
        "joints3d_m": _fixed(seq.joints3d_m, n_joints * 3),
        "joints2d_px": _fixed(seq.joints2d_px, n_joints * 2),
        "confidence": pa.array(seq.confidence.astype(np.float32)),
        "joints_observed": pa.FixedSizeListArray.from_arrays(
            pa.array(np.asarray(seq.joints_observed, bool).reshape(-1), pa.bool_()), n_joints
        ),
        "hands3d_m": _fixed(seq.hands3d_m, 6),
        "tile_px": _fixed(seq.tile_px, 4),
        "smoothed": pa.array([seq.smoothed] * n, pa.bool_()),
    }
    return pa.table(columns).cast(SMPL)
