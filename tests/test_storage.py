"""The storage layer on a local folder: atomic per-video commit, idempotent rewrite, errors.

The same protocol runs on S3 in tests/test_s3.py; here failures are injected by hand (a
transaction that is never committed, a commit that dies half-way) to check what readers see.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from storage import SCHEMAS, StorageError, Store, discover, localize
from storage.schemas import SCHEMA_VERSION


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


def commit(store: Store, video_id: str, n: int, offset: int = 0, **extra) -> dict:
    txn = store.begin(video_id)
    txn.write_table("shots", shots_table(video_id, n, offset), SCHEMAS["shots"])
    return txn.commit(extra)


def test_commit_and_read_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "out")
    manifest = commit(store, "aaa", 3, config_hash="c1")
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["config_hash"] == "c1"
    assert manifest["tables"] == {"shots": "shots/video_id=aaa/part-0.parquet"}
    assert store.manifest("aaa")["txn"] == manifest["txn"]
    table = store.read_table("shots")
    assert table.num_rows == 3
    assert set(table.column("video_id").to_pylist()) == {"aaa"}  # restored from the hive path
    # plain pandas on the folder reads the same rows (hive partitioning, typed columns)
    frame = pd.read_parquet(tmp_path / "out" / "shots")
    assert len(frame) == 3 and frame["start_frame"].dtype == np.int64


def test_uncommitted_writes_are_invisible(tmp_path: Path) -> None:
    store = Store(tmp_path / "out")
    commit(store, "aaa", 2)
    txn = store.begin("bbb")  # staged, never committed (a crash before commit)
    txn.write_table("shots", shots_table("bbb", 5), SCHEMAS["shots"])
    assert store.committed_videos() == ["aaa"]
    assert store.read_table("shots").num_rows == 2
    assert store.read_table("shots", ["bbb"]).num_rows == 0
    # the staged file is a dot-file that pandas/pyarrow folder scans skip as well
    staged = list((tmp_path / "out" / "shots" / "video_id=bbb").iterdir())
    assert len(staged) == 1 and staged[0].name.startswith(".")
    assert len(pd.read_parquet(tmp_path / "out" / "shots")) == 2
    txn.abort()
    assert not any((tmp_path / "out" / "shots" / "video_id=bbb").iterdir())


def test_rewrite_replaces_rows_and_drops_stale_outputs(tmp_path: Path) -> None:
    """Committing a video again replaces its partition (no duplicate rows), and an output the
    new run no longer produces (a render) disappears with the old manifest."""
    store = Store(tmp_path / "out")
    render = tmp_path / "r.mp4"
    render.write_bytes(b"video")
    txn = store.begin("aaa")
    txn.write_table("shots", shots_table("aaa", 4), SCHEMAS["shots"])
    txn.put_file(render, "renders/aaa.mp4", "render")
    txn.commit()
    commit(store, "bbb", 1)
    assert (tmp_path / "out" / "renders" / "aaa.mp4").read_bytes() == b"video"
    for _ in range(2):  # idempotent: same content twice -> same table
        commit(store, "aaa", 2, offset=100)
        table = store.read_table("shots").to_pandas()
        assert len(table) == 3
        assert sorted(table[table.video_id == "aaa"].start_frame) == [100, 110]
    assert not (tmp_path / "out" / "renders" / "aaa.mp4").exists()
    assert "render" not in store.manifest("aaa")["artifacts"]
    assert len(pd.read_parquet(tmp_path / "out" / "shots")) == 3


def test_commit_failing_half_way_leaves_video_uncommitted(tmp_path: Path, monkeypatch) -> None:
    """A commit that dies after replacing some files never shows a half-old/half-new video: the
    old manifest is gone, so readers see nothing for it until a re-run commits again."""
    store = Store(tmp_path / "out")
    commit(store, "aaa", 2)
    txn = store.begin("aaa")
    txn.write_table("shots", shots_table("aaa", 5), SCHEMAS["shots"])
    txn.write_table("tracks", SCHEMAS["tracks"].empty_table(), SCHEMAS["tracks"])
    real_mv = store.fs.mv
    moves = []

    def failing_mv(src, dst, **kwargs):
        moves.append(dst)
        if len(moves) == 2:
            raise OSError("disk went away")
        return real_mv(src, dst, **kwargs)

    monkeypatch.setattr(store.fs, "mv", failing_mv)
    with pytest.raises(StorageError, match="commit failed.*disk went away"):
        txn.commit()
    monkeypatch.undo()
    assert store.committed_videos() == []
    assert store.read_table("shots").num_rows == 0
    commit(store, "aaa", 5)  # the re-run
    assert store.read_table("shots").num_rows == 5


def test_schema_is_enforced(tmp_path: Path) -> None:
    store = Store(tmp_path / "out")
    txn = store.begin("aaa")
    with pytest.raises(ValueError, match="lacks columns"):
        txn.write_table("shots", pa.table({"shot_id": [1]}), SCHEMAS["shots"])
    txn.write_table("shots", shots_table("aaa", 1).drop_columns(["video_id"]), SCHEMAS["shots"])
    txn.commit()
    assert store.read_table("shots").schema.field("start_frame").type == pa.int64()


def test_unwritable_location_is_a_named_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = Store(blocker / "out")
    with pytest.raises(StorageError, match=str(blocker)):
        store.check_writable()
    with pytest.raises(StorageError, match="nope://"):
        Store("nope://bucket/x")


def test_discover_and_localize(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.mp4").write_bytes(b"1")
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "two.MOV").write_bytes(b"2")
    named = tmp_path / "broken.bin"
    named.write_bytes(b"")
    found = discover([str(tmp_path / "a"), str(tmp_path / "*.MOV"), str(named)])
    assert found == [str(tmp_path / "a" / "one.mp4"), str(tmp_path / "two.MOV"), str(named)]
    with pytest.raises(StorageError, match="no such file"):
        discover([str(tmp_path / "missing")])
    assert localize(f"file://{named}", tmp_path / "cache") == str(named)


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
        txn = store.begin("aaa")
        txn.put_dir(local, "exports/aaa", "exports")
        txn.commit()
        folder = tmp_path / "out" / "exports" / "aaa"
        assert sorted(p.name for p in folder.iterdir()) == files
    assert not [p for p in (tmp_path / "out" / "exports").iterdir() if p.name.startswith(".")]
