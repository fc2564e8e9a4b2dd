"""A corpus of bad and unusual inputs, built at test time with the ffmpeg CLI (nothing committed).

Every file is made from the project's real 1 s sample clip (``samples.carphone_clip(...,
seconds=1.0)``: 176x144, 25 fps, 25 frames, H.264 + AAC, one man talking) or from ffmpeg's
``testsrc``, and comes with its expected outcome:

- ``ok``: processed, no frame lost; ``size`` is the displayed (width, height), ``frames`` the
  frame count;
- ``lost``: processed, some frames lost; ``frames`` is the container's frame count,
  ``frames_lost`` / ``lost_frames`` what the ffmpeg CLI cannot decode;
- ``failed``: with a ``keyword`` the one-line error must contain.

Expectations are checked or derived, at build time, by independent oracles -- ``ffprobe`` and
decoding with the ``ffmpeg`` CLI (its default stream choice, autorotation, error concealment) --
never by project code. ``Entry.derived`` names what came from the oracle rather than from the
brief; ``Entry.oracle`` keeps what the oracle said, and :func:`report` prints it.

``python3 -m tests.corpus [FOLDER]`` builds the corpus and prints the report.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FPS = 25
CLIP_SIZE = (176, 144)
PORTRAIT_SIZE = (144, 176)  # the clip stretched upright into a phone-like portrait frame
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
# Mean absolute grey-level difference below which a displayed frame counts as the reference's.
UPRIGHT_MAX_DIFF = 12.0


class CorpusError(RuntimeError):
    """A corpus file does not have the property it was built for (the builder's own check)."""


@dataclass
class Oracle:
    """What ffprobe and the ffmpeg CLI say about one file."""

    probe_error: str = ""  # ffprobe's first error line; "" when it reads the file
    format_name: str = ""
    streams: list[dict] = field(default_factory=list)
    decode_error: str = ""  # the ffmpeg CLI's first error line while decoding, if any
    decoded: int = 0  # video frames the ffmpeg CLI decodes (its default video stream)
    size: tuple[int, int] | None = None  # (width, height) of those frames, after autorotation
    pts: list[float] = field(default_factory=list)  # presentation times of those frames, s

    def video_streams(self) -> list[dict]:
        return [s for s in self.streams if s.get("codec_type") == "video"]

    def declared_frames(self) -> int | None:
        """The container's frame count of its first video stream (mp4/mov ``nb_frames``)."""
        videos = self.video_streams()
        value = videos[0].get("nb_frames") if videos else None
        return int(value) if value not in (None, "N/A") else None


@dataclass
class Entry:
    """One corpus input and its expected outcome."""

    name: str
    path: Path
    outcome: str  # "ok" | "lost" | "failed"
    keyword: str = ""  # failed: what the error must contain
    size: tuple[int, int] | None = None  # ok/lost: displayed (width, height)
    frames: int | None = None  # ok/lost: expected videos.n_frames
    frames_lost: int | None = None  # ok/lost: expected videos.frames_lost
    lost_frames: frozenset[int] = frozenset()  # frame indices that cannot be decoded
    render: bool = False  # processed in the second batch, with render=True, and checked
    note: str = ""
    derived: list[str] = field(default_factory=list)  # expectations taken from the oracle
    skip: str = ""  # why this variant cannot be built here (encoder absent)
    oracle: Oracle | None = None
    extra: dict = field(default_factory=dict)  # per-entry oracle data the test needs


# --------------------------------------------------------------------------------------------
# ffmpeg / ffprobe


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, errors="replace", check=False)


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg CLI; raise with its own message when it fails."""
    done = _run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args])
    if done.returncode != 0:
        raise CorpusError(f"ffmpeg {' '.join(args)}: {done.stderr.strip()[-2000:]}")


def encoders() -> set[str]:
    done = _run(["ffmpeg", "-hide_banner", "-encoders"])
    names = set()
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return names


def probe(path: Path) -> dict:
    """``ffprobe -show_format -show_streams`` as a dict; ``{"error": first line}`` on failure."""
    done = _run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)]
    )
    if done.returncode != 0:
        lines = [x for x in done.stderr.strip().splitlines() if x.strip()]
        return {"error": lines[-1] if lines else f"ffprobe exit status {done.returncode}"}
    return json.loads(done.stdout or "{}")


_SHOWINFO = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:(-?[\d.e+-]+).*?\bs:(\d+)x(\d+)")


def decode(path: Path) -> tuple[list[tuple[float, int, int]], str]:
    """Decode with the ffmpeg CLI as a user would (``ffmpeg -i FILE``: its default video
    stream, autorotation, its error concealment): ``([(pts_time, width, height), ...], first
    error line)``. ``showinfo`` sits before the output's frame-rate logic, so each decoded frame
    is listed exactly once."""
    done = _run(
        [
            "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
            "-i", str(path), "-an", "-sn", "-dn", "-vf", "showinfo", "-f", "null", "-",
        ]
    )  # fmt: skip
    frames = [
        (float(m.group(3)), int(m.group(4)), int(m.group(5)))
        for m in _SHOWINFO.finditer(done.stderr)
    ]
    errors = [
        line.strip()
        for line in done.stderr.splitlines()
        if re.search(r"error|invalid|not found|could not", line, re.I) and "showinfo" not in line
    ]
    return frames, (errors[0] if errors else "")


def frame_times(path: Path) -> list[float]:
    """Presentation times of the first video stream's frames, sorted (ffprobe)."""
    done = _run(
        [
            "ffprobe", "-v", "error", "-select_streams", "v:0",
            "-show_entries", "frame=pts_time,best_effort_timestamp_time", "-of", "json", str(path),
        ]
    )  # fmt: skip
    times = []
    for frame in json.loads(done.stdout or "{}").get("frames", []):
        value = frame.get("pts_time", frame.get("best_effort_timestamp_time"))
        if value not in (None, "N/A"):
            times.append(float(value))
    return sorted(times)


