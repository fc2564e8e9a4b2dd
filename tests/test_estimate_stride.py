"""Estimating every k-th frame (``estimate_every_k``): which rows the estimator sees, how the
rows between are filled, and that on a real clip the filled rows stay close to estimated ones."""

import numpy as np
import pytest

from pmrr_model.geometry import axis_angle_to_rotmat
from tasks.inference import estimate_sequence, estimated_rows, fill_between
from tasks.sequence import SmplSequence
from tasks.tracking import TrackedBoxes


def _tracked(rows: list[tuple[int, int, int]]) -> TrackedBoxes:
    """(frame, track, shot) rows with boxes that move 2 px a frame."""
    frame, track, shot = (np.array(c) for c in zip(*rows, strict=True))
    boxes = np.stack([100 + 2 * frame, 50 + 0 * frame, 200 + 2 * frame, 300 + 0 * frame], 1)
    return TrackedBoxes(
        frame.astype(np.int64), track.astype(np.int32), shot.astype(np.int32),
        boxes.astype(np.float32), np.ones(len(rows), np.float32),
    )  # fmt: skip


def test_estimated_rows_take_every_kth_and_each_runs_ends():
    rows = [(f, 1, 0) for f in range(0, 8)]  # one run of 8 frames
    rows += [(f, 2, 0) for f in (0, 1, 2, 5, 6)]  # a gap: two runs
    rows += [(f, 1, 1) for f in (8, 9)]  # same track id, next shot: its own run
    tracked = _tracked(rows)
    keep = estimated_rows(tracked, 3)
    seen = sorted((int(tracked.track_id[i]), int(tracked.frame[i])) for i in np.flatnonzero(keep))
    assert seen == [(1, 0), (1, 3), (1, 6), (1, 7), (1, 8), (1, 9), (2, 0), (2, 2), (2, 5), (2, 6)]
    assert estimated_rows(tracked, 1).all()
    assert not estimated_rows(tracked.take(np.zeros(len(tracked), bool)), 2).any()


@pytest.fixture(scope="module")
def body():
    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel
    from pmrr_model.estimators.sparse_joints import SparseJoints

    class Bodies:  # what fill_between needs of an estimator
        body_model = BodyModel(resolve_assets()).eval()
        joints49 = SparseJoints(body_model, n_joints=49)
        rescale = 1.2

    return Bodies()


def _estimated(tracked: TrackedBoxes, rows: list[int], orient_deg: list[float]) -> SmplSequence:
    n = len(rows)
    z = np.zeros
    orient = np.stack([[0.0, 0.0, np.radians(d)] for d in orient_deg])
    observed = np.ones((n, 49), bool)
    observed[0, 7] = False  # joint 7 unseen in the first estimated frame only
    return SmplSequence(
        frame=tracked.frame[rows], track_id=tracked.track_id[rows], shot_id=tracked.shot_id[rows],
        bbox_px=tracked.bbox_px[rows], det_score=tracked.det_score[rows],
        global_orient=orient.astype(np.float32), body_pose=z((n, 69), np.float32),
        betas=np.linspace(0, 1, n)[:, None].repeat(10, 1).astype(np.float32),
        cam=z((n, 3), np.float32),
        transl_m=np.stack([[0.1 * i, 0.0, 3.0] for i in range(n)]).astype(np.float32),
        joints3d_m=z((n, 49, 3), np.float32), joints2d_px=z((n, 49, 2), np.float32),
        confidence=np.array([0.9, 0.6][:n], np.float32), joints_observed=observed,
        hands3d_m=np.full((n, 2, 3), 0.5, np.float32),
        focal_px=500.0, estimator="landmark-fit", assets="standin:x",
    )  # fmt: skip


