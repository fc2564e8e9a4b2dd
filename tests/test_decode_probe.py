"""Probe (ffprobe metadata, content hash) and streamed decoding (decord chunks) on real clips."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pmrr_interviews import samples
from tasks.decode import frame_count, iter_chunks
from tasks.errors import VideoError
from tasks.probe import content_hash, probe_video


@pytest.fixture(scope="module")
def cache() -> Path:
    return samples.cache_dir()


@pytest.fixture(scope="module")
def carphone(cache: Path) -> Path:
    return samples.carphone_clip(cache, seconds=1.0)


def test_probe_real_clip(carphone: Path) -> None:
    info = probe_video(str(carphone))
    assert info.fps == pytest.approx(25.0)
    assert (info.width_px, info.height_px) == (176, 144)
    assert info.n_frames == 25 == frame_count(str(carphone))
    assert info.duration_s == pytest.approx(1.0, abs=0.05)
    assert info.codec == "h264" and info.rotation_deg == 0
    assert info.has_audio and info.audio_codec == "aac"


def test_probe_clip_without_audio(cache: Path) -> None:
    info = probe_video(str(samples.interview_clip(cache)))
    assert not info.has_audio and info.audio_codec is None
    assert (info.width_px, info.height_px, info.n_frames) == (416, 144, 75)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (samples.corrupt_clip, "not a readable video"),
        (samples.empty_clip, "empty file"),
        (lambda cache: cache / "does-not-exist.mp4", "file not found"),
    ],
)
def test_probe_names_file_and_problem(cache: Path, make, problem: str) -> None:
    path = str(make(cache))
    with pytest.raises(VideoError) as error:
        probe_video(path)
    assert path in str(error.value) and problem in str(error.value)


def test_decode_of_corrupt_file_is_named(cache: Path) -> None:
    path = str(samples.corrupt_clip(cache))
    with pytest.raises(VideoError, match="cannot be decoded") as error:
        next(iter_chunks(path))
    assert path in str(error.value)


def test_content_hash_is_content_not_path(carphone: Path, tmp_path: Path) -> None:
    copy = tmp_path / "renamed.mp4"
    shutil.copyfile(carphone, copy)
    assert content_hash(str(copy)) == content_hash(str(carphone))
    assert len(content_hash(str(carphone))) == 16
    copy.write_bytes(copy.read_bytes() + b"\0")
    assert content_hash(str(copy)) != content_hash(str(carphone))


def test_chunks_cover_every_frame_in_order(carphone: Path) -> None:
    chunks = list(iter_chunks(str(carphone), chunk_size=8))
    assert [len(i) for i, _ in chunks] == [8, 8, 8, 1]
    indices = np.concatenate([i for i, _ in chunks])
    assert np.array_equal(indices, np.arange(25))
    assert all(f.shape[1:] == (144, 176, 3) and f.dtype == np.uint8 for _, f in chunks)
    whole = np.concatenate([f for _, f in iter_chunks(str(carphone), chunk_size=64)])
    assert np.array_equal(whole, np.concatenate([f for _, f in chunks]))


def test_chunks_of_selected_frames_match_full_decode(carphone: Path) -> None:
    whole = np.concatenate([f for _, f in iter_chunks(str(carphone), chunk_size=64)])
    wanted = [20, 3, 0, 11]
    got = list(iter_chunks(str(carphone), chunk_size=3, frames=wanted))
    indices = np.concatenate([i for i, _ in got])
    assert indices.tolist() == sorted(wanted)
    assert np.array_equal(np.concatenate([f for _, f in got]), whole[sorted(wanted)])


def test_decode_applies_display_rotation(carphone: Path) -> None:
    upright = next(iter_chunks(str(carphone), chunk_size=2))[1]
    turned = next(iter_chunks(str(carphone), chunk_size=2, rotation_deg=90))[1]
    assert turned.shape == (2, 176, 144, 3)
    assert np.array_equal(turned, np.rot90(upright, k=-1, axes=(1, 2)))


def test_small_decode_for_shot_detection(carphone: Path) -> None:
    _, frames = next(iter_chunks(str(carphone), chunk_size=4, width=64, height=48))
    assert frames.shape == (4, 48, 64, 3)


_DECODE_PEAK = textwrap.dedent(
    """
    import sys, time
    from tasks.decode import frame_count, iter_chunks
    n = 0
    step, pause_s = int(sys.argv[2]), float(sys.argv[3])
    wanted = range(0, frame_count(sys.argv[1]), step)
    for indices, frames in iter_chunks(sys.argv[1], chunk_size=32, frames=wanted):
        n += len(indices)
        time.sleep(pause_s)  # a slow consumer, like detection or fitting
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child of a big pytest
    # process would report the parent's size; VmHWM belongs to this process's own memory.
    hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print(n, hwm.split()[1])
    """
)


def _decode_peak_kib(video: Path, step: int = 1, pause_s: float = 0.0) -> tuple[int, int]:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", _DECODE_PEAK, str(video), str(step), str(pause_s)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    frames, peak = done.stdout.split()
    return int(frames), int(peak)


def test_decode_memory_is_flat_in_video_length(cache: Path) -> None:
    """Decoding a 640x360 video 6x longer must not need more memory: each input in its own
    process, peak RSS (kernel high-water mark) compared. Holding the 1250 extra frames would
    take 1250 x 640 x 360 x 3 B = 864 MB; allocator noise between runs is ~50 MB either way."""
    short = samples.looped_clip(cache, 10)
    long = samples.looped_clip(cache, 60)
    n_short, peak_short = _decode_peak_kib(short)
    n_long, peak_long = _decode_peak_kib(long)
    assert (n_short, n_long) == (250, 1500)
    assert peak_long - peak_short < 80 * 1024, (peak_short, peak_long)
    assert peak_long < 400 * 1024


def test_decode_memory_is_flat_with_a_slow_consumer(cache: Path) -> None:
    """decord decodes ahead while the consumer works; without the seek after each batch its
    buffer grew with the video (0.74 GB after 500 frames of the 60 s clip). Every 3rd frame, as
    detection reads them, with a pause per chunk."""
    n_short, peak_short = _decode_peak_kib(samples.looped_clip(cache, 10), 3, 0.25)
    n_long, peak_long = _decode_peak_kib(samples.looped_clip(cache, 60), 3, 0.25)
    assert (n_short, n_long) == (84, 500)
    assert peak_long - peak_short < 80 * 1024, (peak_short, peak_long)
