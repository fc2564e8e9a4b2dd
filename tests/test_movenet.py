"""MoveNet Thunder for photos: the TF.js graph runner against TensorFlow's own numbers, mirror
symmetry, its limb joints on a real photo, damaged files named, and the photo path using it
while videos do not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pmrr_model.detection import movenet
from pmrr_model.detection.tfjs_graph import TfjsGraph, TfjsModelError
from tests.images import astronaut

#: TensorFlow 2.21's output (y, x, score per COCO keypoint) for scikit-image's astronaut taken
#: every second pixel (256 x 256), the graph imported into TensorFlow from the same two files
#: (measured 2026-12-07; the runner agreed to 8.6e-7)
TENSORFLOW_ASTRONAUT = np.array([
    [0.24, 0.43741, 0.6005], [0.19952, 0.48256, 0.58864], [0.19812, 0.39945, 0.83637],
    [0.2298, 0.53701, 0.75679], [0.21939, 0.3459, 0.65813], [0.53742, 0.62662, 0.80804],
    [0.52393, 0.20173, 0.84863], [0.79795, 0.65456, 0.19157], [0.82609, 0.12748, 0.59999],
    [0.97343, 0.57931, 0.1401], [0.96948, 0.27341, 0.48361], [0.98959, 0.52731, 0.28828],
    [0.9765, 0.32578, 0.32545], [0.97357, 0.97229, 0.07628], [0.92008, 0.2282, 0.00754],
    [1.02278, 0.39782, 0.00362], [1.00752, 0.34622, 0.0078],
])  # fmt: skip
#: her box as the default detector finds it (photo setting), rounded
ASTRONAUT_BOX = np.array([28.0, 21.0, 337.0, 512.0])


@pytest.fixture(scope="module")
def model_dir() -> Path:
    if not movenet.installed():
        pytest.skip(
            f"MoveNet is not installed in {movenet.model_dir()}: scripts/install_movenet.sh"
        )
    return movenet.model_dir()


@pytest.fixture(scope="module")
def thunder(model_dir: Path) -> movenet.MoveNet:
    return movenet.MoveNet(model_dir)


def test_the_runner_reproduces_tensorflow(thunder: movenet.MoveNet) -> None:
    image = np.ascontiguousarray(astronaut()[::2, ::2]).astype(np.int32)[None]
    out = thunder.graph.run(image)
    assert out.shape == (1, 1, 17, 3)
    np.testing.assert_allclose(out[0, 0], TENSORFLOW_ASTRONAUT, atol=2e-5)


def test_a_photo_and_its_mirror_give_mirrored_keypoints(thunder: movenet.MoveNet) -> None:
    image = astronaut()
    width = image.shape[1]
    found = thunder.keypoints(image, ASTRONAUT_BOX)
    x0, y0, x1, y1 = ASTRONAUT_BOX
    mirror_box = np.array([width - x1, y0, width - x0, y1])
    mirrored = thunder.keypoints(np.ascontiguousarray(image[:, ::-1]), mirror_box)
    back = mirrored.points_px[list(movenet.MIRRORED)].copy()
    back[:, 0] = width - back[:, 0]
    # pixels, of a 512-pixel photo (0.04 measured; one pixel off before the crop's half-pixel fix)
    np.testing.assert_allclose(back, found.points_px, atol=0.1)
    np.testing.assert_allclose(mirrored.scores[list(movenet.MIRRORED)], found.scores, atol=0.005)


def test_the_astronauts_limbs(thunder: movenet.MoveNet) -> None:
    """Waist-up portrait, facing the camera: shoulders and her raised right elbow are seen
    where they are, on the correct sides; knees and ankles, outside the photo, are not."""
    found = thunder.keypoints(astronaut(), ASTRONAUT_BOX)
    at = {name: (found.points_px[k], found.scores[k]) for k, name in enumerate(movenet.KEYPOINTS)}
    for name in ("left_shoulder", "right_shoulder", "nose"):
        assert at[name][1] > 0.5, name
    # facing the camera: her left shoulder is on the photo's right, both well below her nose
    assert at["left_shoulder"][0][0] - at["right_shoulder"][0][0] > 150
    assert min(at["left_shoulder"][0][1], at["right_shoulder"][0][1]) > at["nose"][0][1] + 100
    for name in ("left_knee", "right_knee", "left_ankle", "right_ankle"):
        assert at[name][1] < 0.1, name


def test_damaged_files_are_named(model_dir: Path, tmp_path: Path) -> None:
    for name in movenet.FILES:
        shutil.copy(model_dir / name, tmp_path / name)
    weights = tmp_path / "movenet-thunder.bin"
    weights.write_bytes(weights.read_bytes()[:-1000])
    with pytest.raises(TfjsModelError, match="movenet-thunder.bin: not the file"):
        movenet.MoveNet(tmp_path)
    with pytest.raises(TfjsModelError, match="movenet-thunder.bin: shorter than its manifest"):
        TfjsGraph(tmp_path / "movenet-thunder.json")
    model = json.loads((tmp_path / "movenet-thunder.json").read_text())
    model["modelTopology"]["node"][5]["op"] = "NonMaxSuppressionV5"
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(model))
    with pytest.raises(TfjsModelError, match=r"odd.json: operations not implemented here: \['Non"):
        TfjsGraph(odd)
    with pytest.raises(TfjsModelError, match="missing.json: model file not found"):
        TfjsGraph(tmp_path / "missing.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not movenet.installed(empty)
    with pytest.raises(TfjsModelError, match="movenet-thunder.json: not found; install it with"):
        movenet.MoveNet(empty)


def test_photos_fit_movenets_limbs_and_videos_do_not(thunder: movenet.MoveNet) -> None:
    from pmrr_model.estimators.factory import create_estimator
    from pmrr_model.estimators.landmark_targets import (
        JOINT_OF_MP,
        LIMB_KEYPOINT_MIN_SCORE,
        LIMB_LANDMARKS,
    )

    assert create_estimator("landmark-fit").name == "landmark-fit"  # videos: MediaPipe alone
    photos = create_estimator("landmark-fit", photos=True)
    image = astronaut()
    bodies = photos.estimate(image, ASTRONAUT_BOX[None])
    assert bodies.estimator == "landmark-fit+movenet"
    found = thunder.keypoints(image, ASTRONAUT_BOX)
    targets = photos.last_targets[0]
    used = 0
    for name in LIMB_LANDMARKS:
        k, op = movenet.KEYPOINTS.index(name), JOINT_OF_MP[name]
        if found.scores[k] >= LIMB_KEYPOINT_MIN_SCORE:
            np.testing.assert_allclose(targets.joints2d_px[op], found.points_px[k])
            assert targets.seen2d[op] and targets.weights2d[op] >= found.scores[k]
            used += 1
    assert used >= 4  # shoulders, the raised elbow and wrist at least


def test_a_person_read_facing_the_other_way_is_named_by_movenet(
    thunder: movenet.MoveNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MediaPipe reads some people seen from behind as facing the camera, every left point
    named right; MoveNet's sides win (:func:`facing_reversed`), so the photo fit gets the
    body it gets from correctly named landmarks. Simulated on the astronaut by renaming
    MediaPipe's sides before the targets are built."""
    import pmrr_model.estimators.landmark_fit as landmark_fit
    from pmrr_model.estimators.factory import create_estimator
    from pmrr_model.estimators.landmark_targets import facing_reversed

    image = astronaut()
    found = thunder.keypoints(image, ASTRONAUT_BOX)
    photos = create_estimator("landmark-fit", photos=True)
    read = []
    owned = landmark_fit.first_owned
    monkeypatch.setattr(landmark_fit, "first_owned", lambda *a: read.append(owned(*a)) or read[-1])
    right = photos.estimate(image, ASTRONAUT_BOX[None])
    size = float(np.max(ASTRONAUT_BOX[2:] - ASTRONAUT_BOX[:2]))
    assert not facing_reversed(read[0], found, size)
    wrong = read[0].relabelled()
    assert facing_reversed(wrong, found, size)
    np.testing.assert_array_equal(wrong.relabelled().image_px, read[0].image_px)

    monkeypatch.setattr(landmark_fit, "first_owned", lambda *a: owned(*a).relabelled())
    renamed = photos.estimate(image, ASTRONAUT_BOX[None])
    np.testing.assert_allclose(renamed.joints2d_px, right.joints2d_px, atol=1e-6)
    np.testing.assert_allclose(renamed.joints3d_m, right.joints3d_m, atol=1e-9)


