"""Who is one person, and whose landmarks are whose: the detector's duplicate rule keeps two
people whose boxes overlap most of the way (one partly behind the other) apart, merges the same
person found twice, and lets a confirmed body replace the face-only fallback that stood for it;
the estimator refuses a neighbour's landmarks for a box. Hand-made landmarks, so each rule is
checked on its own (the real-photo figures are in ``benchmarks/real_people.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from pmrr_model.detection import create_detector
from pmrr_model.detection.base import box_overlap_min
from pmrr_model.detection.landmarks import MP, PoseLandmarks
from pmrr_model.detection.mediapipe_detector import Candidate, shoulder_distance, torso_tilt_deg
from pmrr_model.estimators.landmark_fit import inside_frame, owns, paint_others


def person(x: float, y: float, height: float) -> PoseLandmarks:
    """An upright person seen from the front: nose at ``(x, y)``, ``height`` pixels from the
    nose to the ankles, every landmark visible."""
    points = np.zeros((33, 2))
    points[:] = (x, y)  # face points sit on the nose
    for side, sign in (("left", 1.0), ("right", -1.0)):  # the person's left is the image's right
        for name, dx, dy in (
            ("shoulder", 0.12, 0.15), ("elbow", 0.15, 0.35), ("wrist", 0.15, 0.5),
            ("hip", 0.08, 0.5), ("knee", 0.08, 0.75), ("ankle", 0.08, 1.0),
        ):  # fmt: skip
            points[MP[f"{side}_{name}"]] = (x + sign * dx * height, y + dy * height)
    return PoseLandmarks(points, np.ones(33), np.zeros((33, 3)))


def confirmed(lm: PoseLandmarks) -> Candidate:
    return Candidate(lm.box_xyxy(), 0.9, landmarks=lm)


@pytest.fixture(scope="module")
def detector():
    return create_detector("mediapipe")


def test_shoulder_distance_ignores_swapped_sides():
    a = person(100, 50, 300)
    swapped = PoseLandmarks(a.image_px.copy(), a.visibility, a.world_m)
    swapped.image_px[[MP["left_shoulder"], MP["right_shoulder"]]] = a.image_px[
        [MP["right_shoulder"], MP["left_shoulder"]]
    ]
    assert shoulder_distance(a, swapped) == 0.0
    assert shoulder_distance(a, person(130, 50, 300)) == pytest.approx(30.0)


def test_people_behind_each_other_stay_two_and_repeats_merge(detector):
    front = confirmed(person(200, 100, 300))
    # 40 px to the side and 30 px higher: boxes overlap ~70 % of the smaller one's area, which
    # the old box-overlap rule (0.6) merged into one person
    behind = confirmed(person(240, 70, 300))
    assert box_overlap_min(front.box, behind.box)[0, 0] > 0.6
    found: list[Candidate] = []
    assert detector._admit(found, front)
    assert detector._admit(found, behind)
    assert len(found) == 2
    # the same person again, a few pixels off (another pass or window)
    assert not detector._admit(found, confirmed(person(203, 102, 300)))
    assert len(found) == 2


def upside_down_on_legs(real: PoseLandmarks) -> PoseLandmarks:
    """What Pose reports in a window showing only ``real``'s legs: a small upside-down person
    whose shoulders are at ``real``'s ankles and whose hips are at the knees."""
    points = np.zeros((33, 2))
    ankles = real.image_px[[MP["left_ankle"], MP["right_ankle"]]]
    knees = real.image_px[[MP["left_knee"], MP["right_knee"]]]
    points[:] = ankles.mean(axis=0) + (0, 10)  # nose below the "shoulders"
    points[[MP["left_shoulder"], MP["right_shoulder"]]] = ankles + (0, -3)
    points[[MP["left_hip"], MP["right_hip"]]] = knees
    for name in ("elbow", "wrist", "knee", "ankle"):  # folded along the shins
        points[[MP[f"left_{name}"], MP[f"right_{name}"]]] = (ankles + knees) / 2
    return PoseLandmarks(points, np.ones(33), np.zeros((33, 3)))


@pytest.mark.parametrize("part_first", [False, True])
def test_a_part_of_a_person_taken_for_a_person_is_dropped(detector, part_first):
    """Legs found as an upside-down person (box mostly inside the real one's, "shoulders" on their
    ankles) are no second person, whichever pass found them first; a person standing partly
    behind, with a box inside the front one's but shoulders of their own, still is."""
    real = confirmed(person(200, 100, 300))
    legs = upside_down_on_legs(real.landmarks)
    part = Candidate(np.array([*legs.image_px.min(0) - 5, *legs.image_px.max(0) + 5]), 0.9,
                     landmarks=legs)  # fmt: skip
    part.box[3] += 0.6 * (part.box[3] - part.box[1])  # reaching past the person's box ...
    assert 0.5 < box_overlap_min(part.box, real.box)[0, 0] < 0.8  # ... mostly inside it
    found: list[Candidate] = []
    for candidate in [part, real] if part_first else [real, part]:
        detector._admit(found, candidate)
    assert [c.landmarks for c in found] == [real.landmarks]
    child = confirmed(person(230, 200, 150))  # smaller, in front of the legs, own shoulders
    assert box_overlap_min(child.box, real.box)[0, 0] > 0.8
    assert detector._admit(found, child) and len(found) == 2


