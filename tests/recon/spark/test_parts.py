"""The Spark engine's own parts that need no cluster: ranges, payloads, and Great Expectations kept
from importing pyspark."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from recon.spark.buckets import Ranges, even_ranges, partitions_for
from recon.spark.payload import frame_bytes, frame_of

names = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=60, unique=True)


@given(values=names, count=st.integers(1, 12))
def test_ranges_keep_text_order_and_give_every_value_one_range(values: list[str], count: int) -> None:
    ranges = even_ranges(values, count)
    assert 1 <= ranges.count <= count
    ordered = sorted(values)
    found = ranges.of(pd.Series(ordered, dtype="string"))
    assert (np.diff(found) >= 0).all()  # ranges follow Python's string order, as recon sorts text
    assert found.min() >= 0 and found.max() < ranges.count


def test_a_missing_value_goes_to_the_first_range() -> None:
    ranges = Ranges(("m",))
    assert ranges.of(pd.Series(["a", None, "z"], dtype="string")).tolist() == [0, 0, 1]


def test_partitions_follow_the_rows_with_two_per_core_at_least() -> None:
    assert partitions_for(1_000, 250_000, 2) == 4
    assert partitions_for(27_000_000, 250_000, 2) == 108


def test_a_payload_gives_back_the_frame_with_its_types() -> None:
    frame = pd.DataFrame({
        "client": pd.Series(["A", None], dtype="string"), "amount": pd.array([125000, None], dtype="Int64"),
        "flag": pd.array([True, None], dtype="boolean"), "day": pd.to_datetime(["2026-01-31", None]),
        "vendor": pd.Series(["Pax8", "Pax8"], dtype="category"), "quantity": [1.5, 2.0]})
    back = frame_of(frame_bytes(frame))
    assert back.dtypes.astype(str).tolist() == frame.dtypes.astype(str).tolist()
    assert back.equals(frame)
    assert len(frame_of(frame_bytes(frame.iloc[0:0]))) == 0


def test_great_expectations_does_not_import_pyspark_even_under_python_c() -> None:
    """With pyspark installed, GX imported pyspark, whose Spark Connect module ends a ``python -c``
    process at once (exit 0, nothing done): recon hides pyspark from GX."""
    code = ("import sys\nfrom recon.ingest import quality\nquality._gx()\n"
            "print('imported', 'pyspark' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert done.stdout.strip() == "imported False"
