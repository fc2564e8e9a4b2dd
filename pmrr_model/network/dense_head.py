"""Auxiliary dense-correspondence (IUV) head on the finest pyramid level. Only its training loss
matters for the published numbers, but it is part of the checkpoint, so its names match."""

from __future__ import annotations

import torch
from torch import nn


class DenseCorrespondenceHead(nn.Module):
    def __init__(self, feat_dim: int = 256, n_parts: int = 25, n_coarse: int = 15) -> None:
        super().__init__()
        self.predict_u = nn.Conv2d(feat_dim, n_parts, kernel_size=3, padding=1)
        self.predict_v = nn.Conv2d(feat_dim, n_parts, kernel_size=3, padding=1)
        self.predict_ann_index = nn.Conv2d(feat_dim, n_coarse, kernel_size=3, padding=1)
        self.predict_uv_index = nn.Conv2d(feat_dim, n_parts, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            "predict_u": self.predict_u(x),
            "predict_v": self.predict_v(x),
            "predict_uv_index": self.predict_uv_index(x),
            "predict_ann_index": self.predict_ann_index(x),
        }
