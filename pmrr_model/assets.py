"""Which body-model files a run uses: the user's licensed files in the seed's ``data/`` layout
when they are all there, otherwise the project's generated stand-in. Every output records the
choice (``AssetSet.describe()``), so a table can never be mistaken for real-SMPL output."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pmrr_model.digest import files_digest

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIRS = (Path("data"), Path("files"))  # the seed's code says data/, its README files/
SMPL_FILE = Path("smpl") / "SMPL_NEUTRAL.pkl"


class AssetError(FileNotFoundError):
    """A body-model file is missing or unusable; the message names the file."""


def default_cache_root() -> Path:
    """Where generated stand-in assets live (``PMRR_CACHE_DIR`` overrides)."""
    return Path(os.environ.get("PMRR_CACHE_DIR", Path.home() / ".cache" / "pmrr_interviews"))


@dataclass(frozen=True)
class AssetSet:
    """Paths of one complete set of body-model files, laid out as the seed expects."""

    root: Path
    kind: str  # "smpl" (the user's licensed files) or "standin"
    asset_id: str
    smpl_dir: Path
    mean_params: Path
    mesh_downsampling: Path
    j_regressor_extra: Path
    j_regressor_h36m: Path
    vertex_ids: Path | None = None  # stand-in only: keypoint vertices on its own topology

    def describe(self) -> str:
        return f"{self.kind}:{self.asset_id}"


def _find(root: Path, *candidates: str) -> Path | None:
    for name in candidates:
        if (root / name).exists():
            return root / name
    return None


def _user_assets(root: Path) -> AssetSet:
    """Read a user's data folder; raise AssetError naming every missing file."""
    wanted = {
        "smpl": _find(root, str(SMPL_FILE)),
        "mean_params": _find(root, "smpl_mean_params.npz"),
        "mesh_downsampling": _find(root, "mesh_downsampling.npz"),
        "j_regressor_extra": _find(
            root, "J_regressor_extra.npy", "J_regressor/J_regressor_extra.npy"
        ),
        "j_regressor_h36m": _find(root, "J_regressor_h36m.npy", "J_regressor/J_regressor_h36m.npy"),
    }
    missing = [name for name, path in wanted.items() if path is None]
    if missing:
        raise AssetError(
            f"{root}: missing body-model files {missing} (seed layout: data/smpl/SMPL_NEUTRAL.pkl, data/smpl_mean_params.npz, data/mesh_downsampling.npz, data/J_regressor_extra.npy, data/J_regressor_h36m.npy)"
        )
    # The id is what outputs record and what re-runs compare, so it covers every byte of every
    # file (full SHA-256, memoised per file, so it is computed once per process, not per video).
    asset_id = files_digest(list(wanted.values()))
    return AssetSet(
        root=root,
        kind="smpl",
        asset_id=asset_id[:12],
        smpl_dir=wanted["smpl"].parent,
        mean_params=wanted["mean_params"],
        mesh_downsampling=wanted["mesh_downsampling"],
        j_regressor_extra=wanted["j_regressor_extra"],
        j_regressor_h36m=wanted["j_regressor_h36m"],
    )


def standin_assets(cache_root: Path | None = None) -> AssetSet:
    """The generated stand-in (made once, then cached)."""
    from pmrr_model.standin import ensure_standin_assets

    root = ensure_standin_assets(cache_root or default_cache_root())
    manifest = json.loads((root / "asset_manifest.json").read_text())
    return AssetSet(
        root=root,
        kind="standin",
        asset_id=manifest["asset_id"],
        smpl_dir=root / "smpl",
        mean_params=root / "smpl_mean_params.npz",
        mesh_downsampling=root / "mesh_downsampling.npz",
        j_regressor_extra=root / "J_regressor_extra.npy",
        j_regressor_h36m=root / "J_regressor_h36m.npy",
        vertex_ids=root / "standin_vertex_ids.json",
    )


def resolve_assets(data_dir: str | Path | None = None, allow_standin: bool = True) -> AssetSet:
    """Pick the asset set for a run and log which one.

    An explicit ``data_dir`` (or ``PMRR_DATA_DIR``) must be complete: a user who points at their
    files wants an error, not a silent fall-back. Without one, the seed's default folders are
    used when complete, and the stand-in otherwise.
    """
    explicit = data_dir or os.environ.get("PMRR_DATA_DIR")
    if explicit:
        assets = _user_assets(Path(explicit))
    else:
        assets = None
        for root in DEFAULT_DATA_DIRS:
            if (root / SMPL_FILE).exists():
                assets = _user_assets(root)
                break
        if assets is None:
            if not allow_standin:
                raise AssetError(f"no SMPL files found in {[str(p) for p in DEFAULT_DATA_DIRS]}")
            assets = standin_assets()
    logger.info("body-model assets: %s (%s)", assets.describe(), assets.root)
    return assets
