#!/usr/bin/env python3
"""End-to-end check of the README's "Scheduled runs" steps, on this machine, with real processes.

What it does (each step is printed as it runs):

1. starts a real Prefect server (``prefect server start``) on a free 127.0.0.1 port, with its
   own temporary ``PREFECT_HOME`` (so it never touches your profiles or database) and analytics
   off;
2. creates the process work pool ``pmrr-cpu`` (``prefect work-pool create pmrr-cpu --type
   process``);
3. deploys ``on-demand`` from the repository's ``prefect.yaml`` (``prefect --no-prompt deploy
   --name on-demand`` in the repository root, ``PMRR_INTERVIEWS_DIR`` set for the yaml's pull
   step);
4. starts a worker (``prefect worker start --pool pmrr-cpu``);
5. writes the sample videos (``pmrr samples DIR``) and triggers the deployment with
   ``prefect deployment run process-archive/on-demand`` (``inputs``: the short real clip,
   ``out``: a temporary folder; render and analytics off to keep it fast: the estimation,
   tables and commit are the real ones);
6. waits for the flow run to reach a final state (``--timeout``), and checks that it is
   COMPLETED and that the output has committed rows (``pd.read_parquet(OUT/smpl)``) and a
   manifest (``OUT/_manifests/<video_id>.json``).

The last line is ``RESULT {json}`` (state, rows, manifests, seconds, the stopped pids). The worker and the server
are stopped (their whole process groups) whatever happens; the temporary folder is removed
unless ``--keep``. Exit status 0 when every check passed, 1 otherwise.

    python3 scripts/deployment_check.py [--full] [--keep] [--timeout 600]

``--full`` processes both samples with render and analytics on (slower).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POOL = "pmrr-cpu"
DEPLOYMENT = "process-archive/on-demand"
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
FAST_CONFIG = {"render": False, "analytics": False, "export_npz": False}

_START = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _START:6.1f}s] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prefect_env(home: Path, api_url: str) -> dict[str, str]:
    """This process's environment without any PREFECT_* setting of the caller (a profile or an
    API URL pointing at a real server must not be used), plus the check's own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_UI_ENABLED="false",
        # poll often: the check waits for the worker, the worker for the run
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_HEARTBEAT_SECONDS="5",
        PMRR_INTERVIEWS_DIR=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


