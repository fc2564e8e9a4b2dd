"""`pmrr train`: data reader, augmentation, losses on hand-computed values, and a few real
training steps on a generated stand-in set (save, resume, load in the predictor and the
pipeline's estimator factory)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

from pmrr_interviews.cli import main
from pmrr_model.training import losses
from pmrr_model.training.augment import (
    Augmentation,
    crop_matrix,
    joints3d_augment,
    keypoints_to_crop,
    pose_augment,
)
from pmrr_model.training.dense_targets import estimate_translation, standin_vertex_iuv
from pmrr_model.training.spin_format import DatasetError, read_spin_npz


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from pmrr_model.training.synthetic import make_synthetic_set

    root = tmp_path_factory.mktemp("synthetic")
    return make_synthetic_set(root, n_train=12, n_val=2, seed=3)


# ---------------------------------------------------------------- losses, by hand


def test_keypoint_2d_loss_weights_visibility_and_openpose():
    pred = torch.zeros(1, 49, 2)
    gt = torch.zeros(1, 49, 3)
    gt[0, 30] = torch.tensor([0.5, 0.0, 1.0])  # visible ground-truth joint, error 0.25
    gt[0, 31] = torch.tensor([1.0, 1.0, 0.0])  # invisible: ignored
    gt[0, 3] = torch.tensor([1.0, 0.0, 1.0])  # openpose joint, weight 0 by default
    expected = 0.25 / (49 * 2)
    assert losses.keypoint_2d_loss(pred, gt, 0.0, 1.0).item() == pytest.approx(expected)
    assert losses.keypoint_2d_loss(pred, gt, 1.0, 1.0).item() == pytest.approx(expected + 1 / 98)


def test_keypoint_3d_loss_is_pelvis_centred():
    gt = torch.zeros(1, 24, 4)
    gt[..., 3] = 1
    pred = torch.zeros(1, 49, 3) + 5.0  # a pure translation: zero loss
    assert losses.keypoint_3d_loss(pred, gt, torch.ones(1)).item() == pytest.approx(0.0)
    pred[0, 25 + 10, 0] += 0.3  # one joint off by 0.3 m
    assert losses.keypoint_3d_loss(pred, gt, torch.ones(1)).item() == pytest.approx(
        0.09 / 72, rel=1e-5
    )
    assert losses.keypoint_3d_loss(pred, gt, torch.zeros(1)).item() == 0.0


def test_smpl_camera_and_weights():
    rot = torch.eye(3).expand(1, 24, 3, 3).clone()
    gt_pose = torch.zeros(1, 72)
    gt_pose[0, 3:6] = torch.tensor([0.0, 0.0, math.pi / 2])  # joint 1 turned 90 deg about z
    pose_loss, betas_loss = losses.smpl_parameter_losses(
        rot, torch.ones(1, 10), gt_pose, torch.zeros(1, 10), torch.ones(1)
    )
    # I vs Rz(90): entries differ by 1 at (0,0), (1,1), (0,1), (1,0) -> 4 / (24 * 9)
    assert pose_loss.item() == pytest.approx(4 / 216, abs=1e-6)
    assert betas_loss.item() == pytest.approx(1.0)
    cam = torch.tensor([[0.1, 0.0, 0.0]])
    assert losses.camera_loss(cam).item() == pytest.approx(math.exp(-2))
    w = losses.LossWeights()
    assert (w.pose, w.betas, w.keypoints_2d, w.keypoints_3d, w.camera, w.uv, w.part) == (
        60,
        0.06,
        300,
        300,
        1,
        0.5,
        1,
    )


def test_dense_losses_by_hand():
    dense = {
        "predict_u": torch.zeros(2, 25, 1, 1),
        "predict_v": torch.zeros(2, 25, 1, 1),
        "predict_uv_index": torch.zeros(2, 25, 1, 1),
        "predict_ann_index": torch.zeros(2, 15, 1, 1),
    }
    target = {
        "part": torch.tensor([3, 0]).view(2, 1, 1),
        "coarse": torch.tensor([2, 0]).view(2, 1, 1),
        "u": torch.tensor([0.5, 0.0]).view(2, 1, 1),
        "v": torch.tensor([2.0, 0.0]).view(2, 1, 1),
    }
    out = losses.dense_losses(dense, target, torch.tensor([1.0, 0.0]))
    assert out["part"].item() == pytest.approx(math.log(25))
    assert out["coarse"].item() == pytest.approx(math.log(15))
    assert out["u"].item() == pytest.approx(0.5 * 0.5**2 / 2)  # smooth-L1, summed / batch 2
    assert out["v"].item() == pytest.approx((2.0 - 0.5) / 2)


def test_estimate_translation_recovers_the_camera():
    torch.manual_seed(0)
    joints = torch.randn(1, 24, 3) * 0.3
    t = torch.tensor([[0.1, -0.2, 40.0]])
    p = joints + t[:, None]
    kp = 5000 * p[..., :2] / p[..., 2:] / 112
    est = estimate_translation(joints, kp, torch.ones(1, 24))
    assert torch.allclose(est, t, atol=1e-2)


# ---------------------------------------------------------------- augmentation


def test_flip_and_rotation_move_2d_3d_and_pose_together():
    rng = np.random.default_rng(0)
    joints = np.c_[rng.normal(0, 0.3, (24, 3)) + [0, 0, 10], np.ones(24)]
    aug = Augmentation(flip=True, rot_deg=25.0, scale=1.0)

    def project(points):  # a camera whose image centre is the box centre
        return np.c_[1000 * points[:, :2] / points[:, 2:3] + 500, np.ones(len(points))]

    matrix = crop_matrix(np.array([500.0, 500.0]), 4.0, aug)
    kp = keypoints_to_crop(project(joints[:, :3]), matrix, aug)
    moved = joints3d_augment(joints, aug)
    expected = keypoints_to_crop(project(moved[:, :3]), crop_matrix([500, 500], 4.0, Augmentation()), Augmentation())  # fmt: skip
    # Rotating about the optical axis is exact; the crop is a uniform scale of the projection.
    np.testing.assert_allclose(kp[:, :2], expected[:, :2], atol=1e-4)
    pose = pose_augment(np.r_[np.zeros(3), np.arange(69) * 0.01], Augmentation(flip=True))
    assert pose[3:6] == pytest.approx([0.03, -0.04, -0.05])  # right hip <- left hip, mirrored


# ---------------------------------------------------------------- reader errors


def test_bad_input_names_the_file(tmp_path, synthetic):
    data = dict(np.load(synthetic["train"]))
    bad = tmp_path / "no_center.npz"
    np.savez(bad, **{k: v for k, v in data.items() if k != "center"})
    with pytest.raises(DatasetError, match="no_center.npz.*center"):
        read_spin_npz(bad)
    missing = tmp_path / "missing_image.npz"
    np.savez(missing, **{**data, "imgname": np.array(["images/nope.jpg"] * len(data["scale"]))})
    with pytest.raises(DatasetError, match="missing_image.npz.*nope.jpg"):
        read_spin_npz(missing)
    assert main(["train", "--data", str(bad), "--out", str(tmp_path / "run")]) == 2


def test_standin_dense_labels_cover_the_parts():
    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel

    body = BodyModel(resolve_assets())
    table = standin_vertex_iuv(body.smpl.v_template.numpy(), body.smpl.lbs_weights.numpy())
    assert set(np.unique(table.part)) == set(range(1, 25))
    assert 0 <= table.u.min() and table.u.max() <= 1 and 0 <= table.v.min() and table.v.max() <= 1


# ---------------------------------------------------------------- training


def test_loss_falls_on_a_fixed_batch(synthetic, tmp_path):
    from pmrr_model.training.dataset import StepBatches, collate
    from pmrr_model.training.trainer import TrainConfig, Trainer

    trainer = Trainer(TrainConfig(data=[str(synthetic["train"])], out=str(tmp_path), lr=1e-4))
    keys = StepBatches(trainer.train_set, 2, seed=0, start_step=0, n_steps=1).keys(0)
    batch = collate([trainer.train_set[k] for k in keys])
    values = [trainer.train_step(batch)["loss"] for _ in range(3)]
    assert values[-1] < 0.8 * values[0], values
    assert trainer.step == 3


def test_prior_baseline_is_the_mean_body(synthetic, tmp_path):
    """One training sample: its pose and shape are the mean, so guessing them for that very
    sample scores zero; for other validation samples the guess is off by a body's worth."""
    from pmrr_model.training.trainer import TrainConfig, Trainer

    with np.load(synthetic["train"]) as archive:
        one = {k: v[:1] for k, v in archive.items()}
    single = synthetic["train"].parent / "single.npz"  # beside the images it names
    np.savez(single, **one)
    try:
        same = Trainer(TrainConfig(data=[str(single)], val=[str(single)], out=str(tmp_path / "a")))
        other = Trainer(
            TrainConfig(data=[str(single)], val=[str(synthetic["val"])], out=str(tmp_path / "b"))
        )
        exact, off = same.prior_baseline(), other.prior_baseline()
    finally:
        single.unlink()
    assert exact["n"] == 1 and exact["pa_mpjpe_mm"] < 0.5 and exact["mpjpe_mm"] < 0.5
    assert off["n"] == 2 and off["pa_mpjpe_mm"] > 20


