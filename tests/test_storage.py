"""The storage layer on a local folder: what plain readers see, idempotent rewrites, keep, path
safety against tampered manifests and journals, errors.

The same protocol runs on S3 in tests/test_s3.py; kill -9 at each commit step is in
tests/test_commit_crash.py. Here failures are injected in-process (a transaction never
committed, a commit whose file system fails half-way).
"""

from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from storage import SCHEMAS, StorageError, Store
from storage.schemas import SCHEMA_VERSION

A = "aaaaaaaaaaaaaaaa"
B = "bbbbbbbbbbbbbbbb"
C = "cccccccccccccccc"


def shots_table(video_id: str, n: int, offset: int = 0) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "video_id": video_id,
                "shot_id": i,
                "start_frame": 10 * i + offset,
                "end_frame": 10 * i + 9 + offset,
                "start_s": 0.4 * i,
                "end_s": 0.4 * (i + 1),
            }
            for i in range(n)
        ],
        schema=SCHEMAS["shots"],
    )


def tracks_table(video_id: str, n: int, offset: int = 0) -> pa.Table:
    rows = [
        {
            "video_id": video_id,
            "track_id": i,
            "shot_id": 0,
            "role": "other",
            "first_frame": offset,
            "last_frame": offset + 9,
            "n_frames": 10,
        }
        for i in range(n)
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMAS["tracks"])


def commit(store: Store, video_id: str, n: int, offset: int = 0, **extra) -> dict:
    txn = store.begin(video_id)
    txn.write_table("shots", shots_table(video_id, n, offset), SCHEMAS["shots"])
    return txn.commit(extra)


def plain_counts(root: Path, table: str) -> dict[str, dict[str, int]]:
    """Rows per video of ``table`` as four readers without project code see them."""
    folder = root / table
    sql = f"SELECT video_id FROM read_parquet('{folder}/*/*.parquet', hive_partitioning=1)"
    ids = {
        "pandas": pd.read_parquet(folder)["video_id"].astype(str).tolist(),
        "pyarrow": pads.dataset(folder, format="parquet", partitioning="hive")
        .to_table()
        .column("video_id")
        .to_pylist(),
        "duckdb": [row[0] for row in duckdb.sql(sql).fetchall()],
        "polars": pl.scan_parquet(f"{folder}/**/*.parquet", hive_partitioning=True)
        .collect()["video_id"]
        .to_list(),
    }
    return {reader: {v: got.count(v) for v in sorted(set(got))} for reader, got in ids.items()}


def store_counts(store: Store, table: str) -> dict[str, int]:
    ids = store.read_table(table).column("video_id").to_pylist()
    return {v: ids.count(v) for v in sorted(set(ids))}


def test_commit_and_read_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "out")
    manifest = commit(store, A, 3, config_hash="c1")
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["config_hash"] == "c1"
    assert manifest["tables"] == {"shots": f"shots/video_id={A}/part-0.parquet"}
    assert store.manifest(A) == manifest
    table = store.read_table("shots")
    assert table.num_rows == 3
    assert set(table.column("video_id").to_pylist()) == {A}  # restored from the hive path
    frame = pd.read_parquet(tmp_path / "out" / "shots")
    assert len(frame) == 3 and frame["start_frame"].dtype == np.int64
    assert not any((tmp_path / "out" / "_staging").iterdir())


def test_uncommitted_writes_are_invisible_to_plain_readers(tmp_path: Path) -> None:
    """Staged files live in ``_staging/<txn>/``, outside every table folder: pandas, pyarrow,
    DuckDB and polars, none of them reading manifests, see the committed rows only."""
    root = tmp_path / "out"
    store = Store(root)
    commit(store, A, 2)
    txn = store.begin(B)  # staged, never committed (a crash before commit)
    txn.write_table("shots", shots_table(B, 5), SCHEMAS["shots"])
    assert store.committed_videos() == [A]
    assert store_counts(store, "shots") == {A: 2}
    assert store.read_table("shots", [B]).num_rows == 0
    for reader, counts in plain_counts(root, "shots").items():
        assert counts == {A: 2}, reader
    assert not (root / "shots" / f"video_id={B}").exists()
    staged = [p for p in (root / "_staging").rglob("*") if p.is_file()]
    assert [p.name for p in staged] == ["part-0.parquet"]
    assert txn.txn.split("-")[-3] == str(os.getpid())  # <host>-<pid>-<created>-<random>
    txn.abort()
    assert not any((root / "_staging").iterdir())


