"""Person detection on real photos and frames: the default MediaPipe detector finds each person
once with a box around them, finds nobody in a test pattern, and the mmdet backend (not installed
here) fails with a message naming every missing piece."""

from __future__ import annotations

import numpy as np
import pytest

from pmrr_model.detection import DetectorError, create_detector
from pmrr_model.detection.base import box_iou, box_overlap_min, clip_boxes, mean_colour
from tests.images import (
    astronaut,
    astronaut_available,
    carphone_frames,
    interview_frames,
    megamind_path,
    opencv_sample,
)


@pytest.fixture(scope="module")
def detector():
    return create_detector("mediapipe")


def contains(box: np.ndarray, point: tuple[float, float]) -> bool:
    return bool(box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3])


@pytest.mark.skipif(not astronaut_available(), reason="scikit-image not installed")
def test_astronaut_is_one_person_with_a_body_box(detector):
    boxes, scores = detector.detect(astronaut())
    assert boxes.shape == (1, 4) and boxes.dtype == np.float32
    assert scores.shape == (1,) and scores[0] > 0.5
    box = boxes[0]
    # Her face is around (190, 100) and her chest around (190, 300) in the 512 x 512 photo.
    assert contains(box, (190, 100)) and contains(box, (190, 300))
    assert 300 < box[3] - box[1] <= 512 and box[2] - box[0] < 400


def test_messi_photo_finds_the_player_in_front(detector):
    image = opencv_sample("messi5.jpg")
    boxes, scores = detector.detect(image)
    assert len(boxes) >= 1
    # Messi (the large player, centre left) is found first; his head is near (240, 110).
    assert contains(boxes[0], (240, 130)) and scores[0] > 0.5
    assert boxes[0][3] - boxes[0][1] > 0.5 * image.shape[0]


def test_basketball_two_players_get_separate_boxes(detector):
    image = opencv_sample("basketball1.png")
    boxes, scores = detector.detect(image)
    assert len(boxes) == 2
    assert box_iou(boxes[:1], boxes[1:])[0, 0] < 0.05
    centres = np.sort((boxes[:, 0] + boxes[:, 2]) / 2)
    assert centres[0] < image.shape[1] / 2 < centres[1]
    assert (np.diff(scores) <= 0).all(), "best score first"


def test_photos_search_for_people_small_in_the_frame():
    """``create_detector(photos=True)`` also runs MediaPipe's person detector on a grid of small
    windows: a basketball player 40 % of the frame's height (basketball1.png at 0.6 x in the
    corner of a 1280 x 720 street photo), whom the video setting's windows miss, is found, in
    the photo and in its mirror image, and no part of him is a second person."""
    import cv2

    canvas = cv2.resize(opencv_sample("building.jpg"), (1280, 720))
    players = cv2.resize(opencv_sample("basketball1.png"), (384, 288), interpolation=cv2.INTER_AREA)
    canvas[412:700, 40:424] = players  # the left player's body lies in x 45-160, y 440-700
    photos = create_detector("mediapipe", photos=True)
    video = create_detector("mediapipe")
    for image, mirror in ((canvas, False), (np.ascontiguousarray(canvas[:, ::-1]), True)):
        boxes, _ = photos.detect(image)
        assert len(boxes) == 1
        x0, y0, x1, y1 = boxes[0]
        if mirror:
            x0, x1 = 1280 - x1, 1280 - x0
        assert 30 < x0 < 100 < x1 < 180 and y0 < 560 < y1 and y1 - y0 > 200
        assert len(video.detect(image)[0]) == 0, "the video setting's windows miss him"


def test_chest_up_person_gets_a_tight_box(detector):
    """carphone frames show a man from the chest up: MediaPipe sees both shoulders but no hips.
    The box must come from his pose, not be the whole 176 x 144 frame (the face-derived
    fallback the detector used when it required visible hips)."""
    for frame in carphone_frames([0, 25, 40]):
        boxes, scores = detector.detect(frame)
        assert len(boxes) == 1
        area = np.prod(boxes[0, 2:] - boxes[0, :2])
        assert area < 0.6 * frame.shape[0] * frame.shape[1]
        assert contains(boxes[0], (85, 70)) and scores[0] > 0.7


