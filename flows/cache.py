"""Stage results on disk, keyed by the stage's fingerprint, in a format that cannot run code.

Prefect's result persistence pickles, and a result record names its own serializer, so anyone
who can write to a shared output or cache folder could make the next run execute code. Stage
results here are instead a zip of ``meta.json`` (structure, scalars, strings) plus ``.npy``
arrays read with ``allow_pickle=False`` and parquet tables. Only the dataclasses listed in
:data:`ALLOWED` can be rebuilt, by name, from that allow-list; anything else is refused. A
damaged entry is a cache miss (the stage recomputes), never an error. Writes go to a temporary
name and are renamed into place, so a killed run leaves no half-written entry.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from tasks.probe import VideoInfo
from tasks.sequence import SmplSequence
from tasks.shots import Shot
from tasks.tracking import TrackedBoxes

logger = logging.getLogger(__name__)

ALLOWED: dict[str, type] = {
    cls.__name__: cls for cls in (VideoInfo, Shot, TrackedBoxes, SmplSequence)
}
SUFFIX = ".stage.zip"
#: arrays this large get a ZIP64 entry (needed from 2 GiB; the size is not known up front)
ZIP64_FROM = 1 << 30


class CodecError(ValueError):
    """A value that the stage cache cannot store, or an entry it refuses to read."""


class _Writer:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.count = 0

    def _name(self, ext: str) -> str:
        self.count += 1
        return f"b{self.count}{ext}"

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise CodecError("object arrays cannot be stored")
            name = self._name(".npy")
            # straight into the entry: no copy of the array, nor of the archive, in memory
            with self.archive.open(name, "w", force_zip64=value.nbytes >= ZIP64_FROM) as handle:
                np.save(handle, value, allow_pickle=False)
            return {"$array": name}
        if isinstance(value, pd.DataFrame):
            name = self._name(".parquet")
            buffer = io.BytesIO()
            value.to_parquet(buffer, index=False)
            self.archive.writestr(name, buffer.getvalue())
            return {"$frame": name, "attrs": self.encode(dict(value.attrs))}
        if dataclasses.is_dataclass(value) and type(value).__name__ in ALLOWED:
            fields = {
                f.name: self.encode(getattr(value, f.name)) for f in dataclasses.fields(value)
            }
            return {"$dataclass": type(value).__name__, "fields": fields}
        if isinstance(value, list | tuple):
            return {
                "$list" if isinstance(value, list) else "$tuple": [self.encode(v) for v in value]
            }
        if isinstance(value, dict):
            return {"$dict": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        raise CodecError(f"cannot store a {type(value).__name__}")


class _Reader:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive

    def decode(self, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if "$array" in value:
            with self.archive.open(value["$array"]) as handle:
                return np.load(handle, allow_pickle=False)
        if "$frame" in value:
            frame = pd.read_parquet(io.BytesIO(self.archive.read(value["$frame"])))
            frame.attrs.update(self.decode(value["attrs"]))
            return frame
        if "$dataclass" in value:
            cls = ALLOWED.get(value["$dataclass"])
            if cls is None:
                raise CodecError(f"refusing to build {value['$dataclass']!r}")
            return cls(**{k: self.decode(v) for k, v in value["fields"].items()})
        if "$list" in value:
            return [self.decode(v) for v in value["$list"]]
        if "$tuple" in value:
            return tuple(self.decode(v) for v in value["$tuple"])
        if "$dict" in value:
            return {self.decode(k): self.decode(v) for k, v in value["$dict"]}
        raise CodecError(f"unknown entry {sorted(value)}")


def dump(value: Any, file: str | Path | IO[bytes]) -> None:
    """Serialise a stage result (see the module docstring for what may be in it) into ``file``.
    Arrays stream into the file: an hour of person-frames is 200 MB of them, and building the
    archive in memory first held about three copies of it at once."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        meta = _Writer(archive).encode(value)
        archive.writestr("meta.json", json.dumps(meta))


def load(file: str | Path | IO[bytes]) -> Any:
    """A stage result from ``file`` (arrays read straight into their own memory)."""
    with zipfile.ZipFile(file) as archive:
        return _Reader(archive).decode(json.loads(archive.read("meta.json")))


def dumps(value: Any) -> bytes:
    """:func:`dump` into bytes."""
    buffer = io.BytesIO()
    dump(value, buffer)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    """:func:`load` from bytes."""
    return load(io.BytesIO(data))


class StageCache:
    """``<folder>/<video_id>/<stage>-<fingerprint>.stage.zip``; a ``None`` folder disables it.

    :meth:`prune` keeps only the current fingerprint of each stage of a video, so the cache holds
    one result per stage and video instead of growing with every settings or code change."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder else None

    def _path(self, video_id: str, stage: str, fingerprint: str) -> Path:
        assert self.folder is not None
        for part in (video_id, stage, fingerprint):
            if not part.isidentifier() and not part.isalnum():
                raise CodecError(f"bad stage cache key {part!r}")
        return self.folder / video_id / f"{stage}-{fingerprint}{SUFFIX}"

    def get(self, video_id: str, stage: str, fingerprint: str) -> tuple[bool, Any]:
        """(found, value); a missing or unreadable entry is (False, None)."""
        if self.folder is None:
            return False, None
        path = self._path(video_id, stage, fingerprint)
        try:
            return True, load(path)
        except FileNotFoundError:
            return False, None
        except Exception as error:  # damaged or foreign entry: recompute, never trust
            logger.warning("ignoring unreadable stage cache %s (%s)", path, error)
            return False, None

    def put(self, video_id: str, stage: str, fingerprint: str, value: Any) -> None:
        if self.folder is None:
            return
        path = self._path(video_id, stage, fingerprint)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            dump(value, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a value it cannot store leaves nothing behind
            raise
        os.replace(tmp, path)

    def prune(self, video_id: str, current: dict[str, str]) -> int:
        """Delete the video's entries whose fingerprint is not ``current[stage]``; returns how
        many were deleted."""
        if self.folder is None or not (self.folder / video_id).is_dir():
            return 0
        keep = {self._path(video_id, stage, fp).name for stage, fp in current.items()}
        removed = 0
        for entry in (self.folder / video_id).glob(f"*{SUFFIX}"):
            if entry.name not in keep:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed
