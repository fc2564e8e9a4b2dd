"""Shot boundaries and tracking, as plain functions (no Prefect).

Synthetic inputs pin the logic down (a drift that is not a cut, boxes listed in swapped order,
a cut with people at the same place); the real two-person clip checks the whole chain with the
default detector: 2 shots with the cut at 2 s, two tracks in shot 0 that stay on their side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flows import components
from pmrr_interviews import samples
from tasks import detection, shots, tracking

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