def test_fill_between_interpolates_parameters_and_recomputes_joints(body):
    tracked = _tracked([(f, 4, 0) for f in range(10, 14)] + [(20, 5, 0)])
    estimated = _estimated(tracked, [0, 3], [0.0, 90.0])  # frames 10 and 13 of track 4
    filled = fill_between(estimated, tracked, body, (360, 640))

    assert list(zip(filled.frame.tolist(), filled.track_id.tolist(), strict=True)) == [
        (10, 4),
        (11, 4),
        (12, 4),
        (13, 4),
    ]  # fmt: skip  (frame 20 of track 5 has no estimated neighbour: no row)
    # rotation about z by 30 and 60 degrees, shape and translation a third and two thirds along
    for row, degrees in ((1, 30.0), (2, 60.0)):
        expected = axis_angle_to_rotmat(np.array([0.0, 0.0, np.radians(degrees)]))
        got = axis_angle_to_rotmat(filled.global_orient[row].astype(np.float64))
        np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(filled.betas[1:3, 0], [1 / 3, 2 / 3], atol=1e-6)
    np.testing.assert_allclose(filled.transl_m[1:3, 0], [0.1 / 3, 0.2 / 3], atol=1e-6)
    np.testing.assert_array_equal(filled.bbox_px, tracked.bbox_px[:4])  # the tracked boxes
    assert filled.confidence[1:3].tolist() == pytest.approx([0.6, 0.6])
    assert not filled.joints_observed[1:3, 7].any() and filled.joints_observed[1:3, 8].all()
    # hands seen apart from the body are observations: none in the rows between
    assert np.isnan(filled.hands3d_m[1:3]).all()
    np.testing.assert_array_equal(filled.hands3d_m[[0, 3]], estimated.hands3d_m)

    # joints are the body model's joints of the interpolated parameters, in the camera frame
    import torch

    with torch.no_grad():
        joints = body.joints49(
            torch.as_tensor(filled.betas[1:3]), torch.as_tensor(filled.body_pose[1:3]),
            torch.as_tensor(filled.global_orient[1:3]),
        ).numpy() + filled.transl_m[1:3, None]  # fmt: skip
    np.testing.assert_allclose(filled.joints3d_m[1:3], joints, atol=1e-5)
    z = joints[..., 2:3]
    np.testing.assert_allclose(
        filled.joints2d_px[1:3], 500.0 * joints[..., :2] / z + [320, 180], atol=1e-3
    )
    assert np.abs(filled.cam[1:3]).sum() > 0  # the crop camera of the tracked box


def test_every_second_frame_on_a_real_clip(tmp_path):
    """The two-person sample's first second with the landmark fit, every frame vs every second
    frame: the same person-frames, and the filled rows' 2D joints near the estimated ones."""
    from pmrr_interviews import samples
    from pmrr_model.detection.factory import create_detector
    from pmrr_model.estimators.factory import create_estimator
    from tasks import detection, tracking
    from tasks.probe import probe_video
    from tasks.shots import Shot

    info = probe_video(str(samples.interview_clip(samples.cache_dir())))
    shot = Shot(0, 0, int(round(info.fps)) - 1)
    frames = detection.detection_frames([shot], 3)
    detector = create_detector("mediapipe")
    detections = detection.detect_people(info, frames, detector)
    tracked = tracking.track_detections(detections, [shot], info.fps, 3)
    assert len(set(tracked.track_id.tolist())) == 2

    every = estimate_sequence(info, tracked, create_estimator("landmark-fit"))
    second = estimate_sequence(info, tracked, create_estimator("landmark-fit"), every_k=2)
    key = lambda s: list(zip(s.frame.tolist(), s.track_id.tolist(), strict=True))  # noqa: E731
    assert key(second) == key(every) == key(tracked)
    filled = ~estimated_rows(tracked, 2)
    assert filled.sum() >= len(tracked) // 3
    height = (tracked.bbox_px[:, 3] - tracked.bbox_px[:, 1])[filled, None]
    visible = every.joints_observed[filled][:, 25:]
    gap = np.linalg.norm(second.joints2d_px - every.joints2d_px, axis=-1)[filled][:, 25:] / height
    assert np.median(gap[visible]) < 0.03, np.median(gap[visible])
