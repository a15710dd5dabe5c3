"""The streaming CSV writer (issue 25) writes the bytes the product wrote before: pandas' ``to_csv`` of
``safe_frame`` (formulas neutralised by schema, quoting as Python's csv module, numbers as pandas writes
them), for hostile text, every dtype the engine's frames carry, and any slice size."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.exports.csvfile import csv_bytes, write_csv
from recon.exports.safe import safe_frame

TEXT = st.text(alphabet=st.sampled_from([*"ab ,\"'\n\r\t=+-@\u00a0\u3000é1.", "\u2028", "\x0b", "\u0661"]),
               max_size=6)


def pandas_csv(frame: pd.DataFrame, numeric: tuple[str, ...] = ()) -> bytes:
    """How every CSV was written before the streaming writer."""
    return safe_frame(frame, numeric).to_csv(index=False, lineterminator="\n").encode("utf-8")


def streamed(frame: pd.DataFrame, numeric: tuple[str, ...] = (), slice_rows: int = 3) -> bytes:
    buffer = io.BytesIO()
    write_csv(frame, buffer, numeric, slice_rows=slice_rows)
    return buffer.getvalue()


ROWS = st.lists(st.tuples(st.none() | TEXT, st.none() | st.floats(allow_nan=True, allow_infinity=True),
                          st.none() | st.integers(-2**63, 2**63 - 1), st.none() | st.booleans(),
                          st.floats(allow_nan=False, width=64), st.integers(-5, 5), st.booleans(),
                          st.none() | TEXT, st.none() | TEXT | st.sampled_from(["-1.50", "12", "-\u0661"])),
                max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(ROWS, st.integers(1, 7))
def test_every_dtype_and_hostile_text_is_written_as_before(rows: list[tuple], slice_rows: int) -> None:
    columns = list(zip(*rows, strict=True)) if rows else [[]] * 9
    frame = pd.DataFrame({
        "text": pd.Series(columns[0], dtype="string"),
        "nullable float": pd.Series(columns[1], dtype="float64"),
        "Int64": pd.Series(columns[2], dtype="Int64"),
        "boolean": pd.Series(columns[3], dtype="boolean"),
        "float": pd.Series(columns[4], dtype="float64"),
        "int": pd.Series(columns[5], dtype="int64"),
        "bool": pd.Series(columns[6], dtype="bool"),
        "=category": pd.Series(columns[7], dtype="string").astype("category"),
        "billed_amount": pd.Series(columns[8], dtype="string"),  # money by schema: plain decimals stay
        "free money": pd.Series(columns[8], dtype="string"),  # named numeric by the caller
        "object": pd.Series(list(columns[0]), dtype=object),
        "str": pd.Series(list(columns[7]), dtype="str"),
    })
    expected = pandas_csv(frame.astype({"=category": "string"}), ("free money",))
    assert streamed(frame, ("free money",), slice_rows) == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.none() | TEXT, max_size=10))
def test_a_single_column_writes_empty_cells_quoted(cells: list[str | None]) -> None:
    frame = pd.DataFrame({"only": pd.Series(cells, dtype="string")})
    assert csv_bytes(frame) == pandas_csv(frame)


def test_floats_of_every_width_and_unsigned_integers() -> None:
    frame = pd.DataFrame({"s": pd.Series(["a", None, "=x"], dtype="str"), "f": [1e16, 1e-5, -0.0],
                          "f32": np.array([0.1, 1.5, np.nan], dtype=np.float32),
                          "F64": pd.array([0.25, None, 3.0], dtype="Float64"),
                          "u": np.array([1, 2, 2**64 - 1], dtype=np.uint64)})
    assert csv_bytes(frame) == pandas_csv(frame)


def test_dates_and_durations_left_unformatted_are_written_as_pandas_writes_them() -> None:
    frame = pd.DataFrame({"d": pd.to_datetime(["2025-01-01", None, "2025-03-01"]), "t": ["a", "=b", ""],
                          "moment": pd.to_datetime(["2025-01-01 10:00", None, "2025-01-02 00:00"], utc=True),
                          "gap": pd.to_timedelta([-1, None, 2], unit="D"),
                          "period": pd.period_range("2025-01", periods=3)})
    assert csv_bytes(frame) == pandas_csv(frame)
    assert csv_bytes(frame[["d"]]) == pandas_csv(frame[["d"]])


def test_no_columns() -> None:
    assert csv_bytes(pd.DataFrame(index=range(2))) == pandas_csv(pd.DataFrame(index=range(2)))


def test_no_rows_is_the_header_only() -> None:
    frame = pd.DataFrame({"=a": pd.Series([], dtype="string"), "b": pd.Series([], dtype="float64")})
    assert csv_bytes(frame) == pandas_csv(frame) == b"'=a,b\n"