def test_facing_needs_both_sides_of_a_pair_apart() -> None:
    """No decision from a pair MoveNet does not score on both sides, nor in profile, where the
    two sides nearly coincide and the exchanged pairing is not nearer by a tenth of the
    person's size; every scored pair must be exchanged."""
    from pmrr_model.detection.landmarks import MP, PoseLandmarks
    from pmrr_model.estimators.landmark_targets import facing_reversed

    def reads(mp_x: tuple[float, float], movenet_x: tuple[float, float], score: float = 0.9):
        image, points, scores = np.zeros((33, 2)), np.zeros((17, 2)), np.zeros(17)
        for side, a, b in zip(("left", "right"), mp_x, movenet_x, strict=True):
            for y, joint in ((50.0, "shoulder"), (120.0, "hip")):
                image[MP[f"{side}_{joint}"]] = (a, y)
                k = movenet.KEYPOINTS.index(f"{side}_{joint}")
                points[k], scores[k] = (b, y), score
        return PoseLandmarks(image, np.ones(33), np.zeros((33, 3))), movenet.Keypoints(
            points, scores
        )

    size = 100.0  # the person's box
    assert facing_reversed(*reads((100.0, 60.0), (60.0, 100.0)), size)
    assert not facing_reversed(*reads((100.0, 60.0), (100.0, 60.0)), size)
    assert not facing_reversed(*reads((100.0, 60.0), (60.0, 100.0), score=0.2), size)
    assert not facing_reversed(*reads((82.0, 78.0), (79.0, 83.0)), size)  # profile
    landmarks, keypoints = reads((100.0, 60.0), (60.0, 100.0))
    for side, x in (("left", 100.0), ("right", 60.0)):  # hips as named, shoulders exchanged
        keypoints.points_px[movenet.KEYPOINTS.index(f"{side}_hip"), 0] = x
    assert not facing_reversed(landmarks, keypoints, size)
