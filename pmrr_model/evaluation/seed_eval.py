"""The seed's evaluation protocols (PyMAF ``eval.py`` / ``eval_coco.py``, themselves SPIN's), as
pure functions of predictions and ground truth so each can be tested on known inputs.

3D (3DPW, Human3.6M protocol 2):

* Joints: the 17 H36M joints regressed from a mesh by ``J_regressor_h36m.npy``; the 14 LSP
  joints are ``H36M_TO_J14`` of them. Ground truth for H36M is the file's ``S`` in the 24-joint
  order, ``J24_TO_J14`` (already centred on the H36M pelvis by the seed's preprocessing); for
  3DPW it is regressed the same way from the ground-truth SMPL mesh.
* Pelvis: regressed H36M joint 0 of each mesh (the seed subtracts ``keypoints[:, [0]]`` before
  selecting the 14 joints); it is not one of the 14, so it is not the mid-hip of LSP joints 2/3.
* MPJPE: mean joint distance after both sides are centred on their pelvis.
* PA-MPJPE: after the similarity transform (rotation, scale, translation) that best maps the
  estimate's 14 joints onto the truth's (:func:`pmrr_model.evaluation.metrics.pa_mpjpe`).
* PVE, the seed's definition (``pve_mm``): mean vertex distance with *no* alignment at all, both
  meshes posed by SMPL in its own frame without translation (3DPW: ground truth from the gendered
  SMPL, estimate from the neutral one; H36M: the neutral model on the MoSh parameters, only when
  the file has them).
* PVE root-aligned (``pve_root_mm``): the same after translating the estimate so its pelvis
  (H36M joint 0) coincides with the truth's, the alignment the MPJPE uses.

COCO: the 49 output joints' last 24 (the seed's ground-truth joint set), ``J24_TO_JCOCO`` to the
17 COCO keypoints, projected with the crop camera (focal 5000, translation
``[tx, ty, 2 f / (224 s)]``, principal point at the crop centre), then from crop to image pixels
with the crop's centre and scale; scored by :mod:`pmrr_model.evaluation.coco_ap`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pmrr_model.assets import AssetError, AssetSet
from pmrr_model.body_model import create_smpl
from pmrr_model.constants import (
    FOCAL_LENGTH,
    H36M_TO_J14,
    IMG_RES,
    J24_TO_J14,
    J24_TO_JCOCO,
)
from pmrr_model.crop import crop_to_image
from pmrr_model.evaluation import metrics as M

logger = logging.getLogger(__name__)
H36M_PELVIS = 0
N_SEED_JOINTS = 24  # the last 24 of the network's 49 joints


# ---------------------------------------------------------------- joints


def regress_h36m(j_regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """(17, V) x (B, V, 3) -> (B, 17, 3) H36M joints."""
    return torch.einsum("jv,bvc->bjc", j_regressor.to(vertices), vertices)


def lsp14_centred(h36m17: np.ndarray) -> np.ndarray:
    """(B, 17, 3) H36M joints -> (B, 14, 3) LSP joints minus the H36M pelvis (joint 0)."""
    h36m17 = np.asarray(h36m17, dtype=np.float64)
    return h36m17[:, list(H36M_TO_J14)] - h36m17[:, [H36M_PELVIS]]


def lsp14_from_seed_joints(joints3d: np.ndarray) -> np.ndarray:
    """(B, 24, 4) the seed's ``S`` -> (B, 14, 3) (the file is already pelvis-centred)."""
    return np.asarray(joints3d, dtype=np.float64)[:, list(J24_TO_J14), :3]


def pose_errors_mm(pred14: np.ndarray, gt14: np.ndarray) -> dict[str, np.ndarray]:
    """Per sample MPJPE and PA-MPJPE in mm of pelvis-centred (B, 14, 3) joints in metres."""
    pred14 = np.asarray(pred14, dtype=np.float64)
    gt14 = np.asarray(gt14, dtype=np.float64)
    mpjpe = np.linalg.norm(pred14 - gt14, axis=-1).mean(axis=-1)
    pa = np.array([M.pa_mpjpe(p, g) for p, g in zip(pred14, gt14, strict=True)])
    return {"mpjpe_mm": 1000.0 * mpjpe, "pa_mpjpe_mm": 1000.0 * pa}


