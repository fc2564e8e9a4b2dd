"""Content fingerprints of model files (body-model assets, checkpoints, detector weights).

Outputs record which files produced them, and re-runs are skipped when the recorded fingerprint
still matches, so a fingerprint must change whenever *any* byte changes: it is the SHA-256 of the
whole file. Hashing a 100 MB checkpoint takes a fraction of a second, but a batch asks for the
same files once per video, so digests are memoised in-process under ``(path, size, mtime_ns)``:
an edited or replaced file has a new size or modification time and is hashed again.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

CHUNK_BYTES = 1 << 20

_cache: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def _key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def file_digest(path: str | os.PathLike[str]) -> str:
    """Full SHA-256 (hex) of the file's content, read in chunks; memoised per
    ``(resolved path, size, mtime_ns)``. Raises ``FileNotFoundError`` naming a missing file."""
    path = Path(path)
    key = _key(path)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _lock:
        _cache[key] = value
    return value


def files_digest(paths: list[str | os.PathLike[str]]) -> str:
    """SHA-256 (hex) identifying a set of files by name and full content, in the given order.

    Each file contributes its name and its own :func:`file_digest`, so the set's id changes when
    any file is renamed or any byte of any file changes, and costs nothing once files are cached.
    """
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        digest.update(b"\0")
        digest.update(file_digest(path).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def clear_digest_cache() -> None:
    """Forget memoised digests (tests; long-lived processes that rewrite files in place within
    one mtime tick)."""
    with _lock:
        _cache.clear()
