"""Tracking people through a shot with ByteTrack (Roboflow ``trackers`` package).

Library choice: ``trackers`` (Roboflow, Apache-2.0, maintained; ByteTrack, OC-SORT, SORT,
BoT-SORT) on top of ``supervision`` -- ``supervision`` >= 0.27 moved its ByteTrack there.
``boxmot`` was rejected: it pins pandas < 3, pyarrow < 24 and opencv-python and needs
torchvision; ``bytetracker`` is an sdist last released years ago. ``trackers`` declares
opencv-python, which would overwrite our opencv-python-headless, so it is installed with
``--no-deps`` (its other needs -- supervision, scipy, rich, requests, pydeprecate -- are regular
dependencies here); the ByteTrack code path does not use OpenCV's GUI parts.

ByteTrack rather than OC-SORT: detections here are sparse (every k-th frame) and confident;
ByteTrack's second association of low-score boxes keeps a person through a frame where the
detector was unsure, and interview people move little, so OC-SORT's observation-centric motion
model buys nothing. Cuts reset the tracker and new IDs are allocated, so IDs never cross a cut.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

import numpy as np

from pmrr_model.detection.base import box_iou
from tasks.layout import Tile, tile_of
from tasks.shots import Shot

#: Boxes of one person a few frames apart overlap at least this much (interview people move
#: little); below it, two tracks are different people. Used to join a person's tracks within a
#: shot (:func:`relink`) and across unit borders (:func:`tasks.units.stitch`).
SAME_PERSON_MIN_IOU = 0.3

Observation = tuple[int, np.ndarray, float]  # (frame, box xyxy, detector score)


@dataclass
class TrackedBoxes:
    """One row per (frame, person); ``det_score`` is NaN where the box was interpolated."""

    frame: np.ndarray  # (M,) int64
    track_id: np.ndarray  # (M,) int32, unique in the video
    shot_id: np.ndarray  # (M,) int32
    bbox_px: np.ndarray  # (M, 4) float32 xyxy
    det_score: np.ndarray  # (M,) float32
    #: (M, 4) float32 xyxy: the split-screen tile the person is in (:mod:`tasks.layout`), NaN
    #: where the frame is one picture.
    tile_px: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.tile_px is None:
            self.tile_px = np.full((len(self.frame), 4), np.nan, np.float32)

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    @classmethod
    def empty(cls) -> TrackedBoxes:
        return cls(
            np.zeros(0, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.int32),
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
        )

    def with_tiles(self, tiles: tuple[Tile, ...]) -> TrackedBoxes:
        """The rows with the tile holding most of each box (:func:`tasks.layout.tile_of`)."""
        if not tiles:
            return self
        which = [tile_of(box, tiles) for box in self.bbox_px]
        return replace(
            self, tile_px=np.asarray([tiles[i] for i in which], np.float32).reshape(-1, 4)
        )

    def take(self, rows: np.ndarray) -> TrackedBoxes:
        """The rows selected by an index or boolean array, in that order."""
        return replace(self, **{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def at_frames(self, frames: np.ndarray) -> dict[int, np.ndarray]:
        """Row indices per frame, for the frames given."""
        wanted = set(int(f) for f in frames)
        rows: dict[int, list[int]] = defaultdict(list)
        for row, frame in enumerate(self.frame):
            if int(frame) in wanted:
                rows[int(frame)].append(row)
        return {f: np.asarray(r) for f, r in rows.items()}


def _make_tracker(fps: float, every_k: int, lost_s: float):
    from trackers import ByteTrackTracker

    return ByteTrackTracker(
        lost_track_buffer=max(int(round(lost_s * 30)), 1),  # the library counts 30-fps frames
        frame_rate=max(fps / max(every_k, 1), 1e-3),
        # The default detector scores a face-only person (body out of frame, common in close-up
        # interviews) at half the face score, i.e. >= 0.25: such a person must start a track.
        track_activation_threshold=0.25,
        minimum_consecutive_frames=1,  # sparse detections: a person is real at first sight
        minimum_iou_threshold=0.1,
        high_conf_det_threshold=0.25,
    )


def track_detections(
    detections: Iterable[tuple[int, np.ndarray, np.ndarray]],
    shots: list[Shot],
    fps: float,
    every_k: int = 1,
    lost_s: float = 1.0,
    max_gap_s: float = 1.0,
) -> TrackedBoxes:
    """Link per-frame detections into tracks, shot by shot, and fill the frames in between.

    ``detections`` yields ``(frame, boxes (N, 4), scores (N,))`` in frame order.
    """
    import supervision as sv

    shot_of = np.full(shots[-1].end_frame + 1 if shots else 0, -1, np.int32)
    for shot in shots:
        shot_of[shot.start_frame : shot.end_frame + 1] = shot.shot_id
    tracker = _make_tracker(fps, every_k, lost_s)
    current_shot = -1
    local_to_global: dict[int, int] = {}
    next_id = 0
    observed: dict[int, list[Observation]] = defaultdict(list)
    track_shot: dict[int, int] = {}
    # The library returns a new track's first detection with tracker_id -1 (the track only gets
    # an ID when it is matched again), which dropped the first k frames of every person of every
    # shot. The previous update's unassigned detections are kept and given to the track that is
    # born from them (best IoU), so a track starts where its person was first seen.
    pending: list[Observation] = []

    def flush(shot_id: int) -> None:
        """People first seen on a shot's last detected frame (a one-frame shot, someone who
        appears at its very end) have no later frame to be matched on: each is a track."""
        nonlocal next_id
        for item in pending:
            observed[next_id].append(item)
            track_shot[next_id] = shot_id
            next_id += 1
        pending.clear()

    for frame, boxes, scores in detections:
        shot_id = int(shot_of[frame])
        if shot_id != current_shot:  # a cut: forget everyone
            flush(current_shot)
            tracker.reset()
            local_to_global = {}
            current_shot = shot_id
        result = tracker.update(
            sv.Detections(xyxy=boxes.astype(np.float32), confidence=scores.astype(np.float32)),
            timestamp=frame / fps,
        )
        unassigned = []
        for box, score, local in zip(
            result.xyxy, result.confidence, result.tracker_id, strict=True
        ):
            if local < 0:
                unassigned.append((frame, box, float(score)))
                continue
            if local not in local_to_global:
                local_to_global[int(local)] = next_id
                track_shot[next_id] = shot_id
                first = _take_best_overlap(pending, box)
                if first is not None:
                    observed[next_id].append(first)
                next_id += 1
            observed[local_to_global[int(local)]].append((frame, box, float(score)))
        pending[:] = unassigned
    flush(current_shot)
    max_gap = max(int(round(max_gap_s * fps)), every_k)
    observed, track_shot = relink(observed, track_shot, max_gap)
    return _interpolate(observed, track_shot, max_gap=max_gap)


def without_lone_detections(tracked: TrackedBoxes, shots: list[Shot], every_k: int) -> TrackedBoxes:
    """``tracked`` less the tracks whose person was never detected on two frames ``every_k``
    or more apart, in a shot long enough to have such frames; the rest renumbered 0.. in their
    order (of first appearance, as :func:`tasks.units.stitch` numbers them). Applied to a whole
    video's tracks, after the units are stitched, so a person who goes on into the next unit is
    kept.

    Why: the tracker takes a person as real at first sight (its ``minimum_consecutive_frames``
    is 1: with detection on every k-th frame, waiting for a second sighting dropped the first
    k frames of everyone). So whatever the detector read as a body once became a track and a
    person of its own in ``features_people``: a dark patch of a restaurant's wall in opencv-doc's
    ``Megamind.avi`` (one frame), a person still visible, faintly, in the frames of a dissolve or
    a fade (one or two frames: a shot's last frame is always detected, so two detections can lie
    a frame apart). A person in view is found again k frames later; one who is not is in view
    for less than about 2k frames (0.24 s at 25 fps), too short for any measure. A shot shorter
    than that (a flash between two cuts) keeps its people: there is no second frame to confirm
    them on."""
    if not len(tracked):
        return tracked
    long_enough = [s.shot_id for s in shots if s.end_frame - s.start_frame >= every_k]
    ids, track_of_row = np.unique(tracked.track_id, return_inverse=True)
    detected = np.isfinite(tracked.det_score)
    first = np.full(len(ids), np.iinfo(np.int64).max)
    last = np.full(len(ids), np.iinfo(np.int64).min)
    np.minimum.at(first, track_of_row[detected], tracked.frame[detected])
    np.maximum.at(last, track_of_row[detected], tracked.frame[detected])
    span = np.where(last >= first, last - first, 0)  # a track's detected frames, first to last
    shot = np.zeros(len(ids), np.int64)
    shot[track_of_row] = tracked.shot_id
    lone = ids[(span < every_k) & np.isin(shot, long_enough)]
    if not len(lone):
        return tracked
    kept = tracked.take(~np.isin(tracked.track_id, lone))
    _, renumbered = np.unique(kept.track_id, return_inverse=True)
    return replace(kept, track_id=renumbered.astype(np.int32))


def relink(
    observed: dict[int, list[Observation]], track_shot: dict[int, int], max_gap: int
) -> tuple[dict[int, list[Observation]], dict[int, int]]:
    """Join a track that ends to one that starts up to ``max_gap`` frames later in the same shot
    where the first's last box and the second's first box overlap (IoU >=
    :data:`SAME_PERSON_MIN_IOU`): one person who was briefly lost. IDs are then renumbered
    0.. in their previous order.

    ByteTrack predicts a lost person's box with its Kalman velocity; when a box jumps (a
    close-up whose detection changes from the face's whole-frame region to the body's box
    within a few frames) the prediction runs off and the person, found again where they were,
    starts a new track: an ID switch the tracker's own lost-track buffer was meant to prevent.
    Pairs are joined one to one, best overlap first, repeated so chains join too."""
    tracks = {t: sorted(obs, key=lambda o: o[0]) for t, obs in observed.items()}
    while True:
        pairs = []
        for a, obs_a in tracks.items():
            for b, obs_b in tracks.items():
                gap = obs_b[0][0] - obs_a[-1][0]
                if a == b or track_shot[a] != track_shot[b] or not 0 < gap <= max_gap:
                    continue
                iou = float(box_iou(obs_a[-1][1][None], obs_b[0][1][None])[0, 0])
                if iou >= SAME_PERSON_MIN_IOU:
                    pairs.append((-iou, gap, a, b))
        if not pairs:
            break
        used: set[int] = set()
        for _, _, a, b in sorted(pairs):
            if a not in used and b not in used:
                used |= {a, b}
                tracks[a] = tracks[a] + tracks.pop(b)
    renumber = {old: new for new, old in enumerate(sorted(tracks))}
    return (
        {renumber[t]: obs for t, obs in tracks.items()},
        {renumber[t]: track_shot[t] for t in tracks},
    )


def _take_best_overlap(
    pending: list[Observation], box: np.ndarray, min_iou: float = 0.1
) -> Observation | None:
    """Remove and return the pending detection that overlaps ``box`` most (if any does)."""
    if not pending:
        return None
    overlaps = box_iou(np.stack([p[1] for p in pending]), box)[:, 0]
    best = int(np.argmax(overlaps))
    return pending.pop(best) if overlaps[best] >= min_iou else None


def _interpolate(
    observed: dict[int, list[Observation]],
    track_shot: dict[int, int],
    max_gap: int,
) -> TrackedBoxes:
    """Linear box interpolation between a track's detections (gaps up to ``max_gap`` frames)."""
    frames, ids, shots, boxes, scores = [], [], [], [], []
    for track_id, obs in sorted(observed.items()):
        obs.sort(key=lambda o: o[0])
        for (f0, b0, s0), (f1, b1, _s1) in zip(obs, obs[1:], strict=False):
            frames.append(f0)
            boxes.append(b0)
            scores.append(s0)
            if 1 < f1 - f0 <= max_gap:
                t = (np.arange(f0 + 1, f1) - f0) / (f1 - f0)
                frames.extend(range(f0 + 1, f1))
                boxes.extend(b0[None] * (1 - t[:, None]) + b1[None] * t[:, None])
                scores.extend([np.nan] * (f1 - f0 - 1))
        last = obs[-1]
        frames.append(last[0])
        boxes.append(last[1])
        scores.append(last[2])
        n = len(frames) - len(ids)
        ids.extend([track_id] * n)
        shots.extend([track_shot[track_id]] * n)
    if not frames:
        return TrackedBoxes.empty()
    order = np.lexsort((np.asarray(ids), np.asarray(frames)))
    return TrackedBoxes(
        frame=np.asarray(frames, np.int64)[order],
        track_id=np.asarray(ids, np.int32)[order],
        shot_id=np.asarray(shots, np.int32)[order],
        bbox_px=np.asarray(boxes, np.float32).reshape(-1, 4)[order],
        det_score=np.asarray(scores, np.float32)[order],
    )
