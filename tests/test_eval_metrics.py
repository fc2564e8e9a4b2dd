"""The accuracy metrics (pmrr_model/evaluation/metrics.py) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

from pmrr_model.evaluation import metrics as M


def _skeleton(seed: int = 0, n: int = 24) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3)) * 0.3 + [0, 0, 3]


def test_procrustes_undoes_rotation_scale_translation():
    gt = _skeleton()
    rot = Rotation.from_euler("xyz", [30, -50, 70], degrees=True).as_matrix()
    pred = 1.7 * gt @ rot.T + [0.4, -1.0, 2.0]
    assert M.pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-9)
    s, r, t = M.similarity_transform(pred, gt)
    assert s == pytest.approx(1 / 1.7)
    np.testing.assert_allclose(r, rot.T, atol=1e-9)
    # Not a reflection: a mirrored skeleton keeps an error.
    assert M.pa_mpjpe(gt * [-1, 1, 1], gt) > 0.01


def test_mpjpe_root_aligned_and_visible_only():
    gt = _skeleton()
    pred = gt + [1.0, 2.0, 3.0]  # pure translation: 0 after root alignment
    assert M.mpjpe(pred, gt) == pytest.approx(0.0)
    pred = gt.copy()
    pred[5] += [0.03, 0.04, 0.0]  # one joint 5 cm off -> mean 5/24 cm
    assert M.mpjpe(pred, gt) == pytest.approx(0.05 / 24)
    visible = np.zeros(24, bool)
    visible[[0, 5]] = True  # pelvis visible: aligned on it; mean of 0 and 0.05
    assert M.mpjpe(pred, gt, visible) == pytest.approx(0.025)
    visible[5] = False
    assert M.mpjpe(pred, gt, visible) == pytest.approx(0.0)
    # Pelvis hidden: centroid of the visible joints aligns (joints 3 and 5, both moved by
    # centroid shift -> errors 2.5 cm each).
    visible = np.zeros(24, bool)
    visible[[3, 5]] = True
    assert M.mpjpe(pred, gt, visible) == pytest.approx(0.025)
    assert math.isnan(M.mpjpe(pred, gt, np.zeros(24, bool)))


def test_pve_of_known_offset():
    verts = _skeleton(1, 500)
    assert M.pve(verts + [0.0, 0.03, 0.04], verts) == pytest.approx(0.05)
    assert M.pve(
        verts + [0.0, 0.03, 0.04], verts, offset=np.array([0, -0.03, -0.04])
    ) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        M.pve(verts[:10], verts)


def test_2d_error_and_accel_and_mae():
    gt = np.zeros((4, 2))
    pred = gt + [3.0, 4.0]  # 5 px each
    assert M.joint2d_error_pct(pred, gt, 200.0) == pytest.approx(2.5)
    assert M.joint2d_error_pct(pred, gt, 200.0, np.array([1, 0, 0, 0], bool)) == pytest.approx(2.5)
    # Ground truth at constant velocity (no acceleration); the estimate jitters one frame.
    t = np.arange(5, dtype=float)
    gt3 = np.stack([np.c_[t, 0 * t, 0 * t]] * 2, axis=1)  # (5, 2, 3)
    pred3 = gt3.copy()
    pred3[2, :, 0] += 1.0  # accelerations in x: t=1: +1, t=2: -2, t=3: +1
    valid = np.ones((5, 2), bool)
    assert M.accel_error(pred3, gt3, valid) == pytest.approx(4 / 3)
    valid[4] = False  # t=3 needs frame 4
    assert M.accel_error(pred3, gt3, valid) == pytest.approx(1.5)
    assert M.mae(np.array([1.0, np.nan, 5.0]), np.array([2.0, 0.0, 2.0])) == pytest.approx(2.0)


def _frames(rows):
    return pd.DataFrame(
        rows, columns=["frame", "track_id", "bbox_px", *(["counted"] if len(rows[0]) > 3 else [])]
    )


def test_box_iou_and_hungarian():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10]], float)
    np.testing.assert_allclose(M.box_iou(a, b), [[50 / 150, 1.0]])
    # Greedy would give gt0 its best box (iou 0.68) and leave gt1 below threshold; Hungarian
    # maximises the total and matches both.
    gt = np.array([[0, 0, 10, 10], [4, 0, 14, 10]], float)
    pred = np.array([[3, 0, 13, 10], [0, 0, 9, 10]], float)
    pairs = M.match_boxes(gt, pred)
    assert sorted((g, p) for g, p, _ in pairs) == [(0, 1), (1, 0)]


def test_recall_precision_on_hand_made_boxes():
    box = lambda x: np.array([x, 0, x + 10, 20], float)  # noqa: E731
    gt = _frames([
        (0, 0, box(0), True), (0, 1, box(50), True),
        (1, 0, box(0), True), (1, 1, box(50), True),
        (2, 0, box(0), True), (2, 1, box(50), False),  # person 1 hidden in frame 2: ignored
    ])  # fmt: skip
    pred = _frames([
        (0, 7, box(1), None), (0, 8, box(100), None),  # hit + false positive
        (1, 7, box(0), None),  # person 1 missed
        (2, 7, box(0), None), (2, 8, box(51), None),  # hit + a box on the ignored person
    ])[["frame", "track_id", "bbox_px"]]  # fmt: skip
    matches, counts = M.match_people(gt, pred)
    assert counts["n_gt"] == 5 and counts["tp"] == 3 and counts["fn"] == 2
    assert counts["n_pred"] == 4 and counts["fp"] == 1
    assert counts["recall"] == pytest.approx(3 / 5)
    assert counts["precision"] == pytest.approx(3 / 4)
    assert len(matches) == 4 and matches["counted"].sum() == 3
    assert M.track_assignment(matches) == {7: 0, 8: 1}


def test_id_switch_counting():
    matches = pd.DataFrame(
        {
            "frame": [0, 1, 2, 3, 4, 5, 0, 1, 2, 10, 11],
            "gt_track": [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2],
            # gt 0: 5 -> 6 -> 6 -> 5 (lost in frame 3) -> 5: two switches; gt 1 steady;
            # gt 2 in another shot: 3 -> 4, one switch.
            "pred_track": [5, 6, 6, 5, 5, 5, 9, 9, 9, 3, 4],
            "shot_id": [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
        }
    ).drop(index=3)
    assert M.id_switches(matches) == {0: 2, 1: 1}


def test_event_matching_rule_and_f1():
    assert M.temporal_iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert M.event_matches((0, 2), (1, 3))  # tIoU 0.33 >= 0.3
    assert not M.event_matches((0, 2), (1.5, 5))  # tIoU 0.1, centre 1 outside
    assert M.event_matches((2, 10), (5, 7))  # tIoU 0.25 but centre 6 inside
    gt = pd.DataFrame(
        {
            "event_type": ["nod", "nod", "shake", "posture_shift"],
            "person": [0, 0, 1, 0],
            "start_s": [1.0, 6.0, 2.0, 4.0],
            "end_s": [2.0, 7.0, 3.0, 4.6],
        }
    )
    pred = pd.DataFrame(
        {
            "event_type": ["nod", "nod", "nod", "shake", "posture_shift", "posture_shift"],
            "person": [0, 0, 1, 0, 0, 0],
            "start_s": [1.1, 1.5, 6.0, 2.0, 3.5, 4.2],
            "end_s": [1.9, 1.8, 7.0, 3.0, 4.5, 5.5],
        }
    )
    s = M.event_scores(pred, gt)
    # nod: two estimates match gt 1 (many-to-one), the third is on the wrong person.
    assert (s["nod"]["tp_pred"], s["nod"]["n_pred"], s["nod"]["tp_gt"], s["nod"]["n_gt"]) == (
        2,
        3,
        1,
        2,
    )
    assert s["nod"]["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert s["shake"]["precision"] == 0 and s["shake"]["recall"] == 0 and s["shake"]["f1"] == 0
    # posture shift: (3.5, 4.5) matches (tIoU 0.5 / 1.1); (4.2, 5.5) does not (tIoU 0.4 / 1.5,
    # centre 4.85 outside 4.0..4.6): P = 1/2, R = 1, F1 = 2/3.
    assert s["posture_shift"]["f1"] == pytest.approx(2 / 3)
    pooled = M.pool_event_scores([s, s])
    assert pooled["nod"]["n_pred"] == 6 and pooled["nod"]["f1"] == pytest.approx(s["nod"]["f1"])
    # Three false events (wrong-person nod, shake, late posture shift) in 30 s -> 6 per minute.
    assert M.false_events_per_min(pred, gt, 30.0) == pytest.approx(6.0)


def test_keypoint_match_and_pck_on_hand_made_people():
    a = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], float)
    truth = np.stack([a, a + 100])  # two people 100 px apart, size 10
    visible = np.ones((2, 4), bool)
    visible[1, 3] = False
    size = np.array([10.0, 10.0])
    # prediction 0 is person 1 off by 1 px; prediction 1 is person 0 with one joint 5 px off
    near0 = a.copy()
    near0[2] += [5, 0]
    predicted = np.stack([a + 101, near0, a + 500])
    assert M.keypoint_match(truth, visible, size, predicted) == {0: 1, 1: 0}
    # 3 of 4 joints within 0.2 x 10 = 2 px -> 0.75 >= 0.5; with min_fraction 0.8 no match
    assert M.keypoint_match(truth, visible, size, predicted[1:2], min_fraction=0.8) == {}
    # PCK@0.1 (1 px): person 1's three visible joints are exactly 1.41 px off -> 0 of 3
    assert M.pck_hits(truth[1], visible[1], 10.0, predicted[0]) == (0, 3)
    assert M.pck_hits(truth[1], visible[1], 20.0, predicted[0]) == (3, 3)  # 2 px radius
    assert M.pck_hits(truth[0], visible[0], 10.0, near0) == (3, 4)
    assert M.pck_hits(truth[0], visible[0], 10.0, None) == (0, 4)
    assert M.keypoint_match(truth, visible, size, np.zeros((0, 4, 2))) == {}
