"""Prefect flows of the pipeline (thin wiring of :mod:`tasks`).

Importing this package caps glibc's malloc arenas at 2 (what ``MALLOC_ARENA_MAX=2`` does), unless
the user set ``MALLOC_ARENA_MAX`` themselves. MediaPipe's and torch's worker threads each get an
arena by default, and their fragmentation made a long video's resident memory creep upward
(measured on the detection stage: +64 MB over 400 frames, flat with the cap); the pipeline's
memory must not grow with video length. Its cost was not measurable here.
"""

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter number


def _cap_malloc_arenas(arenas: int = 2) -> None:
    if sys.platform != "linux" or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to cap
        pass


_cap_malloc_arenas()
