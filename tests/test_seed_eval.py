"""``pmrr eval --dataset 3dpw|h36m|coco|synthetic``: the seed's protocols on fakes in the seed's
exact file layout (and on a set generated here), end to end through the CLI with an initial-weights PMRR checkpoint, against numbers worked
out by hand; the metric stage on known inputs; bad input fails naming the file and the problem.

The end-to-end fixtures write the network's own estimate (made here, from the same crops) as the
ground truth, then perturb it by known amounts, so every expected number follows from arithmetic.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.transform import Rotation

from pmrr_interviews.cli import main
from pmrr_model.assets import standin_assets
from pmrr_model.checkpoint import save_checkpoint
from pmrr_model.constants import H36M_TO_J14, J24_TO_J14, J24_TO_JCOCO
from pmrr_model.crop import crop_image
from pmrr_model.evaluation import coco_ap, seed_eval
from pmrr_model.inference import PMRRPredictor
from pmrr_model.network import build_pmrr

FEMALE_SHIFT = np.array([0.0, 0.03, 0.04])  # SMPL_FEMALE = SMPL_MALE moved by 5 cm
NAMES_3D = ["imageFiles/seq_a/image_00000.png", "imageFiles/seq_a/image_00001.png",
            "imageFiles/seq_b/image_00000.png"]  # fmt: skip
NAMES_COCO = [f"val2014/COCO_val2014_{i:012d}.png" for i in (1, 2, 3)]
CENTERS = np.array([[160.0, 120.0], [150.0, 130.0], [170.0, 110.0]])
SCALES = np.array([1.1, 1.0, 0.9])


def _image(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((240, 320, 3), 90, np.uint8)
    cv2.rectangle(image, (130, 40), (190, 200), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    cv2.circle(image, (160, 30), 18, (230, 200, 170), -1)
    return image


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("seed_eval")
    assets = standin_assets()
    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_pmrr(assets), root / "PMRR_checkpoint.pt")
    images = root / "images"
    crops = []
    for i, name in enumerate(NAMES_3D + NAMES_COCO):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        rgb = _image(i % 3)
        cv2.imwrite(str(images / name), rgb[:, :, ::-1])
        crops.append(crop_image(rgb, CENTERS[i % 3], SCALES[i % 3]))
    # The network's estimate on the three crops (identical images for 3D and COCO names).
    pred = PMRRPredictor(assets, checkpoint).predict_final(np.stack(crops[:3]))
    data = root / "data"
    (data / "dataset_extras").mkdir(parents=True)
    (data / "smpl").mkdir()
    with open(assets.smpl_dir / "SMPL_NEUTRAL.pkl", "rb") as handle:
        model = pickle.load(handle, encoding="latin1")  # the project's own generated stand-in
    with open(data / "smpl" / "SMPL_MALE.pkl", "wb") as handle:
        pickle.dump(model, handle)
    model["v_template"] = model["v_template"] + FEMALE_SHIFT
    with open(data / "smpl" / "SMPL_FEMALE.pkl", "wb") as handle:
        pickle.dump(model, handle)
    return {
        "root": root,
        "assets": assets,
        "checkpoint": checkpoint,
        "images": images,
        "data": data,
        "pred": pred,
        "j_regressor": np.load(assets.j_regressor_h36m),
    }


def _run(world, dataset: str, out: Path, *extra: str) -> int:
    return main(
        ["eval", "--dataset", dataset, "--checkpoint", str(world["checkpoint"]),
         "--data-dir", str(world["data"]), "--images", str(world["images"]), "--out", str(out),
         "--batch-size", "2", "--quiet", *extra]
    )  # fmt: skip


def _read(out: Path) -> tuple[dict, pd.DataFrame]:
    result = json.loads(out.read_text())
    return result, pd.read_parquet(result["per_sample"])


def test_synthetic_set_end_to_end(world, tmp_path, capsys):
    """``--dataset synthetic`` on a set written by ``pmrr train --make-synthetic``: as generated
    the initial network is far off; with the network's own estimate written as the ground truth
    every error is zero; a set made with another body model is refused naming its manifest."""
    from pmrr_model.training.synthetic import make_synthetic_set

    made = make_synthetic_set(tmp_path / "set", n_train=2, n_val=3, seed=0, assets=world["assets"])
    args = ["eval", "--dataset", "synthetic", "--checkpoint", str(world["checkpoint"]),
            "--data-dir", str(tmp_path / "set"), "--batch-size", "2", "--quiet"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "as_made.json")]) == 0
    result, samples = _read(tmp_path / "as_made.json")
    assert result["n_samples"] == 3 and result["gt_body_model"].startswith("the set's own")
    assert list(samples["gender"]) == ["neutral"] * 3
    assert (samples["pa_mpjpe_mm"] > 20).all() and (
        samples["pve_mm"] > samples["mpjpe_mm"] / 2
    ).all()

    with np.load(made["val"]) as archive:
        arrays = dict(archive)
    folder = made["val"].parent
    crops = np.stack([
        crop_image(cv2.imread(str(folder / name))[:, :, ::-1], c, s)
        for name, c, s in zip(arrays["imgname"], arrays["center"], arrays["scale"], strict=True)
    ])  # fmt: skip
    pred = PMRRPredictor(world["assets"], world["checkpoint"]).predict_final(crops)
    arrays["pose"] = pred.axis_angle.numpy().astype(np.float64)
    arrays["shape"] = pred.betas.numpy().astype(np.float64)
    np.savez(made["val"], **arrays)
    assert main([*args, "--out", str(tmp_path / "own.json")]) == 0
    _, samples = _read(tmp_path / "own.json")
    for column in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "pve_root_mm"):
        np.testing.assert_allclose(samples[column], 0, atol=0.05)

    manifest = tmp_path / "set" / "synthetic.json"
    manifest.write_text(manifest.read_text().replace(world["assets"].describe(), "smpl:other"))
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "refused.json")]) == 2
    err = capsys.readouterr().err
    assert str(manifest) in err and "smpl:other" in err
    assert not (tmp_path / "refused.json").exists()


def test_seed_joint_maps():
    """The index maps, as written in the seed's core/constants.py."""
    assert H36M_TO_J14 == (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)
    assert J24_TO_J14 == (*range(13), 18)
    assert J24_TO_JCOCO == (19, 20, 21, 22, 23, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0)


