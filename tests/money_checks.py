"""Checks that money leaves the product as ``recon.schema`` declares it (issue 19), for the walking tests.

Each check returns the problems it finds as sentences naming where (a page's table, a download, a file)
and which column, so one failing test lists every leak at once.

- A **screen** table (``st.dataframe`` / ``st.table`` / ``st.data_editor`` under AppTest): every numeric
  column is declared in ``recon.schema.COLUMN_KINDS``; money is a currency number (not Int64 units) shown
  with the currency format of its declared places.
- A **CSV** (a download, a CLI output): every column whose cells are all numbers is declared; money cells
  are exact decimals with the declared places (``1140000`` for 114.00 fails), counts are integers.
- An **XLSX** sheet with a header row: money cells are numbers shown with the declared places.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import openpyxl
import pandas as pd

from recon.schema import ISSUE_COLUMNS, SOURCES, column_kind, money_places

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
INTEGER = re.compile(r"-?\d+")
# Text by schema, even when every cell of a file happens to be digits (an agreement id, a line id).
TEXT_FIELDS = frozenset({field.name for fields in SOURCES.values() for field in fields
                         if field.type in ("text", "choice")} | {*ISSUE_COLUMNS} - {"line"})


def money_pattern(places: int) -> re.Pattern[str]:
    return re.compile(rf"-?\d+\.\d{{{places}}}")


def csv_problems(where: str, content: bytes | str, places_of: Mapping[str, int] | None = None) -> list[str]:
    """Every leak in one CSV. ``places_of`` overrides the schema's places (pulled canonical files keep 4)."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    problems = []
    for column in frame.columns:
        cells = frame[column][frame[column] != ""]
        problems += _cell_problems(f"{where}: {column}", str(column), cells, places_of)
    return problems


def _cell_problems(where: str, column: str, cells: pd.Series, places_of: Mapping[str, int] | None) -> list[str]:
    kind = column_kind(column)
    numeric = len(cells) > 0 and bool(cells.str.fullmatch(NUMBER.pattern).all())
    if kind is None:
        if numeric and column not in TEXT_FIELDS:
            return [f"{where} holds numbers ({cells.iloc[0]}) but recon.schema does not declare it"]
        return []
    if kind.is_money:
        places = (places_of or {}).get(column, kind.places)
        wrong = cells[~cells.str.fullmatch(money_pattern(places).pattern)]
        return [f"{where} is money with {places} places, but {wrong.iloc[0]!r} is not"] if len(wrong) else []
    if kind.name == "count":
        wrong = cells[~cells.str.fullmatch(INTEGER.pattern)]
        return [f"{where} is a count, but {wrong.iloc[0]!r} is not an integer"] if len(wrong) else []
    wrong = cells[~cells.str.fullmatch(NUMBER.pattern)]
    return [f"{where} is a {kind.name}, but {wrong.iloc[0]!r} is not a number"] if len(wrong) else []


def screen_problems(where: str, frame: pd.DataFrame, formats: Mapping[str, str | None],
                    money_format: Any) -> list[str]:
    """Every leak in one table on screen. ``formats``: column -> its ``NumberColumn`` format (or None);
    ``money_format(places)``: the format the dashboard gives money of ``places`` decimals."""
    problems = []
    for column in frame.columns:
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        kind = column_kind(str(column))
        if kind is None:
            if numeric:
                problems.append(f"{where}: {column} shows numbers ({values.dropna().head(1).tolist()}) but "
                                "recon.schema does not declare it")
            continue
        if not kind.is_money:
            continue
        if not numeric:
            cells = values.dropna().astype(str)
            cells = cells[cells != ""]
            wrong = cells[~cells.str.fullmatch(money_pattern(kind.places).pattern)]
            if len(wrong):
                problems.append(f"{where}: {column} is money, but shows {wrong.iloc[0]!r}")
            continue
        if pd.api.types.is_integer_dtype(values) and values.notna().any():
            problems.append(f"{where}: {column} is money, but shows integer units ({values.dropna().iloc[0]})")
        whole_cents = kind.places > 2 and bool((((values.dropna() * 100) % 1).abs() < 1e-6).all())
        if formats.get(str(column)) != money_format(kind.places) and not (
                whole_cents and formats.get(str(column)) == money_format(2)):  # $22.00, not $22.0000
            problems.append(f"{where}: {column} is money with {kind.places} places, but is shown with the format "
                            f"{formats.get(str(column))!r} instead of {money_format(kind.places)!r}")
    return problems


