"""Both estimators behind the one interface: the offline landmark fit on real photos and frames
(image-aligned bodies, one per box, stable when tracked) and the PMRR network with a checkpoint
the tests write in the released layout; wrong checkpoints and names fail naming the problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pmrr_model.checkpoint import CheckpointError, save_checkpoint
from pmrr_model.estimators import BodyEstimates, Estimator
from pmrr_model.estimators.common import project
from pmrr_model.estimators.factory import EstimatorError, create_estimator
from pmrr_model.geometry import axis_angle_to_rotmat
from tests.images import carphone_frames, interview_frames, one_person_photo

MAX_ERROR = 0.05  # of the box height: the reprojection target


@pytest.fixture(scope="module")
def landmark_fit():
    return create_estimator("landmark-fit")


@pytest.fixture(scope="module")
def detector():
    from pmrr_model.detection import create_detector

    return create_detector("mediapipe")


@pytest.fixture(scope="module")
def photo(detector):
    name, image = one_person_photo()
    boxes, _ = detector.detect(image)
    assert len(boxes) == 1, name
    return image, boxes.astype(np.float64)


@pytest.fixture(scope="module")
def pmrr_checkpoint(tmp_path_factory):
    """Our own random weights, saved in the released ``{'model': state_dict}`` layout."""
    from pmrr_model.assets import resolve_assets
    from pmrr_model.network import build_pmrr

    torch.manual_seed(0)
    model = build_pmrr(resolve_assets())
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "test_weights.pt")


@pytest.fixture(scope="module")
def pmrr(pmrr_checkpoint):
    return create_estimator("pmrr", checkpoint=str(pmrr_checkpoint))


def reprojection_errors(bodies: BodyEstimates, targets, boxes: np.ndarray) -> np.ndarray:
    """Per person: mean distance of the fitted joints to their landmarks / box height."""
    out = []
    for i, target in enumerate(targets):
        used = target.weights2d > 0
        assert used.sum() >= 5, "too few landmarks to judge the fit"
        dist = np.linalg.norm(bodies.joints2d_px[i, :25][used] - target.joints2d_px[used], axis=1)
        out.append(dist.mean() / (boxes[i, 3] - boxes[i, 1]))
    return np.array(out)


def check_consistent(bodies: BodyEstimates, n: int, size: tuple[int, int], n_vertices: int):
    """Shapes of the contract, and the 2D joints are the 3D ones through the stated camera."""
    assert len(bodies) == n
    assert bodies.global_orient.shape == (n, 3) and bodies.body_pose.shape == (n, 69)
    assert bodies.betas.shape == (n, 10) and bodies.cam.shape == (n, 3)
    assert bodies.joints3d_m.shape == (n, 49, 3) and bodies.joints2d_px.shape == (n, 49, 2)
    assert bodies.vertices_m.shape == (n, n_vertices, 3)
    for array in (bodies.vertices_m, bodies.joints3d_m, bodies.transl_m, bodies.cam):
        assert np.isfinite(array).all()
    assert (bodies.transl_m[:, 2] > 0).all(), "people stand in front of the camera"
    np.testing.assert_allclose(
        bodies.joints2d_px, project(bodies.joints3d_m, bodies.focal_px, size), atol=0.05
    )
    assert bodies.assets.startswith(("standin:", "smpl:"))


def fraction_inside(points_px: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> float:
    """Of the mesh points that project into the image, the fraction inside ``box`` grown by 10 %
    of its height (points outside the image are body parts out of the frame: legs in a
    portrait, arms in a chest-up shot)."""
    height, width = size
    x, y = points_px[:, 0], points_px[:, 1]
    in_image = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    assert in_image.mean() > 0.2, "the mesh is hardly in the image at all"
    pad = 0.1 * (box[3] - box[1])
    inside = (x >= box[0] - pad) & (x <= box[2] + pad) & (y >= box[1] - pad) & (y <= box[3] + pad)
    return float(inside[in_image].mean())


def test_factory_builds_both_implementations(landmark_fit, pmrr):
    assert isinstance(landmark_fit, Estimator) and isinstance(pmrr, Estimator)
    assert landmark_fit.name == "landmark-fit" and pmrr.name == "pmrr:test_weights"
    assert pmrr.report.ok and not pmrr.report.missing


def test_landmark_fit_sits_on_the_real_person(landmark_fit, photo):
    image, boxes = photo
    bodies = landmark_fit.estimate(image, boxes)
    check_consistent(bodies, 1, image.shape[:2], landmark_fit.body_model.num_vertices)
    # confidence = mean visibility of the 21 targeted landmarks, the smaller of MediaPipe's two
    # passes (mirror consensus): 0.56 with one pass, 0.44 with both, because the hips below the
    # photo's edge drop from a guessed 0.78 to 0.3 and the wrists the passes place apart to 0
    assert bodies.estimator == "landmark-fit" and bodies.confidence[0] > 0.4
    errors = reprojection_errors(bodies, landmark_fit.last_targets, boxes)
    assert errors.max() < MAX_ERROR
    verts_px = project(bodies.vertices_m[0], bodies.focal_px, image.shape[:2])
    assert fraction_inside(verts_px, boxes[0], image.shape[:2]) > 0.9
    # The head is at the top: the nose (OP index 0) is above the mid-hip (OP index 8).
    assert bodies.joints2d_px[0, 0, 1] < bodies.joints2d_px[0, 8, 1]


def test_landmark_fit_two_people_get_separate_meshes(landmark_fit):
    from pmrr_model.detection import create_detector

    frame = interview_frames([30])[0]
    boxes, _ = create_detector("mediapipe").detect(frame)
    boxes = boxes[np.argsort(boxes[:, 0])].astype(np.float64)
    bodies = landmark_fit.estimate(frame, boxes)
    check_consistent(bodies, 2, frame.shape[:2], landmark_fit.body_model.num_vertices)
    assert reprojection_errors(bodies, landmark_fit.last_targets, boxes).max() < MAX_ERROR
    left, right = (project(v, bodies.focal_px, frame.shape[:2]) for v in bodies.vertices_m)
    # Each mesh covers its own person: the left one in the left image, the right one right.
    assert np.median(left[:, 0]) < 176 < 240 < np.median(right[:, 0])
    assert fraction_inside(left, boxes[0], frame.shape[:2]) > 0.9
    assert fraction_inside(right, boxes[1], frame.shape[:2]) > 0.9


def test_tracked_fit_stays_on_the_person(landmark_fit, detector):
    """Warm starts from the previous frame must not drift (with Adam restarting at the cold
    learning rate they did: 2 % -> 60 % of the box height within a few frames)."""
    landmark_fit.reset()
    transl = []
    for frame in carphone_frames(list(range(0, 24, 3))):
        boxes, _ = detector.detect(frame)
        boxes = boxes.astype(np.float64)
        bodies = landmark_fit.estimate(frame, boxes, track_ids=np.array([7]))
        assert reprojection_errors(bodies, landmark_fit.last_targets, boxes)[0] < MAX_ERROR
        transl.append(bodies.transl_m[0])
    landmark_fit.reset()
    steps = np.linalg.norm(np.diff(np.array(transl), axis=0), axis=1)
    assert steps.max() < 0.25, f"the body jumps between frames: {steps.round(2)}"


def test_sparse_joints_equal_the_body_models_49_joints(landmark_fit):
    """The mesh-free path (kinematic joints, keypoint vertices and J_regressor_extra's joints
    from the few vertices it weights) gives the full body model's 49 joints."""
    from pmrr_model.estimators.sparse_joints import SparseJoints

    body = landmark_fit.body_model
    gen = torch.Generator().manual_seed(0)
    betas = torch.randn(3, 10, generator=gen)
    pose = 0.4 * torch.randn(3, 69, generator=gen)
    orient = torch.randn(3, 3, generator=gen)
    with torch.no_grad():
        full = body(betas, pose, orient).joints
        sparse = SparseJoints(body, n_joints=49)(betas, pose, orient)
        first25 = SparseJoints(body)(betas, pose, orient)
    assert sparse.shape == (3, 49, 3)
    assert (full - sparse).abs().max() < 1e-5
    assert (full[:, :25] - first25).abs().max() < 1e-5
    # the 25-joint fitting path skins none of J_regressor_extra's vertices
    assert SparseJoints(body).v_template.shape[0] < SparseJoints(body, 49).v_template.shape[0]

    # with a map of the mesh (PMRR's inference: the points its mesh-aligned features read), its
    # points and the kinematic joints too, from the vertices the map weights
    n_verts = body.num_vertices
    mesh_map = torch.zeros(5, n_verts)
    mesh_map[torch.arange(5), torch.randint(n_verts, (5,), generator=gen)] = 1.0
    mesh_map[4, torch.randint(n_verts, (3,), generator=gen)] += 0.25  # not only a selection
    with_mesh = SparseJoints(body, n_joints=49, mesh_map=mesh_map)
    rot = axis_angle_to_rotmat(torch.cat([orient, pose], dim=1).reshape(3, 24, 3))
    with torch.no_grad():
        whole = body(betas, pose, orient)
        skinned = with_mesh.skin(betas, rot)
    assert (mesh_map @ whole.vertices - skinned.mesh).abs().max() < 1e-5
    assert (whole.smpl_joints - skinned.kinematic).abs().max() < 1e-5
    assert (full - skinned.joints).abs().max() < 1e-5
    assert with_mesh.v_template.shape[0] <= SparseJoints(body, 49).v_template.shape[0] + 8


