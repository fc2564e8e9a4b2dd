"""Project-level contracts: the Prefect deployment file and the CLI's entry points."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml

from pmrr_interviews.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def _deployments() -> list[dict]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_every_deployment_points_at_a_flow_and_valid_parameters():
    deployments = _deployments()
    assert {d["name"] for d in deployments} >= {"nightly-archive"}
    for deployment in deployments:
        module_path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert flow.name == "process-archive"
        accepted = inspect.signature(flow.fn).parameters
        unknown = set(deployment.get("parameters", {})) - set(accepted)
        assert not unknown, f"{deployment['name']}: parameters the flow does not take: {unknown}"
        # Prefect's own validation (types, required parameters) must accept them too.
        flow.validate_parameters(deployment["parameters"])


def test_nightly_deployment_is_scheduled():
    nightly = next(d for d in _deployments() if d["name"] == "nightly-archive")
    assert nightly["schedules"][0]["cron"].split()[:2] == ["0", "2"]


def test_cli_offers_the_readme_commands():
    parser = build_parser()
    for argv in (
        ["samples", "x"],
        ["process", "a.mp4", "--out", "o"],
        ["process", "a.mp4", "--out", "o", "--estimator", "pmrr", "--device", "cuda"],
        ["demo", "--img_file", "a.png"],
        ["demo", "--vid_file", "a.mp4"],
        ["checkpoint", "inspect", "c.pt"],
        ["assets"],
    ):
        assert callable(parser.parse_args(argv).func)


def test_cli_samples_then_process(tmp_path, capsys):
    """The README's main command, on the one-person sample, through the real CLI entry point."""
    from pmrr_interviews.cli import main

    assert main(["samples", str(tmp_path / "samples")]) == 0
    carphone = tmp_path / "samples" / "person_carphone.mp4"
    assert carphone.stat().st_size > 10_000
    out = tmp_path / "out"
    assert main(["process", str(carphone), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    (line,) = [x for x in printed.splitlines() if x.startswith("ok")]
    video_id = line.split("video_id=")[1].split(",")[0]
    render = out / "renders" / f"{video_id}.mp4"
    assert str(render) in line and render.stat().st_size > 10_000
    import pandas as pd

    smpl = pd.read_parquet(out / "smpl")
    assert len(smpl) == 100 and smpl["track_id"].nunique() == 1  # 4 s at 25 fps, one person
    # Second run: skipped (a forced rerun is tested in test_pipeline_flow.py).
    assert main(["process", str(carphone), "--out", str(out), "--quiet"]) == 0
    assert "skipped" in capsys.readouterr().out
    assert len(pd.read_parquet(out / "smpl")) == 100


def test_cli_video_demo_writes_the_render(tmp_path, capsys):
    """The seed's ``demo --vid_file``: one video, rendered, outputs under --output_folder."""
    from pmrr_interviews import samples
    from pmrr_interviews.cli import main

    clip = samples.carphone_clip(samples.cache_dir(), seconds=1.0)
    out = tmp_path / "demo"
    assert main(["demo", "--vid_file", str(clip), "--output_folder", str(out)]) == 0
    renders = list((out / "renders").glob("*.mp4"))
    assert len(renders) == 1 and renders[0].stat().st_size > 5_000
    assert str(renders[0]) in capsys.readouterr().out