def test_a_clearer_view_of_the_same_person_replaces_the_first(detector):
    first = person(200, 100, 300)
    hidden = MP["left_wrist"], MP["right_wrist"], MP["left_hip"], MP["right_hip"]
    first.visibility[list(hidden)] = 0.0  # wrists and hips unseen in the first pass's region
    found: list[Candidate] = []
    assert detector._admit(found, confirmed(first))
    # the same person from another region, a little off, with every limb seen: replaces it
    clearer = person(204, 102, 300)
    assert detector._admit(found, confirmed(clearer))
    assert len(found) == 1 and found[0].landmarks is clearer
    # a view no clearer than the kept one (by less than the margin) is only a repeat
    assert not detector._admit(found, confirmed(person(198, 99, 300)))
    assert len(found) == 1 and found[0].landmarks is clearer


def test_a_smaller_proposal_at_a_found_persons_hips_is_still_tried(detector):
    front = confirmed(person(200, 100, 300))
    hips = front.landmarks.image_px[[MP["left_hip"], MP["right_hip"]]].mean(axis=0)
    height = front.box[3] - front.box[1]
    # the front person's own proposal (about their size) is skipped ...
    assert detector._proposes_found(front, hips + 10, 1.1 * height)
    # ... a smaller one whose centre falls on their hips may be someone behind them: tried
    assert not detector._proposes_found(front, hips + 10, 0.6 * height)
    # and the same holds between two proposals of different windows
    assert detector._same_proposal(hips, 300.0, hips + 20, 320.0)
    assert not detector._same_proposal(hips, 170.0, hips + 20, 320.0)


def test_corner_quadrants_are_proposal_windows_and_mirror_each_other():
    from pmrr_model.detection.mediapipe_detector import BodyProposer

    windows = BodyProposer().windows(360, 640)
    assert len(windows) == 9 and windows[0] == (0, 0, 640, 360)
    mirrored = {(640 - x1, y0, 640 - x0, y1) for x0, y0, x1, y1 in windows}
    assert mirrored == set(windows)  # a mirrored video is searched with the same windows
    assert (0, 0, 352, 198) in windows and (288, 162, 640, 360) in windows


def test_confirmed_body_replaces_its_face_fallback(detector):
    body = person(200, 100, 300)
    face = np.array([185.0, 80.0, 215.0, 120.0])  # around the nose
    wide = np.array([80.0, 40.0, 320.0, 400.0])  # the face-derived region, covering neighbours
    fallback = Candidate(wide, 0.4, face=face)
    neighbour = confirmed(person(290, 120, 280))
    found: list[Candidate] = []
    assert detector._admit(found, fallback)
    assert detector._admit(found, neighbour)  # not this face's person: kept
    assert detector._admit(found, confirmed(body))  # this face's person: replaces the fallback
    assert [c.confirmed for c in found] == [True, True]
    assert found[1].landmarks is body
    # and a fallback for a face already found is not taken
    assert not detector._admit(found, Candidate(wide, 0.4, face=face))
    # two fallbacks over the same region are one person
    other_face = Candidate(wide + 5, 0.4, face=face + 500)
    assert detector._admit(found, other_face)
    assert not detector._admit(found, Candidate(wide + 8, 0.3, face=face + 800))


def test_only_upright_people_are_people(detector):
    """What Pose reports lying or upside down is something else read as a body: a face filling
    the frame (a small body standing on its head), legs alone in a window, a title's lettering
    (a "person" lying along the word). People turned up to 60 degrees (someone sitting down,
    bent forward in profile, in the real photos) stay."""
    real = person(200, 100, 300)
    assert torso_tilt_deg(real) == pytest.approx(0.0)
    assert torso_tilt_deg(upside_down_on_legs(real)) == pytest.approx(180.0)

    def turned(deg: float) -> PoseLandmarks:  # the whole person turned about the hips
        a = np.radians(deg)
        hips = real.image_px[[MP["left_hip"], MP["right_hip"]]].mean(axis=0)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        return PoseLandmarks((real.image_px - hips) @ rot.T + hips, real.visibility, real.world_m)

    lying, bent = turned(90.0), turned(-60.0)
    assert torso_tilt_deg(lying) == pytest.approx(90.0)
    assert torso_tilt_deg(bent) == pytest.approx(60.0)
    for landmarks, kept in ((real, True), (bent, True), (lying, False)):
        found: list[Candidate] = []
        assert detector._admit(found, confirmed(landmarks)) is kept
    face_only = Candidate(np.array([0.0, 0.0, 640.0, 360.0]), 0.4, face=np.array([300.0] * 4))
    assert detector._admit([], face_only)


