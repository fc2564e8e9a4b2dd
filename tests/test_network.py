"""PMRR network: the released checkpoint layout loads strictly; every stage has the reference's
shapes; inference works in fp32 and bf16; bad checkpoints fail with the file's name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pmrr_model.body_model import BodyModel
from pmrr_model.checkpoint import CheckpointError, describe_checkpoint, load_into, save_checkpoint
from pmrr_model.network import build_pmrr
from pmrr_model.network.pmrr import make_points_grid
from tests.synthetic_assets import N_VERTICES, write_smpl_sized_assets

FIXTURE = Path(__file__).parent / "fixtures" / "pmrr_reference_state_dict.tsv"


def reference_layout() -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    layout = {}
    for line in FIXTURE.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape, dtype = line.split("\t")
        dims = () if shape == "scalar" else tuple(int(d) for d in shape.split("x"))
        layout[key] = (dims, getattr(torch, dtype))
    return layout


@pytest.fixture(scope="module")
def smpl_sized(tmp_path_factory):
    assets = write_smpl_sized_assets(tmp_path_factory.mktemp("smpl_sized"))
    torch.manual_seed(0)
    return assets, build_pmrr(assets).eval(), BodyModel(assets).eval()


def fake_released_checkpoint(path: Path) -> Path:
    """A file in the released layout: every reference key with its shape, random values."""
    generator = torch.Generator().manual_seed(1)
    state = {}
    for key, (shape, dtype) in reference_layout().items():
        if dtype.is_floating_point:
            state[key] = torch.randn(shape, generator=generator).to(dtype) * 0.01
        else:
            state[key] = torch.zeros(shape, dtype=dtype)
    torch.save({"model": state, "epoch": 7}, path)
    return path


def test_reference_fixture_covers_the_whole_model(smpl_sized):
    _, model, _ = smpl_sized
    layout = reference_layout()
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    reference = {k: shape for k, (shape, _) in layout.items() if ".smpl." not in k}
    assert ours == reference
    assert any(".smpl." in k for k in layout), "fixture should include the reference's SMPL copies"


def test_released_layout_loads_strictly(smpl_sized, tmp_path):
    model = build_pmrr(smpl_sized[0])  # its own copy: the random file's BN stats are not usable
    path = fake_released_checkpoint(tmp_path / "released.pt")
    report = load_into(model, path)
    assert report.ok and not report.missing and not report.unexpected
    assert len(report.matched) == len(model.state_dict())
    assert len(report.dropped_smpl) == 36  # 12 SMPL buffers x 3 regressors
    expected = torch.load(path, weights_only=True)["model"]["regressor.2.fc1.weight"]
    assert torch.equal(model.regressor[2].fc1.weight, expected)


def test_stage_shapes(smpl_sized):
    _, model, body = smpl_sized
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        s_feat, g_feat = model.feature_extractor(images)
        assert s_feat.shape == (2, 2048, 7, 7) and g_feat.shape == (2, 2048)
        level_shapes = []
        for level in range(3):
            s_feat = model._pyramid_level(s_feat, level)
            level_shapes.append(tuple(s_feat.shape))
        assert level_shapes == [(2, 256, 14, 14), (2, 256, 28, 28), (2, 256, 56, 56)]
        grid = model.points_grid.expand(2, -1, -1).transpose(1, 2)
        assert model.maf_extractor[0].sample(torch.randn(2, 256, 14, 14), grid).shape == (2, 2205)
        vertices = torch.randn(2, N_VERTICES, 3) * 0.3
        cam = torch.tensor([[0.9, 0.0, 0.0]]).expand(2, 3)
        assert model.maf_extractor[1](torch.randn(2, 256, 28, 28), vertices, cam).shape == (2, 2155)
        out = model(images, body)
    assert len(out.iterations) == 4
    final = out.final
    assert (
        final.rotmat.shape == (2, 24, 3, 3)
        and final.betas.shape == (2, 10)
        and final.cam.shape == (2, 3)
    )
    assert final.vertices.shape == (2, N_VERTICES, 3) and final.joints.shape == (2, 49, 3)
    assert final.keypoints_2d.shape == (2, 49, 2) and final.axis_angle.shape == (2, 72)
    assert out.dense["predict_u"].shape == (2, 25, 56, 56)
    assert out.dense["predict_ann_index"].shape == (2, 15, 56, 56)
    assert all(torch.isfinite(it.vertices).all() for it in out.iterations)


def test_grid_matches_reference_order():
    grid = make_points_grid(21)
    assert grid.shape == (1, 2, 441)
    # meshgrid('ij'): the first coordinate is constant over each run of 21 points.
    assert torch.all(grid[0, 0, :21] == -1) and torch.allclose(
        grid[0, 1, :21], torch.linspace(-1, 1, 21)
    )


def test_iterations_refine_from_the_mean(smpl_sized):
    _, model, body = smpl_sized
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224), body)
    start = out.iterations[0]
    assert torch.allclose(start.cam, model.regressor[0].init_cam)
    assert not torch.equal(out.final.pose6d, start.pose6d)


def test_bf16_autocast_stays_close_to_fp32(smpl_sized):
    _, model, body = smpl_sized
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        reference = model(images, body).final
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(images, body).final
    assert low.vertices.dtype == torch.float32
    assert (low.vertices - reference.vertices).abs().max() < 0.05


def test_save_and_inspect_round_trip(smpl_sized, tmp_path):
    _, model, _ = smpl_sized
    path = save_checkpoint(model, tmp_path / "ours.pt", assets="synthetic-test", note="unit test")
    text = describe_checkpoint(path, model)
    assert "fits the PMRR architecture" in text and "assets: synthetic-test" in text
    assert "(431, 6890)" in text


def test_wrong_files_give_clear_errors(smpl_sized, tmp_path):
    _, model, _ = smpl_sized
    missing = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError, match="nope.pt: checkpoint file not found"):
        load_into(model, missing)

    text_file = tmp_path / "notes.pt"
    text_file.write_text("this is not a checkpoint")
    with pytest.raises(CheckpointError, match="notes.pt: not a readable PyTorch checkpoint"):
        load_into(model, text_file)

    good = save_checkpoint(model, tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pt: not a readable"):
        load_into(model, truncated)

    other = tmp_path / "resnet_only.pt"
    torch.save(
        {
            "model": {
                k: v for k, v in model.state_dict().items() if k.startswith("feature_extractor.")
            }
        },
        other,
    )
    with pytest.raises(CheckpointError, match=r"resnet_only.pt: does not fit .* missing"):
        load_into(model, other)

    hmr_like = tmp_path / "hmr.pt"
    state = dict(model.state_dict())
    state["regressor.0.fc1.weight"] = torch.zeros(1024, 2205 + 157 + 10)
    torch.save({"model": state}, hmr_like)
    with pytest.raises(CheckpointError, match=r"hmr.pt: .*other shapes"):
        load_into(model, hmr_like)


def test_code_in_a_checkpoint_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("executed!",))

    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": Payload()}, path)
    with pytest.raises(CheckpointError, match="evil.pt: .*refused for safety"):
        load_into(torch.nn.Linear(1, 1), path)


def test_predictor_batches_and_precisions(smpl_sized, tmp_path):
    from pmrr_model.inference import PMRRPredictor

    assets, model, _ = smpl_sized
    checkpoint = save_checkpoint(model, tmp_path / "ours.pt")
    crops = np.random.default_rng(0).integers(0, 255, (5, 224, 224, 3), dtype=np.uint8)
    fp32 = PMRRPredictor(assets, checkpoint, precision="fp32")
    whole = fp32.predict(crops, batch_size=8)
    chunked = fp32.predict(crops, batch_size=2)
    assert whole.final.vertices.shape == (5, N_VERTICES, 3)
    assert torch.allclose(whole.final.vertices, chunked.final.vertices, atol=1e-5)
    assert not whole.final.vertices.requires_grad and fp32.name == "pmrr:ours.pt"
    bf16 = PMRRPredictor(assets, checkpoint, precision="bf16").predict(crops)
    assert (bf16.final.vertices - whole.final.vertices).abs().max() < 0.05
    with pytest.raises(ValueError, match="crops must be"):
        fp32.predict(np.zeros((1, 100, 100, 3), np.uint8))
