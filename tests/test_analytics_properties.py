"""Property-based checks of compute_video_features on random track layouts.

Real videos give layouts nobody writes by hand: several shots (track ids reset at cuts), people
who enter late or leave early, gaps, one-frame tracks, a main pair whose spans differ, roles
overrides that name absent tracks, one person's tracks across shots (``persons``, never two
tracks seen in one frame, as :mod:`tasks.people` joins them) whose spans may interleave. Hypothesis draws such layouts and the test checks that the
tables always come back, conform to their schemas and agree with each other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import synthetic as S
from analytics.body_frame import STANDIN_NEUTRAL
from analytics.dyad import main_pair
from analytics.pipeline import compute_video_features
from analytics.roles import ROLES, video_roles
from analytics.synchrony import window_ids
from analytics.tables import SCHEMAS, SYNC_COLUMNS, to_arrow

SMPL_COLUMNS = ["video_id", "track_id", "frame", "t_s", "joints3d_m"]


@pytest.fixture(scope="module")
def rest_joints() -> np.ndarray:
    """(49, 3) zero-pose joints of the stand-in, relaxed arms, body-model frame (y up)."""
    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel

    body = BodyModel(resolve_assets())
    return S.forward(body, S.RELAXED).joints.numpy()[0].astype(np.float64)


@st.composite
def layouts(draw) -> dict:
    """A video (frame count, fps, shot cuts) and 0-5 tracks, each inside one shot, with gaps."""
    n_frames = draw(st.integers(1, 160))
    fps = draw(st.sampled_from([10.0, 25.0, 29.97]))
    n_cuts = draw(st.integers(0, min(3, n_frames - 1)))
    cuts = []
    if n_cuts:
        cuts = sorted(draw(st.sets(st.integers(1, n_frames - 1), min_size=n_cuts, max_size=n_cuts)))
    shots = list(zip([0, *cuts], [*cuts, n_frames], strict=True))  # [start, end)
    ids = draw(st.lists(st.integers(0, 60), min_size=0, max_size=5, unique=True))
    tracks = {}
    for track in ids:
        lo, hi = draw(st.sampled_from(shots))
        start = draw(st.integers(lo, hi - 1))
        end = draw(st.integers(start, hi - 1))
        frames = np.arange(start, end + 1)
        if len(frames) > 2 and draw(st.booleans()):  # gaps inside the span
            keep = np.array(
                draw(st.lists(st.booleans(), min_size=len(frames), max_size=len(frames)))
            )
            keep[[0, -1]] = True
            frames = frames[keep]
        tracks[track] = {
            "frames": frames,
            "yaw_deg": draw(st.floats(-180, 180)),
            "position": (
                draw(st.floats(-2, 2)),
                draw(st.floats(-0.5, 0.5)),
                draw(st.floats(1.5, 8)),
            ),
            "sway_m": draw(st.floats(0, 0.2)),
        }
    roles = draw(
        st.none() | st.dictionaries(st.sampled_from([*ids, 99]), st.sampled_from(ROLES), max_size=4)
    )
    persons = None
    if draw(st.booleans()):  # tracks joined into people, never two seen in one frame
        persons, groups = {}, []
        for track in ids:
            seen = set(tracks[track]["frames"].tolist())
            free = [
                k
                for k, group in enumerate(groups)
                if not any(seen & set(tracks[u]["frames"].tolist()) for u in group)
            ]
            k = draw(st.sampled_from([*free, len(groups)]))
            if k == len(groups):
                groups.append([])
            groups[k].append(track)
            persons[track] = 10 + k
    return {
        "n_frames": n_frames,
        "fps": fps,
        "tracks": tracks,
        "roles": roles,
        "persons": persons,
        "window_s": draw(st.sampled_from([(1.0, 10.0), (0.5, 2.0)])),
        "seed": draw(st.integers(0, 2**16)),
    }


def smpl_of(layout: dict, rest: np.ndarray) -> pd.DataFrame:
    """The layout's `smpl` rows: the rest body placed per track, with random per-frame sway and
    joint jitter (so speeds, head angles and synchrony see non-constant signals)."""
    rng = np.random.default_rng(layout["seed"])
    parts = []
    for track, spec in layout["tracks"].items():
        frames = spec["frames"]
        body = np.repeat(rest[None], len(frames), 0)
        body = body + rng.normal(scale=0.01, size=body.shape)
        j = S.to_camera(body, spec["yaw_deg"], spec["position"])
        j = j + spec["sway_m"] * np.sin(frames / 7.0)[:, None, None] * np.array([1.0, 0, 0])
        parts.append(S.smpl_table(j, "vid", track, layout["fps"], frames))
    if not parts:
        return pd.DataFrame(columns=SMPL_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def check_tables(out: dict[str, pd.DataFrame], smpl: pd.DataFrame, layout: dict) -> None:
    n_frames, fps, tracks = layout["n_frames"], layout["fps"], layout["tracks"]
    assert set(out) == set(SCHEMAS)
    for name, frame in out.items():
        schema = SCHEMAS[name]
        assert list(frame.columns) == schema.names, name
        to_arrow(frame, name)
        for field in schema:
            if not field.nullable:
                assert not frame[field.name].isna().any(), (name, field.name)

    summary, frames = out["features_summary"], out["features_frames"]
    windows, events = out["features_windows"], out["events"]
    roles = summary.attrs["tracks_roles"]

    # roles: one summary row per track, roles from the set, the override wins
    assert sorted(summary["track_id"]) == sorted(tracks)
    assert dict(zip(summary["track_id"], summary["role"], strict=True)) == roles
    assert set(roles.values()) <= set(ROLES)
    persons = layout["persons"] or {t: t for t in tracks}
    n_people = len(set(persons.values()))
    if layout["roles"] is None:
        assert roles == video_roles(smpl, n_frames, None, layout["persons"])
        by_person = {persons[t]: r for t, r in roles.items()}  # one role a person
        assert all(roles[t] == by_person[persons[t]] for t in tracks)
        counts = pd.Series(list(by_person.values())).value_counts()
        assert counts.get("interviewee", 0) == min(1, n_people)
        assert counts.get("interviewer", 0) == min(1, max(n_people - 1, 0))
    else:  # the override wins for the tracks it lists
        assert all(roles[t] == r for t, r in layout["roles"].items() if t in tracks)
        if layout["persons"] is None:
            assert roles == {t: layout["roles"].get(t, "other") for t in tracks}
    seen_frames = {t: spec["frames"] for t, spec in tracks.items()}
    pair = main_pair(roles, seen_frames, persons)

    # frame rows: one per (track, frame), a contiguous span inside the video from the track's
    # first to its last frame, data exactly where seen
    assert not frames.duplicated(["track_id", "frame"]).any()
    assert frames["frame"].between(0, n_frames - 1).all()
    spans = {t: (int(s["frames"].min()), int(s["frames"].max())) for t, s in tracks.items()}
    for track, spec in tracks.items():
        f = frames[frames["track_id"] == track]
        assert f["frame"].tolist() == list(range(spans[track][0], spans[track][1] + 1))
        seen = f.loc[f["has_data"], "frame"].to_numpy()
        np.testing.assert_array_equal(seen, spec["frames"])
        np.testing.assert_allclose(f["t_s"], f["frame"] / fps)
        row = summary[summary["track_id"] == track].iloc[0]
        assert row["n_frames"] == len(f)
        assert row["coverage_ratio"] == pytest.approx(len(spec["frames"]) / len(f))
        partner = row["partner_track_id"]
        assert row["person_id"] == persons[track]
        if pair and track in pair.tracks:
            other, other_tracks, _ = pair.partner(track)
            assert row["partner_person_id"] == other and partner in other_tracks
        else:
            assert pd.isna(partner) and pd.isna(row["partner_person_id"])
            assert row[list(SYNC_COLUMNS)].isna().all()

        # windows: the video-time windows the track's frame rows fall in, frames counted once
        for w in layout["window_s"]:
            win = windows[(windows["track_id"] == track) & (windows["window_s"] == w)]
            expected = np.unique(window_ids(f["frame"].to_numpy(), fps, w))
            np.testing.assert_array_equal(win["window_index"], expected)
            assert win["n_frames"].sum() == len(f)
            # each row spans the window's part that the track covers, n_frames frames long
            first, last = f["frame"].min() / fps, (f["frame"].max() + 1) / fps
            np.testing.assert_allclose(win["start_s"], np.maximum(win["window_index"] * w, first))
            np.testing.assert_allclose(
                win["end_s"], np.minimum((win["window_index"] + 1) * w, last)
            )
            # (within a frame: a window's edge need not fall on a frame's start)
            assert (np.abs(win["n_frames"] - (win["end_s"] - win["start_s"]) * fps) <= 1).all()
            assert win["coverage_ratio"].between(0, 1).all()
            if not (pair and track in pair.tracks):
                assert win[list(SYNC_COLUMNS)].isna().all().all()

        # events: inside the track's rows
        e = events[events["track_id"] == track]
        assert (e["start_frame"] <= e["end_frame"]).all()
        assert e["start_frame"].between(spans[track][0], spans[track][1]).all()
        assert e["end_frame"].between(spans[track][0], spans[track][1]).all()
    assert set(windows["track_id"]) <= set(tracks) and set(events["track_id"]) <= set(tracks)
    for table in (windows, events):  # every row names the person its track shows
        assert (table["person_id"] == table["track_id"].map(persons)).all()
    if pair:  # both people carry the same r, lags of opposite sign, on the windows both have
        key = ["window_s", "window_index"]
        a = windows[windows["track_id"].isin(pair.tracks_a)].groupby(key).first()
        b = windows[windows["track_id"].isin(pair.tracks_b)].groupby(key).first()
        shared = a.index.intersection(b.index)
        for col in SYNC_COLUMNS:
            sign = -1.0 if col.endswith("_lag_s") else 1.0
            np.testing.assert_allclose(
                a.loc[shared, col], sign * b.loc[shared, col], equal_nan=True
            )
            if col.endswith("_r_ratio"):
                assert a[col].dropna().between(-1.0, 1.0).all()
        mine = summary[summary["track_id"].isin(pair.tracks)]  # one figure for the pair
        assert (mine[list(SYNC_COLUMNS)].nunique(dropna=False) <= 2).all()  # lags: +-

    # people: a row each, their frames counted once, their events summed, the pair's synchrony
    people = out["features_people"].set_index("person_id")
    assert sorted(people.index) == sorted(set(persons.values()))
    for p, row in people.iterrows():
        own = [t for t in tracks if persons[t] == p]
        assert row["n_tracks"] == len(own)
        assert row["n_frames"] == frames.loc[frames["track_id"].isin(own), "frame"].nunique()
        assert row["nod_count"] == summary.loc[summary["track_id"].isin(own), "nod_count"].sum()
        assert row["role"] in {roles[t] for t in own}
        if pair and p in (pair.a, pair.b):
            first = summary[summary["track_id"] == (pair.tracks_a + pair.tracks_b)[0]].iloc[0]
            assert row["partner_person_id"] == (pair.b if p == pair.a else pair.a)
            np.testing.assert_allclose(
                abs(row["sync_motion_peak_r_ratio"]),
                abs(first["sync_motion_peak_r_ratio"]),
                equal_nan=True,
            )
        else:
            assert pd.isna(row["partner_person_id"])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(layout=layouts())
def test_random_layouts_give_conforming_tables(rest_joints, layout):
    smpl = smpl_of(layout, rest_joints)
    out = compute_video_features(
        smpl,
        layout["fps"],
        layout["n_frames"],
        roles=layout["roles"],
        window_s=layout["window_s"],
        neutral=STANDIN_NEUTRAL,
        persons=layout["persons"],
    )
    check_tables(out, smpl, layout)


@pytest.mark.parametrize(
    "smpl", [pd.DataFrame(columns=SMPL_COLUMNS), pd.DataFrame()], ids=["columns", "bare"]
)
def test_no_people_gives_empty_tables_with_the_declared_columns(smpl):
    for roles in (None, {3: "interviewee"}):
        out = compute_video_features(smpl, 25.0, 50, roles=roles, neutral=STANDIN_NEUTRAL)
        assert set(out) == set(SCHEMAS)
        for name, frame in out.items():
            assert len(frame) == 0, name
            assert list(frame.columns) == SCHEMAS[name].names, name
            assert to_arrow(frame, name).schema.equals(SCHEMAS[name])
        assert out["features_summary"].attrs["tracks_roles"] == {}


def test_head_angles_without_shoulders_are_against_a_trunk_facing_the_camera(rest_joints):
    """The stand-in at rest, facing the camera: the fitted trunk's frame is the camera-facing
    one, so the head reads level either way. Turned 20 degrees to its left as a whole, the head
    reads straight ahead against its observed trunk, and 20 degrees to the left where the
    shoulders were not observed (the trunk's heading unknown: the camera is the reference)."""
    from analytics.body_frame import trunk_frame
    from analytics.head import facing_camera_trunk, head_angles_deg, head_angles_in_place_deg

    facing = rest_joints @ np.diag([1.0, -1.0, -1.0])  # body frame (y up, +z forward) -> camera
    np.testing.assert_allclose(
        trunk_frame(facing[None])[0], facing_camera_trunk(STANDIN_NEUTRAL), atol=1e-5
    )
    c, s = np.cos(np.radians(20.0)), np.sin(np.radians(20.0))
    turn = np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])  # to the subject's left
    both = np.stack([facing, facing @ turn.T])
    seen = head_angles_deg(both, STANDIN_NEUTRAL, np.array([True, True]))
    unseen = head_angles_deg(both, STANDIN_NEUTRAL, np.array([False, False]))
    np.testing.assert_allclose(seen, 0.0, atol=1e-3)
    np.testing.assert_allclose(unseen[0], 0.0, atol=1e-3)
    # the rest trunk leans 0.2 degrees: a turn about the camera's vertical is not quite one
    # about it
    np.testing.assert_allclose(unseen[1], [0.0, 20.0, 0.0], atol=0.1)
    np.testing.assert_allclose(head_angles_deg(both, STANDIN_NEUTRAL), seen)  # default: seen
    in_place = head_angles_in_place_deg(both, STANDIN_NEUTRAL, np.array([False, False]))
    np.testing.assert_allclose(in_place, unseen, atol=1e-6)
    gap = np.concatenate([both, np.full((1, *facing.shape), np.nan)])  # a frame without data
    angles = head_angles_deg(gap, STANDIN_NEUTRAL, np.array([False, False, False]))
    assert np.isnan(angles[2]).all() and np.isfinite(angles[:2]).all()
