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
    assert (low.vertices - reference.vertices).abs().max() < 1e-3  # 1 mm


def test_save_and_inspect_round_trip(smpl_sized, tmp_path):
    _, model, _ = smpl_sized
    path = save_checkpoint(model, tmp_path / "ours.pt", assets="synthetic-test", note="unit test")
    text = describe_checkpoint(path, model)
    assert "fits the PMRR architecture" in text and "assets: synthetic-test" in text
    assert "(431, 6890)" in text


def misfit_checkpoints(model: torch.nn.Module, folder: Path) -> dict[str, Path]:
    """A real model's state dict saved in the released layout, once with one key removed and
    once with one tensor reshaped."""
    state = dict(model.state_dict())
    missing = dict(state)
    del missing["regressor.1.decshape.bias"]
    torch.save({"model": missing}, folder / "missing_key.pt")
    reshaped = dict(state)
    reshaped["regressor.0.deccam.weight"] = reshaped["regressor.0.deccam.weight"].reshape(-1, 1)
    torch.save({"model": reshaped}, folder / "reshaped.pt")
    return {"missing": folder / "missing_key.pt", "reshaped": folder / "reshaped.pt"}


def test_describe_checkpoint_raises_when_it_does_not_fit(smpl_sized, tmp_path):
    _, model, _ = smpl_sized
    files = misfit_checkpoints(model, tmp_path)
    with pytest.raises(CheckpointError) as info:
        describe_checkpoint(files["missing"], model)
    message = str(info.value)
    assert message.startswith(f"{files['missing']}: does not fit")
    assert f"file: {files['missing']}" in message and "tensors:" in message  # the description
    assert "missing from the file (1): regressor.1.decshape.bias" in message
    with pytest.raises(CheckpointError) as info:
        describe_checkpoint(files["reshaped"], model)
    assert "other shapes (1): regressor.0.deccam.weight file (3072, 1) vs model (3, 1024)" in str(
        info.value
    )
    assert "fits the PMRR architecture" in describe_checkpoint(
        save_checkpoint(model, tmp_path / "good.pt"), model
    )


def test_checkpoint_inspect_cli_exit_status(tmp_path):
    """``pmrr checkpoint inspect`` exits non-zero, naming the file, for a checkpoint that does not
    fit the model it builds (the default assets), and 0 for one that does."""
    import os
    import subprocess
    import sys

    from pmrr_model.assets import resolve_assets

    torch.manual_seed(0)
    model = build_pmrr(resolve_assets())  # what the CLI builds, run from the same folder
    files = misfit_checkpoints(model, tmp_path)
    files["good"] = save_checkpoint(model, tmp_path / "good.pt")
    repo = Path(__file__).resolve().parents[1]

    def inspect(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pmrr_interviews.cli", "checkpoint", "inspect", str(path)],
            cwd=repo, env=dict(os.environ), capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    for kind, key in (("missing", "regressor.1.decshape.bias"), ("reshaped", "deccam.weight")):
        result = inspect(files[kind])
        assert result.returncode != 0, result.stdout + result.stderr
        assert f"{files[kind]}: does not fit" in result.stderr and key in result.stderr
    result = inspect(files["good"])
    assert result.returncode == 0, result.stderr
    assert (
        f"file: {files['good']}" in result.stdout and "fits the PMRR architecture" in result.stdout
    )


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
    assert not whole.final.vertices.requires_grad and fp32.name == "pmrr:ours"
    bf16 = PMRRPredictor(assets, checkpoint, precision="bf16").predict(crops)
    # the scale-out issue's bound for bf16: vertices within 1 mm of fp32
    assert (bf16.final.vertices - whole.final.vertices).abs().max() < 1e-3
    with pytest.raises(ValueError, match="crops must be"):
        fp32.predict(np.zeros((1, 100, 100, 3), np.uint8))


def test_bf16_on_a_gpu_without_bf16_arithmetic_is_refused_by_name(monkeypatch):
    """bf16 is PMRR's default on a GPU; a GPU older than compute capability 8.0 would emulate
    it slower than fp32, so the predictor says so and what to give instead."""
    from pmrr_model.devices import DeviceError
    from pmrr_model.inference import _check_bf16

    capability = {0: (8, 0), 1: (7, 0)}  # an A100 and a V100 in one host
    monkeypatch.setattr(
        torch.cuda, "get_device_capability", lambda device: capability[device.index]
    )
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "Tesla V100-SXM2-16GB")
    _check_bf16(torch.device("cuda", 0))
    with pytest.raises(DeviceError, match="'cuda:1': Tesla V100.* use --precision fp32"):
        _check_bf16(torch.device("cuda", 1))


def test_body_model_reads_nothing_back_from_its_device(smpl_sized):
    """The kinematic chain is walked with host-side parent indices: on a GPU every read of a
    device tensor waits for all queued work (smplx's walk made 92 such waits in one PMRR forward).
    The ``meta`` device refuses any read, so a forward there proves none is left."""
    import copy

    _, _, body = smpl_sized
    on_meta = copy.deepcopy(body).to("meta")
    out = on_meta(*(torch.zeros(2, n, device="meta") for n in (10, 69, 3)))
    assert out.vertices.device.type == "meta" and out.vertices.shape == (2, body.num_vertices, 3)
    assert body.smpl.parents.device.type == "cpu"


