"""Readers for the seed's preprocessed evaluation files (``data/dataset_extras/*.npz``) and the
images they name, kept apart from the protocols so a bad file fails here, before any network
runs, with an error naming the file and the problem.

Layouts (as the seed's ``datasets/base_dataset.py`` reads them; SPIN's preprocessing writes them):

* ``3dpw_test.npz``: ``imgname`` (N,) paths relative to the 3DPW folder, ``center`` (N, 2) px,
  ``scale`` (N,) in units of 200 px, ``pose`` (N, 72) SMPL axis-angle, ``shape`` (N, 10) betas,
  ``gender`` (N,) ``'m'`` or ``'f'`` (the seed maps ``'m'`` to male and anything else to female).
* ``h36m_valid_protocol2.npz`` (PyMAF names it ``h36m_valid_protocol2_newpath.npz``): ``imgname``,
  ``center``, ``scale``, ``S`` (N, 24, 4) 3D joints in metres in the seed's 24-joint order,
  already centred on the H36M pelvis, last column a confidence. ``pose``/``shape`` only in the
  MoSh variant (``h36m_mosh_valid_p2.npz``).
* ``coco_2014_val.npz``: ``imgname`` (``.../COCO_val2014_<12-digit id>.jpg``), ``center``,
  ``scale``; the ground truth is the COCO person-keypoint annotation json.
* ``synthetic`` (not the seed's): a set written by ``pmrr train --make-synthetic DIR``; its
  ``DIR/synthetic.json`` names the validation split's npz (SPIN layout, ``pose``/``shape`` of
  the body model it records, images beside it).

Files are data: ``np.load(allow_pickle=False)``; an ``imgname`` stored as a pickled object array
of strings is read through :mod:`pmrr_model.safe_pickle`'s allow-list instead.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pmrr_model.safe_pickle import load_npz_restricted

logger = logging.getLogger(__name__)

DATASETS = ("3dpw", "h36m", "coco", "synthetic")
#: File names the seed uses, first match wins (SPIN's name, then PyMAF's ``_newpath`` variant).
NPZ_NAMES: dict[str, tuple[str, ...]] = {
    "3dpw": ("3dpw_test.npz",),
    "h36m": ("h36m_valid_protocol2.npz", "h36m_valid_protocol2_newpath.npz"),
    "coco": ("coco_2014_val.npz",),
}
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "3dpw": ("imgname", "center", "scale", "pose", "shape", "gender"),
    "h36m": ("imgname", "center", "scale", "S"),
    "coco": ("imgname", "center", "scale"),
    "synthetic": ("imgname", "center", "scale", "pose", "shape"),
}
SYNTHETIC_MANIFEST = "synthetic.json"
COCO_ANNOTATION_NAME = "person_keypoints_val2014.json"
_COCO_ID = re.compile(r"(\d{12})\.\w+$")


class SeedDataError(ValueError):
    """An evaluation input is missing or malformed; the message names the file and the problem."""


@dataclass
class SeedSamples:
    """One dataset's samples, in file order. Optional fields are None when the file lacks them."""

    dataset: str
    source: Path
    imgname: list[str]
    center: np.ndarray  # (N, 2) float64 px
    scale: np.ndarray  # (N,) float64, crop side / 200 px
    pose: np.ndarray | None = None  # (N, 72) SMPL axis-angle
    betas: np.ndarray | None = None  # (N, 10)
    gender: np.ndarray | None = None  # (N,) int: 0 male, 1 female (the seed's coding)
    joints3d: np.ndarray | None = None  # (N, 24, 4) metres + confidence (H36M 'S')

    def __len__(self) -> int:
        return len(self.imgname)

    def head(self, limit: int | None) -> SeedSamples:
        """The first ``limit`` samples (all when None)."""
        if limit is None or limit >= len(self):
            return self
        cut = slice(0, max(int(limit), 0))

        def take(a):
            return None if a is None else a[cut]

        return SeedSamples(
            self.dataset,
            self.source,
            self.imgname[cut],
            self.center[cut],
            self.scale[cut],
            take(self.pose),
            take(self.betas),
            take(self.gender),
            take(self.joints3d),
        )


def find_npz(data_dir: Path, dataset: str) -> Path:
    """The dataset's file under ``<data_dir>/dataset_extras/`` (the seed's DATASET_NPZ_PATH)."""
    if dataset not in NPZ_NAMES:
        raise SeedDataError(f"unknown dataset {dataset!r}; choose one of {list(DATASETS)}")
    folder = Path(data_dir) / "dataset_extras"
    for name in NPZ_NAMES[dataset]:
        if (folder / name).is_file():
            return folder / name
    raise SeedDataError(
        f"{folder}: no {' or '.join(NPZ_NAMES[dataset])} (the seed's preprocessed {dataset} file)"
    )


