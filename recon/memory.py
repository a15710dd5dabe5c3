"""Arrow's allocator for processes that hold a large run.

The pyarrow wheels allocate with mimalloc by default, which keeps freed pages for reuse; jemalloc hands
them back to the system after a short delay. Loading and reconciling a million invoice lines frees a lot
of Arrow memory on the way (text columns replaced by parsed ones), and with jemalloc the process's peak is
about 150 MB lower at the same speed (``bench/results.md``).

Arrow reads its choice from ``ARROW_DEFAULT_MEMORY_POOL`` once, when the library loads, and switching
later (``pyarrow.set_memory_pool``) leaves part of Arrow on the first allocator (a higher peak, measured).
So the choice is made in the environment of the processes ``recon`` starts: the dashboard server and the
benchmark's measurements.
"""

from __future__ import annotations

from collections.abc import Mapping

ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
LEAN_ALLOCATOR = "jemalloc"


def with_lean_allocator(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` for a child process, with jemalloc as Arrow's allocator unless it names one.
    (A pyarrow built without jemalloc warns once and keeps its default.)"""
    return {ARROW_POOL_ENV: LEAN_ALLOCATOR, **environment}
