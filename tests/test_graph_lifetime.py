"""MediaPipe graphs are freed with the detector or estimator that made them.

A MediaPipe solution hands its C++ graph a callback that refers back to the solution, so one
dropped without ``close()`` is never collected (``pmrr_model.detection.graph_pair.close_with``).
Before the fix every detector and estimator built and dropped kept about 750 MB, and a test
worker grew past the 24 GB machine."""

from __future__ import annotations

import gc

import numpy as np

from pmrr_model.detection import create_detector
from pmrr_model.detection.hands import HandFollower
from pmrr_model.estimators.factory import create_estimator


def _live_graphs() -> int:
    from mediapipe.python.solution_base import SolutionBase

    gc.collect()
    return sum(issubclass(type(o), SolutionBase) for o in gc.get_objects())


def test_dropped_detector_estimator_and_hands_leave_no_graph_behind():
    before = _live_graphs()
    frame = np.zeros((360, 640, 3), np.uint8)
    detector = create_detector("mediapipe")
    detector.detect(frame)
    estimator = create_estimator("landmark-fit")
    hands = HandFollower()
    hands.centres(frame, np.array([[0.0, 0.0, 640.0, 360.0]]), 500.0)
    assert _live_graphs() >= before + 3
    del detector, estimator, hands
    assert _live_graphs() == before


def test_hand_tracker_closed_on_reset_and_then_remade():
    frame = np.zeros((360, 640, 3), np.uint8)
    hands = HandFollower()
    hands.centres(frame, np.zeros((0, 4)), 500.0)
    first = hands._tracker
    hands.reset()
    assert first._graph is None  # closed, not left running
    hands.reset()  # a second reset closes nothing twice
    hands.centres(frame, np.zeros((0, 4)), 500.0)
    assert hands._tracker is not None and hands._tracker._graph is not None
