"""Every measure on bodies posed through the project's body model to a known answer.

Bodies are built in SMPL's frame and moved to the camera frame (180 deg about x, ~3 m away,
various headings), so each test also exercises the body-centred frames.
"""

from __future__ import annotations

import dataclasses
import pickle
import shutil
import warnings

import numpy as np
import pytest

from analytics import calibration as C
from analytics import synthetic as S
from analytics.body_frame import STANDIN_NEUTRAL, Neutral
from analytics.body_frame import neutral_from_body_model as neutral_via_body_frame
from analytics.hands import FACE_TOUCH_MARGIN_VERTICES_M
from analytics.joints import L_EAR as J_L_EAR
from analytics.joints import R_EAR as J_R_EAR
from analytics.measures import frame_measures

FPS = 25.0


@pytest.fixture(scope="module")
def assets():
    from pmrr_model.assets import standin_assets

    return standin_assets()


@pytest.fixture(scope="module")
def body(assets):
    from pmrr_model.body_model import BodyModel

    return BodyModel(assets)


@pytest.fixture(scope="module")
def neutral(body):
    return C.neutral_from_body_model(body)


@pytest.fixture(scope="module")
def arm_poses(body):
    """Arm poses solved once: hands on both cheeks, on one cheek, arms crossed, hands in lap."""
    return {
        "cheeks": S.solve_hands(body, {"left": (0.09, 0.70, 0.11), "right": (-0.09, 0.70, 0.11)}),
        "cheek": S.solve_hands(body, {"right": (-0.09, 0.69, 0.12)}),
        "crossed": S.solve_hands(body, {"left": (-0.17, 0.36, 0.17), "right": (0.17, 0.40, 0.22)}),
        "lap": S.solve_hands(body, {"left": (0.12, 0.05, 0.25), "right": (-0.12, 0.05, 0.25)}),
    }


def measures(body, neutral, body_pose, global_orient=None, yaw_deg=25.0, **kw):
    j = S.camera_joints(body, body_pose, global_orient, yaw_deg=yaw_deg, position=(0.4, 0.2, 3.0))
    return frame_measures(j, FPS, neutral, **kw)


def test_standin_fallback_is_the_standin_zero_pose(neutral):
    """STANDIN_NEUTRAL is only a cached copy of the stand-in's computed calibration."""
    np.testing.assert_allclose(neutral.trunk_dir, STANDIN_NEUTRAL.trunk_dir, atol=1e-5)
    np.testing.assert_allclose(
        neutral.head_offset_matrix, STANDIN_NEUTRAL.head_offset_matrix, atol=1e-5
    )


def _sheared_standin(assets, tmp_path, lean_back: float):
    """A copy of the stand-in whose template leans back (z -= lean_back * height above the
    pelvis): a body model with different rest proportions, like SMPL's backward-leaning spine."""
    from pmrr_model.body_model import BodyModel

    smpl_dir = tmp_path / "smpl"
    shutil.copytree(assets.smpl_dir, smpl_dir)
    pkl = smpl_dir / "SMPL_NEUTRAL.pkl"
    with open(pkl, "rb") as handle:
        data = pickle.load(handle, encoding="latin1")
    v = np.array(data["v_template"], dtype=np.float64)
    v[:, 2] -= lean_back * (v[:, 1] - v[:, 1].min())
    data["v_template"] = v
    with open(pkl, "wb") as handle:
        pickle.dump(data, handle)
    sheared = dataclasses.replace(
        assets, root=tmp_path, smpl_dir=smpl_dir, asset_id=f"{assets.asset_id}-sheared"
    )
    return BodyModel(sheared)


