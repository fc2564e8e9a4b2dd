"""Analytics building blocks on hand-made arrays (no body model needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.spatial import ConvexHull

from analytics import events, synchrony
from analytics import joints as J
from analytics.dyad import Dyad, main_pair, person_rows
from analytics.motion import wrist_across_sight
from analytics.posture import convex_hull_area
from analytics.roles import video_roles
from analytics.tables import SCHEMA_VERSION, SCHEMAS, conform, to_arrow


def test_convex_hull_area_matches_scipy_and_degenerate_cases():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(40, 9, 2))
    expected = [ConvexHull(p).volume for p in pts]
    np.testing.assert_allclose(convex_hull_area(pts), expected, atol=1e-12)
    square = np.array([[[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5], [0.5, 0], [1, 1]]], float)
    assert convex_hull_area(square)[0] == pytest.approx(1.0)
    line = np.array([[[0, 0], [1, 1], [2, 2], [0, 0], [3, 3], [1, 1], [2, 2]]], float)
    assert convex_hull_area(line)[0] == pytest.approx(0.0)
    assert np.isnan(convex_hull_area(np.full((1, 5, 2), np.nan))[0])


def test_runs_bridge_gaps_and_drop_short():
    m = np.array([0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0], bool)
    assert events.runs(m) == [(1, 2), (4, 5), (9, 9)]
    assert events.runs(m, max_gap=1) == [(1, 5), (9, 9)]
    assert events.runs(m, max_gap=1, min_len=2) == [(1, 5)]


def _nod(fps=30.0, f=2.0, amp=10.0, dur=3.0, pad=2.0):
    t = np.arange(0, dur + 2 * pad, 1 / fps)
    x = np.where((t >= pad) & (t < pad + dur), amp * np.sin(2 * np.pi * f * (t - pad)), 0.0)
    return t, x


def test_oscillation_detects_2hz_nod_and_not_still_or_slow_or_small():
    fps = 30.0
    _, x = _nod(fps)
    found = events.oscillation_events("nod", x, fps)
    assert len(found) == 1
    e = found[0]
    assert e["frequency_hz"] == pytest.approx(2.0, abs=0.25)
    assert e["n_half_cycles"] >= 10
    assert 1.8 <= e["start_s"] <= 2.5 and 4.5 <= e["end_s"] <= 5.2
    assert events.oscillation_events("nod", np.zeros(200), fps) == []
    _, slow = _nod(fps, f=0.3, amp=20.0, dur=2 / 0.3)  # whole cycles: no step
    assert events.oscillation_events("nod", slow, fps) == []
    _, small = _nod(fps, amp=1.5)
    assert events.oscillation_events("nod", small, fps) == []


def test_oscillation_skips_nan_gaps():
    fps = 30.0
    _, x = _nod(fps)
    x[:20] = np.nan
    assert len(events.oscillation_events("nod", x, fps)) == 1


def test_posture_shift_single_step():
    fps = 25.0
    lean = np.zeros((250, 2))
    lean[125:, 0] = 20.0
    found = events.posture_shift_events(lean, fps)
    assert len(found) == 1
    assert found[0]["start_frame"] <= 125 <= found[0]["end_frame"]
    assert found[0]["amplitude_deg"] == pytest.approx(20.0, abs=0.5)
    assert events.posture_shift_events(np.zeros((250, 2)), fps) == []


def test_synchrony_lag_sign():
    fps = 25.0
    rng = np.random.default_rng(1)
    a = np.convolve(rng.normal(size=1000), np.ones(7) / 7, mode="same")
    b = np.roll(a, 12)  # b repeats a 12 frames (0.48 s) later: a leads
    lags, r = synchrony.windowed_lagged_xcorr(a, b, fps, 10.0)
    lag, best = synchrony.peak(lags, synchrony.mean_curve(r))
    assert lag[0] == pytest.approx(12 / fps)
    assert best[0] > 0.95
    lag_w, _ = synchrony.peak(lags, r)
    np.testing.assert_allclose(lag_w, 12 / fps)


def test_synchrony_nan_and_constant_windows():
    fps = 10.0
    a = np.r_[np.zeros(50), np.random.default_rng(2).normal(size=50)]
    b = a.copy()
    b[60:] = np.nan
    lags, r = synchrony.windowed_lagged_xcorr(a, b, fps, 5.0)
    assert np.isnan(r[0]).all()  # a constant in window 0
    zero = np.flatnonzero(lags == 0)[0]
    assert np.isnan(r[1, zero])  # only 10 of 50 pairs valid at lag 0
    assert np.isfinite(r[1, 0])  # b read 2.5 s earlier: 35 valid pairs


def _people(*people: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    """`smpl` rows of hand-made (T, 49, 3) joints at the given frames, tracks 1, 2, ..."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "video_id": "v",
                    "track_id": k + 1,
                    "frame": frames,
                    "joints3d_m": list(j.reshape(len(j), -1)),
                }
            )
            for k, (j, frames) in enumerate(people)
        ],
        ignore_index=True,
    )


def _shoulders(n: int, depth: float) -> np.ndarray:
    j = np.zeros((n, 49, 3))
    j[:, 5, 0], j[:, 2, 0], j[:, 1, 2] = 0.2, -0.2, depth  # shoulders 0.4 m apart, neck depth
    return j


def test_roles_override_and_heuristic():
    near, far = _shoulders(10, 2.0), _shoulders(10, 4.0)
    two = _people((far, np.arange(10)), (near, np.arange(10)))
    assert video_roles(two, 10) == {1: "interviewer", 2: "interviewee"}
    assert video_roles(two, 10, {1: "interviewee", 2: "interviewer"}) == {
        1: "interviewee",
        2: "interviewer",
    }
    assert video_roles(two, 10, {"1": "interviewee"}) == {1: "interviewee", 2: "other"}
    three = _people((far, np.arange(10)), (near, np.arange(10)), (near, np.arange(10)))
    assert video_roles(three, 10, {1: "interviewee"})[3] == "other"
    with pytest.raises(ValueError, match="'host'"):
        video_roles(two, 10, {1: "host"})
    with pytest.raises(ValueError, match="'x'"):
        video_roles(two, 10, {"x": "other"})
    assert video_roles(two.iloc[:0], 10) == {}
    assert main_pair({4: "interviewer", 2: "interviewee", 7: "other"}) == Dyad.of_tracks(4, 2)


def test_roles_presence_is_over_the_video_not_the_span():
    """Seen twice as large but in a tenth of the video loses to a person seen all along; rows
    outside the video and duplicated frames do not count twice."""
    brief = _shoulders(10, 2.0)
    steady = _shoulders(100, 4.0)
    df = _people((brief, np.arange(40, 50)), (steady, np.arange(100)))
    assert video_roles(df, 100) == {1: "interviewer", 2: "interviewee"}
    # 80 rows, of which 20 repeat frame 45 and 50 lie past the video's end: still 10 frames
    frames = np.r_[np.arange(40, 50), [45] * 20, np.arange(100, 150)]
    padded = _people((np.concatenate([brief] * 8), frames), (steady, np.arange(100)))
    assert video_roles(padded, 100) == {1: "interviewer", 2: "interviewee"}
    df = _people((_shoulders(60, 2.0), np.arange(60)), (steady, np.arange(100)))
    assert video_roles(df, 100) == {1: "interviewee", 2: "interviewer"}


def test_synchrony_windows_follow_video_time_not_the_span_start():
    """Signals starting at frame 37: windows by video-time id equal the windows of the same
    signals NaN-padded from frame 0 (what the window table means by window k)."""
    fps, w = 10.0, 2.0
    rng = np.random.default_rng(4)
    a = np.convolve(rng.normal(size=130), np.ones(3) / 3, mode="same")
    b = np.roll(a, 4)
    frames = np.arange(37, 37 + 130)
    lags, ids, r = synchrony.lagged_xcorr_by_window(
        a, b, synchrony.window_ids(frames, fps, w), fps, w
    )
    pad = np.full(37, np.nan)
    lags0, r0 = synchrony.windowed_lagged_xcorr(np.r_[pad, a], np.r_[pad, b], fps, w)
    np.testing.assert_array_equal(lags, lags0)
    np.testing.assert_array_equal(ids, np.arange(1, 9))
    np.testing.assert_allclose(r, r0[ids], atol=1e-12)
    assert np.isfinite(r[1:-1]).any(axis=1).all()
    assert synchrony.window_ids(np.array([0, 19, 20, 59, 60]), fps, w).tolist() == [0, 0, 1, 2, 3]


def test_synchrony_does_not_read_a_cut_as_moving_together():
    """Two people moving independently, both measured four times larger after a cut in the
    middle of a window: pooled across the cut, that window's r is the jump (about 0.9); with the
    segments it is its longer side's alone, and lagged pairs never reach across the cut."""
    fps, w = 10.0, 10.0
    rng = np.random.default_rng(8)
    n, cut = 300, 140  # window 1 is frames 100..199: 40 frames before the cut, 60 after
    a = np.abs(np.convolve(rng.normal(size=n), np.ones(3) / 3, mode="same"))
    b = np.abs(np.convolve(rng.normal(size=n), np.ones(3) / 3, mode="same"))
    a[cut:] += 4.0
    b[cut:] += 4.0
    window = synchrony.window_ids(np.arange(n), fps, w)
    segment = (np.arange(n) >= cut).astype(int)
    _, _, pooled = synchrony.lagged_xcorr_by_window(a, b, window, fps, w)
    lags, ids, r = synchrony.lagged_xcorr_by_window(a, b, window, fps, w, segment=segment)
    assert ids.tolist() == [0, 1, 2]
    assert np.nanmax(pooled[1]) > 0.8  # the artefact
    assert np.nanmax(np.abs(r[1])) < 0.5
    # window 1 (frames 100..199) is its 60 frames after the cut alone, b read on past its end
    before = np.full(cut - 100, np.nan)
    a_alone = np.r_[before, a[cut:200], np.full(n - 200, np.nan)]
    _, alone = synchrony.windowed_lagged_xcorr(a_alone, np.r_[before, b[cut:]], fps, w)
    np.testing.assert_allclose(r[1], alone[0], atol=1e-12)
    assert np.isfinite(r[1][lags >= 0]).all()  # (lags < -1 s would read b before the cut)
    # one segment throughout: as without segments
    np.testing.assert_array_equal(
        synchrony.lagged_xcorr_by_window(a, b, window, fps, w, segment=np.zeros(n))[2], pooled
    )


