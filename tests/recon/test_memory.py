"""The Arrow allocator the entry points choose (``recon.memory``)."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from recon.memory import ARROW_POOL_ENV, use_lean_arrow_allocator


@pytest.fixture(autouse=True)
def restore_pool() -> Iterator[None]:
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_jemalloc_is_chosen_where_the_wheel_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ARROW_POOL_ENV, raising=False)
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow build has no jemalloc")
    assert use_lean_arrow_allocator() == "jemalloc"
    assert pa.array(["x"] * 10).to_pandas().tolist() == ["x"] * 10  # arrays still work


def test_an_explicit_choice_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    pa.set_memory_pool(pa.system_memory_pool())
    monkeypatch.setenv(ARROW_POOL_ENV, "system")
    assert use_lean_arrow_allocator() == "system"
