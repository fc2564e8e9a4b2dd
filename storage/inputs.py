"""Finding input videos (files, folders, globs, fsspec URLs) and bringing remote ones local.

decord and ffprobe need a local file, so a remote video is copied once into a cache folder
(keyed by its URL and size/etag-ish info via fsspec ``info``) before the stages run.
"""

from __future__ import annotations

import glob as globlib
import hashlib
import os
import posixpath
import stat
from collections.abc import Sequence
from pathlib import Path

import fsspec

from storage import credentials
from storage.errors import StorageError

# what archives hold: MP4/MOV, Matroska, AVI, WebM, MPEG (DVD's .vob), transport streams
# (AVCHD camcorders' .mts/.m2ts, broadcast .ts), WMV/ASF, Flash, 3GP phones, DV, MXF, Ogg
VIDEO_SUFFIXES = {
    ".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".vob", ".ts", ".mts",
    ".m2ts", ".wmv", ".asf", ".flv", ".3gp", ".dv", ".mxf", ".ogv",
}  # fmt: skip
# the pipeline's own folders: what is inside them is never an input
INTERNAL_DIRS = frozenset({"_staging", "_cache", "_manifests"})

Problem = tuple[str, str]


def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _is_video(path: str) -> bool:
    return posixpath.splitext(path)[1].lower() in VIDEO_SUFFIXES


def _has_magic(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def _local(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path.removeprefix("file://")))


def _internal(path: str, root: str, is_dir: bool = False) -> bool:
    """Whether ``path`` is (``is_dir``) or lies in a pipeline folder (``_cache``, ...) below the
    searched ``root``."""
    rel = os.path.relpath(path, root)
    parts = rel.split(os.sep) if is_dir else rel.split(os.sep)[:-1]
    return rel != "." and any(part in INTERNAL_DIRS for part in parts)


class _Excluder:
    """Roots to skip: local ones compared by real path, URLs by protocol and path."""

    def __init__(self, roots: Sequence[str]) -> None:
        self.local: list[str] = []
        self.remote: list[str] = []
        for root in roots:
            if _is_url(root):
                self.remote.append(root.rstrip("/"))
            else:
                self.local.append(os.path.realpath(_local(root)))

    def local_hit(self, path: str) -> bool:
        real = os.path.realpath(path)
        return any(real == r or real.startswith(r.rstrip("/") + "/") for r in self.local)

    def remote_hit(self, uri: str) -> bool:
        return any(uri == r or uri.startswith(r + "/") for r in self.remote)


def _file_problem(path: str) -> str | None:
    """Why a local path named as a video cannot be one (None when it is a readable file)."""
    if os.path.islink(path) and not os.path.exists(path):
        return f"{path}: broken symbolic link (target {os.readlink(path)} does not exist)"
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return f"{path}: cannot read ({error.strerror or error})"
    if stat.S_ISDIR(mode):
        return f"{path}: a folder with no video files, not a video"
    if not stat.S_ISREG(mode):
        return f"{path}: not a regular file"
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as error:
        return f"{path}: cannot read ({error.strerror or error})"
    return None


def _walk_local(folder: str, excluder: _Excluder) -> tuple[list[str], list[str]]:
    """Video files under ``folder`` (symlinked folders followed once each) and problems."""
    found: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()
    video_named_dirs: list[str] = []

    def on_error(error: OSError) -> None:
        problems.append(f"{error.filename}: cannot list ({error.strerror or error})")

    for here, dirs, files in os.walk(folder, onerror=on_error, followlinks=True):
        real = os.path.realpath(here)
        if real in seen or excluder.local_hit(here) or _internal(here, folder, is_dir=True):
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        video_named_dirs += [os.path.join(here, d) for d in dirs if _is_video(d)]
        for name in sorted(files):
            path = os.path.join(here, name)
            if not _is_video(name) or excluder.local_hit(path):
                continue
            problem = _file_problem(path)
            if problem:
                problems.append(problem)
            else:
                found.append(path)
    # a folder named like a video (x.mp4/) holding no video would otherwise vanish silently
    for path in video_named_dirs:
        if not excluder.local_hit(path) and not any(f.startswith(path + os.sep) for f in found):
            problems.append(f"{path}: a folder, not a video file")
    return found, problems


def _discover_local(item: str, excluder: _Excluder) -> tuple[list[str], list[str]]:
    path = _local(item)
    if _has_magic(path):
        found: list[str] = []
        problems: list[str] = []
        base = path[: min(path.index(c) for c in "*?[" if c in path)].rsplit("/", 1)[0] or "/"
        for match in sorted(globlib.glob(path, recursive=True)):
            if excluder.local_hit(match) or _internal(match, base, os.path.isdir(match)):
                continue
            if os.path.isdir(match):
                more, trouble = _walk_local(match, excluder)
                found += more
                problems += trouble
                if not more and _is_video(match):
                    problems.append(f"{match}: a folder, not a video file")
            elif _is_video(match):
                problem = _file_problem(match)
                if problem:
                    problems.append(problem)
                else:
                    found.append(match)
        if not found and not problems:
            problems.append(f"{item}: no video files match")
        return found, problems
    if os.path.isdir(path):
        if excluder.local_hit(path):
            return [], [f"{item}: inside the output location, skipped"]
        found, problems = _walk_local(path, excluder)
        if not found and not problems:
            what = "a folder, not a video file" if _is_video(path) else "folder has no video files"
            problems.append(f"{item}: {what}")
        return found, problems
    if not os.path.lexists(path):
        return [], [f"{item}: no such file or folder"]
    if excluder.local_hit(path):
        return [], [f"{item}: inside the output location, skipped"]
    problem = _file_problem(path)
    return ([], [problem]) if problem else ([path], [])


