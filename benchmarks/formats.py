"""Archive formats: every frame the pipeline reads must be the frame a player shows.

    python benchmarks/formats.py [--clips carphone interview single_face] [--pipeline]

Archives hold more than H.264 in MP4: DVD rips (MPEG-2 program streams), broadcast transport
streams, WMV, AVI, WebM from the web, HEVC from phones and x265, ProRes and DNxHD from editing,
and containers that time only some of their frames (AVIs with B-frames: DivX / Xvid, H.264;
MPEG-1 program streams).
Each real clip is stored again in each format with a key frame every 12 frames (as such files
have: a GOP of 12-15 is DVD's and broadcast's, and it puts several seeks in a short clip). The
pipeline then reads every copy the way its stages do (:mod:`tasks.decode`): every 3rd frame in
chunks of 16 (detection) and every frame in chunks of 64 from a third of the way in (estimation,
render). The reference is ffmpeg decoding the same copy from start to end, frame by frame, with
no seeking. A frame is wrong when its mean absolute difference from the reference is over 1
grey level (wrongly decoded frames measured 2.7-75; the same frame 0-0.5, the top from 10-bit
to 8-bit rounding).

Table: per copy, the decoder the probe chose, frames on the timeline against frames ffmpeg
decodes, and wrong frames in each reading. ``--pipeline`` also runs the pipeline on the
original and on each copy and compares measures as ``benchmarks/pixel_aspect.py`` does (a copy
differs from the original by its own compression, so small differences are expected).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.mirror import clips, run_clip  # noqa: E402
from benchmarks.pixel_aspect import compare_copy, print_summary  # noqa: E402

#: copy name -> ffmpeg output options (file suffix from the name)
FORMATS = {
    "h264.mp4": ["-c:v", "libx264", "-crf", "20"],
    "h264_open_gop.mkv": ["-c:v", "libx264", "-crf", "20", "-bf", "3", "-x264-params", "open_gop=1"],
    "hevc_x265.mp4": ["-c:v", "libx265", "-crf", "24", "-tag:v", "hvc1", "-x265-params", "log-level=error"],
    "hevc10_x265.mp4": ["-c:v", "libx265", "-crf", "24", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error"],
    "dvd_mpeg2.vob": ["-c:v", "mpeg2video", "-q:v", "3", "-f", "vob"],
    "broadcast_mpeg2.ts": ["-c:v", "mpeg2video", "-q:v", "3", "-f", "mpegts"],
    "h264.ts": ["-c:v", "libx264", "-crf", "20", "-f", "mpegts"],
    "wmv2.wmv": ["-c:v", "wmv2", "-q:v", "3"],
    "xvid.avi": ["-c:v", "libxvid", "-q:v", "3"],
    "xvid_bframes.avi": ["-c:v", "libxvid", "-q:v", "3", "-bf", "2"],
    "h264_bframes.avi": ["-c:v", "libx264", "-crf", "20", "-bf", "3"],
    "mpeg1.mpg": ["-c:v", "mpeg1video", "-q:v", "3", "-bf", "2"],
    "flv.flv": ["-c:v", "flv", "-q:v", "3"],
    "vp8.webm": ["-c:v", "libvpx", "-b:v", "1M"],
    "vp9.webm": ["-c:v", "libvpx-vp9", "-b:v", "1M", "-deadline", "realtime", "-cpu-used", "8"],
    "av1.mp4": ["-c:v", "libsvtav1", "-preset", "10", "-crf", "35"],
    "prores.mov": ["-c:v", "prores_ks", "-profile:v", "2"],
    "mjpeg.avi": ["-c:v", "mjpeg", "-q:v", "3"],
    "ffv1.mkv": ["-c:v", "ffv1"],
}  # fmt: skip
GOP = 12
WRONG_GREY_LEVELS = 1.0


def stored_copy(src: Path, name: str, out_dir: Path) -> Path | None:
    """``src`` stored as ``name`` (video only, a key frame every :data:`GOP` frames); None where
    this ffmpeg has no such encoder."""
    out = out_dir / f"{src.stem}_gop{GOP}_{name}"
    if not out.exists():
        run = subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-an", "-g", str(GOP),
             *FORMATS[name], str(out)],
            capture_output=True, text=True,
        )  # fmt: skip
        if run.returncode != 0:
            print(f"{name}: not encoded ({run.stderr.strip()[-120:]})")
            out.unlink(missing_ok=True)
            return None
    return out


def reference_frames(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame of ``path`` as ffmpeg decodes it front to back, at ``width`` x ``height``."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf",
         f"scale={width}:{height}", "-fps_mode", "passthrough", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def wrong_frames(info, reference: np.ndarray, frames: range, chunk: int) -> tuple[int, int, float]:
    """(wrong, read, worst mean absolute difference) for ``frames`` read in chunks of ``chunk``."""
    from tasks.decode import iter_chunks

    wrong = read = 0
    worst = 0.0
    for indices, batch in iter_chunks(info, chunk_size=chunk, frames=frames):
        ok = indices < len(reference)
        diff = np.abs(batch[ok].astype(np.int16) - reference[indices[ok]]).mean(axis=(1, 2, 3))
        wrong += int((diff > WRONG_GREY_LEVELS).sum()) + int((~ok).sum())
        read += len(indices)
        worst = max(worst, float(diff.max(initial=0.0)))
    return wrong, read, worst


def check_copy(path: Path) -> dict:
    """One copy's row of the frame table (module docstring)."""
    from tasks.probe import probe_video

    began = time.perf_counter()
    info = probe_video(str(path))
    probe_s = time.perf_counter() - began
    reference = reference_frames(path, info.width_px, info.height_px)
    sparse = wrong_frames(info, reference, range(0, info.n_frames, 3), 16)
    dense = wrong_frames(info, reference, range(info.n_frames // 3, info.n_frames), 64)
    return {
        "decoder": info.decoder,
        "frames": f"{info.n_frames}/{len(reference)}",
        "every_3rd_wrong": f"{sparse[0]}/{sparse[1]}",
        "every_frame_wrong": f"{dense[0]}/{dense[1]}",
        "worst_diff": round(max(sparse[2], dense[2]), 2),
        "probe_s": round(probe_s, 2),
    }


def main() -> None:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", nargs="+", default=["carphone", "interview", "single_face"])
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=list(FORMATS))
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the carphone clip")
    parser.add_argument("--pipeline", action="store_true", help="also compare the measures")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    rows, summary = [], []
    for clip, path in clips(args.clips, args.seconds):
        original = run_clip(path) if args.pipeline else None
        for name in args.formats:
            copy = stored_copy(path, name, path.parent)
            if copy is None:
                continue
            rows.append({"clip": clip, "format": name, **check_copy(copy)})
            print(rows[-1], flush=True)
            if original is not None:
                *_, row = compare_copy(original, run_clip(copy), ("original", "copy"))
                summary.append({"clip": clip, "format": name, **row})
    print("\nFrames read as the pipeline reads them, against ffmpeg's front-to-back decode:")
    print(pd.DataFrame(rows).to_string(index=False))
    if summary:
        print_summary(summary)


if __name__ == "__main__":
    main()
