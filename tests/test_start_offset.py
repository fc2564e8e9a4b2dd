"""A video that starts after its audio, through the Prefect flow.

Broadcast and DVD files often start their audio a few hundred milliseconds before the first
picture; a player shows the first frame that late. The copy here starts carphone's picture 0.5 s
after its sound. The tables keep counting from the first frame (as for every file) and say where
it is (``videos.start_offset_s``); the render and the ELAN file put it where a player does.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from flows.video import process_video
from pmrr_interviews import samples
from tasks.decode import iter_chunks
from tasks.probe import probe_video


@pytest.fixture(scope="module")
def late(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("start-offset")
    clip = samples.carphone_clip(samples.cache_dir(), seconds=2.0)
    copy = folder / "late_picture.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-itsoffset", "0.5", "-i", str(clip), "-i", str(clip),
         "-map", "0:v", "-map", "1:a", "-c", "copy", str(copy)],
        check=True,
    )  # fmt: skip
    out = folder / "out"
    row = process_video(str(copy), str(out), config={"render": True, "analytics": True})
    return {"clip": clip, "copy": copy, "out": out, "row": row}


def test_probe_says_when_the_first_frame_is_shown(late: dict) -> None:
    assert probe_video(str(late["clip"])).start_offset_s == 0.0
    info = probe_video(str(late["copy"]))
    assert info.start_offset_s == pytest.approx(0.5, abs=1e-3)
    assert info.times()[0] == 0.0 and info.n_frames == 50
    slight = late["copy"].with_name("slightly_late.mp4")  # under half a frame: nothing to see
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-itsoffset", "0.015", "-i", str(late["clip"]),
         "-i", str(late["clip"]), "-map", "0:v", "-map", "1:a", "-c", "copy", str(slight)],
        check=True,
    )  # fmt: skip
    assert probe_video(str(slight)).start_offset_s == 0.0


def test_tables_count_from_the_first_frame_and_give_the_offset(late: dict) -> None:
    out = late["out"]
    videos = pd.read_parquet(out / "videos")
    assert videos["start_offset_s"].iloc[0] == pytest.approx(0.5, abs=1e-3)
    smpl = pd.read_parquet(out / "smpl").sort_values("frame")
    assert smpl["t_s"].iloc[0] == 0.0 and smpl["frame"].iloc[0] == 0


def test_render_and_elan_are_on_the_files_clock(late: dict) -> None:
    out, video_id = late["out"], late["row"]["video_id"]
    render = out / "renders" / f"{video_id}.mp4"
    frames = np.concatenate([c for _, c in iter_chunks(str(render))]).astype(int)
    # 0.5 s of the first frame held, then the 2 s clip: 62-63 frames at 25 frames/s
    assert 62 <= len(frames) <= 63
    change = np.abs(frames - frames[0]).mean(axis=(1, 2, 3))
    assert change[:12].max() < 0.5  # held (measured 0.07 at most: the encoder's noise)
    assert change[15:].min() > 2  # then it plays (measured 5-10 in the first frames)
    eaf = (out / "annotations" / video_id / f"{video_id}.eaf").read_text()
    assert 'TIME_ORIGIN="500"' in eaf