def test_schemas_versioned_and_unit_suffixes():
    units = ("_deg", "_m", "_m_per_s", "_deg_per_s", "_s", "_hz", "_ratio", "_per_min", "_count")
    ids = {"video_id", "track_id", "person_id", "frame", "event_type", "side", "role"}
    ids |= {"partner_track_id", "partner_person_id"}
    ids |= {"window_index", "start_frame", "end_frame", "n_frames", "n_half_cycles", "n_tracks"}
    for name, schema in SCHEMAS.items():
        assert schema.metadata[b"pmrr.schema_version"] == SCHEMA_VERSION.encode()
        for field in schema:
            if field.type == pa.bool_():
                assert field.name.startswith(("is_", "has_")), field.name
            elif field.name not in ids:
                assert field.name.endswith(units), (name, field.name)
        empty = conform(pd.DataFrame(), name)
        assert list(empty.columns) == schema.names
        assert to_arrow(empty, name).schema.equals(schema)


def test_strokes_must_get_somewhere_and_are_not_self_touch():
    """A run above the speed threshold counts as a stroke only when the wrist spans >= 6 cm in
    it (jitter runs back and forth within a few cm), and not next to a face touch or arms crossed."""
    fps = 25.0
    position = np.zeros((100, 3))
    # frames 10-19: jitter, a 3 cm triangle wave (0.375 m/s, but going nowhere)
    position[10:20, 0] = 0.03 * np.abs(((np.arange(10) + 2) % 4) - 2) / 2
    # frames 50-64: a 15 cm stroke out and back
    position[50:65, 1] = 0.15 * np.sin(np.pi * np.arange(15) / 14)
    speed = np.linalg.norm(np.gradient(position, axis=0), axis=1) * fps
    assert speed[10:20].max() > 0.3 and speed[50:65].max() > 0.3
    found = events.gesture_strokes(speed, 0.3, fps, "left", position)
    assert found and all(45 <= e["start_frame"] and e["end_frame"] <= 70 for e in found)
    unruled = events.gesture_strokes(speed, 0.3, fps, "left")  # without the extent rule
    assert any(e["end_frame"] < 25 for e in unruled)
    later = np.zeros(100, bool)
    later[60:80] = True  # the hand reaches the face, or the arms end up folded, after the stroke
    for touching, crossed in ((later, np.zeros(100, bool)), (np.zeros(100, bool), later)):
        near = events.non_gesture_frames(touching, crossed, fps)
        assert near[52] and not near[51] and near[87] and not near[88]  # 8 frames either side
        assert events.gesture_strokes(speed, 0.3, fps, "left", position, near) == []
    neither = events.non_gesture_frames(np.zeros(100, bool), np.zeros(100, bool), fps)
    assert len(events.gesture_strokes(speed, 0.3, fps, "left", position, neither)) == len(found)


def test_a_wrist_jumping_in_depth_alone_is_no_stroke():
    """The extent rule sees the wrist across the camera's line of sight: a hand that jumps 20 cm
    straight along the line of sight (what a fit does when its landmarks change) goes nowhere,
    the same 20 cm sideways is a stroke. The neck is off the optical axis, so "depth" is along
    the ray through it, not the camera's z."""
    fps, n = 25.0, 60
    j = np.zeros((n, 49, 3))
    j[:, J.NECK] = (0.5, 0.0, 2.0)
    ray = j[0, J.NECK] / np.linalg.norm(j[0, J.NECK])
    side = np.cross(ray, (0.0, 1.0, 0.0))
    rest = j[0, J.NECK] + (0.0, 0.3, 0.0)
    bump = 0.2 * np.sin(np.pi * np.clip(np.arange(n) - 20, 0, 10) / 10)  # frames 20-30
    for direction, strokes in ((ray, 0), (side, 1)):
        j[:, J.L_WRIST] = rest + bump[:, None] * direction
        across = wrist_across_sight(j)[:, 0]
        speed = np.linalg.norm(np.gradient(j[:, J.L_WRIST], axis=0), axis=1) * fps
        assert speed.max() > 0.3
        assert len(events.gesture_strokes(speed, 0.3, fps, "left", across)) == strokes
    np.testing.assert_allclose(across - across[0], bump[:, None] * side, atol=1e-12)


def test_a_nod_with_yaw_cross_talk_is_one_nod():
    """Overlapping nod and shake: the larger one stays; apart, both stay."""
    nod = {"event_type": "nod", "start_frame": 10, "end_frame": 40, "amplitude_deg": 10.0}
    shake = {"event_type": "shake", "start_frame": 15, "end_frame": 35, "amplitude_deg": 5.0}
    later = {"event_type": "shake", "start_frame": 60, "end_frame": 80, "amplitude_deg": 5.0}
    assert events.dominant_head_axis([nod, shake, later]) == [nod, later]
    big = dict(shake, amplitude_deg=12.0)
    assert events.dominant_head_axis([nod, big]) == [big]


