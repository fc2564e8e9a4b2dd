"""Load, inspect and save PMRR checkpoints in the released layout ``{'model': state_dict, ...}``.

Files are read with ``torch.load(weights_only=True)``: a checkpoint is data, and a pickle that
asks for anything beyond tensors and containers is refused instead of executed. The reference
keeps an SMPL copy in each regressor (``regressor.{i}.smpl.*``); those buffers duplicate the SMPL
file and are dropped on load. Every other key must match by name and shape.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

SMPL_COPY_MARKER = ".smpl."


class CheckpointError(ValueError):
    """The file is not a usable PMRR checkpoint; the message names the file and the problem."""


@dataclass
class KeyReport:
    """How a checkpoint's state dict lines up with a model's."""

    matched: list[str] = field(default_factory=list)
    dropped_smpl: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_mismatch: list[tuple[str, tuple, tuple]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def summary(self, limit: int = 5) -> str:
        parts = [f"{len(self.matched)} matched", f"{len(self.dropped_smpl)} SMPL buffers dropped"]
        if self.missing:
            parts.append(f"{len(self.missing)} missing (e.g. {self.missing[:limit]})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (e.g. {self.unexpected[:limit]})")
        if self.shape_mismatch:
            shown = [
                f"{k}: file {tuple(a)} vs model {tuple(b)}"
                for k, a, b in self.shape_mismatch[:limit]
            ]
            parts.append(f"{len(self.shape_mismatch)} with other shapes (e.g. {shown})")
        return ", ".join(parts)

    def details(self, limit: int = 20) -> str:
        """One line per kind of misfit, naming up to ``limit`` keys each (with both shapes for
        shape mismatches), so a user can see which part of the network a file was made for."""

        def listed(keys: list[str]) -> str:
            more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
            return ", ".join(keys[:limit]) + more

        lines = []
        if self.missing:
            lines.append(f"missing from the file ({len(self.missing)}): {listed(self.missing)}")
        if self.unexpected:
            lines.append(f"not in the model ({len(self.unexpected)}): {listed(self.unexpected)}")
        if self.shape_mismatch:
            shapes = [
                f"{key} file {tuple(a)} vs model {tuple(b)}" for key, a, b in self.shape_mismatch
            ]
            lines.append(f"other shapes ({len(shapes)}): {listed(shapes)}")
        return "\n".join(lines)


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict, read safely; raises CheckpointError with the file name on any problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad file; all mean 'unreadable'
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated, corrupt, or it holds objects other "
            f"than tensors, which are refused for safety): {first_line}"
        ) from error
    if not isinstance(content, dict):
        raise CheckpointError(
            f"{path}: holds a {type(content).__name__}, expected a dict with a 'model' state dict"
        )
    return content


def state_dict_of(content: dict, path: str | Path = "<checkpoint>") -> dict[str, torch.Tensor]:
    """The model weights inside a checkpoint: ``content['model']`` (released layout) or, for
    bare state dicts, the dict itself."""
    state = content.get("model", content)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: 'model' is not a state dict of tensors")
    if any(key.startswith("module.") for key in state):  # saved from DataParallel
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return state


def compare_keys(state: dict[str, torch.Tensor], model: nn.Module) -> KeyReport:
    expected = model.state_dict()
    report = KeyReport()
    for key, value in state.items():
        if SMPL_COPY_MARKER in key:
            report.dropped_smpl.append(key)
        elif key not in expected:
            report.unexpected.append(key)
        elif tuple(value.shape) != tuple(expected[key].shape):
            report.shape_mismatch.append((key, tuple(value.shape), tuple(expected[key].shape)))
        else:
            report.matched.append(key)
    report.missing = [key for key in expected if key not in state]
    return report


def load_into(model: nn.Module, path: str | Path) -> KeyReport:
    """Load a checkpoint into ``model`` strictly (bar the SMPL copies) or raise CheckpointError."""
    content = read_checkpoint(path)
    state = state_dict_of(content, path)
    report = compare_keys(state, model)
    if not report.ok:
        raise CheckpointError(f"{path}: does not fit the PMRR architecture: {report.summary()}")
    model.load_state_dict(
        {k: v for k, v in state.items() if SMPL_COPY_MARKER not in k}, strict=True
    )
    return report


def save_checkpoint(model: nn.Module, path: str | Path, **metadata) -> Path:
    """Save ``{'model': state_dict, **metadata}`` atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        torch.save({"model": model.state_dict(), **metadata}, tmp_name)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return path


def describe_checkpoint(path: str | Path, model: nn.Module | None = None) -> str:
    """Human-readable summary for ``pmrr checkpoint inspect``.

    With a ``model``, a checkpoint whose keys or shapes do not fit it raises
    :class:`CheckpointError` carrying the whole description plus the missing, unexpected and
    reshaped keys; a fitting one returns the text.
    """
    content = read_checkpoint(path)
    state = state_dict_of(content, path)
    n_params = sum(v.numel() for k, v in state.items() if SMPL_COPY_MARKER not in k)
    lines = [
        f"file: {path}",
        f"top-level keys: {sorted(content.keys()) if 'model' in content else '(bare state dict)'}",
        f"tensors: {len(state)} ({n_params / 1e6:.1f} M values outside SMPL copies)",
    ]
    for key in ("epoch", "total_step", "assets", "asset_id", "trained_on", "note"):
        if key in content and not isinstance(content[key], (dict, torch.Tensor)):
            lines.append(f"{key}: {content[key]}")
    dmap = state.get("maf_extractor.0.Dmap")
    if dmap is not None:
        lines.append(
            f"mesh: downsampling {tuple(dmap.shape)} -> body model with {dmap.shape[1]} vertices"
        )
    if model is not None:
        report = compare_keys(state, model)
        if not report.ok:
            # An error, not just a line of text: ``pmrr checkpoint inspect`` must exit non-zero
            # so scripts that vet a checkpoint before a long run can rely on its status.
            lines.append("DOES NOT FIT the PMRR architecture: " + report.summary())
            lines.append(report.details())
            raise CheckpointError(
                f"{path}: does not fit the PMRR architecture\n" + "\n".join(lines)
            )
        lines.append("fits the PMRR architecture: " + report.summary())
    return "\n".join(lines)
