"""Validation PA-MPJPE while training PMRR from its initial weights on a generated stand-in set.

    python benchmarks/train_curve.py --n-train 48 --n-val 8 --steps 200 --batch-size 8 \
        --val-every 10 --time-limit-s 300 [--plot docs/train_curve.png]

Generates the set (``pmrr train --make-synthetic``) under ``--work`` (kept, so reruns skip
it), trains with the seed's recipe (``pmrr train``'s Trainer; Adam, lr 5e-5 unless --lr) and
prints the validation curve as a table: step, PA-MPJPE and pelvis-aligned MPJPE in mm on the
14 LSP joints. This is a smoke-level curve on a tiny CPU budget, not a reproduction of the
paper's numbers (those need the seed's datasets and ~days of GPU time).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pmrr_model.training.synthetic import make_synthetic_set  # noqa: E402
from pmrr_model.training.trainer import TrainConfig, Trainer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/pmrr_train_curve")
    parser.add_argument("--n-train", type=int, default=48)
    parser.add_argument("--n-val", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--val-every", type=int, default=10)
    parser.add_argument("--time-limit-s", type=float, default=300.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--workers", type=int, default=0, help="DataLoader processes (decode + augment)"
    )
    parser.add_argument(
        "--data", help="an existing set made by make_synthetic_set (default: made under --work)"
    )
    parser.add_argument(
        "--freeze-backbone", action="store_true", help="train all but the ResNet-50 encoder"
    )
    parser.add_argument(
        "--plot", help="also draw the curve into this PNG (e.g. docs/train_curve.png)"
    )
    args = parser.parse_args(argv)

    work = Path(args.work)
    data = Path(args.data) if args.data else work / f"data_{args.n_train}_{args.n_val}"
    started = time.time()
    if not (data / "synthetic.json").is_file():
        make_synthetic_set(data, args.n_train, args.n_val, seed=0)
    generated_s = time.time() - started
    run = work / f"run_{int(time.time())}"
    config = TrainConfig(
        data=[str(data / "train")],
        val=[str(data / "val")],
        out=str(run),
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        val_every=args.val_every,
        save_every=10**9,
        log_every=1,
        device=args.device,
        workers=args.workers,
        time_limit_s=args.time_limit_s,
        freeze_backbone=args.freeze_backbone,
    )
    trainer = Trainer(config)
    train_started = time.time()
    curve = trainer.fit()
    train_s = time.time() - train_started
    print(
        f"data: {len(trainer.train_set)} train / {sum(len(v) for v in trainer.val_sets)} val "
        f"samples ({generated_s:.0f} s to make), "
        f"batch {args.batch_size}, lr {args.lr:g}, {trainer.step} steps in {train_s:.0f} s"
        + (", encoder frozen" if args.freeze_backbone else "")
    )
    print(f"{'step':>6} {'PA-MPJPE mm':>12} {'MPJPE mm':>10}")
    for row in curve:
        print(f"{int(row['step']):>6} {row['pa_mpjpe_mm']:>12.1f} {row['mpjpe_mm']:>10.1f}")
    prior = trainer.prior_baseline()
    print(
        f"{'prior':>6} {prior['pa_mpjpe_mm']:>12.1f} {prior['mpjpe_mm']:>10.1f}   (no network: "
        "the training set's mean pose and shape guessed for every validation image)"
    )
    (run / "summary.json").write_text(
        json.dumps({"curve": curve, "prior": prior, "train_s": train_s}, indent=1)
    )
    if args.plot:
        title = (
            f"PMRR from random weights on {args.n_train} stand-in images ({args.device}), "
            f"batch {args.batch_size}, lr {args.lr:g}: {trainer.step} steps in {train_s / 60:.0f} min"
        )
        plot_curve(curve, prior, title, Path(args.plot))
    return 0


def plot_curve(
    curve: list[dict[str, float]], prior: dict[str, float], title: str, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in curve]
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    ax.plot(steps, [row["pa_mpjpe_mm"] for row in curve], "o-", label="PA-MPJPE")
    ax.plot(steps, [row["mpjpe_mm"] for row in curve], "s--", label="MPJPE (pelvis-aligned)")
    ax.axhline(prior["pa_mpjpe_mm"], color="C0", lw=0.8, ls=":", label="PA-MPJPE of the mean pose")
    ax.axhline(prior["mpjpe_mm"], color="C1", lw=0.8, ls=":", label="MPJPE of the mean pose")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("validation error, mm (14 LSP joints)")
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
