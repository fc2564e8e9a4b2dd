"""The stage cache stores results without pickle and rebuilds only allow-listed types."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.cache import CodecError, StageCache, dumps, loads
from tasks.probe import VideoInfo
from tasks.sequence import SmplSequence
from tasks.shots import Shot
from tasks.tracking import TrackedBoxes


def _sequence() -> SmplSequence:
    rng = np.random.default_rng(0)
    seq = SmplSequence.empty(estimator="landmark-fit", assets="standin:x", focal_px=500.0)
    rows = {
        name: rng.normal(size=(3, *getattr(seq, name).shape[1:])).astype(getattr(seq, name).dtype)
        for name in ("bbox_px", "det_score", "global_orient", "body_pose", "betas", "cam")
    }
    return SmplSequence(
        frame=np.arange(3), track_id=np.array([1, 1, 2], np.int32),
        shot_id=np.zeros(3, np.int32), transl_m=np.ones((3, 3), np.float32),
        joints3d_m=np.ones((3, 49, 3), np.float32), joints2d_px=np.ones((3, 49, 2), np.float32),
        confidence=np.ones(3, np.float32), joints_observed=rng.random((3, 49)) > 0.5,
        focal_px=500.0, estimator="landmark-fit",
        assets="standin:x", smoothed=True, **rows,
    )  # fmt: skip


def test_round_trip_of_every_stage_result() -> None:
    info = VideoInfo("/a.mp4", 1.0, 25.0, 25, 640, 360, 0, "h264", True, "aac")
    shots = [Shot(0, 0, 49), Shot(1, 50, 74)]
    boxes = TrackedBoxes(
        np.arange(2), np.ones(2, np.int32), np.zeros(2, np.int32),
        np.ones((2, 4), np.float32), np.array([0.9, np.nan], np.float32),
    )  # fmt: skip
    frame = pd.DataFrame({"track_id": [1, 2], "x": [0.5, np.nan]})
    frame.attrs["tracks_roles"] = {1: "interviewer", 2: "interviewee"}
    value = {"info": info, "shots": shots, "boxes": boxes, "seq": _sequence(), "t": frame}
    back = loads(dumps(value))
    assert back["info"] == info and back["shots"] == shots
    np.testing.assert_array_equal(back["boxes"].det_score, boxes.det_score)
    seq, ref = back["seq"], value["seq"]
    assert (seq.estimator, seq.assets, seq.smoothed, seq.focal_px) == (
        "landmark-fit",
        "standin:x",
        True,
        500.0,
    )
    for name in ("frame", "track_id", "body_pose", "joints3d_m"):
        got, want = getattr(seq, name), getattr(ref, name)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    pd.testing.assert_frame_equal(back["t"], frame)
    assert back["t"].attrs["tracks_roles"] == {1: "interviewer", 2: "interviewee"}


def test_refuses_to_store_or_build_anything_else(tmp_path: Path) -> None:
    with pytest.raises(CodecError):
        dumps({"f": print})
    with pytest.raises(CodecError):
        dumps(np.array([object()], dtype=object))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("meta.json", json.dumps({"$dataclass": "system", "fields": {}}))
    with pytest.raises(CodecError, match="refusing"):
        loads(buffer.getvalue())


def test_an_entry_it_cannot_store_leaves_nothing_behind(tmp_path: Path) -> None:
    """Arrays stream into the entry's file as they are encoded, so a value refused halfway (an
    array already written) must not leave that file, or an entry, behind."""
    cache = StageCache(tmp_path)
    with pytest.raises(CodecError):
        cache.put("v1", "smooth", "abc", {"x": np.arange(1000), "f": print})
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert cache.get("v1", "smooth", "abc") == (False, None)
    big = np.random.default_rng(0).normal(size=(3000, 49, 3)).astype(np.float32)
    cache.put("v1", "smooth", "abc", {"x": big})
    np.testing.assert_array_equal(cache.get("v1", "smooth", "abc")[1]["x"], big)


class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_planted_pickle_is_a_miss_and_never_runs(tmp_path: Path) -> None:
    cache = StageCache(tmp_path / "cache")
    cache.put("v1", "smooth", "abc", {"x": np.arange(3)})
    assert cache.get("v1", "smooth", "abc")[0]
    marker = tmp_path / "ran"
    boom = _Boom()
    boom.marker = str(marker)
    entry = tmp_path / "cache" / "v1" / "smooth-abc.stage.zip"
    entry.write_bytes(pickle.dumps(boom))  # what Prefect's pickled results would let run
    assert cache.get("v1", "smooth", "abc") == (False, None)
    object_array = io.BytesIO()
    np.save(object_array, np.array([boom], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(entry, "w") as archive:
        archive.writestr("meta.json", json.dumps({"$array": "b1.npy"}))
        archive.writestr("b1.npy", object_array.getvalue())
    assert cache.get("v1", "smooth", "abc") == (False, None)
    assert not marker.exists()
    with pytest.raises(CodecError):
        cache.get("v1", "smooth", "../../etc")


def test_prune_keeps_one_result_per_stage_and_video(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    for fingerprint in ("old1", "old2", "new"):
        cache.put("v1", "smooth", fingerprint, [1])
    cache.put("v1", "track", "t1", [2])
    cache.put("v2", "smooth", "old1", [3])
    assert cache.prune("v1", {"smooth": "new", "track": "t1"}) == 2
    assert sorted(p.name for p in (tmp_path / "v1").iterdir()) == [
        "smooth-new.stage.zip",
        "track-t1.stage.zip",
    ]
    assert cache.get("v2", "smooth", "old1") == (True, [3])  # other videos untouched
