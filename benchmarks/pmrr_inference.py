"""PMRR network throughput on person crops: crops per second by batch size and precision.

    python benchmarks/pmrr_inference.py [--device cuda] [--batch-sizes 1 8 32] [--repeats 3]
        [--precisions fp32 bf16] [--variants eager unfolded full_mesh contiguous compile]

Variants: ``eager`` as the pipeline runs it (BatchNorm folded into the convolutions,
:mod:`pmrr_model.network.fold`; only the vertices the mesh-aligned features and the joints read
are skinned, ``PMRRPredictor.sparse_body``; NHWC ("channels_last") memory format for the
convolutions); for comparison, each as before that change: ``unfolded`` with the BatchNorms run
as layers, ``full_mesh`` with the whole mesh skinned in every evaluation, ``contiguous`` in
NCHW memory format; ``compile`` (``torch.compile`` of the
network; compilation time is in the warm-up, not in the rate); ``estimator``, the estimate
stage's own path around the network: 640x360 frames with two people each (batch / 2 frames a
chunk), cut into crops by ``PMRREstimator.observe_batch`` in the stage's helper thread while the
network runs on the chunk before (``tasks.inference``), the bodies assembled from its output.

Weights are the untrained initial ones (speed does not depend on their values); the body model
is whatever ``resolve_assets`` picks (the stand-in by default). What is timed is
``PMRRPredictor.predict_final`` on uint8 crops: the normalisation, network and body model exactly
as the ``pmrr`` estimator runs them in the pipeline and the demos (parameters back on the host,
vertices left on the device).
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
import torch

from pmrr_model.estimators.pmrr_estimator import PMRREstimator
from pmrr_model.inference import PRECISIONS, PMRRPredictor
from pmrr_model.network import build_pmrr
from tasks.inference import _observed_ahead

VARIANTS = ("eager", "unfolded", "full_mesh", "contiguous", "compile", "estimator")


def measure(predictor: PMRRPredictor, batch_size: int, repeats: int) -> float:
    crops = np.random.default_rng(0).integers(0, 255, (batch_size, 224, 224, 3), dtype=np.uint8)

    def run() -> None:
        predictor.predict_final(crops, batch_size=batch_size, with_vertices=False)

    run()  # warm-up (allocations, autotuning)
    if predictor.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    if predictor.device.type == "cuda":
        torch.cuda.synchronize()
    return batch_size * repeats / (time.perf_counter() - start)


def measure_estimator(estimator: PMRREstimator, batch_size: int, repeats: int) -> float:
    """Crops/s of the estimate stage's path: chunks of ``batch_size // 2`` frames (two people
    each) through ``observe_batch`` (ahead, in the stage's helper thread) and
    ``estimate_observed``."""
    estimator.batch_size = batch_size
    frames_per_chunk = max(1, batch_size // 2)
    rng = np.random.default_rng(0)
    frames = list(rng.integers(0, 255, (frames_per_chunk, 360, 640, 3), dtype=np.uint8))
    boxes = [np.array([[80.0, 40.0, 260.0, 350.0], [380.0, 50.0, 560.0, 350.0]])] * len(frames)
    piece = SimpleNamespace(images=frames, boxes=boxes, track_ids=[np.arange(2)] * len(frames))

    def run(chunks: int) -> None:
        for _, observed in _observed_ahead(iter([piece] * chunks), estimator):
            estimator.estimate_observed(observed, with_vertices=False)

    run(1)  # warm-up
    if estimator.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    run(repeats)
    if estimator.device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * frames_per_chunk * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=PRECISIONS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=["eager"], choices=VARIANTS)
    args = parser.parse_args()
    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()}")
    print(f"{'variant':>13} {'precision':>9} {'batch':>5} {'crops/s':>9} {'ms/crop':>8}")
    for variant in args.variants:
        for precision in args.precisions:
            estimator = None
            if variant == "estimator":  # initial weights, as the predictor's below
                estimator = PMRREstimator(None, device=args.device, precision=precision)
            predictor = (
                estimator.predictor
                if estimator
                else PMRRPredictor(device=args.device, precision=precision)
            )
            if variant == "unfolded":
                unfolded = build_pmrr(predictor.assets).eval().to(predictor.device)
                predictor.model = unfolded.to(memory_format=torch.channels_last)
            elif variant == "full_mesh":
                predictor.sparse_body = None
            elif variant == "contiguous":
                predictor.model.to(memory_format=torch.contiguous_format)
            elif variant == "compile":
                predictor.model = torch.compile(predictor.model)
            for batch_size in args.batch_sizes:
                if estimator is not None:
                    rate = measure_estimator(estimator, batch_size, args.repeats)
                else:
                    rate = measure(predictor, batch_size, args.repeats)
                print(f"{variant:>13} {precision:>9} {batch_size:>5} {rate:>9.1f} "
                      f"{1000 / rate:>8.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