def test_estimates_without_vertices_keep_the_same_joints(landmark_fit, pmrr, photo):
    """``with_vertices=False`` (the pipeline keeps no mesh) leaves the mesh out and nothing
    else: parameters and joints are those of the full evaluation."""
    image, boxes = photo
    for estimator in (landmark_fit, pmrr):
        estimator.reset()
        full = estimator.estimate(image, boxes)
        estimator.reset()
        (lean,) = estimator.estimate_batch([image], [boxes], with_vertices=False)
        estimator.reset()
        assert lean.vertices_m.shape == (1, 0, 3)
        assert full.vertices_m.shape[1] == estimator.body_model.num_vertices
        np.testing.assert_allclose(lean.body_pose, full.body_pose, atol=1e-6)
        np.testing.assert_allclose(lean.joints3d_m, full.joints3d_m, atol=1e-5)
        np.testing.assert_allclose(lean.joints2d_px, full.joints2d_px, atol=1e-3)
        np.testing.assert_allclose(lean.cam, full.cam, atol=1e-6)
    # PMRR's network skins only the vertices its mesh-aligned features and the joints read:
    # on the stand-in 742 of 13,348 (the 431 downsampled vertices are a selection)
    assert pmrr.predictor.sparse_body.v_template.shape[0] < pmrr.body_model.num_vertices / 10


