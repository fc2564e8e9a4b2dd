"""kill -9 during a real commit, at every step, then what plain readers and recovery see.

A child process (:func:`child`, run with ``python3 -c``) commits a new version of a video whose
old version is already committed; ``PMRR_TEST_COMMIT_PAUSE=<step>`` makes its commit print
``PMRR_PAUSED <step>`` and sleep there, and the test sends SIGKILL. Then:

- pandas and DuckDB (no project code, no manifests) show, per table, all old or all new rows of
  the video, never a mix and never none, and the other committed video is untouched;
- ``Store(root).recover()`` leaves every table consistently new (the journal was written) or old
  (killed before it), the manifest matches the tables, and ``_staging`` is empty.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from storage import SCHEMAS, Store
from tests.s3_server import S3Server, s3  # noqa: F401
from tests.test_storage import shots_table, tracks_table

VIDEO = "abcdef0123456789"
OTHER = "0123456789abcdef"
REPO = Path(__file__).resolve().parents[1]

# version -> frames of its smpl rows and the first_frame of its tracks rows
OLD, NEW, NEWER = 0, 100, 200
N_ROWS = {OLD: 3, NEW: 5, NEWER: 2}


def smpl_table(video_id: str, version: int) -> pa.Table:
    """Rows with the real smpl schema; ``frame`` tells which version wrote them."""
    schema = SCHEMAS["smpl"]
    rows = []
    for i in range(N_ROWS[version]):
        row: dict = {"video_id": video_id, "track_id": 0, "frame": version + i}
        for field in schema:
            if field.name in row:
                continue
            if pa.types.is_fixed_size_list(field.type):
                zero = False if pa.types.is_boolean(field.type.value_type) else 0.0
                row[field.name] = [zero] * field.type.list_size
            elif pa.types.is_boolean(field.type):
                row[field.name] = False
            else:
                row[field.name] = 0.0
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema)


def write_version(
    store: Store, video_id: str, version: int, work: Path, full: bool = False
) -> dict:
    """Commit one version: smpl, tracks and an exports folder; ``full`` adds a shots table, a
    render and a second export file (outputs a later version does not produce, so its commit
    must delete them)."""
    txn = store.begin(video_id)
    txn.write_table("smpl", smpl_table(video_id, version), SCHEMAS["smpl"])
    txn.write_table("tracks", tracks_table(video_id, N_ROWS[version], version), SCHEMAS["tracks"])
    folder = Path(tempfile.mkdtemp(dir=work))
    (folder / f"track_{version}.npz").write_bytes(b"npz")
    if full:
        (folder / "track_9.npz").write_bytes(b"npz")
        txn.write_table("shots", shots_table(video_id, 2), SCHEMAS["shots"])
        (work / "render.mp4").write_bytes(b"video")
        txn.put_file(work / "render.mp4", "render")
    txn.put_dir(folder, "exports")
    return txn.commit({"version": version})


def child() -> None:
    """Entry point of the killed process: ``child <root> <version> <work folder>``."""
    root, version, work = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    write_version(Store(root), VIDEO, version, work)
    print("PMRR_DONE", flush=True)


def run_and_kill(root: str, version: int, step: str, tmp: Path) -> None:
    env = {**os.environ, "PMRR_TEST_COMMIT_PAUSE": step}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", "from tests.test_commit_crash import child; child()", root,
         str(version), str(tmp)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == f"PMRR_PAUSED {step}":
                break
            assert time.monotonic() < deadline, "child did not reach the pause"
        else:
            pytest.fail(f"child ended without pausing at {step}: {proc.stderr.read()}")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def versions_seen(root: Path) -> dict[str, dict[str, int | None]]:
    """Per reader and table, which version of VIDEO's rows is visible (None: no rows); fails
    on a mix. Also checks that OTHER's rows are all there."""
    seen: dict[str, dict[str, int | None]] = {"pandas": {}, "duckdb": {}}
    for table, column in (("smpl", "frame"), ("tracks", "first_frame")):
        frame = pd.read_parquet(root / table)
        frame["video_id"] = frame["video_id"].astype(str)
        glob = f"{root}/{table}/*/*.parquet"
        sql = f"SELECT video_id, {column} FROM read_parquet('{glob}', hive_partitioning=1)"
        by_reader = {
            "pandas": frame[["video_id", column]].itertuples(index=False),
            "duckdb": duckdb.sql(sql).fetchall(),
        }
        for reader, rows in by_reader.items():
            rows = [(str(v), int(x)) for v, x in rows]
            assert len([r for r in rows if r[0] == OTHER]) == N_ROWS[OLD], (reader, table)
            values = sorted(x for v, x in rows if v == VIDEO)
            version = None
            for candidate in (OLD, NEW, NEWER):
                if table == "smpl":
                    expected = [candidate + i for i in range(N_ROWS[candidate])]
                else:
                    expected = [candidate] * N_ROWS[candidate]
                if values == expected:
                    version = candidate
            assert version is not None, f"{reader} {table}: a mix or nothing: {values}"
            seen[reader][table] = version
    assert seen["pandas"] == seen["duckdb"]
    return seen["pandas"]


def assert_consistent(root: Path, version: int) -> None:
    store = Store(root)
    assert versions_seen(root) == {"smpl": version, "tracks": version}
    manifest = store.manifest(VIDEO)
    assert manifest["version"] == version
    assert set(manifest["tables"]) == {"smpl", "tracks"}
    assert manifest["artifacts"] == {"exports": f"exports/{VIDEO}"}
    assert sorted(p.name for p in (root / "exports" / VIDEO).iterdir()) == [f"track_{version}.npz"]
    assert store.read_table("smpl", [VIDEO]).column("frame").to_pylist() == [
        version + i for i in range(N_ROWS[version])
    ]
    assert store.committed_videos() == sorted([VIDEO, OTHER])
    assert not list((root / "_staging").iterdir())


# step -> (version of smpl, of tracks) right after the kill; moves go in path order: exports,
# smpl, tracks
STEPS = {
    "staged": (OLD, OLD),
    "journal": (OLD, OLD),
    "move-1": (OLD, OLD),
    "move-2": (NEW, OLD),
    "move-3": (NEW, NEW),
    "deleted": (NEW, NEW),
    "manifest": (NEW, NEW),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_kill_at_each_step(tmp_path: Path, step: str) -> None:
    root = tmp_path / "out"
    store = Store(root)
    write_version(store, OTHER, OLD, tmp_path)
    old = write_version(store, VIDEO, OLD, tmp_path)
    run_and_kill(str(root), NEW, step, tmp_path)
    smpl, tracks = STEPS[step]
    assert versions_seen(root) == {"smpl": smpl, "tracks": tracks}
    assert store.manifest(VIDEO)["txn"] == old["txn"] or step == "manifest"
    (txn,) = [p.name for p in (root / "_staging").iterdir()]
    report = Store(root).recover()
    committed = step != "staged"
    assert report == {txn: "rolled forward" if committed else "discarded (not committed)"}
    assert_consistent(root, NEW if committed else OLD)


@pytest.mark.parametrize("step", ["journal", "move-2", "deleted"])
def test_kill_during_a_force_recommit_with_stale_outputs(tmp_path: Path, step: str) -> None:
    """The old version also has shots, a render and more exports; the new one does not: after
    recovery they are gone, and a plain reader never sees shots of the new version."""
    root = tmp_path / "out"
    store = Store(root)
    write_version(store, OTHER, OLD, tmp_path)
    write_version(store, VIDEO, OLD, tmp_path, full=True)
    run_and_kill(str(root), NEW, step, tmp_path)
    shots = pd.read_parquet(root / "shots")
    assert len(shots) in (0, 2)  # the old rows until deleted, then none (new has no shots)
    assert (len(shots) == 0) == (step == "deleted")
    store.recover()
    assert_consistent(root, NEW)
    assert not (root / "renders" / f"{VIDEO}.mp4").exists()
    assert not (root / "shots" / f"video_id={VIDEO}").exists()


def test_next_run_recovers_then_commits(tmp_path: Path) -> None:
    """A killed commit is finished (journal written) or cleared (not) by the next begin()."""
    root = tmp_path / "out"
    store = Store(root)
    write_version(store, OTHER, OLD, tmp_path)
    write_version(store, VIDEO, OLD, tmp_path)
    run_and_kill(str(root), NEW, "staged", tmp_path)
    run_and_kill(str(root), NEW, "move-2", tmp_path)  # its begin() discarded the first
    assert len(list((root / "_staging").iterdir())) == 1
    write_version(Store(root), VIDEO, NEWER, tmp_path)
    assert_consistent(root, NEWER)


def test_first_commit_killed_then_recovered(tmp_path: Path) -> None:
    root = tmp_path / "out"
    write_version(Store(root), OTHER, OLD, tmp_path)
    run_and_kill(str(root), NEW, "move-2", tmp_path)
    frame = pd.read_parquet(root / "smpl")
    assert sorted(frame[frame.video_id.astype(str) == VIDEO].frame) == [100, 101, 102, 103, 104]
    assert Store(root).committed_videos() == [OTHER]
    Store(root).recover()
    assert_consistent(root, NEW)


def test_kill_on_s3_is_rolled_forward(s3: S3Server, tmp_path: Path) -> None:  # noqa: F811
    root = s3.url(f"crash-{tmp_path.name}")
    store = Store(root)
    write_version(store, OTHER, OLD, tmp_path)
    old = write_version(store, VIDEO, OLD, tmp_path)
    run_and_kill(root, NEW, "move-2", tmp_path)
    frame = pd.read_parquet(f"{root}/smpl")
    frame = frame[frame.video_id.astype(str) == VIDEO]
    assert sorted(frame.frame) == [100, 101, 102, 103, 104]
    tracks = store.read_table("tracks", [VIDEO]).column("first_frame").to_pylist()
    assert tracks == [OLD] * N_ROWS[OLD] and store.manifest(VIDEO)["txn"] == old["txn"]
    assert list(Store(root).recover().values()) == ["rolled forward"]
    manifest = store.manifest(VIDEO)
    assert manifest["version"] == NEW and set(manifest["tables"]) == {"smpl", "tracks"}
    tracks = store.read_table("tracks", [VIDEO]).column("first_frame").to_pylist()
    assert tracks == [NEW] * N_ROWS[NEW]
    assert store.fs.find(store.path("_staging")) == []
