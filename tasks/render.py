"""Mesh-overlay video: decoded frames + the smoothed bodies, encoded to H.264 by ffmpeg.

Frames stream chunk by chunk from decord into ffmpeg's stdin as raw RGB (ffmpeg-python builds the
command), so memory stays one chunk plus the meshes of that chunk. The input frame rate is the
source's and every decoded frame is written exactly once, so the output has the source's fps and
frame count (variable-rate video is retimed onto a constant rate by presentation time, so it stays
as long as its audio); the source's audio is muxed in (copied when MP4 can carry the codec, AAC otherwise).
A video larger than ``max_side`` on its longest side is drawn scaled down (:func:`render_size`):
the render is for looking at the fit, and at full size it was the costliest stage on HD and 4K
(measured: 26.6 of 79.6 s for 6 s of 1080p, 95.6 of 198 s for 4K, 6.8 GB of memory at 4K).
Vertices are recomputed from the parameters with the body model and placed in the camera frame
by the offset that maps the model's joints onto the (smoothed) ``joints3d_m``, which works for
any estimator's translation convention.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ffmpeg
import numpy as np

from tasks.decode import iter_chunks
from tasks.errors import VideoError
from tasks.layout import tile_focal_px, tile_keys
from tasks.probe import VideoInfo
from tasks.sequence import SmplSequence

MP4_AUDIO = {"aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"}

Overlay = Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]


def camera_vertices(body_model, seq: SmplSequence, rows: np.ndarray) -> np.ndarray:
    """(len(rows), V, 3) vertices in the camera frame for the given sequence rows."""
    import torch

    with torch.no_grad():
        out = body_model(
            torch.as_tensor(seq.betas[rows], dtype=torch.float32),
            torch.as_tensor(seq.body_pose[rows], dtype=torch.float32),
            torch.as_tensor(seq.global_orient[rows], dtype=torch.float32),
        )
    joints = out.joints.numpy()
    offset = np.mean(seq.joints3d_m[rows] - joints, axis=1, keepdims=True)
    return out.vertices.numpy() + offset


def output_rate(info: VideoInfo) -> float:
    """Frame rate of the render: the source's for constant-rate video; for variable-rate video
    the median frame interval's rate (the recording's nominal rate), never below the mean."""
    if not info.vfr:
        return info.fps
    steps = np.diff(info.times())
    steps = steps[steps > 0]
    return max(info.fps, 1.0 / float(np.median(steps))) if len(steps) else info.fps


class Retimer:
    """Maps decoded frames (with their presentation times) onto a constant-rate output.

    Output frame ``k`` (time ``k / rate``) shows the decoded frame nearest to it in time, so a
    constant-rate source comes out frame for frame, a variable-rate one keeps its timing (frames
    held or skipped to the output's grid, video as long as the audio) and an undecodable stretch
    holds the last good frame."""

    def __init__(self, rate: float, duration_s: float) -> None:
        self.rate = rate
        self.total = max(1, int(round(duration_s * rate)))
        self.emitted = 0
        self._previous: tuple[float, np.ndarray] | None = None

    def push(self, time_s: float, frame: np.ndarray) -> list[np.ndarray]:
        """Frames to write now that ``frame`` (at ``time_s``) is known."""
        out = []
        if self._previous is None:
            limit = time_s  # output frames before the first decoded one show it
            held = frame
        else:
            limit = 0.5 * (self._previous[0] + time_s)
            held = self._previous[1]
        while self.emitted < self.total and self.emitted / self.rate <= limit + 1e-6:
            out.append(held)
            self.emitted += 1
        self._previous = (time_s, frame)
        return out

    def finish(self) -> list[np.ndarray]:
        """The remaining output frames, holding the last decoded frame."""
        if self._previous is None:
            return []
        out = [self._previous[1]] * (self.total - self.emitted)
        self.emitted = self.total
        return out


def render_size(info: VideoInfo, max_side: int) -> tuple[int, int]:
    """(width, height) of the render: the video's displayed size, or scaled to ``max_side`` on
    its longest side where it is larger (even numbers, as H.264 wants; 0: never scaled)."""
    width, height = info.width_px, info.height_px
    if max_side <= 0 or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


def _encoder(info: VideoInfo, out_path: Path, audio_source: str | None, size: tuple[int, int]):
    video = ffmpeg.input(
        "pipe:",
        format="rawvideo",
        pix_fmt="rgb24",
        s=f"{size[0]}x{size[1]}",
        framerate=output_rate(info),
    )
    video = video.filter("pad", "ceil(iw/2)*2", "ceil(ih/2)*2")  # yuv420p needs even sizes
    streams = [video]
    kwargs = {"vcodec": "libx264", "pix_fmt": "yuv420p", "preset": "veryfast", "crf": 23}
    if audio_source is not None:
        streams.append(ffmpeg.input(audio_source).audio)
        kwargs["acodec"] = "copy" if info.audio_codec in MP4_AUDIO else "aac"
    return (
        ffmpeg.output(*streams, str(out_path), movflags="+faststart", **kwargs)
        .global_args("-loglevel", "error", "-nostdin")
        .overwrite_output()
        .run_async(pipe_stdin=True, pipe_stderr=True)
    )


def _draw(
    frame, rows, verts, position, seq: SmplSequence, faces, overlay: Overlay, scale: tuple
) -> np.ndarray:
    """The frame's people drawn, each in their own camera: the frame's, or their split-screen
    tile's (:func:`tasks.layout.tile_focal_px`, drawn into that tile). ``scale``: the drawn
    frame's width and height over the video's; a camera with its principal point at the
    picture's centre sees the same picture scaled when its focal length is scaled with it."""
    keys = tile_keys(seq.tile_px[rows])
    whole = [r for r, k in zip(rows, keys, strict=True) if k is None]
    if whole:
        frame = overlay(frame, verts[[position[r] for r in whole]], faces, seq.focal_px * scale[0])
    for tile in {k for k in keys if k is not None}:
        mine = [r for r, k in zip(rows, keys, strict=True) if k == tile]
        x0, x1 = (round(v * scale[0]) for v in tile[::2])
        y0, y1 = (round(v * scale[1]) for v in tile[1::2])
        frame = np.array(frame)  # writable, whichever way the overlay returned it
        view = np.ascontiguousarray(frame[y0:y1, x0:x1])
        verts_mine = verts[[position[r] for r in mine]]
        frame[y0:y1, x0:x1] = overlay(view, verts_mine, faces, tile_focal_px((x0, y0, x1, y1)))
    return frame


def render_video(
    info: VideoInfo,
    seq: SmplSequence,
    out_path: Path,
    body_model,
    overlay: Overlay,
    chunk_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
    max_side: int = 0,
) -> Path:
    """Write ``out_path`` (local .mp4) on the source's timeline (:class:`Retimer`), at most
    ``max_side`` pixels on its longest side (:func:`render_size`); returns it."""
    faces = body_model.faces
    rows_by_frame: dict[int, list[int]] = {}
    for row, frame in enumerate(seq.frame):
        rows_by_frame.setdefault(int(frame), []).append(row)
    size = render_size(info, max_side)
    scale = (size[0] / info.width_px, size[1] / info.height_px)
    decode = size if scale != (1.0, 1.0) else (-1, -1)  # -1: as the video is shown
    process = _encoder(info, out_path, info.path if info.has_audio else None, size)
    # on the file's clock, as its audio is: a video that starts after the audio starts late
    retimer = Retimer(output_rate(info), info.start_offset_s + info.duration_s)
    times = info.start_offset_s + info.times()

    def write(frames: list[np.ndarray]) -> None:
        for frame in frames:
            process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())

    try:
        for indices, chunk in iter_chunks(info, chunk_size, width=decode[0], height=decode[1]):
            chunk_rows = [r for f in indices for r in rows_by_frame.get(int(f), [])]
            verts = camera_vertices(body_model, seq, np.asarray(chunk_rows)) if chunk_rows else None
            position = {row: i for i, row in enumerate(chunk_rows)}
            for index, frame in zip(indices, chunk, strict=True):
                rows = rows_by_frame.get(int(index), [])
                if rows and verts is not None:
                    frame = _draw(frame, rows, verts, position, seq, faces, overlay, scale)
                write(retimer.push(float(times[int(index)]), frame))
            if on_progress is not None:
                on_progress(len(indices))
        write(retimer.finish())
        process.stdin.close()
        stderr = process.stderr.read()
        if process.wait() != 0:
            raise VideoError(
                f"{out_path}: ffmpeg failed ({stderr.decode(errors='replace')[-500:]})"
            )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return out_path
