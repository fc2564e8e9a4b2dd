"""Write one video's outputs through the storage layer and commit them.

Each output is staged as soon as it is made (tables, exports, render, plots, annotations) and
all are committed in one go at the end of the run by :meth:`storage.Transaction.commit`;
outputs whose fingerprint did not change are *kept* (carried into the new manifest without being
rewritten), so a run that only redoes the analytics does not upload the render again. Any
failure aborts the transaction: the previous commit stays as it was.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
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
    from analytics.tables import from_arrow

    smpl = tables.smpl_table(video_id, seq, info)
    persons = persons if persons is not None else own_persons(seq.track_id)
    # only the columns the heuristic reads: all of them as pandas objects were ~200 MiB more an
    # hour
    framing = from_arrow(smpl.select(["video_id", "track_id", "frame", "joints3d_m"]))
    roles = video_roles(framing, info.n_frames, roles_override, persons)
    return {
        "shots": tables.shots_table(video_id, shots, info),
        "tracks": tables.tracks_table(video_id, seq, roles, persons),
        "smpl": smpl,
    }


class Publication:
    """One video's outputs, staged as each is made and committed together at the end.

    Why staged as they go, not all at the end: an output written to the store's staging area
    need not stay in memory. The flow stages the core tables and the exports right after they
    are made and can then drop the whole smoothed sequence and the ``smpl`` table before
    analytics (on an hour of input, ``benchmarks/long_input.py``, 1.4 KiB a person-frame for the
    sequence alone). A failing store is also found before the long optional stages, not after.

    Nothing is visible to readers before :meth:`commit` (:class:`storage.Transaction`); leaving
    the ``with`` block by an exception, or without committing, aborts: the previous commit stays
    as it was and the staged files are removed.
    """

    def __init__(self, store: Store, video_id: str) -> None:
        self.txn = store.begin(video_id)
        self._committed = False

    def __enter__(self) -> Publication:
        return self

    def __exit__(self, *exc) -> None:
        if not self._committed:
            self.txn.abort()

    def table(self, name: str, table: pa.Table) -> None:
        self.txn.write_table(name, table, SCHEMAS.get(name))

    def file(self, path: str, key: str) -> None:
        """A local file as artifact ``key`` (``render``)."""
        self.txn.put_file(path, key)

    def folder(self, local_dir: Path, key: str) -> None:
        """The files of a local folder as folder artifact ``key`` (``annotations``, ``plots``)."""
        self.txn.put_dir(local_dir, key)

    def exports(self, seq: SmplSequence, info: VideoInfo) -> None:
        """Per-track npz files, the project's and the AMASS-style ones."""
        with tempfile.TemporaryDirectory(prefix="pmrr-exports-") as tmp:
            folder = Path(tmp) / "exports"
            export_tracks(seq, info.fps, folder)
            export_amass(seq, info.times(), info.fps, folder)
            self.txn.put_dir(folder, "exports")

    def commit(self, keep: Iterable[str] = (), extra: dict | None = None) -> dict:
        """Keep the named unchanged outputs (carried over without rewriting), commit; returns
        the manifest."""
        for name in keep:
            self.txn.keep(name)
        manifest = self.txn.commit(extra)
        self._committed = True
        return manifest
