"""Finding input videos (files, folders, globs, fsspec URLs) and bringing remote ones local.

decord and ffprobe need a local file, so a remote video is copied once into a cache folder
(keyed by its URL and size/etag-ish info via fsspec ``info``) before the stages run.
"""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path

import fsspec

from storage.errors import StorageError

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}


def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def discover(inputs: list[str] | str) -> list[str]:
    """Expand files, folders (recursive, video suffixes only) and globs into sorted URIs.

    Explicitly named files are kept whatever their suffix (and even if broken), so a bad video
    shows up in the batch report instead of disappearing silently.
    """
    found: list[str] = []
    for item in [inputs] if isinstance(inputs, str) else inputs:
        try:
            fs, root = fsspec.core.url_to_fs(item)
        except Exception as error:
            raise StorageError(f"{item}: cannot open ({error})") from error
        protocol = item.split("://", 1)[0] + "://" if _is_url(item) else ""
        if any(ch in root for ch in "*?["):
            matches = [m for m in fs.glob(root) if fs.isfile(m)]
        elif fs.isdir(root):
            matches = [
                m for m in fs.find(root) if posixpath.splitext(m)[1].lower() in VIDEO_SUFFIXES
            ]
        elif fs.exists(root):
            matches = [root]
        else:
            raise StorageError(f"{item}: no such file, folder or matching glob")
        found.extend(protocol + m if protocol else str(Path(m)) for m in sorted(matches))
    return list(dict.fromkeys(found))


def localize(uri: str, cache_dir: str | Path) -> str:
    """A local path for ``uri`` (itself when local; else a cached download)."""
    if not _is_url(uri):
        return uri[len("file://") :] if uri.startswith("file://") else uri
    fs, path = fsspec.core.url_to_fs(uri)
    try:
        info = fs.info(path)
    except Exception as error:
        raise StorageError(f"{uri}: cannot read ({error})") from error
    tag = hashlib.sha256(f"{uri}|{info.get('size')}|{info.get('ETag', '')}".encode()).hexdigest()
    target = Path(cache_dir) / "inputs" / tag[:16] / posixpath.basename(path)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        try:
            fs.get_file(path, str(tmp))
        except Exception as error:
            raise StorageError(f"{uri}: download failed ({error})") from error
        tmp.replace(target)
    return str(target)
