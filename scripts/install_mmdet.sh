#!/usr/bin/env bash
# Optional: mmdet 3.3.0 for users' own detectors (`--detector mmdet`). Builds full mmcv 2.1.0
# from source (about 6-10 minutes on 2 cores; mmcv-lite lacks the ops mmdet needs). mmengine and
# mmdet are installed without their declared deps: they would pull opencv-python over the
# project's opencv-python-headless; what they really import is listed here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP="$PY -m pip install -q --disable-pip-version-check"
if $PY -c "import mmdet, mmcv.ops" 2>/dev/null; then exit 0; fi
$PIP 'setuptools<81' wheel
$PIP addict yapf termcolor pycocotools shapely terminaltables
$PIP --no-deps mmengine==0.10.7 mmdet==3.3.0
MMCV_WITH_OPS=1 MAX_JOBS=2 $PIP --no-build-isolation --no-deps mmcv==2.1.0
$PY -c "import mmdet, mmcv.ops; print('mmdet', mmdet.__version__, 'mmcv', __import__('mmcv').__version__)"
