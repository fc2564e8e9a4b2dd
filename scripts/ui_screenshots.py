"""Check in a real browser that a run's page in the Prefect UI shows its plots, and screenshot it.

Starts a Prefect server (UI included) with its own home folder, processes the sample videos
through it with ``pmrr process``, then opens the flow-run pages in headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven by selenium) and requires every embedded plot to be
decoded by the browser (``naturalWidth > 0``). Screenshots go to ``--docs`` (default
``docs/``). Exit status 0 when every plot displays, 1 otherwise.

    apt-get install chromium chromium-driver && pip install -e '.[ui-check]'
    python3 scripts/ui_screenshots.py            # or --api http://host:4200/api to use a server

Why not in CI: it needs a browser (about 300 MB of packages); CI checks the same artifacts
through the Prefect API instead (``tests/test_ui_artifacts.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _api(api: str, path: str, body: dict) -> list[dict]:
    request = urllib.request.Request(
        f"{api}/{path}", json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@contextmanager
def prefect_server(home: Path):
    """A Prefect server with the UI on a free loopback port; yields its API URL."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_API_URL": api,  # where the browser's UI calls the API (default port 4200)
    }
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"no Prefect server; see {home}/server.log") from None
                time.sleep(0.5)
        yield api
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def process_samples(api: str, work: Path) -> None:
    env = {**os.environ, "PREFECT_API_URL": api}
    subprocess.run(["pmrr", "samples", str(work / "samples")], check=True, env=env)
    subprocess.run(
        ["pmrr", "process", str(work / "samples"), "--out", str(work / "out")],
        check=True, env=env,
    )  # fmt: skip


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,2000")
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for(driver, script: str, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.5)
    return driver.execute_script(script)


CLICK_ARTIFACTS_TAB = """for (const b of document.querySelectorAll('button, [role=tab], a, li'))
    if (b.innerText && b.innerText.trim() === 'Artifacts') { b.click(); break; }"""
IMAGES = """return Array.from(document.querySelectorAll('img[src^="data:image/png"]'))
    .map(i => [i.alt, i.complete && i.naturalWidth > 0, i.naturalWidth, i.naturalHeight]);"""


def check(api: str, docs: Path) -> bool:
    ui = api.removesuffix("/api")
    artifacts = _api(api, "artifacts/filter", {"limit": 200})
    plots = [a for a in artifacts if (a.get("key") or "").startswith("plots-")]
    if not plots:
        print("no plots- artifacts on this server")
        return False
    ok = True
    driver = browser()
    try:
        for number, artifact in enumerate(sorted(plots, key=lambda a: a["created"])):
            shots = docs if number == 0 else None  # screenshots of the first video's run only
            run, video_id = artifact["flow_run_id"], artifact["key"].removeprefix("plots-")
            # the flow-run page, Artifacts tab: summary, people table and plots of the video
            driver.get(f"{ui}/runs/flow-run/{run}")
            wait_for(driver, "return document.body.innerText.includes('Artifacts')")
            driver.execute_script(CLICK_ARTIFACTS_TAB)
            wait_for(driver, f"return document.body.innerText.includes('video-{video_id}')")
            time.sleep(2)
            if shots:
                driver.save_screenshot(str(shots / "ui_flow_run.png"))
            summary = [a for a in artifacts if a.get("key") == f"video-{video_id}"]
            if shots and summary:
                driver.get(f"{ui}/artifacts/artifact/{summary[0]['id']}")
                wait_for(driver, "return document.body.innerText.includes('stage')")
                time.sleep(1)
                driver.save_screenshot(str(shots / "ui_summary.png"))
            # the plots artifact's page shows the embedded plots at full width
            driver.get(f"{ui}/artifacts/artifact/{artifact['id']}")
            images = wait_for(
                driver, f"const r = (() => {{{IMAGES}}})(); return r.length ? r : null"
            )
            images = images or []
            shown = [i for i in images if i[1]]
            if shots:
                height = driver.find_element("tag name", "body").size["height"]
                driver.set_window_size(1400, max(1200, height + 200))
                driver.save_screenshot(str(shots / "ui_plots.png"))
                driver.set_window_size(1400, 2000)
            expected = artifact["data"].count("data:image/png;base64,")
            print(f"{artifact['key']}: {len(shown)}/{expected} embedded plots displayed {images}")
            ok &= len(shown) == expected > 0
    finally:
        driver.quit()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", help="use this Prefect server (with runs) instead of a new one")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    args = parser.parse_args(argv)
    args.docs.mkdir(parents=True, exist_ok=True)
    if args.api:
        return 0 if check(args.api.rstrip("/"), args.docs) else 1
    with tempfile.TemporaryDirectory(prefix="pmrr-ui-") as tmp, prefect_server(Path(tmp)) as api:
        process_samples(api, Path(tmp))
        return 0 if check(api, args.docs) else 1


if __name__ == "__main__":
    sys.exit(main())