def durations(path: Path) -> dict[str, float | None]:
    """Container duration of the first video and first audio stream (ffprobe), seconds."""
    meta = probe(path)
    found: dict[str, float | None] = {"video": None, "audio": None}
    for stream in meta.get("streams", []):
        kind = stream.get("codec_type")
        if kind in found and found[kind] is None and stream.get("duration") not in (None, "N/A"):
            found[kind] = float(stream["duration"])
    return found


def first_frame_gray(path: Path) -> np.ndarray:
    """The first displayed frame (ffmpeg CLI, autorotated) as a grey image."""
    frames, _ = decode(path)
    if not frames:
        raise CorpusError(f"{path}: the ffmpeg CLI decodes no frame")
    _, width, height = frames[0]
    done = subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
            "-frames:v", "1", "-an", "-f", "rawvideo", "-pix_fmt", "gray", "-",
        ],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.uint8)[: width * height].reshape(height, width)


def oracle(path: Path) -> Oracle:
    if path.is_dir() or not path.exists():
        return Oracle(probe_error="not a file")
    meta = probe(path)
    said = Oracle(probe_error=meta.get("error", ""))
    said.format_name = meta.get("format", {}).get("format_name", "")
    for s in meta.get("streams", []):
        rotation = next(
            (d.get("rotation") for d in s.get("side_data_list", []) if "rotation" in d), None
        )
        said.streams.append(
            {
                "index": s.get("index"),
                "codec_type": s.get("codec_type"),
                "codec_name": s.get("codec_name"),
                "width": s.get("width"),
                "height": s.get("height"),
                "pix_fmt": s.get("pix_fmt"),
                "nb_frames": s.get("nb_frames"),
                "field_order": s.get("field_order"),
                "default": bool(s.get("disposition", {}).get("default")),
                "rotation": rotation,
            }
        )
    frames, said.decode_error = decode(path)
    said.decoded = len(frames)
    said.pts = [t for t, _, _ in frames]
    if frames:
        said.size = (frames[0][1], frames[0][2])
    return said


