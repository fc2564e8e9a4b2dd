"""Progress reporting from inside tasks to whoever started the run (CLI progress bar).

Prefect's logger is for the UI; a terminal user wants one bar per video. Tasks call
:func:`report`; :func:`flows.run.process` installs a reporter that drives a ``rich`` progress bar.
Without one, reports are dropped (deployments, tests).
"""

from __future__ import annotations

from collections.abc import Callable

Reporter = Callable[[str, str, int, int], None]  # (video, stage, done, total)

_reporter: Reporter | None = None


def set_reporter(reporter: Reporter | None) -> None:
    global _reporter
    _reporter = reporter


def report(video: str, stage: str, done: int = 0, total: int = 0) -> None:
    if _reporter is not None:
        _reporter(video, stage, done, total)