def test_two_people_side_by_side_are_two_boxes(detector):
    for frame in interview_frames([0, 30]):
        boxes, _ = detector.detect(frame)
        assert len(boxes) == 2
        left, right = boxes[np.argsort(boxes[:, 0])]
        # Left person in x < 176, right one in x > 240 (64 grey pixels between them).
        assert (left[0] + left[2]) / 2 < 176 < 240 < (right[0] + right[2]) / 2
        assert box_overlap_min(left, right)[0, 0] < 0.3


def test_a_video_run_leaves_out_windows_that_add_nothing(detector, monkeypatch):
    """``detect_run`` over the two-person sample's frames: the faces find both people, the
    windows add no one, so they are searched on every other frame only, and the boxes are those
    of ``detect`` frame by frame. Where the faces find nobody (face model switched off), the
    windows are searched on every frame."""
    frames = interview_frames(list(range(0, 48, 3)))
    searched = []
    regions = detector._proposer.regions
    monkeypatch.setattr(
        detector._proposer, "regions", lambda frame: searched.append(1) or regions(frame)
    )
    run = list(detector.detect_run(frames))
    assert len(frames) // 2 <= len(searched) <= len(frames) // 2 + 2  # 16 frames: 8-10 searched
    for frame, (boxes, scores) in zip(frames, run, strict=True):
        want, want_scores = detector.detect(frame)
        np.testing.assert_array_equal(boxes, want)
        np.testing.assert_array_equal(scores, want_scores)
    monkeypatch.setattr(detector._faces, "detect", lambda frame: [])
    searched.clear()
    run = list(detector.detect_run(frames[:4]))
    assert len(searched) == 4 and all(len(boxes) == 2 for boxes, _ in run)


def test_a_face_filling_the_frame_is_one_person(detector):
    """opencv-doc's ``Megamind.avi``, the man's close-up (frames 200-224 as the pipeline reads
    them): his face fills the frame and his shoulders are cut by its lower edge. Pose read him
    twice (shoulders 60 px apart, noses 9 px: two tracks of one man, counted as two people), or
    read his face as a small body standing on it (shoulders on his eyes and chin). One head is
    one person: one box, around his face."""
    from tasks.decode import iter_chunks
    from tasks.probe import probe_video

    wanted = [200, 212, 221, 224]
    frames = [
        f for _, chunk in iter_chunks(probe_video(megamind_path()), frames=wanted) for f in chunk
    ]
    assert len(frames) == len(wanted)
    for index, frame in zip(wanted, frames, strict=True):
        boxes, _ = detector.detect(frame)
        assert len(boxes) == 1, (index, boxes)
        assert contains(boxes[0], (390, 250)) and boxes[0][3] - boxes[0][1] > 400, (index, boxes)


def test_no_person_in_a_test_pattern(detector, tmp_path):
    from pmrr_interviews.samples import nobody_clip
    from tests.images import video_frames

    try:
        clip = nobody_clip(tmp_path)
    except FileNotFoundError as error:
        pytest.skip(str(error))
    frame = video_frames(clip, [10])[0]
    boxes, scores = detector.detect(frame)
    assert boxes.shape == (0, 4) and scores.shape == (0,)
    boxes, _ = detector.detect(np.zeros((240, 320, 3), np.uint8))
    assert len(boxes) == 0


def _mmdet_installed() -> bool:
    try:
        import mmcv.ops  # noqa: F401
        import mmdet  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(_mmdet_installed(), reason="mmdet is installed here")
def test_mmdet_missing_names_the_package():
    with pytest.raises(DetectorError) as error:
        create_detector("mmdet")
    message = str(error.value)
    assert "mmdet package is not installed" in message and "pip install" in message


