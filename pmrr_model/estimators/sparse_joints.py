"""The joints an optimiser (or a table) needs, without skinning all vertices.

Fitting only looks at joints: the 24 kinematic ones and a handful of surface keypoints (nose,
eyes, ears, toes, heels); the pipeline's ``smpl`` table keeps all 49 joints and no vertices.
Skinning every vertex would dominate both (13k vertices for the stand-in: ~12 ms a frame on one
core, far more with two threads on a busy machine: 29 % of the estimate stage in a profile of
the two-person sample), so this module evaluates
SMPL's linear-blend skinning on just the vertices the wanted joints read: the keypoint vertices,
and for the 9 joints of ``J_regressor_extra`` the few hundred vertices its rows weight; with
``mesh_map`` also the vertices that map reads (PMRR's inference: its mesh-aligned features
read 431 of the mesh's vertices, :mod:`pmrr_model.inference`). Same shape
blend, pose blend and kinematic chain as ``smplx``: the result equals ``BodyModel(...).joints``
on the selected joints up to float error (a test checks all 49).

The kinematic chain is evaluated level by level of the tree (SMPL: 8 levels below the pelvis)
rather than joint by joint as ``smplx.lbs.batch_rigid_transform`` does (23 sequential 4x4
products): the landmark fit runs this forward and backward a few thousand times a video on
batches of ~64 people, where every small tensor operation costs microseconds whatever its size,
and the joint-by-joint chain was about half of each Adam step's operations (measured with
``torch.profiler``: 126 matrix products a step). The same chain gives every joint's global
rotation, which the fit's head term needs (:meth:`SparseJoints.posed`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pmrr_model.body_model import BodyModel
from pmrr_model.constants import JOINT_INDICES
from pmrr_model.geometry import axis_angle_to_rotmat

N_OPENPOSE = 25  # the first 25 of the 49 joints are the OpenPose set
N_KINEMATIC = 24
#: SMPL's left and right hand joints (kinematic indices): past the wrists, at the knuckles
HAND_JOINTS = (22, 23)


@dataclass
class SparseBody:
    """One evaluation of :meth:`SparseJoints.skin`, body frame."""

    joints: torch.Tensor  # (B, n_joints (+2), 3) the selected joints
    rotations: torch.Tensor  # (B, 24, 3, 3) every kinematic joint's global rotation
    kinematic: torch.Tensor  # (B, 24, 3) the posed kinematic joints (smplx's first 24)
    mesh: torch.Tensor  # (B, P, 3) ``mesh_map`` applied to the posed vertices; P = 0 without


class SparseJoints(nn.Module):
    """(betas, axis-angle pose) -> the first ``n_joints`` of the seed's 49 joints, body frame;
    with ``hands`` SMPL's two hand joints follow (:data:`HAND_JOINTS`: none of the 49 lies past
    the wrist, and the landmark fit needs them to turn the wrists). ``mesh_map`` (P, V): a
    linear map of the posed mesh to evaluate too (:attr:`SparseBody.mesh`), skinning only the
    vertices it weights."""

    def __init__(
        self,
        body_model: BodyModel,
        n_joints: int = N_OPENPOSE,
        hands: bool = False,
        mesh_map: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        smpl = body_model.smpl
        wanted = torch.tensor(JOINT_INDICES[:n_joints])
        keypoint_vids = smpl.vertex_joint_selector.extra_joints_idxs.long()
        n_smplx = N_KINEMATIC + len(keypoint_vids)  # smplx's joints; J_regressor_extra's after
        extra = body_model.J_regressor_extra.float()
        if int(wanted.max()) < n_smplx:
            extra = extra[:0]  # no regressed joint wanted: skin none of its vertices
        extra_vids = torch.nonzero(extra.abs().sum(0) > 0).flatten()
        n_verts = smpl.v_template.shape[0]
        if mesh_map is None:
            mesh_map = torch.zeros(0, n_verts)
        # on the body model's device, as the other vertex indices are (a GPU predictor's)
        mesh_map = mesh_map.detach().float().to(keypoint_vids.device)
        mesh_vids = torch.nonzero(mesh_map.abs().sum(0) > 0).flatten()
        vids = torch.cat([keypoint_vids, extra_vids, mesh_vids])
        shapedirs = smpl.shapedirs.float()  # (V, 3, n_betas)
        j_reg = smpl.J_regressor.float()  # (24, V)
        self.register_buffer("j_template", j_reg @ smpl.v_template.float())
        self.register_buffer("j_shapedirs", torch.einsum("jv,vcb->jcb", j_reg, shapedirs))
        self.register_buffer("v_template", smpl.v_template.float()[vids])
        self.register_buffer("v_shapedirs", shapedirs[vids])
        posedirs = smpl.posedirs.float().reshape(-1, n_verts, 3)[:, vids]
        self.register_buffer("v_posedirs", posedirs.reshape(posedirs.shape[0], -1))
        self.register_buffer("v_weights", smpl.lbs_weights.float()[vids])
        self.register_buffer("extra_regressor", extra[:, extra_vids])  # (9 or 0, len(extra_vids))
        self.register_buffer("mesh_map", mesh_map[:, mesh_vids])  # (P, len(mesh_vids))
        self._register_levels(smpl.parents.long())
        # posed kinematic joints come first in forward's concatenation, so the hand joints'
        # kinematic indices select them there
        hand_joints = torch.tensor(HAND_JOINTS if hands else (), dtype=wanted.dtype)
        self.register_buffer("select", torch.cat([wanted, hand_joints]))
        self.n_keypoints = len(keypoint_vids)
        self.n_regressed_from = len(extra_vids)  # the vertices after the keypoints' that it reads
        self.n_betas = shapedirs.shape[-1]

    def _register_levels(self, parents: torch.Tensor) -> None:
        """The tree's levels below the pelvis, as ``self._levels``: per level, how to take its
        joints from the (B, 24, ...) tensors and their parents from the level above's results
        (a slice or ``None`` for "all, in order" where the numbering allows, as in SMPL, where
        every level is a run of consecutive joints; else an index buffer, named). Slices are
        views, and their gradients need no scatter. Also ``self._unlevel``: a joint's position
        in the levels' concatenation (None when that is the joint's own index)."""
        depth = [0] * len(parents)
        for j in range(1, len(parents)):
            depth[j] = depth[int(parents[j])] + 1

        def selector(name: str, items: list[int], whole: int) -> slice | str | None:
            if items == list(range(whole)):
                return None
            if items == list(range(items[0], items[0] + len(items))):
                return slice(items[0], items[0] + len(items))
            self.register_buffer(name, torch.tensor(items))
            return name

        previous, order, self._levels = [0], [0], []
        for k in range(1, max(depth) + 1):
            level = [j for j in range(len(parents)) if depth[j] == k]
            up = [previous.index(int(parents[j])) for j in level]
            self._levels.append(
                (selector(f"level{k}", level, -1), selector(f"level{k}_up", up, len(previous)))
            )
            previous = level
            order += level
        self._unlevel = selector("unlevel", torch.argsort(torch.tensor(order)).tolist(), len(order))

    def _take(self, values: torch.Tensor, selector: slice | str | None) -> torch.Tensor:
        if selector is None:
            return values
        if isinstance(selector, slice):
            return values[:, selector]
        return values[:, getattr(self, selector)]

    def _chain(self, rot: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 24, 3, 3) local rotations, (B, 24, 3) rest joints -> each joint's global rotation
        (B, 24, 3, 3) and posed position (B, 24, 3), one tree level at a time."""
        rotations, positions = [rot[:, :1]], [joints[:, :1]]
        parent_rest = joints[:, :1]
        for level, up in self._levels:
            parent_rot = self._take(rotations[-1], up)
            rest = self._take(joints, level)
            offset = rest - self._take(parent_rest, up)
            positions.append(
                self._take(positions[-1], up) + (parent_rot @ offset[..., None]).squeeze(-1)
            )
            rotations.append(parent_rot @ self._take(rot, level))
            parent_rest = rest
        return (
            self._take(torch.cat(rotations, dim=1), self._unlevel),
            self._take(torch.cat(positions, dim=1), self._unlevel),
        )

    def posed(
        self, betas: torch.Tensor, body_pose: torch.Tensor, global_orient: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 10), (B, 69), (B, 3) -> the selected joints (B, n_joints (+2), 3), body frame,
        and every kinematic joint's global rotation (B, 24, 3, 3)."""
        batch = betas.shape[0]
        rot = axis_angle_to_rotmat(
            torch.cat([global_orient, body_pose], dim=1).reshape(batch, 24, 3)
        )
        body = self.skin(betas, rot)
        return body.joints, body.rotations

    def skin(self, betas: torch.Tensor, rot: torch.Tensor) -> SparseBody:
        """(B, 10) shape and (B, 24, 3, 3) local rotations (global orient first) -> the
        selected joints, rotations, kinematic joints and ``mesh_map``'s points."""
        batch = betas.shape[0]
        betas = betas[:, : self.n_betas]
        joints = self.j_template + torch.einsum("jcb,nb->njc", self.j_shapedirs, betas)
        eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
        pose_feature = (rot[:, 1:] - eye).reshape(batch, -1)
        verts = self.v_template + torch.einsum("vcb,nb->nvc", self.v_shapedirs, betas)
        verts = verts + (pose_feature @ self.v_posedirs).reshape(batch, -1, 3)
        rotations, posed_joints = self._chain(rot, joints)
        # linear blend skinning: joint j moves a rest point x to R_j x + (p_j - R_j rest_j)
        shift = posed_joints - (rotations @ joints[..., None]).squeeze(-1)
        blend_rot = torch.einsum("vj,njab->nvab", self.v_weights, rotations)
        blend_shift = torch.einsum("vj,nja->nva", self.v_weights, shift)
        verts = (blend_rot @ verts[..., None]).squeeze(-1) + blend_shift
        keypoints = verts[:, : self.n_keypoints]
        mesh_from = self.n_keypoints + self.n_regressed_from
        regressed = self.extra_regressor @ verts[:, self.n_keypoints : mesh_from]
        selected = torch.cat([posed_joints, keypoints, regressed], dim=1)[:, self.select]
        mesh = (
            self.mesh_map.to(verts.dtype) @ verts[:, mesh_from:]
            if len(self.mesh_map)
            else verts[:, :0]
        )
        return SparseBody(selected, rotations, posed_joints, mesh)

    def forward(
        self, betas: torch.Tensor, body_pose: torch.Tensor, global_orient: torch.Tensor
    ) -> torch.Tensor:
        """(B, 10), (B, 69), (B, 3) -> (B, n_joints (+2), 3)."""
        return self.posed(betas, body_pose, global_orient)[0]