def test_frozen_backbone_keeps_the_encoder_and_trains_the_rest(synthetic, tmp_path):
    from pmrr_model.checkpoint import CheckpointError
    from pmrr_model.training.dataset import StepBatches, collate
    from pmrr_model.training.trainer import TrainConfig, Trainer

    config = TrainConfig(data=[str(synthetic["train"])], out=str(tmp_path), freeze_backbone=True)
    trainer = Trainer(config)
    keys = StepBatches(trainer.train_set, 2, seed=0, start_step=0, n_steps=1).keys(0)
    batch = collate([trainer.train_set[k] for k in keys])
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    trainer.train_step(batch)
    after = dict(trainer.model.named_parameters())
    encoder = [k for k in before if k.startswith("feature_extractor.")]
    assert encoder and all(torch.equal(before[k], after[k]) for k in encoder)
    moved = [k for k in before if k not in encoder and not torch.equal(before[k], after[k])]
    assert any(k.startswith("regressor.") for k in moved)
    assert any(k.startswith("deconv_layers.") for k in moved)
    saved = trainer.save()
    # Its optimizer state covers the trained parameters only: resuming unfrozen is refused.
    with pytest.raises(CheckpointError, match="freeze_backbone was True, now False"):
        Trainer(TrainConfig(data=config.data, out=str(tmp_path / "b"), resume=str(saved)))


