"""Files researchers open outside Python, made from one video's analytics tables.

- ``<video_id>.eaf``: ELAN annotation tiers per person (``tracks.person_id``: ``P<n>`` is one
  person in every shot they are in, their tracks its presence intervals) and event type, linked
  to the source video (:mod:`analytics.elan`);
- ``windows.csv``: the ``features_windows`` table as plain CSV (R: ``read.csv``);
- ``rmea_P<a>_P<b>.csv``: the main pair's per-frame motion energy, two columns, as the rMEA R
  package reads a dyad (:mod:`analytics.rmea`; ``a`` and ``b`` are the two people's person ids,
  as in the ELAN tiers, over all their tracks);
- ``synchrony.csv``: the pair's synchrony of motion energy and of head angular speed (the
  ``sync_*`` columns' signals) per window length next to its segment-shuffled surrogate baseline
  (mean, 95th percentile, p-value), so chance synchrony is not read as real.

Written into a local folder that :func:`tasks.publish.publish` commits as the ``annotations``
output (``annotations/<video_id>/``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analytics.dyad import Dyad, dyad_signals
from analytics.elan import write_eaf
from analytics.rmea import surrogate_synchrony, write_rmea, write_windows_csv
from analytics.tables import SYNC_SIGNALS
from analytics.windows import WINDOW_S
from tasks.probe import VideoInfo


def analysed_pair(summary: pd.DataFrame) -> Dyad | None:
    """The main pair the analytics chose (:func:`analytics.dyad.main_pair`), read back from
    ``features_summary.partner_person_id``: the interviewer first, or the lower person id where
    the pair has no roles, each with their tracks in the pair."""
    rows = summary[summary["partner_person_id"].notna()] if len(summary) else summary
    if len(rows) == 0:
        return None
    first = rows[rows["role"] == "interviewer"]
    row = (first if len(first) else rows.sort_values("person_id")).iloc[0]
    a, b = int(row["person_id"]), int(row["partner_person_id"])

    def tracks(person: int, partner: int) -> tuple[int, ...]:
        own = rows[(rows["person_id"] == person) & (rows["partner_person_id"] == partner)]
        return tuple(sorted(int(t) for t in own["track_id"]))

    return Dyad(a, b, tracks(a, b), tracks(b, a))


def write_annotations(
    out_dir: Path,
    video_id: str,
    media_uri: str,
    info: VideoInfo,
    features: dict[str, pd.DataFrame],
    tracks: pd.DataFrame,
) -> Path:
    """Write the files above into ``out_dir``; returns it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    person = dict(zip(tracks["track_id"].astype(int), tracks["person_id"].astype(int), strict=True))
    if (tracks.groupby("person_id")["role"].nunique() > 1).any():  # an override split a person
        person = {t: t for t in person}
    people = tracks.assign(
        track_id=[person[int(t)] for t in tracks["track_id"]],  # "P<n>": a person's tracks
        start_s=info.times()[tracks["first_frame"].to_numpy(np.int64)],
        end_s=info.end_times()[tracks["last_frame"].to_numpy(np.int64)],
    )
    events = features["events"]
    events = events.assign(track_id=[person[int(t)] for t in events["track_id"]])
    origin_ms = round(1000 * info.start_offset_s)  # the first frame's place in the media
    write_eaf(
        out_dir / f"{video_id}.eaf", media_uri, events, people, info.duration_s,
        time_origin_ms=origin_ms,
    )  # fmt: skip
    write_windows_csv(features["features_windows"], out_dir / "windows.csv")
    pair = analysed_pair(features["features_summary"])
    if pair is not None and len(features["features_frames"]):
        frames = features["features_frames"]
        write_rmea(frames, pair, out_dir / f"rmea_P{pair.a}_P{pair.b}.csv")
        _, signals, segment = dyad_signals(frames, pair, tuple(SYNC_SIGNALS.values()))
        rows = []
        for column, (a, b) in signals.items():
            for window_s in WINDOW_S:
                if len(a) > round(window_s * info.fps):  # shuffling needs two windows or more
                    found = surrogate_synchrony(a, b, info.fps, window_s, segment=segment)
                    rows.append({"person_a": f"P{pair.a}", "person_b": f"P{pair.b}",
                                 "signal": column, "window_s": window_s, **found})  # fmt: skip
        pd.DataFrame(rows).to_csv(out_dir / "synchrony.csv", index=False, na_rep="NA")
    return out_dir
