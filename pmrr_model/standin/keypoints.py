"""Vertex keypoints smplx reads off the mesh (face, feet, fingertips) on the stand-in topology.

smplx's ``VertexJointSelector`` appends 21 vertices to SMPL's 24 joints; their indices are
topology-specific, so real SMPL's table cannot be reused. Face and foot points come from anny's
own COCO keypoint regressors; fingertips are the most distal vertex of each last phalanx.
"""

from __future__ import annotations

import numpy as np

from pmrr_model.standin.anny_source import AnnyBody

# smplx key -> anny COCO keypoint label (COCO's left/right are the subject's, as in SMPL).
COCO_KEYPOINTS = {
    "nose": "nose",
    "reye": "right_eye",
    "leye": "left_eye",
    "rear": "right_ear",
    "lear": "left_ear",
    "LBigToe": "left_big_toe",
    "LSmallToe": "left_small_toe",
    "LHeel": "left_heel",
    "RBigToe": "right_big_toe",
    "RSmallToe": "right_small_toe",
    "RHeel": "right_heel",
}
FINGERS = ("thumb", "index", "middle", "ring", "pinky")  # anny finger1 .. finger5
KEY_ORDER = (
    "nose", "reye", "leye", "rear", "lear", "LBigToe", "LSmallToe", "LHeel", "RBigToe",
    "RSmallToe", "RHeel", "lthumb", "lindex", "lmiddle", "lring", "lpinky", "rthumb",
    "rindex", "rmiddle", "rring", "rpinky",
)  # fmt: skip


def coco_vertex(weights: np.ndarray, base_template: np.ndarray, base_index: np.ndarray) -> int:
    """Our vertex nearest the regressed COCO point, among the vertices the regressor uses
    (eyeballs are not in our mesh, so an eye lands on its eyelid rim)."""
    point = weights @ base_template
    ours = base_template[base_index]
    used = np.flatnonzero(weights[base_index] > 0)
    pool = used if len(used) else np.arange(len(base_index))
    return int(pool[np.argmin(np.linalg.norm(ours[pool] - point, axis=1))])


def fingertip_vertex(
    body: AnnyBody, template: np.ndarray, heads: np.ndarray, tails: np.ndarray, label: str
) -> int:
    """Most distal vertex (along the bone) among those mostly skinned to phalanx ``label``."""
    bone = body.bone(label)
    direction = tails[bone] - heads[bone]
    pool = np.flatnonzero(body.weights[:, bone] > 0.5)
    return int(pool[np.argmax(template[pool] @ direction)])


def vertex_ids(
    body: AnnyBody,
    template: np.ndarray,
    heads: np.ndarray,
    tails: np.ndarray,
    coco: dict[str, np.ndarray],
    base_template: np.ndarray,
) -> dict[str, int]:
    """smplx ``vertex_ids`` (flat dict, SMPL-H key names) for the stand-in mesh."""
    ids = {
        key: coco_vertex(coco[label], base_template, body.base_mesh_vertex_indices)
        for key, label in COCO_KEYPOINTS.items()
    }
    for side, prefix in (("L", "l"), ("R", "r")):
        for number, finger in enumerate(FINGERS, start=1):
            label = f"finger{number}-3.{side}"
            ids[prefix + finger] = fingertip_vertex(body, template, heads, tails, label)
    return {key: ids[key] for key in KEY_ORDER}
