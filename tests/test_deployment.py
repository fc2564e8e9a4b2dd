"""The README's scheduled-run steps, for real: ``scripts/deployment_check.py`` starts a Prefect
server, creates the ``pmrr-cpu`` process pool, deploys ``on-demand`` from ``prefect.yaml``, starts
a worker, triggers a run on the short sample and checks the committed output (about 1-2 min)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_deployment_runs_through_a_worker_and_commits_rows() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "deployment_check.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])
    assert result["ok"] and result["state"] == "COMPLETED", result
    assert result["deployment"] == "process-archive/on-demand" and result["worker_ran_it"]
    assert result["smpl_rows"] > 0 and result["videos"] == 1
    assert result["manifests"] == 1 and result["manifest_status"] == ["ok"]
    # the steps the README lists, each run for real
    for step in (
        "prefect server answers",
        "work-pool create pmrr-cpu --type process",
        "deploy --name on-demand",
        "deployment process-archive/on-demand: pool pmrr-cpu",
        "worker start --pool pmrr-cpu",
        "deployment run process-archive/on-demand",
        "COMPLETED",
    ):
        assert step in output, step
    # the worker and the server were stopped
    assert set(result["pids"]) == {"server", "worker"}
    for pid in result["pids"].values():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        assert status in ("Z", "X"), f"process {pid} still runs"
