"""Frame rate: the same moments recorded at another rate must give the same measures.

    python benchmarks/frame_rate.py [--clips single_face carphone call] [--seconds 4]
        [--copies double_interpolated double_repeated half vfr]

Interview archives mix rates: 25 fps (PAL broadcast), 30 (phones, webcams), 50 and 60 (phones,
sports and screen recordings of video calls), 15 (webcams, older calls). Measures and events are
in seconds, so a person's lean, head angles, speeds and event counts must not depend on how
often the camera sampled them. Each real clip (25-30 fps) gets copies at another rate:

``double_interpolated``  twice the rate, the frames in between made by motion-compensated
                         interpolation (ffmpeg ``minterpolate``): the nearest thing to a
                         60 fps recording of the same moments that these clips allow
``double_repeated``      twice the rate, every frame shown twice (what a 60 fps screen
                         recording of a 30 fps call holds)
``half``                 every other frame, at half the rate (a 12.5-15 fps webcam)
``vfr``                  every other frame of the middle third left out, the others kept at
                         their own times: a variable-frame-rate recording (a phone that halves
                         its rate in dim light); the copy's frames are the original's, so its
                         rows are compared frame for frame

Each copy runs the pipeline's stages as in ``benchmarks/pixel_aspect.py`` (no render, no
Prefect). Per-frame rows are compared on the moments both have (the original's frame k is the
double copies' frame 2k and the half copy's k/2): tracks matched by box centres, per-measure
means, observed 2D joints' distance, event counts (events of the whole clip). The synthetic
scenes measure the same against ground truth: ``pmrr eval --synthetic --fps 60``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.mirror import clips, run_clip  # noqa: E402
from benchmarks.pixel_aspect import copies_parser, print_summary, report_copy  # noqa: E402

#: copy -> (rate factor, ffmpeg video filter given the new rate)
COPIES = {
    "double_interpolated": (2, "minterpolate=fps={rate}:mi_mode=mci:mc_mode=aobmc:vsbmc=1"),
    "double_repeated": (2, "fps={rate}"),
    "half": (Fraction(1, 2), "select='not(mod(n,2))',setpts=N/({rate})/TB"),
}
VFR = "vfr"


def source_rate(src: Path) -> Fraction:
    """The clip's frame rate as ffprobe reports it (``r_frame_rate``)."""
    rate = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=r_frame_rate", "-of", "csv=p=0", str(src)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return Fraction(rate)


def rate_copy(src: Path, kind: str) -> Path:
    """``src`` at another rate (:data:`COPIES`), H.264 at the samples' quality, no audio."""
    factor, vf = COPIES[kind]
    rate = source_rate(src) * factor
    out = src.with_name(f"{src.stem}_{kind}.mp4")
    if not out.exists():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-vf",
             vf.format(rate=f"{rate.numerator}/{rate.denominator}"),
             "-r", f"{rate.numerator}/{rate.denominator}", "-c:v", "libx264",
             "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", "-an", str(out)],
            check=True,
        )  # fmt: skip
    return out


def encode_keeping_times(src: Path, out: Path, select: str | None = None) -> Path:
    """``src``'s frames (those ``select``, an ffmpeg ``select`` expression, keeps) re-encoded at
    their own presentation times: a 1 ms time base and no B-frames, so the stored times are the
    source's to the millisecond; H.264 at the samples' quality, no audio."""
    chosen = ["-vf", f"select='{select}'"] if select else []
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(src), *chosen, "-vsync", "vfr",
         "-enc_time_base:v", "1:1000", "-c:v", "libx264", "-preset", "veryfast",
         "-crf", "18", "-bf", "0", "-pix_fmt", "yuv420p", "-an", str(out)],
        check=True,
    )  # fmt: skip
    return out


def vfr_copy(src: Path, n_frames: int) -> tuple[Path, np.ndarray]:
    """(the :data:`VFR` copy of ``src``, the original frame of each of its frames), made by
    :func:`encode_keeping_times`."""
    lo, hi = n_frames // 3, 2 * n_frames // 3
    kept = np.array([k for k in range(n_frames) if not (lo <= k < hi and k % 2)])
    out = src.with_name(f"{src.stem}_{VFR}.mp4")
    if not out.exists():
        encode_keeping_times(src, out, f"not(between(n,{lo},{hi - 1})*mod(n,2))")
    return out, kept


def on_original_frames(run: tuple, factor: Fraction | int, kept: np.ndarray | None = None) -> tuple:
    """A copy's run (``run_clip``'s (info, smpl, tables)) with its per-frame rows renumbered to
    the original's frames (copy frame c is original frame c / factor, or ``kept[c]``) and the
    rows with no original frame left out; events are kept whole."""
    info, smpl, tables = run

    def renumber(df: pd.DataFrame) -> pd.DataFrame:
        if kept is not None:
            return df.assign(frame=kept[df["frame"].to_numpy()])
        frame = df["frame"].to_numpy() / float(factor)
        keep = np.isclose(frame, np.round(frame))
        return df[keep].assign(frame=np.round(frame[keep]).astype(np.int64))

    return info, renumber(smpl), {**tables, "features_frames": renumber(tables["features_frames"])}


def main() -> None:
    parser = copies_parser(__doc__)
    kinds = [*COPIES, VFR]
    parser.add_argument("--copies", nargs="+", default=kinds, choices=kinds)
    args = parser.parse_args()
    summary = []
    for name, path in clips(args.clips, args.seconds):
        began = time.perf_counter()
        original = run_clip(path)
        for kind in args.copies:
            if kind == VFR:
                made, kept = vfr_copy(path, original[0].n_frames)
                copy = on_original_frames(run_clip(made), 1, kept)
            else:
                copy = on_original_frames(run_clip(rate_copy(path, kind)), COPIES[kind][0])
            title = f"{name} {kind}: {copy[0].fps:.2f} fps against {original[0].fps:.2f}"
            row = report_copy(title, original, copy, ("original", kind))
            summary.append({"clip": name, "copy": kind, "fps": round(copy[0].fps, 2), **row})
        print(f"({name}: {time.perf_counter() - began:.0f} s)", flush=True)
    print_summary(summary)


if __name__ == "__main__":
    main()
