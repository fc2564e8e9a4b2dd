"""Probe a video: which stream is decoded, how, its size as displayed, and its frame timeline.

This is the one source of truth of what the pipeline decodes (:mod:`tasks.decode` follows it):

- **Stream**: the video stream ffmpeg would play -- the one with the most pixels, the first on a
  tie, cover art excluded; its index is recorded.
- **Size**: as displayed, i.e. after the container's display rotation; decoders apply the
  rotation themselves (measured for decord 0.6.0 and ffmpeg on 90/180/270 degree display
  matrices), so frames are used as decoded and ``rotation_deg`` is information only.
- **Pixel shape**: a stream stored with non-square pixels (a sample aspect ratio, SAR, other
  than 1:1: HDV's 1440x1080 shown at 1920x1080, DV's and DVD's 720x576 and 720x480) is shown
  stretched by players, and decoders hand out the stored, squeezed pixels (decord and ffmpeg
  alike). Every stage measures geometry in pixels (boxes, landmarks, a camera with square
  pixels), so frames are resampled to square pixels at decoding: the width times the SAR
  (rounded to even), the height kept. ``width_px``/``height_px`` are that size,
  ``coded_width_px``/``coded_height_px`` the stored one.
- **Fields**: a stream stored interlaced (``field_order`` tt, bb, tb or bt: broadcast and DV
  footage) holds two fields a frame, shot a field's time apart, and where anyone moves the lines
  of a frame disagree. decord hands the woven frame out as it is, so such a stream is decoded by
  ffmpeg with a deinterlacer (:mod:`tasks.decode`): one frame out per frame in, on the same
  timeline.
- **Timeline**: the presentation time of every frame, from the stream's packets (demuxing only,
  no decoding), so variable-frame-rate recordings get their real times; ``fps`` is the mean rate.
- **Decoder**: decord when it opens the file, indexes the same number of frames and decodes the
  same frames as ffmpeg (same stream, same rotation): the first ones and frames it reaches by a
  seek (:func:`seek_check_frames`). The ffmpeg pipe otherwise: formats or damage decord cannot
  handle, another stream chosen by decord, files whose frames decord's seeking gets wrong.

Errors name the file and the problem in plain words (empty, truncated, not a video, a still
image, no video stream, too small); decoder messages go to the debug log only. The content hash
(not the path) is the ``video_id``, so a renamed or re-uploaded file reuses its cached stages and
replaces its own outputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np

from tasks.errors import VideoError

logger = logging.getLogger(__name__)

MIN_SIDE_PX = 32  # below this no detector or pose model finds a person
INTERLACED = ("tt", "bb", "tb", "bt")  # ffprobe's field orders of interlaced streams
STILL_FORMATS = ("image2", "_pipe", "gif", "apng", "webp")  # ffprobe format names of images


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration_s: float
    fps: float  # mean frame rate over the timeline
    n_frames: int  # frames on the timeline (packets of the stream); some may be undecodable
    width_px: int  # as displayed (after rotation)
    height_px: int
    rotation_deg: int  # display rotation (``rotate`` tag); decoders apply it, frames come upright
    codec: str
    has_audio: bool
    audio_codec: str | None
    stream_index: int = 0  # ffprobe index of the decoded video stream
    decoder: str = "decord"  # "decord" or "ffmpeg" (see module docstring)
    vfr: bool = False  # frame intervals vary by more than 1 %
    start_time_s: float = 0.0  # container time of the first frame
    # when a player shows the first frame: its time after the file's earliest stream starts
    # (audio that starts before the video); frame times (``times``) count from the first frame
    start_offset_s: float = 0.0
    frame_times_s: tuple[float, ...] = ()  # each frame's time from the first frame
    sample_aspect: str = "1:1"  # stored pixels' width:height (SAR); frames come square
    coded_width_px: int = 0  # as stored (after rotation); 0: as displayed
    coded_height_px: int = 0
    interlaced: bool = False  # stored as fields; decoded deinterlaced (module docstring)

    @property
    def resampled(self) -> bool:
        """Stored with non-square pixels, so decoded frames are resampled to the displayed size."""
        coded = (self.coded_width_px or self.width_px, self.coded_height_px or self.height_px)
        return coded != (self.width_px, self.height_px)

    def to_dict(self) -> dict:
        return asdict(self)

    def times(self) -> np.ndarray:
        """(n_frames,) seconds from the first frame (``frame / fps`` if no timeline is known)."""
        if len(self.frame_times_s) == self.n_frames:
            return np.asarray(self.frame_times_s, np.float64)
        return np.arange(self.n_frames) / self.fps

    def end_times(self) -> np.ndarray:
        """(n_frames,) seconds at which each frame stops being shown: the next frame's time, the
        video's duration for the last one (what a span's ``end_s`` is, for frames inclusive)."""
        return np.append(self.times()[1:], self.duration_s)


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
    """Display rotation in degrees as the ``rotate`` tag writes it: ffprobe's rotation of the
    display matrix (a ``rotate=90`` file reports 90), or the tag itself. Information only:
    decoders apply it (compared with ffmpeg's autorotated decode in the tests)."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return int(round(float(side["rotation"]))) % 360
    tag = (stream.get("tags") or {}).get("rotate")
    return int(tag) % 360 if tag else 0


def sample_aspect(stream: dict) -> Fraction:
    """The stream's sample aspect ratio (stored pixel width over height); 1 where none is set
    (ffprobe writes ``0:1`` or ``N/A`` then) or it is implausible (beyond 1:4..4:1)."""
    text = str(stream.get("sample_aspect_ratio") or "1:1")
    try:
        num, den = (int(v) for v in text.split(":"))
        sar = Fraction(num, den)
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    return sar if Fraction(1, 4) <= sar <= 4 else Fraction(1)


def displayed_width(coded_width: int, sar: Fraction) -> int:
    """Width in square pixels of ``coded_width`` stored pixels of aspect ``sar``, rounded to an
    even number (what video encoders need for the render)."""
    return coded_width if sar == 1 else max(2, 2 * round(coded_width * sar / 2))


def _looks_like_mp4(path: str) -> bool:
    """An MP4/MOV file starts with a box (``ftyp``, ``moov``, ``mdat``, ``free``, ``wide``):
    that tells a cut-off recording from random bytes or text named ``.mp4``."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def _ffprobe(path: str, *args: str) -> dict:
    run = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args, path], capture_output=True, text=True
    )
    if run.returncode != 0:
        detail = run.stderr.strip()
        logger.debug("ffprobe %s: %s", path, detail)
        if "moov atom not found" in detail and _looks_like_mp4(path):
            raise VideoError(
                f"{path}: truncated or unfinished recording (no index; cannot be read)"
            )
        raise VideoError(f"{path}: not a readable video (no known container or codec)")
    return json.loads(run.stdout or "{}")


def choose_stream(streams: list[dict]) -> dict | None:
    """The video stream ffmpeg plays by default: most pixels, first on a tie, no cover art."""
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    if not videos:
        return None
    return max(
        videos, key=lambda s: (int(s.get("width") or 0) * int(s.get("height") or 0), -s["index"])
    )


def _seconds(value: object) -> float | None:
    return None if value in (None, "N/A") else float(value)


#: Above this share of a stream's packets stored without a presentation time, the timeline is
#: read from the decoded frames (:func:`_timeline`).
UNTIMED_SHARE = 0.1


def _timeline(path: str, index: int) -> tuple[np.ndarray, int, bool]:
    """Sorted presentation times of the stream's frames (absolute, seconds), how many of them
    were placed because their packet has none, and whether they were read from the decoded
    frames (then they are every frame there is: the container's frame count is not used).

    A packet stored without a presentation time (MPEG program streams such as DVD's VOB write one
    only now and then) is placed at its decoding time plus the stream's reordering delay (the
    median over packets that have both), where that lands on a frame slot no other packet holds.
    Left out, its frame would be missing from the timeline, and ffmpeg's frames after it would be
    matched to the wrong slots. decord misplaces such frames in its own index (a GOP off
    after them, measured on MPEG-2 program streams), so they also decide the decoder.

    Where more than :data:`UNTIMED_SHARE` of the packets have no time, or some of them find no
    free slot, that placing cannot be trusted. AVIs with B-frames time none of their packets
    (H.264: the video failed with "no decodable frames") or every third (DivX / Xvid: the slots
    were three frames apart, two thirds of the frames found none, and the timeline ran at a
    third of the rate, every third frame on it); MPEG-1 program streams time most (8 of 100
    frames found no slot). There the times are those ffmpeg's decoder gives its frames, read by
    decoding the stream once (``ffprobe -show_frames``): the times the ffmpeg pipe of
    :mod:`tasks.decode` matches its frames by. Frames the decoder gives no time (the last one or
    two of such files) are left out."""
    packets = _ffprobe(
        path, "-select_streams", str(index), "-show_entries", "packet=pts_time,dts_time"
    ).get("packets", [])
    shown, untimed, delays = [], [], []
    for packet in packets:
        pts, dts = _seconds(packet.get("pts_time")), _seconds(packet.get("dts_time"))
        if pts is not None:
            shown.append(pts)
            if dts is not None:
                delays.append(pts - dts)
        elif dts is not None:
            untimed.append(dts)
    if len(untimed) > UNTIMED_SHARE * len(packets):  # before placing: that is per packet
        return _decoded_times(path, index), len(untimed), True
    times = np.unique(np.asarray(shown, np.float64))
    placed = 0
    if untimed and len(times) > 1:
        step = float(np.median(np.diff(times)))
        delay = float(np.median(delays)) if delays else 0.0
        for t in np.asarray(untimed) + delay:
            if np.min(np.abs(times - t)) > 0.5 * step:
                times = np.sort(np.append(times, t))
                placed += 1
    if placed < len(untimed):
        return _decoded_times(path, index), len(untimed), True
    return times, placed, False


def _decoded_times(path: str, index: int) -> np.ndarray:
    """The times ffmpeg's decoder gives the stream's frames (its best-effort timestamps)."""
    frames = _ffprobe(
        path, "-select_streams", str(index), "-show_entries", "frame=best_effort_timestamp_time"
    ).get("frames", [])
    stamps = (_seconds(f.get("best_effort_timestamp_time")) for f in frames)
    return np.unique(np.asarray([t for t in stamps if t is not None], np.float64))


FIRST_CHUNK = 8  # frames decoded in one batch from the start (decord fails some VP9 that way)


def seek_check_frames(keys: list[int], n_frames: int) -> list[int]:
    """Frames that decord reaches by seeking to a key frame other than the first, where it has
    been seen to go wrong without a word: open GOPs (x265's default, MPEG-2, x264 with
    ``open_gop``: the frames that start at such a key frame miss their references), ASF/WMV
    (every other GOP read from the wrong place) and MPEG program streams (a GOP off towards the
    end). The key frame and the next frame, for the two key frames in the middle (ASF's errors
    come every other GOP) and the last one; the middle frame where there is no key frame but the
    first."""
    later = [k for k in keys if 0 < k < n_frames - 1]
    if not later:
        return [n_frames // 2] if n_frames > 1 else []
    middle = len(later) // 2
    chosen = sorted(set(later[middle : middle + 2] + later[-1:]))
    return [f for k in chosen for f in (k, k + 1)]


def choose_decoder(info: VideoInfo) -> str:
    """ "decord" where it decodes the same stream, frame count and frames as ffmpeg, read the way
    the pipeline reads them (:mod:`tasks.decode`: chunks, the reader parked in between): the first
    frames in one chunk, and frames reached by a seek (:func:`seek_check_frames`), against the
    ffmpeg pipe's frames matched by presentation time. "ffmpeg" otherwise."""
    import decord

    from tasks.decode import decord_chunks, ffmpeg_chunks

    path, size = info.path, (info.coded_width_px, info.coded_height_px)
    try:
        reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=0)
        count, keys = len(reader), [int(k) for k in reader.get_key_indices()]
        shape = reader[0].shape if count else None
        del reader
    except Exception as error:  # noqa: BLE001 (decord raises anything; ffmpeg takes over)
        logger.info("%s: decord cannot read it (%s); decoding with ffmpeg", path, error)
        return "ffmpeg"
    if shape != (size[1], size[0], 3) or count != info.n_frames:
        logger.info(
            "%s: decord sees %s frames of %s, expected %d of %dx%d; decoding with ffmpeg",
            path, count, shape, info.n_frames, *size,
        )  # fmt: skip
        return "ffmpeg"
    first = np.arange(min(FIRST_CHUNK, count), dtype=np.int64)
    seeks = np.asarray(seek_check_frames(keys, count), np.int64)
    ours, theirs = {}, {}
    try:  # each chunk starts with a seek, as the pipeline's chunks do
        for wanted, chunk in ((first, len(first)), (seeks, 2)):
            for indices, batch in decord_chunks(path, wanted, chunk, *size):
                ours.update(zip(indices.tolist(), batch, strict=True))
    except Exception as error:  # noqa: BLE001
        logger.info("%s: decord fails on a chunk (%s); decoding with ffmpeg", path, error)
        return "ffmpeg"
    for wanted in [first, *np.split(seeks, range(2, len(seeks), 2))]:  # a run per seek
        for indices, batch in ffmpeg_chunks(info, wanted, len(wanted), *size):
            theirs.update(zip(indices.tolist(), batch, strict=True))
    for frame, picture in sorted(theirs.items()):
        if frame not in ours or np.abs(picture.astype(np.int16) - ours[frame]).mean() > 2.0:
            logger.info("%s: decord's frame %d is not ffmpeg's; decoding with ffmpeg", path, frame)
            return "ffmpeg"
    return "decord"