# ---------------------------------------------------------------- end to end, through the CLI


def test_3dpw_end_to_end(world, tmp_path):
    pred = world["pred"]
    imgname = np.empty(3, dtype=object)  # as SPIN writes it: a pickled object array of str
    imgname[:] = NAMES_3D
    np.savez(
        world["data"] / "dataset_extras" / "3dpw_test.npz",
        imgname=imgname, center=CENTERS, scale=SCALES,
        pose=pred.axis_angle.numpy().astype(np.float64), shape=pred.betas.numpy(),
        gender=np.array(["m", "f", "m"]),
    )  # fmt: skip
    out = tmp_path / "3dpw.json"
    assert _run(world, "3dpw", out) == 0
    result, samples = _read(out)
    assert result["n_samples"] == 3 and result["gt_body_model"].startswith("gendered")
    # Same pose and shape: the male (= neutral) sample meshes coincide; the female one is the
    # same mesh moved by FEMALE_SHIFT (5 cm): the seed's unaligned PVE sees it, the root-aligned
    # one and the pelvis-centred joints do not.
    np.testing.assert_allclose(samples["mpjpe_mm"], 0, atol=0.05)
    np.testing.assert_allclose(samples["pa_mpjpe_mm"], 0, atol=0.05)
    np.testing.assert_allclose(samples["pve_mm"], [0, 50, 0], atol=0.05)
    np.testing.assert_allclose(samples["pve_root_mm"], 0, atol=0.05)
    assert list(samples["gender"]) == ["m", "f", "m"]
    assert result["metrics"]["pve_mm"] == pytest.approx(50 / 3, abs=0.05)


