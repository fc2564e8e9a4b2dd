"""Write one video's outputs through the storage layer and commit them (last step of a run).

Everything is staged first (tables, render, exports, plots) and committed in one go by
:meth:`storage.Transaction.commit`; outputs whose fingerprint did not change are *kept* (carried
into the new manifest without being rewritten), so a run that only redoes the analytics does not
upload the render again. Any failure aborts the transaction: the previous commit stays as it was.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa

from storage import SCHEMAS, Store
from tasks import tables
from tasks.export import export_amass, export_tracks
from tasks.people import own_persons
from tasks.probe import VideoInfo
from tasks.sequence import SmplSequence
from tasks.shots import Shot


def core_tables(
    video_id: str,
    info: VideoInfo,
    shots: list[Shot],
    seq: SmplSequence,
    roles_override: dict[int, str] | None = None,
    persons: dict[int, int] | None = None,
) -> dict[str, pa.Table]:
    """shots, tracks and smpl tables (the videos row is built at commit time, when the run's
    failures are known). Roles come from :func:`analytics.roles.video_roles`, the one role
    heuristic, which the override always wins over. ``persons``: {track_id: person_id} of
    :mod:`tasks.people` (None: every track its own person)."""
    from analytics.roles import video_roles

    smpl = tables.smpl_table(video_id, seq, info)
    persons = persons if persons is not None else own_persons(seq.track_id)
    # only the columns the heuristic reads: all of them as pandas objects were ~200 MiB more an
    # hour
    framing = smpl.select(["video_id", "track_id", "frame", "joints3d_m"]).to_pandas()
    roles = video_roles(framing, info.n_frames, roles_override, persons)
    return {
        "shots": tables.shots_table(video_id, shots, info),
        "tracks": tables.tracks_table(video_id, seq, roles, persons),
        "smpl": smpl,
    }


def publish(
    store: Store,
    video_id: str,
    arrow_tables: Mapping[str, pa.Table],
    render_path: str | None = None,
    exports: tuple[SmplSequence, VideoInfo] | None = None,
    plot_paths: Iterable[str] = (),
    annotations_dir: Path | None = None,
    keep: Iterable[str] = (),
    extra: dict | None = None,
) -> dict:
    """Stage the given outputs, keep the named unchanged ones, commit; returns the manifest.

    ``exports``: (sequence, video info) to write as per-track npz files (the project's and the
    AMASS-style ones); ``annotations_dir``: a folder of files for ELAN and R."""
    txn = store.begin(video_id)
    try:
        for name in keep:
            txn.keep(name)
        for name, table in arrow_tables.items():
            txn.write_table(name, table, SCHEMAS.get(name))
        if render_path:
            txn.put_file(render_path, "render")
        with tempfile.TemporaryDirectory(prefix="pmrr-publish-") as tmp:
            if exports is not None:
                seq, info = exports
                export_tracks(seq, info.fps, Path(tmp) / "exports")
                export_amass(seq, info.times(), info.fps, Path(tmp) / "exports")
                txn.put_dir(Path(tmp) / "exports", "exports")
            if annotations_dir is not None:
                txn.put_dir(annotations_dir, "annotations")
            plot_paths = list(plot_paths)
            if plot_paths:
                plots = Path(tmp) / "plots"
                plots.mkdir()
                for png in plot_paths:
                    (plots / Path(png).name).write_bytes(Path(png).read_bytes())
                txn.put_dir(plots, "plots")
            return txn.commit(extra)
    except BaseException:
        txn.abort()
        raise