def test_rewrite_replaces_rows_and_drops_stale_outputs(tmp_path: Path) -> None:
    """Committing a video again replaces its partition (no duplicate rows), and an output the
    new run no longer produces (a render, a table) disappears."""
    root = tmp_path / "out"
    store = Store(root)
    render = tmp_path / "r.mp4"
    render.write_bytes(b"video")
    txn = store.begin(A)
    txn.write_table("shots", shots_table(A, 4), SCHEMAS["shots"])
    txn.write_table("tracks", tracks_table(A, 2), SCHEMAS["tracks"])
    txn.put_file(render, "render")
    assert txn.commit()["artifacts"] == {"render": f"renders/{A}.mp4"}
    commit(store, B, 1)
    assert (root / "renders" / f"{A}.mp4").read_bytes() == b"video"
    for _ in range(2):  # idempotent: same content twice -> same table
        commit(store, A, 2, offset=100)
        table = store.read_table("shots").to_pandas()
        assert len(table) == 3
        assert sorted(table[table.video_id == A].start_frame) == [100, 110]
        for reader, counts in plain_counts(root, "shots").items():
            assert counts == {A: 2, B: 1}, reader
    assert not (root / "renders" / f"{A}.mp4").exists()
    assert not (root / "tracks" / f"video_id={A}").exists()
    assert store.manifest(A)["artifacts"] == {}
    assert set(store.manifest(A)["tables"]) == {"shots"}


def test_keep_carries_an_output_without_rewriting_it(tmp_path: Path) -> None:
    root = tmp_path / "out"
    store = Store(root)
    render = tmp_path / "r.mp4"
    render.write_bytes(b"video")
    txn = store.begin(A)
    txn.write_table("shots", shots_table(A, 4), SCHEMAS["shots"])
    txn.write_table("tracks", tracks_table(A, 2), SCHEMAS["tracks"])
    txn.put_file(render, "render")
    txn.commit()
    before = os.stat(root / "renders" / f"{A}.mp4")
    txn = store.begin(A)  # analytics only: shots rewritten, render and tracks carried over
    txn.write_table("shots", shots_table(A, 1, offset=7), SCHEMAS["shots"])
    txn.keep("render")
    txn.keep("tracks")
    with pytest.raises(StorageError, match="kept"):
        txn.write_table("tracks", tracks_table(A, 1), SCHEMAS["tracks"])
    with pytest.raises(StorageError, match="not in the committed outputs"):
        txn.keep("plots")
    manifest = txn.commit({"fingerprints": {"render": "r1"}})
    after = os.stat(root / "renders" / f"{A}.mp4")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert manifest["artifacts"] == {"render": f"renders/{A}.mp4"}
    assert set(manifest["tables"]) == {"shots", "tracks"}
    assert manifest["fingerprints"] == {"render": "r1"} and store.manifest(A) == manifest
    assert store.read_table("tracks").num_rows == 2
    assert store.read_table("shots").column("start_frame").to_pylist() == [7]


