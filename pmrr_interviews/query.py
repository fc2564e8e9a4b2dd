"""``pmrr query OUT "SQL"``: DuckDB SQL over the committed tables of an output root.

One DuckDB view per table of the pipeline (the names and columns come from the schemas,
:mod:`storage.schemas` and :mod:`analytics.tables`): ``videos``, ``shots``, ``tracks``, ``smpl``,
``features_frames``, ``features_windows``, ``features_summary``, ``features_people``,
``events``. A view reads exactly the files :meth:`storage.Store.read_table` reads:
``<table>/video_id=<id>/part-0.parquet`` of the videos with a manifest (never ``_staging/``,
never a partition of a video that was not committed), ``video_id`` typed VARCHAR from the hive path, the schema's columns in the schema's
order (null where no file has a column, e.g. data of an older release), and an empty view with
those columns when the table has no file yet, so a query on a video without analytics returns no
rows instead of failing. Interrupted commits are finished first (:meth:`storage.Store.recover`),
as ``pmrr ls`` does.

Object stores (``s3://``, ...) are read through the project's fsspec file system, registered with
DuckDB (``register_filesystem``): no ``httpfs`` extension, which DuckDB would download at run time
(impossible offline); extension autoloading is switched off.

From Python::

    from pmrr_interviews.query import connect
    con = connect("out/")
    con.sql("select role, avg(nod_per_min) from features_summary group by role").df()

Exit status of the command: 0 done, 1 the output could not be read, 2 invalid SQL or arguments
(missing output, unknown output format).
"""

from __future__ import annotations

import argparse
import os
import posixpath
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from storage.errors import StorageError
from storage.store import MANIFEST_DIR, PART_NAME, Store

EXIT_OK = 0
EXIT_READ = 1
EXIT_USAGE = 2

#: ``--output`` file suffix -> format.
SUFFIX_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json"}
_COPY_OPTIONS = {
    "csv": "FORMAT csv, HEADER true",
    "json": "FORMAT json, ARRAY true",
    "parquet": "FORMAT parquet",
}


class QueryError(Exception):
    """A one-line problem for the user, with the exit status to return."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def table_schemas() -> dict[str, pa.Schema]:
    """Every table the pipeline writes, in the order of ``docs/TABLES.md``: the core schemas and
    the analytics schemas (the same two dicts ``scripts/tables_doc.py`` documents)."""
    from analytics.tables import SCHEMAS as ANALYTICS_SCHEMAS
    from storage.schemas import SCHEMAS as CORE_SCHEMAS

    return {**CORE_SCHEMAS, **ANALYTICS_SCHEMAS}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def one_line(error: BaseException) -> str:
    """DuckDB's message on one line, without the ``LINE n:`` excerpt and its caret."""
    lines = []
    for line in str(error).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines) or type(error).__name__


def _as_read(t: pa.DataType) -> pa.DataType:
    """The type a parquet reader gives back: parquet has no fixed-size lists (DuckDB reads them
    as variable-length lists)."""
    if pa.types.is_fixed_size_list(t) or pa.types.is_list(t):
        return pa.list_(_as_read(t.value_type))
    return t


def _duckdb_types(con: duckdb.DuckDBPyConnection, schema: pa.Schema) -> dict[str, str]:
    """DuckDB type name of each column of ``schema`` as read from the pipeline's parquet files."""
    empty = pa.schema([pa.field(f.name, _as_read(f.type)) for f in schema]).empty_table()
    con.register("__pmrr_schema", empty)
    try:
        return {row[0]: row[1] for row in con.execute("DESCRIBE __pmrr_schema").fetchall()}
    finally:
        con.unregister("__pmrr_schema")


def committed_files(store: Store, table: str, committed: set[str]) -> list[str]:
    """The table's files (fs paths) of committed videos: the files ``Store.read_table`` reads.
    One listing of the table's partitions; paths come from the layout, never from a manifest."""
    try:
        found = store.fs.glob(store.path(table, "video_id=*", PART_NAME))
    except FileNotFoundError:
        found = []
    except Exception as error:
        raise QueryError(f"{store.uri(table)}: cannot list ({error})", EXIT_READ) from error
    prefix = "video_id="
    return sorted(
        str(p)
        for p in found
        if posixpath.basename(posixpath.dirname(str(p)))[len(prefix) :] in committed
    )


