"""One storage layer for every output, on any fsspec URL (local folder, ``s3://``, ``gs://``, ...).

Layout under the output root::

    <table>/video_id=<id>/part-0.parquet     hive partition per video (video_id lives in the path)
    renders/<id>.mp4                         mesh-overlay video
    exports/<id>/track_<n>.npz               SMPL parameters per track
    _manifests/<id>.json                     commit marker, written last

Why this protocol: object stores have no atomic multi-file rename, so atomicity is per video via
a manifest. Every file is first written under a dot-prefixed temporary name (pyarrow and pandas
skip ``.``/``_`` prefixed files when they scan a folder), the old manifest is removed (so a crash
from here on leaves the video *uncommitted*, never half-old/half-new), temporary files are moved
to their final names -- replacing the previous run's files of the same name, which is what makes
a re-run idempotent -- and the manifest is written last. :func:`read_table` trusts manifests only.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from storage.errors import StorageError
from storage.schemas import SCHEMA_VERSION

MANIFEST_DIR = "_manifests"
PART_NAME = "part-0.parquet"


def _conform(table: pa.Table, schema: pa.Schema | None) -> pa.Table:
    """Cast to the declared schema (column order, types) and drop the partition column.

    ``video_id`` may be absent: it is not stored in the file but taken from the hive path."""
    if schema is not None:
        if "video_id" not in table.column_names and "video_id" in schema.names:
            schema = pa.schema([f for f in schema if f.name != "video_id"], schema.metadata)
        missing = [f.name for f in schema if f.name not in table.column_names]
        if missing:
            raise ValueError(f"table lacks columns {missing}")
        table = table.select(schema.names).cast(schema)
    if "video_id" in table.column_names:
        table = table.drop_columns(["video_id"])
    return table


class Store:
    """An output root. ``storage_options`` go to fsspec (e.g. ``endpoint_url`` for S3)."""

    def __init__(self, url: str | Path, **storage_options: Any) -> None:
        self.url = str(url).rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **storage_options)
        except Exception as error:  # unknown protocol, missing s3fs, bad options
            raise StorageError(f"{self.url}: cannot open storage ({error})") from error
        self.root = self.root.rstrip("/")

    # paths ---------------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def uri(self, *parts: str) -> str:
        """A user-facing address of a file under the root (keeps the URL's protocol)."""
        return posixpath.join(self.url, *parts)

    def partition_dir(self, table: str, video_id: str) -> str:
        return self.path(table, f"video_id={video_id}")

    def manifest_path(self, video_id: str) -> str:
        return self.path(MANIFEST_DIR, f"{video_id}.json")

    # checks --------------------------------------------------------------------------------
    def check_writable(self) -> None:
        """Fail early, naming the URL, when the root cannot be written (no bucket, no rights)."""
        probe = self.path(f"_probe-{uuid.uuid4().hex}")
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            with self.fs.open(probe, "wb") as handle:
                handle.write(b"ok")
            self.fs.rm(probe)
        except Exception as error:
            raise StorageError(f"{self.url}: output location is not writable ({error})") from error

    # commits -------------------------------------------------------------------------------
    def begin(self, video_id: str) -> Transaction:
        return Transaction(self, video_id)

    def manifest(self, video_id: str) -> dict[str, Any] | None:
        try:
            with self.fs.open(self.manifest_path(video_id), "rb") as handle:
                return json.loads(handle.read())
        except FileNotFoundError:
            return None
        except Exception as error:
            raise StorageError(
                f"{self.uri(MANIFEST_DIR, video_id)}: unreadable ({error})"
            ) from error

    def committed_videos(self) -> list[str]:
        try:
            names = self.fs.ls(self.path(MANIFEST_DIR), detail=False)
        except FileNotFoundError:
            return []
        except Exception as error:
            raise StorageError(f"{self.url}: cannot list outputs ({error})") from error
        return sorted(
            posixpath.basename(n)[: -len(".json")] for n in names if str(n).endswith(".json")
        )

    def read_table(self, table: str, video_ids: Iterable[str] | None = None) -> pa.Table:
        """Rows of committed videos only (``video_id`` restored from the hive path)."""
        ids = list(video_ids) if video_ids is not None else self.committed_videos()
        files = []
        for video_id in ids:
            manifest = self.manifest(video_id)
            if manifest and table in manifest.get("tables", {}):
                files.append(self.path(manifest["tables"][table]))
        partitioning = pads.partitioning(pa.schema([("video_id", pa.string())]), flavor="hive")
        if not files:
            from storage.schemas import SCHEMAS

            schema = SCHEMAS.get(table)
            return schema.empty_table() if schema is not None else pa.table({})
        try:
            dataset = pads.dataset(
                files,
                filesystem=self.fs,
                format="parquet",
                partitioning=partitioning,
                partition_base_dir=self.path(table),
            )
            return dataset.to_table()
        except Exception as error:
            raise StorageError(f"{self.uri(table)}: cannot read ({error})") from error


@dataclass
class Transaction:
    """Stage files of one video, then :meth:`commit` them all; :meth:`abort` leaves no trace."""

    store: Store
    video_id: str
    txn: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    staged: list[tuple[str, str, bool]] = field(default_factory=list)  # (tmp, final, is_dir)
    tables: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)

    def _tmp(self, final: str) -> str:
        head, tail = posixpath.split(final)
        return posixpath.join(head, f".{tail}.{self.txn}.tmp")

    def write_table(self, name: str, table: pa.Table, schema: pa.Schema | None = None) -> None:
        final = posixpath.join(self.store.partition_dir(name, self.video_id), PART_NAME)
        tmp = self._tmp(final)
        data = _conform(table, schema)
        try:
            self.store.fs.makedirs(posixpath.dirname(final), exist_ok=True)
            with self.store.fs.open(tmp, "wb") as handle:
                pq.write_table(data, handle)
        except Exception as error:
            raise StorageError(f"{self.store.uri(name)}: cannot write table ({error})") from error
        self.staged.append((tmp, final, False))
        self.tables[name] = posixpath.relpath(final, self.store.root)

    def put_file(self, local: str | Path, rel_path: str, key: str) -> None:
        """Upload a local file (render) to ``rel_path`` at commit."""
        final = self.store.path(rel_path)
        tmp = self._tmp(final)
        try:
            self.store.fs.makedirs(posixpath.dirname(final), exist_ok=True)
            self.store.fs.put_file(str(local), tmp)
        except Exception as error:
            raise StorageError(f"{self.store.uri(rel_path)}: cannot write ({error})") from error
        self.staged.append((tmp, final, False))
        self.artifacts[key] = rel_path

    def put_dir(self, local_dir: str | Path, rel_path: str, key: str) -> None:
        """Upload a local folder (exports); it replaces the whole previous folder at commit."""
        final = self.store.path(rel_path)
        tmp = self._tmp(final)
        try:
            self.store.fs.makedirs(tmp, exist_ok=True)
            for file in sorted(Path(local_dir).iterdir()):
                self.store.fs.put_file(str(file), posixpath.join(tmp, file.name))
        except Exception as error:
            raise StorageError(f"{self.store.uri(rel_path)}: cannot write ({error})") from error
        self.staged.append((tmp, final, True))
        self.artifacts[key] = rel_path

    def commit(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        fs = self.store.fs
        uri = self.store.uri(MANIFEST_DIR, f"{self.video_id}.json")
        try:
            old = self.store.manifest(self.video_id)
            if fs.exists(self.store.manifest_path(self.video_id)):
                fs.rm(self.store.manifest_path(self.video_id))  # uncommit first
            for tmp, final, is_dir in self.staged:
                if fs.exists(final):
                    fs.rm(final, recursive=is_dir)
                if is_dir:
                    self._move_dir(tmp, final)
                else:
                    fs.mv(tmp, final)
            self._drop_stale(old)
            manifest = {
                "video_id": self.video_id,
                "schema_version": SCHEMA_VERSION,
                "txn": self.txn,
                "committed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "tables": self.tables,
                "artifacts": self.artifacts,
                **(extra or {}),
            }
            final = self.store.manifest_path(self.video_id)
            tmp = self._tmp(final)
            fs.makedirs(posixpath.dirname(final), exist_ok=True)
            with fs.open(tmp, "wb") as handle:
                handle.write(json.dumps(manifest, indent=2, default=str).encode())
            fs.mv(tmp, final)
        except StorageError:
            raise
        except Exception as error:
            raise StorageError(f"{uri}: commit failed ({error})") from error
        return manifest

    def _move_dir(self, tmp: str, final: str) -> None:
        """Move a staged folder file by file: object stores have no folders, and s3fs's
        recursive ``mv`` of a prefix also tries to copy the prefix itself (NoSuchKey)."""
        fs = self.store.fs
        for src in fs.find(tmp):
            dst = posixpath.join(final, posixpath.relpath(src, tmp))
            fs.makedirs(posixpath.dirname(dst), exist_ok=True)  # local folders; no-op on S3
            fs.mv(src, dst)
        if fs.exists(tmp):  # the empty local folder (object stores have none left)
            fs.rm(tmp, recursive=True)

    def _drop_stale(self, old: dict[str, Any] | None) -> None:
        """Remove the previous run's outputs that this run no longer produces."""
        if not old:
            return
        fs = self.store.fs
        for name, rel in old.get("tables", {}).items():
            if name not in self.tables and fs.exists(self.store.path(rel)):
                fs.rm(self.store.path(rel))
        for key, rel in old.get("artifacts", {}).items():
            if key not in self.artifacts and fs.exists(self.store.path(rel)):
                fs.rm(self.store.path(rel), recursive=True)

    def abort(self) -> None:
        for tmp, _final, is_dir in self.staged:
            try:
                if self.store.fs.exists(tmp):
                    self.store.fs.rm(tmp, recursive=is_dir)
            except Exception:  # best effort: temporary names are ignored by readers anyway
                pass
        self.staged.clear()
