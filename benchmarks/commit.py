"""What a commit costs for a 10-minute video, on a local folder and on S3 (a moto server).

The outputs of one video: 600 s x 25 fps x 2 people = 30,000 ``smpl`` rows with the real schema
(``storage/schemas.py``; random values, so parquet compresses them about as badly as real
poses), the small ``videos``/``shots``/``tracks`` tables, a ~30 MB render and two per-track
export files. Three commits per backend: the first one, a re-run that replaces everything, and a
re-run that keeps the render (``Transaction.keep``). For each: seconds spent staging (writing
under ``_staging/``), seconds of the commit itself (journal, moves, deletions, manifest), bytes
staged.

moto keeps objects in memory and runs on this machine, so the S3 numbers show the protocol's
request pattern (copy + delete per move), not a real network. Run: ``python3 benchmarks/commit.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import SCHEMAS, Store  # noqa: E402

VIDEO_ID = "0123456789abcdef"
FPS, SECONDS, PEOPLE = 25, 600, 2


def smpl_table(rng: np.random.Generator) -> pa.Table:
    n_frames = FPS * SECONDS
    n = n_frames * PEOPLE
    schema = SCHEMAS["smpl"]
    columns = {}
    for field in schema:
        if field.name == "video_id":
            columns[field.name] = pa.array([VIDEO_ID] * n)
        elif field.name == "track_id":
            columns[field.name] = pa.array(np.repeat(np.arange(PEOPLE), n_frames), pa.int32())
        elif field.name == "frame":
            columns[field.name] = pa.array(np.tile(np.arange(n_frames), PEOPLE), pa.int64())
        elif field.name == "t_s":
            columns[field.name] = pa.array(np.tile(np.arange(n_frames) / FPS, PEOPLE))
        elif pa.types.is_fixed_size_list(field.type):
            size = field.type.list_size
            values = pa.array(rng.normal(size=n * size).astype(np.float32))
            columns[field.name] = pa.FixedSizeListArray.from_arrays(values, size)
        elif pa.types.is_boolean(field.type):
            columns[field.name] = pa.array(np.ones(n, bool))
        else:
            columns[field.name] = pa.array(rng.random(n).astype(np.float32))
    return pa.table(columns).cast(schema)


def small_tables() -> dict[str, pa.Table]:
    videos = {f.name: [None] for f in SCHEMAS["videos"]} | {"video_id": [VIDEO_ID]}
    shots = [
        {"video_id": VIDEO_ID, "shot_id": i, "start_frame": 750 * i, "end_frame": 750 * i + 749,
         "start_s": 30.0 * i, "end_s": 30.0 * (i + 1)}
        for i in range(20)
    ]  # fmt: skip
    tracks = [
        {"video_id": VIDEO_ID, "track_id": i, "shot_id": 0, "role": "interviewee",
         "first_frame": 0, "last_frame": 14999, "n_frames": 15000}
        for i in range(PEOPLE)
    ]  # fmt: skip
    return {
        "videos": pa.Table.from_pydict(videos, schema=SCHEMAS["videos"]),
        "shots": pa.Table.from_pylist(shots, schema=SCHEMAS["shots"]),
        "tracks": pa.Table.from_pylist(tracks, schema=SCHEMAS["tracks"]),
    }


def local_files(work: Path, rng: np.random.Generator, render_mb: int) -> tuple[Path, Path]:
    render = work / "render.mp4"
    render.write_bytes(rng.bytes(render_mb * 2**20))
    exports = work / "exports"
    exports.mkdir()
    for track in range(PEOPLE):
        data = rng.normal(size=(FPS * SECONDS, 88)).astype(np.float32)
        np.savez(exports / f"track_{track}.npz", params=data)
    return render, exports


def staged_bytes(store: Store, txn: str) -> int:
    return sum(store.fs.du(store.staging_path(txn), total=False).values())


def run(store: Store, tables: dict[str, pa.Table], render: Path, exports: Path) -> list[dict]:
    rows = []
    for label, keep_render in (("first", False), ("replace", False), ("keep render", True)):
        start = time.perf_counter()
        txn = store.begin(VIDEO_ID)
        for name, table in tables.items():
            txn.write_table(name, table, SCHEMAS[name])
        if keep_render:
            txn.keep("render")
        else:
            txn.put_file(render, "render")
        txn.put_dir(exports, "exports")
        staged = time.perf_counter() - start
        size = staged_bytes(store, txn.txn)
        start = time.perf_counter()
        txn.commit({"benchmark": label})
        rows.append(
            {"commit": label, "staging_s": staged, "commit_s": time.perf_counter() - start,
             "bytes": size}
        )  # fmt: skip
    return rows


@contextlib.contextmanager
def backends(work: Path, s3: bool) -> Iterator[list[tuple[str, Store]]]:
    stores = [("local", Store(work / "out"))]
    if not s3:
        yield stores
        return
    from tests.s3_server import moto_server

    with moto_server() as server:
        yield [*stores, ("s3 (moto)", Store(server.url("out")))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--render-mb", type=int, default=30)
    parser.add_argument("--no-s3", action="store_true", help="local folder only")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    tables = {"smpl": smpl_table(rng), **small_tables()}
    with tempfile.TemporaryDirectory(prefix="pmrr-bench-commit-") as tmp:
        work = Path(tmp)
        render, exports = local_files(work, rng, args.render_mb)
        export_mib = sum(p.stat().st_size for p in exports.iterdir()) / 2**20
        print(
            f"smpl: {tables['smpl'].num_rows} rows; render {args.render_mb} MiB; "
            f"exports {export_mib:.1f} MiB"
        )
        print(f"{'backend':<10} {'commit':<12} {'staging s':>10} {'commit s':>9} {'MiB':>8}")
        with backends(work, not args.no_s3) as stores:
            for backend, store in stores:
                for row in run(store, tables, render, exports):
                    print(
                        f"{backend:<10} {row['commit']:<12} {row['staging_s']:>10.2f} "
                        f"{row['commit_s']:>9.2f} {row['bytes'] / 2**20:>8.1f}"
                    )


if __name__ == "__main__":
    main()
