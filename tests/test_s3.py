"""The S3 path against a real S3 server (moto_server on 127.0.0.1, see tests/s3_server.py).

Store writes read back with pandas and pyarrow, the ``process_video`` flow with
``out=s3://bucket/prefix``, and an endpoint that becomes unreachable just before the write: a
:class:`StorageError` naming the URL, the committed outputs untouched, and a later run that
finishes from the cached stages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as pads
import pytest

import flows.video
from flows.video import process_video
from pmrr_interviews import samples
from storage import SCHEMAS, StorageError, Store, discover
from tests.s3_server import S3Server, s3, s3_proxy  # noqa: F401
from tests.test_storage import A, B, commit, shots_table

CONFIG = {"analytics": False, "export_npz": True}


def _keys(server: S3Server, prefix: str) -> list[str]:
    listing = server.client().list_objects_v2(Bucket=server.bucket, Prefix=prefix)
    return sorted(obj["Key"] for obj in listing.get("Contents", []))


def test_store_roundtrip_on_s3(s3: S3Server) -> None:  # noqa: F811
    store = Store(s3.url("store"))
    store.check_writable()
    commit(store, A, 3)
    txn = store.begin(B)
    txn.write_table("shots", shots_table(B, 4), SCHEMAS["shots"])
    # staged but uncommitted: the object sits under _staging/, outside the table's prefix
    assert _keys(s3, "store/shots/") == [f"store/shots/video_id={A}/part-0.parquet"]
    assert _keys(s3, f"store/_staging/{txn.txn}/") == [
        f"store/_staging/{txn.txn}/shots/video_id={B}/part-0.parquet"
    ]
    assert store.committed_videos() == [A]
    assert store.read_table("shots").num_rows == 3
    assert len(pd.read_parquet(s3.url("store", "shots"))) == 3
    txn.commit()
    assert store.committed_videos() == [A, B]
    commit(store, A, 2, offset=50)  # rewrite replaces
    frame = pd.read_parquet(s3.url("store", "shots"))
    assert sorted(frame.groupby("video_id", observed=True).size().tolist()) == [2, 4]
    dataset = pads.dataset(
        s3.url("store", "shots").removeprefix("s3://"),
        filesystem=store.fs,
        format="parquet",
        partitioning="hive",
    )
    assert dataset.to_table().num_rows == 6
    assert store.read_table("shots").num_rows == 6
    keys = _keys(s3, "store/")
    assert not [k for k in keys if "/_staging/" in k or "/_probe-" in k]
    assert f"store/_manifests/{A}.json" in keys


def test_s3_artifacts_keep_and_stale(s3: S3Server, tmp_path: Path) -> None:  # noqa: F811
    """Folder artifacts are replaced whole, keep() leaves an object as it is, and what a
    re-commit does not produce is deleted; paths in a tampered manifest are ignored."""
    store = Store(s3.url("art"))
    render = tmp_path / "r.mp4"
    render.write_bytes(b"video")
    exports = tmp_path / "exports"
    exports.mkdir()
    for name in ("track_0.npz", "track_1.npz"):
        (exports / name).write_bytes(name.encode())
    txn = store.begin(A)
    txn.write_table("shots", shots_table(A, 2), SCHEMAS["shots"])
    txn.put_file(render, "render")
    txn.put_dir(exports, "exports")
    txn.commit()
    (exports / "track_1.npz").unlink()
    client = s3.client()
    etag = client.head_object(Bucket=s3.bucket, Key=f"art/renders/{A}.mp4")["LastModified"]
    client.put_object(Bucket=s3.bucket, Key="victim/sentinel", Body=b"keep me")
    manifest = store.manifest(A)
    manifest["artifacts"]["exports"] = "../victim"
    manifest["tables"]["shots"] = "../victim/sentinel"
    client.put_object(
        Bucket=s3.bucket, Key=f"art/_manifests/{A}.json", Body=json.dumps(manifest).encode()
    )
    assert store.read_table("shots").num_rows == 2
    txn = store.begin(A)
    txn.keep("render")
    txn.put_dir(exports, "exports")
    txn.commit()
    assert _keys(s3, "art/") == [
        f"art/_manifests/{A}.json",
        f"art/exports/{A}/track_0.npz",
        f"art/renders/{A}.mp4",
    ]
    head = client.head_object(Bucket=s3.bucket, Key=f"art/renders/{A}.mp4")
    assert head["LastModified"] == etag
    assert _keys(s3, "victim/") == ["victim/sentinel"]


def test_missing_bucket_is_never_created(s3: S3Server, tmp_path: Path) -> None:  # noqa: F811
    """A typo in the bucket name fails on every write path, naming the bucket, and no bucket
    appears (s3fs's makedirs would create one)."""
    client = s3.client()
    before = sorted(b["Name"] for b in client.list_buckets()["Buckets"])
    typo = f"{s3.bucket}-typo"
    message = f"s3://{typo}: bucket does not exist"
    with pytest.raises(StorageError, match=message):
        Store(f"s3://{typo}/out").check_writable()
    store = Store(f"s3://{typo}/out")
    txn = store.begin(A)
    with pytest.raises(StorageError, match=message):
        txn.write_table("shots", shots_table(A, 1), SCHEMAS["shots"])
    local = tmp_path / "r.mp4"
    local.write_bytes(b"x")
    with pytest.raises(StorageError, match=message):
        txn.put_file(local, "render")
    with pytest.raises(StorageError, match=message):
        txn.put_dir(tmp_path, "plots")
    with pytest.raises(StorageError, match=message):
        txn.commit()
    assert sorted(b["Name"] for b in client.list_buckets()["Buckets"]) == before
    assert store.committed_videos() == [] and store.recover() == {}


def test_discover_on_s3(s3: S3Server) -> None:  # noqa: F811
    """Prefixes are searched, globs expand, only video suffixes count, and the output prefix
    (and pipeline folders) inside the input prefix are skipped."""
    client = s3.client()
    for key in ("in/a.mp4", "in/sub/b.MOV", "in/notes.txt", "in/still.jpg",
                "in/out/renders/e.mp4", "in/_cache/c.mp4"):  # fmt: skip
        client.put_object(Bucket=s3.bucket, Key=key, Body=b"x")
    expected = [s3.url("in", "a.mp4"), s3.url("in", "sub", "b.MOV")]
    assert discover(s3.url("in"), exclude=[s3.url("in", "out")]) == (expected, [])
    assert discover(s3.url("in", "*"), exclude=[s3.url("in", "out") + "/"]) == (expected, [])
    missing = s3.url("nothing-here")
    assert discover([missing, s3.url("in", "*.txt"), s3.url("in", "notes.txt")]) == (
        [s3.url("in", "notes.txt")],
        [
            (missing, f"{missing}: no such file or folder"),
            (s3.url("in", "*.txt"), f"{s3.url('in', '*.txt')}: no video files match"),
        ],
    )


@pytest.fixture(scope="module")
def s3_run(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict:  # noqa: F811
    """The flow on the 1 s real clip (with audio), output on S3; run once for the module."""
    clip = samples.carphone_clip(samples.cache_dir(), seconds=1.0)
    cache = tmp_path_factory.mktemp("s3-cache")
    out = s3.url("pmrr")
    row = process_video(str(clip), out, config=CONFIG, cache_dir=str(cache))
    return {"row": row, "out": out, "cache": cache, "clip": clip}


def test_flow_writes_to_s3(s3: S3Server, s3_run: dict) -> None:  # noqa: F811
    row, store = s3_run["row"], Store(s3_run["out"])
    assert row["status"] == "ok" and row["shots"] == 1 and row["people"] == 1
    video_id = row["video_id"]
    assert store.committed_videos() == [video_id]
    smpl = pd.read_parquet(s3.url("pmrr", "smpl"))
    assert len(smpl) == row["person_frames"] == 25
    assert not smpl.duplicated(["track_id", "frame"]).any()
    assert sorted(smpl.frame) == list(range(25))
    assert row["render"] == s3.url("pmrr", "renders", f"{video_id}.mp4")
    keys = _keys(s3, "pmrr/")
    assert f"pmrr/renders/{video_id}.mp4" in keys
    assert f"pmrr/exports/{video_id}/track_0.npz" in keys
    videos = store.read_table("videos").to_pandas()
    assert videos.video_id.tolist() == [video_id] and videos.has_audio.tolist() == [True]


def test_unreachable_bucket_is_named_and_loses_nothing(
    s3: S3Server,  # noqa: F811
    s3_run: dict,
    s3_proxy,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The endpoint goes away mid-run, after the core tables and exports were staged and before
    the videos row is: the flow fails with a StorageError naming the output URL; the
    previous commit is intact (same manifest, same rows); once the endpoint is back a forced
    re-run replaces the rows instead of adding some, and no staged files are left behind."""
    out = s3_run["out"]
    video_id = s3_run["row"]["video_id"]
    before = Store(out).manifest(video_id)
    real_publication = flows.video.Publication

    class PublicationAfterOutage(real_publication):
        def table(self, name, table):
            if name == "videos":
                s3_proxy.cut()
            super().table(name, table)

    monkeypatch.setattr(flows.video, "Publication", PublicationAfterOutage)
    with pytest.raises(StorageError) as error:
        process_video(
            str(s3_run["clip"]), out, config=CONFIG, cache_dir=str(s3_run["cache"]), force=True
        )
    assert out in str(error.value)
    monkeypatch.setattr(flows.video, "Publication", real_publication)
    s3_proxy.restore()
    store = Store(out)
    assert store.manifest(video_id)["txn"] == before["txn"]
    assert len(store.read_table("smpl")) == 25
    row = process_video(
        str(s3_run["clip"]), out, config=CONFIG, cache_dir=str(s3_run["cache"]), force=True
    )
    assert row["status"] == "ok"
    assert store.manifest(video_id)["txn"] != before["txn"]
    smpl = pd.read_parquet(s3.url("pmrr", "smpl"))
    assert len(smpl) == 25 and not smpl.duplicated(["track_id", "frame"]).any()
    assert not [k for k in _keys(s3, "pmrr/") if k.startswith("pmrr/_staging/")]


def test_unreachable_endpoint_fails_early(s3_proxy, tmp_path: Path) -> None:  # noqa: F811
    s3_proxy.cut()
    with pytest.raises(StorageError, match="s3://nowhere-bucket/x: output location is not"):
        Store("s3://nowhere-bucket/x").check_writable()
