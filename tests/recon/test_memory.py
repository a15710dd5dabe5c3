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


# glibc's malloc: after a 16 MB block is freed it serves 2 MB blocks from its heap (its mapping limit
# follows the largest block freed), where freed blocks under a live one stay in the process.
FREED_UNDER_A_LIVE_BLOCK = """
import sys
import numpy as np

{setup}

def resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096

big = np.ones(16 << 20, dtype=np.uint8)
del big
blocks = [np.ones(2 << 20, dtype=np.uint8) for _ in range(100)]  # 200 MB
last = np.ones(2 << 20, dtype=np.uint8)  # on top of them
before = resident()
del blocks
print((before - resident()) >> 20)
"""

needs_glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION"),
                                 reason="glibc's malloc on Linux")


def megabytes_given_back(setup: str) -> int:
    code = FREED_UNDER_A_LIVE_BLOCK.format(setup=setup)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(output.split()[-1])  # (after what the program printed)


@needs_glibc
def test_large_blocks_freed_go_back_to_the_system() -> None:
    assert megabytes_given_back("") < 50  # glibc's own choice keeps them
    given_back = megabytes_given_back("from recon.memory import large_blocks_returned\n"
                                      "assert large_blocks_returned()")
    assert given_back >= 180


@needs_glibc
def test_the_recon_program_gives_large_blocks_back() -> None:
    setup = ("import contextlib, sys\nfrom recon.cli import entry\nsys.argv = ['recon', '--help']\n"
             "with contextlib.suppress(SystemExit):\n    entry()")
    assert megabytes_given_back(setup) >= 180
