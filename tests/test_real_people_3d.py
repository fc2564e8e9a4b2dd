"""The tables of ``benchmarks/real_people.py``: in 2D, the found people's fitted joints and the
landmarks they were fitted to, each scored; in 3D, motion-capture joints read in each set's
order, the frame's person found by its 2D joints, and errors that are zero exactly when they
should be.

The ground truth here is the pipeline's own body on a real photo, written in Human3.6M's and
MPI-INF-3DHP's joint orders (the layouts of SPIN's preprocessed files), then moved: a reader
that took a joint from the wrong place, or a score that did not align what it says it aligns,
gives a non-zero error."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.images import one_person_photo

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "real_people", ROOT / "benchmarks" / "real_people.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models():
    from pmrr_model.detection import create_detector
    from pmrr_model.estimators.factory import create_estimator

    return create_detector("mediapipe"), create_estimator("landmark-fit")


@pytest.fixture(scope="module")
def photo(tmp_path_factory, models):
    """A real photo saved losslessly, and the pipeline's limb joints on it (LIMBS order)."""
    name, image = one_person_photo()
    folder = tmp_path_factory.mktemp("sets")
    path = folder / f"{name}.png"
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    detector, estimator = models
    boxes, _ = detector.detect(image)
    assert len(boxes) >= 1
    bodies = estimator.estimate(image, boxes)
    return folder, path.name, bodies.joints2d_px[0], bodies.joints3d_m[0].astype(np.float64)


def write_set(bench, folder: Path, name: str, imgname: str, joints2d, limbs3d, n_joints: int):
    """One-frame npz of set ``name`` in its own joint order: ``part`` and ``S`` hold the given
    limb joints where the set's order puts them, zeros (unannotated) elsewhere."""
    relative, order = bench.SETS_3D[name][0][0], bench.SETS_3D[name][1]
    part, s = np.zeros((1, n_joints, 3)), np.zeros((1, n_joints, 4))
    for k, limb in enumerate(bench.LIMBS):
        part[0, order[limb]] = (*joints2d[bench.OURS[limb]], 1.0)
        s[0, order[limb]] = (*limbs3d[k], 1.0)
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / imgname).write_bytes((folder / imgname).read_bytes())
    np.savez(
        path, imgname=np.array([imgname]), part=part, S=s,
        center=np.zeros((1, 2)), scale=np.ones(1),
    )  # fmt: skip


@pytest.mark.parametrize(("name", "n_joints"), [("h36m", 24), ("mpi_inf_3dhp", 17)])
def test_own_body_scores_zero_and_a_moved_joint_does_not(bench, models, photo, name, n_joints):
    folder, imgname, joints2d, joints3d = photo
    ours = joints3d[bench.OURS_3D]
    # the truth is our body turned 30 degrees, scaled by 1.1 and moved: PA-MPJPE aligns that away
    turn = cv2.Rodrigues(np.array([0.0, np.radians(30.0), 0.0]))[0]
    truth = 1.1 * ours @ turn.T + np.array([0.2, -0.1, 0.5])
    write_set(bench, folder, name, imgname, joints2d, truth, n_joints)
    frames = bench.load_3d(folder, name)
    assert len(frames) == 1 and frames[0].visible3d.all()
    np.testing.assert_allclose(frames[0].joints3d, truth)

    scores = bench.evaluate_3d(frames, *models)
    assert scores["pa"][0] == pytest.approx(0.0, abs=1e-3)  # mm
    assert scores["mpjpe"][0] > 50.0  # the turn is not taken out by centring the hips
    assert bench.definition_floor(frames)[0] < 10.0  # the body model reaches its own joints

    # one wrist 0.3 m off: about 0.3 m / 12 joints after the best alignment, well above zero
    truth[bench.LIMBS.index("l_wrist")] += (0.0, 0.0, 0.3)
    write_set(bench, folder, name, imgname, joints2d, truth, n_joints)
    moved = bench.evaluate_3d(bench.load_3d(folder, name), *models)
    assert 10.0 < moved["pa"][0] < 60.0


def test_a_missed_person_is_nan_and_counted_as_not_found(bench, models, photo, capsys):
    folder, imgname, joints2d, joints3d = photo
    far = joints2d + 1000.0  # annotated where nobody is
    write_set(bench, folder, "h36m", imgname, far, joints3d[bench.OURS_3D], 24)
    scores = bench.evaluate_3d(bench.load_3d(folder, "h36m"), *models)
    assert np.isnan(scores["pa"][0]) and np.isnan(scores["mpjpe"][0])
    bench.print_3d([("h36m", {**scores, "floor": [20.0]})])
    assert "| h36m | 1 | 0 | nan | nan | 20 |" in capsys.readouterr().out


def test_human36m_order_is_the_seeds_24_joint_block(bench):
    """SPIN's preprocessed Human3.6M files hold the 24 joints the seed's 49 end with, in that
    order: each limb's index there is its name's place in that block of JOINT_NAMES."""
    from pmrr_model.constants import JOINT_NAMES

    order = bench.SETS_3D["h36m"][1]
    for limb, ours in zip(bench.LIMBS, bench.OURS_3D, strict=True):
        assert order[limb] == ours - 25, limb
        assert JOINT_NAMES[ours].lower().replace(" ", "_")[0] == limb[0]  # right/left kept