def test_pmrr_without_vertices_keeps_the_networks_own_joints(pmrr, photo, monkeypatch):
    """The joints of ``with_vertices=False`` are those the network evaluated with its last
    estimate: no second body-model evaluation per frame (on a GPU a round trip a frame)."""
    image, boxes = photo

    def second_evaluation(*args):
        raise AssertionError("the joints were evaluated again")

    monkeypatch.setitem(pmrr.__dict__, "joints49", second_evaluation)
    frames = pmrr.estimate_batch([image, image], [boxes, boxes], with_vertices=False)
    final = pmrr.predictor.predict_final(
        np.stack([pmrr_crop(image, box, pmrr.rescale) for box in boxes]), with_vertices=False
    )
    for bodies in frames:
        np.testing.assert_allclose(
            bodies.joints3d_m - bodies.transl_m[:, None], final.joints.numpy(), atol=1e-6
        )


def test_pmrr_cuts_its_crops_when_it_observes(pmrr, photo):
    """The crops are cut in ``observe_batch``, which the estimate stage runs for the next chunk
    in a helper thread while the network runs on this one; finishing from them gives what
    ``estimate_batch`` gives."""
    image, boxes = photo
    observed = pmrr.observe_batch([image, image], [boxes, np.zeros((0, 4))])
    assert observed.crops.shape == (1, 224, 224, 3) and observed.crops.dtype == np.uint8
    np.testing.assert_array_equal(observed.crops[0], pmrr_crop(image, boxes[0], pmrr.rescale))
    got = pmrr.estimate_observed(observed, with_vertices=False)
    want = pmrr.estimate_batch([image, image], [boxes, np.zeros((0, 4))], with_vertices=False)
    assert [len(b) for b in got] == [1, 0]
    np.testing.assert_array_equal(got[0].joints2d_px, want[0].joints2d_px)


