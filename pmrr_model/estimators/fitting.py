"""Batched SMPL fitting to landmark targets (SMPLify-style, with MediaPipe's 3D directions).

A landmark is "seen" (a target) when MediaPipe's two passes (direct and left-right flipped, the
mirror consensus of :mod:`pmrr_model.detection.landmarks`) agree on it with visibility >= 0.5 and
it lies inside the frame and the person's box (:func:`landmark_targets.build_targets`); everything
else is held by the priors below.

Energy per person, all terms normalised so the weights read as "how much one unit matters":
- 2D: Geman-McClure robust reprojection error of the OpenPose-block joints, in units of the
  person's box height, through the full-image pinhole camera (so position and size in the frame
  fix the translation; no crop camera is involved).
- bones: squared difference of unit bone directions to MediaPipe's world-landmark directions
  (these carry depth: which way a forearm points towards the camera, which 2D alone cannot tell).
- pose prior: L2 on the body pose's difference to the start pose (arms lowered, not SMPL's
  T-pose: an arm whose elbow and wrist are out of the frame, as in every chest-up interview
  shot, is only held by this prior and was raised to the horizontal by an L2 towards zero),
  stronger on joints no landmark observes: always the spine, neck, head, collars, hands and
  feet, and per person each limb joint whose distal landmark is not usable (a shoulder without
  its elbow, an elbow without its wrist, a hip without its knee, ...). Without that a limb out
  of the frame had only the weak limb prior, and Adam, whose steps have about the learning
  rate whatever the gradient, swung it around by up to ~0.1 rad per frame: out-of-frame wrists
  "moved" at up to 1.8 m/s and a man talking on a phone got 180 gesture strokes a minute.
  Hinge limits so elbows and knees only bend the anatomical way, and L2 on the two non-hinge
  axes of those joints.
- upright prior: squared distance of the trunk direction (pelvis -> neck) to the body model's
  zero-pose trunk direction in the gravity-aligned body frame (camera -y up, heading from hips
  and shoulders; the frame of ``analytics.body_frame``), weighted by how *unseen* the hips are.
  With the hips out of the frame (every chest-up interview shot) trunk lean is unobservable:
  leaning forward and flexing the head over an upright trunk project the same. The fit then
  took whatever MediaPipe guessed for the invisible hips, and mirrored copies of one clip read
  +33.5 vs -11.8 degrees of forward lean (head pitch -31.7 vs +12.8, the same head split
  differently between trunk and neck). With no evidence the trunk now reads upright (seated
  interviewees mostly are); visible hips (2D and MediaPipe's 3D hip -> shoulder direction)
  decide the lean.
- head: squared Frobenius distance of the head's global rotation (pelvis -> spine1-3 -> neck ->
  head) to Face Mesh's head orientation (:mod:`pmrr_model.detection.face_pose`) when a face was
  seen. Pose's five face points barely move in a nod at interview distances (the fit followed
  about 2 of 10 degrees on the synthetic medium shot); Face Mesh's 3D face follows it.
- shank prior: squared distance of each lower leg's direction (knee -> ankle) to the camera's down,
  weighted by how *seen* the knee and how *unseen* the ankle is. A seated person framed above the
  ankles (every medium interview shot) had their knees held straight by the pose prior: thighs
  towards the camera, which MediaPipe sees, and the shins carried on in the same line, out towards
  the camera, 0.3-0.6 m off (synthetic benchmark, PA-MPJPE 128 mm on such a shot). Hanging down is
  where a lower leg is when one cannot see it, standing or seated. The pose prior then leaves that
  knee's bend to it (the two pulled against each other), and the cold start bends it so.
- hand: squared distance of each wrist -> hand-joint direction to MediaPipe's wrist -> knuckles
  direction (:data:`landmark_targets.HAND_KNUCKLES`), weighted by the landmarks' usability. The
  49 joints stop at the wrists, so nothing else turns a wrist; every hand stayed in its
  forearm's line, and on the synthetic benchmark hands were the worst joints (up to 0.3 m after
  Procrustes). A hand pointing at the camera also tells the forearm's depth.
- shape prior: L2 on betas.
- temporal (only with :class:`TemporalLinks`, when a window of frames of tracked people is fitted
  as one batch): squared differences of each person's parameters to their previous frame's, and
  for the window's first frame to the solution the previous window ended with. Fitting every frame
  of a window in one batch costs about what one frame costs (the step's time is overhead, not
  arithmetic: 13 ms for 2 people, 17 ms for 64 on this project's CPU), where fitting the frames one
  after another, each warm-started from the last, cost one schedule per frame; the links give the
  batch the frame-to-frame continuity the chained warm starts gave.
Adam on (global orient, body pose, betas, translation), batched over people; a warm start from
the previous frame's solution needs a fraction of the cold iterations.

**Precision**: float64 (:data:`FIT_DTYPE`). The fit is chaotic where a person is barely
observed: two runs that differ in the last bit of float32 agree to 1e-6 for 40 Adam steps and
then part (0.33 rad of pose by step 80, on ``Megamind.avi``'s man at a table, whom Pose saw
with 11 joints and then none). A batch's rows do not round alike wherever they sit in it, so
a person's fit depended on who else was in the batch: dropping another row moved his first
frame by 0.30 m and switched a head shake on (``docs/MEASUREMENTS.md``, "One head, one
person"). In float64 the same two batches differ by 0.1 mm and 1e-4 rad after the 120 cold
steps. The step's cost is overhead, not arithmetic, so the wider type costs about as much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pmrr_model.body_model import BodyModel
from pmrr_model.constants import SMPL_HEAD_CHAIN
from pmrr_model.estimators.landmark_targets import BONE_FROM_J, BONE_TO_J, FitTargets
from pmrr_model.estimators.sparse_joints import N_OPENPOSE, SparseJoints
from pmrr_model.geometry import axis_angle_to_rotmat, rotmat_to_axis_angle, smallest_rotation

#: The fit's arithmetic (module docstring, "Precision").
FIT_DTYPE = torch.float64
SMPL_HEAD = SMPL_HEAD_CHAIN[-1]  # the head joint: its global rotation is the head term's


@dataclass
class FitWeights:
    reprojection: float = 50.0
    bones: float = 1.0
    pose: float = 0.002
    pose_unobserved: float = 0.05
    hinge: float = 1.0
    betas: float = 0.005
    robust_sigma: float = 0.1  # box heights
    upright: float = 20.0  # trunk-direction prior at fully unseen hips (0 when both are seen)
    head: float = 5.0  # head rotation to Face Mesh's (per unit of squared Frobenius distance)
    #: lower leg towards the camera's down (per unit^2 of unit-direction difference), in
    #: proportion to how seen its knee and how unseen its ankle is
    shank_down: float = 10.0
    #: wrist -> hand joint towards MediaPipe's wrist -> knuckles direction (per unit^2 of
    #: unit-direction difference, times the landmarks' usability)
    hand: float = 1.0
    temporal_pose: float = 8.0  # per rad^2 of change of a rotation to the previous frame's
    temporal_transl: float = 200.0  # per m^2 of change of the translation
    temporal_betas: float = 10.0  # per unit^2 of change of the shape (one person, one shape)


@dataclass
class FitParams:
    """SMPL parameters of N people, numpy (camera frame)."""

    global_orient: np.ndarray  # (N, 3)
    body_pose: np.ndarray  # (N, 69)
    betas: np.ndarray  # (N, 10)
    transl: np.ndarray  # (N, 3)

    def row(self, i: int) -> FitParams:
        return FitParams(*(a[i : i + 1].copy() for a in self.as_tuple()))

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        return self.global_orient, self.body_pose, self.betas, self.transl

    @staticmethod
    def stack(rows: list[FitParams]) -> FitParams:
        return FitParams(
            *(np.concatenate(parts) for parts in zip(*(r.as_tuple() for r in rows), strict=True))
        )


@dataclass
class TemporalLinks:
    """Which rows of a batch are consecutive frames of one person (see the module docstring).

    ``row[k]`` follows ``prev[k]`` (both rows of the batch); ``anchored[k]`` follows the fixed
    solution ``anchor.row(k)`` (the person's last solution before this batch)."""

    row: np.ndarray  # (L,) int
    prev: np.ndarray  # (L,) int
    anchored: np.ndarray  # (A,) int
    anchor: FitParams | None  # (A,) rows, None when A == 0

    @staticmethod
    def of(track_ids: np.ndarray, before: dict[int, FitParams] | None = None) -> TemporalLinks:
        """Links of a batch whose rows are in frame order: each row follows the last earlier
        row of its track, or ``before[track]`` when the track has no earlier row."""
        last: dict[int, int] = {}
        row, prev, anchored, anchors = [], [], [], []
        for i, tid in enumerate(int(t) for t in track_ids):
            if tid in last:
                row.append(i)
                prev.append(last[tid])
            elif before is not None and tid in before:
                anchored.append(i)
                anchors.append(before[tid])
            last[tid] = i
        as_int = lambda v: np.asarray(v, np.int64)  # noqa: E731
        anchor = FitParams.stack(anchors) if anchors else None
        return TemporalLinks(as_int(row), as_int(prev), as_int(anchored), anchor)


# SMPL joint numbers (body_pose row = joint - 1) of joints no MediaPipe landmark pins down.
UNOBSERVED = (3, 6, 9, 12, 13, 14, 15, 22, 23)  # spine1-3, neck, collars, head, hands
HINGES = {  # joint: (bending axis, sign of allowed bend); SMPL's elbows bend about y, knees about x
    4: (0, 1.0), 5: (0, 1.0), 18: (1, -1.0), 19: (1, 1.0),
}  # fmt: skip


# Limbs the cold start poses from MediaPipe's 3D bone directions: (ball joint, hinge joint (SMPL
# numbers), OpenPose-block indices of the two, the upper and lower bones' indices in
# landmark_targets.BONES). The hinge's axis and sign are HINGES'.
LIMB_STARTS = (
    (1, 4, (12, 13), (4, 5)), (2, 5, (9, 10), (6, 7)),  # hips, knees
    (16, 18, (5, 6), (0, 1)), (17, 19, (2, 3), (2, 3)),  # shoulders, elbows
)  # fmt: skip
SMPL_KNEES = (4, 5)
CAMERA_DOWN = np.array([0.0, 1.0, 0.0])  # camera frame: x right, y down, z away
LIMB_START_MIN_WEIGHT = 0.5  # bone weight (the two passes' visibility) needed to use a bone

# Limb joints observed through their distal landmark: SMPL joint -> OpenPose-block index (or
# indices, best one counts) whose 2D target pins its rotation down.
LIMB_OBSERVED_BY = {
    16: (6,), 17: (3,),  # shoulders: elbows
    18: (7,), 19: (4,),  # elbows: wrists
    1: (13,), 2: (10,),  # hips: knees
    4: (14,), 5: (11,),  # knees: ankles
    7: (19, 21), 8: (22, 24),  # ankles: big toe, heel
}  # fmt: skip
# OpenPose-block indices of the joints the upright prior uses.
OP_NECK, OP_MIDHIP, OP_RSHOULDER, OP_LSHOULDER, OP_RHIP, OP_LHIP = 1, 8, 2, 5, 9, 12
OP_WRISTS = (7, 4)  # left, right (the order of SparseJoints' hand joints)
#: (knee, ankle) of the left and right leg (SMPL_KNEES' order), OpenPose block: the lower legs
#: the shank prior holds
OP_SHANKS = ((13, 14), (10, 11))


def observed_fraction(weights2d: torch.Tensor, idx: tuple[int, ...]) -> torch.Tensor:
    """(N, 25) 2D target weights -> (N,) how well any of the ``idx`` joints is seen (0..1): its
    landmark visibility when usable (limb and hip targets have joint weight 1), else 0."""
    return weights2d[:, list(idx)].amax(dim=1).clamp(0.0, 1.0)


def person_pose_weights(base: torch.Tensor, weights2d: torch.Tensor, w: FitWeights) -> torch.Tensor:
    """(69,) static pose-prior weights -> (N, 69): limb joints whose distal landmark is unseen
    get the unobserved weight on all three axes (in proportion to how unseen)."""
    out = base.expand(weights2d.shape[0], 69).clone()
    for joint, idx in LIMB_OBSERVED_BY.items():
        seen = observed_fraction(weights2d, idx)[:, None]
        cols = slice((joint - 1) * 3, joint * 3)
        held = torch.maximum(out[:, cols], torch.full_like(out[:, cols], w.pose_unobserved))
        out[:, cols] = seen * out[:, cols] + (1.0 - seen) * held
    return out


def upright_frame(joints: torch.Tensor) -> torch.Tensor:
    """(N, 25, 3) camera-frame joints -> (N, 3, 3) gravity-aligned body frame, axes as columns:
    X = subject's left (hip + shoulder lines, horizontal), Y = up (camera -y), Z = X x Y
    (facing). The same construction as ``analytics.body_frame.body_frame``; reflecting the
    image (x -> -x) and swapping left/right labels reflects it (X -> -MX, Z -> MZ)."""
    lateral = (joints[:, OP_LHIP] - joints[:, OP_RHIP]) + (
        joints[:, OP_LSHOULDER] - joints[:, OP_RSHOULDER]
    )
    up = torch.tensor([0.0, -1.0, 0.0], dtype=joints.dtype).expand_as(lateral)
    x = lateral - (lateral * up).sum(-1, keepdim=True) * up
    x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    z = torch.cross(x, up, dim=-1)
    return torch.stack([x, up, z], dim=-1)


def _pose_weights(w: FitWeights) -> torch.Tensor:
    weights = torch.full((23, 3), w.pose, dtype=FIT_DTYPE)
    for joint in UNOBSERVED:
        weights[joint - 1] = w.pose_unobserved
    for joint, (axis, _) in HINGES.items():
        weights[joint - 1] = w.pose_unobserved
        weights[joint - 1, axis] = w.pose
    return weights.reshape(69)


def upright_heading(left_minus_right: np.ndarray) -> np.ndarray:
    """Global rotation of an upright body (body-model y up -> camera -y) whose shoulder line
    points along the horizontal part of ``left_minus_right`` (camera frame)."""
    lx, lz = float(left_minus_right[0]), float(left_minus_right[2])
    theta = np.arctan2(-lz, lx) if abs(lx) + abs(lz) > 1e-9 else 0.0
    c, s = np.cos(theta), np.sin(theta)
    yaw = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])  # about camera y
    return yaw @ np.diag([1.0, -1.0, -1.0])


def kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation R minimising |R source_i - target_i| over centred point sets (N, 3)."""
    a = source - source.mean(0)
    b = target - target.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


class LandmarkFitter:
    """Fits :class:`FitParams` to :class:`FitTargets` for a batch of people."""

    def __init__(
        self,
        body_model: BodyModel,
        start_body_pose: np.ndarray,
        weights: FitWeights | None = None,
        lr: float = 0.05,
    ) -> None:
        # the OpenPose block and SMPL's two hand joints, without skinning every vertex
        self.joints_fn = SparseJoints(body_model, hands=True).to(FIT_DTYPE)
        self.start_body_pose = np.asarray(start_body_pose, np.float64).reshape(69)
        self.w = weights or FitWeights()
        self.lr = lr
        self.pose_weights = _pose_weights(self.w)
        self.prior_pose = torch.tensor(self.start_body_pose, dtype=FIT_DTYPE)
        self.bone_from = torch.tensor(BONE_FROM_J, dtype=FIT_DTYPE)
        self.bone_to = torch.tensor(BONE_TO_J, dtype=FIT_DTYPE)
        with torch.no_grad():  # zero pose: the trunk direction that reads as upright
            rest = self.joints(*(torch.zeros(1, n, dtype=FIT_DTYPE) for n in (10, 69, 3)))[0][0]
        trunk = rest[OP_NECK] - rest[OP_MIDHIP]  # body-model frame: x left, y up, z facing
        self.rest_trunk = trunk / trunk.norm()
        self.rest_joints = rest.double().numpy()

    def joints(
        self, betas: torch.Tensor, pose: torch.Tensor, orient: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, 25, 3) OpenPose-block joints, (N, 2, 3) SMPL's left and right hand joints and
        (N, 24, 3, 3) every kinematic joint's global rotation."""
        out, rotations = self.joints_fn.posed(betas, pose, orient)
        return out[:, :N_OPENPOSE], out[:, N_OPENPOSE:], rotations

    # ---- start values -------------------------------------------------------------------
    def initial(
        self,
        targets: list[FitTargets],
        boxes: np.ndarray,
        focal_px: float,
        image_size_hw: tuple[int, int],
    ) -> FitParams:
        """Cold start: mean pose, torso orientation from MediaPipe's 3D torso (Kabsch), scale and
        position from a weak-perspective least-squares fit of the joints to the 2D targets."""
        n = len(targets)
        body_pose = np.tile(self.start_body_pose, (n, 1))
        betas = np.zeros((n, 10))
        with torch.no_grad():
            rest = self.joints(
                torch.zeros(n, 10, dtype=FIT_DTYPE),
                torch.tensor(body_pose, dtype=FIT_DTYPE),
                torch.zeros(n, 3, dtype=FIT_DTYPE),
            )[0].numpy()
        # left/right shoulder, left/right hip on the OP block
        torso_idx = [5, 2, 12, 9]
        orient = np.zeros((n, 3))
        transl = np.zeros((n, 3))
        height, width = image_size_hw
        c = np.array([width / 2.0, height / 2.0])
        for i, t in enumerate(targets):
            hips_seen = bool(t.seen2d[OP_LHIP] and t.seen2d[OP_RHIP])
            if t.confidence > 0 and hips_seen:
                rot = kabsch(rest[i, torso_idx], t.torso_world)
            elif (
                t.confidence > 0
            ):  # hips unseen (MediaPipe guesses them): upright, shoulders' heading
                rot = upright_heading(t.torso_world[0] - t.torso_world[1])
            else:  # nobody to fit: upright and facing the camera (180 degrees about x)
                rot = np.diag([1.0, -1.0, -1.0])
            orient[i] = rotmat_to_axis_angle(rot)
            if t.confidence > 0:
                self._limb_start(body_pose[i], rot, t)
            joints = rest[i] @ rot.T
            w = t.weights2d
            box_h = max(boxes[i, 3] - boxes[i, 1], 1.0)
            if (w > 0).sum() >= 3:
                s, offset = _weak_perspective_fit(joints[:, :2], t.joints2d_px, w)
            else:  # assume the box holds a 1.7 m body
                s = box_h / 1.7
                offset = (boxes[i, :2] + boxes[i, 2:]) / 2 - s * joints[:, :2].mean(0)
            s = max(s, 1e-3)
            transl[i, 2] = focal_px / s
            transl[i, :2] = (offset - c) / s
        return FitParams(orient, body_pose, betas, transl)

    def _limb_start(self, body_pose: np.ndarray, orient: np.ndarray, t: FitTargets) -> None:
        """Pose each limb MediaPipe sees in 3D along its bone directions, in place: the ball joint
        by the smallest rotation taking its rest bone onto the seen upper bone, the hinge by the
        angle between the two seen bones (a bone counts at weight >= LIMB_START_MIN_WEIGHT); a
        knee whose lower leg is unseen bends so that it hangs down, as the shank prior holds it
        (from a straight knee that prior swung the seen thigh down instead).

        Why: from the straight start a seated person's thigh, which points at the camera and
        projects short, fell into its 2D mirror image (swung out sideways and back) for one leg
        in two on the synthetic seated scenes (340 mm knee error after Procrustes) although
        MediaPipe's 3D had it forward; the fit cannot climb out of that valley, so it must start
        on the right side. The spine and collars start at zero, so a limb's parent frame is the
        global orientation."""
        rest = self.rest_joints
        for ball, hinge, (a, b), (bone1, bone2) in LIMB_STARTS:
            if t.bone_weights[bone1] < LIMB_START_MIN_WEIGHT:
                continue
            upper = t.bone_dirs[bone1]
            local = orient.T @ upper  # the seen upper bone in the parent (pelvis) frame
            body_pose[(ball - 1) * 3 : ball * 3] = smallest_rotation(rest[b] - rest[a], local)
            if t.bone_weights[bone2] >= LIMB_START_MIN_WEIGHT:
                lower = t.bone_dirs[bone2]
            elif hinge in SMPL_KNEES:  # an unseen lower leg starts hanging down (shank prior)
                lower = CAMERA_DOWN
            else:
                continue
            axis, sign = HINGES[hinge]
            angle = np.arccos(np.clip(np.dot(upper, lower), -1.0, 1.0))
            body_pose[(hinge - 1) * 3 : hinge * 3] = 0.0
            body_pose[(hinge - 1) * 3 + axis] = sign * angle

    # ---- optimisation -------------------------------------------------------------------
    def fit(
        self,
        start: FitParams,
        targets: list[FitTargets],
        boxes: np.ndarray,
        focal_px: float,
        image_size_hw: tuple[int, int],
        iterations: int,
        lr: float | None = None,
        links: TemporalLinks | None = None,
    ) -> FitParams:
        """``iterations`` Adam steps from ``start``; ``lr`` overrides the fitter's rate; ``links``
        adds the temporal term between consecutive frames of one person."""
        as_tensor = lambda a: torch.tensor(np.asarray(a), dtype=FIT_DTYPE)  # noqa: E731
        params = [as_tensor(a).requires_grad_(True) for a in start.as_tuple()]
        orient, pose, betas, transl = params
        tgt2d = as_tensor(np.stack([t.joints2d_px for t in targets]))
        w2d = as_tensor(np.stack([t.weights2d for t in targets]))
        dirs = as_tensor(np.stack([t.bone_dirs for t in targets]))
        wb = as_tensor(np.stack([t.bone_weights for t in targets]))
        head_rot = as_tensor(np.stack([t.head_rotation for t in targets]))
        w_head = self.w.head * as_tensor([t.head_weight for t in targets])
        hand_dirs = as_tensor(np.stack([t.hand_dirs for t in targets]))
        w_hand = as_tensor(np.stack([t.hand_weights for t in targets]))
        box_h = as_tensor(np.maximum(boxes[:, 3] - boxes[:, 1], 1.0))[:, None, None]
        height, width = image_size_hw
        center = torch.tensor([width / 2.0, height / 2.0], dtype=FIT_DTYPE)
        sigma2 = self.w.robust_sigma**2
        hinge_idx = [(j - 1) * 3 + axis for j, (axis, _) in HINGES.items()]
        hinge_sign = torch.tensor([sign for _, sign in HINGES.values()], dtype=FIT_DTYPE)
        pose_w = person_pose_weights(self.pose_weights, w2d, self.w)
        hips_seen = observed_fraction(w2d, (OP_LHIP,)) + observed_fraction(w2d, (OP_RHIP,))
        w_upright = self.w.upright * (1.0 - 0.5 * hips_seen)
        knees, ankles = ([leg[k] for leg in OP_SHANKS] for k in (0, 1))
        w_shank = self.w.shank_down * torch.stack(
            [
                observed_fraction(w2d, (k,)) * (1.0 - observed_fraction(w2d, (a,)))
                for k, a in OP_SHANKS
            ],
            dim=1,
        )  # (N, 2): knee seen, ankle not
        down = torch.tensor(CAMERA_DOWN, dtype=FIT_DTYPE)
        for k, knee in enumerate(SMPL_KNEES):  # an unseen lower leg's bend is the shank prior's
            flex = (knee - 1) * 3 + HINGES[knee][0]
            pose_w[:, flex] = pose_w[:, flex] * (1.0 - w_shank[:, k] / max(self.w.shank_down, 1e-9))
        temporal = self._temporal_term(links)
        optimiser = torch.optim.Adam(params, lr=self.lr if lr is None else lr)
        for _ in range(iterations):
            optimiser.zero_grad(set_to_none=True)
            joints, hands, rotations = self.joints(betas, pose, orient)
            cam_pts = joints + transl[:, None]
            proj = focal_px * cam_pts[..., :2] / cam_pts[..., 2:].clamp_min(1e-3) + center
            r2 = (((proj - tgt2d) / box_h) ** 2).sum(-1)
            robust = r2 * sigma2 / (r2 + sigma2) / sigma2
            loss_2d = (w2d * robust).sum(1) / w2d.sum(1).clamp_min(1e-6)
            bones = self.bone_to @ joints - self.bone_from @ joints
            bones = bones / bones.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            loss_b = (wb * ((bones - dirs) ** 2).sum(-1)).sum(1) / wb.sum(1).clamp_min(1e-6)
            loss_pose = (pose_w * (pose - self.prior_pose) ** 2).sum(1)
            trunk = joints[:, OP_NECK] - joints[:, OP_MIDHIP]
            trunk = trunk / trunk.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            upright = upright_frame(joints.detach()) @ self.rest_trunk
            loss_upright = ((trunk - upright) ** 2).sum(-1)
            shank = joints[:, ankles] - joints[:, knees]
            shank = shank / shank.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            loss_shank = (w_shank * ((shank - down) ** 2).sum(-1)).sum(1)
            loss_hinge = torch.relu(-hinge_sign * pose[:, hinge_idx]).pow(2).sum(1)
            loss_betas = (betas**2).sum(1)
            loss_head = ((rotations[:, SMPL_HEAD] - head_rot) ** 2).sum((1, 2))
            hand = hands - joints[:, list(OP_WRISTS)]  # wrist -> hand joint
            hand = hand / hand.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            loss_hand = (w_hand * ((hand - hand_dirs) ** 2).sum(-1)).sum(1)
            loss = (
                self.w.reprojection * loss_2d
                + self.w.bones * loss_b
                + loss_pose
                + self.w.hinge * loss_hinge
                + self.w.betas * loss_betas
                + w_upright * loss_upright
                + w_head * loss_head
                + loss_shank
                + self.w.hand * loss_hand
            ).sum()
            if temporal is not None:
                loss = loss + temporal(rotations[:, 0], pose, betas, transl)
            loss.backward()
            optimiser.step()
        return FitParams(*(p.detach().double().numpy() for p in params))

    def _temporal_term(self, links: TemporalLinks | None):
        """``(orient as rotation matrices, pose, betas, transl) -> scalar``: the temporal energy
        of the links (None without links). The global orientation is compared as rotation
        matrices: people facing the camera sit near 180 degrees, where one rotation has two
        axis-angle vectors far apart (cold starts of neighbouring frames may take either);
        body-pose rotations stay far from it."""
        if links is None or len(links.row) + len(links.anchored) == 0:
            return None
        w = self.w
        weights = (w.temporal_pose, w.temporal_pose, w.temporal_betas, w.temporal_transl)
        row, prev = torch.as_tensor(links.row), torch.as_tensor(links.prev)
        anchored = torch.as_tensor(links.anchored)
        anchor = None
        if links.anchor is not None:
            anchor = [torch.tensor(a, dtype=FIT_DTYPE) for a in links.anchor.as_tuple()]
            anchor[0] = axis_angle_to_rotmat(anchor[0])

        def energy(*values: torch.Tensor) -> torch.Tensor:
            total = values[0].new_zeros(())
            for k, (v, weight) in enumerate(zip(values, weights, strict=True)):
                total = total + (weight * (v[row] - v[prev]) ** 2).sum()
                if anchor is not None:
                    total = total + (weight * (v[anchored] - anchor[k]) ** 2).sum()
            return total

        return energy


def _weak_perspective_fit(
    points: np.ndarray, target: np.ndarray, weights: np.ndarray
) -> tuple[float, np.ndarray]:
    """Weighted least squares for ``target ~ s * points + offset`` (scale s, 2D offset)."""
    w = weights / weights.sum()
    pm = (w[:, None] * points).sum(0)
    tm = (w[:, None] * target).sum(0)
    p = points - pm
    q = target - tm
    s = float((w[:, None] * p * q).sum() / max((w[:, None] * p * p).sum(), 1e-9))
    return s, tm - s * pm