def test_mmdet_missing_files_are_named(tmp_path):
    with pytest.raises(DetectorError) as error:
        create_detector("mmdet")
    message = str(error.value)
    assert "no mmdet config file given" in message and "no mmdet checkpoint" in message

    config = tmp_path / "faster_rcnn.py"
    config.write_text("model = dict()")
    with pytest.raises(DetectorError) as error:
        create_detector("mmdet", config=str(config), checkpoint=str(tmp_path / "nope.pth"))
    message = str(error.value)
    assert f"mmdet checkpoint file not found: {tmp_path / 'nope.pth'}" in message
    assert "config file not found" not in message


@pytest.mark.skipif(not _mmdet_installed(), reason="mmdet not installed (scripts/install_mmdet.sh)")
def test_mmdet_backend_runs_a_real_mmdet_model(tmp_path):
    """A real mmdet RTMDet-tiny built from the config inside the mmdet package, with weights this
    test saves (random: no COCO weights can be downloaded here), loaded through the backend:
    only COCO class 0 comes back, sorted by score, above the threshold, as float32 arrays."""
    from pathlib import Path

    import mmdet
    import torch
    from mmdet.apis import init_detector

    config = Path(mmdet.__file__).parent / ".mim/configs/rtmdet/rtmdet_tiny_8xb32-300e_coco.py"
    model = init_detector(str(config), None, device="cpu")
    checkpoint = tmp_path / "rtmdet_tiny_random.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, checkpoint)
    detector = create_detector("mmdet", config=str(config), checkpoint=str(checkpoint))
    detector.score_threshold = 0.0  # random weights: keep every person-class box
    frame = (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)
    boxes, scores = detector.detect(frame)
    assert boxes.dtype == np.float32 and boxes.shape == (len(scores), 4)
    assert np.all(np.diff(scores) <= 0)
    raw = detector._inference(detector._model, np.ascontiguousarray(frame[..., ::-1]))
    labels = raw.pred_instances.labels.numpy()
    assert len(scores) == int((labels == 0).sum())
    detector.score_threshold = 1.01
    boxes, scores = detector.detect(frame)
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_unknown_detector_lists_the_choices():
    with pytest.raises(DetectorError, match=r"unknown detector 'yolo'.*mediapipe.*mmdet"):
        create_detector("yolo")


def test_box_helpers():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [2, 2, 4, 4]])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 4 / 100]])
    np.testing.assert_allclose(box_overlap_min(a, b), [[0.5, 1.0]])
    np.testing.assert_allclose(clip_boxes(np.array([-5, 3, 50, 70]), 60, 40), [[0, 3, 40, 60]])
    # the painting-out colour: OpenCV's mean, the same as numpy's per-channel mean, truncated
    rng = np.random.default_rng(5)
    for shape in ((360, 640, 3), (7, 13, 3), (1, 1, 3)):
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        expected = image.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        np.testing.assert_array_equal(mean_colour(image), expected)
        np.testing.assert_array_equal(mean_colour(image[:, ::-1]), expected)  # a strided view
    assert mean_colour(np.full((4, 4, 3), (10, 200, 255), np.uint8)).tolist() == [10, 200, 255]


def test_body_proposals_cover_each_person_and_mirror(detector):
    """MediaPipe's person detector keeps every detection here (the Pose solution keeps one): on
    the two-person sample both people get a proposal, and the windows it searches are their own
    mirror image, so a mirrored frame is searched the same way."""
    from pmrr_model.detection.mediapipe_detector import BodyProposer

    proposer = BodyProposer()
    for searcher in (proposer, BodyProposer(small_people=True)):
        windows = searcher.windows(360, 640)
        mirrored = {(640 - x1, y0, 640 - x0, y1) for x0, y0, x1, y1 in windows}
        assert mirrored == set(windows)
    frame = interview_frames([0])[0]
    regions = proposer.regions(frame)
    assert not any(small for _, _, small in regions)
    centres = np.array([c for c, _, _ in regions])
    # Left person in x < 176, right one in x > 240 (the sample's layout).
    assert (centres[:, 0] < 176).any() and (centres[:, 0] > 240).any()
    flipped = proposer.regions(np.ascontiguousarray(frame[:, ::-1]))
    assert len(flipped) >= 2
    boxes, _ = detector.detect(np.ascontiguousarray(frame[:, ::-1]))
    assert len(boxes) == 2
