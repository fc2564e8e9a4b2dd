"""Units of work: shots cut into spans, and tracks joined again at span borders."""

from __future__ import annotations

import numpy as np
import pytest

from flows.config import ConfigError, load_config
from tasks.shots import Shot
from tasks.tracking import TrackedBoxes
from tasks.units import WorkUnit, rows_of, split_shots, stitch


def test_a_long_shot_is_cut_into_equal_spans_that_cover_it() -> None:
    shots = [Shot(0, 0, 99), Shot(1, 100, 349)]
    units = split_shots(shots, fps=25.0, unit_s=4.0)  # 100 frames a unit at most
    assert units[0] == WorkUnit(0, 0, 99)
    assert sorted(u.n_frames for u in units[1:]) == [83, 83, 84]  # 3 spans, not 100+100+50
    covered = np.concatenate([np.arange(u.start_frame, u.end_frame + 1) for u in units])
    assert np.array_equal(covered, np.arange(350))
    assert all(u.shot_id == 1 for u in units[1:])


def _boxes(frames, track, shot, x) -> TrackedBoxes:
    frames = np.asarray(frames)
    n = len(frames)
    box = np.tile(np.array([x, 10, x + 50, 150], np.float32), (n, 1))
    return TrackedBoxes(
        frames.astype(np.int64), np.full(n, track, np.int32), np.full(n, shot, np.int32), box,
        np.ones(n, np.float32),
    )  # fmt: skip


def _cat(*parts: TrackedBoxes) -> TrackedBoxes:
    names = ("frame", "track_id", "shot_id", "bbox_px", "det_score")
    return TrackedBoxes(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))


def test_tracks_continue_across_a_span_border_but_not_across_a_cut() -> None:
    units = [WorkUnit(0, 0, 9), WorkUnit(0, 10, 19), WorkUnit(1, 20, 29)]
    # unit-local IDs; in the second span the two people come back in the other ID order
    first = _cat(_boxes(range(0, 10), 0, 0, 0), _boxes(range(0, 10), 1, 0, 200))
    second = _cat(_boxes(range(10, 20), 0, 0, 200), _boxes(range(10, 20), 1, 0, 2))
    third = _boxes(range(20, 30), 0, 1, 0)  # same place, but after a cut: a new person
    joined = stitch([(units[0], first), (units[1], second), (units[2], third)])
    left = joined.track_id[joined.bbox_px[:, 0] < 100]
    right = joined.track_id[joined.bbox_px[:, 0] >= 100]
    assert set(left[joined.frame[joined.bbox_px[:, 0] < 100] < 20].tolist()) == {0}
    assert set(right.tolist()) == {1}
    assert set(joined.track_id[joined.frame >= 20].tolist()) == {2}
    assert len(joined) == 50
    assert np.all(np.diff(joined.frame) >= 0)


def test_someone_new_at_a_border_gets_a_new_id() -> None:
    units = [WorkUnit(0, 0, 9), WorkUnit(0, 10, 19)]
    first = _boxes(range(0, 10), 0, 0, 0)
    second = _cat(_boxes(range(10, 20), 0, 0, 0), _boxes(range(10, 20), 1, 0, 300))
    joined = stitch([(units[0], first), (units[1], second)])
    assert sorted(set(joined.track_id.tolist())) == [0, 1]
    assert set(joined.track_id[joined.bbox_px[:, 0] >= 300].tolist()) == {1}
    assert len(rows_of(joined, units[1])) == 20


def test_workers_and_cluster_are_validated() -> None:
    assert load_config(workers=2).workers == 2
    with pytest.raises(ConfigError, match="workers, cluster"):
        load_config(workers=2, cluster="tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="cluster"):
        load_config(cluster="127.0.0.1:8786")  # no scheme
    with pytest.raises(ConfigError, match="device"):
        load_config(workers=2, device="cuda:1")