def pmrr_crop(image: np.ndarray, box: np.ndarray, rescale: float) -> np.ndarray:
    from pmrr_model.crop import box_to_center_scale, crop_image

    (center,), (scale,) = box_to_center_scale(box[None], rescale)
    return crop_image(image, center, scale)


def test_no_boxes_give_no_bodies(landmark_fit, pmrr, photo):
    image, _ = photo
    for estimator in (landmark_fit, pmrr):
        bodies = estimator.estimate(image, np.zeros((0, 4)))
        assert len(bodies) == 0 and bodies.vertices_m.shape[0] == 0


def test_pmrr_with_a_checkpoint_made_here(pmrr, photo):
    image, boxes = photo
    bodies = pmrr.estimate(image, boxes)
    check_consistent(bodies, 1, image.shape[:2], pmrr.body_model.num_vertices)
    assert bodies.estimator == "pmrr:test_weights"
    # The crop camera stored in the table is the network's own (through the full-image
    # translation and back), so the smpl table's cam means the same for both estimators.
    params, cam = pmrr.predict_params(image, boxes)
    np.testing.assert_allclose(bodies.cam, cam, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bodies.body_pose, params.body_pose, atol=1e-5)


def test_pmrr_estimator_runs_the_network_through_the_predictor(pmrr, photo, monkeypatch):
    """One inference path: the estimator's numbers are the predictor's on the seed's crops, and
    several frames go through the network in one call."""
    from pmrr_model.crop import box_to_center_scale, crop_image
    from pmrr_model.geometry import rotmat_to_axis_angle
    from pmrr_model.inference import PMRRPredictor

    image, boxes = photo
    assert isinstance(pmrr.predictor, PMRRPredictor) and pmrr.model is pmrr.predictor.model
    centers, scales = box_to_center_scale(boxes)
    crops = np.stack([crop_image(image, c, s) for c, s in zip(centers, scales, strict=True)])
    final = pmrr.predictor.predict_final(crops)
    params, cam = pmrr.predict_params(image, boxes)
    np.testing.assert_allclose(cam, final.cam.numpy(), atol=1e-6)
    np.testing.assert_allclose(params.betas, final.betas.numpy(), atol=1e-6)
    pose = rotmat_to_axis_angle(final.rotmat).reshape(-1, 72).numpy()
    np.testing.assert_allclose(params.body_pose, pose[:, 3:], atol=1e-5)

    calls = []
    original = pmrr.predictor.predict_final
    monkeypatch.setattr(
        pmrr.predictor, "predict_final", lambda c, **k: calls.append(len(c)) or original(c, **k)
    )
    frames = pmrr.estimate_batch([image, image, image], [boxes, np.zeros((0, 4)), boxes])
    assert calls == [2] and [len(b) for b in frames] == [1, 0, 1]
    np.testing.assert_allclose(frames[0].vertices_m, frames[2].vertices_m, atol=1e-6)


def test_pmrr_batches_people_and_frames(pmrr, photo):
    """Crops are independent: one batch of two equals two frames of one crop each. So the batch
    can be sized to the device (512 crops on a GPU) without changing a number."""
    from pmrr_model.estimators.pmrr_estimator import network_batch_size

    assert pmrr.batch_size == 32 == network_batch_size(torch.device("cpu"))
    assert network_batch_size(torch.device("cuda", 1)) == 512
    image, boxes = photo
    shrunk = boxes + np.array([10.0, 10.0, -10.0, -10.0])
    whole = pmrr.estimate(image, np.concatenate([boxes, shrunk]))
    assert not np.allclose(whole.vertices_m[0], whole.vertices_m[1]), "different crops"
    pmrr.batch_size = 1
    try:
        frames = pmrr.estimate_batch([image, image], [boxes, shrunk])
    finally:
        pmrr.batch_size = 32
    assert [len(b) for b in frames] == [1, 1]
    for i, bodies in enumerate(frames):
        np.testing.assert_allclose(bodies.vertices_m[0], whole.vertices_m[i], atol=1e-4)


