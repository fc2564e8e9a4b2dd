"""Mesh-aligned feature extraction: sample a feature map at 2D points, then shrink each point's
256 channels to 5 with a skip-connected per-point MLP (1x1 Conv1d), so that hundreds of points
fit into a fully connected regressor."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pmrr_model.constants import MLP_DIM
from pmrr_model.geometry import project_to_crop


class MeshAlignedFeatureExtractor(nn.Module):
    def __init__(self, dmap: torch.Tensor, mlp_dim: tuple[int, ...] = MLP_DIM) -> None:
        super().__init__()
        skip_channels = mlp_dim[0]
        self.n_layers = len(mlp_dim) - 1
        for layer in range(self.n_layers):
            width_in = mlp_dim[layer] + (skip_channels if layer > 0 else 0)
            self.add_module(f"conv{layer}", nn.Conv1d(width_in, mlp_dim[layer + 1], 1))
        # (431, V) = D[1] @ D[0]: the reference stores it, so checkpoints carry it too.
        self.register_buffer("Dmap", dmap.float())

    def reduce_dim(self, point_features: torch.Tensor) -> torch.Tensor:
        """(B, C, N) -> (B, C_out * N), channel-major like the reference's ``view``."""
        y = point_features
        for layer in range(self.n_layers):
            conv = getattr(self, f"conv{layer}")
            y = conv(y if layer == 0 else torch.cat([y, point_features], dim=1))
            y = F.leaky_relu(y) if layer < self.n_layers - 1 else F.relu(y)
        return y.reshape(y.shape[0], -1)

    def sample(self, feature_map: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Features at (B, N, 2) points in [-1, 1] crop coordinates -> (B, C_out * N)."""
        grid = points.unsqueeze(2).to(feature_map.dtype)
        sampled = F.grid_sample(feature_map, grid, align_corners=True)[..., 0]
        return self.reduce_dim(sampled)

    def forward(
        self, feature_map: torch.Tensor, vertices: torch.Tensor, cam: torch.Tensor
    ) -> torch.Tensor:
        """Features at the crop projections of the downsampled mesh (431 points)."""
        dmap = self.Dmap.to(vertices.dtype).unsqueeze(0)
        downsampled = torch.matmul(dmap, vertices)
        return self.sample(feature_map, project_to_crop(downsampled, cam))