def test_commit_failing_half_way_is_finished_by_recovery(tmp_path: Path, monkeypatch) -> None:
    """The file system fails after one of two tables was moved: each table still shows all old
    or all new rows to plain readers, and the next begin() (recovery) finishes the commit, so
    every table and the manifest are new; nothing is left in ``_staging``."""
    root = tmp_path / "out"
    store = Store(root)
    txn = store.begin(A)
    txn.write_table("shots", shots_table(A, 2), SCHEMAS["shots"])
    txn.write_table("tracks", tracks_table(A, 1), SCHEMAS["tracks"])
    old = txn.commit()
    txn = store.begin(A)
    txn.write_table("shots", shots_table(A, 5, offset=100), SCHEMAS["shots"])
    txn.write_table("tracks", tracks_table(A, 3, offset=100), SCHEMAS["tracks"])
    real_replace = os.replace
    moves: list[str] = []

    def failing_replace(src, dst):
        moves.append(dst)
        if len(moves) == 3:  # journal, shots, then tracks fails
            raise OSError("disk went away")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StorageError, match="commit failed.*disk went away.*recover"):
        txn.commit()
    txn.abort()  # what a caller does on error: must not undo a journaled commit
    monkeypatch.undo()
    for counts in plain_counts(root, "shots").values():
        assert counts == {A: 5}
    for counts in plain_counts(root, "tracks").values():
        assert counts == {A: 1}
    assert store.manifest(A)["txn"] == old["txn"]
    assert list(store.recover().values()) == ["rolled forward"]
    assert store.manifest(A)["txn"] == txn.txn
    assert store_counts(store, "shots") == {A: 5} and store_counts(store, "tracks") == {A: 3}
    for counts in plain_counts(root, "tracks").values():
        assert counts == {A: 3}
    assert not any((root / "_staging").iterdir())


def test_commit_failing_before_the_journal_keeps_the_old_rows(tmp_path: Path, monkeypatch):
    root = tmp_path / "out"
    store = Store(root)
    commit(store, A, 2)
    txn = store.begin(A)
    txn.write_table("shots", shots_table(A, 5, offset=100), SCHEMAS["shots"])

    def full(src, dst):
        raise OSError("full")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(StorageError, match="commit failed.*full"):
        txn.commit()
    monkeypatch.undo()
    txn.abort()
    assert store_counts(store, "shots") == {A: 2}
    assert not any((root / "_staging").iterdir())


def test_a_file_in_the_way_fails_the_commit_before_anything_moves(tmp_path: Path) -> None:
    """A file where a table's folder goes (any obstacle a move would meet) is found before the
    journal: the commit fails naming it, and no table shows new rows. Found after the journal,
    the tables moved before it showed the new rows beside the others' old ones until the
    obstacle was removed and recovery ran."""
    root = tmp_path / "out"
    store = Store(root)
    old = commit(store, A, 2)
    (root / "tracks").write_text("in the way")
    txn = store.begin(A)
    txn.write_table("shots", shots_table(A, 5, offset=100), SCHEMAS["shots"])
    txn.write_table("tracks", tracks_table(A, 3), SCHEMAS["tracks"])
    with pytest.raises(StorageError, match=r"cannot create the folder .*tracks.*file in the way"):
        txn.commit()
    txn.abort()
    for counts in plain_counts(root, "shots").values():
        assert counts == {A: 2}
    assert store.manifest(A)["txn"] == old["txn"]
    assert not any((root / "_staging").iterdir())
    assert store.recover() == {}  # nothing was journaled, so nothing is left to finish


def test_dead_transactions_are_recovered_live_ones_left_alone(tmp_path: Path) -> None:
    """Staging folders without a journal are deleted only when their owner cannot be alive."""
    root = tmp_path / "out"
    store = Store(root)
    commit(store, A, 2)
    live = store.begin(B)  # this process, still in use
    live.write_table("shots", shots_table(B, 1), SCHEMAS["shots"])
    host, now = live.txn.rsplit("-", 3)[0], int(time.time())
    staging = root / "_staging"
    young = staging / f"{host}x-5-{now}-0123abcd"  # another host, just made: may be alive
    old = staging / f"{host}x-4-1000-0123abcd"  # another host, long ago: abandoned
    dead = staging / f"{host}-999999999-{now}-0123abcd"  # this host, no such pid
    for folder in (young, old, dead):
        (folder / "shots").mkdir(parents=True)
        (folder / "shots" / "x").write_bytes(b"x")
    assert Store(root).recover() == {
        old.name: "discarded (not committed)",
        dead.name: "discarded (not committed)",
    }
    assert (staging / live.txn).exists() and young.exists()
    assert set(Store(root).recover(max_age_s=0)) == {young.name}
    live.commit()
    assert store.committed_videos() == [A, B]
    dropped = store.begin(C)  # neither committed nor aborted, then forgotten by its caller
    dropped.write_table("shots", shots_table(C, 1), SCHEMAS["shots"])
    name = dropped.txn
    del dropped
    gc.collect()
    assert store.recover() == {name: "discarded (not committed)"}


