#!/usr/bin/env bash
# The GPU measurements of the README, as one run that fits 10 minutes on one H100/H200:
#   crops  PMRR crops/s by batch size, precision (fp32, bf16) and variant (eager, unfolded
#          BatchNorm, full_mesh skinning and contiguous (NCHW) memory for comparison; and
#          `estimator`, the estimate stage's path: crops cut from 640x360 frames in its helper
#          thread, bodies assembled from the network's output);
#          torch.compile for bf16 at batch 256 only: each batch size is a new compilation);
#   bf16   bf16 against fp32 on the same crops (largest vertex difference, mm);
#   train  training (`pmrr train`, the seed's batch 64) on a generated stand-in set for
#          TRAIN_S seconds (default 150): the validation PA-MPJPE curve, further than the CPU
#          run gets; TRAIN_DATA names a set made beforehand (else one is made: needs pyrender);
#   e2e    end to end, x real time, --estimator pmrr --device cuda on a 60 s two-person clip, in
#          process and with one worker per GPU when there are several.
# STAGES picks some (default: all four, in that order). Weights are the initial ones saved in the
# released layout (speed does not depend on them).
# Usage, from the repository root of an installed checkout:  bash benchmarks/gpu_check.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-/tmp/pmrr-gpu}}
STAGES=${STAGES:-crops bf16 train e2e}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__)" | tee -a "$OUT/gpu.txt"
GPUS=$(nvidia-smi -L | wc -l)
want() { [[ " $STAGES " == *" $1 "* ]]; }

if want crops; then
  python3 benchmarks/pmrr_inference.py --device cuda --batch-sizes 1 32 128 512 1024 \
    --repeats 5 --precisions fp32 bf16 --variants eager unfolded full_mesh contiguous estimator | tee "$OUT/crops.txt"
  timeout 150 python3 benchmarks/pmrr_inference.py --device cuda --batch-sizes 256 \
    --repeats 10 --precisions bf16 --variants compile | tee -a "$OUT/crops.txt" \
    || echo "compile: did not finish in 150 s" | tee -a "$OUT/crops.txt"
fi

if want bf16; then
  python3 - <<'PY' | tee "$OUT/bf16.txt"
import numpy as np, torch
from pmrr_model.inference import PMRRPredictor
torch.manual_seed(0)
crops = np.random.default_rng(0).integers(0, 255, (64, 224, 224, 3), dtype=np.uint8)
a = PMRRPredictor(device="cuda", precision="fp32")
b = PMRRPredictor(device="cuda", precision="bf16")
b.model.load_state_dict(a.model.state_dict())
va, vb = a.predict_final(crops).vertices, b.predict_final(crops).vertices
print(f"bf16 vs fp32, 64 crops: largest vertex difference {1000 * (va - vb).abs().max():.2f} mm")
PY
fi

if want train; then
  DATA_ARG=(); [ -n "${TRAIN_DATA:-}" ] && DATA_ARG=(--data "$TRAIN_DATA")
  python3 benchmarks/train_curve.py --work "$OUT/train" --n-train 512 --n-val 64 "${DATA_ARG[@]}" \
    --steps 100000 --batch-size 64 --val-every 25 --time-limit-s "${TRAIN_S:-150}" --device cuda \
    --workers "$(( $(nproc) > 2 ? $(nproc) - 2 : 1 ))" | tee "$OUT/train_curve.txt"
fi

if want e2e; then
  python3 -c "
import torch
from pmrr_model.assets import resolve_assets
from pmrr_model.checkpoint import save_checkpoint
from pmrr_model.network import build_pmrr
torch.manual_seed(0)
save_checkpoint(build_pmrr(resolve_assets()), '$OUT/initial.pt')"
  CONFIG="{\"estimator\": \"pmrr\", \"checkpoint\": \"$OUT/initial.pt\", \"device\": \"cuda\", \"precision\": \"bf16\"}"
  WORKERS="0"; [ "$GPUS" -gt 1 ] && WORKERS="0 1 $GPUS"  # 0 = in process
  python3 benchmarks/workers.py --seconds "${E2E_SECONDS:-60}" --unit-s 10 --workers $WORKERS \
    --config "$CONFIG" | tee "$OUT/end_to_end.txt"
fi
