"""Training items and batches: one annotation file is a :class:`SpinDataset`; several are mixed
with fixed proportions per batch (the seed's ``MixedDataset`` draws each item's source with
fixed probabilities: 30 % H36M, 60 % in-the-wild, 10 % MPI-INF-3DHP).

Every random choice of a step (which items, their augmentation) comes from a generator seeded
by ``(seed, step)``, so a resumed run sees the batches an uninterrupted run would have seen,
without storing any random-number state in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from pmrr_model.crop import normalize_crops
from pmrr_model.training.augment import (
    Augmentation,
    AugmentSettings,
    crop_matrix,
    crop_rgb,
    joints3d_augment,
    keypoints_to_crop,
    pose_augment,
    sample_augmentation,
)
from pmrr_model.training.spin_format import DatasetError, SpinAnnotations


def read_rgb(path) -> np.ndarray:
    """The image as uint8 RGB; a missing or unreadable file raises naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{path}: image missing or unreadable")
    return np.ascontiguousarray(image[..., ::-1])


class SpinDataset(Dataset):
    """Items of one annotation file, cropped to 224 x 224 and augmented (or not, for validation)."""

    def __init__(
        self,
        annotations: SpinAnnotations,
        augment: bool = True,
        settings: AugmentSettings | None = None,
    ) -> None:
        self.ann = annotations
        self.augment = augment
        self.settings = settings or AugmentSettings()

    def __len__(self) -> int:
        return len(self.ann)

    def item(self, index: int, aug: Augmentation) -> dict[str, torch.Tensor]:
        ann = self.ann
        center, scale = ann.center[index], float(ann.scale[index])
        matrix = crop_matrix(center, scale, aug)
        crop = crop_rgb(read_rgb(ann.image_path(index)), matrix, aug)
        has_smpl = float(ann.has_smpl[index])
        pose = pose_augment(ann.pose[index], aug) if has_smpl else np.zeros(72, np.float32)
        return {
            "img": torch.from_numpy(normalize_crops(crop[None])[0]),
            "keypoints": torch.from_numpy(keypoints_to_crop(ann.keypoints[index], matrix, aug)),
            "pose": torch.from_numpy(pose),
            "betas": torch.from_numpy(ann.betas[index].astype(np.float32)),
            "has_smpl": torch.tensor(has_smpl),
            "pose_3d": torch.from_numpy(joints3d_augment(ann.joints3d[index], aug)),
            "has_pose_3d": torch.tensor(float(ann.has_pose_3d)),
            "is_flipped": torch.tensor(aug.flip),
            "rot_angle": torch.tensor(aug.rot_deg, dtype=torch.float32),
        }

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        """``index`` (no augmentation) or ``(index, augmentation seed)``."""
        index, aug_seed = key if isinstance(key, tuple) else (key, None)
        if self.augment and aug_seed is not None:
            aug = sample_augmentation(np.random.default_rng(aug_seed), self.settings)
        else:
            aug = Augmentation()
        return self.item(int(index), aug)


@dataclass(frozen=True)
class ItemKey:
    dataset: int
    index: int
    aug_seed: int


class MixedDataset(Dataset):
    """Several :class:`SpinDataset` s; items are addressed by :class:`ItemKey`."""

    def __init__(self, datasets: Sequence[SpinDataset], proportions: Sequence[float] | None = None):
        if not datasets:
            raise DatasetError("no training data given")
        self.datasets = list(datasets)
        shares = np.ones(len(datasets)) if proportions is None else np.asarray(proportions, float)
        if len(shares) != len(datasets) or (shares < 0).any() or shares.sum() <= 0:
            raise DatasetError(
                f"proportions {list(shares)} do not fit {len(datasets)} dataset(s): one "
                "non-negative share per dataset, not all zero"
            )
        self.proportions = shares / shares.sum()

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)

    def __getitem__(self, key: ItemKey) -> dict[str, torch.Tensor]:
        return self.datasets[key.dataset][(key.index, key.aug_seed)]


class StepBatches:
    """Batch sampler: batch ``step`` is a pure function of ``(seed, step)``. Iterating starts at
    ``start_step`` and goes on for ``n_steps`` batches."""

    def __init__(
        self, mixed: MixedDataset, batch_size: int, seed: int, start_step: int, n_steps: int
    ) -> None:
        self.mixed, self.batch_size, self.seed = mixed, batch_size, seed
        self.start_step, self.n_steps = start_step, n_steps

    def keys(self, step: int) -> list[ItemKey]:
        rng = np.random.default_rng([self.seed, step])
        sources = rng.choice(
            len(self.mixed.datasets), size=self.batch_size, p=self.mixed.proportions
        )
        return [
            ItemKey(
                int(s), int(rng.integers(len(self.mixed.datasets[s]))), int(rng.integers(2**62))
            )
            for s in sources
        ]

    def __iter__(self) -> Iterator[list[ItemKey]]:
        for step in range(self.start_step, self.start_step + self.n_steps):
            yield self.keys(step)

    def __len__(self) -> int:
        return self.n_steps


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}
