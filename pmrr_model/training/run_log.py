"""Where a run's numbers go: TensorBoard event files under ``<run>/tensorboard`` (the seed's
logging; ``tensorboard --logdir <run>``), and a CSV per stream, which any tool reads without
TensorBoard and which the tests and ``benchmarks/train_curve.py`` use.

Streams: ``train_log.csv`` (loss terms per logged step) and ``val_curve.csv`` / ``val_curve.json``
(validation metrics). On resume, rows after the resumed step are dropped, so a curve never
holds two values for one step.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

logger = logging.getLogger(__name__)


def _truncate_csv(path: Path, last_step: int) -> None:
    if not path.is_file():
        return
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    kept = [row for row in rows if int(float(row["step"])) <= last_step]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


class RunLog:
    def __init__(self, folder: str | Path, resume_step: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        if resume_step is not None:
            for name in ("train_log.csv", "val_curve.csv"):
                _truncate_csv(self.folder / name, resume_step)
        # events after the resumed step are purged, as the CSV rows are
        purge = None if resume_step is None else resume_step + 1
        self.writer = SummaryWriter(log_dir=str(self.folder / "tensorboard"), purge_step=purge)
        logger.info("run log: %s (tensorboard + csv)", self.folder)

    def _append(self, name: str, row: dict[str, float]) -> None:
        path = self.folder / name
        fresh = not path.is_file() or path.stat().st_size == 0
        if not fresh:
            with path.open(newline="") as handle:
                header = next(csv.reader(handle), None)
            if header != list(row):
                raise ValueError(f"{path}: columns {header} differ from this run's {list(row)}")
        with path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if fresh:
                writer.writeheader()
            writer.writerow(row)

    def train(self, step: int, values: dict[str, float]) -> None:
        self._append("train_log.csv", {"step": step, **values})
        for key, value in values.items():
            self.writer.add_scalar(f"train/{key}", value, step)

    def validation(self, step: int, values: dict[str, float]) -> None:
        self._append("val_curve.csv", {"step": step, **values})
        with (self.folder / "val_curve.csv").open(newline="") as handle:
            rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
        (self.folder / "val_curve.json").write_text(json.dumps(rows, indent=1))
        for key, value in values.items():
            self.writer.add_scalar(f"val/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