def screen_matches_csv(where: str, frame: pd.DataFrame, content: bytes) -> list[str]:
    """A table and its CSV download hold the same money: the screen's currency numbers, written with the
    schema's places, are the CSV's exact decimals (so neither can be units while the other is money)."""
    written = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
    problems = []
    for column, places in ((column, money_places(str(column))) for column in frame.columns):
        if places is None or column not in written or len(written) != len(frame):
            continue
        if not pd.api.types.is_float_dtype(frame[column]):
            continue
        shown = [("" if pd.isna(value) else f"{Decimal(repr(float(value))):.{places}f}") for value in frame[column]]
        csv = [("" if cell == "" else f"{Decimal(cell):.{places}f}") for cell in written[column]]
        if shown != csv:
            first = next(index for index, (left, right) in enumerate(zip(shown, csv, strict=True)) if left != right)
            problems.append(f"{where}: {column} shows {shown[first]} but downloads {csv[first]} (row {first})")
    return problems


def xlsx_problems(where: str, content: bytes, sheets: Iterable[str] | None = None) -> list[str]:
    """Every leak in the tabular sheets of a workbook (first row: column names)."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    problems = []
    for sheet in book.worksheets:
        if sheets is not None and sheet.title not in sheets:
            continue
        rows = sheet.iter_rows()
        header = [cell.value for cell in next(rows, [])]
        for row in rows:
            for name, cell in zip(header, row, strict=False):
                places = money_places(str(name)) if name else None
                if places is None or cell.value is None:
                    continue
                if not isinstance(cell.value, int | float):
                    problems.append(f"{where} {sheet.title}: {name} is money but holds {cell.value!r}")
                elif not cell.number_format.endswith("." + "0" * places):
                    problems.append(f"{where} {sheet.title}: {name} is money with {places} places, but is shown as "
                                    f"{cell.number_format!r}")
    return problems


def summary_problems(where: str, summary: Mapping[str, Any]) -> list[str]:
    """summary.json: money figures are decimal strings with their places, frames' money columns too."""
    problems = []
    for name, value in summary.get("overall", {}).items():
        if name == "aging":
            values = list(value.values())
            places: int | None = 2
        else:
            values, places = [value], money_places(name)
        for item in values:
            if places is not None and item is not None and not money_pattern(places).fullmatch(str(item)):
                problems.append(f"{where}: overall {name} is money, but is {item!r}")
            if places is None and column_kind(name) is None and isinstance(item, int | float):
                problems.append(f"{where}: overall {name} is a number recon.schema does not declare")
    for part in ("by_period", "by_client", "by_type", "by_vendor"):
        for record in summary.get(part, [])[:50]:
            for name, item in record.items():
                places, kind = money_places(name), column_kind(name)
                if places is not None and item is not None and not money_pattern(places).fullmatch(str(item)):
                    problems.append(f"{where}: {part} {name} is money, but is {item!r}")
                if kind is None and isinstance(item, int | float) and not isinstance(item, bool):
                    problems.append(f"{where}: {part} {name} is a number recon.schema does not declare")
                if kind is not None and not kind.is_money and isinstance(item, str):
                    problems.append(f"{where}: {part} {name} is a {kind.name}, but is written as text {item!r}")
    return list(dict.fromkeys(problems))


def column_formats(config_json: str) -> dict[str, str | None]:
    """Column -> number format from a dataframe proto's column configuration (JSON)."""
    config = json.loads(config_json) if config_json else {}
    formats: dict[str, str | None] = {}
    for key, value in config.items():
        name = key.removeprefix("col:") if isinstance(key, str) else key
        formats[str(name)] = (value or {}).get("type_config", {}).get("format")
    return formats
