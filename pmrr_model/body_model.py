"""SMPL through smplx, extended with the seed's 49 training joints.

The reference network and its losses read 49 joints: smplx's 45 SMPL joints (24 kinematic + 21
vertex keypoints) plus 9 joints regressed by ``J_regressor_extra.npy``, re-ordered by JOINT_MAP.
This module builds the same set from an :class:`AssetSet`, for real SMPL or the stand-in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import smplx
import torch
from torch import nn

from pmrr_model.assets import AssetError, AssetSet
from pmrr_model.constants import JOINT_INDICES
from pmrr_model.geometry import axis_angle_to_rotmat


@dataclass
class BodyOutput:
    vertices: torch.Tensor  # (B, V, 3) metres, body frame (no translation)
    joints: torch.Tensor  # (B, 49, 3) the seed's joint set
    smpl_joints: torch.Tensor  # (B, 24, 3) kinematic joints


def create_smpl(path: Path, gender: str, assets: AssetSet, batch_size: int = 1) -> smplx.SMPL:
    """smplx's SMPL from ``path`` (the asset set's keypoint vertices where it names its own), with
    an error that names the file, and the kinematic tree's parent indices kept on the host.

    Why the host: smplx walks the chain with ``transform_chain[parents[i]]``; with ``parents`` on
    a GPU each of those 23 look-ups is a device-to-host read that waits for all queued work (92
    waits in one PMRR forward, measured on an H200). As a plain attribute instead of a buffer,
    ``.to(device)`` leaves it on the host; its one use as a gather index sends 23 integers over.
    """
    if not path.is_file():
        raise AssetError(f"{path}: SMPL model file not found")
    kwargs = {}
    if assets.vertex_ids is not None:  # the stand-in's own keypoint vertices
        kwargs["vertex_ids"] = json.loads(assets.vertex_ids.read_text())
    try:
        smpl = smplx.create(
            str(path),
            model_type="smpl",
            gender=gender,
            create_transl=False,
            batch_size=batch_size,
            **kwargs,
        )
    except Exception as error:  # smplx raises bare errors; name the file for the user
        raise AssetError(f"{path}: cannot be loaded as an SMPL model ({error})") from error
    parents = smpl.parents
    del smpl._buffers["parents"]
    smpl.parents = parents
    return smpl


class BodyModel(nn.Module):
    """SMPL with the seed's extra joints; accepts axis-angle (B, 72) or rotation matrices."""

    def __init__(self, assets: AssetSet, batch_size: int = 1) -> None:
        super().__init__()
        self.smpl = create_smpl(
            assets.smpl_dir / "SMPL_NEUTRAL.pkl", "neutral", assets, batch_size=batch_size
        )
        extra = np.load(assets.j_regressor_extra, allow_pickle=False)
        if extra.shape != (9, self.smpl.v_template.shape[0]):
            raise AssetError(
                f"{assets.j_regressor_extra}: shape {extra.shape}, expected (9, {self.smpl.v_template.shape[0]})"
            )
        self.register_buffer("J_regressor_extra", torch.tensor(extra, dtype=torch.float32))
        self.register_buffer(
            "joint_map", torch.tensor(JOINT_INDICES, dtype=torch.long), persistent=False
        )
        self.asset_id = assets.describe()

    @property
    def faces(self) -> np.ndarray:
        return np.asarray(self.smpl.faces, dtype=np.int64)

    @property
    def num_vertices(self) -> int:
        return int(self.smpl.v_template.shape[0])

    def forward(
        self, betas: torch.Tensor, body_pose: torch.Tensor, global_orient: torch.Tensor
    ) -> BodyOutput:
        """``body_pose``/``global_orient`` as axis-angle (B, 69)/(B, 3) or matrices (B, 23, 3, 3)/(B, 1, 3, 3)."""
        if body_pose.shape[-1] != 3 or body_pose.dim() < 4:
            body_pose = axis_angle_to_rotmat(body_pose.reshape(-1, 23, 3))
            global_orient = axis_angle_to_rotmat(global_orient.reshape(-1, 1, 3))
        batch = betas.shape[0]
        out = self.smpl(
            betas=betas,
            body_pose=body_pose.reshape(batch, 23, 3, 3),
            global_orient=global_orient.reshape(batch, 1, 3, 3),
            pose2rot=False,
        )
        extra = torch.einsum(
            "jv,bvc->bjc", self.J_regressor_extra.to(out.vertices.dtype), out.vertices
        )
        all_joints = torch.cat([out.joints, extra], dim=1)
        return BodyOutput(
            vertices=out.vertices,
            joints=all_joints[:, self.joint_map],
            smpl_joints=out.joints[:, :24],
        )