def synthetic_split(set_dir: Path) -> tuple[Path, str]:
    """A generated set's validation npz and the body model it was made with (``kind:id``),
    from its manifest."""
    manifest_path = Path(set_dir) / SYNTHETIC_MANIFEST
    if not manifest_path.is_file():
        raise SeedDataError(
            f"{manifest_path}: not found (--data-dir must be a folder written by "
            "`pmrr train --make-synthetic`)"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
        return Path(set_dir) / manifest["splits"]["val"]["file"], str(manifest["assets"])
    except (ValueError, KeyError, TypeError) as error:
        raise SeedDataError(f"{manifest_path}: not a synthetic-set manifest ({error})") from error


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array in ``path``; pickled (object) arrays only through the allow-list loader."""
    if not path.is_file():
        raise SeedDataError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {}
            for key in archive.files:
                try:
                    arrays[key] = archive[key]
                except ValueError as error:  # an object array: needs unpickling
                    if "allow_pickle" not in str(error):
                        raise
                    return load_npz_restricted(path)
            return arrays
    except SeedDataError:
        raise
    except Exception as error:  # zip/format errors of many types: all mean 'unreadable'
        raise SeedDataError(f"{path}: not a readable .npz file ({error})") from error


def _field(arrays: dict, path: Path, key: str, shape_tail: tuple[int, ...], n: int) -> np.ndarray:
    value = np.asarray(arrays[key])
    if value.dtype.kind not in "biuf":
        raise SeedDataError(f"{path}: key {key!r} holds {value.dtype}, expected numbers")
    if value.shape[0] != n or (shape_tail and value.shape[1:] != shape_tail):
        raise SeedDataError(
            f"{path}: key {key!r} has shape {value.shape}, expected ({n}, "
            f"{', '.join(map(str, shape_tail))})"
        )
    if not np.isfinite(value).all():
        raise SeedDataError(f"{path}: key {key!r} holds NaN or infinite values")
    return value.astype(np.float64)


def read_samples(path: str | Path, dataset: str) -> SeedSamples:
    """Read and check one seed ``.npz``; raises SeedDataError naming the file and the problem."""
    path = Path(path)
    arrays = _load_arrays(path)
    missing = [key for key in REQUIRED_KEYS[dataset] if key not in arrays]
    if missing:
        raise SeedDataError(
            f"{path}: missing key(s) {missing} for --dataset {dataset} "
            f"(has {sorted(arrays)}; needs {list(REQUIRED_KEYS[dataset])})"
        )
    imgname = [str(name) for name in np.asarray(arrays["imgname"]).reshape(-1)]
    n = len(imgname)
    if n == 0:
        raise SeedDataError(f"{path}: 'imgname' is empty")
    center = _field(arrays, path, "center", (2,), n)
    scale = _field(arrays, path, "scale", (), n).reshape(n)
    if (scale <= 0).any():
        raise SeedDataError(
            f"{path}: 'scale' must be positive (rows {np.where(scale <= 0)[0][:5]})"
        )
    samples = SeedSamples(dataset, path, imgname, center, scale)
    has_smpl = "pose" in arrays and "shape" in arrays
    if has_smpl:
        samples.pose = _field(arrays, path, "pose", (72,), n)
        samples.betas = _field(arrays, path, "shape", (10,), n)
    if "gender" in arrays:
        genders = [str(g) for g in np.asarray(arrays["gender"]).reshape(-1)]
        if len(genders) != n:
            raise SeedDataError(f"{path}: 'gender' has {len(genders)} entries for {n} images")
        samples.gender = np.array([0 if g == "m" else 1 for g in genders], dtype=np.int64)
    if "S" in arrays:
        samples.joints3d = _field(arrays, path, "S", (24, 4), n)
    if dataset == "coco":
        bad = [name for name in imgname if not _COCO_ID.search(name)]
        if bad:
            raise SeedDataError(
                f"{path}: imgname {bad[0]!r} does not end in a 12-digit COCO image id"
            )
    return samples


def coco_image_id(imgname: str) -> int:
    """The COCO image id in a file name (the seed reads ``imgname[-16:-4]``)."""
    match = _COCO_ID.search(imgname)
    if not match:
        raise SeedDataError(f"{imgname!r}: no 12-digit COCO image id in the file name")
    return int(match.group(1))


def find_coco_annotations(images_dir: Path, data_dir: Path | None) -> Path:
    """The person-keypoint annotation json: ``<images>/annotations/`` (the seed's COCO_ROOT
    layout), else ``<data_dir>/dataset_extras/`` or ``<data_dir>/``."""
    candidates = [Path(images_dir) / "annotations" / COCO_ANNOTATION_NAME]
    if data_dir is not None:
        candidates += [
            Path(data_dir) / "dataset_extras" / COCO_ANNOTATION_NAME,
            Path(data_dir) / COCO_ANNOTATION_NAME,
        ]
    for path in candidates:
        if path.is_file():
            return path
    raise SeedDataError(
        f"no COCO annotation file: looked for {', '.join(str(p) for p in candidates)} "
        "(give one with --annotations)"
    )


def check_images(images_dir: Path, names: list[str]) -> None:
    """Fail before any work when images are missing (naming the first few)."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise SeedDataError(f"{images_dir}: images folder not found")
    missing = [name for name in names if not (images_dir / name).is_file()]
    if missing:
        raise SeedDataError(
            f"{images_dir}: {len(missing)} of {len(names)} images named by the dataset file are "
            f"missing, e.g. {[str(images_dir / m) for m in missing[:3]]}"
        )


def read_rgb(images_dir: Path, name: str) -> np.ndarray:
    """One image as uint8 RGB (the seed reads BGR with cv2 and flips the channels)."""
    path = Path(images_dir) / name
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SeedDataError(f"{path}: missing or not a readable image")
    return np.ascontiguousarray(image[:, :, ::-1])
