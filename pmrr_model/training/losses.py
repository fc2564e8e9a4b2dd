"""The seed's training losses (PyMAF ``core/trainer.py``), summed over the refinement
iterations (the mean-parameter start is not penalised), with its weights
(``configs/pymaf_config.yaml``): SMPL rotation matrices x60, betas x0.06, 2D keypoints x300,
3D keypoints x300, camera scale x1, and on the dense head U and V smooth-L1 x0.5 each, part
index and coarse part cross-entropy x1 each.

Terms are plain functions of tensors so each can be checked on hand-computed values.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pmrr_model.geometry import axis_angle_to_rotmat


@dataclass(frozen=True)
class LossWeights:
    pose: float = 60.0
    betas: float = 0.06
    keypoints_2d: float = 300.0
    keypoints_3d: float = 300.0
    camera: float = 1.0
    uv: float = 0.5  # applied to U and to V (the seed's POINT_REGRESSION_WEIGHTS)
    part: float = 1.0
    coarse: float = 1.0
    openpose: float = 0.0  # the seed's openpose_train_weight (its train_options default)
    gt_keypoints: float = 1.0  # the seed's gt_train_weight


def _zero(like: torch.Tensor) -> torch.Tensor:
    return like.new_zeros(())


def smpl_parameter_losses(
    pred_rotmat: torch.Tensor, pred_betas: torch.Tensor, gt_pose: torch.Tensor,
    gt_betas: torch.Tensor, has_smpl: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """MSE of the 24 rotation matrices and of the betas, over samples with SMPL labels."""
    valid = has_smpl.bool()
    if not valid.any():
        return _zero(pred_rotmat), _zero(pred_betas)
    gt_rotmat = axis_angle_to_rotmat(gt_pose[valid].reshape(-1, 24, 3))
    return F.mse_loss(pred_rotmat[valid], gt_rotmat), F.mse_loss(pred_betas[valid], gt_betas[valid])


def keypoint_2d_loss(
    pred: torch.Tensor, gt: torch.Tensor, openpose_weight: float, gt_weight: float
) -> torch.Tensor:
    """Confidence-weighted squared error over the 49 joints, mean over all coordinates;
    ``gt`` (B, 49, 3) normalised crop coordinates + visibility."""
    conf = gt[..., 2:].clone()
    conf[:, :25] *= openpose_weight
    conf[:, 25:] *= gt_weight
    return (conf * (pred - gt[..., :2]) ** 2).mean()


def keypoint_3d_loss(
    pred: torch.Tensor, gt: torch.Tensor, has_pose_3d: torch.Tensor
) -> torch.Tensor:
    """Pelvis-centred (mean of the hips, joints 2 and 3 of the 24) confidence-weighted squared
    error; ``pred`` (B, 49, 3) network joints (the last 24 compared), ``gt`` (B, 24, 4)."""
    valid = has_pose_3d.bool()
    if not valid.any():
        return _zero(pred)
    pred, gt = pred[valid, 25:], gt[valid]
    conf, target = gt[..., 3:], gt[..., :3]
    target = target - (target[:, 2] + target[:, 3])[:, None] / 2
    pred = pred - (pred[:, 2] + pred[:, 3])[:, None] / 2
    return (conf * (pred - target) ** 2).mean()


def camera_loss(pred_cam: torch.Tensor) -> torch.Tensor:
    """exp(-10 s)^2: keeps the weak-perspective scale (hence the depth) positive."""
    return (torch.exp(-10 * pred_cam[:, 0]) ** 2).mean()


def dense_losses(
    dense: dict[str, torch.Tensor], target: dict[str, torch.Tensor], valid: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The seed's ``body_uv_losses`` on samples with SMPL labels: cross-entropy of the 25-way
    part index (0 = background) and of the 15 coarse parts over every cell, and smooth-L1 of
    U and V in each cell's own part channel (background included, target 0), summed and
    divided by the batch size (all samples, labelled or not, as the seed does)."""
    valid = valid.bool()
    u_pred = dense["predict_u"]
    if not valid.any():
        zero = _zero(u_pred)
        return {"u": zero, "v": zero, "part": zero, "coarse": zero}
    part = target["part"][valid]
    batch = u_pred.shape[0]  # the whole batch, as the seed divides
    select = F.one_hot(part, dense["predict_uv_index"].shape[1]).permute(0, 3, 1, 2).bool()
    out = {
        "part": F.cross_entropy(dense["predict_uv_index"][valid], part),
        "coarse": F.cross_entropy(dense["predict_ann_index"][valid], target["coarse"][valid]),
    }
    for key in ("u", "v"):
        pred = dense[f"predict_{key}"][valid][select]
        goal = target[key][valid][:, None].expand_as(select)[select]
        out[key] = F.smooth_l1_loss(pred, goal, reduction="sum") / batch
    return out


def pmrr_losses(
    output, batch: dict[str, torch.Tensor], dense_target: dict[str, torch.Tensor] | None,
    weights: LossWeights,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """Every weighted term, named ``<term>_<iteration>`` (iterations 1..3) and ``<dense term>``;
    the training loss is their sum. ``output`` is a :class:`~pmrr_model.network.PMRROutput`."""
    terms: dict[str, torch.Tensor] = {}
    for i, pred in enumerate(output.iterations[1:], start=1):
        pose, betas = smpl_parameter_losses(
            pred.rotmat, pred.betas, batch["pose"], batch["betas"], batch["has_smpl"]
        )
        terms[f"pose_{i}"] = weights.pose * pose
        terms[f"betas_{i}"] = weights.betas * betas
        terms[f"keypoints_2d_{i}"] = weights.keypoints_2d * keypoint_2d_loss(
            pred.keypoints_2d, batch["keypoints"], weights.openpose, weights.gt_keypoints
        )
        terms[f"keypoints_3d_{i}"] = weights.keypoints_3d * keypoint_3d_loss(
            pred.joints, batch["pose_3d"], batch["has_pose_3d"]
        )
        terms[f"camera_{i}"] = weights.camera * camera_loss(pred.cam)
    if dense_target is not None and output.dense:
        dense = dense_losses(output.dense, dense_target, batch["has_smpl"])
        terms["dense_u"] = weights.uv * dense["u"]
        terms["dense_v"] = weights.uv * dense["v"]
        terms["dense_part"] = weights.part * dense["part"]
        terms["dense_coarse"] = weights.coarse * dense["coarse"]
    return terms