def test_a_file_without_the_layout_is_refused_naming_it(bench, tmp_path):
    path = tmp_path / "h36m" / "test_h36m.npz"
    path.parent.mkdir()
    np.savez(path, imgname=np.array(["a.jpg"]), part=np.zeros((1, 24, 3)))
    with pytest.raises(ValueError, match=r"test_h36m.npz: no \['S'\]"):
        bench.load_3d(tmp_path, "h36m")
    np.savez(path, imgname=np.array(["a.jpg"]), part=np.zeros((1, 24, 3)), S=np.zeros((1, 24, 3)))
    with pytest.raises(ValueError, match="test_h36m.npz: S is"):
        bench.load_3d(tmp_path, "h36m")


def test_found_people_are_scored_on_fitted_joints_and_on_their_landmarks(bench, models, photo):
    """The 2D table's two found-people columns: annotated exactly on the fitted joints, the fit
    scores 1.0; annotated on the landmarks the fit was given, the landmarks do. Each annotation
    is then wrong for the other wherever the two differ by more than the PCK radius."""
    folder, imgname, joints2d, _ = photo
    detector, estimator = models
    image = cv2.cvtColor(cv2.imread(str(folder / imgname)), cv2.COLOR_BGR2RGB)
    fitted, _ = bench.found_limbs(image, detector, estimator)
    landmarks = bench.landmark_limbs(estimator, len(fitted))
    assert landmarks is not None and landmarks.shape == fitted.shape
    seen = np.isfinite(landmarks[0]).all(axis=1)
    assert seen.sum() >= bench.MIN_LIMB_JOINTS
    size = float(np.ptp(fitted[0][seen], axis=0).max())
    tallies = {}
    for name, truth in (("fit", fitted[0]), ("landmarks", landmarks[0])):
        person = bench.Person(np.where(seen[:, None], truth, 0.0), seen.copy(), size)
        tally = bench.Tally()
        bench.evaluate([bench.Photo(folder / imgname, [person], True)], *models, tally)
        assert tally.found == 1 and tally.found_joints == seen.sum()
        tallies[name] = tally
    assert tallies["fit"].found_right == seen.sum()
    assert tallies["landmarks"].found_right_landmarks == seen.sum()
    apart = np.linalg.norm(fitted[0] - landmarks[0], axis=1)[seen] >= bench.PCK_RADIUS * size
    assert tallies["fit"].found_right_landmarks == seen.sum() - apart.sum()
    assert tallies["landmarks"].found_right == seen.sum() - apart.sum()


def test_your_own_coco_file_is_read_as_coco_lays_it_out(bench, tmp_path):
    """``--coco FILE --images DIR``: COCO's 17 keypoints in its order, crowd regions and photos
    without a person with 6 visible limb joints left out, ``--limit`` photos, no precision;
    a file that is not one is named."""

    def person(image_id, visible_limbs, crowd=0):
        kp = np.zeros((17, 3))
        kp[:, :2] = np.arange(34).reshape(17, 2) + 10.0  # x, y distinct per keypoint
        kp[5 : 5 + visible_limbs, 2] = 2
        return {"image_id": image_id, "keypoints": kp.ravel().tolist(), "iscrowd": crowd, "id": 0}

    images = [{"id": i, "file_name": f"{i}.jpg"} for i in (1, 2, 3, 4)]
    annotations = [person(1, 6), person(2, 5), person(3, 12), person(4, 12, crowd=1)]
    path = tmp_path / "keypoints.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    photos = bench.load_coco_file(path, tmp_path / "imgs")
    assert [p.path.name for p in photos] == ["1.jpg", "3.jpg"]  # 5 limbs too few; 4 is a crowd
    assert all(not p.complete for p in photos)
    first = photos[0].people[0]
    # COCO's left shoulder is keypoint 5 (x 20, y 21), its right shoulder 6 (x 22, y 23)
    assert first.limbs[bench.LIMBS.index("l_shoulder")].tolist() == [20.0, 21.0]
    assert first.limbs[bench.LIMBS.index("r_shoulder")].tolist() == [22.0, 23.0]
    assert first.visible.sum() == 6
    assert len(bench.load_coco_file(path, tmp_path, limit=1)) == 1
    annotations[0]["keypoints"] = annotations[0]["keypoints"][:-3]
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    with pytest.raises(ValueError, match="keypoints.json: annotation 0 has 16 keypoints"):
        bench.load_coco_file(path, tmp_path)
    path.write_text("[]")
    with pytest.raises(ValueError, match="keypoints.json: not a COCO keypoints file"):
        bench.load_coco_file(path, tmp_path)
    with pytest.raises(ValueError, match="missing.json: file not found"):
        bench.load_coco_file(tmp_path / "missing.json", tmp_path)
