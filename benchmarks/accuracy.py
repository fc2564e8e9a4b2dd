"""Accuracy of the default pipeline against ground truth on synthetic interview scenes (the same
as ``pmrr eval --synthetic``; what is measured and how: :mod:`pmrr_model.evaluation.benchmark`).

    python3 benchmarks/accuracy.py [--quick] [--json FILE] [--seed N] [--cache DIR] [--force]
        [--config JSON]
"""

import sys

from pmrr_model.evaluation.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