def test_arm_swing_while_walking_is_no_stroke():
    """A person travelling across the view (a pedestrian of the real two-person sample: 0.64-0.69
    m/s) swings the arms at stroke speed; those swings are no gesture strokes. The same swings
    from a person who stays put are, and so are they from one who only moves in depth (a fit's
    depth wobble: the close-up's)."""
    from analytics.pipeline import _track_events

    fps, n = 25.0, 100
    t = np.arange(n) / fps
    swing = 0.25 * np.sin(2 * np.pi * 1.0 * t)  # 25 cm back and forth once a second
    ray = np.array([0.0, 0.0, 1.0])
    counts = {}
    for name, travel in (
        ("walking", np.array([1.0, 0.0, 0.0])),
        ("still", np.zeros(3)),
        ("depth", ray),
    ):
        j = np.zeros((n, 49, 3))
        j[:, J.NECK] = (0.0, 0.0, 3.0) + t[:, None] * travel
        for wrist, sign in ((J.L_WRIST, 1.0), (J.R_WRIST, -1.0)):
            j[:, wrist] = j[:, J.NECK] + (0.0, 0.5, 0.0) + sign * swing[:, None] * (0, 0.4, 1.0)
            j[:, wrist, 0] += sign * swing * 0.9
        rel = j[:, [J.L_WRIST, J.R_WRIST]] - j[:, J.NECK][:, None]
        speed = np.linalg.norm(np.gradient(rel, axis=0), axis=-1) * fps
        f = pd.DataFrame(
            {
                "is_touching_face": False,
                "is_arms_crossed": False,
                "wrist_rel_speed_left_m_per_s": speed[:, 0],
                "wrist_rel_speed_right_m_per_s": speed[:, 1],
                "head_pitch_deg": 0.0,
                "head_yaw_deg": 0.0,
                "trunk_lean_forward_deg": 0.0,
                "trunk_lean_side_deg": 0.0,
                "is_hands_together": False,
            },
            index=range(n),
        )
        found = _track_events(f, fps, j)
        counts[name] = sum(e["event_type"] == "gesture_stroke" for e in found)
    assert counts["walking"] == 0
    assert counts["still"] >= 2 and counts["depth"] == counts["still"], counts


def test_events_of_unevenly_spaced_frames_are_found_on_an_even_clock():
    """Three 2 Hz nods filmed at 25, then 12.5, then 25 frames/s (a phone dropping its rate):
    each is a 2 Hz nod at its own time. Counted as frames at the mean rate (18.75 frames/s) the
    detectors read them at 1.8, 3.2 and 1.8 Hz. Frames already evenly spaced, the timebase's
    rounding included, are taken as they are."""
    from analytics.body_frame import STANDIN_NEUTRAL
    from analytics.clock import even_clock
    from analytics.head import head_angles_deg
    from analytics.pipeline import _events_on_clock, _track_events

    t = np.concatenate([np.arange(0, 4, 0.04), np.arange(4, 8, 0.08), np.arange(8, 12, 0.04)])
    fps = len(t) / 12.0
    pitch = np.zeros_like(t)
    for start in (1.0, 5.0, 9.0):
        on = (t >= start) & (t < start + 1.5)
        pitch[on] = 8.0 * np.sin(2 * np.pi * 2.0 * (t[on] - start))
    j = _upper_body(len(t), np.zeros_like(t), pitch)
    angles = head_angles_deg(j, STANDIN_NEUTRAL)
    f = pd.DataFrame({
        "t_s": t, "is_touching_face": False, "is_arms_crossed": False, "is_hands_together": False,
        "wrist_rel_speed_left_m_per_s": np.nan, "wrist_rel_speed_right_m_per_s": np.nan,
        "head_pitch_deg": angles[:, 0], "head_yaw_deg": angles[:, 1],
        "trunk_lean_forward_deg": 0.0, "trunk_lean_side_deg": 0.0,
    })  # fmt: skip
    found = [e for e in _events_on_clock(f, fps, j, STANDIN_NEUTRAL) if e["event_type"] == "nod"]
    assert [round(t[e["start_frame"]]) for e in found] == [1, 5, 9]
    assert [e["frequency_hz"] for e in found] == pytest.approx([2.0] * 3, abs=0.15)
    grid = [e["frequency_hz"] for e in _track_events(f, fps, j, STANDIN_NEUTRAL)]
    assert grid == pytest.approx([1.8, 3.2, 1.8], abs=0.1)  # what the mean rate made of them
    assert even_clock(np.round(np.arange(300) / 29.97, 3), 29.97) is None  # 33, 34 ms: one rate
    assert even_clock(np.arange(300) / 25.0, 25.0) is None
    rate, shown = even_clock(t, fps)
    assert rate == pytest.approx(25.0) and len(shown) == 300
    assert shown[100:104].tolist() == [100, 100, 101, 101]  # a frame of 0.08 s seen twice
    # a track filmed wholly at 25 frames/s of a video whose mean is 18.75: its own rate
    rate, shown = even_clock(t[:100], fps)
    assert rate == pytest.approx(25.0) and shown.tolist() == list(range(100))


