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
        ["demo", "--img_file", "a.png"],
        ["demo", "--vid_file", "a.mp4"],
        ["checkpoint", "inspect", "c.pt"],
        ["assets"],
    ):
        assert callable(parser.parse_args(argv).func)
