"""Probe a video with ffprobe (through ffmpeg-python) and hash its content.

ffprobe reads the container metadata only, so a corrupt or truncated file is rejected in
milliseconds before any decoding; the content hash (not the path) is the ``video_id`` so that a
renamed or re-uploaded file reuses its cached stages and replaces its own outputs.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from fractions import Fraction

import ffmpeg

from tasks.errors import VideoError


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration_s: float
    fps: float
    n_frames: int
    width_px: int  # as displayed (after rotation)
    height_px: int
    rotation_deg: int  # clockwise rotation a player applies; decode applies it too
    codec: str
    has_audio: bool
    audio_codec: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def content_hash(path: str, chunk_bytes: int = 1 << 22) -> str:
    """sha256 of the file's bytes (first 16 hex characters): the video's identity."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(chunk_bytes):
                digest.update(block)
    except OSError as error:
        raise VideoError(f"{path}: cannot read ({error.strerror or error})") from error
    return digest.hexdigest()[:16]


def _rotation(stream: dict) -> int:
    """Rotation from the display-matrix side data (new ffmpeg) or the ``rotate`` tag (old)."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return int(-float(side["rotation"])) % 360
    tag = (stream.get("tags") or {}).get("rotate")
    return int(tag) % 360 if tag else 0


def probe_video(path: str) -> VideoInfo:
    """Metadata of a local video file; :class:`VideoError` naming the file if unusable."""
    if not os.path.exists(path):
        raise VideoError(f"{path}: file not found")
    if os.path.getsize(path) == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    try:
        meta = ffmpeg.probe(path)
    except ffmpeg.Error as error:
        detail = (error.stderr or b"").decode(errors="replace").strip().splitlines()
        reason = detail[-1] if detail else "ffprobe failed"
        raise VideoError(f"{path}: not a readable video ({reason})") from error
    videos = [s for s in meta.get("streams", []) if s.get("codec_type") == "video"]
    audios = [s for s in meta.get("streams", []) if s.get("codec_type") == "audio"]
    if not videos:
        raise VideoError(f"{path}: no video stream")
    stream = videos[0]
    try:
        fps = float(Fraction(stream.get("avg_frame_rate") or "0/1"))
    except (ZeroDivisionError, ValueError):
        fps = 0.0
    if fps <= 0:
        fps = float(Fraction(stream.get("r_frame_rate") or "0/1"))
    duration = float(stream.get("duration") or meta.get("format", {}).get("duration") or 0.0)
    n_frames = int(stream.get("nb_frames") or 0) or int(round(duration * fps))
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if fps <= 0 or width <= 0 or height <= 0 or n_frames <= 0:
        raise VideoError(f"{path}: video stream has no frames, size or frame rate")
    rotation = _rotation(stream)
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=path,
        duration_s=duration,
        fps=fps,
        n_frames=n_frames,
        width_px=width,
        height_px=height,
        rotation_deg=rotation,
        codec=str(stream.get("codec_name", "unknown")),
        has_audio=bool(audios),
        audio_codec=str(audios[0].get("codec_name")) if audios else None,
    )
