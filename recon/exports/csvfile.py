"""CSV as the product writes it, streamed from Arrow (issue 25).

In: a frame ready to be written (money and dates as text from ``recon.exports.formatting.export_frame``,
or any frame of text, numbers, flags and categoricals). Out: UTF-8 CSV written to a binary file a slice
of rows at a time, equal byte for byte to what ``safe_frame(frame).to_csv(index=False,
lineterminator="\\n")`` gives (``recon.exports.safe``), which is how every CSV was written before:

* text cells are neutralised against spreadsheet formulas exactly as ``safe.neutralise_text`` does (a
  leading ``'`` when the cell, past its own leading apostrophes and blanks, starts with ``= + - @``, a
  tab or a carriage return); in the schema's numeric columns (money written as plain decimals such as
  ``-12.50``) a plain decimal stays a number. Number, flag and date columns cannot hold a formula and
  are not looked at; a categorical's categories are neutralised once, not its million rows;
* quoting as Python's ``csv`` module (``QUOTE_MINIMAL``, ``\\n`` line ends): a cell holding one of the
  characters the module quotes for (a comma, a double quote, a line feed) is quoted, its quotes doubled;
  a row of one empty cell is written ``""``;
* numbers as pandas writes them: integers as digits, floats as numpy's shortest repr (``15.0``,
  ``0.0001``, ``1e+16``, ``-0.0``), each distinct value formatted once; flags ``True`` / ``False``;
  missing values as empty cells.

Dates, times and durations left unformatted are written as pandas writes them (each column's own text
from pandas' writer), as before; the product's own exports format them first.

Why: ``pandas.to_csv`` makes a Python object of every cell (27 s for a million keys' 37 columns on the
bench machine); here each step is one Arrow kernel over a slice of rows, and a slice's lines are one
buffer handed to the file, so memory stays flat whatever the number of rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.schema import column_kind

SLICE_ROWS = 65_536
_TEXT = pa.large_string()
# A cell ``safe.neutralise`` escapes, in RE2 syntax: past its own leading apostrophes (``'=x`` is written
# ``''=x``) and blanks, it starts as a formula could (``safe.is_formula_like``).
_FORMULA = "^'*[ \n\u00a0\u3000]*[=+\\-@\t\r]"
# ``safe``'s plain decimal (``_PLAIN_DECIMAL``), whole; Python's ``\\d`` is any Unicode digit, RE2's only
# ASCII, so ``\\p{Nd}``. (This module sits below ``safe``, which writes its CSV here.)
_PLAIN = "^-?\\p{Nd}{1,18}(?:\\.\\p{Nd}{1,6})?$"


def _quoted_characters() -> str:
    """The characters for which this Python's ``csv`` writer quotes a cell (asked, not assumed)."""
    quoted = []
    for character in ",\"\n\r\t'; ":
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(["a" + character, "b"])
        if line.getvalue().startswith('"'):
            quoted.append(character)
    return "".join(quoted)


_NEEDS_QUOTES = "[" + "".join("\\" + character if character in "\\]^-[" else character
                              for character in _quoted_characters()).replace("\n", "\\n").replace("\r", "\\r") + "]"

_Cells = Callable[[pd.Series], pa.Array]


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


def write_csv(frame: pd.DataFrame, out: BinaryIO, numeric_columns: Iterable[str] = (), *, header: bool = True,
              slice_rows: int = SLICE_ROWS) -> None:
    """Write ``frame`` to ``out`` as CSV (see the module): the header (unless ``header`` is false), then the
    rows a slice at a time. ``numeric_columns`` names text columns holding numbers besides the schema's."""
    numeric = {str(name) for name in frame.columns if column_kind(str(name)) is not None} | set(numeric_columns)
    if header:  # the names as one row, neutralised and quoted as cells
        names = [_text_cells(pa.array([str(name)], _TEXT), numeric=False) for name in frame.columns]
        out.write(_lines(names) if names else b"\n")
    if not len(frame.columns):  # pandas writes an empty line per row
        out.write(b"\n" * len(frame))
        return
    writers = [_writer_for(frame.iloc[:, position].dtype, str(name) in numeric)
               for position, name in enumerate(frame.columns)]
    for start in range(0, len(frame), slice_rows):
        part = frame.iloc[start:start + slice_rows]
        out.write(_lines([cells_of(part.iloc[:, position]) for position, cells_of in enumerate(writers)]))


def csv_bytes(frame: pd.DataFrame, numeric_columns: Iterable[str] = ()) -> bytes:
    """``frame`` as CSV bytes (``write_csv`` into memory)."""
    buffer = io.BytesIO()
    write_csv(frame, buffer, numeric_columns)
    return buffer.getvalue()


