"""MediaPipe Pose followed from frame to frame (``PoseLandmarker.detect_roi``), on a real clip.

The landmark-fit estimator shows the landmark model the ROI the previous frame's landmarks
place, without MediaPipe's person detector; these tests hold that path to the single-image path
it replaces in the estimate stage (the same person, the same landmarks within a few pixels) and
to the mirror consensus (a mirrored clip followed from the mirrored ROI gives mirrored
landmarks).
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def carphone_frames():
    import decord

    from pmrr_interviews import samples

    try:
        path = samples.carphone_clip(samples.cache_dir(), seconds=2.0)
    except FileNotFoundError as error:
        pytest.skip(str(error))
    reader = decord.VideoReader(str(path))
    return [reader[i].asnumpy() for i in range(0, 40)]


@pytest.fixture(scope="module")
def landmarker():
    from pmrr_model.detection.landmarks import PoseLandmarker

    pose = PoseLandmarker(mirror_consensus=True, follow=True)
    yield pose
    pose.close()


def test_the_graph_is_the_pose_solution(carphone_frames):
    """The landmarker's graph (the solution's own, one more output) gives exactly the landmarks
    of ``mp.solutions.pose.Pose(static_image_mode=True)``."""
    import mediapipe as mp

    from pmrr_model.detection.landmarks import PoseLandmarker

    mine = PoseLandmarker()
    solution = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)
    try:
        for frame in carphone_frames[::10]:
            got = mine.detect_full(frame)
            want = solution.process(np.ascontiguousarray(frame)).pose_landmarks
            assert got is not None and want is not None
            height, width = frame.shape[:2]
            xy = np.array([(p.x * width, p.y * height) for p in want.landmark])
            np.testing.assert_array_equal(got.image_px, xy)
            assert got.next_roi is not None and got.next_roi.side_px > 0
    finally:
        mine.close()
        solution.close()


def test_following_keeps_the_person_and_their_landmarks(carphone_frames, landmarker):
    """Followed through 40 frames, the man is found in every frame, and his visible landmarks
    lie within a few pixels of where the single-image path (with the person detector) puts them."""
    roi = landmarker.detect_full(carphone_frames[0]).next_roi
    gaps = []
    for frame in carphone_frames[1:]:
        followed = landmarker.detect_roi(frame, roi)
        assert followed is not None
        single = landmarker.detect_full(frame)
        seen = (followed.visibility >= 0.5) & (single.visibility >= 0.5)
        assert seen.sum() >= 8  # head, shoulders, elbows at least
        gaps.append(np.linalg.norm(followed.image_px[seen] - single.image_px[seen], axis=1))
        roi = followed.next_roi
    gaps = np.concatenate(gaps)
    height = carphone_frames[0].shape[0]
    assert np.median(gaps) < 0.015 * height, np.median(gaps)
    assert np.percentile(gaps, 95) < 0.04 * height, np.percentile(gaps, 95)


def test_a_mirrored_clip_followed_gives_mirrored_landmarks(carphone_frames, landmarker):
    """Following is mirror-consistent: the mirrored clip, followed from the mirrored ROI, gives
    the mirrored landmarks and ROIs frame after frame (the passes are the same two, swapped)."""
    width = carphone_frames[0].shape[1]
    roi = landmarker.detect_full(carphone_frames[0]).next_roi
    mirror_roi = roi.mirrored(width)
    for frame in carphone_frames[1:6]:
        a = landmarker.detect_roi(frame, roi)
        b = landmarker.detect_roi(np.ascontiguousarray(frame[:, ::-1]), mirror_roi)
        assert a is not None and b is not None
        want = a.mirrored(width)
        np.testing.assert_allclose(b.image_px, want.image_px, atol=1e-3)
        np.testing.assert_allclose(b.visibility, want.visibility, atol=1e-5)
        np.testing.assert_allclose(b.next_roi.center_px, want.next_roi.center_px, atol=1e-3)
        assert b.next_roi.rotation == pytest.approx(want.next_roi.rotation, abs=1e-6)
        roi, mirror_roi = a.next_roi, b.next_roi


def test_detect_roi_needs_follow(carphone_frames):
    from pmrr_model.detection.landmarks import PoseLandmarker, Roi

    plain = PoseLandmarker()
    try:
        with pytest.raises(ValueError, match="follow=True"):
            plain.detect_roi(carphone_frames[0], Roi(np.array([80.0, 70.0]), 100.0, 0.0))
    finally:
        plain.close()


def test_the_estimator_follows_people_in_view_only(carphone_frames):
    """The estimator's first try for a box is the followed ROI when that ROI is at most
    FOLLOW_MAX_CROP_SIDES crops across, else the box's own crop (a person cut by the frame,
    whose hip-centred ROI is far larger than their box, takes the detector path)."""
    from pmrr_model.detection.landmarks import Roi
    from pmrr_model.estimators.landmark_fit import (
        FOLLOW_MAX_CROP_SIDES,
        LandmarkFitEstimator,
        _crop,
    )

    estimator = LandmarkFitEstimator()
    frame = carphone_frames[5]
    boxes = np.array([[20.0, 10.0, 160.0, 144.0]])
    center, side = _crop(boxes[0])
    try:
        by_box = estimator.landmarker.detect_region(frame, center, side)
        for scale, followed in (
            (0.9 * FOLLOW_MAX_CROP_SIDES, True),
            (1.1 * FOLLOW_MAX_CROP_SIDES, False),
        ):
            roi = Roi(center, scale * side, 0.0)
            first = next(estimator._landmark_tries(frame, boxes, 0, False, roi))
            want = estimator.landmarker.detect_roi(frame, roi) if followed else by_box
            assert first is not None and want is not None
            np.testing.assert_array_equal(first.image_px, want.image_px)
            other = by_box if followed else estimator.landmarker.detect_roi(frame, roi)
            assert other is None or not np.array_equal(first.image_px, other.image_px)
    finally:
        estimator.landmarker.close()


def test_what_ran_before_does_not_change_the_result(carphone_frames, landmarker):
    """A landmarker that has run other frames gives exactly what a fresh one gives, on both
    paths and for the ROI to follow next. (The Pose solution's own next-frame ROI passes its
    auxiliary landmarks through a smoothing filter that keeps state even in single image mode:
    the estimate stage's landmarks then depended on what its process had observed before, and
    a Dask worker's rows differed from the in-process run's.)"""
    from pmrr_model.detection.landmarks import PoseLandmarker

    for frame in carphone_frames[20:30]:  # history: other frames, both paths
        found = landmarker.detect_full(frame)
        landmarker.detect_roi(frame, found.next_roi)
    fresh = PoseLandmarker(mirror_consensus=True, follow=True)
    try:
        frame, then = carphone_frames[2], carphone_frames[3]
        a, b = landmarker.detect_full(frame), fresh.detect_full(frame)
        np.testing.assert_array_equal(a.image_px, b.image_px)
        np.testing.assert_array_equal(a.next_roi.center_px, b.next_roi.center_px)
        assert a.next_roi.side_px == b.next_roi.side_px
        c, d = landmarker.detect_roi(then, a.next_roi), fresh.detect_roi(then, b.next_roi)
        np.testing.assert_array_equal(c.image_px, d.image_px)
        np.testing.assert_array_equal(c.next_roi.center_px, d.next_roi.center_px)
    finally:
        fresh.close()