def test_calibration_follows_the_body_model(assets, body, neutral, tmp_path):
    other_body = _sheared_standin(assets, tmp_path, lean_back=0.15)
    other = C.neutral_from_body_model(other_body)
    assert isinstance(other, Neutral)
    assert other.trunk_dir[2] < neutral.trunk_dir[2] - 0.1  # the neck sits behind the pelvis
    assert not np.allclose(other.head_offset_matrix, neutral.head_offset_matrix, atol=1e-4)
    assert C.body_calibration(other_body).asset_id != C.body_calibration(body).asset_id
    # memoised per asset set, and the body_frame name is the same function
    assert C.body_calibration(body) is C.body_calibration(body)
    assert neutral_via_body_frame(other_body) == other
    # the other body's zero pose reads upright with its own calibration, leaning back with the
    # stand-in's: why the calibration must come from the body model actually used
    j = S.camera_joints(other_body, np.zeros(69), yaw_deg=25.0, position=(0.4, 0.2, 3.0))
    own = frame_measures(j, FPS, other)
    standin = frame_measures(j, FPS, STANDIN_NEUTRAL)
    for col in ("trunk_lean_forward_deg", "head_pitch_deg"):
        assert own[col][0] == pytest.approx(0.0, abs=1e-3), col
    assert standin["trunk_lean_forward_deg"][0] < -5.0
    # head vertices come from that body too, and lie around its head
    ids = C.head_vertex_ids(other_body)
    assert len(ids) > 50
    verts = S.forward(other_body, np.zeros(69)).vertices.numpy()[0, ids]
    joints = S.forward(other_body, np.zeros(69)).joints.numpy()[0]
    assert np.linalg.norm(verts - joints[[J_L_EAR, J_R_EAR]].mean(0), axis=1).max() < 0.13


def test_head_vertex_ids_match_the_zero_pose_head(body):
    ids = C.head_vertex_ids(body)
    np.testing.assert_array_equal(ids, C.body_calibration(body).head_vertex_ids)
    wider = C.head_vertex_ids(body, radius_m=0.2)
    assert set(ids) < set(wider.tolist())


