"""Units of work: shots, and spans of at most ``unit_s`` seconds of a long shot.

Interviews are often one long shot (a fixed camera for an hour), so shots alone would leave all
but one worker idle. Every shot is cut into equal spans no longer than ``unit_s``; each span is
detected, tracked and estimated on its own (by one process or spread over a Dask cluster), and
the tracks of consecutive spans of a shot are joined again by box overlap at the border
(:func:`stitch`). The in-process run uses the same units, so both give the same rows.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from pmrr_model.detection.base import box_iou
from tasks.shots import Shot
from tasks.tracking import SAME_PERSON_MIN_IOU, TrackedBoxes


@dataclass(frozen=True)
class WorkUnit:
    """Frames ``start_frame..end_frame`` (inclusive) of shot ``shot_id``."""

    shot_id: int
    start_frame: int
    end_frame: int

    @property
    def n_frames(self) -> int:
        return self.end_frame - self.start_frame + 1

    def as_shot(self) -> Shot:
        """The span as a shot of its own (what detection and tracking work on)."""
        return Shot(self.shot_id, self.start_frame, self.end_frame)


def split_shots(shots: list[Shot], fps: float, unit_s: float) -> list[WorkUnit]:
    """Each shot cut into the fewest equal spans of at most ``unit_s`` seconds, in frame order."""
    limit = max(int(round(unit_s * fps)), 1)
    units = []
    for shot in shots:
        parts = math.ceil(shot.n_frames / limit)
        edges = np.linspace(shot.start_frame, shot.end_frame + 1, parts + 1).round().astype(int)
        units.extend(
            WorkUnit(shot.shot_id, int(a), int(b) - 1)
            for a, b in zip(edges, edges[1:], strict=False)
        )
    return units


def rows_of(tracked: TrackedBoxes, unit: WorkUnit) -> TrackedBoxes:
    """The rows of ``tracked`` inside the unit's frames."""
    return tracked.take((tracked.frame >= unit.start_frame) & (tracked.frame <= unit.end_frame))


def _boxes_at(tracked: TrackedBoxes, frame: int) -> dict[int, np.ndarray]:
    rows = np.flatnonzero(tracked.frame == frame)
    return {int(tracked.track_id[r]): tracked.bbox_px[r] for r in rows}


def stitch(parts: list[tuple[WorkUnit, TrackedBoxes]]) -> TrackedBoxes:
    """One video's tracks from per-unit tracks (unit-local IDs), units in frame order.

    IDs are renumbered in order of first appearance, as one tracker over the whole video would
    number them. A track present on the first frame of a unit continues the track of the
    previous unit of the same shot whose box on the unit's last frame overlaps it most
    (one-to-one, highest overlap first, IoU >= :data:`~tasks.tracking.SAME_PERSON_MIN_IOU`)."""
    from scipy.optimize import linear_sum_assignment

    out: list[TrackedBoxes] = []
    next_id = 0
    previous: tuple[WorkUnit, TrackedBoxes] | None = None
    for unit, part in parts:
        mapping: dict[int, int] = {}
        if previous is not None and previous[0].shot_id == unit.shot_id and len(part):
            before = _boxes_at(previous[1], previous[0].end_frame)
            after = _boxes_at(part, unit.start_frame)
            if before and after:
                ids_b, ids_a = list(before), list(after)
                iou = box_iou(
                    np.stack([after[i] for i in ids_a]), np.stack([before[i] for i in ids_b])
                )
                for r, c in zip(*linear_sum_assignment(-iou), strict=True):
                    if iou[r, c] >= SAME_PERSON_MIN_IOU:
                        mapping[ids_a[r]] = ids_b[c]
        for local in _first_appearance_order(part):
            if local not in mapping:
                mapping[local] = next_id
                next_id += 1
        ids = np.asarray([mapping[int(t)] for t in part.track_id], np.int32)
        renamed = dataclasses.replace(part, track_id=ids)
        out.append(renamed)
        previous = (unit, renamed)
    if not out:
        return TrackedBoxes.empty()
    names = [f.name for f in dataclasses.fields(TrackedBoxes)]  # one source: the dataclass
    merged = TrackedBoxes(*(np.concatenate([getattr(p, f) for p in out]) for f in names))
    order = np.lexsort((merged.track_id, merged.frame))
    return merged.take(order)


def _first_appearance_order(part: TrackedBoxes) -> list[int]:
    """Local track IDs ordered by their first frame (ties: by ID)."""
    first: dict[int, int] = {}
    for frame, track in zip(part.frame.tolist(), part.track_id.tolist(), strict=True):
        first.setdefault(int(track), int(frame))
    return sorted(first, key=lambda t: (first[t], t))
