"""The joints an optimiser needs, without skinning all vertices.

Fitting only looks at joints: the 24 kinematic ones and a handful of surface keypoints (nose,
eyes, ears, toes, heels). Skinning 6890 vertices every iteration would dominate the cost, so
this module evaluates SMPL's linear-blend skinning on just those keypoint vertices, with the same
shape blend, pose blend and kinematic chain as ``smplx`` (the result equals
``BodyModel(...).joints`` on the selected joints up to float error; a test checks it).
"""

from __future__ import annotations

import torch
from smplx.lbs import batch_rigid_transform
from torch import nn

from pmrr_model.body_model import BodyModel
from pmrr_model.constants import JOINT_INDICES
from pmrr_model.geometry import axis_angle_to_rotmat

N_OPENPOSE = 25  # the first 25 of the 49 joints are the OpenPose set


class SparseJoints(nn.Module):
    """(betas, axis-angle pose) -> the first ``n_joints`` of the seed's 49 joints, body frame."""

    def __init__(self, body_model: BodyModel, n_joints: int = N_OPENPOSE) -> None:
        super().__init__()
        smpl = body_model.smpl
        wanted = torch.tensor(JOINT_INDICES[:n_joints])
        if int(wanted.max()) >= 24 + len(smpl.vertex_joint_selector.extra_joints_idxs):
            raise ValueError(
                "SparseJoints covers SMPL and vertex joints only, not J_regressor_extra"
            )
        vids = smpl.vertex_joint_selector.extra_joints_idxs.long()
        n_verts = smpl.v_template.shape[0]
        shapedirs = smpl.shapedirs.float()  # (V, 3, n_betas)
        j_reg = smpl.J_regressor.float()  # (24, V)
        self.register_buffer("j_template", j_reg @ smpl.v_template.float())
        self.register_buffer("j_shapedirs", torch.einsum("jv,vcb->jcb", j_reg, shapedirs))
        self.register_buffer("v_template", smpl.v_template.float()[vids])
        self.register_buffer("v_shapedirs", shapedirs[vids])
        posedirs = smpl.posedirs.float().reshape(-1, n_verts, 3)[:, vids]
        self.register_buffer("v_posedirs", posedirs.reshape(posedirs.shape[0], -1))
        self.register_buffer("v_weights", smpl.lbs_weights.float()[vids])
        self.register_buffer("parents", smpl.parents.long().clone())
        self.register_buffer("select", wanted)
        self.n_betas = shapedirs.shape[-1]

    def forward(
        self, betas: torch.Tensor, body_pose: torch.Tensor, global_orient: torch.Tensor
    ) -> torch.Tensor:
        """(B, 10), (B, 69), (B, 3) -> (B, n_joints, 3)."""
        batch = betas.shape[0]
        betas = betas[:, : self.n_betas]
        rot = axis_angle_to_rotmat(
            torch.cat([global_orient, body_pose], dim=1).reshape(batch, 24, 3)
        )
        joints = self.j_template + torch.einsum("jcb,nb->njc", self.j_shapedirs, betas)
        eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
        pose_feature = (rot[:, 1:] - eye).reshape(batch, -1)
        verts = self.v_template + torch.einsum("vcb,nb->nvc", self.v_shapedirs, betas)
        verts = verts + (pose_feature @ self.v_posedirs).reshape(batch, -1, 3)
        posed_joints, transforms = batch_rigid_transform(rot, joints, self.parents)
        per_vertex = torch.einsum("vj,njab->nvab", self.v_weights, transforms)
        verts = (per_vertex[..., :3, :3] @ verts[..., None]).squeeze(-1) + per_vertex[..., :3, 3]
        return torch.cat([posed_joints, verts], dim=1)[:, self.select]
