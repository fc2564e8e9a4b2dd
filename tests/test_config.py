"""One validated configuration: the model, the CLI generated from it, prefect.yaml, the flow."""

from __future__ import annotations

import time
import typing
from pathlib import Path

import pytest
import yaml
from prefect.exceptions import ParameterTypeError

from flows.archive import process_archive
from flows.config import ConfigError, PipelineConfig, load_config
from pmrr_interviews.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_validate_and_unknown_or_bad_fields_are_named() -> None:
    assert load_config().estimator == "landmark-fit"
    for bad, field in (
        ({"smoothing": "ofline"}, "smoothing"),
        ({"smoothig": "offline"}, "smoothig"),
        ({"detect_every_k": 0}, "detect_every_k"),
        ({"device": "gpu"}, "device"),
        ({"estimator": "pmrr"}, "checkpoint"),
        ({"detector": "mmdet"}, "detector_config"),
        ({"precision": "bf16"}, "precision"),
        ({"checkpoint": "/nonexistent/model.pt", "estimator": "pmrr"}, "checkpoint"),
        ({"roles": {"clip.mp4": {"1": "host"}}}, "roles"),
    ):
        with pytest.raises(ConfigError, match=field):
            load_config(bad)
    # not finite: said so (a NaN width was told to be "less than or equal to 5")
    for bad in ({"smoothing_sigma_s": float("nan")}, {"unit_s": float("inf")}):
        with pytest.raises(ConfigError, match=f"{next(iter(bad))}: Input should be a finite"):
            load_config(bad)


def test_pmrr_on_a_gpu_defaults_to_full_batches_in_bf16_and_defaults_follow_overrides(
    tmp_path,
) -> None:
    """PMRR on a GPU gets chunks of 256 frames (512 crops of two people a network batch, where
    32 frames gave 64) in bf16; everything else keeps 32 frames, the landmark fit's warm-start
    span, in fp32. The values themselves are what the config holds, so fingerprints are those
    of the same values given explicitly."""
    from flows import identity
    from pmrr_model.estimators.pmrr_estimator import GPU_BATCH

    weights = tmp_path / "w.pt"
    weights.write_bytes(b"")
    pmrr = {"estimator": "pmrr", "checkpoint": str(weights)}
    assert load_config().chunk_size == 32
    assert load_config(device="cuda").chunk_size == 32  # the fit
    assert load_config(pmrr).chunk_size == 32
    on_gpu = load_config(pmrr, device="cuda:1")
    assert on_gpu.chunk_size == 256 == GPU_BATCH // 2 and on_gpu.model_dump()["chunk_size"] == 256
    assert load_config(pmrr, estimator="pmrr+fit", device="cuda").chunk_size == 32
    assert on_gpu.precision == "bf16" and load_config(pmrr).precision == "fp32"
    assert load_config(pmrr, estimator="pmrr+fit", device="cuda").precision == "fp32"
    assert load_config(pmrr, device="cuda", precision="fp32").precision == "fp32"
    assert load_config(pmrr, device="cuda", chunk_size=8).chunk_size == 8
    # a model given again with other settings: the default follows them, a set value stays
    assert load_config(on_gpu, device="cpu").chunk_size == 32
    assert load_config(on_gpu, device="cpu").precision == "fp32"
    assert load_config(load_config(chunk_size=8), **pmrr, device="cuda").chunk_size == 8
    with pytest.raises(ConfigError, match="chunk_size"):
        load_config(chunk_size=0)
    stages = identity.fingerprints("0" * 16, load_config(), "standin:a", files={}).to_dict()
    explicit = load_config(chunk_size=32, precision="fp32")
    assert identity.fingerprints("0" * 16, explicit, "standin:a", files={}).to_dict() == stages


def test_roles_are_found_by_video_id_or_file_name() -> None:
    cfg = load_config(roles={"abc123": {"1": "interviewer"}, "b.mp4": {2: "other"}})
    assert cfg.roles_for("abc123", "/x/a.mp4") == {1: "interviewer"}
    assert cfg.roles_for("ffff", "/x/b.mp4") == {2: "other"}
    assert cfg.roles_for("ffff", "/x/c.mp4") is None


def test_cli_has_an_option_for_every_field_with_the_model_choices() -> None:
    process = build_parser()._subparsers._group_actions[0].choices["process"]
    by_dest = {a.dest: a for a in process._actions}
    for name, field in PipelineConfig.model_fields.items():
        assert name in by_dest, f"no CLI option for {name}"
        if typing.get_origin(field.annotation) is typing.Literal:
            assert list(by_dest[name].choices) == list(typing.get_args(field.annotation))
    # optional fields (unset: a default that depends on others) keep their type's choices/check
    assert list(by_dest["precision"].choices) == ["fp32", "bf16"]
    assert by_dest["chunk_size"].type is int and "(default: unset)" in by_dest["precision"].help
    args = build_parser().parse_args(
        ["process", "a.mp4", "--out", "o", "--smoothing", "online", "--detect_every_k", "5",
         "--no-analytics", "--roles", '{"a.mp4": {"1": "interviewee"}}']
    )  # fmt: skip
    from pmrr_interviews.cli import _config_overrides

    cfg = load_config(**_config_overrides(args))
    assert (cfg.smoothing, cfg.detect_every_k, cfg.analytics) == ("online", 5, False)
    assert cfg.roles == {"a.mp4": {1: "interviewee"}}
    assert cfg.render is True  # not given: the model's default


def test_cli_rejects_a_bad_value_before_reading_any_video(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["process", "missing.mp4", "--out", str(out), "--detect-every-k", "0"]) == 2
    assert "detect_every_k" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit) as error:  # argparse's own choices check
        main(["process", "missing.mp4", "--out", str(out), "--smoothing", "ofline"])
    assert error.value.code == 2


def test_flow_refuses_a_bad_config_before_any_work(tmp_path: Path) -> None:
    """Prefect validates the typed parameter: a typo fails at once, nothing is written."""
    video = tmp_path / "in" / "clip.mp4"
    video.parent.mkdir()
    video.write_bytes(b"not decoded")
    started = time.perf_counter()
    with pytest.raises((ParameterTypeError, ConfigError)):
        process_archive([str(video)], str(tmp_path / "out"), config={"smoothing": "ofline"})
    assert time.perf_counter() - started < 30  # no detection or estimation ran
    assert not (tmp_path / "out").exists()


def test_every_deployment_fills_the_config_model() -> None:
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    schema = process_archive.parameters.model_dump()
    config_ref = schema["properties"]["config"]
    assert "$ref" in str(config_ref) or "allOf" in str(config_ref)
    definitions = schema["definitions"]["PipelineConfig"]["properties"]
    assert definitions["smoothing"]["enum"] == ["offline", "gaussian", "online", "none"]
    for deployment in deployments:
        params = deployment["parameters"]
        process_archive.validate_parameters(params)
        if "config" in params:
            load_config(params["config"])