def _upper_body(n: int, trunk_pitch_deg: np.ndarray, head_pitch_deg: np.ndarray) -> np.ndarray:
    """(n, 49, 3) camera-frame joints (y down, facing the camera) of a seated upper body: the
    trunk tipped forward about the pelvis by ``trunk_pitch_deg`` and the head, on top of it,
    by ``head_pitch_deg`` more about the ears' midpoint, per frame."""
    from scipy.spatial.transform import Rotation

    rest = {
        J.PELVIS: (0.0, 0.0, 0.0), J.NECK: (0.0, -0.5, 0.0),
        J.L_SHOULDER: (0.18, -0.48, 0.0), J.R_SHOULDER: (-0.18, -0.48, 0.0),
        J.L_EAR: (0.07, -0.65, 0.0), J.R_EAR: (-0.07, -0.65, 0.0), J.NOSE: (0.0, -0.63, -0.1),
    }  # fmt: skip
    ears = np.array([0.0, -0.65, 0.0])
    j = np.full((n, 49, 3), np.nan)
    for k, p in rest.items():
        p = np.asarray(p)
        if k in (J.L_EAR, J.R_EAR, J.NOSE):  # the head turns about the ears' midpoint
            p = ears + Rotation.from_euler("x", -head_pitch_deg[:, None], degrees=True).apply(
                p - ears
            )
        # chin down / lean forward = towards the camera (-z) for y down: a negative x rotation
        j[:, k] = Rotation.from_euler("x", -trunk_pitch_deg[:, None], degrees=True).apply(p)
    return j + np.array([0.0, 0.0, 2.5])


def test_a_nod_is_the_head_turning_against_the_trunk_and_in_place():
    """A head nodding on a still trunk is a nod. A trunk rocking under a head held still (what a
    fitted trunk does when a gesturing arm pulls its shoulders) swings the trunk-relative pitch
    just as much, but the head does not move in place: no nod. Nor is the whole body rocking
    as one (no trunk-relative swing)."""
    from analytics.body_frame import STANDIN_NEUTRAL
    from analytics.head import head_angles_deg, head_angles_in_place_deg

    fps = 25.0
    _, swing = _nod(fps, f=2.0, amp=8.0)
    zero = np.zeros_like(swing)
    found = {}
    for name, trunk, head in (
        ("nod", zero, swing), ("trunk rocks under a still head", swing, -swing),
        ("the whole body rocks", swing, zero),
    ):  # fmt: skip
        j = _upper_body(len(swing), trunk, head)
        relative = head_angles_deg(j, STANDIN_NEUTRAL)
        in_place = head_angles_in_place_deg(j, STANDIN_NEUTRAL)
        found[name] = [
            e["event_type"] for e in events.head_movement_events(relative, fps, in_place)
        ]
        if name == "trunk rocks under a still head":  # the trunk-relative angle alone: a nod
            assert [e["event_type"] for e in events.head_movement_events(relative, fps)] == ["nod"]
    assert found == {"nod": ["nod"], "trunk rocks under a still head": [],
                     "the whole body rocks": []}, found  # fmt: skip


def test_speeds_are_measured_over_the_same_time_at_every_frame_rate():
    """A speed is a difference over about 0.08 s whatever the frame rate: at 25 and 30 fps the
    neighbouring frames, exactly as ``np.gradient``; at 60 fps two frames either side. So a
    still wrist's jitter of the same size per frame reads about as fast at 60 fps as at 25
    (2.4 times as fast before), and a real movement reads the same speed."""
    from analytics.motion import time_derivative

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3, 3))
    x[7, 1] = np.nan
    expected = np.gradient(x, axis=0)
    expected[7, 1] = np.nan  # no speed where there is no value (np.gradient differences around)
    for fps in (25.0, 30.0):
        np.testing.assert_array_equal(time_derivative(x, fps), expected * fps)
    # NaN wherever the span reaches a missing frame, the frame itself included
    gap = np.zeros((20, 1))
    gap[10] = np.nan
    assert np.isnan(time_derivative(gap, 25.0)[:, 0]).nonzero()[0].tolist() == [9, 10, 11]
    assert np.isnan(time_derivative(gap, 60.0)[:, 0]).nonzero()[0].tolist() == [8, 9, 10, 11, 12]
    # jitter of 1 cm per frame, still: the speed's typical size at 60 fps against 25 fps
    typical = {
        fps: np.median(np.abs(time_derivative(rng.normal(0, 0.01, 20000), fps)))
        for fps in (25.0, 60.0)
    }
    assert typical[60.0] / typical[25.0] == pytest.approx(1.2, abs=0.1)
    # a steady movement of 0.5 m/s reads 0.5 m/s at every rate, up to the ends
    for fps in (15.0, 25.0, 60.0, 120.0):
        t = np.arange(int(2 * fps)) / fps
        np.testing.assert_allclose(time_derivative(0.5 * t, fps), 0.5, rtol=1e-9)


