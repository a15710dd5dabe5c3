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
``malloc``. glibc serves a block of 128 KB or more with a mapping of its own and gives it back when it is
freed, but it raises that limit to the size of each such block freed (up to 32 MB): after the first
million-row column is freed, every array of a million rows (8 MB of int64, 1 MB of flags) comes from its
heaps instead, where freed blocks stay in the process among live ones (a heap shrinks only from its top,
and each thread has its own). A run at 1M invoice lines then held 300 to 500 MB it had freed at its peak
(``bench/results.md``, issue 25). ``large_blocks_returned`` fixes the limit at 1 MB: larger blocks are
always mapped and unmapped, at the cost of fresh pages (page faults) for each.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Mapping

ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
LEAN_ALLOCATOR = "jemalloc"


def with_lean_allocator(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` for a child process, with jemalloc as Arrow's allocator unless it names one.
    (A pyarrow built without jemalloc warns once and keeps its default.)"""
    return {ARROW_POOL_ENV: LEAN_ALLOCATOR, **environment}


MMAP_THRESHOLD = 1 << 20  # bytes: blocks this large or larger get a mapping of their own, returned on free
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)


def large_blocks_returned(threshold: int = MMAP_THRESHOLD) -> bool:
    """Make glibc's ``malloc`` serve every block of ``threshold`` bytes or more with a mapping of its
    own, given back to the system when freed, for the rest of the process (``mallopt``; fixing the limit
    also stops glibc raising it). Returns whether it could (False off Linux or with another C library).
    Call it before the process allocates much: blocks already on the heaps stay there."""
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
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
