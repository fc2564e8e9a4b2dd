"""Run configuration, its hash, and the code version that key Prefect's caches.

A stage's cache key is (video content hash, stage, config hash, code version): changing a
parameter that affects results, or editing the pipeline's code, invalidates the cache, while
re-running the same archive with the same settings skips every finished stage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_VERSIONED = ("tasks", "storage", "flows", "pmrr_model", "analytics")


@dataclass(frozen=True)
class PipelineConfig:
    estimator: str = "landmark-fit"
    checkpoint: str | None = None
    data_dir: str | None = None
    device: str = "cpu"
    detector: str = "mediapipe"  # or "mmdet" with the two files below
    detector_config: str | None = None  # mmdet config file
    detector_checkpoint: str | None = None  # mmdet checkpoint (loaded by mmengine)
    detect_every_k: int = 3  # detection on every k-th frame, boxes interpolated in between
    # offline (zero-lag Gaussian, width adapted per joint) | gaussian (fixed width) | online
    # (One-Euro) | none
    smoothing: str = "offline"
    smoothing_sigma_s: float = 0.2  # widest kernel offline may use; the fixed width of gaussian
    chunk_size: int = 32
    render: bool = True
    analytics: bool = True
    export_npz: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    def hash(self) -> str:
        """Hash of the settings that change results (render/analytics toggles included, since
        they change what gets committed)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version + hash of the pipeline's Python sources."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("pmrr-interviews")
    except PackageNotFoundError:
        base = "0.0.0+src"
    digest = hashlib.sha256()
    for folder in _VERSIONED:
        for file in sorted((ROOT / folder).rglob("*.py")):
            digest.update(file.relative_to(ROOT).as_posix().encode())
            digest.update(file.read_bytes())
    return f"{base}+{digest.hexdigest()[:8]}"


def config_hash_with_roles(config_hash: str, roles: dict[int, str] | None) -> str:
    """The commit's hash: the config's, extended by a per-video roles override when given."""
    if not roles:
        return config_hash
    text = config_hash + json.dumps(sorted(roles.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