def test_pmrr_rows_do_not_depend_on_the_chunk_size(pmrr, detector):
    """A GPU gets chunks of 256 frames where a CPU gets 32 (flows.config): PMRR's rows are the
    same either way. The two-person sample's first 24 frames as two shots, in chunks of 5
    (batches of up to 10 crops, split at the cut) and of 24."""
    from pmrr_interviews import samples
    from tasks import detection, tracking
    from tasks.inference import estimate_sequence
    from tasks.probe import probe_video
    from tasks.shots import Shot

    info = probe_video(str(samples.interview_clip(samples.cache_dir())))
    shots = [Shot(0, 0, 9), Shot(1, 10, 23)]
    found = detection.detect_people(info, detection.detection_frames(shots, 3), detector)
    tracked = tracking.track_detections(found, shots, info.fps, 3)
    small = estimate_sequence(info, tracked, pmrr, chunk_size=5)
    large = estimate_sequence(info, tracked, pmrr, chunk_size=24)
    assert len(small) == len(tracked) >= 40
    for name in ("frame", "track_id", "shot_id"):
        np.testing.assert_array_equal(getattr(small, name), getattr(large, name), err_msg=name)
    for name in ("body_pose", "betas", "transl_m"):  # measured 1.2e-7 apart at most
        np.testing.assert_allclose(getattr(small, name), getattr(large, name), atol=1e-5)
    np.testing.assert_allclose(small.joints2d_px, large.joints2d_px, atol=1e-3)  # pixels


def test_refined_pmrr_aligns_the_network_start(pmrr_checkpoint, photo):
    image, boxes = photo
    refined = create_estimator("pmrr", checkpoint=str(pmrr_checkpoint), refine=True)
    by_name = create_estimator("pmrr+fit", checkpoint=str(pmrr_checkpoint))  # the CLI's name
    assert type(by_name) is type(refined) and type(refined).__name__ == "RefinedPMRREstimator"
    bodies = refined.estimate(image, boxes)
    assert bodies.estimator == "pmrr:test_weights+landmark-fit"
    check_consistent(bodies, 1, image.shape[:2], refined.fit.body_model.num_vertices)
    assert reprojection_errors(bodies, refined.fit.last_targets, boxes).max() < MAX_ERROR


def test_wrong_checkpoints_and_names_fail_clearly(tmp_path, pmrr_checkpoint):
    with pytest.raises(CheckpointError, match="the pmrr estimator needs a checkpoint"):
        create_estimator("pmrr")
    with pytest.raises(CheckpointError, match=r"nope\.pt: checkpoint file not found"):
        create_estimator("pmrr", checkpoint=str(tmp_path / "nope.pt"))
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.pt: not a readable PyTorch checkpoint"):
        create_estimator("pmrr", checkpoint=str(text))
    other = tmp_path / "resnet_only.pt"
    state = torch.load(pmrr_checkpoint, weights_only=True)["model"]
    torch.save({"model": {k: v for k, v in state.items() if "regressor" not in k}}, other)
    with pytest.raises(CheckpointError, match=r"resnet_only\.pt: does not fit .*missing"):
        create_estimator("pmrr", checkpoint=str(other))
    with pytest.raises(EstimatorError, match=r"unknown estimator 'hmr'.*landmark-fit.*pmrr"):
        create_estimator("hmr")


def test_observed_joints_of_a_chest_up_view():
    """Shoulders, elbows and the face seen, hips and legs not: the torso joints between the
    shoulders count as seen, pelvis, spine and legs as inferred; the head's joints count when
    the face was seen even without the nose landmark."""
    from pmrr_model.constants import JOINT_NAMES
    from pmrr_model.estimators.landmark_targets import empty_targets, observed_joints

    t = empty_targets()
    for name in ("OP RShoulder", "OP LShoulder", "OP RElbow", "OP LElbow", "OP Nose", "OP LEye"):
        t.weights2d[JOINT_NAMES.index(name)] = 0.9
        t.seen2d[JOINT_NAMES.index(name)] = True
    t.weights2d[JOINT_NAMES.index("OP LWrist")] = 0.1  # a guess: fitted, never observed
    seen = dict(zip(JOINT_NAMES, observed_joints(t), strict=True))
    for name in ("Right Shoulder", "Left Elbow", "Neck (LSP)", "Thorax (MPII)", "OP Neck",
                 "Head (H36M)", "Nose", "Left Eye"):  # fmt: skip
        assert seen[name], name
    for name in ("Pelvis (MPII)", "Spine (H36M)", "Left Hip", "Right Knee", "OP MidHip",
                 "Left Wrist", "Right Ear", "OP RAnkle"):  # fmt: skip
        assert not seen[name], name
    t.weights2d[JOINT_NAMES.index("OP Nose")] = 0.0
    t.seen2d[JOINT_NAMES.index("OP Nose")] = False
    assert not observed_joints(t)[JOINT_NAMES.index("Jaw (H36M)")]
    t.head_weight = 1.0
    assert observed_joints(t)[JOINT_NAMES.index("Jaw (H36M)")]