def test_speeds_follow_the_presentation_times_of_a_variable_rate_video():
    """A hand moving at 0.5 m/s, filmed at 30 then 10 frames/s (mean 20): on the frames' times
    it reads 0.5 m/s throughout; on the frame count at the mean rate 0.33 in the first stretch
    and 1.0 in the second, where a gesture threshold of 0.3 m/s reads no stroke and a still
    hand's jitter doubles. Through :func:`frame_measures` too (the flow's way in)."""
    from analytics.body_frame import STANDIN_NEUTRAL
    from analytics.measures import frame_measures
    from analytics.motion import time_derivative

    times = np.concatenate([np.arange(90) / 30.0, 3.0 + np.arange(30) / 10.0])
    fps = len(times) / 6.0
    x = 0.5 * times
    np.testing.assert_allclose(time_derivative(x, fps, times), 0.5, rtol=1e-9)
    on_grid = time_derivative(x, fps)
    assert on_grid[10] == pytest.approx(0.5 * 20 / 30) and on_grid[100] == pytest.approx(1.0)
    body = np.random.default_rng(3).normal(0.0, 0.3, (49, 3)) + [0.0, 0.0, 2.5]
    joints = np.tile(body, (len(times), 1, 1))
    joints[..., 0] += x[:, None]  # the whole body carried across at 0.5 m/s
    cols = frame_measures(joints, fps, STANDIN_NEUTRAL, times=times)
    np.testing.assert_allclose(cols["motion_energy_m_per_s"], 0.5, rtol=1e-9)
    np.testing.assert_allclose(cols["speed_pelvis_m_per_s"], 0.5, rtol=1e-9)