class _Output:
    """A :class:`Store` plus what the query layer needs to know about its file system."""

    def __init__(self, store: Store) -> None:
        self.store = store
        protocols = store.fs.protocol
        protocols = protocols if isinstance(protocols, tuple) else (protocols,)
        self.local = "file" in protocols or "local" in protocols
        self.protocol = protocols[0]

    def reader_path(self, path: str) -> str:
        """``path`` as DuckDB opens it: local as is, else through the registered fsspec."""
        return path if self.local else f"{self.protocol}://{path}"


def open_store(out: str | Path, recover: bool = True, **storage_options: Any) -> Store:
    """The output root as a :class:`Store`, after checking it exists; interrupted commits are
    finished first (a warning, not an error, when that fails, e.g. on read-only access)."""
    try:
        store = Store(out, **storage_options)
    except StorageError as error:
        raise QueryError(str(error)) from error
    try:
        store.require_bucket()
        exists = store.fs.exists(store.root) if store.root else True
        is_file = exists and not store.object_store and store.fs.isfile(store.root)
    except StorageError as error:  # a missing bucket is a wrong OUT; anything else, unreadable
        missing = "does not exist" in str(error)
        raise QueryError(str(error), EXIT_USAGE if missing else EXIT_READ) from error
    except Exception as error:
        raise QueryError(f"{store.url}: output is not reachable ({error})", EXIT_READ) from error
    if not exists:
        raise QueryError(f"{store.url}: no such output folder")
    if is_file:
        raise QueryError(f"{store.url}: is a file, not an output folder")
    if recover:
        try:
            store.recover()
        except Exception as error:  # e.g. read-only access: the committed rows are still right
            print(
                f"pmrr query: warning: could not finish interrupted commits ({error})",
                file=sys.stderr,
            )
    return store


