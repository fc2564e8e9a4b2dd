"""The Prefect flows end to end (ephemeral Prefect server) on real clips.

One batch is run once for the module: a 1 s real clip with audio, the two-person clip with a
hard cut, and three bad inputs (truncated, empty, nobody in it). The tests then read what was
committed: shots, tracks that neither swap at the cut nor between the two people, one row per
person-frame, renders with the source's fps / frame count / audio, named errors for the bad
videos while the good ones finish, and re-runs that skip (or, forced, replace) instead of
appending rows.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import ffmpeg
import numpy as np
import pandas as pd
import pytest

from flows.archive import ArchiveFailedError, process_archive
from flows.config import PipelineConfig
from flows.progress import set_reporter
from pmrr_interviews import samples
from storage import Store

CONFIG = PipelineConfig(detect_every_k=3, render=True, analytics=True)


@pytest.fixture(scope="module")
def clips() -> dict[str, Path]:
    cache = samples.cache_dir()
    return {
        "carphone": samples.carphone_clip(cache, seconds=1.0),
        "interview": samples.interview_clip(cache),
        "corrupt": samples.corrupt_clip(cache),
        "empty": samples.empty_clip(cache),
        "nobody": samples.nobody_clip(cache),
    }


@pytest.fixture(scope="module")
def batch(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("flow-out")
    scratch = tmp_path_factory.mktemp("system-temp")  # where the stages' scratch folders go
    before, tempfile.tempdir = tempfile.tempdir, str(scratch)
    try:
        rows = process_archive([str(p) for p in clips.values()], str(out), config=CONFIG)
    finally:
        tempfile.tempdir = before
    by_source = {Path(r["source"]).stem: r for r in rows}
    names = {p.stem: name for name, p in clips.items()}
    return {
        "out": out,
        "rows": {names[k]: v for k, v in by_source.items()},
        "store": Store(out),
        "scratch": scratch,
    }


def _smpl(batch: dict, name: str) -> pd.DataFrame:
    video_id = batch["rows"][name]["video_id"]
    return batch["store"].read_table("smpl", [video_id]).to_pandas()


def _stream_info(path: Path) -> dict:
    meta = ffmpeg.probe(str(path), count_frames=None)
    video = next(s for s in meta["streams"] if s["codec_type"] == "video")
    audio = [s for s in meta["streams"] if s["codec_type"] == "audio"]
    num, den = video["avg_frame_rate"].split("/")
    return {"fps": int(num) / int(den), "frames": int(video["nb_read_frames"]), "audio": audio}


def test_batch_finishes_good_videos_and_names_bad_ones(batch: dict, clips: dict) -> None:
    rows = batch["rows"]
    assert rows["carphone"]["status"] == "ok" and rows["interview"]["status"] == "ok"
    expected = {
        "corrupt": ("probe", "truncated"),
        "empty": ("probe", "empty file"),
        "nobody": ("track", "no person detected"),
    }
    for name, (stage, problem) in expected.items():
        assert rows[name]["status"] == "failed" and rows[name]["stage"] == stage
        assert str(clips[name]) in rows[name]["error"]
        assert problem in rows[name]["error"]
    # The Prefect UI gets one artifact naming each failed video, its stage and the error.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def latest_failures():
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["archive-failures"]))
            )
            return max(found, key=lambda a: a.created)

    import asyncio

    table = str(asyncio.run(latest_failures()).data)
    for name, (stage, _problem) in expected.items():
        assert f"| {clips[name]} | {stage} |" in table
    assert sorted(batch["store"].committed_videos()) == sorted(
        [rows["carphone"]["video_id"], rows["interview"]["video_id"]]
    )


def test_no_scratch_folders_left(batch: dict) -> None:
    """Renders, plots and annotations were made in the system's temp folder and published; none
    of their folders stays behind (a batch of thousands of videos would leave one per video)."""
    assert batch["rows"]["interview"]["render"]  # the stages did run
    left = sorted(p.name for p in batch["scratch"].glob("pmrr-*"))
    assert left == []


def test_failed_stage_removes_its_half_written_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.stages import scratch_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(RuntimeError, match="encoder died"):
        with scratch_folder("pmrr-render-") as folder:
            (folder / "v.mp4").write_bytes(b"half a video")
            raise RuntimeError("encoder died")
    assert list(tmp_path.iterdir()) == []


def test_interview_shots_and_tracks(batch: dict) -> None:
    """2 shots split at 2 s; two people in shot 0, the left one always left of the gap (x=208)
    and the right one always right of it, on every frame; no track crosses the cut."""
    row = batch["rows"]["interview"]
    store, video_id = batch["store"], row["video_id"]
    shots = store.read_table("shots", [video_id]).to_pandas()
    assert shots[["start_frame", "end_frame"]].values.tolist() == [[0, 49], [50, 74]]
    assert row["shots"] == 2
    smpl = _smpl(batch, "interview")
    tracks = store.read_table("tracks", [video_id]).to_pandas()
    shot0 = tracks[tracks.shot_id == 0]
    assert len(shot0) == 2
    assert set(tracks[tracks.shot_id == 1].track_id).isdisjoint(shot0.track_id)
    boxes = np.stack(smpl.bbox_px.to_numpy())
    smpl["cx"] = (boxes[:, 0] + boxes[:, 2]) / 2
    sides = smpl[smpl.track_id.isin(shot0.track_id)].groupby("track_id").cx
    left, right = sorted(shot0.track_id, key=lambda t: sides.get_group(t).mean())
    assert (sides.get_group(left) < 208).all() and (sides.get_group(right) > 208).all()
    for track in (left, right):
        frames = smpl[smpl.track_id == track].frame
        assert sorted(frames) == list(range(50))  # every frame of shot 0, none after the cut
    assert set(shot0.role) == {"interviewer", "interviewee"}


@pytest.mark.parametrize("name", ["carphone", "interview"])
def test_one_row_per_person_frame(batch: dict, name: str) -> None:
    row = batch["rows"][name]
    smpl = _smpl(batch, name)
    assert len(smpl) == row["person_frames"] > 0
    assert not smpl.duplicated(["track_id", "frame"]).any()
    assert smpl.smoothed.all()
    assert np.isfinite(np.stack(smpl.body_pose.to_numpy())).all()
    videos = batch["store"].read_table("videos", [row["video_id"]]).to_pandas()
    assert len(videos) == 1 and videos.n_tracks.iloc[0] == row["people"]


def test_carphone_person_on_every_frame(batch: dict) -> None:
    smpl = _smpl(batch, "carphone")
    assert smpl.track_id.nunique() == 1
    assert sorted(smpl.frame) == list(range(25))


@pytest.mark.parametrize(("name", "has_audio"), [("carphone", True), ("interview", False)])
def test_render_matches_source(batch: dict, clips: dict, name: str, has_audio: bool) -> None:
    render = batch["out"] / "renders" / f"{batch['rows'][name]['video_id']}.mp4"
    assert render.exists()
    got, source = _stream_info(render), _stream_info(clips[name])
    assert got["fps"] == pytest.approx(source["fps"])
    assert got["frames"] == source["frames"]
    assert bool(got["audio"]) is has_audio is bool(source["audio"])


def test_feature_tables_committed(batch: dict) -> None:
    video_id = batch["rows"]["interview"]["video_id"]
    manifest = batch["store"].manifest(video_id)
    assert {"videos", "shots", "tracks", "smpl"} <= set(manifest["tables"])
    assert any(name.startswith("features_") for name in manifest["tables"])


def test_rerun_skips_and_forced_rerun_replaces(batch: dict, clips: dict) -> None:
    """Same settings again: every committed video is skipped, nothing is rewritten. With
    ``force``: recomputed and committed again, rows replaced, not appended."""
    out, store = batch["out"], batch["store"]
    good = [str(clips["carphone"]), str(clips["interview"])]
    before = {v: store.manifest(v)["txn"] for v in store.committed_videos()}
    counts = {t: store.read_table(t).num_rows for t in ("smpl", "tracks", "shots", "videos")}
    rows = process_archive(good, str(out), config=CONFIG)
    assert [r["status"] for r in rows] == ["skipped", "skipped"]
    assert {v: store.manifest(v)["txn"] for v in before} == before
    reports: list[tuple[str, str]] = []
    set_reporter(lambda video, stage, done, total: reports.append((Path(video).stem, stage)))
    try:
        rows = process_archive(good, str(out), force=True, config=CONFIG)
    finally:
        set_reporter(None)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    _check_reported_stages(
        [s for v, s in reports if v == clips["interview"].stem], rows[1]["timings"]
    )
    after = {v: store.manifest(v)["txn"] for v in store.committed_videos()}
    assert after.keys() == before.keys() and all(after[v] != before[v] for v in before)
    assert {t: store.read_table(t).num_rows for t in counts} == counts
    # the plain folder holds no leftovers either: one parquet file per table and video
    smpl_dir = out / "smpl"
    parts = [p for p in smpl_dir.rglob("*") if p.is_file()]
    assert len(parts) == len(before) and all(p.name == "part-0.parquet" for p in parts)
    frame = pd.read_parquet(smpl_dir)
    assert len(frame) == counts["smpl"]
    assert not frame.duplicated(["video_id", "track_id", "frame"]).any()


def test_a_damaged_manifest_is_replaced_not_a_dead_end(batch: dict, clips: dict) -> None:
    """An unreadable manifest (a torn copy, a hand edit) leaves what is committed unknown: the
    video is made again in full and the commit replaces it, rows not duplicated. Before, every
    run failed the video on it, ``--force`` too."""
    out, store = batch["out"], batch["store"]
    video_id = batch["rows"]["carphone"]["video_id"]
    smpl_rows = store.read_table("smpl", [video_id]).num_rows
    (out / "_manifests" / f"{video_id}.json").write_text("{torn")
    (row,) = process_archive([str(clips["carphone"])], str(out), config=CONFIG)
    assert row["status"] == "ok", row
    assert store.manifest(video_id)["status"] == "ok"
    assert store.read_table("smpl", [video_id]).num_rows == smpl_rows


def _check_reported_stages(reported: list[str], timings: dict[str, float]) -> None:
    """What the progress bar and the benchmarks' per-stage clock see: every stage reports when
    it starts, and a stage computed inside another (the probe and the tracking inside the
    estimate) hands back to it when it ends, so what follows counts for the outer stage."""
    # a stage's progress comes under its own labels: "detect+track", "estimate (units)"
    names = [{"detect+track": "track"}.get(s, s.split(" (")[0]) for s in reported]
    names = [s for k, s in enumerate(names) if k == 0 or s != names[k - 1]]
    assert set(timings) - {"hash"} <= set(names), (timings, names)
    assert {"render", "plots", "annotations", "write"} <= set(names)
    for inner in ("probe", "shots", "track"):
        last = len(names) - 1 - names[::-1].index(inner)
        assert names[last + 1] == "estimate", " > ".join(names)
    for optional in ("render", "plots", "annotations"):
        assert names[names.index(optional) + 1] == "write", names  # then staged
    assert names[-1] == "done"


def test_all_bad_batch_fails_with_every_error(clips: dict, tmp_path: Path) -> None:
    with pytest.raises(ArchiveFailedError) as error:
        process_archive([str(clips["corrupt"]), str(clips["empty"])], str(tmp_path), config=CONFIG)
    assert str(clips["corrupt"]) in str(error.value) and str(clips["empty"]) in str(error.value)
    assert not (tmp_path / "_manifests").exists() or not any((tmp_path / "_manifests").iterdir())


def test_manifest_records_run(batch: dict) -> None:
    video_id = batch["rows"]["carphone"]["video_id"]
    path = batch["out"] / "_manifests" / f"{video_id}.json"
    manifest = json.loads(path.read_text())
    assert manifest["summary"]["person_frames"] == 25
    assert manifest["artifacts"]["render"] == f"renders/{video_id}.mp4"
