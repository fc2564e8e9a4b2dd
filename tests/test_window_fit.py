"""The landmark fit over a chunk of frames in one batch (``LandmarkFitEstimator.estimate_batch``):
which rows follow which, the temporal energy on hand values, and on a real clip the same bodies
as fitting the frames one after another."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pmrr_model.estimators.fitting import FIT_DTYPE, FitParams, TemporalLinks


def _params(orient: list[list[float]], pose0: list[float], transl_x: list[float]) -> FitParams:
    n = len(orient)
    pose = np.zeros((n, 69))
    pose[:, 0] = pose0
    transl = np.zeros((n, 3))
    transl[:, 0] = transl_x
    return FitParams(np.array(orient, float), pose, np.zeros((n, 10)), transl)


def test_links_follow_each_track_in_frame_order():
    before = {5: _params([[0, 0, 0]], [0.3], [1.0])}
    links = TemporalLinks.of(np.array([3, 5, 3, 3, 7, 5]), before)
    assert links.row.tolist() == [2, 3, 5] and links.prev.tolist() == [0, 2, 1]
    assert links.anchored.tolist() == [1]  # track 5's first row follows its solution before
    np.testing.assert_array_equal(links.anchor.body_pose, before[5].body_pose)
    alone = TemporalLinks.of(np.array([1, 2]))
    assert len(alone.row) == len(alone.anchored) == 0 and alone.anchor is None


def test_temporal_energy_on_hand_values():
    from pmrr_model.estimators.factory import create_estimator
    from pmrr_model.geometry import axis_angle_to_rotmat

    fitter = create_estimator("landmark-fit").fitter
    w = fitter.w
    # Row 1 follows row 0: pose differs by 0.1 rad, translation by 0.02 m; the orientations are
    # one rotation (180 degrees about x) written as two opposite axis-angle vectors: no cost.
    rows = _params([[np.pi, 0, 0], [-np.pi, 0, 0]], [0.0, 0.1], [0.0, 0.02])
    anchor = _params([[np.pi, 0, 0]], [0.2], [0.0])
    links = TemporalLinks(np.array([1]), np.array([0]), np.array([0]), anchor)
    energy = fitter._temporal_term(links)
    orient, pose, betas, transl = (torch.tensor(a, dtype=FIT_DTYPE) for a in rows.as_tuple())
    expected = w.temporal_pose * (0.1**2 + 0.2**2) + w.temporal_transl * 0.02**2
    value = energy(axis_angle_to_rotmat(orient), pose, betas, transl)  # orientation as matrices
    assert float(value) == pytest.approx(expected, rel=1e-4)
    assert fitter._temporal_term(TemporalLinks.of(np.array([1, 2]))) is None


def test_chunk_fit_matches_frame_by_frame_on_a_real_clip():
    """The two-person sample's first 32 frames through both paths: the same people, the batched
    bodies' 2D joints within 3 % of the box height of the frame-by-frame ones (median over the
    observed joints), and each person's last solution kept for the next chunk."""
    from pmrr_interviews import samples
    from pmrr_model.detection.factory import create_detector
    from pmrr_model.estimators.factory import create_estimator
    from tasks import detection, tracking
    from tasks.decode import iter_chunks
    from tasks.probe import probe_video
    from tasks.shots import Shot

    info = probe_video(str(samples.interview_clip(samples.cache_dir())))
    shot = Shot(0, 0, 31)
    frames = detection.detection_frames([shot], 3)
    detections = detection.detect_people(info, frames, create_detector("mediapipe"))
    tracked = tracking.track_detections(detections, [shot], info.fps, 3)
    indices, chunk = next(iter_chunks(info, chunk_size=32, frames=list(range(32))))
    rows = tracked.at_frames(np.asarray(indices))
    boxes = [tracked.bbox_px[rows[int(f)]] for f in indices]
    ids = [tracked.track_id[rows[int(f)]] for f in indices]
    assert {len(b) for b in boxes} == {2}

    estimator = create_estimator("landmark-fit")
    one_by_one = [
        estimator.estimate(f, b, t, with_vertices=False)
        for f, b, t in zip(chunk, boxes, ids, strict=True)
    ]
    estimator.reset()
    batched = estimator.estimate_batch(list(chunk), boxes, ids, with_vertices=False)
    assert [len(b) for b in batched] == [2] * len(chunk)
    gap, seen = [], []
    for a, b, box in zip(one_by_one, batched, boxes, strict=True):
        height = (box[:, 3] - box[:, 1])[:, None]
        gap.append(np.linalg.norm(a.joints2d_px - b.joints2d_px, axis=-1) / height)
        seen.append(a.observed & b.observed)
        np.testing.assert_array_equal(a.observed, b.observed)  # the same landmarks
    gap = np.concatenate(gap)[np.concatenate(seen)]
    assert np.median(gap) < 0.03, np.median(gap)
    for person, tid in enumerate(ids[-1]):
        np.testing.assert_allclose(
            estimator._previous[int(tid)].body_pose, batched[-1].body_pose[person : person + 1],
            atol=1e-6,
        )  # fmt: skip


