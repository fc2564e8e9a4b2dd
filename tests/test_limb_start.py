"""The landmark fit's cold start poses the limbs MediaPipe sees in 3D: a seated person's thighs
point at the camera and project short, and from straight legs the fit ended in their 2D mirror
image (knees 0.4-0.7 m behind where they are, even with exact targets); started on the seen bone
directions it lands within a few centimetres."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analytics import synthetic
from pmrr_model.estimators.fitting import FIT_DTYPE
from pmrr_model.estimators.landmark_targets import BONE_FROM_J, BONE_TO_J, JOINT_IDX, FitTargets
from pmrr_model.geometry import axis_angle_to_rotmat, rotmat_to_axis_angle, smallest_rotation

FOCAL, SIZE = 734.3, (360, 640)
KNEES, HIPS, MIDHIP = [13, 10], [12, 9], 8  # OpenPose block: L/R knee, L/R hip, mid hip


def test_smallest_rotation_on_hand_values():
    down, forward = np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(smallest_rotation(down, forward), [-np.pi / 2, 0, 0], atol=1e-12)
    np.testing.assert_allclose(smallest_rotation(down, 3 * down), 0.0, atol=1e-12)
    half = smallest_rotation(down, -down)  # opposite: half a turn about a perpendicular axis
    assert np.linalg.norm(half) == pytest.approx(np.pi)
    rot = axis_angle_to_rotmat(half)
    np.testing.assert_allclose(rot @ down, -down, atol=1e-12)


def _seated_targets(fitter, yaw_deg: float) -> tuple[FitTargets, np.ndarray, np.ndarray]:
    """Exact targets of a seated body (hips and knees at 90 degrees) 2.5 m from the camera."""
    pose = synthetic.RELAXED + synthetic.pose(
        left_hip=(-90, 0, 0), right_hip=(-90, 0, 0), left_knee=(90, 0, 0), right_knee=(90, 0, 0)
    )
    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    orient = rotmat_to_axis_angle(
        np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]) @ np.diag([1.0, -1.0, -1.0])
    )
    as_tensor = lambda a: torch.tensor(np.asarray(a)[None], dtype=FIT_DTYPE)  # noqa: E731
    with torch.no_grad():
        joints = (
            fitter.joints(as_tensor(np.zeros(10)), as_tensor(pose), as_tensor(orient))[0][0]
            .double()
            .numpy()
        )
    joints = joints + [0.0, 0.2, 2.5]
    px = FOCAL * joints[:, :2] / joints[:, 2:] + [SIZE[1] / 2, SIZE[0] / 2]
    weights = np.zeros(25)
    weights[JOINT_IDX] = 1.0
    bones = BONE_TO_J @ joints - BONE_FROM_J @ joints
    bones /= np.linalg.norm(bones, axis=1, keepdims=True)
    torso = joints[[5, 2, 12, 9]]
    targets = FitTargets(
        px, weights, bones, np.ones(len(bones)), torso - torso.mean(0), 1.0, weights > 0
    )
    box = np.array([[*px.min(0), *px.max(0)]])
    return targets, box, joints


def _cold_fit(fitter, targets, box) -> tuple[np.ndarray, np.ndarray]:
    """The OpenPose-block joints and the two hand joints of a cold fit (120 steps) to
    ``targets``, camera frame (without the translation)."""
    start = fitter.initial([targets], box, FOCAL, SIZE)
    fitted = fitter.fit(start, [targets], box, FOCAL, SIZE, 120)
    as_tensor = lambda a: torch.tensor(a, dtype=FIT_DTYPE)  # noqa: E731
    with torch.no_grad():
        joints, hands, _ = fitter.joints(
            as_tensor(fitted.betas), as_tensor(fitted.body_pose), as_tensor(fitted.global_orient)
        )
    return joints[0].double().numpy(), hands[0].double().numpy()


def _fitted_joints(fitter, targets, box) -> np.ndarray:
    return _cold_fit(fitter, targets, box)[0]


@pytest.mark.parametrize("yaw_deg", [0.0, 30.0, -45.0])
def test_seated_knees_end_up_in_front(yaw_deg):
    from pmrr_model.estimators.factory import create_estimator

    fitter = create_estimator("landmark-fit").fitter
    targets, box, truth = _seated_targets(fitter, yaw_deg)
    joints = _fitted_joints(fitter, targets, box)
    in_front = joints[KNEES, 2] - joints[HIPS, 2]
    assert (in_front < -0.15).all(), in_front  # truth: -0.24 to -0.38 m
    error = np.linalg.norm((joints - joints[MIDHIP]) - (truth - truth[MIDHIP]), axis=1)[KNEES]
    assert error.max() < 0.05, error


ANKLES, FEET = [14, 11], list(range(19, 25))  # OpenPose block: L/R ankle, big toes to heels


@pytest.mark.parametrize("yaw_deg", [0.0, 30.0])
def test_unseen_lower_legs_of_a_seated_person_hang_down(yaw_deg):
    """A seated person framed above the ankles (a medium interview shot): thighs seen, shins
    not. The shins hang down (within 10 cm of the truth at the ankles); without the shank prior
    the straight-knee pose prior carried them on towards the camera."""
    from dataclasses import replace

    from pmrr_model.estimators.factory import create_estimator

    fitter = create_estimator("landmark-fit").fitter
    targets, box, truth = _seated_targets(fitter, yaw_deg)
    unseen = ANKLES + FEET
    targets.weights2d[unseen] = 0.0
    targets.seen2d[unseen] = False
    touches = (np.abs(BONE_FROM_J[:, unseen]) + np.abs(BONE_TO_J[:, unseen])).sum(1) > 0
    targets.bone_weights[touches] = 0.0
    box = np.array([[*targets.joints2d_px[targets.weights2d > 0].min(0),
                     *targets.joints2d_px[targets.weights2d > 0].max(0)]])  # fmt: skip

    def ankle_error(fitter) -> np.ndarray:
        joints = _fitted_joints(fitter, targets, box)
        rel = (joints - joints[MIDHIP]) - (truth - truth[MIDHIP])
        return np.linalg.norm(rel, axis=1)[ANKLES]

    assert ankle_error(fitter).max() < 0.10
    fitter.w = replace(fitter.w, shank_down=0.0)
    assert ankle_error(fitter).min() > 0.2


def test_seen_hands_turn_the_wrists():
    """Wrists bent 50 degrees (hands resting on the thighs): with MediaPipe's wrist -> knuckles
    directions the fitted hand joints land within 2 cm of the truth (relative to the wrists);
    without the hand term nothing turns a wrist and they stay in the start pose's line."""
    from dataclasses import replace

    from pmrr_model.estimators.factory import create_estimator

    fitter = create_estimator("landmark-fit").fitter
    targets, box, _ = _seated_targets(fitter, 20.0)
    bent = synthetic.RELAXED + synthetic.pose(
        left_hip=(-90, 0, 0), right_hip=(-90, 0, 0), left_knee=(90, 0, 0), right_knee=(90, 0, 0),
        left_wrist=(0, 50, 0), right_wrist=(0, -50, 0),
    )  # fmt: skip
    c, s = np.cos(np.radians(20.0)), np.sin(np.radians(20.0))  # as _seated_targets turns it
    orient = rotmat_to_axis_angle(
        np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]) @ np.diag([1.0, -1.0, -1.0])
    )
    as_tensor = lambda a: torch.tensor(np.asarray(a)[None], dtype=FIT_DTYPE)  # noqa: E731
    with torch.no_grad():
        joints, hands, _ = fitter.joints(
            as_tensor(np.zeros(10)), as_tensor(bent), as_tensor(orient)
        )
    truth = (hands[0] - joints[0, [7, 4]]).double().numpy()  # wrist -> hand, left and right
    targets.hand_dirs = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    targets.hand_weights = np.ones(2)

    def hand_error(fitter) -> np.ndarray:
        joints, hands = _cold_fit(fitter, targets, box)
        return np.linalg.norm(hands - joints[[7, 4]] - truth, axis=1)

    assert hand_error(fitter).max() < 0.02
    fitter.w = replace(fitter.w, hand=0.0)
    assert hand_error(fitter).min() > 0.05
