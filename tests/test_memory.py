"""``tasks.memory``: freed heap memory goes back to the system (glibc only)."""

from __future__ import annotations

import ctypes.util
import platform

import numpy as np
import pytest

from tasks.memory import release_freed_memory


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(k for k in status if k.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="malloc_trim is glibc's",
)
def test_freed_heap_memory_is_returned():
    """Many small arrays (below glibc's mmap threshold, so on the heap, as a stage's pandas
    and numpy temporaries are), all but the last freed: glibc keeps the pages, since the live
    one sits above them; after the call, they are gone from the process's resident memory."""
    assert ctypes.util.find_library("c")
    blocks = [np.ones(2048) for _ in range(40_000)]  # 16 KiB each, 640 MiB
    keep = np.ones(2048)  # allocated last: the heap's top stays in use
    del blocks
    held = _rss_mib()
    assert release_freed_memory()
    assert _rss_mib() < held - 400, (held, _rss_mib())
    assert keep.sum() == 2048


@pytest.mark.skipif(platform.system() != "Linux", reason="reads /proc")
def test_memory_arrow_freed_is_returned():
    """Arrow allocates from its own pool (mimalloc in pyarrow's wheels), which keeps freed
    buffers for reuse: a table's columns computed by Arrow, then dropped, stay resident until
    the call asks the pool to give them back."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = pa.default_memory_pool()
    base = pa.array(np.arange(1 << 20, dtype=np.float64))  # numpy's memory, not the pool's
    columns = [pc.add(base, float(k)) for k in range(64)]  # 8 MiB each from the pool: 512 MiB
    assert pool.bytes_allocated() >= 500 << 20
    del columns
    assert pool.bytes_allocated() < 16 << 20  # freed, as far as Arrow is concerned
    held = _rss_mib()
    release_freed_memory()
    assert _rss_mib() < held - 300, (pool.backend_name, held, _rss_mib())