def test_non_finite_loss_stops_before_the_step(synthetic, tmp_path):
    from pmrr_model.training.dataset import StepBatches, collate
    from pmrr_model.training.trainer import TrainConfig, Trainer, TrainingDiverged

    trainer = Trainer(TrainConfig(data=[str(synthetic["train"])], out=str(tmp_path)))
    keys = StepBatches(trainer.train_set, 2, seed=0, start_step=0, n_steps=1).keys(0)
    batch = collate([trainer.train_set[k] for k in keys])
    batch["img"][0, 0, 0, 0] = float("nan")  # what a diverged network or a broken image gives
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    with pytest.raises(TrainingDiverged, match=r"step 1: non-finite loss \(.*keypoints"):
        trainer.train_step(batch)
    after = dict(trainer.model.named_parameters())
    assert trainer.step == 0 and all(torch.equal(before[k], after[k]) for k in before)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_train_save_resume_and_load(synthetic, tmp_path):
    from pmrr_model.checkpoint import read_checkpoint
    from pmrr_model.estimators.factory import create_estimator
    from pmrr_model.inference import PMRRPredictor

    run = tmp_path / "run"
    common = ["train", "--data", str(synthetic["train"].parent), "--out", str(run)]
    common += ["--batch-size", "1", "--val", str(synthetic["val"]), "--log-every", "1"]
    assert main([*common, "--steps", "1", "--val-every", "1"]) == 0
    ckpt = run / "checkpoint.pt"
    assert read_checkpoint(ckpt)["total_step"] == 1
    assert main([*common, "--steps", "2", "--resume", str(ckpt), "--val-every", "5"]) == 0
    content = read_checkpoint(ckpt)
    assert content["total_step"] == 2 and "state" in content["optimizer"]
    with (run / "train_log.csv").open() as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle)] == [1, 2]
    with (run / "val_curve.csv").open() as handle:
        curve = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in curve] == [0, 1, 2]
    assert all(0 < float(r["pa_mpjpe_mm"]) < 1000 for r in curve)
    # the same streams in TensorBoard's event files, read back by TensorBoard itself
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard")).Reload()
    assert {"train/loss", "val/pa_mpjpe_mm"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2]
    val_tb = [e.value for e in events.Scalars("val/pa_mpjpe_mm")]
    assert val_tb == pytest.approx([float(r["pa_mpjpe_mm"]) for r in curve], rel=1e-5)

    predictor = PMRRPredictor(checkpoint=ckpt)
    assert predictor.report.ok and predictor.name == "pmrr:checkpoint"
    estimator = create_estimator("pmrr", checkpoint=str(ckpt))
    assert estimator is not None


def test_object_array_imgname_and_uv_processed(tmp_path, synthetic):
    import scipy.io

    from pmrr_model.training.dense_targets import uv_processed_vertex_iuv

    data = dict(np.load(synthetic["train"]))
    obj = tmp_path / "pickled_names.npz"
    np.savez(obj, **{**data, "imgname": data["imgname"].astype(object)})
    with pytest.raises(DatasetError, match="pickled_names.npz.*images"):  # read, then images
        read_spin_npz(obj, image_root=tmp_path)
    assert len(read_spin_npz(obj, image_root=synthetic["train"].parent)) == 12

    # 3 body vertices, 4 chart vertices (vertex 2 on a seam: charted twice, first copy wins)
    mat = tmp_path / "UV_Processed.mat"
    scipy.io.savemat(
        mat,
        {
            "All_vertices": np.array([[1, 2, 3, 3]]),
            "All_Faces": np.array([[1, 2, 3], [2, 4, 1]]),
            "All_FaceIndices": np.array([[5], [7]]),
            "All_U_norm": np.array([[0.1], [0.2], [0.3], [0.4]]),
            "All_V_norm": np.array([[0.5], [0.6], [0.7], [0.8]]),
        },
    )
    table = uv_processed_vertex_iuv(mat, 3)
    assert table.part.tolist() == [7, 7, 5] and table.u.tolist() == pytest.approx([0.1, 0.2, 0.3])
