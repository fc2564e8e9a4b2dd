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


_LOG_STEPS = 10  # a long stage logs at every 10 % of its frames
_logged: dict[tuple[str, str], int] = {}


def report(video: str, stage: str, done: int = 0, total: int = 0) -> None:
    """Progress of ``stage`` on ``video``: to the terminal's reporter, and every 10 % to the
    Prefect run log (so a long stage shows progress in the UI, not just its start and end)."""
    if _reporter is not None:
        _reporter(video, stage, done, total)
    if total <= 0:
        return
    step = min(done * _LOG_STEPS // total, _LOG_STEPS)
    key = (video, stage)
    if step <= _logged.get(key, 0) and done < total:
        return
    _logged[key] = step
    if done >= total:
        _logged.pop(key, None)
    try:
        from prefect import get_run_logger

        get_run_logger().info("%s: %s %d/%d frames (%d %%)", video, stage, done, total,
                              100 * done // total)  # fmt: skip
    except Exception:  # noqa: BLE001 (outside a Prefect run: nothing to log to)
        pass
