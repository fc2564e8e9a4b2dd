"""Write one video's outputs through the storage layer and commit them (last step of a run).

Everything is staged first (tables, render, exports, plots) and committed in one go by
:meth:`storage.Transaction.commit`; any failure aborts the transaction, so a reader never sees a
partial video and a re-run replaces the previous partition instead of adding rows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa

from storage import SCHEMAS, Store
from tasks import tables
from tasks.export import export_tracks
from tasks.probe import VideoInfo
from tasks.sequence import SmplSequence
from tasks.shots import Shot


def core_tables(
    video_id: str,
    source_uri: str,
    info: VideoInfo,
    shots: list[Shot],
    seq: SmplSequence,
    code_version: str,
    config_hash: str,
    roles: dict[int, str] | None = None,
) -> dict[str, pa.Table]:
    roles = roles or tables.assign_roles(seq)
    n_tracks = len(set(seq.track_id.tolist()))
    return {
        "videos": tables.videos_table(
            video_id,
            info,
            source_uri,
            len(shots),
            n_tracks,
            seq.focal_px,
            seq.estimator,
            seq.assets,
            code_version,
            config_hash,
        ),
        "shots": tables.shots_table(video_id, shots, info.fps),
        "tracks": tables.tracks_table(video_id, seq, roles),
        "smpl": tables.smpl_table(video_id, seq, info.fps),
    }


def publish(
    store: Store,
    video_id: str,
    core: dict[str, pa.Table],
    seq: SmplSequence,
    fps: float,
    analytics: dict | None = None,
    render_path: str | None = None,
    export_npz: bool = True,
    extra: dict | None = None,
) -> dict:
    """Stage and commit; returns the manifest."""
    txn = store.begin(video_id)
    try:
        for name, table in core.items():
            txn.write_table(name, table, SCHEMAS[name])
        if analytics:
            from analytics.tables import to_arrow

            for name, frame in analytics.items():
                if name == "plots":
                    continue
                txn.write_table(name, to_arrow(frame, name))
        if render_path:
            txn.put_file(render_path, f"renders/{video_id}.mp4", "render")
        with tempfile.TemporaryDirectory(prefix="pmrr-publish-") as tmp:
            if export_npz and len(seq):
                export_tracks(seq, fps, Path(tmp) / "exports")
                txn.put_dir(Path(tmp) / "exports", f"exports/{video_id}", "exports")
            if analytics and analytics.get("plots"):
                plots = Path(tmp) / "plots"
                plots.mkdir()
                for png in analytics["plots"]:
                    (plots / Path(png).name).write_bytes(Path(png).read_bytes())
                txn.put_dir(plots, f"plots/{video_id}", "plots")
            return txn.commit(extra)
    except BaseException:
        txn.abort()
        raise