class Processes:
    """Background processes, each in its own session so that stopping one stops its children
    (the server's uvicorn, the worker's flow-run process)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.running.append((name, process))
        say(f"started {name} (pid {process.pid}): {' '.join(args)}")
        return process

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop_all(self) -> None:
        for name, process in reversed(self.running):
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    _signal_group(process, signal.SIGKILL)
                    process.wait(timeout=10)
            # children left behind by a process that exited on its own
            _signal_group(process, signal.SIGKILL)
            say(f"stopped {name} (exit {process.returncode})")
        self.running.clear()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # the group this check created with start_new_session
    except (ProcessLookupError, PermissionError):
        pass


def run(args: list[str], env: dict[str, str], timeout: float = 300) -> str:
    """Run a command to completion; its output is printed; a failure raises with the output."""
    say("$ " + " ".join(args))
    done = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = (done.stdout + done.stderr).strip()
    for line in output.splitlines()[-15:]:
        print(f"    {line}", flush=True)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} {args[1]} exited with {done.returncode}")
    return output


def api(api_url: str, path: str, body: dict | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        api_url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for_server(api_url: str, server: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited with {server.returncode}")
        try:
            if api(api_url, "/health") is True:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"prefect server did not answer on {api_url} within {timeout_s:.0f} s")


def wait_for_run(api_url: str, run_id: str, worker: subprocess.Popen, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        run = api(api_url, f"/flow_runs/{run_id}")
        state = (run.get("state") or {}).get("type")
        if state != last:
            say(
                f"flow run {run['name']} ({run_id}): {state} ({(run.get('state') or {}).get('name')})"
            )
            last = state
        if state in FINAL_STATES:
            return run
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode} before the run ended")
        time.sleep(1)
    raise TimeoutError(f"flow run {run_id} not finished within {timeout_s:.0f} s (last {last})")


def check_outputs(out: Path) -> dict:
    import pandas as pd

    manifests = sorted((out / "_manifests").glob("*.json"))
    if not manifests:
        raise RuntimeError(f"{out}/_manifests: no manifest, nothing was committed")
    statuses = [json.loads(p.read_text()).get("status") for p in manifests]
    smpl = pd.read_parquet(out / "smpl")
    say(
        f"committed: {len(manifests)} manifests (status {statuses}), "
        f"{len(smpl)} smpl rows of {smpl['video_id'].nunique()} videos"
    )
    if len(smpl) == 0:
        raise RuntimeError(f"{out}/smpl: no rows")
    return {
        "manifests": len(manifests),
        "manifest_status": statuses,
        "smpl_rows": len(smpl),
        "videos": int(smpl["video_id"].nunique()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="both samples, render and analytics")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the flow run")
    args = parser.parse_args(argv)

    prefect = shutil.which("prefect")
    pmrr = shutil.which("pmrr")
    if prefect is None or pmrr is None:
        print("prefect and pmrr must be on PATH: bash scripts/install.sh", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="pmrr-deployment-check-"))
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = prefect_env(tmp / "prefect-home", api_url)
    (tmp / "logs").mkdir()
    procs = Processes(tmp / "logs")
    result: dict = {"ok": False}
    say(f"temporary folder {tmp}; PREFECT_API_URL={api_url}")
    try:
        server = procs.start(
            "server", [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env
        )
        wait_for_server(api_url, server, timeout_s=180)
        say("prefect server answers")

        run([prefect, "work-pool", "create", POOL, "--type", "process"], env)
        run([prefect, "--no-prompt", "deploy", "--name", "on-demand"], env)
        deployment = api(api_url, f"/deployments/name/{DEPLOYMENT}")
        say(
            f"deployment {DEPLOYMENT}: pool {deployment['work_pool_name']}, "
            f"pull steps {json.dumps(deployment.get('pull_steps'))}"
        )
        if deployment["work_pool_name"] != POOL:
            raise RuntimeError(f"deployment is on pool {deployment['work_pool_name']}, not {POOL}")

        worker = procs.start("worker", [prefect, "worker", "start", "--pool", POOL], env)

        videos = tmp / "videos"
        written = run([pmrr, "samples", str(videos)], env).splitlines()
        clips = [Path(line.strip()) for line in written if line.strip().endswith(".mp4")]
        if args.full:
            inputs, config = [str(videos)], {}
        else:
            short = [c for c in clips if "carphone" in c.name] or clips[:1]
            inputs, config = [str(short[0])], FAST_CONFIG
        out = tmp / "out"
        params = {"inputs": inputs, "out": str(out), "config": config}
        output = run(
            [prefect, "deployment", "run", DEPLOYMENT, "--params", json.dumps(params)], env
        )
        match = re.search(r"UUID:\s*([0-9a-f-]{36})", output)
        if match is None:
            raise RuntimeError("no flow run id in the output of `prefect deployment run`")
        started = time.monotonic()
        flow_run = wait_for_run(api_url, match.group(1), worker, args.timeout)
        result["flow_run_s"] = round(time.monotonic() - started, 1)
        result["state"] = flow_run["state"]["type"]
        result["deployment"] = DEPLOYMENT
        result["worker_ran_it"] = bool(flow_run.get("work_pool_name") == POOL)
        if result["state"] != "COMPLETED":
            print(procs.tail("worker", 60), flush=True)
            raise RuntimeError(f"flow run ended {result['state']}, not COMPLETED")
        result.update(check_outputs(out))
        result["ok"] = True
    except Exception as error:
        say(f"FAILED: {error}")
        for name in ("server", "worker"):
            text = procs.tail(name)
            if text:
                print(f"--- last lines of the {name} log ---\n{text}", flush=True)
        result["error"] = str(error)
    finally:
        result["pids"] = {name: process.pid for name, process in procs.running}
        procs.stop_all()
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - _START, 1)
    say("all checks passed" if result["ok"] else "check failed")
    print("RESULT " + json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
