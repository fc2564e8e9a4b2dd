"""Batch semantics of ``pmrr process`` through the real command, in a subprocess each time.

Exit status: 0 every video ok or skipped, 1 every video failed, 3 some failed. One bad input
is that input's failure and prints one line naming it; folders take video files only; the output
folder is never ingested; ``run_demo.py --vid_file`` (the seed's command) works.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pmrr_interviews import samples

NO_CUDA = not torch.cuda.is_available()

ROOT = Path(__file__).resolve().parent.parent


def _pmrr(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.run(
        [sys.executable, "-m", "pmrr_interviews.cli", *argv],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """carphone.mp4 (good), empty.mp4 (zero bytes), gone.mp4 (broken link), notes.txt,
    photo.jpg (not videos: ignored in a folder), and a folder named x.mp4 holding no video."""
    root = tmp_path_factory.mktemp("archive")
    clip = samples.carphone_clip(samples.cache_dir(), seconds=1.0)
    (root / "carphone.mp4").write_bytes(clip.read_bytes())
    (root / "empty.mp4").write_bytes(b"")
    (root / "gone.mp4").symlink_to(root / "deleted-target.mp4")
    (root / "notes.txt").write_text("not a video")
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "x.mp4").mkdir()
    return root


def test_folder_batch_exit_codes_and_one_line_per_failure(folder: Path) -> None:
    out = folder / "out"  # inside the input folder on purpose
    run = _pmrr("process", str(folder), "--out", str(out), "--quiet", "--no-analytics", cwd=folder)
    assert run.returncode == 3, run.stdout + run.stderr  # partial failure
    lines = run.stdout.splitlines()
    ok = [x for x in lines if x.startswith("ok")]
    failed = [x for x in lines if x.startswith("FAILED")]
    assert len(ok) == 1 and "carphone.mp4" in ok[0]
    assert len(failed) == 3, lines  # each names its file and the problem
    assert any("empty.mp4" in x and "empty file" in x for x in failed)
    assert any("gone.mp4" in x and "link" in x for x in failed)
    assert any("x.mp4" in x and "folder" in x for x in failed)
    assert not any(name in run.stdout for name in ("notes.txt", "photo.jpg"))
    assert "Traceback" not in run.stdout + run.stderr
    render = next((out / "renders").glob("*.mp4"))

    # Again: the good video is skipped and the render under the output is not a new input.
    again = _pmrr(
        "process", str(folder), "--out", str(out), "--quiet", "--no-analytics", cwd=folder
    )
    assert again.returncode == 3
    assert [x.split()[0] for x in again.stdout.splitlines() if "carphone" in x] == ["skipped"]
    assert render.name not in again.stdout and "renders" not in again.stdout

    # Only the good one: exit 0. Only bad ones (a folder named x.mp4 among them): exit 1,
    # each with its own row.
    good = _pmrr(
        "process", str(folder / "carphone.mp4"), "--out", str(out), "--quiet", "--no-analytics",
        cwd=folder,
    )  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr
    bad = _pmrr(
        "process", str(folder / "empty.mp4"), str(folder / "x.mp4"), "--out", str(out), "--quiet",
        cwd=folder,
    )  # fmt: skip
    assert bad.returncode == 1
    failed = [x for x in bad.stdout.splitlines() if x.startswith("FAILED")]
    assert len(failed) == 2 and any("x.mp4" in x for x in failed)
    assert "Traceback" not in bad.stdout + bad.stderr

    verbose = _pmrr("-v", "process", str(folder / "empty.mp4"), "--out", str(out), cwd=folder)
    assert verbose.returncode == 1 and "Traceback" in verbose.stdout + verbose.stderr

    listing = _pmrr("ls", str(out), cwd=folder)
    assert listing.returncode == 0
    (row,) = [x for x in listing.stdout.splitlines() if "carphone.mp4" in x]
    assert row.split()[1] == "ok"


def test_bad_outputs_and_checkpoints_are_one_line_each(folder: Path, tmp_path: Path) -> None:
    """An output or stage cache that is a file, a checkpoint that is no checkpoint, a roles file
    that does not exist, and ``ls`` of a folder that does not exist: one line naming the path
    and the problem, exit 2, no traceback (the checkpoint's came after two chained tracebacks,
    exit 1; the cache failed every video as if each were at fault; the roles said "invalid
    parse_roles value"; ``ls`` said "0 committed videos", exit 0)."""
    clip = str(folder / "carphone.mp4")
    not_a_folder = tmp_path / "out.txt"
    not_a_folder.write_text("a file")
    not_a_checkpoint = tmp_path / "weights.pt"
    not_a_checkpoint.write_text("not torch")
    out = str(tmp_path / "o")

    def process(*options: str):
        return _pmrr("process", clip, "--out", out, *options, cwd=tmp_path)

    pmrr_weights = ("--estimator", "pmrr", "--checkpoint", str(not_a_checkpoint))
    runs = {
        "is a file": _pmrr("process", clip, "--out", str(not_a_folder), "--quiet", cwd=tmp_path),
        "checkpoint": process("--quiet", *pmrr_weights),
        "ls": _pmrr("ls", str(tmp_path / "missing"), cwd=tmp_path),
        "cuda:3": process("--quiet", *pmrr_weights, "--device", "cuda:3"),
        "cache": process("--quiet", "--cache-dir", str(not_a_folder)),
        "roles": process("--roles", str(tmp_path / "r.json")),
    }
    expected = {
        "is a file": (str(not_a_folder), "not writable"),
        "checkpoint": (str(not_a_checkpoint), "not a readable PyTorch checkpoint"),
        "ls": (str(tmp_path / "missing"), "no such output folder"),
        # the device is checked before the weights are read (was "Torch not compiled with CUDA
        # enabled" from the first copy of weights, after a traceback)
        "cuda:3": ("device 'cuda:3'", "use --device cpu" if NO_CUDA else "CUDA device(s) here"),
        "cache": (str(not_a_folder), "--cache-dir) is a file"),
        "roles": (str(tmp_path / "r.json"), "no such file"),
    }
    if NO_CUDA:  # a worker per GPU, none here (was a ValueError's traceback, exit 1)
        runs["workers"] = process("--quiet", "--workers", "2", "--device", "cuda")
        expected["workers"] = ("--workers 2 --device cuda", "torch sees 0 GPU(s)")
    for case, run in runs.items():
        assert run.returncode == 2, (case, run.stdout + run.stderr)
        assert "Traceback" not in run.stdout + run.stderr, case
        (line,) = [x for x in run.stderr.splitlines() if x.startswith("pmrr ")]
        assert all(part in line for part in expected[case]), (case, line)
    assert not_a_folder.read_text() == "a file"


def test_seed_run_demo_vid_file(tmp_path: Path) -> None:
    clip = samples.carphone_clip(samples.cache_dir(), seconds=1.0)
    run = subprocess.run(
        [sys.executable, str(ROOT / "run_demo.py"), "--vid_file", str(clip),
         "--output_folder", str(tmp_path / "demo")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    renders = list((tmp_path / "demo" / "renders").glob("*.mp4"))
    assert len(renders) == 1 and renders[0].stat().st_size > 10_000