def test_h36m_end_to_end(world, tmp_path):
    verts = world["pred"].vertices.numpy().astype(np.float64)
    h36m = np.einsum("jv,bvc->bjc", world["j_regressor"], verts)
    pred14 = h36m[:, list(H36M_TO_J14)] - h36m[:, [0]]  # the seed: centre on H36M joint 0
    rot = Rotation.from_euler("y", 30, degrees=True).as_matrix()
    gt14 = pred14.copy()
    gt14[1] = 1.1 * pred14[1] @ rot.T  # similarity: PA-MPJPE 0
    gt14[2, 0] += [0.0, 0.14, 0.0]  # one joint 14 cm off: MPJPE 10 mm
    S = np.zeros((3, 24, 4))
    S[:, list(J24_TO_J14), :3] = gt14
    S[:, list(J24_TO_J14), 3] = 1
    np.savez(
        world["data"] / "dataset_extras" / "h36m_valid_protocol2.npz",
        imgname=np.array(NAMES_3D), center=CENTERS, scale=SCALES, S=S,
    )  # fmt: skip
    out = tmp_path / "h36m.json"
    assert _run(world, "h36m", out) == 0
    result, samples = _read(out)
    expected_mpjpe = [0, 1000 * np.linalg.norm(gt14[1] - pred14[1], axis=1).mean(), 10]
    np.testing.assert_allclose(samples["mpjpe_mm"], expected_mpjpe, atol=0.02)
    np.testing.assert_allclose(samples["pa_mpjpe_mm"][:2], 0, atol=0.02)
    # Procrustes minimises the squared error (at most the 14 cm joint's), not the mean distance:
    # the RMS bound is 140 / sqrt(14) mm.
    assert 0.5 < samples["pa_mpjpe_mm"][2] < 140 / np.sqrt(14)
    assert result["metrics"]["pve_mm"] is None and "PVE" in result["note"]


def test_coco_end_to_end(world, tmp_path):
    pred = world["pred"]
    # The seed's projection, written out: last 24 joints -> COCO order, perspective camera
    # (focal 5000, z = 2 f / (224 s)), crop pixels -> image pixels.
    joints = pred.joints.numpy().astype(np.float64)[:, -24:][:, list(J24_TO_JCOCO)]
    s, tx, ty = pred.cam.numpy().astype(np.float64).T
    z = joints[..., 2] + (2 * 5000 / (224 * s))[:, None]
    crop_x = 5000 * (joints[..., 0] + tx[:, None]) / z + 112
    crop_y = 5000 * (joints[..., 1] + ty[:, None]) / z + 112
    side = 200 * SCALES[:, None]
    truth = np.stack(
        [
            CENTERS[:, [0]] + (crop_x - 112) * side / 224,
            CENTERS[:, [1]] + (crop_y - 112) * side / 224,
        ],
        axis=-1,
    )
    truth[2] += 100.0  # image 3's person is annotated elsewhere: a false positive and a miss
    annotations = _coco_file(tmp_path / "annotations" / coco_ap_name(), truth, area=20000.0)
    np.savez(
        world["data"] / "dataset_extras" / "coco_2014_val.npz",
        imgname=np.array(NAMES_COCO), center=CENTERS, scale=SCALES,
    )  # fmt: skip
    out = tmp_path / "coco.json"
    assert _run(world, "coco", out, "--annotations", str(annotations)) == 0
    result, samples = _read(out)
    # Scores all 1; pycocotools orders ties by image id: TP, TP, FP of 3 people -> precision 1
    # up to recall 2/3 -> 67 of the 101 recall points, at every OKS threshold.
    assert result["metrics"]["AP"] == pytest.approx(67 / 101, abs=1e-6)
    assert result["metrics"]["AR"] == pytest.approx(2 / 3, abs=1e-6)
    assert list(samples["image_id"]) == [1, 2, 3]
    np.testing.assert_allclose(
        np.stack(samples["keypoints_px"])[0], truth[0].reshape(-1), atol=0.01
    )


