"""Arrow's allocator in the processes ``recon`` starts (``recon.memory``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

from recon.memory import ARROW_POOL_ENV, with_lean_allocator


def backend_in_child(environment: dict[str, str]) -> str:
    code = "import pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_child_process_allocates_with_jemalloc() -> None:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow build has no jemalloc")
    environment = {key: value for key, value in os.environ.items() if key != ARROW_POOL_ENV}
    assert backend_in_child(with_lean_allocator(environment)) == "jemalloc"
    assert backend_in_child(environment) != "jemalloc"  # the wheel's default is another one


def test_a_choice_in_the_environment_is_kept() -> None:
    environment = with_lean_allocator({**os.environ, ARROW_POOL_ENV: "system"})
    assert environment[ARROW_POOL_ENV] == "system"
    assert backend_in_child(environment) == "system"


# glibc's malloc: each thread allocates from a heap of its own, and a block it frees stays in that heap. A
# loading thread frees 200 MB (after a 16 MB block, so that 2 MB blocks come from its heap, not mappings
# of their own) under a block it keeps; then the main thread allocates 200 MB.
FREED_BY_ANOTHER_THREAD = """
import threading
import numpy as np

{setup}

def resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096

def load() -> None:
    big = np.ones(16 << 20, dtype=np.uint8)
    del big
    blocks = [np.ones(2 << 20, dtype=np.uint8) for _ in range(100)]
    kept.append(np.ones(2 << 20, dtype=np.uint8))  # on top of them
    del blocks

kept = []
thread = threading.Thread(target=load)
thread.start()
thread.join()
before = resident()
again = [np.ones(2 << 20, dtype=np.uint8) for _ in range(100)]
print((resident() - before) >> 20)
"""

needs_glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION"),
                                 reason="glibc's malloc on Linux")


def megabytes_grown(setup: str) -> int:
    """How much the main thread's 200 MB made the process grow, after another thread freed 200 MB."""
    code = FREED_BY_ANOTHER_THREAD.format(setup=setup)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(output.split()[-1])  # (after what the program printed)


@needs_glibc
def test_memory_one_thread_frees_is_reused_by_another() -> None:
    assert megabytes_grown("") >= 180  # glibc's own choice: the main thread's heap grows
    assert megabytes_grown("from recon.memory import one_heap\nassert one_heap()") < 50


@needs_glibc
def test_the_recon_program_allocates_from_one_heap() -> None:
    setup = ("import contextlib, sys\nfrom recon.cli import entry\nsys.argv = ['recon', '--help']\n"
             "with contextlib.suppress(SystemExit):\n    entry()")
    assert megabytes_grown(setup) < 50


# Python's collector: how many collections 200,000 new container objects (kept alive) set off.
COLLECTIONS = """
import gc

{setup}

collections = []
gc.callbacks.append(lambda phase, info: collections.append(info["generation"]) if phase == "start" else None)
kept = [[number] for number in range(200_000)]
print(len(collections))
"""


def collections_made(setup: str) -> int:
    code = COLLECTIONS.format(setup=setup)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(output.split()[-1])


def test_the_recon_program_collects_garbage_less_often() -> None:
    assert collections_made("") >= 200  # Python's default: every 700 objects
    setup = ("import contextlib, sys\nfrom recon.cli import entry\nsys.argv = ['recon', '--help']\n"
             "with contextlib.suppress(SystemExit):\n    entry()")
    assert collections_made(setup) <= 25