def test_next_chunk_observed_while_this_one_is_fitted_gives_the_same_rows():
    """``estimate_sequence`` observes chunk k+1 (MediaPipe) in a helper thread while fitting
    chunk k; over 40 frames of the two-person sample in chunks of 8, split into two shots, the
    rows are exactly those of observing and fitting each chunk in turn in one thread."""
    import threading

    from pmrr_interviews import samples
    from pmrr_model.detection.factory import create_detector
    from pmrr_model.estimators.factory import create_estimator
    from tasks import detection, tracking
    from tasks.inference import estimate_sequence
    from tasks.probe import probe_video
    from tasks.shots import Shot

    info = probe_video(str(samples.interview_clip(samples.cache_dir())))
    shots = [Shot(0, 0, 19), Shot(1, 20, 39)]
    frames = detection.detection_frames(shots, 3)
    detections = detection.detect_people(info, frames, create_detector("mediapipe"))
    tracked = tracking.track_detections(detections, shots, info.fps, 3)

    overlapped = create_estimator("landmark-fit")
    observers: set[str] = set()
    observe = overlapped.observe_batch

    def observe_and_note(*args):
        observers.add(threading.current_thread().name)
        return observe(*args)

    overlapped.observe_batch = observe_and_note

    class InTurn:
        """The estimator with nothing observed ahead: estimate_batch does both steps in turn."""

        def __init__(self, inner) -> None:
            self.inner = inner

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

        def observe_batch(self, *args):
            return args

        def estimate_observed(self, observed, with_vertices: bool = True):
            return self.inner.estimate_batch(*observed, with_vertices=with_vertices)

    in_turn = InTurn(create_estimator("landmark-fit"))
    got = estimate_sequence(info, tracked, overlapped, chunk_size=8)
    want = estimate_sequence(info, tracked, in_turn, chunk_size=8)
    assert observers and all(name.startswith("observe") for name in observers)
    assert len(want) == len(tracked) > 60 and len(set(want.shot_id.tolist())) == 2
    for name in ("frame", "track_id", "body_pose", "betas", "transl_m", "joints2d_px"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def test_nearest_seen_rows():
    from pmrr_model.estimators.landmark_fit import nearest_seen

    ids = np.array([4, 4, 9, 4, 9, 4, 2])
    seen = np.array([False, False, False, True, False, True, False])
    # track 4: rows 0, 1 -> 3 (nearest seen), 3 and 5 are their own; track 9 and 2 have none
    assert nearest_seen(ids, seen).tolist() == [3, 3, 2, 3, 4, 5, 6]


def test_frames_without_landmarks_do_not_drag_a_new_track_away():
    """A track whose first frames have no landmarks and the whole frame as box (the synthetic
    close-up's face region) is fitted as deep as without those frames: they start from the
    first frame with landmarks, not from a 1.7 m body filling the frame (6 m away there)."""
    from pmrr_interviews import samples
    from pmrr_model.detection.factory import create_detector
    from pmrr_model.estimators.factory import create_estimator
    from pmrr_model.estimators.landmark_targets import empty_targets
    from tasks import detection, tracking
    from tasks.decode import iter_chunks
    from tasks.probe import probe_video
    from tasks.shots import Shot

    info = probe_video(str(samples.interview_clip(samples.cache_dir())))
    shot = Shot(0, 0, 11)
    detections = detection.detect_people(info, [0, 6, 11], create_detector("mediapipe"))
    tracked = tracking.track_detections(detections, [shot], info.fps, 3)
    indices, chunk = next(iter_chunks(info, chunk_size=12, frames=list(range(12))))
    rows = tracked.at_frames(np.asarray(indices))
    first = int(tracked.track_id[rows[0]][0])  # one person, every frame
    boxes = [tracked.bbox_px[r][tracked.track_id[r] == first] for r in rows.values()]
    ids = [np.array([first])] * len(boxes)
    estimator = create_estimator("landmark-fit")
    observed = estimator.observe_batch(list(chunk), boxes, ids)
    targets, all_boxes = list(observed.targets), np.concatenate(observed.boxes)
    assert all(t.confidence > 0 for t in targets)
    size, focal, track = observed.size, observed.focal, np.full(len(targets), first)
    depth = estimator._fit_window(targets, all_boxes, track, focal, size).transl[4:, 2]

    estimator.reset()
    whole = np.array([0, 0, size[1], size[0]], float)
    targets[:4] = [empty_targets() for _ in range(4)]
    all_boxes[:4] = whole
    dragged = estimator._fit_window(targets, all_boxes, track, focal, size).transl[4:, 2]
    np.testing.assert_allclose(dragged, depth, atol=0.05)


def test_a_persons_fit_does_not_depend_on_who_else_is_in_the_batch():
    """opencv-doc's ``Megamind.avi``, the first shot's first 40 frames: the man at a table
    behind the woman, whom Pose sees with few joints and then none on his first frames. A row
    more in the shot's batches (his box once more, on frame 7, as a track of its own: what the
    detector once gave) must not move his fit. In float32 it moved his first frame by 0.3 m:
    the fit is chaotic where a person is barely observed, and a row's rounding depends on where
    it sits in the batch. In the fit's float64 it stays within a millimetre."""
    import dataclasses

    from flows import components
    from tasks import detection, tracking
    from tasks.inference import estimate_sequence
    from tasks.probe import probe_video
    from tasks.shots import Shot
    from tests.images import megamind_path

    info = probe_video(megamind_path())
    shot = Shot(1, 1, 40)
    frames = detection.detection_frames([shot], 3)
    detector = components.detector("mediapipe", None, None, "cpu")
    tracked = tracking.track_detections(
        detection.detect_people(info, frames, detector), [shot], info.fps, 3
    )
    centre_x = (tracked.bbox_px[:, 0] + tracked.bbox_px[:, 2]) / 2
    his = np.unique(tracked.track_id[centre_x > 420])  # the woman's box centre lies near 260
    assert len(his) >= 1 and len(np.unique(tracked.track_id)) > len(his)
    first = np.flatnonzero(np.isin(tracked.track_id, his))[0]
    extra = tracked.take(np.array([first]))
    extra = dataclasses.replace(
        extra, frame=np.array([7]), track_id=np.array([tracked.track_id.max() + 1], np.int32)
    )
    names = [f.name for f in dataclasses.fields(tracked)]
    more = tracking.TrackedBoxes(
        *(np.concatenate([getattr(tracked, n), getattr(extra, n)]) for n in names)
    )
    more = more.take(np.lexsort((more.track_id, more.frame)))
    estimator = components.estimator("landmark-fit", None, None, "cpu")
    base = estimate_sequence(info, tracked, estimator, chunk_size=32)
    with_row = estimate_sequence(info, more, estimator, chunk_size=32)
    a, b = (np.isin(seq.track_id, his) for seq in (base, with_row))
    np.testing.assert_array_equal(base.frame[a], with_row.frame[b])
    assert np.abs(base.joints3d_m[a] - with_row.joints3d_m[b]).max() < 1e-3