def test_missing_calibration_warns():
    import pandas as pd

    from analytics.pipeline import compute_video_features

    empty = pd.DataFrame(columns=["video_id", "track_id", "frame", "t_s", "joints3d_m"])
    with pytest.warns(UserWarning, match="neutral"):
        compute_video_features(empty, FPS, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_video_features(empty, FPS, 10, neutral=STANDIN_NEUTRAL)


def test_zero_pose_reads_upright_and_level(body, neutral):
    m = measures(body, neutral, np.zeros(69))
    for col in (
        "trunk_lean_forward_deg",
        "trunk_lean_side_deg",
        "head_pitch_deg",
        "head_yaw_deg",
        "head_roll_deg",
    ):
        assert m[col][0] == pytest.approx(0.0, abs=1e-3), col


@pytest.mark.parametrize("angle", [20.0, -10.0])
def test_trunk_pitched_forward_from_the_hips(body, neutral, angle):
    # the upper body pitches by `angle` about the hip axis, the legs stay put
    p = S.pose(left_hip=(-angle, 0, 0), right_hip=(-angle, 0, 0))
    m = measures(body, neutral, p, np.radians([angle, 0, 0]))
    assert m["trunk_lean_forward_deg"][0] == pytest.approx(angle, abs=1.0)
    assert m["trunk_lean_side_deg"][0] == pytest.approx(0.0, abs=1.0)


def test_trunk_leaning_sideways(body, neutral):
    # +15 deg about the forward axis tilts the trunk toward the subject's right
    p = S.pose(left_hip=(0, 0, -15), right_hip=(0, 0, -15))
    m = measures(body, neutral, p, np.radians([0, 0, 15]), yaw_deg=-60)
    assert m["trunk_lean_side_deg"][0] == pytest.approx(15.0, abs=1.0)
    assert m["trunk_lean_forward_deg"][0] == pytest.approx(0.0, abs=1.0)


@pytest.mark.parametrize(
    ("aa", "expected"),
    [((20, 0, 0), (20, 0, 0)), ((-15, 0, 0), (-15, 0, 0)), ((0, 30, 0), (0, 30, 0)),
     ((0, -40, 0), (0, -40, 0)), ((0, 0, 25), (0, 0, 25))],
)  # fmt: skip
def test_head_angles_relative_to_trunk(body, neutral, aa, expected):
    # also with the whole body pitched and turned: the head is measured against the trunk
    m = measures(body, neutral, S.pose(head=aa), np.radians([10, 30, 0]))
    got = (m["head_pitch_deg"][0], m["head_yaw_deg"][0], m["head_roll_deg"][0])
    np.testing.assert_allclose(got, expected, atol=1.0)


def test_hands_on_cheek_touch_face_hands_in_lap_do_not(body, neutral, arm_poses):
    ids = C.head_vertex_ids(body)
    for name, touching in (("cheeks", True), ("cheek", True), ("lap", False), ("crossed", False)):
        m = measures(body, neutral, arm_poses[name])
        assert bool(m["is_touching_face"][0]) is touching, name
        # the vertex-based distance agrees
        out = S.forward(body, arm_poses[name])
        verts = S.to_camera(out.vertices.numpy()[:, ids], 25.0, (0.4, 0.2, 3.0))
        mv = measures(body, neutral, arm_poses[name], head_vertices=verts)
        assert bool(mv["hand_face_dist_m"][0] <= FACE_TOUCH_MARGIN_VERTICES_M) is touching, name
    assert measures(body, neutral, S.RELAXED)["hand_face_dist_m"][0] > 0.2


@pytest.mark.parametrize(("forward_m", "touching"), [(0.0, True), (0.25, True), (0.5, False)])
def test_face_touch_across_the_line_of_sight(body, neutral, arm_poses, forward_m, touching):
    """A monocular fit misplaces the hand's depth (0.19-0.29 m toward the camera on the synthetic
    benchmark's face touches): a hand on the cheek moved that far along its own camera rays (the
    image unchanged) still touches; 0.5 m in front of the face is a hand held before it."""
    from analytics import joints as J

    j = S.camera_joints(body, arm_poses["cheek"], None, yaw_deg=25.0, position=(0.4, 0.2, 3.0))
    moved = j.copy()
    for k in (J.R_WRIST, J.R_ELBOW):  # the forearm slides along the rays: same projection
        z = moved[:, k, 2:3]
        moved[:, k] *= (z - forward_m) / z
    m = frame_measures(moved, FPS, neutral)
    assert bool(m["is_touching_face"][0]) is touching
    if forward_m == 0.25:  # the 3D distance alone would have said no
        assert m["hand_face_dist_m"][0] > 0.15


def test_arms_crossed(body, neutral, arm_poses):
    crossed = measures(body, neutral, arm_poses["crossed"])
    assert crossed["is_arms_crossed"][0] and crossed["arms_crossed_conf_ratio"][0] > 0.9
    assert crossed["is_self_touch"][0]  # each hand lies on the other arm
    for name, p in (
        ("relaxed", S.RELAXED),
        ("lap", arm_poses["lap"]),
        ("cheeks", arm_poses["cheeks"]),
    ):
        m = measures(body, neutral, p)
        assert not m["is_arms_crossed"][0] and m["arms_crossed_conf_ratio"][0] < 0.1, name


def test_hands_together(body, neutral):
    p = S.solve_hands(body, {"left": (0.03, 0.35, 0.30), "right": (-0.03, 0.35, 0.30)})
    m = measures(body, neutral, p)
    assert m["is_hands_together"][0] and m["is_self_touch"][0]
    assert not measures(body, neutral, S.RELAXED)["is_self_touch"][0]


def test_expansiveness_and_arm_openness_tpose_above_relaxed(body, neutral, arm_poses):
    tpose = measures(body, neutral, np.zeros(69))
    relaxed = measures(body, neutral, S.RELAXED)
    crossed = measures(body, neutral, arm_poses["crossed"])
    for col in ("expansiveness_ratio", "arm_openness_ratio"):
        assert tpose[col][0] > relaxed[col][0] > crossed[col][0], col
    # T-pose: wrists are 2 x (shoulder->wrist) + shoulder width apart, in shoulder widths
    assert tpose["arm_openness_ratio"][0] == pytest.approx(3.77, abs=0.05)


def test_shrug_against_own_baseline(body, neutral):
    shrug = S.pose(left_collar=(0, 0, 20), right_collar=(0, 0, -20))
    poses = np.stack([np.zeros(69)] * 40 + [shrug] * 20)
    m = measures(body, neutral, poses)
    raise_m = m["shoulder_raise_m"]
    np.testing.assert_allclose(raise_m[:40], 0.0, atol=1e-6)
    assert np.all(raise_m[40:] > 0.02)
    assert not m["is_shrugging"][:40].any() and m["is_shrugging"][40:].all()
