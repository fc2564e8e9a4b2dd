"""The pipeline benchmark's per-stage CPU clock (``benchmarks/pipeline.py`` ``StageCpu``): time
goes to the stage reported last, and ``cores`` tells a busy stage from a waiting one."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("pipeline_bench", ROOT / "benchmarks/pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stage_cpu_attributes_time_to_the_last_reported_stage():
    clock = _bench().StageCpu()
    clock("video.mp4", "track")
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:  # busy: one core
        pass
    clock("video.mp4", "estimate", 0, 10)
    time.sleep(0.3)  # waiting: no core
    clock("video.mp4", "estimate", 5, 10)  # the same stage again: no switch
    time.sleep(0.1)
    clock.switch(None)
    time.sleep(0.1)  # after the run: counted nowhere
    assert 0.29 <= clock.wall_s["track"] < 0.5
    assert 0.39 <= clock.wall_s["estimate"] < 0.6
    assert clock.cores("track") > 0.3
    assert clock.cores("estimate") < 0.2
    assert clock.cores("render") != clock.cores("render")  # never reported: nan