def pve_errors_mm(
    pred_vertices: np.ndarray,
    gt_vertices: np.ndarray,
    pred_pelvis: np.ndarray,
    gt_pelvis: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per sample PVE in mm, both variants: ``pve_mm`` (the seed's, unaligned) and
    ``pve_root_mm`` (estimate translated by ``gt_pelvis - pred_pelvis``)."""
    seed, root = [], []
    for pv, gv, pp, gp in zip(pred_vertices, gt_vertices, pred_pelvis, gt_pelvis, strict=True):
        pv, gv = np.asarray(pv, np.float64), np.asarray(gv, np.float64)
        seed.append(M.pve(pv, gv))
        root.append(M.pve(pv, gv, offset=np.asarray(gp, np.float64) - np.asarray(pp, np.float64)))
    return {"pve_mm": 1000.0 * np.array(seed), "pve_root_mm": 1000.0 * np.array(root)}


# ---------------------------------------------------------------- COCO projection


def coco_keypoints_px(
    joints49: np.ndarray, cam: np.ndarray, center: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """(B, 49, 3) body-frame joints + (B, 3) crop cameras -> (B, 17, 2) COCO keypoints in image
    pixels, projected as the seed's ``eval_coco.py`` does (perspective, focal 5000)."""
    joints49 = np.asarray(joints49, dtype=np.float64)
    cam = np.asarray(cam, dtype=np.float64).reshape(-1, 3)
    coco = joints49[:, -N_SEED_JOINTS:][:, list(J24_TO_JCOCO)]
    transl = np.stack(
        [cam[:, 1], cam[:, 2], 2 * FOCAL_LENGTH / (IMG_RES * cam[:, 0] + 1e-9)], axis=-1
    )
    points = coco + transl[:, None, :]
    crop_px = FOCAL_LENGTH * points[..., :2] / points[..., 2:3] + IMG_RES / 2.0
    return np.stack(
        [crop_to_image(crop_px[i], center[i], float(scale[i])) for i in range(len(crop_px))]
    )


# ---------------------------------------------------------------- ground-truth bodies


@dataclass
class GroundTruthBodies:
    """SMPL models for ground-truth meshes: neutral, and male/female for 3DPW as the seed uses
    (``SMPL_MALE.pkl`` / ``SMPL_FEMALE.pkl`` next to the neutral file or in ``<data>/smpl``).
    Without them the neutral model stands in for both, and :attr:`description` says so."""

    neutral: torch.nn.Module
    male: torch.nn.Module
    female: torch.nn.Module
    description: str

    @classmethod
    def load(
        cls, assets: AssetSet, extra_dirs: tuple[Path, ...] = (), device: str = "cpu"
    ) -> GroundTruthBodies:
        dirs = [assets.smpl_dir, *(Path(d) for d in extra_dirs)]
        neutral = create_smpl(assets.smpl_dir / "SMPL_NEUTRAL.pkl", "neutral", assets)
        found = {}
        for gender in ("male", "female"):
            name = f"SMPL_{gender.upper()}.pkl"
            path = next((d / name for d in dirs if (d / name).is_file()), None)
            if path is not None:
                model = create_smpl(path, gender, assets)
                if model.v_template.shape != neutral.v_template.shape:
                    raise AssetError(
                        f"{path}: {model.v_template.shape[0]} vertices, the neutral model "
                        f"({assets.describe()}) has {neutral.v_template.shape[0]}"
                    )
                found[gender] = (path, model)
        if len(found) == 2:
            description = "gendered: " + ", ".join(str(p) for p, _ in found.values())
            male, female = found["male"][1], found["female"][1]
        else:
            description = (
                f"neutral for every gender (fallback: SMPL_MALE.pkl/SMPL_FEMALE.pkl not found in "
                f"{[str(d) for d in dirs]}); 3DPW numbers are then not the seed's"
            )
            logger.warning("ground-truth bodies: %s", description)
            male = female = neutral
        return cls(
            neutral.to(device).eval(), male.to(device).eval(), female.to(device).eval(), description
        )

    @classmethod
    def own(cls, assets: AssetSet, device: str = "cpu") -> GroundTruthBodies:
        """The neutral model of ``assets`` for everyone: a set generated with that very body
        (``pmrr train --make-synthetic``) has no other ground truth."""
        neutral = (
            create_smpl(assets.smpl_dir / "SMPL_NEUTRAL.pkl", "neutral", assets).to(device).eval()
        )
        return cls(neutral, neutral, neutral, f"the set's own body model ({assets.describe()})")

    @torch.no_grad()
    def vertices(
        self, pose: torch.Tensor, betas: torch.Tensor, gender: torch.Tensor | None
    ) -> torch.Tensor:
        """(B, 72) axis-angle + (B, 10) betas -> (B, V, 3); ``gender`` (B,) 0 male / 1 female,
        None for the neutral model (H36M MoSh)."""

        def run(model: torch.nn.Module) -> torch.Tensor:
            return model(
                betas=betas, body_pose=pose[:, 3:], global_orient=pose[:, :3], pose2rot=True
            ).vertices

        if gender is None:
            return run(self.neutral)
        verts = run(self.male)
        female = gender == 1
        if female.any():
            verts = torch.where(female[:, None, None], run(self.female), verts)
        return verts