def test_schema_is_enforced(tmp_path: Path) -> None:
    store = Store(tmp_path / "out")
    txn = store.begin(A)
    with pytest.raises(ValueError, match="lacks columns"):
        txn.write_table("shots", pa.table({"shot_id": [1]}), SCHEMAS["shots"])
    txn.write_table("shots", shots_table(A, 1).drop_columns(["video_id"]), SCHEMAS["shots"])
    txn.commit()
    assert store.read_table("shots").schema.field("start_frame").type == pa.int64()


def test_names_and_ids_are_validated(tmp_path: Path) -> None:
    store = Store(tmp_path / "out")
    for bad in ("../x", "ABCDEF0123456789", "abc", "a" * 65, "video_id=../../x"):
        with pytest.raises(StorageError, match="invalid video id"):
            store.begin(bad)
    txn = store.begin(A)
    for bad in ("../victim", "/abs", "Smpl", "renders", "_manifests", "a/b"):
        with pytest.raises(StorageError, match="invalid output name|artifact key"):
            txn.write_table(bad, shots_table(A, 1), SCHEMAS["shots"])
    local = tmp_path / "f.mp4"
    local.write_bytes(b"x")
    with pytest.raises(StorageError, match="unknown file artifact"):
        txn.put_file(local, "renders/aaa.mp4")
    with pytest.raises(StorageError, match="unknown folder artifact"):
        txn.put_dir(tmp_path, "render")
    with pytest.raises(StorageError, match="invalid video id"):
        store.read_table("shots", ["../../etc"])


