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
