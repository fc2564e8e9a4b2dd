"""ELAN (``.eaf``) export of one video's ``events`` table, for nonverbal-behaviour coding.

:func:`write_eaf` writes, per person (``track_id``):

* a ``P<id> role`` tier with one annotation per presence interval of the track, valued with the
  role (interviewer / interviewee / other);
* one ``P<id> <role>: <event_type>`` tier per event type the person has events of (e.g.
  ``P3 interviewee: nod``), one annotation per event, valued with the event type (and the side,
  for gesture strokes).

Every tier's ``PARTICIPANT`` is ``P<id>``. Times are integer milliseconds (ELAN's unit):
``round(start_s * 1000)`` .. ``round(end_s * 1000)``, ends clamped to the video's duration. ELAN
needs annotations of one tier not to overlap and to last at least 1 ms, so a zero-length event
is extended to 1 ms and events of one tier that overlap (e.g. a left and a right gesture stroke
at once) are merged into one annotation spanning both, valued with both labels joined by
`` + ``; events that only touch (one ends where the next starts) stay separate.

The file is written by ``pympi`` (EAF format version as pympi writes it, 2.8, which ELAN 5/6
opens) under a temporary name in the target folder, then renamed over ``path``: readers see the
old file or the new one, never a partial one.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import pandas as pd
from pympi import Elan

from analytics.tables import EVENT_TYPES

MEDIA_MIMETYPE = "video/mp4"
_LT_ROLE = "role"
_LT_EVENT = "event"


def role_tier_name(track_id: int) -> str:
    return f"P{int(track_id)} role"


def event_tier_name(track_id: int, role: str, event_type: str) -> str:
    return f"P{int(track_id)} {role}: {event_type}"


def _ms(seconds: float, what: str) -> int:
    if seconds is None or pd.isna(seconds) or not math.isfinite(float(seconds)):
        raise ValueError(f"write_eaf: {what} is missing or not finite ({seconds!r})")
    return int(round(float(seconds) * 1000.0))


def _intervals(spans: Iterable[tuple[int, int, str]], end_ms: int) -> list[tuple[int, int, str]]:
    """Sort, clamp to [0, end_ms], extend to >= 1 ms, merge overlaps -> disjoint intervals.

    Merged intervals carry the distinct labels of their parts joined by `` + ``."""
    out: list[tuple[int, int, list[str]]] = []
    for s, e, label in sorted(spans, key=lambda x: (x[0], x[1])):
        if s > end_ms:
            raise ValueError(f"write_eaf: {label!r} starts at {s} ms, after the end ({end_ms} ms)")
        s = min(max(s, 0), end_ms - 1)
        e = max(min(e, end_ms), s + 1)
        if out and s < out[-1][1]:
            ps, pe, labels = out[-1]
            if label not in labels:
                labels.append(label)
            out[-1] = (ps, max(pe, e), labels)
        else:
            out.append((s, e, [label]))
    return [(s, e, " + ".join(labels)) for s, e, labels in out]


def _presence(tracks: pd.DataFrame, fps: float | None) -> pd.DataFrame:
    """tracks -> rows (track_id, role, start_s, end_s); frames are inclusive."""
    if {"start_s", "end_s"} <= set(tracks.columns):
        start, end = tracks["start_s"], tracks["end_s"]
    elif {"first_frame", "last_frame"} <= set(tracks.columns):
        if fps is None or not fps > 0:
            raise ValueError(
                "write_eaf: tracks gives first_frame/last_frame only; pass fps= to convert them"
            )
        start = tracks["first_frame"].astype("float64") / fps
        end = (tracks["last_frame"].astype("float64") + 1.0) / fps
    else:
        raise ValueError(
            "write_eaf: tracks needs start_s/end_s or first_frame/last_frame columns, got "
            f"{list(tracks.columns)}"
        )
    return pd.DataFrame(
        {
            "track_id": tracks["track_id"].astype("int64").to_numpy(),
            "role": tracks["role"].astype("string").fillna("other").to_numpy(),
            "start_s": pd.to_numeric(start).to_numpy(dtype="float64"),
            "end_s": pd.to_numeric(end).to_numpy(dtype="float64"),
        }
    )


def _is_url(uri: str) -> bool:
    scheme = urllib.parse.urlsplit(uri).scheme
    return len(scheme) > 1  # a one-letter "scheme" is a Windows drive letter


def media_urls(media_uri: str, eaf_dir: Path) -> tuple[str, str | None]:
    """-> (MEDIA_URL, RELATIVE_MEDIA_URL) as ELAN writes them.

    ``media_uri``: a URL (``file:///abs/v.mp4``, ``https://...``, kept as given), an absolute
    path, or a path relative to the folder of the ``.eaf`` file (ELAN's reading of relative
    media URLs). MEDIA_URL is an absolute URL; RELATIVE_MEDIA_URL (``./v.mp4``, ``../v.mp4``)
    is given for local files, relative to ``eaf_dir``."""
    if _is_url(media_uri):
        parts = urllib.parse.urlsplit(media_uri)
        if parts.scheme != "file":
            return media_uri, None
        local = Path(urllib.request.url2pathname(parts.path))
        media_url = media_uri
    else:
        local = Path(media_uri)
        if not local.is_absolute():
            local = eaf_dir / local
        local = Path(os.path.abspath(local))
        media_url = local.as_uri()
    try:
        rel = os.path.relpath(local, os.path.abspath(eaf_dir))
    except ValueError:  # another drive (Windows): no relative URL
        return media_url, None
    rel_posix = PurePosixPath(*Path(rel).parts).as_posix()
    if not rel_posix.startswith("../"):
        rel_posix = "./" + rel_posix
    return media_url, urllib.parse.quote(rel_posix)


def _event_label(row: pd.Series) -> str:
    side = row.get("side")
    label = str(row["event_type"])
    if side is not None and not pd.isna(side) and str(side):
        label = f"{label} {side}"
    return label


def _type_order(event_type: str) -> tuple[int, str]:
    known = list(EVENT_TYPES)
    return (known.index(event_type) if event_type in known else len(known), event_type)


def build_eaf(
    media_url: str,
    relative_media_url: str | None,
    events: pd.DataFrame,
    tracks: pd.DataFrame,
    duration_s: float,
    fps: float | None = None,
    time_origin_ms: int = 0,
) -> Elan.Eaf:
    """The :class:`pympi.Elan.Eaf` that :func:`write_eaf` writes (see the module docstring)."""
    end_ms = _ms(duration_s, "duration_s")
    if end_ms < 1:
        raise ValueError(f"write_eaf: duration_s must be >= 1 ms, got {duration_s!r}")
    presence = _presence(tracks, fps)
    roles: dict[int, str] = {}
    for tid, group in presence.groupby("track_id", sort=True):
        distinct = list(dict.fromkeys(group["role"]))
        if len(distinct) > 1:
            raise ValueError(f"write_eaf: track {tid} has several roles {distinct}")
        roles[int(tid)] = str(distinct[0])

    ev = events if events is not None else pd.DataFrame()
    if len(ev):
        missing = sorted(set(ev["track_id"].astype("int64")) - set(roles))
        if missing:
            raise ValueError(f"write_eaf: events of tracks {missing} that are not in tracks")

    eaf = Elan.Eaf(author="pmrr analytics")
    eaf.remove_tier("default")
    eaf.add_linguistic_type(_LT_ROLE)
    eaf.add_linguistic_type(_LT_EVENT)
    eaf.add_linked_file(
        media_url,
        relpath=relative_media_url,
        mimetype=MEDIA_MIMETYPE,
        time_origin=int(time_origin_ms) or None,
    )

    for tid in sorted(roles):
        part = f"P{tid}"
        tier = role_tier_name(tid)
        eaf.add_tier(tier, ling=_LT_ROLE, part=part)
        rows = presence[presence["track_id"] == tid]
        spans = [
            (_ms(r.start_s, f"track {tid} start"), _ms(r.end_s, f"track {tid} end"), r.role)
            for r in rows.itertuples(index=False)
        ]
        for s, e, value in _intervals(spans, end_ms):
            eaf.add_annotation(tier, s, e, value)

        mine = ev[ev["track_id"].astype("int64") == tid] if len(ev) else ev
        if not len(mine):
            continue
        for event_type in sorted(set(mine["event_type"].astype(str)), key=_type_order):
            rows = mine[mine["event_type"].astype(str) == event_type]
            tier = event_tier_name(tid, roles[tid], event_type)
            eaf.add_tier(tier, ling=_LT_EVENT, part=part)
            spans = [
                (
                    _ms(r["start_s"], f"{event_type} start_s of track {tid}"),
                    _ms(r["end_s"], f"{event_type} end_s of track {tid}"),
                    _event_label(r),
                )
                for _, r in rows.iterrows()
            ]
            for s, e, value in _intervals(spans, end_ms):
                eaf.add_annotation(tier, s, e, value)

    last_id = max((int(a[1:]) for a in eaf.annotations if a[1:].isdigit()), default=0)
    eaf.properties = [(k, v) for k, v in eaf.properties if k != "lastUsedAnnotation"]
    eaf.properties.append(("lastUsedAnnotation", last_id))
    return eaf


def write_eaf(
    path: Path,
    media_uri: str,
    events: pd.DataFrame,
    tracks: pd.DataFrame,
    duration_s: float,
    *,
    fps: float | None = None,
    time_origin_ms: int = 0,
) -> Path:
    """Write one video's events as an ELAN file at ``path``; returns ``path``.

    ``events``: the ``events`` table of one video (``analytics.compute_video_features``):
    track_id, event_type, side, start_s, end_s used. ``tracks``: track_id, role and either
    start_s/end_s (s) or first_frame/last_frame (inclusive frames; then ``fps`` is needed), one
    or more rows per track (several rows -> several presence intervals). ``media_uri``: the
    source video, a URL (``file://``...) or a path (relative = to the folder of ``path``), linked
    as ``video/mp4``. ``duration_s``: the video's duration; annotations are clamped to it.
    ``time_origin_ms``: where the annotations' time 0 (the first frame) is in the media, ELAN's
    ``TIME_ORIGIN`` (``videos.start_offset_s``: a video that starts after the file's audio).
    Raises ValueError for events of tracks missing from ``tracks``, non-finite times, or a track
    with several roles."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    media_url, relative = media_urls(media_uri, folder)
    eaf = build_eaf(
        media_url, relative, events, tracks, duration_s, fps=fps, time_origin_ms=time_origin_ms
    )
    document = Elan.to_adocument(eaf, pretty=True)

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would survive the rename
        with os.fdopen(fd, "wb") as fh:
            ElementTree.ElementTree(document).write(fh, xml_declaration=True, encoding="UTF-8")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable where the OS allows
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path
