"""Stage fingerprints: what changes which stage, and what changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows import identity
from flows.config import load_config

FILES = {"mediapipe": "0.10.21"}


def _fps(root: Path = identity.ROOT, assets: str = "standin:aaa", roles=None, files=None, **cfg):
    return identity.fingerprints(
        "0123456789abcdef", load_config(cfg), assets, roles, files or FILES, root
    ).to_dict()


def _changed(a: dict, b: dict) -> set[str]:
    return {stage for stage in a if a[stage] != b[stage]}


DOWNSTREAM_OF_ESTIMATE = {
    "estimate",
    "smooth",
    "people",
    "tables",
    "analytics",
    "plots",
    "annotations",
    "render",
    "exports",
}


def test_each_input_changes_its_stage_and_everything_after_it() -> None:
    base = _fps()
    assert _changed(base, _fps()) == set()
    # another asset set (e.g. the user's SMPL files dropped into data/)
    assert _changed(base, _fps(assets="smpl:bbb")) == DOWNSTREAM_OF_ESTIMATE
    assert _changed(base, _fps(smoothing="online")) == DOWNSTREAM_OF_ESTIMATE - {"estimate"}
    assert _changed(base, _fps(detect_every_k=2)) == DOWNSTREAM_OF_ESTIMATE | {"track"}
    assert _changed(base, _fps(estimate_every_k=2)) == DOWNSTREAM_OF_ESTIMATE
    # joining tracks into people: the people stage and what reads it, not the render or exports
    assert _changed(base, _fps(people_max_distance=0.3)) == {
        "people",
        "tables",
        "analytics",
        "plots",
        "annotations",
    }
    assert _changed(base, _fps(roles={1: "interviewer"})) == {
        "tables",
        "analytics",
        "plots",
        "annotations",
    }
    # a new MediaPipe release: the bundled detector and landmark models changed
    assert _changed(base, _fps(files={"mediapipe": "0.10.22"})) == DOWNSTREAM_OF_ESTIMATE | {
        "track"
    }
    other_video = identity.fingerprints(
        "fedcba9876543210", load_config(), "standin:aaa", None, FILES
    ).to_dict()
    assert _changed(base, other_video) == set(base)


def test_settings_that_do_not_change_numbers_change_nothing() -> None:
    base = _fps()
    assert _changed(base, _fps(device="cuda:1")) == set()
    assert _changed(base, _fps(render=False, analytics=False, export_npz=False)) == set()
    assert _changed(base, _fps(credentials_block="aws-keys")) == set()  # where keys come from


def test_checkpoint_counts_by_content_not_path(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"weights-1")
    b.write_bytes(b"weights-1")
    cfg_a = load_config(estimator="pmrr", checkpoint=str(a))
    cfg_b = load_config(estimator="pmrr", checkpoint=str(b))
    first = identity.fingerprints("0" * 16, cfg_a, "standin:aaa").to_dict()
    assert identity.fingerprints("0" * 16, cfg_b, "standin:aaa").to_dict() == first
    a.write_bytes(b"weights-2")  # overwritten in place: a new checkpoint under the old name
    import os

    os.utime(a, ns=(1, 1))  # defeat any mtime-keyed memo: content must decide
    second = identity.fingerprints("0" * 16, cfg_a, "standin:aaa").to_dict()
    assert _changed(first, second) == DOWNSTREAM_OF_ESTIMATE


@pytest.fixture
def code_root(tmp_path: Path) -> Path:
    """A copy of the project's packages, to edit."""
    for package in identity.PACKAGES:
        shutil.copytree(identity.ROOT / package, tmp_path / package)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_docstring_and_comment_edits_recompute_nothing(code_root: Path) -> None:
    base = _fps(code_root)
    plots = code_root / "analytics" / "plots.py"
    text = plots.read_text()
    quote = text.index('"""') + 3
    plots.write_text(text[:quote] + "Edited docstring. " + text[quote:] + "\n# a comment\n")
    assert _changed(base, _fps(code_root)) == set()


def test_a_code_edit_recomputes_only_the_stages_that_use_it(code_root: Path) -> None:
    base = _fps(code_root)
    with (code_root / "analytics" / "plots.py").open("a") as handle:
        handle.write("\nEDITED = 1\n")
    assert _changed(base, _fps(code_root)) == {"plots"}
    base = _fps(code_root)
    with (code_root / "tasks" / "smoothing.py").open("a") as handle:
        handle.write("\nEDITED = 1\n")
    assert _changed(base, _fps(code_root)) == DOWNSTREAM_OF_ESTIMATE - {"estimate"}


def test_code_closure_follows_lazy_imports() -> None:
    closure = identity.code_closure(["tasks.render"])
    assert "tasks.decode" in closure  # imported at module level
    closure = identity.code_closure(["analytics.pipeline"])
    assert "analytics.plots" not in closure  # the package re-exports it, the pipeline never uses it


def test_a_spurious_parser_error_is_tried_again(monkeypatch, tmp_path: Path) -> None:
    """CPython 3.11's "AST constructor recursion depth mismatch" (python/cpython#106905) once
    failed a flow run while hashing code: the parse is tried again, and an error that stays
    is still raised."""
    import ast

    module = tmp_path / "m.py"
    module.write_text("x = 1\n")
    parse, calls = ast.parse, []

    def flaky(source, *args, fail: int = 1, **kwargs):
        calls.append(1)
        if len(calls) <= fail:
            raise SystemError("AST constructor recursion depth mismatch (before=51, after=74)")
        return parse(source, *args, **kwargs)

    monkeypatch.setattr(identity.ast, "parse", flaky)
    assert ast.dump(identity._parse(module)) == ast.dump(parse("x = 1\n"))
    assert len(calls) == 2
    calls.clear()
    monkeypatch.setattr(identity.ast, "parse", lambda *a, **k: flaky(*a, fail=99, **k))
    with pytest.raises(SystemError, match="recursion depth mismatch"):
        identity._parse(module)
    assert len(calls) == identity.PARSE_TRIES
