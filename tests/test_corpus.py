"""The bad-input corpus (:mod:`tests.corpus`) through the real archive flow.

The corpus is built once for the module with the ffmpeg CLI, each file with an expectation
checked or derived by ffprobe / the ffmpeg CLI (never by project code). Two batches run:
every file whose render is not checked (``render=False``), then the rotated and the
variable-frame-rate files with ``render=True``. Then, per file: a bad one fails alone with one
line naming the file and the problem, in the user's words; a processable one is committed with
the displayed size, its frame count, and the frames lost as the ffmpeg CLI loses them.

Run with ``-s`` to see what ffprobe and the ffmpeg CLI say about each file.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.archive import ArchiveFailedError, process_archive
from flows.config import PipelineConfig
from storage import Store
from tests.corpus import (
    FPS,
    NAMES,
    Entry,
    build_corpus,
    decode,
    durations,
    format_ranges,
    parse_ranges,
    report,
)

ONE_FRAME_S = 1.0 / FPS
# Text that belongs to a decoder or a traceback, never to a user-facing error line.
INTERNALS = (
    "av_read_frame",
    "1094995529",  # AVERROR_INVALIDDATA as a number
    "Check failed",
    "Error sending packet",
    "Traceback",
    "DECORDError",
    "Invalid NAL unit size",
    "Error splitting the input",
    "[h264 @",
    "[mov,mp4",
)
RANGES = re.compile(r"(\d+(-\d+)?(,\d+(-\d+)?)*)?")
ROTATED = ("rotate_90", "rotate_180", "rotate_270")
NOSE, NECK = 0, 1  # pmrr_model.constants.JOINT_NAMES: "OP Nose", "OP Neck"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Entry]:
    started = time.monotonic()
    entries = build_corpus(tmp_path_factory.mktemp("corpus"))
    print(f"\ncorpus built in {time.monotonic() - started:.1f} s\n{report(entries)}")
    return {entry.name: entry for entry in entries}


def _process(paths: list[str], out: str, render: bool) -> list[dict]:
    config = PipelineConfig(detect_every_k=5, render=render, analytics=False)
    try:
        return process_archive(paths, out, config=config)
    except ArchiveFailedError as error:  # every video failed: the rows still say how
        return error.rows


def _key(source: str) -> str:
    return os.path.normpath(source.removeprefix("file://"))


@pytest.fixture(scope="module")
def batch(corpus: dict[str, Entry], tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("corpus-out")
    usable = [entry for entry in corpus.values() if not entry.skip]
    rows: list[dict] = []
    for render in (False, True):
        started = time.monotonic()
        paths = [str(entry.path) for entry in usable if entry.render is render]
        rows += _process(paths, str(out), render)
        print(f"batch render={render}: {len(paths)} inputs in {time.monotonic() - started:.1f} s")
    by_source = {_key(row["source"]): row for row in rows}
    return {
        "out": out,
        "store": Store(str(out)),
        "rows": {entry.name: by_source.get(_key(str(entry.path))) for entry in usable},
    }


def _entry(corpus: dict[str, Entry], name: str) -> Entry:
    entry = corpus[name]
    if entry.skip:
        pytest.skip(entry.skip)
    return entry


def _row(batch: dict, entry: Entry) -> dict:
    row = batch["rows"][entry.name]
    assert row is not None, f"no status row for {entry.path}"
    return row


def _table(batch: dict, table: str, row: dict) -> pd.DataFrame:
    return batch["store"].read_table(table, [row["video_id"]]).to_pandas()


def _boxes(smpl: pd.DataFrame) -> np.ndarray:
    return np.stack(smpl.bbox_px.to_numpy()).astype(float).reshape(-1, 4)


@pytest.mark.parametrize("name", NAMES)
def test_outcome(name: str, corpus: dict[str, Entry], batch: dict) -> None:
    """Failed: one line with the path and the problem, no decoder internals, nothing committed.
    Ok / lost: committed with the displayed size, the frame count, ``frames_lost`` and
    ``lost_ranges`` as the ffmpeg CLI loses them, people boxed inside the displayed frame and
    never on a lost frame."""
    entry = _entry(corpus, name)
    row = _row(batch, entry)
    if entry.outcome == "failed":
        assert row["status"] == "failed", f"{entry.path}: expected to fail, got {row}"
        error = str(row.get("error") or "")
        assert error and "\n" not in error.strip(), f"not one line: {error!r}"
        assert str(entry.path) in error, f"the path is not in {error!r}"
        assert entry.keyword.lower() in error.lower(), f"{entry.keyword!r} not in {error!r}"
        leaked = [text for text in INTERNALS if text.lower() in error.lower()]
        assert not leaked, f"decoder internals {leaked} in {error!r}"
        assert not re.search(r"@ 0x[0-9a-f]+", error), f"a decoder's log line in {error!r}"
        if row.get("video_id"):
            assert row["video_id"] not in batch["store"].committed_videos()
        return

    allowed = {"ok"} if entry.outcome == "ok" else {"ok", "partial"}
    assert row["status"] in allowed, f"{entry.path}: expected {entry.outcome}, got {row}"
    videos = _table(batch, "videos", row)
    assert len(videos) == 1
    video = videos.iloc[0]
    assert (int(video.width_px), int(video.height_px)) == entry.size
    assert int(video.n_frames) == entry.frames
    missing = {"frames_lost", "lost_ranges"} - set(videos.columns)
    assert not missing, f"videos has no column {sorted(missing)}"
    assert pd.api.types.is_integer_dtype(videos.frames_lost)
    assert int(video.frames_lost) == entry.frames_lost
    ranges = video.lost_ranges
    assert isinstance(ranges, str) and RANGES.fullmatch(ranges), f"lost_ranges {ranges!r}"
    assert parse_ranges(ranges) == set(entry.lost_frames), (
        f"lost_ranges {ranges!r}, the ffmpeg CLI loses {format_ranges(entry.lost_frames)!r}"
    )

    smpl = _table(batch, "smpl", row)
    assert len(smpl) > 0, "nobody committed in a clip of one man talking"
    width, height = entry.size
    boxes = _boxes(smpl)
    assert np.isfinite(boxes).all()
    inside = (
        (boxes[:, 0] >= -0.5)
        & (boxes[:, 1] >= -0.5)
        & (boxes[:, 2] <= width + 0.5)
        & (boxes[:, 3] <= height + 0.5)
        & (boxes[:, 2] > boxes[:, 0])
        & (boxes[:, 3] > boxes[:, 1])
    )
    assert inside.all(), f"boxes outside {width}x{height}: {boxes[~inside][:3].tolist()}"
    frames = set(smpl.frame.astype(int))
    assert frames <= set(range(entry.frames)), f"frames beyond n_frames: {sorted(frames)}"
    on_lost = frames & set(entry.lost_frames)
    assert not on_lost, f"rows on frames ffmpeg cannot decode: {sorted(on_lost)}"


def test_good_file_committed_alongside_bad_inputs(corpus: dict[str, Entry], batch: dict) -> None:
    """The bad inputs of the batch fail alone: the good file and every processable file are
    committed, and nothing else is."""
    good = _row(batch, corpus["good"])
    assert good["status"] == "ok", good
    committed = set(batch["store"].committed_videos())
    assert good["video_id"] in committed
    processable = [e for e in corpus.values() if not e.skip and e.outcome != "failed"]
    rows = {e.name: batch["rows"][e.name] or {} for e in processable}
    uncommitted = [name for name, r in rows.items() if r.get("video_id") not in committed]
    assert not uncommitted, f"processable but not committed: {uncommitted}"
    failed = [r for r in batch["rows"].values() if r and r["status"] == "failed"]
    assert not {r.get("video_id") for r in failed} & committed


@pytest.mark.parametrize("name", ROTATED)
def test_rotated_video_is_upright(name: str, corpus: dict[str, Entry], batch: dict) -> None:
    """A phone's rotated file is analysed as displayed: boxes in the displayed frame (checked
    in test_outcome), the man upright -- head above the neck; for 90/270 the box of a head and
    shoulders in a portrait frame is taller than wide (a sideways man's would be wider) -- and
    the render has the displayed size and every frame."""
    entry = _entry(corpus, name)
    row = _row(batch, entry)
    assert row["status"] == "ok", row
    smpl = _table(batch, "smpl", row)
    assert len(smpl) > 0
    boxes = _boxes(smpl)
    width = np.median(boxes[:, 2] - boxes[:, 0])
    height = np.median(boxes[:, 3] - boxes[:, 1])
    if name != "rotate_180":  # the landscape clip's head-and-shoulders box is about square
        assert height > width, f"box {width:.0f} wide, {height:.0f} tall: not upright"
    joints = np.stack(smpl.joints2d_px.to_numpy()).reshape(len(smpl), -1, 2)
    up = joints[:, NECK] - joints[:, NOSE]  # image y grows downwards
    assert np.median(up[:, 1]) > abs(np.median(up[:, 0])), (
        f"neck-to-nose {np.median(up, axis=0).tolist()} px: the man is not upright"
    )
    render = Path(batch["out"]) / "renders" / f"{row['video_id']}.mp4"
    assert render.exists(), f"no render for {entry.path}"
    frames, _ = decode(render)
    assert len(frames) == entry.frames
    assert (frames[0][1], frames[0][2]) == entry.size, "render not at the displayed size"


def test_variable_frame_rate_keeps_presentation_times(
    corpus: dict[str, Entry], batch: dict
) -> None:
    """``t_s`` is each frame's presentation time in the container (ffprobe), within 1 ms; the
    render lasts as long as the source, video and audio, within one frame."""
    entry = _entry(corpus, "vfr")
    row = _row(batch, entry)
    assert row["status"] == "ok", row
    times = entry.extra["t_s"]
    smpl = _table(batch, "smpl", row)
    assert len(smpl) > 0
    expected = np.array([times[int(f)] for f in smpl.frame])
    assert np.abs(smpl.t_s.to_numpy() - expected).max() <= 1e-3, (
        f"t_s {smpl.t_s.tolist()[:30]} vs container times {times}"
    )
    render = Path(batch["out"]) / "renders" / f"{row['video_id']}.mp4"
    assert render.exists()
    source, made = entry.extra["durations"], durations(render)
    assert made["video"] is not None and made["audio"] is not None, made
    assert made["video"] == pytest.approx(source["video"], abs=ONE_FRAME_S), (made, source)
    assert made["audio"] == pytest.approx(source["audio"], abs=ONE_FRAME_S), (made, source)
