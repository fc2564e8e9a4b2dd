"""Give memory that a finished stage (or a stage's step) freed back to the operating system.

Why: glibc's allocator keeps what a process frees inside its heap for reuse, and hands pages back
only at the heap's top. Each stage after estimation holds a whole video's person-frames for a
while (decoded frames and colour samples in the people stage, pandas frames in analytics), and
what it freed stayed resident: on an hour with a cut every 3 s the people stage alone left
660 MiB resident after it returned, all of it free memory, and the next stages started from
there (``benchmarks/long_input.py``). ``malloc_trim`` returns the free pages anywhere in the heap;
Dask recommends the same call for its workers' unmanaged memory. Elsewhere than glibc (macOS,
musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> bool:
    """Return freed heap pages to the operating system; True when glibc returned some. Arrow's
    own allocator (mimalloc in pyarrow's wheels) keeps what Arrow frees too, until asked: at an
    hour, 73 MiB of the core tables' buffers after they were written and dropped."""
    arrow = sys.modules.get("pyarrow")  # not imported here: a process without Arrow has none
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
