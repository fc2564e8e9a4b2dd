"""discover(): real files, folders, globs and links; a bad input is a problem row, never an
exception that stops the batch; outputs and pipeline folders are never taken as inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage import discover, localize


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """in/ with videos at two depths, a .txt and a .jpg, a folder named x.mp4, a broken
    symlink, pipeline folders, and the output folder out/ (with a render) inside it."""
    root = tmp_path / "in"
    touch(root / "a.mp4")
    touch(root / "sub" / "b.MOV")
    touch(root / "notes.txt")
    touch(root / "still.jpg")
    (root / "x.mp4").mkdir()
    touch(root / "x.mp4" / "readme.txt")
    (root / "gone.mp4").symlink_to(root / "missing-target.mp4")
    touch(root / "_cache" / "inputs" / "c.mp4")
    touch(root / "sub" / "_staging" / "t" / "d.mp4")
    touch(root / "out" / "renders" / "e.mp4")
    return root


def messages(problems: list[tuple[str, str]]) -> list[str]:
    return [message for _, message in problems]


def test_folder_search(archive: Path) -> None:
    videos, problems = discover([str(archive)], exclude=[str(archive / "out")])
    assert videos == [str(archive / "a.mp4"), str(archive / "sub" / "b.MOV")]
    assert {item for item, _ in problems} == {str(archive)}
    assert sorted(messages(problems)) == [
        f"{archive / 'gone.mp4'}: broken symbolic link (target "
        f"{archive / 'missing-target.mp4'} does not exist)",
        f"{archive / 'x.mp4'}: a folder, not a video file",
    ]


def test_archive_and_camcorder_files_are_found(tmp_path: Path) -> None:
    """A tape archive's folder: DVD, camcorder, broadcast and old-phone files are videos too."""
    names = ["VTS_01_1.VOB", "00001.MTS", "00002.m2ts", "news.ts", "clip.3gp", "tape.dv",
             "old.flv", "cam.mxf", "talk.asf", "web.ogv"]  # fmt: skip
    for name in [*names, "notes.txt", "cover.jpg"]:
        touch(tmp_path / name)
    videos, problems = discover([str(tmp_path)])
    assert videos == sorted(str(tmp_path / name) for name in names) and not problems


def test_output_inside_input_is_not_ingested(archive: Path) -> None:
    videos, _ = discover(str(archive), exclude=[f"file://{archive / 'out'}/"])
    assert str(archive / "out" / "renders" / "e.mp4") not in videos
    # relative spelling of the same output root, and a symlink to the input folder
    os.symlink(archive, archive.parent / "link")
    cwd = os.getcwd()
    try:
        os.chdir(archive.parent)
        videos, _ = discover("link", exclude=["in/out"])
    finally:
        os.chdir(cwd)
    assert [Path(v).name for v in videos] == ["a.mp4", "b.MOV"]
    # without exclude the render would be taken: the rule, not luck, keeps it out
    videos, _ = discover(str(archive))
    assert str(archive / "out" / "renders" / "e.mp4") in videos


def test_globs_keep_video_files_only(archive: Path) -> None:
    videos, problems = discover([str(archive / "*")], exclude=[str(archive / "out")])
    assert videos == [str(archive / "a.mp4"), str(archive / "sub" / "b.MOV")]
    assert "notes.txt" not in str(problems) and "still.jpg" not in str(problems)
    assert any("x.mp4: a folder, not a video file" in m for m in messages(problems))
    assert any("gone.mp4: broken symbolic link" in m for m in messages(problems))
    videos, problems = discover([str(archive / "*.txt"), str(archive / "*.jpg")])
    assert videos == []
    assert problems == [
        (str(archive / "*.txt"), f"{archive / '*.txt'}: no video files match"),
        (str(archive / "*.jpg"), f"{archive / '*.jpg'}: no video files match"),
    ]
    videos, _ = discover(str(archive / "**" / "*.mp4"))
    assert str(archive / "_cache" / "inputs" / "c.mp4") not in videos
    assert str(archive / "sub" / "_staging" / "t" / "d.mp4") not in videos


def test_explicit_files_and_missing_paths(archive: Path, tmp_path: Path) -> None:
    named = touch(tmp_path / "broken.bin", b"")
    inputs = [
        str(named),  # any suffix when named: it will get its own failure row
        str(archive / "notes.txt"),
        str(archive / "gone.mp4"),
        str(archive / "x.mp4"),
        str(tmp_path / "missing.mp4"),
        str(tmp_path / "nothing" / "*.mp4"),
        str(archive / "out" / "renders" / "e.mp4"),
        str(archive / "a.mp4"),
        str(archive / "a.mp4"),  # twice: once in the result
    ]
    videos, problems = discover(inputs, exclude=[str(archive / "out")])
    assert videos == sorted([str(named), str(archive / "notes.txt"), str(archive / "a.mp4")])
    assert [item for item, _ in problems] == inputs[2:7]
    assert messages(problems) == [
        f"{archive / 'gone.mp4'}: broken symbolic link (target "
        f"{archive / 'missing-target.mp4'} does not exist)",
        f"{archive / 'x.mp4'}: a folder, not a video file",
        f"{tmp_path / 'missing.mp4'}: no such file or folder",
        f"{tmp_path / 'nothing' / '*.mp4'}: no video files match",
        f"{archive / 'out' / 'renders' / 'e.mp4'}: inside the output location, skipped",
    ]
    assert discover([]) == ([], [])
    assert localize(f"file://{named}", tmp_path / "cache") == str(named)


def test_unreadable_file_and_folder(tmp_path: Path) -> None:
    secret = touch(tmp_path / "in" / "secret.mp4")
    locked = touch(tmp_path / "in" / "locked" / "v.mp4").parent
    touch(tmp_path / "in" / "ok.mp4")
    secret.chmod(0)
    locked.chmod(0)
    try:
        try:
            secret.read_bytes()
            pytest.skip("this user reads files whatever their mode (root)")
        except PermissionError:
            pass
        videos, problems = discover(str(tmp_path / "in"))
    finally:
        secret.chmod(0o644)
        locked.chmod(0o755)
    assert videos == [str(tmp_path / "in" / "ok.mp4")]
    assert sorted(messages(problems)) == [
        f"{locked}: cannot list (Permission denied)",
        f"{secret}: cannot read (Permission denied)",
    ]


def test_special_file_with_a_video_name(tmp_path: Path) -> None:
    """A FIFO named like a video is reported (opening it would block the batch)."""
    os.mkfifo(tmp_path / "pipe.mp4")
    videos, problems = discover([str(tmp_path / "pipe.mp4"), str(tmp_path)])
    assert videos == []
    assert messages(problems) == [
        f"{tmp_path / 'pipe.mp4'}: not a regular file",
        f"{tmp_path / 'pipe.mp4'}: not a regular file",
    ]