def coco_ap_name() -> str:
    from pmrr_model.evaluation.seed_data import COCO_ANNOTATION_NAME

    return COCO_ANNOTATION_NAME


def _coco_file(path: Path, keypoints: np.ndarray, area: float, visible=None) -> Path:
    """A person-keypoint annotation json: image i+1 holds one person with ``keypoints[i]``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    anns = []
    for i, kp in enumerate(keypoints):
        vis = np.full(17, 2) if visible is None else np.asarray(visible[i])
        triples = np.concatenate([kp, vis[:, None]], axis=1).reshape(-1)
        x0, y0 = kp[vis > 0].min(0)
        x1, y1 = kp[vis > 0].max(0)
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                     "area": area, "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                     "keypoints": [float(v) for v in triples],
                     "num_keypoints": int((vis > 0).sum())})  # fmt: skip
    content = {
        "images": [{"id": i + 1, "width": 320, "height": 240, "file_name": f"{i + 1}.png"}
                   for i in range(len(keypoints))],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": [str(k) for k in range(17)], "skeleton": []}],
    }  # fmt: skip
    path.write_text(json.dumps(content))
    return path


# ---------------------------------------------------------------- metric stage, known inputs


def test_pose_errors_known_similarity_and_offset():
    gt = np.random.default_rng(3).normal(size=(2, 14, 3)) * 0.3
    rot = Rotation.from_euler("xyz", [20, -40, 60], degrees=True).as_matrix()
    pred = np.stack([0.8 * gt[0] @ rot.T, gt[1]])
    pred[1, 4] += [0.0, 0.0, 0.07]  # one of 14 joints 7 cm off -> 5 mm
    errors = seed_eval.pose_errors_mm(pred, gt)
    assert errors["pa_mpjpe_mm"][0] == pytest.approx(0.0, abs=1e-9)
    assert errors["mpjpe_mm"][0] == pytest.approx(
        1000 * np.linalg.norm(pred[0] - gt[0], axis=1).mean()
    )
    assert errors["mpjpe_mm"][1] == pytest.approx(5.0)
    assert 0 < errors["pa_mpjpe_mm"][1] < 70 / np.sqrt(14)  # RMS bound (see the h36m test)


def test_pve_variants_known_offsets():
    gt = np.random.default_rng(4).normal(size=(1, 500, 3))
    pelvis = gt[:, :1].mean(1)
    pred = gt + [0.0, 0.03, 0.04]  # the whole mesh moved 5 cm
    out = seed_eval.pve_errors_mm(pred, gt, pelvis + [0.0, 0.03, 0.04], pelvis)
    assert out["pve_mm"][0] == pytest.approx(50.0)
    assert out["pve_root_mm"][0] == pytest.approx(0.0, abs=1e-9)
    # Pelvis estimated 2 cm off in x while the mesh is right: root alignment moves it by 2 cm.
    out = seed_eval.pve_errors_mm(gt, gt, pelvis + [0.02, 0, 0], pelvis)
    assert out["pve_mm"][0] == pytest.approx(0.0)
    assert out["pve_root_mm"][0] == pytest.approx(20.0)


def test_lsp14_centres_on_h36m_pelvis():
    h36m = np.arange(17 * 3, dtype=float).reshape(1, 17, 3)
    out = seed_eval.lsp14_centred(h36m)
    np.testing.assert_array_equal(out[0, 0], h36m[0, 6] - h36m[0, 0])
    assert out.shape == (1, 14, 3)


def test_coco_ap_hand_computed(tmp_path):
    """Two images, one person each, only the nose annotated (sigma 0.026, area 10000). Image 1
    found exactly (score 0.9); image 2 off by d px (score 0.8) with OKS = exp(-d^2 / (2 area
    (2 sigma)^2)) = 0.775: a hit at the OKS thresholds 0.50..0.75 (6 of 10), a false positive
    (and a miss) at 0.80..0.95, where precision is 1 up to recall 1/2 -> 51/101."""
    area, sigma, oks = 10000.0, 0.026, 0.775
    d = np.sqrt(-np.log(oks) * 2 * area * (2 * sigma) ** 2)
    truth = np.zeros((2, 17, 2)) + [[100.0, 80.0]]
    visible = np.zeros((2, 17), int)
    visible[:, 0] = 2
    annotations = _coco_file(tmp_path / "gt.json", truth, area, visible)
    predicted = truth.copy()
    predicted[1, 0, 0] += d
    results = coco_ap.keypoint_results([1, 2], predicted, scores=np.array([0.9, 0.8]))
    stats = coco_ap.keypoint_ap(annotations, results)
    assert stats["AP"] == pytest.approx((6 * 1.0 + 4 * 51 / 101) / 10, abs=1e-6)
    assert stats["AP .5"] == pytest.approx(1.0)
    assert stats["AP .75"] == pytest.approx(1.0)
    assert stats["AR"] == pytest.approx((6 * 1.0 + 4 * 0.5) / 10, abs=1e-6)


# ---------------------------------------------------------------- bad input


def test_missing_key_names_file_and_key(world, tmp_path, capsys):
    data = tmp_path / "data"
    (data / "dataset_extras").mkdir(parents=True)
    npz = data / "dataset_extras" / "3dpw_test.npz"
    np.savez(
        npz,
        imgname=np.array(NAMES_3D),
        center=CENTERS,
        scale=SCALES,
        pose=np.zeros((3, 72)),
        shape=np.zeros((3, 10)),
    )  # fmt: skip  (no 'gender')
    args = ["eval", "--dataset", "3dpw", "--checkpoint", str(world["checkpoint"]),
            "--data-dir", str(data), "--images", str(world["images"]), "--quiet",
            "--out", str(tmp_path / "r.json")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(npz) in err and "'gender'" in err
    # No dataset file at all.
    npz.unlink()
    assert main(args) == 2
    assert "3dpw_test.npz" in capsys.readouterr().err


def test_missing_image_names_the_image(world, tmp_path, capsys):
    data = tmp_path / "data"
    (data / "dataset_extras").mkdir(parents=True)
    names = [*NAMES_3D[:2], "imageFiles/seq_c/missing.png"]
    S = np.zeros((3, 24, 4))
    np.savez(data / "dataset_extras" / "h36m_valid_protocol2.npz",
             imgname=np.array(names), center=CENTERS, scale=SCALES, S=S)  # fmt: skip
    args = ["eval", "--dataset", "h36m", "--checkpoint", str(world["checkpoint"]),
            "--data-dir", str(data), "--images", str(world["images"]), "--quiet"]  # fmt: skip
    assert main(args) == 2
    assert str(world["images"] / "imageFiles/seq_c/missing.png") in capsys.readouterr().err
    # A wrong shape is named too.
    np.savez(data / "dataset_extras" / "h36m_valid_protocol2.npz",
             imgname=np.array(names), center=CENTERS, scale=SCALES, S=S[:, :17])  # fmt: skip
    assert main(args) == 2
    assert "'S' has shape (3, 17, 4)" in capsys.readouterr().err


def test_code_in_an_npz_is_refused(tmp_path):
    import os

    from pmrr_model.evaluation.seed_data import SeedDataError, read_samples

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    imgname = np.empty(1, dtype=object)
    imgname[0] = Payload()
    np.savez(tmp_path / "x.npz", imgname=imgname, center=np.zeros((1, 2)), scale=np.ones(1))
    with pytest.raises((SeedDataError, ValueError), match="x.npz"):
        read_samples(tmp_path / "x.npz", "coco")


def test_synthetic_and_dataset_are_exclusive(capsys):
    assert main(["eval", "--synthetic", "--dataset", "3dpw"]) == 2
    assert "exactly one" in capsys.readouterr().err
