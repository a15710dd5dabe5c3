"""XLSX sheets read as text cells, bounded while they are read.

A sheet's XML may hold a single cell at ``XFD1048576``: a 5 KB file whose sheet is 16,384 columns by a
million rows. A reader that builds the sheet as a rectangle (pandas' ``read_excel``) allocates that
rectangle before anything can count it (3.3 GB in 19 s). Here the cells are taken as openpyxl's own
parser yields them, row by row and unpadded: a value beyond the column limit or in a row beyond the row
limit refuses the file the moment it is parsed, and a value right of the header's last column
quarantines its row; nothing is allocated for either. Rows keep the header's width.

Lines of a sheet are its rows: the header is the first row holding a value, empty rows above it and
between data rows are blank lines, and the sheet ends with its last row holding a value (Excel's used
range often reaches further, over formatted empty rows).

Cells become the text pandas' reader made of them (``14``, ``20.9``, ``2025-11-01 00:00:00``, ``True``),
save that a number is never written with an exponent (``0.00005``, not ``5e-05``: the money reader
refuses exponents); an error cell keeps its text (``#DIV/0!``), so that a required value reads as
unreadable instead of blank.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import WorkSheetParser

from recon.errors import SheetLimitError
from recon.money import float_text

Cells = list[dict[str, Any]]


@dataclass(frozen=True)
class SheetRows:
    """A sheet's header and data rows as text, cut to the header's width: ``rows[i]`` is sheet row
    ``row_numbers[i]`` (from 1). ``beyond`` holds (row, column letter) of rows with a value right of the
    header's last column (quarantined, not in ``rows``); ``header_row`` is the header's row and ``lines``
    the last row holding a value."""

    header: list[str]
    rows: list[list[str]]
    row_numbers: list[int]
    beyond: list[tuple[int, str]]
    header_row: int
    lines: int


def cell_text(value: Any) -> str:
    """A cell's value as the text pandas' reader gave it (a whole float without its ``.0``), but a float
    never in an exponent (``0.00005``, where pandas gave ``5e-05``, which the money reader refuses)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else float_text(value)
    return str(value)


def read_sheet(data: bytes, sheet: str | int | None, max_rows: int, max_columns: int) -> SheetRows:
    """One sheet of an XLSX within the limits (``SheetLimitError`` past them). ``sheet`` None: the first
    sheet whose first row names two or more columns (a cover or notes sheet before the table is passed
    over), else the first sheet."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        worksheet = _chosen(book, sheet, max_columns)
        return _collect(_parsed_rows(worksheet), max_rows, max_columns)
    finally:
        book.close()


def _chosen(book: Any, sheet: str | int | None, max_columns: int) -> Any:
    if isinstance(sheet, str):
        return book[sheet]
    if isinstance(sheet, int):
        return book.worksheets[sheet]
    for worksheet in book.worksheets:
        for number, cells in _parsed_rows(worksheet):
            values = _values(cells)
            _check_bounds(number, values, number, max_columns)
            if len(values) >= 2:
                return worksheet
            break  # only the sheet's first row counts
    return book.worksheets[0]


def _parsed_rows(worksheet: Any) -> Iterator[tuple[int, Cells]]:
    """(row number, cells as parsed) of a read-only sheet, without padding: openpyxl's own parser, as
    its read-only sheets use it (their ``iter_rows`` pads each row to the declared width)."""
    book = worksheet.parent
    with worksheet._get_source() as source:
        parser = WorkSheetParser(source, worksheet._shared_strings, data_only=book.data_only,
                                 epoch=book.epoch, date_formats=book._date_formats,
                                 timedelta_formats=book._timedelta_formats)
        yield from parser.parse()


def _values(cells: Cells) -> dict[int, str]:
    """Column -> text of the cells holding something other than whitespace."""
    texts = {int(cell["column"]): cell_text(cell["value"]) for cell in cells if cell["value"] is not None}
    return {column: text for column, text in texts.items() if text.strip()}


def _collect(parsed: Iterator[tuple[int, Cells]], max_rows: int, max_columns: int) -> SheetRows:
    header: list[str] = []
    header_row = last = 0
    rows: list[list[str]] = []
    numbers: list[int] = []
    beyond: list[tuple[int, str]] = []
    for number, cells in parsed:
        values = _values(cells)
        if not values:
            continue
        _check_bounds(number, values, max_rows, max_columns)
        last = number
        if not header_row:
            header, header_row = [values.get(column, "") for column in range(1, max(values) + 1)], number
        elif max(values) > len(header):
            beyond.append((number, get_column_letter(min(c for c in values if c > len(header)))))
        else:
            rows.append([values.get(column, "") for column in range(1, len(header) + 1)])
            numbers.append(number)
    return SheetRows(header, rows, numbers, beyond, header_row, last)


def _check_bounds(number: int, values: dict[int, str], max_rows: int, max_columns: int) -> None:
    if values and number > max_rows + 1:
        raise SheetLimitError(f"has a value in row {number:,}, more than the limit of {max_rows:,} rows "
                           "(max_upload_rows in the settings)")
    far = max(values, default=0)
    if far > max_columns:
        raise SheetLimitError(f"has a value at {get_column_letter(far)}{number} (column {far:,}), more than the "
                           f"limit of {max_columns:,} columns (max_upload_columns in the settings)")
