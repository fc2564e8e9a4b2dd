"""Non-square pixels through the Prefect flow: a real clip and the same clip stored anamorphically.

The copy stores the carphone clip 132 pixels wide with a sample aspect ratio of 4:3 (as HDV
stores 1920 pixels in 1440), so a player shows it at the clip's own 176x144. The pipeline must
analyse it as shown: the same boxes, joints and head angles as the square original, tables in
the displayed pixels and a render a player shows undistorted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.video import process_video
from pmrr_interviews import samples

CONFIG = {"render": True, "analytics": True}


def _run(clip: Path, out: Path) -> dict:
    row = process_video(str(clip), str(out), config=CONFIG)
    tables = {n: pd.read_parquet(out / n) for n in ("videos", "smpl", "features_frames")}
    return {"row": row, "out": out, **tables}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("pixel-aspect")
    clip = samples.carphone_clip(samples.cache_dir(), seconds=2.0)
    copy = folder / "carphone_hdv.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-vf", "scale=132:144,setsar=4/3",
         "-c:v", "libx264", "-crf", "12", "-c:a", "copy", str(copy)],
        check=True,
    )  # fmt: skip
    return {"square": _run(clip, folder / "square"), "hdv": _run(copy, folder / "hdv")}


def _per_frame(run: dict, column: str) -> np.ndarray:
    smpl = run["smpl"].sort_values("frame")
    return np.stack(smpl[column].to_numpy()).astype(np.float64)


def test_videos_row_names_the_pixel_shape(runs: dict) -> None:
    square, hdv = runs["square"]["videos"].iloc[0], runs["hdv"]["videos"].iloc[0]
    assert (square.width_px, square.height_px, square.sample_aspect) == (176, 144, "1:1")
    assert (hdv.width_px, hdv.height_px, hdv.sample_aspect) == (176, 144, "4:3")


def test_boxes_and_joints_as_a_viewer_sees_them(runs: dict) -> None:
    square, hdv = runs["square"]["smpl"], runs["hdv"]["smpl"]
    assert square.frame.tolist() == hdv.frame.tolist() == list(range(50))
    box_a, box_b = _per_frame(runs["square"], "bbox_px"), _per_frame(runs["hdv"], "bbox_px")
    height = box_a[:, 3] - box_a[:, 1]
    # box edges within 5 % of the person's height (measured 2 %; read as square, 31 %)
    assert np.median(np.abs(box_a - box_b).max(axis=1) / height) < 0.05
    joints_a = _per_frame(runs["square"], "joints2d_px").reshape(50, -1, 2)[:, :25]
    joints_b = _per_frame(runs["hdv"], "joints2d_px").reshape(50, -1, 2)[:, :25]
    seen = _per_frame(runs["square"], "joints_observed")[:, :25].astype(bool)
    seen &= _per_frame(runs["hdv"], "joints_observed")[:, :25].astype(bool)
    assert seen.sum() > 50 * 5  # nose, eyes, ears, shoulders: seen in both
    distance = np.linalg.norm(joints_a - joints_b, axis=-1) / height[:, None]
    assert np.median(distance[seen]) < 0.05


def test_head_and_trunk_angles_agree(runs: dict) -> None:
    a = runs["square"]["features_frames"].set_index("frame")
    b = runs["hdv"]["features_frames"].set_index("frame").reindex(a.index)
    # measured: 0.6 degrees or less (the stored copy read as square: yaw 2.6, pitch 1.3)
    for column, limit in (
        ("head_yaw_deg", 1.5),
        ("head_pitch_deg", 1.0),
        ("head_roll_deg", 1.0),
        ("trunk_lean_forward_deg", 1.0),
    ):
        difference = np.nanmean(b[column].to_numpy() - a[column].to_numpy())
        assert abs(difference) < limit, (column, difference)


def test_render_is_shown_undistorted(runs: dict) -> None:
    render = next((runs["hdv"]["out"] / "renders").glob("*.mp4"))
    meta = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height,sample_aspect_ratio", "-of", "csv=p=0", str(render)],
        capture_output=True, text=True, check=True,
    ).stdout.strip().split(",")  # fmt: skip
    assert meta[:2] == ["176", "144"] and meta[2] in ("1:1", "N/A", "0:1")