def test_a_neighbours_landmarks_are_not_this_box_person():
    a, b = person(100, 60, 300), person(170, 90, 280)
    boxes = np.stack([a.box_xyxy(), b.box_xyxy()])
    # a's torso centre lies inside b's box too: the old rule (torso in box) gave a to both
    centre = a.image_px[[MP["left_shoulder"], MP["right_shoulder"], MP["left_hip"]]].mean(0)
    assert boxes[1][0] <= centre[0] <= boxes[1][2] and boxes[1][1] <= centre[1] <= boxes[1][3]
    assert owns(a, boxes, 0) and not owns(a, boxes, 1)
    assert owns(b, boxes, 1) and not owns(b, boxes, 0)
    # alone in the frame, a torso inside the box is enough; outside it never is
    assert owns(a, boxes[:1], 0)
    assert not owns(person(600, 60, 300), boxes[:1], 0)
    unseen = PoseLandmarks(a.image_px, np.zeros(33), a.world_m)
    assert not owns(unseen, boxes[:1], 0)


def test_a_fragment_inside_a_box_is_not_its_person():
    box = np.array([[0.0, 50.0, 90.0, 230.0]])  # a skier cut by the photo's left edge
    glove = person(80, 80, 25)  # a "person" MediaPipe placed on the glove, 25 px nose-to-ankle
    assert glove.box_xyxy()[3] - glove.box_xyxy()[1] < 0.3 * 180
    assert not owns(glove, box, 0)
    assert owns(person(40, 70, 150), box, 0)


def test_a_crop_at_the_frame_edge_moves_inside_it():
    # a box cut by the left edge: its crop reaches 60 px past the edge; the region moves right
    center, side = inside_frame(np.array([40.0, 140.0]), 200.0, (300, 640))
    np.testing.assert_allclose(center, [100.0, 140.0])
    assert side == 200.0
    # never larger than the frame's shorter side; a crop inside the frame is not tried again
    assert inside_frame(np.array([40.0, 140.0]), 500.0, (300, 640))[1] == 300.0
    assert inside_frame(np.array([320.0, 150.0]), 200.0, (300, 640)) is None


def test_paint_others_keeps_this_box_whole():
    frame = np.full((100, 200, 3), 200, np.uint8)
    frame[:, :, 0] = np.arange(200, dtype=np.uint8)[None, :]
    boxes = np.array([[10.0, 10.0, 80.0, 90.0], [60.0, 10.0, 150.0, 90.0]])
    masked = paint_others(frame, boxes, 0)
    np.testing.assert_array_equal(masked[10:90, 10:80], frame[10:90, 10:80])  # box 0, overlap too
    assert (masked[10:90, 80:150] == masked[50, 100]).all()  # the rest of box 1: one colour
    np.testing.assert_array_equal(masked[:, 150:], frame[:, 150:])  # outside every box


def test_a_body_cut_by_the_frame_reaches_its_edge_and_shoulders_must_be_in_it(detector):
    """A head-and-shoulders person (hips below the frame, invisible) gets a box down to the
    frame's bottom; a "person" whose visible shoulders lie outside the image is no person."""
    lm = person(320, 100, 600)  # shoulders at y 190, hips at 400: below a 360-high frame
    lm.visibility[11:] = 0.0  # below the face only the shoulders are seen
    lm.visibility[[MP["left_shoulder"], MP["right_shoulder"]]] = 1.0
    assert lm.box_xyxy()[3] < 250  # around the visible landmarks only
    assert lm.box_xyxy(frame_hw=(360, 640))[3] > 360  # to the hips: clipped to the frame later
    assert detector._torso_visible(lm, (360, 640))
    above = PoseLandmarks(lm.image_px - (0.0, 300.0), lm.visibility, lm.world_m)
    assert not detector._torso_visible(above, (360, 640))  # shoulders at y -110


def test_nobody_is_found_in_a_cartoon_title(detector, cartoon_title_clip):
    """Real footage with nobody in it: Pose read the title's lettering as a person lying along
    the word (a 43-frame track with a nod and a posture shift); found in each of these frames
    before the upright rule."""
    import decord

    frames = decord.VideoReader(str(cartoon_title_clip)).get_batch([21, 30, 48, 63, 93])
    for k, frame in enumerate(frames.asnumpy()):
        boxes, _ = detector.detect(frame)
        assert len(boxes) == 0, (k, boxes)


def test_a_face_without_a_body_must_be_a_face_to_face_mesh(detector, cartoon_title_clip):
    """The same title mirrored: the face detector reads the lettering as a face (score about
    0.65) and Pose finds no body there, so a face-only fallback stood for a "person" in each of
    these frames before Face Mesh had to confirm the face."""
    import decord

    frames = decord.VideoReader(str(cartoon_title_clip)).get_batch([24, 27, 72, 84, 90])
    for k, frame in enumerate(frames.asnumpy()):
        mirrored = np.ascontiguousarray(frame[:, ::-1])
        assert detector._faces.detect(mirrored), k  # the lettering is a "face" ...
        boxes, _ = detector.detect(mirrored)
        assert len(boxes) == 0, (k, boxes)  # ... but nobody
