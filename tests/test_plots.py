"""The per-video figures draw a person once, however many tracks (one per shot) they have, and
stay readable and bounded however many people a video has."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from analytics.plots import (
    MAX_PEOPLE_PLOTTED,
    TIMESERIES,
    broken_lines,
    by_person,
    plot_video_features,
    shown_people,
)

FPS = 25.0


def _tables(n_tracks: int, frames_each: int = 50) -> dict[str, pd.DataFrame]:
    """``n_tracks`` people one after another (a cut between each, as in a long video with cuts);
    track k is in view for ``frames_each - k`` frames, the last two tracks have the roles."""
    rows = []
    start = 0
    for track in range(n_tracks):
        for i in range(frames_each):
            rows.append(
                {"video_id": "vid", "track_id": track, "frame": start + i,
                 "t_s": (start + i) / FPS, "has_data": i < frames_each - track,
                 **{col: float(np.sin(i / 5.0)) for col, _ in TIMESERIES}}
            )  # fmt: skip
        start += frames_each
    frames = pd.DataFrame(rows)
    roles = ["other"] * n_tracks
    roles[-2:] = ["interviewer", "interviewee"]
    summary = pd.DataFrame({"track_id": range(n_tracks), "role": roles})
    events = pd.DataFrame(
        {"track_id": [0, n_tracks - 1], "event_type": ["nod", "nod"],
         "start_s": [0.4, (n_tracks - 1) * frames_each / FPS], "duration_s": [0.6, 0.6]}
    )  # fmt: skip
    return {"features_frames": frames, "features_summary": summary, "events": events}


def test_a_video_with_many_tracks_plots_the_roles_and_the_longest_in_view(tmp_path):
    few = _tables(3)
    assert shown_people(by_person(few)[0], {}) == [0, 1, 2]  # all of them, under the cap
    many = _tables(60)
    frames, _, roles = by_person(many)  # no person_id: each track someone
    shown = shown_people(frames, roles)
    # the two with roles, then the longest in view (track k has 50 - k frames with data)
    assert shown == [*range(MAX_PEOPLE_PLOTTED - 2), 58, 59]

    small = Image.open(plot_video_features(few, tmp_path / "few")[1]).size
    large = Image.open(plot_video_features(many, tmp_path / "many")[1]).size
    # the raster has a row per person and event type: 12 people's rows, not 60 people's
    row_px = (large[1] - small[1]) / (MAX_PEOPLE_PLOTTED - 3)
    assert large[0] == small[0] and 20 < row_px < 300
    assert large[1] < 12_000  # 60 people's rows would be over 15,000 pixels


def test_a_persons_tracks_are_one_line_and_one_raster_row(tmp_path):
    tables = _tables(4)
    alone = Image.open(plot_video_features(_tables(2), tmp_path / "two")[1]).size
    # tracks 0 and 2 are one person, 1 and 3 another: two people in four shots
    tables["features_summary"]["person_id"] = [0, 1, 0, 1]
    tables["features_summary"]["role"] = ["interviewer", "interviewee"] * 2  # a person's role
    frames, events, roles = by_person(tables)
    assert shown_people(frames, roles) == [0, 1]
    assert roles == {0: "interviewer", 1: "interviewee"}
    assert events["person"].tolist() == [0, 1]
    assert Image.open(plot_video_features(tables, tmp_path / "four")[1]).size == alone


def test_a_persons_tracks_are_one_line_broken_at_each_cut():
    """One line per person and panel, with a gap (NaN) between tracks, so that no line joins the
    end of one shot to the next; values in track order, then frame order, none lost."""
    frames = _tables(3, frames_each=4)["features_frames"]
    frames = frames.iloc[::-1].reset_index(drop=True)  # any row order in
    frames.loc[frames["track_id"] == 1, "head_pitch_deg"] = np.nan  # a track without the measure
    times, values = broken_lines(frames, ["head_pitch_deg", "head_yaw_deg"])
    expected_t = [0, 1, 2, 3, np.nan, 4, 5, 6, 7, np.nan, 8, 9, 10, 11]
    np.testing.assert_allclose(times * FPS, expected_t)
    yaw = np.sin(np.arange(4) / 5.0)
    np.testing.assert_array_equal(values["head_yaw_deg"], [*yaw, np.nan, *yaw, np.nan, *yaw])
    assert np.isnan(values["head_pitch_deg"][5:9]).all()
    np.testing.assert_array_equal(values["head_pitch_deg"][:4], yaw)