# --------------------------------------------------------------------------------------------
# what to build


@dataclass
class Spec:
    name: str
    filename: str
    outcome: str  # the brief's expectation; "oracle" where it is decided by the oracle
    # (clip, output path, scratch folder) -> None, or facts about the build for the report
    build: Callable[[Path, Path, Path], dict | None]
    keyword: str = ""
    size: tuple[int, int] | None = None
    frames: int | None = None
    needs: tuple[str, ...] = ()  # encoders
    render: bool = False
    note: str = ""


def _write(data: bytes) -> Callable[[Path, Path, Path], None]:
    return lambda clip, out, tmp: out.write_bytes(data)


def _faststart(clip: Path, tmp: Path) -> bytes:
    target = tmp / "faststart.mp4"
    if not target.exists():
        ffmpeg("-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(target))
    data = target.read_bytes()
    if b"moov" not in data[:4096]:
        raise CorpusError(f"{target}: moov is not at the start")
    return data


def _truncated_faststart(percent: int) -> Callable[[Path, Path, Path], None]:
    def build(clip: Path, out: Path, tmp: Path) -> None:
        data = _faststart(clip, tmp)
        out.write_bytes(data[: len(data) * percent // 100])

    return build


def _truncated_moov_at_end(clip: Path, out: Path, tmp: Path) -> None:
    data = clip.read_bytes()
    if data.rfind(b"moov") < len(data) // 2:
        raise CorpusError(f"{clip}: expected the moov atom at the end")
    out.write_bytes(data[: len(data) // 2])


def _corrupt_middle(clip: Path, out: Path, tmp: Path) -> None:
    data = bytearray(_faststart(clip, tmp))
    rng = random.Random(20)
    start, stop = len(data) * 40 // 100, len(data) * 60 // 100
    data[start:stop] = rng.randbytes(stop - start)
    out.write_bytes(bytes(data))


def _audio_only(clip: Path, out: Path, tmp: Path) -> None:
    ffmpeg("-i", str(clip), "-vn", "-c:a", "copy", str(out))


def _jpeg(clip: Path, out: Path, tmp: Path) -> None:
    still = tmp / "still.jpg"
    ffmpeg("-i", str(clip), "-frames:v", "1", "-q:v", "3", str(still))
    shutil.copyfile(still, out)


def _one_frame(clip: Path, out: Path, tmp: Path) -> None:
    ffmpeg("-i", str(clip), "-frames:v", "1", "-an", *H264, str(out))


def _nobody(clip: Path, out: Path, tmp: Path) -> None:
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=320x240:rate={FPS}:duration=1", *H264, str(out))


def _tiny(clip: Path, out: Path, tmp: Path) -> None:
    ffmpeg("-i", str(clip), "-vf", "scale=16:16,setsar=1", *H264, "-c:a", "copy", str(out))


def _uhd(clip: Path, out: Path, tmp: Path) -> None:
    # aspect kept (the man is not stretched), pillar-boxed to 3840x2160
    ffmpeg(
        "-i", str(clip), "-frames:v", "10", "-an",
        "-vf", "scale=-2:2160:flags=bicubic,pad=3840:2160:(ow-iw)/2:0,setsar=1",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-pix_fmt", "yuv420p", str(out),
    )  # fmt: skip


def _portrait_reference(clip: Path, tmp: Path) -> Path:
    """The clip stretched into an upright 144x176 portrait frame (what a phone held upright
    shows); its box is clearly taller than wide, so a sideways decode would show."""
    ref = tmp / "upright_portrait.mp4"
    if not ref.exists():
        w, h = PORTRAIT_SIZE
        ffmpeg("-i", str(clip), "-vf", f"scale={w}:{h},setsar=1", *H264, "-c:a", "copy", str(ref))
    return ref


def _upright_diff(path: Path, reference: Path) -> float:
    """Mean |grey difference| between the first displayed frames of ``path`` and ``reference``
    (large, or inf for another size, when ``path`` is not displayed upright)."""
    shown, upright = first_frame_gray(path), first_frame_gray(reference)
    if shown.shape != upright.shape:
        return float("inf")
    return float(np.abs(shown.astype(np.float32) - upright.astype(np.float32)).mean())


def _rotated(degrees: int) -> Callable[[Path, Path, Path], dict]:
    """As phones write it: the pixels stored turned away from upright, plus a display matrix
    (``-metadata:s:v:0 rotate=N``, ffmpeg 5.1) that turns them upright for display.

    Which way to store them is decided by the oracle: the turn whose file the ffmpeg CLI
    displays upright (ffmpeg 5.1 writes ``rotate=90`` as a matrix ffprobe reports as
    ``rotation=90``, i.e. turn counter-clockwise to display, so the pixels are stored turned
    clockwise)."""
    turns = ["hflip,vflip"] if degrees == 180 else ["transpose=clock", "transpose=cclock"]

    def build(clip: Path, out: Path, tmp: Path) -> dict:
        reference = clip if degrees == 180 else _portrait_reference(clip, tmp)
        tried = {}
        for turn in turns:
            stored = tmp / f"stored_{degrees}.mp4"
            ffmpeg("-i", str(reference), "-vf", turn, *H264, "-c:a", "copy", str(stored))
            ffmpeg(
                "-i", str(stored), "-map", "0", "-c", "copy",
                "-metadata:s:v:0", f"rotate={degrees}", str(out),
            )  # fmt: skip
            tried[turn] = _upright_diff(out, reference)
            if tried[turn] < UPRIGHT_MAX_DIFF:
                return {"stored_turn": turn, "upright_diff": tried[turn]}
        raise CorpusError(f"{out}: no stored turn is displayed upright by ffmpeg ({tried})")

    return build


def _vfr(clip: Path, out: Path, tmp: Path) -> None:
    # 12 frames at 25 fps, then 13 at 10 fps. Encoder time base 1 ms (else x264 rounds the times
    # to 1/25 s), no B-frames (else the mp4 edit list makes ffprobe's stream duration shorter
    # than the last frame's time).
    ffmpeg(
        "-i", str(clip), "-vf", "setpts='if(lt(N,12),N/25,12/25+(N-12)/10)/TB'",
        "-vsync", "vfr", "-enc_time_base:v", "1:1000", *H264, "-bf", "0", "-c:a", "copy", str(out),
    )  # fmt: skip


def _transcode(*video: str, audio: tuple[str, ...] = ("-c:a", "copy"), fmt: str = ""):
    def build(clip: Path, out: Path, tmp: Path) -> None:
        ffmpeg("-i", str(clip), *video, *audio, *(["-f", fmt] if fmt else []), str(out))

    return build


def _two_streams(clip_first: bool) -> Callable[[Path, Path, Path], None]:
    def build(clip: Path, out: Path, tmp: Path) -> None:
        if clip_first:  # stream 0 the clip, stream 1 a larger test pattern (nobody in it)
            # The larger stream is also the default one: ffmpeg (and av_find_best_stream) rank
            # the default disposition first, and mp4 always marks one video track default.
            ffmpeg(
                "-i", str(clip),
                "-f", "lavfi", "-i", f"testsrc=size=416x240:rate={FPS}:duration=1",
                "-map", "0:v", "-map", "1:v", "-map", "0:a", *H264, "-c:a", "copy",
                "-disposition:v:0", "0", "-disposition:v:1", "default", str(out),
            )  # fmt: skip
        else:  # stream 0 a small test pattern, stream 1 the clip
            ffmpeg(
                "-f", "lavfi", "-i", f"testsrc=size=64x48:rate={FPS}:duration=1",
                "-i", str(clip),
                "-map", "0:v", "-map", "1:v", "-map", "1:a", *H264, "-c:a", "copy", str(out),
            )  # fmt: skip

    return build


def _copy_with_title(clip: Path, out: Path, tmp: Path) -> None:
    # a remux with a title, so its content hash differs from good.mp4's
    ffmpeg("-i", str(clip), "-map", "0", "-c", "copy", "-metadata", f"title={out.stem}", str(out))


def _directory(clip: Path, out: Path, tmp: Path) -> None:
    out.mkdir()
    (out / "readme.txt").write_text("a folder named like a video\n")


def _broken_link(clip: Path, out: Path, tmp: Path) -> None:
    out.symlink_to(out.with_name("gone-target.mp4"))


TEXT = b"PMRR interviews\nThis is a text file, not a video.\n" * 40
SPECS: list[Spec] = [
    Spec("good", "good.mp4", "ok", lambda c, o, t: shutil.copyfile(c, o), size=CLIP_SIZE, frames=25),
    Spec("empty", "empty.mp4", "failed", _write(b""), keyword="empty file"),
    Spec("random_bytes", "random.mp4", "failed", _write(random.Random(7).randbytes(64 * 1024)),
         keyword="not a readable video"),
    Spec("text", "notes.mp4", "failed", _write(TEXT), keyword="not a readable video"),
    Spec("faststart_cut_10", "faststart_cut10.mp4", "oracle", _truncated_faststart(10),
         keyword="no decodable", note="moov first, cut at 10 % of the bytes"),
    Spec("faststart_cut_50", "faststart_cut50.mp4", "oracle", _truncated_faststart(50),
         note="moov first, cut at 50 %"),
    Spec("faststart_cut_90", "faststart_cut90.mp4", "oracle", _truncated_faststart(90),
         note="moov first, cut at 90 %"),
    Spec("moov_at_end_cut", "moov_at_end_cut.mp4", "failed", _truncated_moov_at_end,
         keyword="truncated", note="moov at the end, cut at 50 %: no index at all"),
    Spec("corrupt_middle", "corrupt_middle.mp4", "oracle", _corrupt_middle,
         note="faststart, bytes 40-60 % replaced by random bytes"),
    Spec("audio_only", "audio_only.mp4", "failed", _audio_only, keyword="no video stream"),
    Spec("jpeg", "photo.mp4", "failed", _jpeg, keyword="still image", note="a JPEG named .mp4"),
    Spec("one_frame", "one_frame.mp4", "ok", _one_frame, size=CLIP_SIZE, frames=1),
    Spec("nobody", "nobody.mp4", "failed", _nobody, keyword="no person detected",
         note="testsrc 320x240, 1 s"),
    Spec("tiny", "tiny_16x16.mp4", "failed", _tiny, keyword="too small"),
    Spec("uhd", "uhd_3840x2160.mp4", "ok", _uhd, size=(3840, 2160), frames=10),
    Spec("rotate_90", "rotate_90.mp4", "ok", _rotated(90), size=PORTRAIT_SIZE, frames=25,
         render=True),
    Spec("rotate_180", "rotate_180.mp4", "ok", _rotated(180), size=CLIP_SIZE, frames=25,
         render=True),
    Spec("rotate_270", "rotate_270.mp4", "ok", _rotated(270), size=PORTRAIT_SIZE, frames=25,
         render=True),
    Spec("vfr", "vfr.mp4", "ok", _vfr, size=CLIP_SIZE, frames=25, render=True,
         note="12 frames at 25 fps then 13 at 10 fps"),
    Spec("mjpeg_avi", "mjpeg.avi", "ok",
         _transcode("-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p",
                    audio=("-c:a", "pcm_s16le")),
         size=CLIP_SIZE, frames=25, needs=("mjpeg",)),
    Spec("hevc_mp4", "hevc.mp4", "ok",
         _transcode("-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                    "-x265-params", "log-level=error", "-pix_fmt", "yuv420p"),
         size=CLIP_SIZE, frames=25, needs=("libx265",)),
    Spec("prores_mov", "prores.mov", "ok",
         _transcode("-c:v", "prores_ks", "-profile:v", "0", "-pix_fmt", "yuv422p10le"),
         size=CLIP_SIZE, frames=25, needs=("prores_ks",)),
    Spec("h264_10bit", "h264_10bit.mp4", "ok",
         _transcode("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p10le"),
         size=CLIP_SIZE, frames=25, needs=("libx264",)),
    Spec("gray_ffv1_mkv", "gray_ffv1.mkv", "ok",
         _transcode("-c:v", "ffv1", "-pix_fmt", "gray"),
         size=CLIP_SIZE, frames=25, needs=("ffv1",)),
    Spec("alpha_qtrle_mov", "alpha_qtrle.mov", "ok",
         _transcode("-c:v", "qtrle", "-pix_fmt", "argb"),
         size=CLIP_SIZE, frames=25, needs=("qtrle",)),
    Spec("vp9_opus_webm", "vp9_opus.webm", "ok",
         _transcode("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
                    "-b:v", "300k", "-pix_fmt", "yuv420p", audio=("-c:a", "libopus")),
         size=CLIP_SIZE, frames=25, needs=("libvpx-vp9", "libopus")),
    Spec("interlaced_h264", "interlaced.mp4", "ok",
         _transcode(*H264, "-flags", "+ildct+ilme", "-field_order", "tt"),
         size=CLIP_SIZE, frames=25, needs=("libx264",)),
    Spec("mpegts_named_mp4", "transport_stream.mp4", "ok",
         _transcode(*H264, audio=("-c:a", "aac"), fmt="mpegts"),
         size=CLIP_SIZE, frames=25, needs=("libx264", "aac")),
    Spec("two_streams_large_second", "two_streams_large_second.mp4", "oracle",
         _two_streams(clip_first=True), keyword="no person detected",
         note="v:0 the clip 176x144, v:1 testsrc 416x240"),
    Spec("two_streams_small_first", "two_streams_small_first.mp4", "oracle",
         _two_streams(clip_first=False), note="v:0 testsrc 64x48, v:1 the clip 176x144"),
    Spec("unicode_name", "interview ü 1.mp4", "ok", _copy_with_title, size=CLIP_SIZE, frames=25),
    Spec("directory", "x.mp4", "failed", _directory, keyword="folder"),
    Spec("broken_link", "gone.mp4", "failed", _broken_link, keyword="broken symbolic link"),
]  # fmt: skip
NAMES = [spec.name for spec in SPECS]


# --------------------------------------------------------------------------------------------
# building and checking


def _lost_frames(said: Oracle, total: int) -> frozenset[int]:
    """Frame indices (presentation order, 25 fps from 0) that the ffmpeg CLI does not output."""
    got = {round(t * FPS) for t in said.pts}
    return frozenset(set(range(total)) - got)


def _expect(spec: Spec, entry: Entry, said: Oracle) -> None:
    """Fill the entry's expectations, deriving from the oracle where the brief leaves it open,
    and check that the file is what it was built to be."""
    path = entry.path

    def check(condition: bool, what: str) -> None:
        if not condition:
            raise CorpusError(f"{spec.name} ({path.name}): {what}; ffmpeg says {said}")

    if spec.outcome != "oracle":
        entry.outcome, entry.keyword = spec.outcome, spec.keyword
    if spec.name == "directory":
        check(path.is_dir(), "not a folder")
    elif spec.name == "broken_link":
        check(path.is_symlink() and not path.exists(), "not a broken symbolic link")
    elif spec.name == "empty":
        check(path.stat().st_size == 0, "not empty")
    elif spec.name in ("random_bytes", "text", "moov_at_end_cut"):
        check(bool(said.probe_error) and said.decoded == 0, "ffprobe reads it")
    elif spec.name == "audio_only":
        check(not said.probe_error and not said.video_streams(), "has a video stream")
        check(any(s["codec_type"] == "audio" for s in said.streams), "no audio")
    elif spec.name == "jpeg":
        check("jpeg" in said.format_name or "image2" in said.format_name, "not probed as JPEG")
        check(said.decoded == 1, "not one picture")
    elif spec.name in ("nobody", "tiny"):
        check(said.decoded == 25, "does not decode 25 frames")
    elif spec.outcome == "oracle" and spec.name.startswith("two_streams"):
        videos = said.video_streams()
        check(len(videos) == 2, "not two video streams")
        picked = [s for s in videos if (s["width"], s["height"]) == said.size]
        check(len(picked) == 1, "the ffmpeg CLI's video stream is not identifiable by size")
        entry.extra["default_stream"] = picked[0]["index"]
        entry.derived.append(
            f"outcome and size follow the stream the ffmpeg CLI picks by default "
            f"(#{picked[0]['index']}, {said.size[0]}x{said.size[1]})"
        )
        if said.size == CLIP_SIZE:
            entry.outcome, entry.size, entry.frames, entry.frames_lost = "ok", said.size, 25, 0
        else:  # a test pattern: nobody in it
            entry.outcome, entry.keyword = "failed", "no person detected"
            entry.size = said.size  # what a committed row would have to say, were one made
    elif spec.outcome == "oracle":  # truncated / corrupted: decided by what ffmpeg decodes
        declared = said.declared_frames()
        check(declared == 25, "the index does not declare 25 frames")
        if said.decoded == 0:
            entry.outcome, entry.keyword = "failed", spec.keyword or "no decodable"
            entry.derived.append("failed: the ffmpeg CLI decodes 0 frames")
        else:
            lost = _lost_frames(said, declared)
            entry.outcome = "lost" if lost else "ok"
            entry.size, entry.frames = said.size, declared
            entry.frames_lost, entry.lost_frames = declared - said.decoded, lost
            check(len(lost) == declared - said.decoded, "decoded frames off the 25 fps grid")
            entry.derived.append(
                f"{entry.outcome}: n_frames {declared} (container index), decodable "
                f"{said.decoded}, lost frames {format_ranges(lost) or 'none'} (ffmpeg CLI)"
            )
    if spec.outcome == "ok":
        entry.size, entry.frames, entry.frames_lost = spec.size, spec.frames, 0
        check(said.decoded == spec.frames, f"the ffmpeg CLI decodes {said.decoded} frames")
        check(said.size == spec.size, f"displayed size {said.size}, not {spec.size}")
    if spec.name.startswith("rotate_"):
        check(said.video_streams()[0]["width"] == CLIP_SIZE[0], "stored pixels not landscape")
        check(said.video_streams()[0]["rotation"] is not None, "no display matrix")
        entry.derived.append(
            f"pixels stored with {entry.extra['stored_turn']}: the turn the ffmpeg CLI then "
            f"displays upright (mean |diff| {entry.extra['upright_diff']:.1f} from the upright "
            "reference)"
        )
    if spec.name == "vfr":
        times = frame_times(path)
        steps = np.round(np.diff(times), 3)
        check(len(times) == 25 and {0.04, 0.1} <= set(steps.tolist()), "not variable")
        entry.extra["t_s"] = times
        entry.extra["durations"] = durations(path)
        entry.derived.append("t_s and the video/audio durations: ffprobe")
    if spec.name == "interlaced_h264":
        check(said.video_streams()[0]["field_order"] not in (None, "progressive"), "progressive")


def build_corpus(folder: Path, clip: Path | None = None, verbose: bool = False) -> list[Entry]:
    """Build every corpus file into ``folder`` and return the entries with expectations."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise CorpusError("ffmpeg and ffprobe are needed to build the corpus")
    if clip is None:
        from pmrr_interviews import samples

        clip = samples.carphone_clip(samples.cache_dir(), seconds=1.0)
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / "_scratch"  # references and intermediates, never a corpus input
    scratch.mkdir(exist_ok=True)
    shutil.copyfile(clip, scratch / "clip.mp4")
    clip = scratch / "clip.mp4"
    available = encoders()
    entries = []
    for spec in SPECS:
        started = time.monotonic()
        path = folder / spec.filename
        entry = Entry(spec.name, path, spec.outcome, render=spec.render, note=spec.note)
        missing = [name for name in spec.needs if name not in available]
        if missing:
            entry.skip = f"encoder {', '.join(missing)} not in this ffmpeg build"
            entries.append(entry)
            continue
        if path.exists() or path.is_symlink():
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        facts = spec.build(clip, path, scratch)
        entry.extra.update(facts if isinstance(facts, dict) else {})
        entry.oracle = oracle(path)
        _expect(spec, entry, entry.oracle)
        entry.extra["build_s"] = time.monotonic() - started
        entries.append(entry)
        if verbose:
            print(describe(entry), flush=True)
    return entries


def format_ranges(frames: frozenset[int] | set[int]) -> str:
    """``{3, 4, 5, 9}`` -> ``"3-5,9"``: the ``lost_ranges`` spelling (inclusive ranges)."""
    out, items = [], sorted(frames)
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        out.append(f"{items[i]}-{items[j]}" if j > i else f"{items[i]}")
        i = j + 1
    return ",".join(out)


def parse_ranges(text: str) -> set[int]:
    """``"12-20,40-41"`` (or ``"7"`` for one frame) -> the frame indices; ``""`` -> none."""
    frames: set[int] = set()
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        first, _, last = part.partition("-")
        frames.update(range(int(first), int(last or first) + 1))
    return frames


def describe(entry: Entry) -> str:
    """One entry: the expectation, then what ffprobe and the ffmpeg CLI say."""
    expect = entry.outcome
    if entry.skip:
        return f"{entry.name:26} SKIP ({entry.skip})"
    if entry.outcome == "failed":
        expect += f' "{entry.keyword}"'
    else:
        expect += f" {entry.size[0]}x{entry.size[1]} n_frames={entry.frames}"
        expect += f" frames_lost={entry.frames_lost}"
        if entry.lost_frames:
            expect += f" lost_ranges={format_ranges(entry.lost_frames)}"
    if entry.render:
        expect += " [render batch]"
    lines = [f"{entry.name:26} {entry.path.name!r}: expect {expect}"]
    said = entry.oracle
    if entry.path.is_symlink() and not entry.path.exists():
        lines.append("    oracle: broken symbolic link")
    elif entry.path.is_dir():
        lines.append("    oracle: a folder")
    elif said is not None:
        size = entry.path.stat().st_size
        if said.probe_error:
            lines.append(f"    ffprobe: {size} bytes, error: {said.probe_error}")
        else:
            streams = "; ".join(_stream_text(s) for s in said.streams) or "no streams"
            lines.append(f"    ffprobe: {size} bytes, {said.format_name}: {streams}")
        shown = f"{said.size[0]}x{said.size[1]}" if said.size else "-"
        lines.append(
            f"    ffmpeg CLI: decodes {said.decoded} video frames, displayed {shown}"
            + (f", first error: {said.decode_error}" if said.decode_error else "")
        )
    for text in entry.derived:
        lines.append(f"    derived from the oracle: {text}")
    for key, value in entry.extra.items():
        if key == "t_s":
            lines.append("    frame times: " + " ".join(f"{t:g}" for t in value))
        elif key == "durations":
            lines.append(f"    stream durations: {value}")
    if entry.note:
        lines.append(f"    ({entry.note})")
    return "\n".join(lines)


def _stream_text(s: dict) -> str:
    text = f"#{s['index']} {s['codec_type']} {s['codec_name']}"
    if s["codec_type"] == "video":
        text += f" {s['width']}x{s['height']} {s['pix_fmt']} nb_frames={s['nb_frames']}"
        if s.get("default"):
            text += " default"
        if s["rotation"] is not None:
            text += f" rotation={s['rotation']}"
        if s["field_order"] not in (None, "progressive"):
            text += f" field_order={s['field_order']}"
    return text


def report(entries: list[Entry]) -> str:
    return "\n".join(describe(entry) for entry in entries)


def main(argv: list[str]) -> int:
    import tempfile

    folder = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="pmrr-corpus-"))
    started = time.monotonic()
    entries = build_corpus(folder, verbose=True)
    print(
        f"\n{len(entries)} entries in {folder}, built with their oracles in "
        f"{time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main(sys.argv[1:]))