def _discover_remote(
    item: str, excluder: _Excluder, block: str | None = None
) -> tuple[list[str], list[str]]:
    options = credentials.storage_options(item, block)
    try:
        fs, root = fsspec.core.url_to_fs(item, **options)
    except Exception as error:
        return [], [f"{item}: cannot open ({error})"]
    protocol = item.split("://", 1)[0] + "://"

    def keep(path: str, base: str) -> bool:
        return not excluder.remote_hit(protocol + path) and not _internal(path, base)

    try:
        if _has_magic(root):
            base = root[: min(root.index(c) for c in "*?[" if c in root)].rsplit("/", 1)[0]
            matches = fs.glob(root, detail=True)
            files = []
            for path, info in sorted(matches.items()):
                if info.get("type") == "directory":
                    files += [p for p in fs.find(path) if _is_video(p)]
                elif _is_video(path):
                    files.append(path)
            found = [protocol + p for p in files if keep(p, base)]
            return found, [] if found else [f"{item}: no video files match"]
        if fs.isdir(root):
            found = [protocol + p for p in fs.find(root) if _is_video(p) and keep(p, root)]
            return found, [] if found else [f"{item}: folder has no video files"]
        if fs.exists(root):
            if excluder.remote_hit(protocol + root):
                return [], [f"{item}: inside the output location, skipped"]
            return [protocol + root], []
    except Exception as error:
        message = credentials.credentials_message(error, item, block)
        return [], [message or f"{item}: cannot read ({error})"]
    return [], [f"{item}: no such file or folder"]


def discover(
    inputs: list[str] | str, exclude: Sequence[str] = (), credentials_block: str | None = None
) -> tuple[list[str], list[Problem]]:
    """Expand inputs into video URIs; returns ``(videos sorted and deduplicated, problems)``.

    A problem is ``(input, one-line message naming the file and the problem)``: one bad input
    becomes one report row instead of aborting the whole batch before any video runs.

    Rules:

    - a folder (named, or matched by a glob) is searched recursively, symlinked folders followed
      once each; only files with a video suffix (:data:`VIDEO_SUFFIXES`, any case) are kept;
    - a glob expands; matched files are kept only with a video suffix, matched folders are
      searched as above (a ``.txt`` or ``.jpg`` never becomes a video);
    - a file named explicitly is kept whatever its suffix, so a bad file still gets its own
      failure row later;
    - problems, not exceptions: a missing path, a broken symlink, an unreadable or non-regular
      file, a folder named like a video (``x.mp4/``) holding no video, an unlistable folder, and
      a folder or glob with no video files;
    - skipped: anything under an ``exclude`` root (the output location, a local path or a URL,
      so a run never ingests its own renders), and anything in a ``_staging``, ``_cache`` or
      ``_manifests`` folder below a searched folder or glob. An explicitly named file under an
      ``exclude`` root is reported as a problem instead.

    ``s3://`` inputs are read with the credentials of the Prefect block ``credentials_block``
    when given, else the environment's; missing or refused credentials are that input's problem,
    with a message saying what to set (:mod:`storage.credentials`).
    """
    items = [inputs] if isinstance(inputs, str) else list(inputs)
    excluder = _Excluder(exclude)
    videos: set[str] = set()
    problems: list[Problem] = []
    for item in items:
        if _is_url(item):
            found, trouble = _discover_remote(item, excluder, credentials_block)
        else:
            found, trouble = _discover_local(item, excluder)
        videos.update(found)
        problems += [(item, message) for message in dict.fromkeys(trouble)]
    return sorted(videos), problems


def localize(uri: str, cache_dir: str | Path, credentials_block: str | None = None) -> str:
    """A local path for ``uri`` (itself when local; else a cached download, read with the
    credentials of the Prefect block ``credentials_block`` or the environment's)."""
    if not _is_url(uri):
        return uri[len("file://") :] if uri.startswith("file://") else uri
    fs, path = fsspec.core.url_to_fs(uri, **credentials.storage_options(uri, credentials_block))
    try:
        info = fs.info(path)
    except Exception as error:
        credentials.raise_for_credentials(error, uri, credentials_block)
        raise StorageError(f"{uri}: cannot read ({error})") from error
    tag = hashlib.sha256(f"{uri}|{info.get('size')}|{info.get('ETag', '')}".encode()).hexdigest()
    target = Path(cache_dir) / "inputs" / tag[:16] / posixpath.basename(path)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        try:
            fs.get_file(path, str(tmp))
        except Exception as error:
            credentials.raise_for_credentials(error, uri, credentials_block)
            raise StorageError(f"{uri}: download failed ({error})") from error
        tmp.replace(target)
    return str(target)