def _lines(cells: list[pa.Array]) -> memoryview:
    """The CSV lines of one slice: cells joined by commas, each line ended by ``\\n``, as one buffer."""
    if len(cells) == 1:  # a lone empty cell is written "" (else the line would be blank)
        cells = [pc.if_else(pc.equal(cells[0], _s("")), _s('""'), cells[0])]
    row = pc.binary_join_element_wise(*cells, _s(",")) if len(cells) > 1 else cells[0]
    lines = pc.binary_join_element_wise(row, _s(""), _s("\n"))  # row + "\n" + ""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    data = lines.buffers()[2]
    return memoryview(data)[first:last] if data is not None else memoryview(b"")


# --------------------------------------------------------------------------------------- per column

def _writer_for(dtype: object, numeric: bool) -> _Cells:
    if isinstance(dtype, pd.CategoricalDtype):
        return lambda series: _categorical_cells(series, numeric)
    if pd.api.types.is_bool_dtype(dtype):
        return _flag_cells
    if pd.api.types.is_integer_dtype(dtype):
        return _integer_cells
    if pd.api.types.is_float_dtype(dtype):
        return _float_cells
    if (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
            or pd.api.types.is_timedelta64_dtype(dtype)):
        return _pandas_cells  # a number or a moment: never a formula (``safe_frame`` leaves it as it is)
    return lambda series: _text_cells(_arrow_text(series), numeric)


def _arrow_text(series: pd.Series) -> pa.Array:
    """A column as Arrow text, missing values null (other objects as ``astype("string")`` writes them)."""
    values = series.array
    if not isinstance(values, pd.arrays.ArrowStringArray):
        values = series.astype("string[pyarrow]").array
    text = pa.array(values)
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    return text if text.type == _TEXT else text.cast(_TEXT)


def _text_cells(text: pa.Array, numeric: bool) -> pa.Array:
    """Text cells neutralised (in a numeric column, a plain decimal stays) and quoted; null empty."""
    risky = pc.match_substring_regex(text, _FORMULA)
    if pc.any(risky).as_py():
        if numeric:
            risky = pc.and_not(risky, pc.match_substring_regex(text, _PLAIN))
        text = pc.if_else(risky, pc.binary_join_element_wise(_s("'"), text, _s("")), text)
    quote = pc.match_substring_regex(text, _NEEDS_QUOTES)
    if pc.any(quote).as_py():
        quoted = pc.binary_join_element_wise(_s('"'), pc.replace_substring(text, '"', '""'), _s('"'), _s(""))
        text = pc.if_else(quote, quoted, text)
    return pc.fill_null(text, _s(""))


def _categorical_cells(series: pd.Series, numeric: bool) -> pa.Array:
    """The categories' text made once, then taken per row (code -1, missing, is an empty cell)."""
    categories = _text_cells(_arrow_text(series.cat.categories.to_series()), numeric)
    codes = np.asarray(series.cat.codes, dtype=np.int32)
    return pc.fill_null(pc.take(categories, pa.array(codes, mask=codes < 0)), _s(""))


def _flag_cells(series: pd.Series) -> pa.Array:
    return pc.fill_null(pc.if_else(pa.Array.from_pandas(series), _s("True"), _s("False")), _s(""))


def _integer_cells(series: pd.Series) -> pa.Array:
    return pc.fill_null(pc.cast(pa.Array.from_pandas(series), _TEXT), _s(""))


def _pandas_cells(series: pd.Series) -> pa.Array:
    """The cells pandas' writer gives the column (a second column keeps an empty cell from being quoted)."""
    pair = pd.DataFrame({"cell": series.reset_index(drop=True), "end": 0})
    text = pair.to_csv(index=False, header=False, lineterminator="\n")
    return pa.array([line[:-2] for line in text.split("\n")[:-1]], _TEXT)


def _float_cells(series: pd.Series) -> pa.Array:
    """numpy's repr of each distinct value (by its bits, so ``-0.0`` stays), taken per row; NaN empty."""
    values = series.to_numpy(dtype=getattr(series.dtype, "numpy_dtype", series.dtype), na_value=np.nan)
    bits = values.view(np.int64 if values.itemsize == 8 else np.int32 if values.itemsize == 4 else np.int16)
    codes, distinct_bits = pd.factorize(bits)
    distinct = np.asarray(distinct_bits).view(values.dtype)
    text = np.where(np.isnan(distinct), "", distinct.astype(str))
    return pc.take(pa.array(text, _TEXT), pa.array(codes))


__all__ = ["SLICE_ROWS", "csv_bytes", "write_csv"]
