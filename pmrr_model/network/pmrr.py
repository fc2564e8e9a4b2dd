"""PMRR (= PyMAF, ICCV 2021): a ResNet-50 whose last map is upsampled into a 3-level pyramid;
each level feeds one refinement of the SMPL estimate with features sampled where the current
mesh projects. Parameter and buffer names follow the released checkpoint exactly.

The body model is passed to ``forward`` instead of being owned per regressor (the reference
keeps three identical SMPL copies in ``regressor.{i}.smpl``): one copy serves all iterations
and the network's state dict holds only learned weights and the reference's own buffers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse
import torch
from torch import nn

from pmrr_model.body_model import BodyModel
from pmrr_model.constants import GRID_SIZE, MLP_DIM, N_DOWNSAMPLED_VERTICES, N_ITER
from pmrr_model.estimators.sparse_joints import SparseJoints
from pmrr_model.geometry import project_to_crop, rot6d_to_rotmat, rotmat_to_axis_angle
from pmrr_model.network.backbone import BN_MOMENTUM, ResNet50Encoder
from pmrr_model.network.dense_head import DenseCorrespondenceHead
from pmrr_model.network.maf_extractor import MeshAlignedFeatureExtractor
from pmrr_model.network.regressor import IterativeRegressor, load_mean_params
from pmrr_model.safe_pickle import load_npz_restricted


@dataclass
class SMPLPrediction:
    """One iteration's estimate, for a batch of crops."""

    pose6d: torch.Tensor  # (B, 144)
    rotmat: torch.Tensor  # (B, 24, 3, 3)
    betas: torch.Tensor  # (B, 10)
    cam: torch.Tensor  # (B, 3) weak perspective [s, tx, ty] of the 224 crop
    vertices: torch.Tensor  # (B, V, 3)
    joints: torch.Tensor  # (B, 49, 3)
    smpl_joints: torch.Tensor  # (B, 24, 3)
    keypoints_2d: torch.Tensor  # (B, 49, 2) in [-1, 1] crop coordinates

    @property
    def axis_angle(self) -> torch.Tensor:
        """(B, 72) SMPL pose: global orient then 23 body joints."""
        return rotmat_to_axis_angle(self.rotmat).reshape(self.rotmat.shape[0], 72)


@dataclass
class PMRROutput:
    iterations: list[SMPLPrediction]  # the mean-parameter start, then one per refinement
    dense: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def final(self) -> SMPLPrediction:
        return self.iterations[-1]


def load_downsampling(path: str | Path) -> torch.Tensor:
    """``mesh_downsampling.npz`` -> Dmap = D[1] @ D[0], (431, V), read without unpickling code."""
    arrays = load_npz_restricted(path)
    if "D" not in arrays or len(arrays["D"]) < 2:
        raise ValueError(f"{path}: expected an object array 'D' of two sparse matrices")
    d0, d1 = (scipy.sparse.csr_matrix(arrays["D"][i]) for i in range(2))
    dmap = (d1 @ d0).toarray().astype(np.float32)
    if dmap.shape[0] != N_DOWNSAMPLED_VERTICES:
        raise ValueError(f"{path}: downsamples to {dmap.shape[0]} vertices, expected 431")
    return torch.from_numpy(dmap)


def make_feature_pyramid(
    in_channels: int = 2048, channels: int = 256, levels: int = 3
) -> nn.Sequential:
    """[ConvTranspose(k4, s2, p1, no bias), BN, ReLU] x levels: 7 -> 14 -> 28 -> 56."""
    layers: list[nn.Module] = []
    for _ in range(levels):
        layers += [
            nn.ConvTranspose2d(in_channels, channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True),
        ]
        in_channels = channels
    return nn.Sequential(*layers)


def make_points_grid(size: int = GRID_SIZE) -> torch.Tensor:
    """(1, 2, size^2) regular grid in [-1, 1], in the reference's ``meshgrid('ij')`` order."""
    xv, yv = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    return torch.stack([xv.reshape(-1), yv.reshape(-1)]).unsqueeze(0)


