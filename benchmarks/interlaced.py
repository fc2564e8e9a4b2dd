"""Interlaced footage: a clip stored as interlaced fields must give the measures of its frames.

    python benchmarks/interlaced.py [--clips single_face carphone call] [--seconds 4]

Broadcast and DV archive footage is interlaced: each stored frame holds two fields, the odd lines
shot 1/50 or 1/60 s after the even ones, so wherever someone moves, the lines of one frame
disagree ("combing"). Each real clip (25-30 frames/s) is made into two copies at half its rate:
``progressive``, its even frames (the reference), and ``interlaced``, each frame's top field
from an even frame and its bottom field from the odd frame after it (``tinterlace=interleave_top``),
stored and flagged as interlaced, top field first. Both run the pipeline's stages as in
``benchmarks/pixel_aspect.py`` and are compared the same way (tracks matched by box centres,
per-measure means, observed 2D joints' distance, event counts).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.mirror import clips, run_clip  # noqa: E402
from benchmarks.pixel_aspect import copies_parser, print_summary, report_copy  # noqa: E402

COPIES = {
    "progressive": ["-vf", "select='not(mod(n,2))',setpts=2*N/FRAME_RATE/TB", "-r", "{half}"],
    "interlaced": [
        "-vf", "tinterlace=mode=interleave_top,setfield=tff", "-flags", "+ilme+ildct",
        "-x264-params", "tff=1",
    ],
}  # fmt: skip


def half_rate_copy(src: Path, kind: str) -> Path:
    """``src`` at half its frame rate, progressive or interlaced (module docstring)."""
    rate = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=r_frame_rate", "-of", "csv=p=0", str(src)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    num, den = (int(v) for v in rate.split("/"))
    args = [a.replace("{half}", f"{num}/{2 * den}") for a in COPIES[kind]]
    out = src.with_name(f"{src.stem}_{kind}.mp4")
    if not out.exists():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(src), *args, "-c:v", "libx264",
             "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", "-an", str(out)],
            check=True,
        )  # fmt: skip
    return out


def main() -> None:
    args = copies_parser(__doc__).parse_args()
    summary = []
    for name, path in clips(args.clips, args.seconds):
        began = time.perf_counter()
        reference = run_clip(half_rate_copy(path, "progressive"))
        woven = run_clip(half_rate_copy(path, "interlaced"))
        info_a, info_b = reference[0], woven[0]
        title = (
            f"{name}: {info_a.n_frames} frames at {info_a.fps:.1f}/s, decoded by {info_b.decoder}"
        )
        row = report_copy(title, reference, woven, ("progressive", "interlaced"))
        summary.append({"clip": name, **row})
        print(f"({name}: {time.perf_counter() - began:.0f} s)")
    print_summary(summary)


if __name__ == "__main__":
    main()
