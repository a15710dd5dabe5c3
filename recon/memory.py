"""Process-wide memory settings for large runs.

Arrow's default allocator in the pyarrow wheels (mimalloc) keeps freed pages for reuse; jemalloc hands
them back to the system after a short delay. Loading and reconciling a million invoice lines frees a
lot of Arrow memory along the way (text columns replaced by parsed ones), and with jemalloc the
process's peak is about 170 MB lower at the same speed (``bench/results.md``).
"""

from __future__ import annotations

import contextlib
import os

import pyarrow as pa

ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"  # Arrow's own switch: when set, the user has chosen


def use_lean_arrow_allocator() -> str:
    """Make jemalloc Arrow's default allocator (unless ``ARROW_DEFAULT_MEMORY_POOL`` chooses one, or this
    pyarrow build has no jemalloc). Returns the allocator in use. Arrays already made keep theirs."""
    if not os.environ.get(ARROW_POOL_ENV):
        # a build without jemalloc (e.g. Windows wheels) keeps its default
        with contextlib.suppress(NotImplementedError):
            pa.set_memory_pool(pa.jemalloc_memory_pool())
    return str(pa.default_memory_pool().backend_name)
