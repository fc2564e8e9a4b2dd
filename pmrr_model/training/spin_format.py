"""Read SPIN/EFT-format annotation files (``*.npz``) as the seed's ``BaseDataset`` uses them.

Keys (N samples): ``imgname`` (N,) image paths relative to the dataset's image folder,
``center`` (N, 2) and ``scale`` (N,) of the person box (scale unit 200 px), ``part`` (N, 24, 3)
2D keypoints in pixels with visibility, and where present ``openpose`` (N, 25, 3), ``S``
(N, 24, 4) 3D joints (metres, camera frame) with confidence, ``pose`` (N, 72) / ``shape``
(N, 10) SMPL parameters and ``has_smpl`` (N,). Missing optional keys are filled the way the
seed fills them (zeros, ``has_smpl`` = 0), so heterogeneous datasets mix in one batch.

Files are read with ``allow_pickle=False``: an annotation file is data, not code. SPIN's
released files store ``imgname`` as a fixed-width unicode array, which needs no pickle; files
with object arrays (pickled strings) go through :func:`pmrr_model.safe_pickle.load_npz_restricted`,
whose allow-list unpickler refuses anything but arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pmrr_model.safe_pickle import load_npz_restricted

REQUIRED_KEYS = ("imgname", "center", "scale")


class DatasetError(ValueError):
    """An annotation file or one of its images is unusable; the message names the file."""


@dataclass
class SpinAnnotations:
    """One annotation file, every optional field filled (so batches of mixed files stack)."""

    path: Path
    image_root: Path
    imgname: np.ndarray  # (N,) str
    center: np.ndarray  # (N, 2) float64
    scale: np.ndarray  # (N,) float64
    keypoints: np.ndarray  # (N, 49, 3): openpose 25 then the 24 'part' joints, pixels + conf
    pose: np.ndarray  # (N, 72)
    betas: np.ndarray  # (N, 10)
    has_smpl: np.ndarray  # (N,) float32
    joints3d: np.ndarray  # (N, 24, 4)
    has_pose_3d: bool

    def __len__(self) -> int:
        return len(self.imgname)

    def image_path(self, index: int) -> Path:
        return self.image_root / str(self.imgname[index])


def _array(data, key: str, path: Path, shape_tail: tuple[int, ...], n: int) -> np.ndarray:
    value = np.asarray(data[key])
    if value.shape[0] != n or value.shape[1:] != shape_tail:
        raise DatasetError(
            f"{path}: '{key}' has shape {value.shape}, expected ({n}, {', '.join(map(str, shape_tail))})"
        )
    return value.astype(np.float64)


def read_spin_npz(
    path: str | Path, image_root: str | Path | None = None, check_images: bool = True
) -> SpinAnnotations:
    """Load and validate one annotation file; ``image_root`` defaults to the file's folder.

    With ``check_images`` every image is looked up now, so a wrong folder fails at start-up
    naming the file rather than hours into a run.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except ValueError:
        # Object arrays (some EFT/SPIN files pickle ``imgname`` as Python strings): read them
        # through the allow-list unpickler, which runs no code the file names.
        try:
            arrays = load_npz_restricted(path)
        except ValueError as error:
            raise DatasetError(f"{path}: object arrays refused or unreadable: {error}") from error
    except Exception as error:  # zip or format errors: not an npz at all
        raise DatasetError(f"{path}: not a readable .npz file ({error})") from error
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise DatasetError(f"{path}: missing required key(s) {missing} (has {sorted(arrays)})")
    imgname = np.asarray(arrays["imgname"]).astype(str).reshape(-1)
    n = len(imgname)
    center = _array(arrays, "center", path, (2,), n)
    scale = np.asarray(arrays["scale"], dtype=np.float64).reshape(-1)
    if len(scale) != n:
        raise DatasetError(f"{path}: 'scale' has {len(scale)} entries, 'imgname' {n}")
    part = _array(arrays, "part", path, (24, 3), n) if "part" in arrays else np.zeros((n, 24, 3))
    openpose = (
        _array(arrays, "openpose", path, (25, 3), n)
        if "openpose" in arrays
        else np.zeros((n, 25, 3))
    )
    if "pose" in arrays and "shape" in arrays:
        pose = _array(arrays, "pose", path, (72,), n)
        betas = _array(arrays, "shape", path, (10,), n)
        has_smpl = (
            np.asarray(arrays["has_smpl"], dtype=np.float32).reshape(n)
            if "has_smpl" in arrays
            else np.ones(n, np.float32)
        )
    else:
        pose, betas, has_smpl = np.zeros((n, 72)), np.zeros((n, 10)), np.zeros(n, np.float32)
    has_pose_3d = "S" in arrays
    joints3d = _array(arrays, "S", path, (24, 4), n) if has_pose_3d else np.zeros((n, 24, 4))
    root = Path(image_root) if image_root is not None else path.parent
    annotations = SpinAnnotations(
        path=path,
        image_root=root,
        imgname=imgname,
        center=center,
        scale=scale,
        keypoints=np.concatenate([openpose, part], axis=1),
        pose=pose,
        betas=betas,
        has_smpl=has_smpl,
        joints3d=joints3d,
        has_pose_3d=has_pose_3d,
    )
    if check_images:
        absent = [
            str(annotations.image_path(i))
            for i in range(n)
            if not annotations.image_path(i).is_file()
        ]
        if absent:
            raise DatasetError(
                f"{path}: {len(absent)} image(s) not found under {root}, e.g. {absent[:3]}"
            )
    return annotations


def find_annotation_files(inputs: list[str | Path]) -> list[Path]:
    """Files named directly, plus every ``*.npz`` in each folder named (sorted)."""
    files: list[Path] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = sorted(item.glob("*.npz"))
            if not found:
                raise DatasetError(f"{item}: folder holds no .npz annotation files")
            files += found
        else:
            files.append(item)
    return files
