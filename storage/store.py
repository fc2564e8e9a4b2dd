"""One storage layer for every output, on any fsspec URL (local folder, ``s3://``, ``gs://``, ...).

Layout under the output root (defined once, in :func:`output_relpath`)::

    <table>/video_id=<id>/part-0.parquet     one file per table and video (hive partition)
    renders/<id>.mp4                         artifact "render": mesh-overlay video
    exports/<id>/...                         artifact "exports": SMPL parameters per track
    plots/<id>/...                           artifact "plots": per-video figures
    _manifests/<id>.json                     what is committed for the video (for users and runs)
    _staging/<txn>/...                       files of transactions not yet finished

Why this commit protocol. The tables are read by plain readers with no project code
(``pd.read_parquet("out/smpl")``, ``pyarrow.dataset``, DuckDB ``read_parquet(...,
hive_partitioning=1)``, polars ``scan_parquet``): they see every parquet file in a table's folders
and ignore manifests. So nothing uncommitted may ever sit in a table folder, and a table's rows of
a video must change in one step. Every file of a transaction is therefore staged under
``_staging/<txn>/`` (outside the table folders; readers skip ``_``-prefixed folders), and a commit

1. writes a journal ``_staging/<txn>/_commit.json`` (the moves, the outputs to delete, the
   manifest): from here on the transaction is committed and will be finished, by this process or
   by :meth:`Store.recover` after a crash;
2. moves each staged file onto its final name. A table of a video is one file, and a move
   replaces it in one step (``rename`` locally; an S3 object copy replaces the object atomically),
   so a reader of one table sees the old or the new rows of the video, never both, never none;
3. deletes the outputs of the video that the new commit does not produce;
4. writes the manifest (temporary name, then moved), then deletes the staging folder.

A crash before step 1 leaves only a staging folder without journal, which recovery deletes once
its owner (``<host>-<pid>-<created>-<random>``) is known to be dead; a crash after it is rolled
forward. Across tables of one video a reader can see a mix only while a commit (or its
roll-forward) is running.

Why not Delta Lake: plain pandas / DuckDB ``read_parquet`` / polars readers of a Delta table read
its data folder, tombstoned (replaced) files included, so they would see duplicates after every
re-run; only Delta-aware readers would be right, and DuckDB's ``delta`` extension is downloaded at
run time, which is impossible offline.

Paths are never taken from stored content: every path read or deleted is derived from the root, a
name (a table name matching :data:`TABLE_RE`, or an :data:`ARTIFACTS` key) and a validated video
id, so a tampered manifest or journal cannot make the store read or delete outside the output.
Buckets are never created (a typo in a bucket name must fail, not write into a new bucket).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import posixpath
import re
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from storage import credentials
from storage.errors import StorageError
from storage.schemas import SCHEMA_VERSION

log = logging.getLogger(__name__)

MANIFEST_DIR = "_manifests"
STAGING_DIR = "_staging"
JOURNAL_NAME = "_commit.json"
PART_NAME = "part-0.parquet"
JOURNAL_FORMAT = "pmrr-commit/1"

VIDEO_ID_RE = re.compile(r"^[0-9a-f]{8,64}$")
TABLE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# artifact key -> (path template, is a folder). A table may not take these names or folders.
ARTIFACTS: dict[str, tuple[str, bool]] = {
    "render": ("renders/{video_id}.mp4", False),
    "exports": ("exports/{video_id}", True),
    "plots": ("plots/{video_id}", True),
    "annotations": ("annotations/{video_id}", True),
}
RESERVED_NAMES = frozenset(ARTIFACTS) | {"renders"}
# one path component of a file inside a folder artifact: no separators, no hidden/parent names
_FILE_PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=@,-]*$")
_TXN_RE = re.compile(r"^(?P<host>[A-Za-z0-9._-]+)-(?P<pid>\d+)-(?P<created>\d+)-[0-9a-f]{8}$")
# file systems without folders: makedirs there is meaningless (and s3fs would create a bucket)
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss"})

ABANDONED_AFTER_S = 6 * 3600.0
_HOST = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname() or "localhost")
# transactions of this process that may still be written or committed (gone when collected)
_ACTIVE: weakref.WeakValueDictionary[str, Transaction] = weakref.WeakValueDictionary()
_RECOVER_LOCK = threading.Lock()


# layout ---------------------------------------------------------------------------------------
def check_video_id(video_id: str) -> str:
    """The id is part of every path: lowercase hex only, so it can never climb out of a folder."""
    if not isinstance(video_id, str) or not VIDEO_ID_RE.match(video_id):
        raise StorageError(f"invalid video id {video_id!r}: expected 8-64 lowercase hex digits")
    return video_id


def check_name(name: str) -> str:
    """A table name (``TABLE_RE``, not an artifact's name) or an :data:`ARTIFACTS` key."""
    if isinstance(name, str) and (name in ARTIFACTS or TABLE_RE.match(name)):
        if name not in RESERVED_NAMES or name in ARTIFACTS:
            return name
    raise StorageError(
        f"invalid output name {name!r}: a table name matching {TABLE_RE.pattern} "
        f"(not {sorted(RESERVED_NAMES)}) or an artifact key {sorted(ARTIFACTS)}"
    )


def check_table_name(name: str) -> str:
    if name in ARTIFACTS:
        raise StorageError(f"{name!r} is an artifact key, not a table name")
    return check_name(name)


def output_relpath(name: str, video_id: str) -> tuple[str, bool]:
    """Where output ``name`` of ``video_id`` lives, relative to the root, and whether it is a
    folder. The only place that turns names into paths."""
    check_video_id(video_id)
    if check_name(name) in ARTIFACTS:
        template, is_dir = ARTIFACTS[name]
        return template.format(video_id=video_id), is_dir
    return f"{name}/video_id={video_id}/{PART_NAME}", False


def parse_output_file(rel: str, video_id: str) -> str | None:
    """The output name a file path (relative to the root) belongs to, or None when the path is
    not a file of ``video_id``'s outputs in the layout."""
    parts = rel.split("/")
    for key, (template, is_dir) in ARTIFACTS.items():
        base = template.format(video_id=video_id)
        if not is_dir and rel == base:
            return key
        if is_dir and rel.startswith(base + "/"):
            inner = rel[len(base) + 1 :].split("/")
            return key if all(_FILE_PART_RE.match(p) for p in inner) else None
    if len(parts) == 3 and parts[1:] == [f"video_id={video_id}", PART_NAME]:
        try:
            return check_table_name(parts[0])
        except StorageError:
            return None
    return None


def _new_txn() -> str:
    return f"{_HOST}-{os.getpid()}-{int(time.time())}-{secrets.token_hex(4)}"


def _process_state(pid: int) -> tuple[str, float] | None:
    """(state letter, start time in epoch seconds) of a Linux process; None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration, IndexError):
        return None


def _owner_alive(txn: str, max_age_s: float) -> bool:
    """Whether the process that created staging folder ``txn`` may still be using it.

    On this host: this process's transactions are tracked in memory; another pid is dead when it
    does not exist, is a zombie, or was started after the transaction (pid reused). On another
    host the process cannot be asked, so only age decides."""
    match = _TXN_RE.match(txn)
    if match is None:
        return True  # not named by this code: never touched
    pid, created = int(match["pid"]), int(match["created"])
    if match["host"] != _HOST:
        return time.time() - created < max_age_s
    if pid == os.getpid():
        return txn in _ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    state = _process_state(pid)
    if state is None:
        return True
    letter, started = state
    return letter not in ("Z", "X") and started <= created + 2


def _pause(step: str) -> None:
    """Test hook: ``PMRR_TEST_COMMIT_PAUSE=<step>`` makes a commit print ``PMRR_PAUSED <step>``
    and sleep at that step, so a test can SIGKILL it at a known point. Steps: ``staged`` (before
    the journal), ``journal``, ``move-<n>`` (after the n-th move), ``deleted``, ``manifest``."""
    if os.environ.get("PMRR_TEST_COMMIT_PAUSE") == step:
        print(f"PMRR_PAUSED {step}", flush=True)
        time.sleep(3600)


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


#: Rows per parquet row group. pyarrow's default (about a million rows) encodes a whole table
#: in memory before the first byte is written: 250 MiB more at the commit of an hour's `smpl`
#: table (``benchmarks/long_input.py``), 70 MiB in groups of this size, for files 3 % larger.
#: Readers (pandas, pyarrow, DuckDB) read the groups as one table; DuckDB skips the groups a
#: filter rules out.
ROW_GROUP_ROWS = 16384


class _BadJournal(Exception):
    """A journal that does not describe moves in this store's layout: left alone."""


class Store:
    """An output root. ``storage_options`` go to fsspec (e.g. ``endpoint_url`` for S3);
    ``credentials_block`` names a Prefect AwsCredentials block for an ``s3://`` root (else the
    environment's credentials are used; :mod:`storage.credentials`)."""

    def __init__(
        self, url: str | Path, credentials_block: str | None = None, **storage_options: Any
    ) -> None:
        self.url = str(url).rstrip("/")
        self.credentials_block = credentials_block
        storage_options = {
            **credentials.storage_options(self.url, credentials_block),
            **storage_options,
        }
        protocol = self.url.split("://", 1)[0] if "://" in self.url else "file"
        if protocol in _OBJECT_STORES:
            # listings must be fresh: other processes (and crashed ones) change the output
            storage_options.setdefault("use_listings_cache", False)
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **storage_options)
        except Exception as error:  # unknown protocol, missing s3fs, bad options
            raise StorageError(f"{self.url}: cannot open storage ({error})") from error
        self.root = self.root.rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.object_store = bool(set(protocols) & _OBJECT_STORES)
        self._bucket_ok = False

    # paths ---------------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        """A path under the root; parts may not climb out of it."""
        for part in parts:
            if part.startswith("/") or ".." in part.split("/"):
                raise StorageError(f"{self.url}: path {part!r} leaves the output root")
        return posixpath.join(self.root, *parts)

    def uri(self, *parts: str) -> str:
        """A user-facing address of a file under the root (keeps the URL's protocol)."""
        return posixpath.join(self.url, *parts)

    def partition_dir(self, table: str, video_id: str) -> str:
        return self.path(check_table_name(table), f"video_id={check_video_id(video_id)}")

    def manifest_path(self, video_id: str) -> str:
        return self.path(MANIFEST_DIR, f"{check_video_id(video_id)}.json")

    def output_path(self, name: str, video_id: str) -> str:
        """Absolute (fs) path of a table file or artifact of a video."""
        return self.path(output_relpath(name, video_id)[0])

    # checks --------------------------------------------------------------------------------
    def _bucket(self) -> str:
        return self.root.split("/", 1)[0]

    def require_bucket(self) -> None:
        """Object stores: fail, naming the bucket, unless it exists. Buckets are never created,
        so a typo in a bucket name is an error instead of a new bucket."""
        if not self.object_store or self._bucket_ok:
            return
        bucket = self._bucket()
        name = f"{self.url.split('://', 1)[0]}://{bucket}"
        if hasattr(self.fs, "call_s3"):  # s3fs: tell a missing bucket from an unreachable one
            try:
                self.fs.call_s3("head_bucket", Bucket=bucket)
            except FileNotFoundError as error:
                raise StorageError(f"{name}: bucket does not exist") from error
            except PermissionError:
                pass  # exists, HeadBucket denied; writes may still be allowed
            except Exception as error:
                credentials.raise_for_credentials(error, self.url, self.credentials_block)
                raise StorageError(
                    f"{self.url}: output location is not reachable ({error})"
                ) from error
        elif not self.fs.exists(bucket):
            raise StorageError(f"{name}: bucket does not exist")
        self._bucket_ok = True

    def _makedirs(self, path: str) -> None:
        if not self.object_store:
            self.fs.makedirs(path, exist_ok=True)

    def prepare_destinations(self, paths: Iterable[str]) -> None:
        """Create the folder of every file a commit will move into place, and check that no
        folder sits where one of the files goes, before the commit's journal is written. A
        move can then only fail for a reason that arises during the commit itself. Done after
        the journal, a file in the way of one folder (say ``renders``) failed the commit half
        way: the tables moved before it were visible to plain readers beside the old rows of
        the others, until the obstacle was removed and recovery ran."""
        if self.object_store:  # no folders, and an object copy replaces whatever is there
            return
        for path in paths:
            folder = posixpath.dirname(path)
            try:
                self._makedirs(folder)
            except OSError as error:
                raise StorageError(
                    f"{self.url}: cannot create the folder {folder} ({error}): is a file in "
                    "the way?"
                ) from error
            if self.fs.isdir(path):
                raise StorageError(f"{path}: is a folder, where this commit writes a file")

    def check_writable(self) -> None:
        """Fail early, naming the URL, when the root cannot be written (no bucket, no rights)."""
        self.require_bucket()
        probe = self.path(STAGING_DIR, f"_probe-{secrets.token_hex(6)}")
        try:
            self._makedirs(posixpath.dirname(probe))
            with self.fs.open(probe, "wb") as handle:
                handle.write(b"ok")
            self.fs.rm(probe)
        except Exception as error:
            credentials.raise_for_credentials(error, self.url, self.credentials_block)
            raise StorageError(f"{self.url}: output location is not writable ({error})") from error

    # reading -------------------------------------------------------------------------------
    def manifest(self, video_id: str) -> dict[str, Any] | None:
        path = self.manifest_path(video_id)
        try:
            with self.fs.open(path, "rb") as handle:
                data = json.loads(handle.read())
        except FileNotFoundError:
            return None
        except Exception as error:
            raise StorageError(
                f"{self.uri(MANIFEST_DIR, video_id + '.json')}: unreadable ({error})"
            ) from error
        if not isinstance(data, dict):
            raise StorageError(f"{self.uri(MANIFEST_DIR, video_id + '.json')}: not an object")
        return data

    def committed_videos(self) -> list[str]:
        try:
            names = self.fs.ls(self.path(MANIFEST_DIR), detail=False)
        except FileNotFoundError:
            return []
        except Exception as error:
            raise StorageError(f"{self.url}: cannot list outputs ({error})") from error
        ids = (posixpath.basename(str(n).rstrip("/")) for n in names)
        return sorted(
            i[: -len(".json")] for i in ids if i.endswith(".json") and VIDEO_ID_RE.match(i[:-5])
        )

    def read_table(self, table: str, video_ids: Iterable[str] | None = None) -> pa.Table:
        """Rows of committed videos (``video_id`` restored from the hive path): the same rows a
        plain reader of ``<table>/`` sees for those videos. Paths come from the layout only."""
        check_table_name(table)
        committed = set(self.committed_videos())
        if video_ids is not None:
            wanted = [v for v in map(check_video_id, video_ids) if v in committed]
            files = [p for p in (self.output_path(table, v) for v in wanted) if self.fs.isfile(p)]
        else:  # one listing of the table's partitions, kept when their video is committed
            try:
                found = self.fs.glob(self.path(table, "video_id=*", PART_NAME))
            except FileNotFoundError:
                found = []
            prefix = "video_id="
            files = sorted(
                p
                for p in found
                if posixpath.basename(posixpath.dirname(p))[len(prefix) :] in committed
            )
        if not files:
            from storage.schemas import SCHEMAS

            schema = SCHEMAS.get(table)
            return schema.empty_table() if schema is not None else pa.table({})
        partitioning = pads.partitioning(pa.schema([("video_id", pa.string())]), flavor="hive")
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

    def present_outputs(self, video_id: str) -> set[str]:
        """Names of the outputs of ``video_id`` that exist now, found from the layout (table
        folders at the root, fixed artifact keys), not from any manifest."""
        check_video_id(video_id)
        names: set[str] = set()
        try:
            entries = self.fs.ls(self.root, detail=True)
        except FileNotFoundError:
            return names
        for entry in entries:
            folder = posixpath.basename(str(entry["name"]).rstrip("/"))
            if entry.get("type") != "directory" or not TABLE_RE.match(folder):
                continue
            if folder in RESERVED_NAMES:
                continue
            if self.fs.exists(self.output_path(folder, video_id)):
                names.add(folder)
        for key in ARTIFACTS:
            if self.fs.exists(self.output_path(key, video_id)):
                names.add(key)
        return names

    # commits -------------------------------------------------------------------------------
    def begin(self, video_id: str) -> Transaction:
        """A new transaction for ``video_id``, after finishing or clearing dead ones."""
        check_video_id(video_id)
        self.recover()
        return Transaction(self, video_id)

    def staging_path(self, txn: str, *parts: str) -> str:
        return self.path(STAGING_DIR, txn, *parts)

    def recover(self, max_age_s: float = ABANDONED_AFTER_S) -> dict[str, str]:
        """Finish or clear transactions whose process died; returns ``{txn: what was done}``.

        A staging folder with a journal is rolled forward (remaining moves, deletions, manifest)
        unless a newer commit of the video has replaced the one it started from (then it is
        superseded and deleted). One without a journal was never committed and is deleted. Only
        folders whose owner cannot be alive are touched: same host and a dead pid (or this
        process and not in use), or older than ``max_age_s`` when made on another host."""
        done: dict[str, str] = {}
        with _RECOVER_LOCK:
            try:
                entries = self.fs.ls(self.path(STAGING_DIR), detail=False)
            except FileNotFoundError:
                return done
            except Exception as error:
                raise StorageError(f"{self.url}: cannot list {STAGING_DIR} ({error})") from error
            for entry in sorted(entries):
                txn = posixpath.basename(str(entry).rstrip("/"))
                if not _TXN_RE.match(txn) or _owner_alive(txn, max_age_s):
                    continue
                done[txn] = self._recover_one(txn)
        return done

    def _recover_one(self, txn: str) -> str:
        try:
            with self.fs.open(self.staging_path(txn, JOURNAL_NAME), "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            self._rm_tree(self.staging_path(txn))
            log.info("%s: removed uncommitted transaction %s", self.url, txn)
            return "discarded (not committed)"
        try:
            journal = self._parse_journal(txn, raw)
        except _BadJournal as error:
            log.warning("%s: left transaction %s alone: %s", self.url, txn, error)
            return f"left alone ({error})"
        try:
            current = self.manifest(journal["video_id"])
        except StorageError:
            current = None  # unreadable: the roll-forward rewrites it
        current_txn = current.get("txn") if current else None
        if current and current_txn not in (txn, journal["previous_txn"]):
            self._rm_tree(self.staging_path(txn))
            log.warning("%s: transaction %s superseded by %s", self.url, txn, current_txn)
            return f"superseded by {current_txn}"
        try:
            self._apply(journal)
        except Exception as error:
            raise StorageError(f"{self.url}: cannot finish transaction {txn} ({error})") from error
        log.info("%s: rolled transaction %s forward", self.url, txn)
        return "rolled forward"

    def _parse_journal(self, txn: str, raw: bytes) -> dict[str, Any]:
        """Check that a journal only names this store's layout; rebuild what is derivable."""
        try:
            data = json.loads(raw)
            video_id = check_video_id(data["video_id"])
            if data.get("format") != JOURNAL_FORMAT or data.get("txn") != txn:
                raise _BadJournal("unknown format or transaction name")
            moves = []
            for src, dst in data["moves"]:
                if parse_output_file(dst, video_id) is None:
                    raise _BadJournal(f"move target {dst!r} is not an output of {video_id}")
                if src != f"{STAGING_DIR}/{txn}/{dst}":
                    raise _BadJournal(f"move source {src!r} is not staged by {txn}")
                moves.append((src, dst))
            outputs = sorted({check_name(n) for n in data["outputs"]})
            folders = [k for k in data["replace_folders"] if ARTIFACTS.get(k, ("", False))[1]]
            delete = sorted({check_name(n) for n in data["delete"]} - set(outputs))
            manifest = dict(data["manifest"])
            previous = data.get("previous_txn")
        except _BadJournal:
            raise
        except (StorageError, KeyError, TypeError, ValueError) as error:
            raise _BadJournal(str(error)) from error
        return {
            "format": JOURNAL_FORMAT,
            "video_id": video_id,
            "txn": txn,
            "previous_txn": previous,
            "moves": moves,
            "outputs": outputs,
            "replace_folders": folders,
            "delete": delete,
            "manifest": manifest,
        }

    def _manifest_for(self, journal: dict[str, Any]) -> dict[str, Any]:
        """The manifest to write: the journal's content with every path rebuilt from names."""
        video_id = journal["video_id"]
        manifest = dict(journal["manifest"])
        manifest["video_id"] = video_id
        manifest["txn"] = journal["txn"]
        manifest["tables"] = {
            n: output_relpath(n, video_id)[0] for n in journal["outputs"] if n not in ARTIFACTS
        }
        manifest["artifacts"] = {
            n: output_relpath(n, video_id)[0] for n in journal["outputs"] if n in ARTIFACTS
        }
        return manifest

    def _replace(self, src: str, dst: str) -> None:
        """Move one file onto ``dst``, replacing it in one step (rename / object copy)."""
        self._makedirs(posixpath.dirname(dst))
        if not self.object_store and "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        ):
            os.replace(src, dst)
        else:
            self.fs.mv(src, dst)

    def _rm_tree(self, path: str) -> None:
        try:
            self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass

    def _delete_output(self, name: str, video_id: str) -> None:
        rel, is_dir = output_relpath(name, video_id)
        path = self.path(rel)
        try:
            if is_dir:
                self._rm_tree(path)
            elif self.fs.exists(path):
                self.fs.rm_file(path)
                if not self.object_store:  # the empty video_id=<id> folder
                    parent = posixpath.dirname(path)
                    if name not in ARTIFACTS and not self.fs.ls(parent):
                        self.fs.rmdir(parent)
        except FileNotFoundError:
            pass

    def _write_bytes(self, path: str, data: bytes) -> None:
        self._makedirs(posixpath.dirname(path))
        with self.fs.open(path, "wb") as handle:
            handle.write(data)

    def _apply(self, journal: dict[str, Any]) -> None:
        """Steps 2-4 of the protocol; idempotent, so a roll-forward may repeat any of them."""
        video_id, txn = journal["video_id"], journal["txn"]
        for number, (src, dst) in enumerate(journal["moves"], 1):
            staged = self.path(src)
            if self.fs.exists(staged):
                self._replace(staged, self.path(dst))
            elif not self.fs.exists(self.path(dst)):
                log.warning("%s: %s and its staged copy are both missing", self.url, dst)
            _pause(f"move-{number}")
        for key in journal["replace_folders"]:  # files of the old folder not written again
            folder = self.output_path(key, video_id)
            new = {self.path(dst) for _, dst in journal["moves"]}
            try:
                old = self.fs.find(folder)
            except FileNotFoundError:
                old = []
            for path in old:
                if path not in new and parse_output_file(
                    posixpath.relpath(path, self.root), video_id
                ):
                    self.fs.rm_file(path)
        for name in journal["delete"]:
            self._delete_output(name, video_id)
        _pause("deleted")
        manifest = self._manifest_for(journal)
        tmp = self.staging_path(txn, "_manifest.json")
        self._write_bytes(tmp, json.dumps(manifest, indent=2, default=str).encode())
        self._replace(tmp, self.manifest_path(video_id))
        _pause("manifest")
        self._rm_tree(self.staging_path(txn))


class Transaction:
    """Stage the outputs of one video under ``_staging/<txn>/``, then :meth:`commit` them all;
    :meth:`abort` (or recovery, after a crash) leaves no trace of an uncommitted one."""

    def __init__(self, store: Store, video_id: str) -> None:
        self.store = store
        self.video_id = check_video_id(video_id)
        self.txn = _new_txn()
        self._staged: dict[str, str] = {}  # final relpath -> staged relpath
        self._written: set[str] = set()
        self._folders: set[str] = set()
        self._kept: set[str] = set()
        self._journaled = False
        self._closed = False
        _ACTIVE[self.txn] = self

    @property
    def tables(self) -> dict[str, str]:
        names = (self._written | self._kept) - set(ARTIFACTS)
        return {n: output_relpath(n, self.video_id)[0] for n in sorted(names)}

    @property
    def artifacts(self) -> dict[str, str]:
        names = (self._written | self._kept) & set(ARTIFACTS)
        return {n: output_relpath(n, self.video_id)[0] for n in sorted(names)}

    def _open_check(self, name: str) -> None:
        if self._closed:
            raise StorageError(f"transaction {self.txn} is already committed or aborted")
        if name in self._kept:
            raise StorageError(f"{name!r} is kept from the last commit; it cannot be rewritten")

    def _stage_rel(self, final_rel: str) -> str:
        return f"{STAGING_DIR}/{self.txn}/{final_rel}"

    def _upload(self, final_rel: str, write) -> None:
        staged_rel = self._stage_rel(final_rel)
        target = self.store.path(staged_rel)
        self.store._makedirs(posixpath.dirname(target))
        write(target)
        self._staged[final_rel] = staged_rel

    def write_table(self, name: str, table: pa.Table, schema: pa.Schema | None = None) -> None:
        """Stage ``table`` as the whole of table ``name`` for this video."""
        check_table_name(name)
        self._open_check(name)
        data = _conform(table, schema)
        rel, _ = output_relpath(name, self.video_id)

        def write(target: str) -> None:
            with self.store.fs.open(target, "wb") as handle:
                pq.write_table(data, handle, row_group_size=ROW_GROUP_ROWS)

        try:
            self.store.require_bucket()
            self._upload(rel, write)
        except StorageError:
            raise
        except Exception as error:
            raise StorageError(f"{self.store.uri(name)}: cannot write table ({error})") from error
        self._written.add(name)

    def put_file(self, local: str | Path, key: str) -> None:
        """Stage a local file as file artifact ``key`` (``render`` -> ``renders/<id>.mp4``)."""
        if key not in ARTIFACTS or ARTIFACTS[key][1]:
            files = sorted(k for k, (_, is_dir) in ARTIFACTS.items() if not is_dir)
            raise StorageError(f"put_file: unknown file artifact {key!r} (one of {files})")
        self._open_check(key)
        rel, _ = output_relpath(key, self.video_id)
        try:
            self.store.require_bucket()
            self._upload(rel, lambda target: self.store.fs.put_file(str(local), target))
        except StorageError:
            raise
        except Exception as error:
            raise StorageError(f"{self.store.uri(rel)}: cannot write ({error})") from error
        self._written.add(key)

    def put_dir(self, local_dir: str | Path, key: str) -> None:
        """Stage the files under a local folder (recursively) as folder artifact ``key``; at
        commit they replace the whole previous folder (files not written again disappear)."""
        if key not in ARTIFACTS or not ARTIFACTS[key][1]:
            dirs = sorted(k for k, (_, is_dir) in ARTIFACTS.items() if is_dir)
            raise StorageError(f"put_dir: unknown folder artifact {key!r} (one of {dirs})")
        self._open_check(key)
        base, _ = output_relpath(key, self.video_id)
        local_dir = Path(local_dir)
        files = sorted(p for p in local_dir.rglob("*") if p.is_file())
        for file in files:
            parts = file.relative_to(local_dir).parts
            if not all(_FILE_PART_RE.match(p) for p in parts):
                raise StorageError(f"{file}: file name not allowed in an output folder")
        try:
            self.store.require_bucket()
            for file in files:
                rel = posixpath.join(base, *file.relative_to(local_dir).parts)
                self._upload(rel, lambda target, f=file: self.store.fs.put_file(str(f), target))
        except StorageError:
            raise
        except Exception as error:
            raise StorageError(f"{self.store.uri(base)}: cannot write ({error})") from error
        self._written.add(key)
        self._folders.add(key)

    def keep(self, name: str) -> None:
        """Carry output ``name`` (table or artifact key) of the committed manifest into this
        commit unchanged, without rewriting it (e.g. keep the render when only analytics are
        recomputed)."""
        check_name(name)
        if self._closed:
            raise StorageError(f"transaction {self.txn} is already committed or aborted")
        if name in self._written:
            raise StorageError(f"{name!r} is already written in this transaction")
        manifest = self.store.manifest(self.video_id) or {}
        listed = set(manifest.get("tables") or {}) | set(manifest.get("artifacts") or {})
        if name not in listed:
            raise StorageError(
                f"{self.store.uri(MANIFEST_DIR, self.video_id + '.json')}: cannot keep {name!r}, "
                "it is not in the committed outputs"
            )
        rel, is_dir = output_relpath(name, self.video_id)
        if not is_dir and not self.store.fs.exists(self.store.path(rel)):
            raise StorageError(f"{self.store.uri(rel)}: cannot keep {name!r}, file is missing")
        self._kept.add(name)

    def commit(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Journal, move into place, delete what this commit no longer produces, write the
        manifest (see the module docstring). Returns the manifest."""
        if self._closed:
            raise StorageError(f"transaction {self.txn} is already committed or aborted")
        store = self.store
        uri = store.uri(MANIFEST_DIR, f"{self.video_id}.json")
        try:
            store.require_bucket()
            try:
                previous = store.manifest(self.video_id)
            except StorageError:
                previous = None  # unreadable: replaced by this commit
            outputs = sorted(self._written | self._kept)
            delete = sorted(store.present_outputs(self.video_id) - set(outputs))
            manifest = {
                **(extra or {}),
                "video_id": self.video_id,
                "schema_version": SCHEMA_VERSION,
                "txn": self.txn,
                "committed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "tables": self.tables,
                "artifacts": self.artifacts,
            }
            journal = {
                "format": JOURNAL_FORMAT,
                "video_id": self.video_id,
                "txn": self.txn,
                "previous_txn": previous.get("txn") if previous else None,
                "moves": [[self._staged[d], d] for d in sorted(self._staged)],
                "outputs": outputs,
                "replace_folders": sorted(self._folders),
                "delete": delete,
                "manifest": manifest,
            }
            _pause("staged")
            store.prepare_destinations(
                [store.path(d) for d in self._staged] + [store.manifest_path(self.video_id)]
            )
            data = json.dumps(journal, indent=2, default=str).encode()
            journal_path = store.staging_path(self.txn, JOURNAL_NAME)
            if store.object_store:  # one PUT: the object appears whole or not at all
                store._write_bytes(journal_path, data)
            else:
                tmp = store.staging_path(self.txn, JOURNAL_NAME + ".tmp")
                store._write_bytes(tmp, data)
                store._replace(tmp, journal_path)
            self._journaled = True
            _pause("journal")
            store._apply(store._parse_journal(self.txn, data))
        except StorageError:
            raise
        except Exception as error:
            hint = "; Store.recover() will finish it" if self._journaled else ""
            raise StorageError(f"{uri}: commit failed ({error}){hint}") from error
        finally:
            self._closed = True
            _ACTIVE.pop(self.txn, None)
        return store._manifest_for(store._parse_journal(self.txn, data))

    def abort(self) -> None:
        """Delete the staged files. A commit that got as far as its journal is not undone: it
        is committed, and recovery finishes it."""
        self._closed = True
        _ACTIVE.pop(self.txn, None)
        if self._journaled:
            return
        try:
            self.store._rm_tree(self.store.staging_path(self.txn))
        except Exception:  # best effort: recovery removes it later, readers never see it
            log.warning("%s: could not remove staging of %s", self.store.url, self.txn)
        self._staged.clear()