def _victim(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A folder outside the output holding a parquet file of foreign rows and a sentinel."""
    victim = tmp_path / "victim"
    (victim / "video_id=ffffffffffffffff").mkdir(parents=True)
    foreign = shots_table("ffffffffffffffff", 7).drop_columns(["video_id"])
    pq.write_table(foreign, victim / "part-0.parquet")
    pq.write_table(foreign, victim / "video_id=ffffffffffffffff" / "part-0.parquet")
    (victim / "sentinel.txt").write_text("keep me")
    return victim, {str(p): p.read_bytes() for p in victim.rglob("*") if p.is_file()}


def test_tampered_manifests_cannot_read_or_delete_outside(tmp_path: Path) -> None:
    """Paths in a manifest are information for users, never used: reads, a re-commit with
    stale deletion, and keep() derive every path from the root, a name and the video id."""
    root = tmp_path / "out"
    store = Store(root)
    victim, files = _victim(tmp_path)
    render = tmp_path / "r.mp4"
    render.write_bytes(b"video")
    txn = store.begin(A)
    txn.write_table("shots", shots_table(A, 2), SCHEMAS["shots"])
    txn.put_file(render, "render")
    txn.commit()
    manifest_path = root / "_manifests" / f"{A}.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"] = {
        "shots": "../victim/part-0.parquet",
        "../victim": "../victim",
        "tracks": str(victim),
        "smpl": "shots/video_id=../../victim/part-0.parquet",
    }
    manifest["artifacts"] = {"render": "../victim", "exports": str(victim), "../../x": "../x"}
    manifest_path.write_text(json.dumps(manifest))
    # a manifest file whose *name* is a path, and one whose content claims another video id
    (root / "_manifests" / "video_id=..%2F..%2Fvictim.json").write_text(json.dumps(manifest))
    (root / "_manifests" / f"{C}.json").write_text(
        json.dumps({"video_id": "../victim", "tables": {"shots": "../victim/part-0.parquet"}})
    )
    assert store.committed_videos() == [A, C]
    shots = store.read_table("shots")
    assert shots.column("video_id").to_pylist() == [A, A]
    assert store.read_table("shots", [A, C]).num_rows == 2
    assert store.read_table("tracks").num_rows == 0
    with pytest.raises(StorageError, match="invalid output name"):
        store.begin(A).keep("../victim")
    txn = store.begin(A)  # the --force re-commit: drops stale outputs of A
    txn.write_table("tracks", tracks_table(A, 1), SCHEMAS["tracks"])
    txn.commit()
    assert not (root / "renders" / f"{A}.mp4").exists()  # its real stale outputs did go
    assert not (root / "shots" / f"video_id={A}").exists()
    assert store.recover() == {}
    assert {str(p): p.read_bytes() for p in victim.rglob("*") if p.is_file()} == files
    assert store.read_table("tracks").column("video_id").to_pylist() == [A]


def test_tampered_journal_is_left_alone(tmp_path: Path) -> None:
    """A dead transaction's journal naming paths outside the layout is not rolled forward."""
    root = tmp_path / "out"
    store = Store(root)
    commit(store, A, 2)
    victim, files = _victim(tmp_path)
    host = store.begin(A).txn.rsplit("-", 3)[0]
    for n, (moves, delete) in enumerate(
        [
            ([["../victim/part-0.parquet", f"shots/video_id={A}/part-0.parquet"]], []),
            ([[f"_staging/T/shots/video_id={A}/x", "../victim/sentinel.txt"]], []),
            ([], ["../victim"]),
            ([], [str(victim)]),
        ]
    ):
        txn = f"{host}-999999999-1-0000000{n}"
        folder = root / "_staging" / txn
        folder.mkdir(parents=True)
        journal = {
            "format": "pmrr-commit/1",
            "video_id": A,
            "txn": txn,
            "previous_txn": store.manifest(A)["txn"],
            "moves": [[m[0].replace("T", txn), m[1]] for m in moves],
            "outputs": ["shots"],
            "replace_folders": [],
            "delete": delete,
            "manifest": {"tables": {"shots": "../victim/part-0.parquet"}},
        }
        (folder / "_commit.json").write_text(json.dumps(journal))
    report = store.recover()
    assert len(report) == 4 and all(v.startswith("left alone") for v in report.values())
    assert {str(p): p.read_bytes() for p in victim.rglob("*") if p.is_file()} == files
    assert store_counts(store, "shots") == {A: 2}


def test_unwritable_location_is_a_named_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = Store(blocker / "out")
    with pytest.raises(StorageError, match=str(blocker)):
        store.check_writable()
    with pytest.raises(StorageError, match="nope://"):
        Store("nope://bucket/x")


def test_folder_outputs_commit_and_replace(tmp_path: Path) -> None:
    """Exports are folders: committed whole, replaced whole (a file the new run does not
    write disappears)."""
    store = Store(tmp_path / "out")
    for files in (["track_0.npz", "track_1.npz"], ["track_0.npz"]):
        local = tmp_path / "stage"
        local.mkdir(exist_ok=True)
        for old in local.iterdir():
            old.unlink()
        for name in files:
            (local / name).write_bytes(name.encode())
        txn = store.begin(A)
        txn.put_dir(local, "exports")
        assert txn.commit()["artifacts"] == {"exports": f"exports/{A}"}
        folder = tmp_path / "out" / "exports" / A
        assert sorted(p.name for p in folder.iterdir()) == files
        assert (folder / "track_0.npz").read_bytes() == b"track_0.npz"
    assert not any((tmp_path / "out" / "_staging").iterdir())
