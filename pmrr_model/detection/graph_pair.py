"""Two copies of one MediaPipe graph, run side by side where the process may use two cores.

A MediaPipe graph runs one image at a time on one core and releases the GIL while it does, so
two copies of a graph in two threads use two cores. Every MediaPipe model this project runs is
in single image mode (no tracking state between calls), so either copy gives exactly the
result the other would (tested in ``tests/test_mirror.py``): running the two images of a mirror
pair, or the windows of one frame, on both copies changes the time and nothing else.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

G = TypeVar("G")
T = TypeVar("T")
R = TypeVar("R")


def cpu_threads() -> int:
    """Cores this process may use: the thread limit its launcher set (``OMP_NUM_THREADS``, what
    :func:`flows.cluster.worker_env` gives each Dask worker), else the cores it may run on."""
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and int(limit) > 0:
        return int(limit)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def close_with(owner: object, close: Callable[[], None]) -> Callable[[], None]:
    """Run ``close`` (a MediaPipe solution's ``close``) when ``owner`` is garbage-collected, or
    earlier when the returned function is called (once; later calls do nothing). ``close`` must
    not refer to ``owner``.

    Why: a MediaPipe solution hands its C++ graph a Python callback that refers back to the
    solution, a reference cycle through native code that Python's collector cannot see, so a
    solution dropped without ``close()`` is never freed. Dropping a detector and an estimator
    without closing them kept about 750 MB each time (measured); a test run, or a worker whose
    model cache evicts, grew by that much per model built. Not run at interpreter exit
    (``atexit = False``): closing a graph then deadlocks in its native code."""
    closer = weakref.finalize(owner, close)
    closer.atexit = False
    return closer


class GraphPair(Generic[G]):
    """``make()`` twice when ``side_by_side`` (and :func:`cpu_threads` allows two), else once,
    serving both roles. Calls from several threads are serialised: a graph must not run two
    images at once."""

    def __init__(self, make: Callable[[], G], side_by_side: bool = True) -> None:
        self.first = make()
        parallel = side_by_side and cpu_threads() >= 2
        self.second = make() if parallel else self.first
        self._helper = ThreadPoolExecutor(1, "graph-pair") if parallel else None
        self._lock = threading.Lock()
        self._closers = [close_with(self, self.first.close)]
        if parallel:
            self._closers += [
                close_with(self, self.second.close),
                close_with(self, self._helper.shutdown),
            ]

    @property
    def parallel(self) -> bool:
        return self._helper is not None

    def one(self, run: Callable[[G, T], R], a: T) -> R:
        """``run(graph, a)`` on the first graph."""
        with self._lock:
            return run(self.first, a)

    def both(self, run: Callable[[G, T], R], a: T, b: T) -> tuple[R, R]:
        """``(run(graph, a), run(other graph, b))``, at the same time when parallel."""
        with self._lock:
            if self._helper is None:
                return run(self.first, a), run(self.second, b)
            pending = self._helper.submit(run, self.second, b)
            return run(self.first, a), pending.result()

    def map(self, run: Callable[[G, T], R], items: Sequence[T]) -> list[R]:
        """``[run(graph, item) for item in items]`` in order; when parallel, each graph takes the
        next item not yet taken, so items of unequal cost still keep both cores busy."""
        results: list = [None] * len(items)
        taken = iter(range(len(items)))
        take_lock = threading.Lock()

        def work(graph: G) -> None:
            while True:
                with take_lock:
                    k = next(taken, None)
                if k is None:
                    return
                results[k] = run(graph, items[k])

        with self._lock:
            if self._helper is None:
                work(self.first)
            else:
                pending = self._helper.submit(work, self.second)
                try:
                    work(self.first)
                finally:
                    pending.result()
        return results

    def close(self) -> None:
        """Free the graphs now rather than when this pair is collected (:func:`close_with`)."""
        for close in reversed(self._closers):  # the helper thread stops before its graph closes
            close()