def test_final_parameters_without_vertices(smpl_sized, tmp_path):
    """What the estimator asks for: the same parameters, no vertices copied back."""
    from pmrr_model import inference

    assets, model, _ = smpl_sized
    predictor = inference.PMRRPredictor(assets, save_checkpoint(model, tmp_path / "w.pt"))
    crops = np.random.default_rng(3).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    full = predictor.predict_final(crops, batch_size=2)
    skinned_whole = []
    hook = predictor.body_model.register_forward_hook(lambda *_: skinned_whole.append(1))
    lean = predictor.predict_final(crops, batch_size=2, with_vertices=False)
    hook.remove()
    assert full.vertices.shape == (3, predictor.body_model.num_vertices, 3)
    assert lean.vertices.shape == (3, 0, 3)
    # nor is the whole mesh skinned: the points the mesh-aligned features read, and the joints,
    # come from those vertices alone, equal to the full evaluation's within float rounding
    assert not skinned_whole
    for name in ("rotmat", "betas", "cam", "joints", "smpl_joints", "keypoints_2d"):
        assert torch.allclose(getattr(lean, name), getattr(full, name), atol=1e-5), name

    # the final estimate alone skips the initial (mean) estimate's body model, one of four
    calls = []
    hook = predictor.body_model.register_forward_hook(lambda *_: calls.append(1))
    every = predictor.predict(crops, batch_size=2)
    assert len(calls) == 2 * (1 + predictor.model.n_iter)  # two batches
    calls.clear()
    final = predictor.predict_final(crops, batch_size=2)
    assert len(calls) == 2 * predictor.model.n_iter
    hook.remove()
    assert len(every.iterations) == 1 + predictor.model.n_iter
    for name in ("rotmat", "betas", "cam", "vertices", "joints", "keypoints_2d"):
        assert torch.equal(getattr(final, name), getattr(every.final, name)), name


def test_predictor_convolves_in_nhwc_with_the_same_estimates(smpl_sized, tmp_path):
    """The predictor keeps its network in channels-last memory (faster on the GPU and this CPU,
    README); the estimates are those of the same network in NCHW memory."""
    from pmrr_model import inference

    assets, model, _ = smpl_sized
    predictor = inference.PMRRPredictor(assets, save_checkpoint(model, tmp_path / "w.pt"))
    weight = predictor.model.feature_extractor.conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    crops = np.random.default_rng(4).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    nhwc = predictor.predict_final(crops, with_vertices=False)
    predictor.model.to(memory_format=torch.contiguous_format)
    nchw = predictor.predict_final(crops, with_vertices=False)
    for name in ("rotmat", "betas", "cam", "joints"):
        assert torch.allclose(nhwc.__dict__[name], nchw.__dict__[name], atol=1e-5), name


def test_one_crop_normalisation_for_every_path(smpl_sized, tmp_path):
    """The predictor feeds the network exactly what ``pmrr_model.crop.normalize_crops`` gives
    (no second copy of the normalisation), and its final-only path equals the full one."""
    from pmrr_model import crop, inference

    assets, model, _ = smpl_sized
    assert getattr(inference, "normalize_crops", crop.normalize_crops) is crop.normalize_crops
    crops = np.random.default_rng(2).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        inference.network_input(crops).numpy(), crop.normalize_crops(crops)
    )
    np.testing.assert_array_equal(
        inference.network_input(torch.from_numpy(crops)).numpy(), crop.normalize_crops(crops)
    )
    predictor = inference.PMRRPredictor(assets, save_checkpoint(model, tmp_path / "w.pt"))
    full = predictor.predict(crops).final
    final = predictor.predict_final(crops, batch_size=2)
    assert final.vertices.device.type == "cpu" and final.vertices.dtype == torch.float32
    assert torch.allclose(final.vertices, full.vertices, atol=1e-5)
    assert torch.allclose(final.cam, full.cam, atol=1e-6)
    assert predictor.predict_final(crops[:0]) is None
    with pytest.raises(ValueError, match="crops must be"):
        crop.normalize_crops(np.zeros((224, 224, 3), np.uint8))


def test_predictor_folds_batchnorm_and_computes_the_same(smpl_sized, tmp_path):
    """The predictor folds each BatchNorm into the convolution before it (none is left to run),
    and gives what the unfolded network gives, on weights whose BatchNorms are far from the
    identity (the initial ones are the identity, which any folding would pass)."""
    import copy

    from pmrr_model.inference import PMRRPredictor, network_input
    from pmrr_model.network.fold import fold_batchnorm

    assets, model, _ = smpl_sized
    model = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(4)
    n_bn = 0
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.5)
            module.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
            with torch.no_grad():
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.2)
            n_bn += 1
    assert n_bn == 56  # ResNet-50's 53 and the feature pyramid's 3
    predictor = PMRRPredictor(assets, save_checkpoint(model, tmp_path / "bn.pt"))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in predictor.model.modules())
    assert fold_batchnorm(predictor.model) == 0  # folding again changes nothing

    crops = np.random.default_rng(5).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    folded = predictor.predict(crops).final
    with torch.inference_mode():
        plain = model.eval()(network_input(crops), predictor.body_model, with_dense=False).final
    assert plain.vertices.abs().max() > 0.1  # a real body, not a collapse to zero
    assert (folded.vertices - plain.vertices).abs().max() < 1e-6  # metres (1.2e-7 measured)
    assert (folded.cam - plain.cam).abs().max() < 1e-6
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(copy.deepcopy(model).train())
