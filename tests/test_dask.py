"""Units of work on a real local Dask cluster (2 worker processes) through the Prefect flow.

The two-person clip with a hard cut is run in this process, then on the cluster while one
worker process is killed (SIGKILL, by PID) in the middle of a unit. The cluster's rows must be
the in-process rows exactly: same person-frames, same track IDs across unit borders, same
numbers. The killed unit reruns on another worker; nothing is lost or duplicated; the unit task
runs are reported to the flow's own Prefect API.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.archive import process_archive
from flows.cluster import local_cluster
from flows.config import PipelineConfig
from pmrr_interviews import samples
from storage import Store

# 1 s units: the 2 s first shot is two units (tracks are stitched at their border), the cut
# starts a third.
CONFIG = PipelineConfig(render=False, analytics=False, export_npz=False, unit_s=1.0)
TABLES = ("tracks", "smpl")


def _tables(out: Path, video_id: str) -> dict[str, pd.DataFrame]:
    store = Store(out)
    return {name: store.read_table(name, [video_id]).to_pandas() for name in TABLES}


def _kill_a_busy_worker(address: str, stop: threading.Event, killed: list) -> None:
    """SIGKILL the first worker seen running an estimate unit (its PID, as a crash would)."""
    from distributed import Client

    with Client(address) as client:
        pids = client.run(os.getpid)
        while not stop.is_set() and not killed:
            for worker, keys in client.processing().items():
                if any("estimate" in str(key) for key in keys):
                    time.sleep(1.0)  # well inside the unit (each takes several seconds)
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.append((worker, pids[worker]))
                    break
            time.sleep(0.2)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    clip = samples.interview_clip(samples.cache_dir())
    base = tmp_path_factory.mktemp("dask")
    (local,) = process_archive([str(clip)], str(base / "local"), config=CONFIG)
    killed: list = []
    stop = threading.Event()
    started = time.time()
    with local_cluster(2) as address:
        killer = threading.Thread(target=_kill_a_busy_worker, args=(address, stop, killed))
        killer.start()
        try:
            cfg = CONFIG.model_copy(update={"cluster": address})
            (remote,) = process_archive([str(clip)], str(base / "cluster"), config=cfg)
        finally:
            stop.set()
            killer.join()
    return {
        "local": _tables(base / "local", local["video_id"]),
        "cluster": _tables(base / "cluster", remote["video_id"]),
        "rows": (local, remote),
        "killed": killed,
        "started": started,
    }


def test_cluster_rows_equal_the_in_process_rows(runs: dict) -> None:
    local, remote = runs["rows"]
    assert local["status"] == remote["status"] == "ok"
    assert local["video_id"] == remote["video_id"]
    for name in TABLES:
        a, b = runs["local"][name], runs["cluster"][name]
        assert len(a) == len(b) > 0, name
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
    smpl = runs["cluster"]["smpl"]
    assert not smpl.duplicated(["track_id", "frame"]).any()
    # Two people in the first shot, whose two units are joined: tracks span the unit border.
    first_shot = runs["cluster"]["tracks"].query("shot_id == 0")
    assert len(first_shot) == 2
    assert (first_shot["n_frames"] > 30).all()


def test_a_killed_worker_loses_nothing(runs: dict) -> None:
    assert runs["killed"], "no worker was killed while estimating (the test did not test)"
    smpl = runs["cluster"]["smpl"]
    frames = np.sort(smpl["frame"].unique())
    assert len(smpl) == len(runs["local"]["smpl"])
    assert frames[0] == 0 and len(frames) == frames[-1] + 1  # every frame has its people


def test_unit_task_runs_report_to_the_flow_api(runs: dict) -> None:
    """The workers' task runs are in the flow's Prefect API (not a server of their own)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    with get_client(sync_client=True) as client:
        found = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="estimate-unit"))
        )
    recent = [r for r in found if r.created and r.created.timestamp() >= runs["started"] - 1]
    done = [r for r in recent if r.state and r.state.is_completed()]
    assert len(done) == 3  # one per unit


@pytest.fixture(scope="module")
def batch(runs: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three videos as one batch on a 2-worker cluster: the two-person clip, a one-person clip
    and a clip with nobody in it (its units run, then the video fails)."""
    cache = samples.cache_dir()
    clip, phone = samples.interview_clip(cache), samples.carphone_clip(cache, seconds=1.0)
    nobody = samples.nobody_clip(cache)
    base = tmp_path_factory.mktemp("batch")
    (phone_local,) = process_archive([str(phone)], str(base / "local"), config=CONFIG)
    started = time.time()
    with local_cluster(2) as address:
        cfg = CONFIG.model_copy(update={"cluster": address})
        videos = [str(clip), str(phone), str(nobody)]
        rows = process_archive(videos, str(base / "cluster"), config=cfg)
    by_source = {Path(r["source"]).name: r for r in rows}
    return {
        "rows": by_source,
        "names": (clip.name, phone.name, nobody.name),
        "phone_local": _tables(base / "local", phone_local["video_id"]),
        "cluster": {
            name: _tables(base / "cluster", by_source[name]["video_id"])
            for name in (clip.name, phone.name)
        },
        "started": started,
    }


def test_a_batch_runs_its_videos_side_by_side(runs: dict, batch: dict) -> None:
    """Each video's rows equal its in-process rows, the failing video is reported as failed
    without stopping the others, and the videos' flow runs overlapped in time."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterStartTime,
    )

    clip, phone, nobody = batch["names"]
    rows = batch["rows"]
    assert rows[clip]["status"] == rows[phone]["status"] == "ok"
    assert rows[nobody]["status"] == "failed"
    assert "no person detected" in rows[nobody]["error"]
    for name in TABLES:
        for theirs, ours in ((runs["local"], batch["cluster"][clip]),
                             (batch["phone_local"], batch["cluster"][phone])):  # fmt: skip
            assert len(ours[name]) > 0, name
            pd.testing.assert_frame_equal(theirs[name], ours[name], check_exact=True, obj=name)
    with get_client(sync_client=True) as client:
        found = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["process-video"])),
            flow_run_filter=FlowRunFilter(
                start_time=FlowRunFilterStartTime(
                    after_=datetime.fromtimestamp(batch["started"] - 1, timezone.utc)
                )
            ),
        )
    videos = [r for r in found if Path(str(r.parameters.get("source"))).name in batch["names"]]
    assert len(videos) == 3
    spans = sorted((r.start_time.timestamp(), r.end_time.timestamp()) for r in videos)
    assert spans[1][0] < spans[0][1], "the second video started only after the first ended"


def test_worker_threads_split_the_cores_this_process_may_use() -> None:
    """Thread limits per worker come from the process's CPU affinity (a container's or a batch
    job's share), not from the machine's core count."""
    from flows.cluster import worker_env

    assert worker_env(2, cpu_count=8)["OMP_NUM_THREADS"] == "4"
    assert worker_env(16, cpu_count=8)["MKL_NUM_THREADS"] == "1"
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(allowed)})
        assert worker_env(1)["OMP_NUM_THREADS"] == "1"
    finally:
        os.sched_setaffinity(0, allowed)
    assert worker_env(1)["OPENBLAS_NUM_THREADS"] == str(len(allowed))