def connect(
    out: str | Path | Store,
    con: duckdb.DuckDBPyConnection | None = None,
    recover: bool = True,
    **storage_options: Any,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per table over the committed files of ``out`` (a
    folder, ``file://`` or ``s3://...`` URL, or a :class:`Store`). Raises :class:`QueryError`."""
    store = out if isinstance(out, Store) else open_store(out, recover, **storage_options)
    if con is None:
        con = duckdb.connect()
    # never download anything (httpfs, ...): the output is read through fsspec or locally
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    output = _Output(store)
    if not output.local:
        con.register_filesystem(store.fs)
    try:
        committed = set(store.committed_videos())
    except StorageError as error:
        raise QueryError(str(error), EXIT_READ) from error
    if not committed and not store.fs.exists(store.path(MANIFEST_DIR)):
        print(
            f"pmrr query: warning: {store.url} has no {MANIFEST_DIR}/ (no committed video): "
            "is it the --out of `pmrr process`?",
            file=sys.stderr,
        )
    for table, schema in table_schemas().items():
        files = [output.reader_path(p) for p in committed_files(store, table, committed)]
        _create_view(con, table, schema, files)
    return con


def _create_view(
    con: duckdb.DuckDBPyConnection, table: str, schema: pa.Schema, files: list[str]
) -> None:
    types = _duckdb_types(con, schema)
    nulls = {name: f"CAST(NULL AS {kind}) AS {_ident(name)}" for name, kind in types.items()}
    if not files:
        columns = ", ".join(nulls[f.name] for f in schema)
        con.execute(f"CREATE OR REPLACE VIEW {_ident(table)} AS SELECT {columns} WHERE false")
        return
    source = (
        f"read_parquet([{', '.join(map(_literal, files))}], hive_partitioning = true, "
        "hive_types = {'video_id': 'VARCHAR'}, union_by_name = true)"
    )
    try:
        present = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    except duckdb.Error as error:
        raise QueryError(f"{table}: cannot read ({one_line(error)})", EXIT_READ) from error
    columns = [_ident(f.name) if f.name in present else nulls[f.name] for f in schema]
    columns += [_ident(name) for name in present if name not in types]  # not in this schema
    con.execute(
        f"CREATE OR REPLACE VIEW {_ident(table)} AS SELECT {', '.join(columns)} FROM {source}"
    )


def describe_tables(con: duckdb.DuckDBPyConnection, width: int = 100) -> str:
    """Each view: its row and video counts, then its columns with their DuckDB types."""
    blocks = []
    for table in table_schemas():
        rows, videos = con.execute(
            f"SELECT count(*), count(DISTINCT video_id) FROM {_ident(table)}"
        ).fetchone()
        columns = con.execute(f"DESCRIBE {_ident(table)}").fetchall()
        text = ", ".join(f"{name} {kind}" for name, kind, *_ in columns)
        body = textwrap.fill(text, width=width, initial_indent="  ", subsequent_indent="  ")
        blocks.append(f"{table}: {rows} rows, {videos} videos, {len(columns)} columns\n{body}")
    return "\n".join(blocks)


def _output_format(output: str, fmt: str | None) -> str:
    by_suffix = SUFFIX_FORMATS.get(Path(output).suffix.lower())
    if by_suffix is None:
        if fmt in ("csv", "json"):
            return fmt
        raise QueryError(
            f"{output}: cannot tell the format; name the file .csv, .parquet or .json "
            "(or give --format csv|json)"
        )
    if fmt not in (None, by_suffix):
        raise QueryError(f"--format {fmt} does not match {output} ({by_suffix})")
    return by_suffix


def _copy(con: duckdb.DuckDBPyConnection, view: str, path: str, fmt: str) -> int:
    (count,) = con.execute(f"COPY {view} TO {_literal(path)} ({_COPY_OPTIONS[fmt]})").fetchone()
    return int(count)


def write_result(
    con: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    fmt: str = "table",
    output: str | None = None,
    max_rows: int = 100,
) -> None:
    """Print the result (``table``, ``csv`` or ``json``) or write it to ``output`` (csv, parquet
    or json by its suffix), replacing the file in one step."""
    view = "__pmrr_result"
    if output is None and fmt == "table":
        width = shutil.get_terminal_size((160, 24)).columns
        relation.show(max_rows=max_rows, max_width=width)
        return
    relation.create_view(view, replace=True)
    try:
        if output is not None:
            fmt = _output_format(output, None if fmt == "table" else fmt)
            target = Path(output)
            if not target.parent.is_dir():
                raise QueryError(f"{output}: folder {target.parent} does not exist")
            handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            os.close(handle)
            try:
                count = _copy(con, view, tmp, fmt)
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            print(f"wrote {count} rows to {output}", file=sys.stderr)
            return
        with tempfile.TemporaryDirectory(prefix="pmrr-query-") as tmp:
            path = os.path.join(tmp, f"result.{fmt}")
            _copy(con, view, path, fmt)
            sys.stdout.flush()
            with open(path, "rb") as handle:
                shutil.copyfileobj(handle, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    finally:
        con.execute(f"DROP VIEW IF EXISTS {view}")


def run(
    out: str,
    sql: str | None,
    fmt: str | None = None,
    output: str | None = None,
    tables: bool = False,
    max_rows: int = 100,
) -> int:
    """The ``pmrr query`` command; returns the exit status (errors: one line on stderr)."""
    try:
        if sql is None and not tables:
            raise QueryError('give the SQL to run (e.g. "select count(*) from smpl") or --tables')
        if sql == "-":
            sql = sys.stdin.read()
        if sql is not None and not sql.strip():
            raise QueryError("empty SQL")
        if max_rows < 1:
            raise QueryError(f"--max-rows must be at least 1, not {max_rows}")
        if output is not None and fmt == "table":
            raise QueryError("--format table prints; --output takes .csv, .parquet or .json")
        con = connect(out)
        try:
            if tables:
                print(describe_tables(con, width=shutil.get_terminal_size((100, 24)).columns))
            if sql is not None:
                relation = con.sql(sql)
                if relation is not None:  # a statement without a result prints nothing
                    write_result(con, relation, fmt or "table", output, max_rows)
        except duckdb.IOException as error:
            raise QueryError(one_line(error), EXIT_READ) from error
        except duckdb.Error as error:
            raise QueryError(one_line(error)) from error
        finally:
            con.close()
    except QueryError as error:
        print(f"pmrr query: {error}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:  # e.g. `pmrr query ... | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return EXIT_OK


def command(args: argparse.Namespace) -> int:
    """Entry point of the ``query`` subcommand of :mod:`pmrr_interviews.cli`."""
    return run(args.out, args.sql, args.format, args.output, args.tables, args.max_rows)
