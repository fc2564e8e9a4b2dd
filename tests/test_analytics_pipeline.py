"""compute_video_features end to end on posed bodies: events, windows, synchrony, orientation,
invariance, missing frames, motion energy, tables and plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import synchrony
from analytics import synthetic as S
from analytics.body_frame import STANDIN_NEUTRAL
from analytics.calibration import neutral_from_body_model
from analytics.pipeline import compute_video_features
from analytics.plots import plot_video_features
from analytics.roles import video_roles
from analytics.tables import FRAME_FLOATS, SCHEMAS, SYNC_SIGNALS, to_arrow, with_stat

FPS = 25.0


@pytest.fixture(scope="module")
def body():
    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel

    return BodyModel(resolve_assets())


@pytest.fixture(scope="module")
def neutral(body):
    return neutral_from_body_model(body)


def table(*people: np.ndarray, frames: list[np.ndarray] | None = None) -> pd.DataFrame:
    return pd.concat(
        [
            S.smpl_table(j, "vid", k + 1, FPS, None if frames is None else frames[k])
            for k, j in enumerate(people)
        ],
        ignore_index=True,
    )


def head_sequence(body, pitch_deg=None, yaw_deg=None, n=None, **place) -> np.ndarray:
    n = n or len(pitch_deg if pitch_deg is not None else yaw_deg)
    aa = np.zeros((n, 3))
    if pitch_deg is not None:
        aa[:, 0] = np.radians(pitch_deg)
    if yaw_deg is not None:
        aa[:, 1] = np.radians(yaw_deg)
    poses = np.repeat(S.RELAXED[None], n, axis=0)
    poses[:, 14 * 3 : 15 * 3] = aa  # SMPL joint 15 = head
    return S.camera_joints(body, poses, **place)


def test_nod_counted_still_head_not(body, neutral):
    t = np.arange(0, 7.0, 1 / FPS)
    nod = np.where((t >= 2) & (t < 5), 10 * np.sin(2 * np.pi * 2.0 * (t - 2)), 0.0)
    j = head_sequence(body, pitch_deg=nod)
    still = head_sequence(body, pitch_deg=np.zeros_like(t), position=(1.0, 0.0, 3.0))
    out = compute_video_features(table(j, still), FPS, len(t), neutral=neutral)
    ev = out["events"]
    nods = ev[(ev["event_type"] == "nod") & (ev["track_id"] == 1)]
    assert len(nods) == 1
    assert nods["frequency_hz"].iloc[0] == pytest.approx(2.0, abs=0.25)
    assert nods["n_half_cycles"].iloc[0] >= 10
    assert nods["amplitude_deg"].iloc[0] == pytest.approx(20.0, abs=3.0)  # peak-to-peak
    assert not ev["event_type"].isin(["shake"]).any()
    assert len(ev[ev["track_id"] == 2]) == 0
    s = out["features_summary"].set_index("track_id")
    assert s.loc[1, "nod_count"] == 1 and s.loc[2, "nod_count"] == 0


def test_shake_counted(body, neutral):
    t = np.arange(0, 6.0, 1 / FPS)
    shake = np.where((t >= 1.5) & (t < 4.0), 15 * np.sin(2 * np.pi * 2.5 * (t - 1.5)), 0.0)
    out = compute_video_features(
        table(head_sequence(body, yaw_deg=shake)), FPS, len(t), neutral=neutral
    )
    ev = out["events"]
    assert (ev["event_type"] == "shake").sum() == 1
    assert (ev["event_type"] == "nod").sum() == 0
    assert ev.loc[ev["event_type"] == "shake", "frequency_hz"].iloc[0] == pytest.approx(
        2.5, abs=0.3
    )


def _sway(seed: int, n: int) -> np.ndarray:
    """Smooth random 1D signal (unit scale): non-periodic, so the lag peak is unique."""
    x = np.random.default_rng(seed).normal(size=n + 40)
    return np.convolve(x, np.hanning(15) / np.hanning(15).sum(), mode="same")[20 : 20 + n]


def test_synchrony_peak_at_half_second_lag(body, neutral):
    n, shift = 750, round(0.5 * FPS)  # 30 s; B does what A did 0.5 s earlier
    sway = _sway(3, n + shift)
    a_sig, b_sig = sway[shift:], sway[:n]
    poses_a = np.repeat(S.RELAXED[None], n, 0)
    poses_b = poses_a.copy()
    poses_a[:, 42] = 0.4 * a_sig  # head pitch (rad)
    poses_b[:, 42] = 0.4 * b_sig
    ja = S.camera_joints(body, poses_a, yaw_deg=90, position=(-0.8, 0, 3.0))
    jb = S.camera_joints(body, poses_b, yaw_deg=-90, position=(0.8, 0, 3.0))
    ja += 0.3 * np.cumsum(a_sig)[:, None, None] / FPS * np.array([0, 0, 1.0])  # body sway
    jb += 0.3 * np.cumsum(b_sig)[:, None, None] / FPS * np.array([0, 0, 1.0])
    out = compute_video_features(
        table(ja, jb), FPS, n, roles={1: "interviewer", 2: "interviewee"}, neutral=neutral
    )
    s = out["features_summary"].set_index("track_id")
    for sig in ("motion", "head"):
        assert s.loc[1, f"sync_{sig}_peak_lag_s"] == pytest.approx(0.5, abs=1 / FPS + 1e-9), sig
        assert s.loc[2, f"sync_{sig}_peak_lag_s"] == pytest.approx(-0.5, abs=1 / FPS + 1e-9), sig
        assert s.loc[1, f"sync_{sig}_peak_r_ratio"] > 0.8
    w = out["features_windows"]
    w10 = w[(w["track_id"] == 1) & (w["window_s"] == 10.0)]
    np.testing.assert_allclose(w10["sync_motion_peak_lag_s"], 0.5, atol=1 / FPS + 1e-9)
    assert out["features_summary"].attrs["tracks_roles"] == {1: "interviewer", 2: "interviewee"}


def test_synchrony_lag_in_seconds_on_variable_frame_rate_video(body, neutral):
    """The same pair, B doing what A did 0.5 s earlier, filmed by a phone that keeps every
    other frame of 8-22 s (the rest at their times, 25 frames/s): the lag is 0.5 s. Counted as
    frames at the mean rate (19.2 frames/s) it read 0.5 x 25 / 19.2 = 0.65 s."""
    n, shift = 750, round(0.5 * FPS)
    sway = _sway(3, n + shift)
    a_sig, b_sig = sway[shift:], sway[:n]
    poses_a = np.repeat(S.RELAXED[None], n, 0)
    poses_b = poses_a.copy()
    poses_a[:, 42] = 0.4 * a_sig
    poses_b[:, 42] = 0.4 * b_sig
    ja = S.camera_joints(body, poses_a, yaw_deg=90, position=(-0.8, 0, 3.0))
    jb = S.camera_joints(body, poses_b, yaw_deg=-90, position=(0.8, 0, 3.0))
    ja += 0.3 * np.cumsum(a_sig)[:, None, None] / FPS * np.array([0, 0, 1.0])
    jb += 0.3 * np.cumsum(b_sig)[:, None, None] / FPS * np.array([0, 0, 1.0])
    kept = np.flatnonzero(~((np.arange(n) >= 200) & (np.arange(n) < 550) & (np.arange(n) % 2 == 1)))
    starts = kept / FPS
    timeline = (starts, np.append(starts[1:], n / FPS))
    m = len(kept)
    out = compute_video_features(
        table(ja[kept], jb[kept]), m / (n / FPS), m, roles={1: "interviewer", 2: "interviewee"},
        neutral=neutral, timeline=timeline,
    )  # fmt: skip
    s = out["features_summary"].set_index("track_id")
    for sig in ("motion", "head"):
        assert s.loc[1, f"sync_{sig}_peak_lag_s"] == pytest.approx(0.5, abs=1 / FPS + 1e-9), sig
        assert s.loc[1, f"sync_{sig}_peak_r_ratio"] > 0.8


@pytest.mark.parametrize(
    ("turn", "expected"), [(0.0, 0.0), (90.0, 90.0), (-90.0, 90.0), (180.0, 180.0)]
)
def test_orientation_toward_other(body, neutral, turn, expected):
    # A at x=-1 faces +x (yaw 90) toward B at x=+1; B faces A (yaw -90); A then turns by `turn`
    ja = S.camera_joints(
        body, np.repeat(S.RELAXED[None], 3, 0), yaw_deg=90 + turn, position=(-1.0, 0.1, 3.0)
    )
    jb = S.camera_joints(
        body, np.repeat(S.RELAXED[None], 3, 0), yaw_deg=-90, position=(1.0, 0.0, 3.0)
    )
    f = compute_video_features(table(ja, jb), FPS, 3, neutral=neutral)["features_frames"].set_index(
        "track_id"
    )
    assert f.loc[1, "orientation_to_other_deg"].to_numpy() == pytest.approx(expected, abs=2.0)
    assert f.loc[2, "orientation_to_other_deg"].to_numpy() == pytest.approx(0.0, abs=2.0)


def _scene(body) -> tuple[pd.DataFrame, int]:
    n = 100
    t = np.arange(n) / FPS
    pitch = 12 * np.sin(2 * np.pi * 1.5 * t)
    poses = np.repeat(S.RELAXED[None], n, 0)
    poses[:, 42] = np.radians(pitch)
    poses[:, 43] = np.radians(10 * np.sin(2 * np.pi * 0.7 * t))
    poses[:, 15 * 3 + 2] = np.radians(-70 + 60 * np.sin(2 * np.pi * 0.5 * t))  # left arm waves
    go = np.radians(np.c_[8 * np.sin(2 * np.pi * 0.2 * t), np.zeros(n), np.zeros(n)])
    ja = S.camera_joints(body, poses, go, yaw_deg=70, position=(-0.9, 0.1, 3.2))
    jb = S.camera_joints(body, poses[::-1].copy(), yaw_deg=-110, position=(0.7, 0.0, 2.6))
    jb += 0.2 * t[:, None, None] * np.array([1.0, 0, 0])
    return table(ja, jb), n


def _rigid(df: pd.DataFrame, yaw_deg: float, shift: np.ndarray) -> pd.DataFrame:
    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # about the camera's vertical axis
    out = df.copy()
    out["joints3d_m"] = [
        (np.asarray(v).reshape(49, 3) @ rot.T + shift).reshape(-1) for v in df["joints3d_m"]
    ]
    return out


def test_invariance_to_scene_translation_and_camera_yaw(body, neutral):
    df, n = _scene(body)
    base = compute_video_features(df, FPS, n, neutral=neutral)
    moved = compute_video_features(
        _rigid(df, 63.0, np.array([1.5, -0.4, 2.0])), FPS, n, neutral=neutral
    )
    for name in ("features_frames", "features_windows", "features_summary"):
        a, b = base[name], moved[name]
        num = [c for c in a.columns if a[c].dtype == "float64"]
        np.testing.assert_allclose(
            a[num].to_numpy(), b[num].to_numpy(), atol=1e-6, rtol=1e-6, err_msg=name
        )
        other = [c for c in a.columns if c not in num]
        pd.testing.assert_frame_equal(a[other], b[other])
    pd.testing.assert_frame_equal(base["events"], moved["events"], atol=1e-6)


def test_missing_frames_are_nan_rows_and_lower_coverage(body, neutral):
    df, n = _scene(body)
    df = df[~((df["track_id"] == 1) & df["frame"].between(10, 19))]
    out = compute_video_features(df, FPS, n, neutral=neutral)
    f = out["features_frames"]
    one = f[f["track_id"] == 1].set_index("frame")
    assert len(one) == n
    gap = one.loc[10:19]
    assert not gap["has_data"].any()
    assert gap[list(FRAME_FLOATS)].isna().all().all()
    assert gap["is_touching_face"].isna().all()
    # the neighbours' speeds are not computed across the gap either
    assert np.isnan(one.loc[9, "motion_energy_m_per_s"]) and np.isnan(
        one.loc[20, "motion_energy_m_per_s"]
    )
    assert one.loc[[0, 8, 21, 99], "trunk_lean_forward_deg"].notna().all()
    w = out["features_windows"]
    w1 = w[(w["track_id"] == 1) & (w["window_s"] == 1.0)].set_index("window_index")
    assert w1.loc[0, "coverage_ratio"] == pytest.approx(15 / 25)
    assert w1.loc[1, "coverage_ratio"] == 1.0
    s = out["features_summary"].set_index("track_id")
    assert s.loc[1, "coverage_ratio"] == pytest.approx(0.9) and s.loc[2, "coverage_ratio"] == 1.0


def test_motion_energy_still_and_constant_velocity(body, neutral):
    n = 50
    still = S.camera_joints(body, np.repeat(S.RELAXED[None], n, 0), yaw_deg=30)
    v = np.array([0.3, 0.0, -0.4])  # 0.5 m/s
    moving = still + (np.arange(n) / FPS)[:, None, None] * v
    f = compute_video_features(table(still, moving + [2.0, 0, 0]), FPS, n, neutral=neutral)[
        "features_frames"
    ]
    me = f.set_index("track_id")["motion_energy_m_per_s"]
    np.testing.assert_allclose(me.loc[1], 0.0, atol=1e-9)
    np.testing.assert_allclose(me.loc[2], 0.5, atol=1e-6)
    assert not f["is_gesturing"].any()


def test_tables_match_schemas_and_plots(body, neutral, tmp_path):
    df, n = _scene(body)
    out = compute_video_features(df, FPS, n, neutral=neutral)
    assert set(out) == set(SCHEMAS)
    for name, frame in out.items():
        assert to_arrow(frame, name).schema.equals(SCHEMAS[name])
    assert len(out["features_frames"]) == 2 * n
    assert set(out["features_windows"]["window_s"]) == {1.0, 10.0}
    paths = plot_video_features(out, tmp_path)
    assert [p.name for p in paths] == ["vid_timeseries.png", "vid_events.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_empty_input():
    empty = pd.DataFrame(columns=["video_id", "track_id", "frame", "t_s", "joints3d_m"])
    out = compute_video_features(empty, FPS, 10, neutral=STANDIN_NEUTRAL)
    assert all(len(v) == 0 for v in out.values())
    for name, frame in out.items():
        assert list(frame.columns) == SCHEMAS[name].names


def test_rows_cover_each_persons_span_not_the_whole_video(body, neutral):
    """A third person seen only in frames 600-774 of 1000 gets 175 frame rows (not 1000), and
    their nod is reported in video frames and seconds; the main pair keeps every frame."""
    n = 1000
    still_a = head_sequence(body, pitch_deg=np.zeros(n), position=(-0.5, 0.0, 3.0))
    still_b = head_sequence(body, pitch_deg=np.zeros(n), position=(0.5, 0.0, 3.0))
    t = np.arange(175) / FPS
    nod = np.where((t >= 2) & (t < 5), 10 * np.sin(2 * np.pi * 2.0 * (t - 2)), 0.0)
    visitor = head_sequence(body, pitch_deg=nod, position=(0.0, 0.0, 5.0))
    frames = [np.arange(n), np.arange(n), np.arange(600, 775)]
    out = compute_video_features(
        table(still_a, still_b, visitor, frames=frames), FPS, n, neutral=neutral,
        roles={1: "interviewer", 2: "interviewee", 3: "other"},
    )  # fmt: skip
    rows = out["features_frames"].groupby("track_id")["frame"].agg(["min", "max", "size"])
    assert rows.loc[3].tolist() == [600, 774, 175]
    assert rows.loc[1].tolist() == rows.loc[2].tolist() == [0, n - 1, n]
    nods = out["events"][(out["events"]["event_type"] == "nod") & (out["events"]["track_id"] == 3)]
    assert len(nods) == 1
    start = int(nods["start_frame"].iloc[0])
    assert 600 + 2 * FPS - 5 <= start <= 600 + 2 * FPS + 10
    assert nods["start_s"].iloc[0] == pytest.approx(start / FPS)
    win = out["features_windows"]
    visitor_1s = win[(win["track_id"] == 3) & (win["window_s"] == 1.0)]
    assert visitor_1s["window_index"].min() == 600 // FPS
    assert visitor_1s["end_s"].max() == pytest.approx(775 / FPS)
    summary = out["features_summary"].set_index("track_id")
    assert summary.loc[3, "nod_count"] == 1 and summary.loc[3, "duration_s"] == pytest.approx(7.0)


def _swaying(body, sig: np.ndarray, yaw_deg: float, position) -> np.ndarray:
    """Joints of a person whose head pitch and forward sway follow ``sig`` (motion energy and
    head speed both carry it)."""
    poses = np.repeat(S.RELAXED[None], len(sig), 0)
    poses[:, 42] = 0.4 * sig  # head pitch (rad)
    j = S.camera_joints(body, poses, yaw_deg=yaw_deg, position=position)
    return j + 0.3 * np.cumsum(sig)[:, None, None] / FPS * np.array([0, 0, 1.0])


def _video_signal(frames: pd.DataFrame, track: int, col: str, n: int) -> np.ndarray:
    one = frames[frames["track_id"] == track].set_index("frame")[col]
    return one.reindex(np.arange(n)).to_numpy(dtype=np.float64)


def test_synchrony_windows_align_with_video_time_for_late_and_different_spans(body, neutral):
    """Regression: several people with different spans, the main pair starting late and at
    different frames. Synchrony used to be indexed by window position inside the pair's span
    (IndexError, or the wrong window); each window row must get its own video-time window."""
    n, shift = 600, round(0.4 * FPS)  # B repeats A 0.4 s later
    sway = _sway(5, n + shift)
    a_sig, b_sig = sway[shift:], sway[:n]
    spans = {1: (60, 559), 2: (110, 599), 3: (0, 80), 4: (200, 260)}
    people = {
        1: _swaying(body, a_sig, 90, (-0.8, 0, 3.0)),
        2: _swaying(body, b_sig, -90, (0.8, 0, 3.0)),
        3: _swaying(body, 0 * a_sig, 0, (0.0, 0, 5.0)),
        4: _swaying(body, 0 * a_sig, 30, (1.5, 0, 4.0)),
    }
    df = pd.concat(
        [
            S.smpl_table(people[t][lo : hi + 1], "vid", t, FPS, np.arange(lo, hi + 1))
            for t, (lo, hi) in spans.items()
        ],
        ignore_index=True,
    )
    out = compute_video_features(
        df, FPS, n, roles={1: "interviewer", 2: "interviewee"}, neutral=neutral
    )
    frames, windows = out["features_frames"], out["features_windows"]
    rows = frames.groupby("track_id")["frame"].agg(["min", "max"])
    assert rows.loc[1].tolist() == [60, 559] and rows.loc[2].tolist() == [110, 599]  # own spans
    assert rows.loc[3].tolist() == [0, 80] and rows.loc[4].tolist() == [200, 260]
    checked = 0
    for sig, col in zip(
        SYNC_SIGNALS, ("motion_energy_m_per_s", "head_angular_speed_deg_per_s"), strict=True
    ):
        # reference: the signals on the whole video (NaN outside the spans), whose windows of
        # round(w * fps) frames from frame 0 are the table's windows since w * FPS is integral
        a, b = _video_signal(frames, 1, col, n), _video_signal(frames, 2, col, n)
        for w in (1.0, 10.0):
            lags, r = synchrony.windowed_lagged_xcorr(a, b, FPS, w)
            ref_lag, ref_r = synchrony.peak(lags, r)
            for track, sign in ((1, 1.0), (2, -1.0)):
                got = windows[(windows["track_id"] == track) & (windows["window_s"] == w)]
                idx = got["window_index"].to_numpy()
                np.testing.assert_allclose(
                    got[f"sync_{sig}_peak_r_ratio"], ref_r[idx], atol=1e-9, err_msg=(sig, w)
                )
                np.testing.assert_allclose(
                    got[f"sync_{sig}_peak_lag_s"], sign * ref_lag[idx], atol=1e-9
                )
                checked += int(np.isfinite(ref_r[idx]).sum())
        one_s = windows[(windows["track_id"] == 1) & (windows["window_s"] == 1.0)]
        before_b = one_s[one_s["window_index"] < 110 // FPS]  # partner not seen yet
        assert before_b[f"sync_{sig}_peak_r_ratio"].isna().all()
        s = out["features_summary"].set_index("track_id")
        assert s.loc[1, f"sync_{sig}_peak_lag_s"] == pytest.approx(0.4, abs=1 / FPS + 1e-9)
        assert s.loc[2, f"sync_{sig}_peak_lag_s"] == pytest.approx(-0.4, abs=1 / FPS + 1e-9)
    assert checked > 40
    others = windows[windows["track_id"].isin([3, 4])]
    assert others[[f"sync_{sig}_peak_r_ratio" for sig in SYNC_SIGNALS]].isna().all().all()


def test_synchrony_is_the_two_peoples_over_all_their_tracks(body, neutral):
    """Two people over two shots, B repeating A 0.4 s later; in the second shot B is lost and
    found again (a new track). The pair is the two people: every one of their five tracks gets
    the same synchrony, the windows of both shots have it, and each track's partner is the
    track it is seen with. Per pair of tracks only the longest-together pair had it."""
    n, cut, shift = 750, 375, round(0.4 * FPS)
    sway = _sway(11, n + shift)
    a_sig, b_sig = sway[shift:], sway[:n]
    # A: tracks 0 and 2 (one a shot); B: 1 in shot one, 3 and 5 in shot two (lost 561..579)
    spans = {0: (0, cut - 1), 1: (0, cut - 1), 2: (cut, n - 1), 3: (cut, 560), 5: (580, n - 1)}
    where = {0: (-0.8, 0, 3.0), 1: (0.8, 0, 3.0), 2: (-0.5, 0, 2.0), 3: (0.5, 0, 2.0)}
    where[5] = where[3]
    persons = {0: 0, 2: 0, 1: 1, 3: 1, 5: 1}
    parts = []
    for t, (lo, hi) in spans.items():
        sig = (a_sig if persons[t] == 0 else b_sig)[lo : hi + 1]
        joints = _swaying(body, sig, 90 if persons[t] == 0 else -90, where[t])
        parts.append(S.smpl_table(joints, "vid", t, FPS, np.arange(lo, hi + 1)))
    df = pd.concat(parts, ignore_index=True)
    roles = {0: "interviewer", 1: "interviewee"}  # hold for each person's other tracks
    out = compute_video_features(df, FPS, n, roles=roles, neutral=neutral, persons=persons)
    s = out["features_summary"].set_index("track_id")
    assert s["partner_person_id"].to_dict() == {0: 1, 1: 0, 2: 1, 3: 0, 5: 0}
    assert s["partner_track_id"].to_dict() == {0: 1, 1: 0, 2: 3, 3: 2, 5: 2}
    windows = out["features_windows"]
    for sig in SYNC_SIGNALS:
        r_col, lag_col = f"sync_{sig}_peak_r_ratio", f"sync_{sig}_peak_lag_s"
        assert s[r_col].nunique() == 1 and s[r_col].iloc[0] > 0.8
        for t in spans:
            want = 0.4 if persons[t] == 0 else -0.4
            assert s.loc[t, lag_col] == pytest.approx(want, abs=1 / FPS + 1e-9)
        one_s = windows[windows["window_s"] == 1.0].set_index(["track_id", "window_index"])
        found = one_s[r_col].dropna()
        # both shots' windows, on the tracks that show them, with the lag of the script
        assert found.loc[0].index.max() < cut / FPS and found.loc[2].index.min() >= cut / FPS
        assert len(found.loc[5]) >= 5
        lags = one_s.loc[found.index, lag_col] * np.where(
            found.index.get_level_values(0).isin([0, 2]), 1.0, -1.0
        )
        assert (np.abs(lags - 0.4) <= 1 / FPS + 1e-9).mean() > 0.8, sig
    # one row per person over all their tracks: frames counted once, a mean over frames (not
    # over the tracks' means), events summed, the pair's synchrony
    people = out["features_people"].set_index("person_id")
    frames = out["features_frames"].assign(person=lambda f: f["track_id"].map(persons))
    assert people["n_tracks"].to_dict() == {0: 2, 1: 3}
    assert people["n_frames"].to_dict() == {0: 750, 1: 375 + 186 + 170}
    assert people["role"].to_dict() == {0: "interviewer", 1: "interviewee"}
    assert people["partner_person_id"].to_dict() == {0: 1, 1: 0}
    for p in (0, 1):
        mine = frames[frames["person"] == p]
        for col in ("motion_energy_m_per_s", "head_pitch_deg"):
            want = mine[col].mean()
            assert people.loc[p, with_stat(col, "mean")] == pytest.approx(want, rel=1e-9)
        counts = s.loc[[t for t in spans if persons[t] == p], "nod_count"].sum()
        assert people.loc[p, "nod_count"] == counts
        assert people.loc[p, "sync_motion_peak_r_ratio"] == s["sync_motion_peak_r_ratio"].iloc[0]
    # without persons: tracks 0 and 1 (together longest) are the pair, the rest have none
    alone = compute_video_features(df, FPS, n, roles=roles, neutral=neutral)
    a = alone["features_summary"].set_index("track_id")
    assert a["partner_track_id"].dropna().to_dict() == {0: 1, 1: 0}
    assert a.loc[[2, 3, 5], "sync_motion_peak_r_ratio"].isna().all()
    assert len(alone["features_people"]) == 5  # every track its own person


def _crowd(body) -> tuple[pd.DataFrame, int]:
    """Five people over two shots: near and long (1), far and long (2), nearest but brief (3),
    far in the second shot only (4, 5)."""
    n = 200
    rest = np.repeat(S.RELAXED[None], n, 0)
    people = {
        1: (S.camera_joints(body, rest, yaw_deg=20, position=(0.3, 0.0, 2.2)), np.arange(0, 200)),
        2: (S.camera_joints(body, rest, yaw_deg=-60, position=(-0.8, 0.0, 3.5)), np.arange(0, 190)),
        3: (S.camera_joints(body, rest, yaw_deg=0, position=(0.0, 0.0, 1.5)), np.arange(10, 30)),
        4: (S.camera_joints(body, rest, yaw_deg=90, position=(1.0, 0.0, 6.0)), np.arange(100, 200)),
        5: (
            S.camera_joints(body, rest, yaw_deg=45, position=(-1.0, 0.0, 7.0)),
            np.arange(120, 150),
        ),
    }
    df = pd.concat(
        [S.smpl_table(j[f], "vid", t, FPS, f) for t, (j, f) in people.items()], ignore_index=True
    )
    return df, n


def test_video_roles_are_the_roles_of_compute_video_features(body, neutral):
    df, n = _crowd(body)
    expected = {1: "interviewee", 2: "interviewer", 3: "other", 4: "other", 5: "other"}
    assert video_roles(df, n, None) == expected
    out = compute_video_features(df, FPS, n, neutral=neutral)
    summary = out["features_summary"]
    assert out["features_summary"].attrs["tracks_roles"] == expected
    assert dict(zip(summary["track_id"], summary["role"], strict=True)) == expected
    # the override always wins, unlisted tracks are "other", in both
    override = {4: "interviewer", 3: "interviewee"}
    wanted = {1: "other", 2: "other", 3: "interviewee", 4: "interviewer", 5: "other"}
    assert video_roles(df, n, override) == wanted
    out = compute_video_features(df, FPS, n, roles=override, neutral=neutral)
    assert out["features_summary"].attrs["tracks_roles"] == wanted
    assert out["features_summary"].set_index("track_id").loc[4, "partner_track_id"] == 3
    assert video_roles(df, n, {}) == dict.fromkeys(range(1, 6), "other")
    for bad in ({1: "host"}, {1: "interviewee", 2: "Interviewer"}):
        (name,) = set(bad.values()) - {"interviewee"}
        with pytest.raises(ValueError, match=name):
            video_roles(df, n, bad)
        with pytest.raises(ValueError, match=name):
            compute_video_features(df, FPS, n, roles=bad, neutral=neutral)


def test_measures_of_arms_out_of_view_are_null_not_guessed(body, neutral):
    """With ``joints2d_px``/``bbox_px`` (the pipeline's smpl rows) a joint outside the person's
    box is out of view: the measures built from the arms' positions are NaN there (and their
    boolean states null) instead of the fit's guess, the hand-face distance uses the hand in view,
    and joint speeds are NaN where the joint is not seen at the frame and both neighbours."""
    from analytics import joints as J

    n = 30
    j = S.camera_joints(body, np.repeat(S.RELAXED[None], n, 0), yaw_deg=10)
    df = table(j)
    pts = j[..., :2] * 100.0 + 300.0  # any 2D layout: only inside/outside the box matters
    box = np.array([pts[0, :, 0].min(), pts[0, :, 1].min(), pts[0, :, 0].max(), pts[0, :, 1].max()])
    out_of_box = box[2:] + 50.0
    pts[10:20, [J.L_WRIST, J.L_ELBOW]] = out_of_box  # left arm unseen in frames 10-19
    pts[20:, [J.L_WRIST, J.R_WRIST]] = out_of_box  # both hands unseen from frame 20
    df["joints2d_px"] = list(pts.reshape(n, -1))
    df["bbox_px"] = [box] * n
    f = compute_video_features(df, FPS, n, neutral=neutral)["features_frames"].set_index("frame")
    arms = ["expansiveness_ratio", "arm_openness_ratio", "hands_dist_m", "arms_crossed_conf_ratio"]
    assert f.loc[:9, arms].notna().all().all() and f.loc[10:, arms].isna().all().all()
    assert f.loc[:9, ["is_hands_together", "is_arms_crossed"]].notna().all().all()
    assert f.loc[10:, ["is_hands_together", "is_arms_crossed"]].isna().all().all()
    # one hand in view: its distance; none: NaN and face touch unknown
    assert f.loc[:19, "hand_face_dist_m"].notna().all()
    assert (f.loc[10:19, "hand_face_dist_m"] >= f.loc[:9, "hand_face_dist_m"].min() - 1e-9).all()
    assert (
        f.loc[20:, "hand_face_dist_m"].isna().all() and f.loc[20:, "is_touching_face"].isna().all()
    )
    assert f["has_data"].all() and f["trunk_lean_forward_deg"].notna().all()
    left = f["speed_left_wrist_m_per_s"]
    assert left.loc[1:8].notna().all() and left.loc[9:].isna().all()
    assert f.loc[1:28, "speed_right_wrist_m_per_s"].notna().sum() == 18  # frames 1-18


def test_trunk_lean_needs_the_shoulders_observed(body, neutral):
    """Where the smpl rows say a shoulder was not observed (``joints_observed``: a face filling
    the frame, Pose saw no body) the trunk lean and the shoulder raise are NaN, the shrug state
    is unknown and no posture shift is found from the fitted trunk, which there is the prior's;
    with both shoulders observed the same bodies give the lean, the raise and the shift."""
    from analytics import joints as J

    t = np.arange(0, 8.0, 1 / FPS)
    poses = np.repeat(S.RELAXED[None], len(t), axis=0)
    poses[(t >= 3) & (t < 6), 2 * 3] = np.radians(20.0)  # spine1 (SMPL 3): lean forward 20 deg
    df = table(S.camera_joints(body, poses))
    observed = np.ones((len(t), 49), bool)
    df["joints_observed"] = list(observed)
    seen = compute_video_features(df, FPS, len(t), neutral=neutral)
    assert seen["features_frames"]["trunk_lean_forward_deg"].notna().all()
    assert (seen["events"]["event_type"] == "posture_shift").any()
    observed[:, [J.L_SHOULDER, J.R_SHOULDER]] = False
    observed[: int(FPS), J.R_SHOULDER] = True  # one shoulder alone is not enough either
    df["joints_observed"] = list(observed)
    unseen = compute_video_features(df, FPS, len(t), neutral=neutral)
    lean = unseen["features_frames"][["trunk_lean_forward_deg", "trunk_lean_side_deg"]]
    assert lean.isna().all().all()
    assert not (unseen["events"]["event_type"] == "posture_shift").any()
    shrug = unseen["features_frames"][["shoulder_raise_m", "is_shrugging"]]
    assert shrug["shoulder_raise_m"].isna().all() and shrug["is_shrugging"].isna().all()
    assert seen["features_frames"]["is_shrugging"].notna().all()
    assert unseen["features_frames"]["head_pitch_deg"].notna().all()  # the head still counts


def test_head_angles_need_the_face_seen(body, neutral):
    """The fitted head where the face was not seen (``joints_observed`` of the head false: the
    face detector lost a face behind a hand) drifts and comes back, a down-up swing like the
    ones here; those frames get no head angles and no nod is built from them. A gap of two
    frames (0.08 s, shorter than a nod's half-cycle) is bridged: its angles stay, and a nod
    through it is still found."""
    from analytics import joints as J
    from analytics.head import head_seen

    t = np.arange(0, 8.0, 1 / FPS)
    drift = np.zeros(len(t))
    for start in (2.0, 4.0):  # two 0.5 s swings of 8 degrees, 0.5 s apart
        inside = (t >= start) & (t < start + 0.5)
        drift[inside] = 8.0 * np.sin(np.pi * (t[inside] - start) / 0.5)
    df = table(head_sequence(body, pitch_deg=drift))
    observed = np.ones((len(t), 49), bool)
    df["joints_observed"] = list(observed)
    fitted = compute_video_features(df, FPS, len(t), neutral=neutral)
    assert (fitted["events"]["event_type"] == "nod").any()  # what the fit's guess reads as
    lost = ((t >= 2.0) & (t < 2.5)) | ((t >= 4.0) & (t < 4.5))
    observed[lost, J.HEAD] = False
    df["joints_observed"] = list(observed)
    out = compute_video_features(df, FPS, len(t), neutral=neutral)
    f = out["features_frames"].set_index("frame")
    head = ["head_pitch_deg", "head_yaw_deg", "head_roll_deg"]
    assert f.loc[lost, head].isna().all().all() and f.loc[~lost, head].notna().all().all()
    assert not (out["events"]["event_type"] == "nod").any()
    assert f["trunk_lean_forward_deg"].notna().all()  # the trunk still counts

    nod = np.where((t >= 2) & (t < 5), 10 * np.sin(2 * np.pi * 2.0 * (t - 2)), 0.0)
    df = table(head_sequence(body, pitch_deg=nod))
    observed = np.ones((len(t), 49), bool)
    observed[[80, 81], J.HEAD] = False  # 0.08 s in the middle of the nod
    df["joints_observed"] = list(observed)
    out = compute_video_features(df, FPS, len(t), neutral=neutral)
    assert out["features_frames"]["head_pitch_deg"].notna().all()
    assert (out["events"]["event_type"] == "nod").sum() == 1
    # bridged only between two seen frames, never at a track's ends
    edge = np.array([False, False, True, True, False, False, True, False])
    bridged = [False, False, True, True, True, True, True, False]
    np.testing.assert_array_equal(head_seen(edge, FPS), bridged)
    assert not head_seen(np.array([True, False, False, False, True]), FPS)[1:4].any()


def test_synchrony_of_short_shots_falls_back_to_the_short_windows(body, neutral):
    """An edit of 2 s shots has no 10 s window within one shot: the video's synchrony is then
    the 1 s windows' (and says so in sync_window_s) instead of null."""
    n, shot, shift = 400, 50, round(0.4 * FPS)
    sway = _sway(12, n + shift)
    a_sig, b_sig = sway[shift:], sway[:n]
    parts, persons = [], {}
    for k, lo in enumerate(range(0, n, shot)):
        for who, sig, yaw, x in ((0, a_sig, 90, -0.8), (1, b_sig, -90, 0.8)):
            track = 2 * k + who
            persons[track] = who
            joints = _swaying(body, sig[lo : lo + shot], yaw, (x, 0, 3.0 - 0.2 * (k % 2)))
            parts.append(S.smpl_table(joints, "vid", track, FPS, np.arange(lo, lo + shot)))
    df = pd.concat(parts, ignore_index=True)
    out = compute_video_features(
        df, FPS, n, roles={0: "interviewer", 1: "interviewee"}, neutral=neutral, persons=persons
    )
    s = out["features_summary"].set_index("track_id")
    assert (s["sync_window_s"] == 1.0).all() and len(s) == 16
    a_rows = s[s["person_id"] == 0]
    assert (a_rows["sync_motion_peak_r_ratio"] > 0.5).all()
    assert a_rows["sync_motion_peak_lag_s"].to_numpy() == pytest.approx(0.4, abs=1 / FPS + 1e-9)
    ten = out["features_windows"]
    assert ten.loc[ten["window_s"] == 10.0, "sync_motion_peak_r_ratio"].isna().all()


def test_arrow_backed_smpl_columns_give_the_same_tables(body, neutral):
    """The flow hands analytics the smpl table with its list columns Arrow-backed
    (``from_arrow``: no Python object per row and cell); every table is the same as from the
    default one-array-per-cell pandas frame, with every list column analytics reads present,
    the table in two chunks (as a parquet file of several row groups is read), the second a
    slice that starts inside its buffers."""
    import pyarrow as pa

    from analytics import joints as J
    from analytics.tables import from_arrow

    df, n = _scene(body)
    rng = np.random.default_rng(3)
    joints = np.stack(df["joints3d_m"]).reshape(len(df), J.N_JOINTS, 3)
    pts = joints[..., :2] / joints[..., 2:] * 500.0 + 320.0
    df["joints2d_px"] = list(pts.reshape(len(df), -1))
    df["bbox_px"] = list(np.c_[pts.min(1) - 5 + 30 * (rng.random((len(df), 2)) < 0.1), pts.max(1)])
    df["joints_observed"] = list(rng.random((len(df), J.N_JOINTS)) < 0.9)
    df["hands3d_m"] = list(np.where(rng.random((len(df), 1)) < 0.2, 0.1, np.nan) * np.ones(6))
    df["tile_px"] = list(np.full((len(df), 4), np.nan))
    lists = ["joints3d_m", "joints2d_px", "bbox_px", "joints_observed", "hands3d_m", "tile_px"]
    stored = pa.table(  # as the smpl table stores them: fixed-size lists of float32 / bool
        {
            c: pa.FixedSizeListArray.from_arrays(
                pa.array(
                    np.stack(df[c]).astype(bool if c == "joints_observed" else np.float32).ravel()
                ),
                len(df[c].iloc[0]),
            )
            if c in lists
            else pa.array(df[c])
            for c in df.columns
        }
    )
    stored = pa.concat_tables([stored.slice(0, 37), stored.slice(37)])
    assert stored.column("joints3d_m").num_chunks == 2
    arrow_backed = from_arrow(stored)
    assert all(isinstance(arrow_backed[c].dtype, pd.ArrowDtype) for c in lists)
    picks = np.array([5, 0, 146])  # some values of every row, read chunk by chunk
    for frame in (arrow_backed, stored.to_pandas()):
        whole = J.list_values(frame, "joints3d_m")
        np.testing.assert_array_equal(whole, np.stack(df["joints3d_m"]).astype(np.float32))
        np.testing.assert_array_equal(
            J.list_values(frame, "joints3d_m", columns=picks), whole[:, picks]
        )
    got = compute_video_features(arrow_backed, FPS, n, neutral=neutral)
    expected = compute_video_features(stored.to_pandas(), FPS, n, neutral=neutral)
    assert len(got["features_frames"]) == 2 * n and len(got["events"])
    for name, table in expected.items():
        pd.testing.assert_frame_equal(got[name], table, check_exact=True)
    assert video_roles(arrow_backed, n) == video_roles(stored.to_pandas(), n)