def _track_frames(track: int, first: int, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Per-frame measures of one track over frames first..first+n-1, some frames without data."""
    from analytics.tables import FRAME_BOOLS, FRAME_FLOATS

    has = rng.random(n) > 0.2
    cols = {c: np.where(has, rng.normal(size=n), np.nan) for c in FRAME_FLOATS}
    for c in FRAME_BOOLS:
        cols[c] = pd.array(rng.random(n) > 0.5, dtype="boolean")
        cols[c][~has] = pd.NA
    return pd.DataFrame(
        {"track_id": track, "frame": np.arange(first, first + n), "has_data": has, **cols}
    )


def test_window_and_summary_tables_give_each_track_what_it_gets_alone():
    """The tables are made for every track of a video in one go: each track's rows, its events
    counted in its own windows, must be those it gets as the only track."""
    from analytics.windows import summary_table, window_table

    rng = np.random.default_rng(5)
    fps = 25.0
    # two tracks overlapping in time (same windows), a third after a gap
    spans = {0: (10, 300), 1: (40, 200), 2: (400, 160)}
    frames = {t: _track_frames(t, first, n, rng) for t, (first, n) in spans.items()}
    events = {
        t: pd.DataFrame({
            "track_id": t,
            "event_type": rng.choice(["nod", "shake", "gesture_stroke"], 6),
            "start_frame": rng.choice(frames[t]["frame"].to_numpy(), 6),
        })
        for t in spans
    }  # fmt: skip
    events[1] = events[1].iloc[:0]  # a track without events
    both_frames = pd.concat(frames.values(), ignore_index=True)
    both_events = pd.concat(events.values(), ignore_index=True)
    for make in (
        lambda f, e: window_table(f, e, fps, 1.0),
        lambda f, e: window_table(f, e, fps, 10.0),
        lambda f, e: summary_table(f, e, fps),
    ):
        together = make(both_frames, both_events)
        for t in spans:
            alone = make(frames[t], events[t])
            mine = together[together["track_id"] == t].reset_index(drop=True)
            pd.testing.assert_frame_equal(mine, alone, check_exact=True)
            counts = [c for c in alone if c.endswith("_count")]
            assert alone[counts].to_numpy().sum() == len(events[t])


def _direct_xcorr(a, b, window, fps, window_s, max_lag_s, segment):
    """The rules of ``lagged_xcorr_by_window`` written out pair by pair: per window its longest
    part within one segment (ties: the lowest segment), per lag the Pearson r of the pairs
    (a[t], b[t + lag]) with both known and t + lag in the same segment."""
    full = max(2, round(window_s * fps))
    max_lag = round(min(max_lag_s, window_s / 2) * fps)
    ids = np.unique(window)
    r = np.full((len(ids), 2 * max_lag + 1), np.nan)
    known = ~np.isnan(a) & ~np.isnan(b)
    for i, w in enumerate(ids):
        sizes = {s: int((known & (window == w) & (segment == s)).sum()) for s in np.unique(
            segment[window == w])}  # fmt: skip
        part = max(sorted(sizes), key=lambda s: sizes[s])
        at = np.flatnonzero((window == w) & (segment == part))
        for k, lag in enumerate(range(-max_lag, max_lag + 1)):
            pairs = [(a[t], b[t + lag]) for t in at if 0 <= t + lag < len(a)
                     and segment[t + lag] == part and not np.isnan(a[t] + b[t + lag])]  # fmt: skip
            if len(pairs) < 0.5 * full:
                continue
            x, y = np.array(pairs).T
            if x.var() > 1e-12 and y.var() > 1e-12:
                r[i, k] = np.clip(
                    np.mean((x - x.mean()) * (y - y.mean())) / (x.std() * y.std()), -1, 1
                )
    return r


@pytest.mark.parametrize("seed", range(40))
def test_lagged_xcorr_is_the_pair_by_pair_definition(seed):
    """Missing samples, cuts, segments that interleave within a window, a constant signal, a
    window cut by the end: every window and lag as the direct definition gives it."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 260))
    fps, window_s = float(rng.choice([10.0, 25.0])), float(rng.choice([1.0, 2.0, 4.0]))
    a = rng.normal(size=n)
    b = 0.5 * np.roll(a, int(rng.integers(-3, 4))) + rng.normal(size=n)
    a[rng.random(n) < 0.15] = np.nan
    b[rng.random(n) < 0.25 * (seed % 2)] = np.nan
    if seed % 5 == 0:
        b[:] = 2.0
    segment = [np.zeros(n, int), np.cumsum(rng.random(n) < 0.04), rng.integers(0, 3, n)][seed % 3]
    window = synchrony.window_ids(np.arange(n) + int(rng.integers(0, 30)), fps, window_s)
    lags, ids, r = synchrony.lagged_xcorr_by_window(a, b, window, fps, window_s, 3.0, segment)
    expected = _direct_xcorr(a, b, window, fps, window_s, 3.0, segment)
    assert ids.tolist() == np.unique(window).tolist() and len(lags) == expected.shape[1]
    np.testing.assert_array_equal(np.isnan(r), np.isnan(expected))
    np.testing.assert_allclose(r, expected, atol=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_person_rows_are_one_row_per_frame_as_defined(seed: int) -> None:
    """A person's rows (by position, :func:`analytics.dyad.person_positions`) equal the definition
    written with pandas: their tracks' rows sorted by frame, then data, then track (ties in
    table order), the last of each frame kept; tracks that interleave and repeat frames, rows of
    other people between."""
    rng = np.random.default_rng(seed)
    n = 200
    rows = pd.DataFrame(
        {
            "track_id": rng.integers(0, 6, n),
            "frame": rng.integers(0, 40, n),
            "has_data": rng.random(n) < 0.7,
            "value": np.arange(n),
        },
        index=rng.permutation(n) + 1000,
    )
    tracks = tuple(int(t) for t in rng.choice(6, 3, replace=False))
    for table in (rows, rows.drop(columns="has_data")):
        keys = [k for k in ("frame", "has_data", "track_id") if k in table]
        own = table[table["track_id"].isin(tracks)].sort_values(keys, kind="stable")
        expected = own.drop_duplicates("frame", keep="last")
        pd.testing.assert_frame_equal(person_rows(table, tracks), expected)
        assert person_rows(table, tracks)["frame"].is_monotonic_increasing


def test_minimum_durations_and_bridged_gaps_are_what_they_say_at_every_frame_rate():
    """A stroke lasts at least 0.1 s and an episode 0.2 s, and a gap of at most 0.1 s is
    bridged, in seconds, at any rate: ``round`` made 2 frames (0.08 s) a stroke at 25 fps and
    bridged 4 frames (0.108 s) at 37 fps."""
    for fps in (10.0, 24.0, 25.0, 29.97, 30.0, 37.0, 50.0, 60.0):
        least, most = events.frames_at_least(0.1, fps), events.frames_at_most(0.1, fps)
        assert least / fps >= 0.1 - 1e-9 > (least - 1) / fps
        assert most / fps <= 0.1 + 1e-9 < (most + 1) / fps
    assert (events.frames_at_least(0.1, 25.0), events.frames_at_most(0.1, 25.0)) == (3, 2)
    fps = 25.0
    for frames, strokes in ((2, 0), (3, 1)):
        speed = np.zeros(50)
        speed[10 : 10 + frames] = 1.0
        found = events.gesture_strokes(speed, 0.3, fps, "left")
        assert len(found) == strokes
        assert all(e["duration_s"] >= 0.1 for e in found)
    state = np.zeros(60, dtype=bool)
    state[10:15] = state[17:22] = True  # two 0.2 s runs 2 frames (0.08 s) apart: one episode
    assert [(e["start_frame"], e["end_frame"]) for e in events.episode_events("x", state, fps)] == [
        (10, 21)
    ]
    state[15:17] = False
    state[14] = False  # 4 frames (0.16 s) apart: two runs, the first now too short (0.16 s)
    assert [(e["start_frame"], e["end_frame"]) for e in events.episode_events("x", state, fps)] == [
        (17, 21)
    ]


def test_trunk_lean_stays_within_a_turn():
    """Past horizontal the lean minus the zero pose's offset could leave [-180, 180); it is
    wrapped, and a lean inside is returned exactly."""
    from analytics.posture import _wrapped_deg

    deg = np.array([-200.0, -180.0, -3.25, 0.0, 17.5, 179.9, 180.0, 190.0, np.nan])
    out = _wrapped_deg(np.radians(deg))
    np.testing.assert_allclose(out[:-1], [160, -180, -3.25, 0, 17.5, 179.9, -180, -170], atol=1e-9)
    assert np.isnan(out[-1])
    inside = np.radians(np.linspace(-179, 179, 101))
    np.testing.assert_array_equal(_wrapped_deg(inside), np.degrees(inside))


def test_windows_follow_the_presentation_times_of_a_variable_rate_video():
    """A screen recording at 30 then 10 frames/s: windows hold the frames whose presentation
    time falls in them, as ``t_s`` and the events have it, and their edges are those times. On
    the mean rate's grid (``frame / fps``, without a timeline) the same frames fell up to a
    second away from their time."""
    from analytics.pipeline import _shift_event
    from analytics.windows import window_table

    rng = np.random.default_rng(7)
    starts = np.concatenate([np.arange(90) / 30.0, 3.0 + np.arange(30) / 10.0])  # 6 s, 120 frames
    ends = np.append(starts[1:], 6.0)
    fps = len(starts) / 6.0  # the mean rate, 20 frames/s
    frames = _track_frames(0, 5, 110, rng)
    events = pd.DataFrame({"track_id": [0], "event_type": ["nod"], "start_frame": [95]})
    timed = window_table(frames, events, fps, 1.0, (starts, ends))
    expected = np.floor(starts[frames["frame"]] + 1e-9).astype(int)
    np.testing.assert_array_equal(timed["window_index"], np.unique(expected))
    np.testing.assert_array_equal(timed["n_frames"], np.bincount(expected)[np.unique(expected)])
    assert timed["n_frames"].tolist() == [25, 30, 30, 10, 10, 5]  # 30 a second, then 10
    assert timed["start_s"].iloc[0] == pytest.approx(5 / 30.0)  # the track's first frame
    assert timed["end_s"].iloc[-1] == pytest.approx(ends[114])  # the end of its last frame
    assert timed.set_index("window_index")["nod_count"].to_dict()[3] == 1  # frame 95: t = 3.5
    # the events' times on the same clock (detectors count from the span's first frame, 90)
    event = {"start_frame": 5, "end_frame": 9, "start_s": 0.0, "end_s": 0.0, "duration_s": 0.0}
    shifted = _shift_event(event, 90, fps, (starts, ends))
    assert (shifted["start_frame"], shifted["start_s"], shifted["end_s"]) == (95, 3.5, ends[99])
    assert shifted["duration_s"] == pytest.approx(0.5)
    grid = window_table(frames, events, fps, 1.0)  # frame / fps: 20 frames in every window
    assert grid["n_frames"].tolist() == [15, 20, 20, 20, 20, 15]


def test_durations_and_rates_count_the_time_frames_are_shown():
    """On the same 30-then-10 frames/s recording, a track's ``duration_s`` is the time its frames
    are on screen and a rate divides by the time with data: a nod in a 10 frames/s second with
    every frame seen is 60 a minute. Counted at the mean rate (20 frames/s) that second was half
    a second, 120 a minute; a 30 frames/s second 1.5 s."""
    from analytics.pipeline import _people_table
    from analytics.windows import summary_table, window_table

    starts = np.concatenate([np.arange(90) / 30.0, 3.0 + np.arange(30) / 10.0])
    ends = np.append(starts[1:], 6.0)
    fps, timeline = len(starts) / 6.0, (starts, ends)
    frames = _track_frames(0, 5, 110, np.random.default_rng(7))
    frames.loc[frames["frame"].between(90, 99), "has_data"] = True  # the second 3-4 s, all seen
    shown = ends[frames["frame"]] - starts[frames["frame"]]
    events = pd.DataFrame(
        {"track_id": [0, 0], "event_type": ["nod", "nod"], "start_frame": [95, 20], "person_id": 0}
    )
    windows = window_table(frames, events, fps, 1.0, timeline).set_index("window_index")
    assert windows.loc[3, "nod_per_min"] == pytest.approx(60.0)
    seen_0_1 = shown[(frames["frame"] < 30).to_numpy() & frames["has_data"].to_numpy()].sum()
    assert windows.loc[0, "nod_per_min"] == pytest.approx(1 / (seen_0_1 / 60))
    summary = summary_table(frames, events, fps, timeline)
    assert summary["duration_s"].iloc[0] == pytest.approx(ends[114] - starts[5])
    with_data = shown[frames["has_data"].to_numpy()].sum()
    assert summary["nod_per_min"].iloc[0] == pytest.approx(2 / (with_data / 60))
    assert summary_table(frames, events, fps)["duration_s"].iloc[0] == pytest.approx(110 / fps)
    summary["role"], summary["video_id"], summary["partner_person_id"] = "x", "v", pd.NA
    person = _people_table(frames, events, summary, {0: 0}, fps, timeline)
    assert person["duration_s"].iloc[0] == pytest.approx(ends[114] - starts[5])
    assert person["nod_per_min"].iloc[0] == pytest.approx(summary["nod_per_min"].iloc[0])