def test_a_head_without_body_landmarks_is_still_a_target():
    """A face Face Mesh read where Pose found nobody: the head's orientation is a target (in the
    camera frame) and the head counts as observed, nothing else does."""
    from pmrr_model.constants import JOINT_NAMES
    from pmrr_model.detection.face_pose import HeadPose
    from pmrr_model.estimators.landmark_targets import build_targets, observed_joints

    centre = np.array([320.0, 240.0])  # on the optical axis: no ray rotation
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    t = build_targets(None, (480, 640), 500.0, centre, head=HeadPose(rot, centre, 0.8))
    np.testing.assert_allclose(t.head_rotation, rot, atol=1e-9)
    assert t.head_weight == 0.8 and not t.weights2d.any() and t.confidence == 0.0
    seen = dict(zip(JOINT_NAMES, observed_joints(t), strict=True))
    assert seen["Head (H36M)"] and seen["Jaw (H36M)"]
    assert sum(seen.values()) == 6, [n for n, v in seen.items() if v]  # the head's six joints


def test_low_visibility_landmarks_are_weak_guesses_never_observed():
    """A landmark MediaPipe places with low visibility, both mirror passes agreeing, is a weak
    target (GUESSED_WEIGHT) and not observed; one the passes disagree on (visibility 0) or outside
    the box is no target; a limb end below a guessed joint is at most a guess itself."""
    from pmrr_model.constants import JOINT_NAMES
    from pmrr_model.detection.landmarks import MP, PoseLandmarks
    from pmrr_model.estimators.landmark_targets import (
        GUESSED_WEIGHT,
        build_targets,
        observed_joints,
    )

    px = np.full((33, 2), 100.0)
    vis = np.full(33, 0.9)
    vis[MP["left_elbow"]] = 0.3  # hidden behind the body: a guess
    vis[MP["right_elbow"]] = 0.0  # the two passes disagree: invented
    vis[MP["left_hip"]] = vis[MP["right_hip"]] = 0.2
    px[MP["left_knee"]] = (500.0, 100.0)  # outside the person's box
    lm = PoseLandmarks(px, vis, np.zeros((33, 3)))
    t = build_targets(lm, (480, 640), 500.0, np.array([100.0, 100.0]),
                      box_xyxy=np.array([0.0, 0.0, 200.0, 200.0]))  # fmt: skip

    def w(name: str) -> float:
        return float(t.weights2d[JOINT_NAMES.index(name)])

    assert w("OP LShoulder") == pytest.approx(0.9) and w("OP LElbow") == GUESSED_WEIGHT
    assert w("OP LWrist") == GUESSED_WEIGHT  # seen (0.9) but hangs from a guessed elbow
    assert w("OP RElbow") == 0.0 and w("OP RWrist") == 0.0  # invented elbow: chain broken
    assert w("OP LHip") == GUESSED_WEIGHT and w("OP LKnee") == 0.0  # knee outside the box
    seen = dict(zip(JOINT_NAMES, observed_joints(t), strict=True))
    assert seen["Left Shoulder"] and seen["Neck (LSP)"]
    for name in ("Left Elbow", "Left Wrist", "Right Elbow", "Left Hip", "Pelvis (MPII)"):
        assert not seen[name], name


def test_joints_in_view_is_the_box_and_the_image():
    from pmrr_model.estimators.base import joints_in_view

    pts = np.array([[[10.0, 10.0], [50.0, 50.0], [700.0, 50.0], [50.0, -5.0]]])
    box = np.array([[0.0, -20.0, 800.0, 60.0]])  # reaches past the image on two sides
    assert joints_in_view(pts, box, (360, 640)).tolist() == [[True, True, False, False]]