class PMRR(nn.Module):
    def __init__(
        self, mean_params: dict[str, torch.Tensor], dmap: torch.Tensor, n_iter: int = N_ITER
    ) -> None:
        super().__init__()
        self.n_iter = n_iter
        self.feature_extractor = ResNet50Encoder()
        self.deconv_layers = make_feature_pyramid(levels=n_iter)
        self.maf_extractor = nn.ModuleList(MeshAlignedFeatureExtractor(dmap) for _ in range(n_iter))
        self.register_buffer("points_grid", make_points_grid())
        grid_feat_len = GRID_SIZE * GRID_SIZE * MLP_DIM[-1]
        mesh_feat_len = dmap.shape[0] * MLP_DIM[-1]
        self.regressor = nn.ModuleList(
            IterativeRegressor(grid_feat_len if i == 0 else mesh_feat_len, mean_params)
            for i in range(n_iter)
        )
        self.dp_head = DenseCorrespondenceHead(feat_dim=256)

    def _pyramid_level(self, s_feat: torch.Tensor, level: int) -> torch.Tensor:
        return self.deconv_layers[3 * level : 3 * level + 3](s_feat)

    def _evaluate(
        self,
        body_model: BodyModel,
        pose6d: torch.Tensor,
        betas: torch.Tensor,
        cam: torch.Tensor,
        sparse: SparseJoints | None = None,
    ) -> tuple[SMPLPrediction, torch.Tensor]:
        """Run SMPL (always in fp32: skinning in bf16 loses millimetres) and project joints.
        Returns the estimate and what the next mesh-aligned features read: the mesh, or with
        ``sparse`` its points for the extractors' ``Dmap`` rows alone (:meth:`forward`), and then
        the estimate's ``vertices`` are empty, (B, 0, 3)."""
        batch = pose6d.shape[0]
        pose6d, betas, cam = pose6d.float(), betas.float(), cam.float()
        rotmat = rot6d_to_rotmat(pose6d.reshape(batch, 24, 6))
        device_type = pose6d.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            if sparse is None:
                body = body_model(betas=betas, body_pose=rotmat[:, 1:], global_orient=rotmat[:, :1])
                vertices, joints, smpl_joints = body.vertices, body.joints, body.smpl_joints
                mesh = vertices
            else:
                skinned = sparse.skin(betas, rotmat)
                vertices, joints = skinned.joints.new_zeros(batch, 0, 3), skinned.joints
                smpl_joints, mesh = skinned.kinematic, skinned.mesh
        prediction = SMPLPrediction(
            pose6d=pose6d,
            rotmat=rotmat,
            betas=betas,
            cam=cam,
            vertices=vertices,
            joints=joints,
            smpl_joints=smpl_joints,
            keypoints_2d=project_to_crop(joints, cam),
        )
        return prediction, mesh

    def mesh_map(self) -> torch.Tensor:
        """(431, V): the mesh-aligned features' ``Dmap``, for a
        :class:`~pmrr_model.estimators.sparse_joints.SparseJoints` that skins only the vertices
        they read (:meth:`forward`'s ``sparse``). Every extractor holds the same one (built from
        one ``mesh_downsampling.npz``; a checkpoint's copies load into that one tensor), so one
        map serves every level: stacking the three read each point three times, and level 0's
        copy not at all (that level samples a grid)."""
        dmap = self.maf_extractor[0].Dmap
        if any(not torch.equal(e.Dmap, dmap) for e in self.maf_extractor):
            raise ValueError("the mesh-aligned feature extractors' Dmaps differ")
        return dmap

    def forward(
        self,
        images: torch.Tensor,
        body_model: BodyModel,
        with_dense: bool = True,
        with_initial: bool = True,
        sparse: SparseJoints | None = None,
    ) -> PMRROutput:
        """``images``: (B, 3, 224, 224) ImageNet-normalised crops.

        ``with_initial=False`` leaves the initial (mean) estimate out of ``iterations`` and so
        skips its body-model evaluation, one of four: the first refinement samples a grid, not
        the mesh, so only the initial parameters are read. Inference that keeps the final
        estimate alone (:meth:`pmrr_model.inference.PMRRPredictor.predict_final`) has no use
        for it; training's losses read every iteration and keep the default.

        ``sparse`` (built with :meth:`mesh_map`; inference only): every evaluation skins just
        the vertices the mesh-aligned features read (431 of the stand-in's 13,348) and the
        joints' own, instead of the whole mesh; the estimates then carry no vertices. The body
        model was about 30 % of a GPU batch (three evaluations of 9.6 ms in a 512-crop bf16
        batch, H200 profile in the README)."""
        s_feat, _ = self.feature_extractor(images)
        batch = images.shape[0]
        params = self.regressor[0].initial(batch)
        iterations = [self._evaluate(body_model, *params, sparse)[0]] if with_initial else []
        mesh = None
        for level in range(self.n_iter):
            pose, betas, cam = (t.float().detach() for t in params)
            s_feat = self._pyramid_level(s_feat, level)
            extractor = self.maf_extractor[level]
            if level == 0:
                points = self.points_grid.expand(batch, -1, -1).transpose(1, 2)
                features = extractor.sample(s_feat, points)
            elif sparse is None:
                features = extractor(s_feat, mesh.detach().to(s_feat.dtype), cam.to(s_feat.dtype))
            else:
                points = mesh.detach().to(s_feat.dtype)  # the Dmap's points (mesh_map)
                features = extractor.sample(s_feat, project_to_crop(points, cam.to(s_feat.dtype)))
            estimate, mesh = self._evaluate(
                body_model, *self.regressor[level](features, pose, betas, cam), sparse
            )
            params = (estimate.pose6d, estimate.betas, estimate.cam)
            iterations.append(estimate)
        dense = self.dp_head(s_feat) if with_dense else {}
        return PMRROutput(iterations=iterations, dense=dense)


def build_pmrr(assets) -> PMRR:
    """The network for an :class:`AssetSet` (mean parameters and downsampling from its files)."""
    return PMRR(load_mean_params(assets.mean_params), load_downsampling(assets.mesh_downsampling))
