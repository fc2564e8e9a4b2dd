"""One refinement step: features + current SMPL/camera estimate -> residual update (HMR-style).

The reference keeps three of these without weight sharing, each initialised from the mean
parameters of ``smpl_mean_params.npz`` (kept as buffers, so checkpoints carry them).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

N_POSE_6D = 24 * 6
N_BETAS = 10
N_CAM = 3


def load_mean_params(path) -> dict[str, torch.Tensor]:
    """``smpl_mean_params.npz`` -> pose (1, 144), shape (1, 10), cam (1, 3) float32 tensors."""
    with np.load(path, allow_pickle=False) as mean:
        missing = {"pose", "shape", "cam"} - set(mean.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)}")
        params = {
            key: torch.from_numpy(np.asarray(mean[key], dtype=np.float32)).reshape(1, -1)
            for key in ("pose", "shape", "cam")
        }
    expected = {"pose": N_POSE_6D, "shape": N_BETAS, "cam": N_CAM}
    for key, size in expected.items():
        if params[key].shape[1] != size:
            raise ValueError(f"{path}: '{key}' has {params[key].shape[1]} values, expected {size}")
    return params


class IterativeRegressor(nn.Module):
    def __init__(self, feat_dim: int, mean_params: dict[str, torch.Tensor]) -> None:
        super().__init__()
        n_params = N_POSE_6D + N_BETAS + N_CAM
        self.fc1 = nn.Linear(feat_dim + n_params, 1024)
        self.drop1 = nn.Dropout()
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout()
        self.decpose = nn.Linear(1024, N_POSE_6D)
        self.decshape = nn.Linear(1024, N_BETAS)
        self.deccam = nn.Linear(1024, N_CAM)
        for head in (self.decpose, self.decshape, self.deccam):
            nn.init.xavier_uniform_(head.weight, gain=0.01)
        self.register_buffer("init_pose", mean_params["pose"].clone())
        self.register_buffer("init_shape", mean_params["shape"].clone())
        self.register_buffer("init_cam", mean_params["cam"].clone())

    def initial(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The mean estimate the first refinement starts from."""
        return (
            self.init_pose.expand(batch_size, -1),
            self.init_shape.expand(batch_size, -1),
            self.init_cam.expand(batch_size, -1),
        )

    def forward(
        self, features: torch.Tensor, pose: torch.Tensor, shape: torch.Tensor, cam: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = torch.cat(
            [features, pose.to(features.dtype), shape.to(features.dtype), cam.to(features.dtype)],
            dim=1,
        )
        x = self.drop2(self.fc2(self.drop1(self.fc1(x))))
        return (
            pose + self.decpose(x).to(pose.dtype),
            shape + self.decshape(x).to(shape.dtype),
            cam + self.deccam(x).to(cam.dtype),
        )