def _start_offset(meta: dict, first_frame_s: float, step_s: float) -> float:
    """Seconds from the file's start (its earliest stream's, as players count) to the video's
    first frame; 0 where the container gives no start or it is under half a frame (audio
    priming: a render would gain a frame for a lag no one sees)."""
    try:
        offset = first_frame_s - float(meta.get("format", {}).get("start_time"))
    except (TypeError, ValueError):
        return 0.0
    return round(offset, 6) if offset >= 0.5 * step_s else 0.0


def probe_video(path: str) -> VideoInfo:
    """What the pipeline decodes from ``path``; :class:`VideoError` naming the file if unusable."""
    if os.path.islink(path) and not os.path.exists(path):
        raise VideoError(f"{path}: broken symbolic link")
    if not os.path.exists(path):
        raise VideoError(f"{path}: file not found")
    if os.path.isdir(path):
        raise VideoError(f"{path}: a folder, not a video file")
    if os.path.getsize(path) == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    meta = _ffprobe(path, "-show_streams", "-show_format")
    streams = meta.get("streams", [])
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    stream = choose_stream(streams)
    if stream is None:
        kind = "audio only" if audios else "no streams ffmpeg can read"
        raise VideoError(f"{path}: no video stream ({kind})")
    format_name = str(meta.get("format", {}).get("format_name", ""))
    if any(name in format_name for name in STILL_FORMATS):
        raise VideoError(f"{path}: a still image ({stream.get('codec_name')}), not a video")
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if min(width, height) < MIN_SIDE_PX:
        raise VideoError(
            f"{path}: too small ({width}x{height} pixels; at least {MIN_SIDE_PX} on each side)"
        )
    index = int(stream["index"])
    stamps, placed, decoded = _timeline(path, index)
    if not len(stamps):
        raise VideoError(f"{path}: no decodable frames (truncated or damaged file)")
    rotation = _rotation(stream)
    sar = sample_aspect(stream)
    # the SAR applies to the stored, unrotated picture; decoders then rotate
    coded, shown = (width, height), (displayed_width(width, sar), height)
    if rotation in (90, 270):
        coded, shown = coded[::-1], shown[::-1]
    times = stamps - stamps[0]
    steps = np.diff(times)
    step = float(np.median(steps)) if len(steps) else 0.0
    if step <= 0:
        try:
            step = 1.0 / float(Fraction(stream.get("avg_frame_rate") or "0/1"))
        except (ZeroDivisionError, ValueError):
            step = 1.0 / 25.0
    indexed = 0 if decoded else int(stream.get("nb_frames") or 0)
    if indexed > len(times):
        # A cut-off file: its index lists frames whose data is gone. Packets are stored in
        # decoding order, so the lost frames are not simply the last ones shown: lay the indexed
        # frames on the frame grid and keep the real times of the frames that are there.
        grid = np.arange(indexed) * step
        slots = np.clip(np.round(times / step).astype(np.int64), 0, indexed - 1)
        grid[slots] = times
        times = np.unique(grid)
        logger.info("%s: %d indexed frames have no data", path, indexed - len(stamps))
    duration = float(times[-1]) + step
    vfr = bool(len(steps) and np.any(np.abs(steps - step) > 0.01 * step))
    n_frames = len(times)
    interlaced = str(stream.get("field_order", "")) in INTERLACED
    info = VideoInfo(
        path=path,
        duration_s=duration,
        fps=n_frames / duration,
        n_frames=n_frames,
        width_px=shown[0],
        height_px=shown[1],
        rotation_deg=rotation,
        codec=str(stream.get("codec_name", "unknown")),
        has_audio=bool(audios),
        audio_codec=str(audios[0].get("codec_name")) if audios else None,
        stream_index=index,
        decoder="ffmpeg",
        vfr=vfr,
        start_time_s=float(stamps[0]),
        start_offset_s=_start_offset(meta, float(stamps[0]), step),
        frame_times_s=tuple(float(t) for t in times),
        sample_aspect=f"{sar.numerator}:{sar.denominator}",
        coded_width_px=coded[0],
        coded_height_px=coded[1],
        interlaced=interlaced,
    )
    # ffmpeg's scale follows its rotation (decord's order is not documented); only ffmpeg
    # deinterlaces; frames stored without a time are misplaced by decord (_timeline). Otherwise
    # decord where it decodes what ffmpeg does.
    if (sar != 1 and rotation in (90, 270)) or interlaced or placed:
        return info
    return dataclasses.replace(info, decoder=choose_decoder(info))
