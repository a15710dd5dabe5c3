"""Arrow's allocator for processes that hold a large run.

The pyarrow wheels allocate with mimalloc by default, which keeps freed pages for reuse; jemalloc hands
them back to the system after a short delay. Loading and reconciling a million invoice lines frees a lot
of Arrow memory on the way (text columns replaced by parsed ones), and with jemalloc the process's peak is
about 150 MB lower at the same speed (``bench/results.md``).

Arrow reads its choice from ``ARROW_DEFAULT_MEMORY_POOL`` once, when the library loads, and switching
later (``pyarrow.set_memory_pool``) leaves part of Arrow on the first allocator (a higher peak, measured).
So the choice is made in the environment of the processes ``recon`` starts: the dashboard server and the
benchmark's measurements.

The rest of a run's memory (numpy's arrays, pandas' masks and codes) comes from the C library's
``malloc``. glibc gives each thread that allocates a heap (an arena) of its own, up to eight per core, and
a block freed stays in the heap it came from, for that heap's next blocks only. ``recon`` loads files on
two threads and reconciles on the main one: what the loading threads freed (text columns replaced by
parsed ones) sat unused while the main thread asked the system for more, and a run at 1M invoice lines
peaked 300 to 500 MB higher for it (``bench/results.md``, issue 25). ``one_heap`` makes every thread
allocate from one heap, so freed memory is reused by whichever thread asks next. (An earlier fix mapped
every block of 1 MB or more on its own and unmapped it when freed: as low a peak, but each new array then
came as fresh zeroed pages, 3 to 4 s of the kernel's time in a 1M run.)
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Mapping

ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
LEAN_ALLOCATOR = "jemalloc"


def with_lean_allocator(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` for a child process, with jemalloc as Arrow's allocator unless it names one.
    (A pyarrow built without jemalloc warns once and keeps its default.)"""
    return {ARROW_POOL_ENV: LEAN_ALLOCATOR, **environment}


_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h): how many heaps threads may allocate from


def one_heap() -> bool:
    """Make glibc's ``malloc`` serve every thread of the process from one heap (``mallopt(M_ARENA_MAX,
    1)``), for the rest of the process. Returns whether it could (False off Linux or with another C
    library). Call it before the process starts threads: a thread that has allocated keeps its heap."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: its C library's
        if not hasattr(libc, "gnu_get_libc_version"):  # musl and others: no such parameter
            return False
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, 1))


# Python's cyclic garbage collector runs its youngest generation every 700 new container objects and its
# full collection as the old generation grows, each full one traversing every object alive: in a run,
# GX's import alone leaves hundreds of thousands (the sample MSP's run: 717 collections, 0.58 s of CPU;
# 755 and 0.57 s at 1M invoice lines). A command's run creates few cycles, so the youngest generation
# is collected every 10,000 objects: 45 collections, 0.27 s (bench/results.md, issue 25).
YOUNG_COLLECTION_EVERY = 10_000


def fewer_collections() -> None:
    """Collect the youngest generation every ``YOUNG_COLLECTION_EVERY`` new container objects (and the
    older ones after ten of the generation below, as before) for the rest of the process."""
    gc.set_threshold(YOUNG_COLLECTION_EVERY, 10, 10)
