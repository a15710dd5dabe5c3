"""Exports that cannot attack the person who opens them, and messages that leak no secret (issue 7).

Input files are written by vendors, PSAs and, in the end, anyone who can name a client or type an
invoice description. Whatever they contain comes back out in our CSV, XLSX and PDF exports, so:

- **Spreadsheet formulas are neutralised** (OWASP "CSV injection"): a text cell that starts with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return (also after leading spaces or line breaks) gets a
  leading ``'``, so Excel and LibreOffice show it as text and never evaluate it. Whether a cell is text
  is decided by **schema**, not by looks: the numeric columns ``recon.schema.COLUMN_KINDS`` declares
  (money as exact decimal strings such as ``"-12.50"``) and numeric dtypes stay numbers, while a client
  called ``"-Acme"`` or ``"-5"`` is text and is escaped like any other.
- **XLSX** is written by xlsxwriter with formula, URL and number guessing off, and the same
  neutralisation, so a re-save as CSV stays inert too.
- **PDF** text for reportlab ``Paragraph`` markup is escaped (``pdf_text``): ``<``, ``>`` and ``&``
  would otherwise be tags (``<link>``, ``<img src=...>`` reads local files).
- **Secrets** never reach a message, log or export: ``redact`` (from ``recon.redaction``, the core
  module every stage uses) masks them by name and by value.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal

import pandas as pd
import xlsxwriter

from recon.exports.csvfile import csv_bytes
from recon.redaction import REDACTED, RedactingFilter, install_log_redaction, redact, remember_secrets
from recon.schema import COLUMN_KINDS, column_kind, money_places

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE_PREFIX = "'"
_PLAIN_DECIMAL = r"-?\d{1,18}(?:\.\d{1,6})?"
_LEADING_BLANKS = " \n\u00a0\u3000"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
XLSX_MAX_CELL = 32_767
# xlsxwriter options for every workbook the product writes: a string is always a string cell.
SAFE_WORKBOOK_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                         "strings_to_numbers": False, "nan_inf_to_errors": True}
XLSX_SHEET_NAME_MAX = 31
MONEY_PLACES = sorted({kind.places for kind in COLUMN_KINDS.values() if kind.is_money})


# ----------------------------------------------------------------------------------------- formulas

def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula (or a DDE call)."""
    return text.startswith(FORMULA_TRIGGERS) or text.lstrip(_LEADING_BLANKS).startswith(FORMULA_TRIGGERS)


def neutralise(text: str) -> str:
    """``text`` made inert in a spreadsheet cell: a leading ``'`` when it could be a formula, also after
    apostrophes of its own (``'=x`` is written ``''=x``), so that dropping one leading ``'`` before a
    formula character (what a spreadsheet shows, and what ``recon`` does reading text back) restores it
    exactly."""
    return ESCAPE_PREFIX + text if is_formula_like(text.lstrip(ESCAPE_PREFIX)) else text


def neutralise_text(cells: pd.Series, numeric_by_schema: bool = False) -> pd.Series:
    """A text column made inert (vectorised). In a numeric column (``numeric_by_schema``: money, a
    count...) a plain decimal such as ``-12.50`` is a number and stays; anything else there is escaped
    like text."""
    text = cells.astype("string")
    bare = text.str.lstrip(ESCAPE_PREFIX)
    risky = (bare.str.startswith(FORMULA_TRIGGERS)
             | bare.str.lstrip(_LEADING_BLANKS).str.startswith(FORMULA_TRIGGERS)).fillna(False)
    if numeric_by_schema:
        risky &= ~text.str.fullmatch(_PLAIN_DECIMAL).fillna(False)
    return text.where(~risky, ESCAPE_PREFIX + text)


def _numeric_by_schema(columns: Iterable[object]) -> set[str]:
    """The columns among ``columns`` that ``recon.schema`` declares numeric (money, counts, ratios...)."""
    return {str(column) for column in columns if column_kind(str(column)) is not None}


def _is_number_dtype(series: pd.Series) -> bool:
    dtype = series.dtype
    return (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
            or pd.api.types.is_timedelta64_dtype(dtype))


def safe_frame(frame: pd.DataFrame, numeric_columns: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of ``frame`` safe to write to a spreadsheet: every text cell and header neutralised;
    numeric, boolean and date columns untouched; the schema's numeric columns (``recon.schema``) keep
    their plain decimals. ``numeric_columns`` names further text columns that are numbers."""
    numeric = _numeric_by_schema(frame.columns) | set(numeric_columns)
    out = pd.DataFrame(index=frame.index)
    for position, column in enumerate(frame.columns):
        series = frame.iloc[:, position]
        out[position] = series if _is_number_dtype(series) else neutralise_text(series, column in numeric)
    out.columns = [neutralise(str(column)) for column in frame.columns]
    return out


def safe_csv(frame: pd.DataFrame, numeric_columns: Iterable[str] = ()) -> bytes:
    """``frame`` as UTF-8 CSV bytes with every text cell neutralised (no index). Format money and
    dates first (``recon.exports.formatting.export_frame``); this only makes the text inert. Written by
    ``recon.exports.csvfile`` (Arrow, streamed): the bytes pandas' ``to_csv`` of ``safe_frame`` gives."""
    return csv_bytes(frame, numeric_columns)


# --------------------------------------------------------------------------------------------- XLSX

def safe_sheet_name(name: str, taken: Iterable[str] = ()) -> str:
    """A valid, unique worksheet name from any text: no ``[]:*?/\\``, no leading or trailing ``'``,
    at most 31 characters, not ``History``; a counter is added when the name is taken."""
    cleaned = re.sub(r"[\[\]:*?/\\\x00-\x1f]", " ", str(name)).strip().strip("'").strip() or "Sheet"
    if cleaned.casefold() == "history":
        cleaned = "History data"
    used = {existing.casefold() for existing in taken}
    candidate, counter = cleaned[:XLSX_SHEET_NAME_MAX], 2
    while candidate.casefold() in used:
        suffix = f" ({counter})"
        candidate, counter = cleaned[:XLSX_SHEET_NAME_MAX - len(suffix)] + suffix, counter + 1
    return candidate


def safe_xlsx(sheets: Mapping[str, pd.DataFrame], numeric_columns: Iterable[str] = ()) -> bytes:
    """An XLSX workbook with one sheet per frame (money and dates formatted beforehand, as for CSV).

    Numbers, and plain decimals in the schema's numeric columns, become numeric cells (money shown with
    its declared places); dates become date cells; every other cell is a *string* cell, neutralised, and
    never a formula or a link (xlsxwriter's ``strings_to_formulas`` / ``strings_to_urls`` /
    ``strings_to_numbers`` are off)."""
    numeric = set(numeric_columns)
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, SAFE_WORKBOOK_OPTIONS) as book:
        formats = _XlsxFormats(book)
        taken: list[str] = []
        for name, frame in sheets.items():
            taken.append(safe_sheet_name(name, taken))
            _write_sheet(book.add_worksheet(taken[-1]), frame, numeric | _numeric_by_schema(frame.columns), formats)
    return buffer.getvalue()


class _XlsxFormats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.header = book.add_format({"bold": True, "bottom": 1})
        self.date = book.add_format({"num_format": "yyyy-mm-dd"})
        self.money = {places: book.add_format({"num_format": "#,##0." + "0" * places}) for places in MONEY_PLACES}


def _write_sheet(sheet: object, frame: pd.DataFrame, numeric: set[str] | frozenset[str],
                 formats: _XlsxFormats) -> None:
    write_string = sheet.write_string  # type: ignore[attr-defined]
    for col, column in enumerate(frame.columns):
        write_string(0, col, neutralise(str(column))[:XLSX_MAX_CELL], formats.header)
        series = frame.iloc[:, col]
        for row, value in enumerate(series.tolist(), start=1):
            _write_cell(sheet, row, col, value, str(column), str(column) in numeric, formats)
    sheet.freeze_panes(1, 0)  # type: ignore[attr-defined]


def _write_cell(sheet: object, row: int, col: int, value: object, column: str, numeric: bool,
                formats: _XlsxFormats) -> None:
    write = sheet  # the xlsxwriter worksheet
    if value is None or value is pd.NA or value is pd.NaT or value == "" or (isinstance(value, float)
                                                                             and value != value):
        return  # a blank cell
    if isinstance(value, bool):
        write.write_boolean(row, col, value)  # type: ignore[attr-defined]
    elif isinstance(value, int | float | Decimal):
        write.write_number(row, col, value)  # type: ignore[attr-defined]
    elif isinstance(value, pd.Timestamp):
        moment = value.tz_convert(None) if value.tzinfo else value
        write.write_datetime(row, col, moment.to_pydatetime(), formats.date)  # type: ignore[attr-defined]
    elif numeric and re.fullmatch(_PLAIN_DECIMAL, str(value)):
        places = money_places(column)
        money = formats.money[places] if places is not None else None
        write.write_number(row, col, Decimal(str(value)), money)  # type: ignore[attr-defined]
    else:
        write.write_string(row, col, neutralise(str(value))[:XLSX_MAX_CELL])  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- PDF

def pdf_text(value: object) -> str:
    """Text for a reportlab ``Paragraph``: markup characters escaped, control characters removed, so
    input can never become a tag (a link, an image reading a local file, a font change)."""
    text = _CONTROL.sub("", "" if value is None or value is pd.NA else str(value))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----------------------------------------------------------------------------------------- markdown

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


WORD_JOINER = "\u2060"  # zero width, no break: invisible, but no longer part of a web address
# What GitHub-flavoured markdown turns into a link by itself, escapes or not (it finds them in the text
# after escapes are read): "www.", "http://", "https://", "ftp://", and the "@" of an e-mail address (with a
# dotted domain after it). Other schemes (sqlite:///) stay as written.
_AUTOLINK_STARTS = re.compile(
    r"(?i)(\bwww)(?=\\\.)|(\b(?:https?|ftp)\\:)(?=//)|(?<=[\w.+-])(@)(?=[\w\\-]+(?:\\\.[\w\\-]+)+)")


def markdown_text(value: object) -> str:
    """Text from data made literal for markdown (Streamlit's ``st.markdown``, captions, headings, labels,
    radio options, tab and expander titles): every markdown character backslash-escaped, line breaks
    flattened, and the start of anything GitHub-flavoured markdown would link by itself (``www.``,
    ``https://``, ``name@host``) broken by an invisible word joiner, so a client name can never become a
    link, an image (which would load a remote URL), a colour, an icon or a formula."""
    text = _CONTROL.sub("", "" if value is None or value is pd.NA else str(value))
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return _AUTOLINK_STARTS.sub(lambda match: WORD_JOINER.join(("", match.group(0))) if match.group(3)
                                else match.group(0) + WORD_JOINER, escaped)


# ---------------------------------------------------------------------------------------- file names

def download_name(*parts: str, suffix: str) -> str:
    """A file name for a download built from free text (a client name, a period): letters, digits,
    ``-`` and ``_`` only, at most 120 characters, never a path. ``suffix`` like ``".csv"``."""
    ascii_text = unicodedata.normalize("NFKD", "-".join(parts)).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_text).strip("-_")[:120] or "export"
    return stem + suffix


__all__ = ["FORMULA_TRIGGERS", "REDACTED", "SAFE_WORKBOOK_OPTIONS", "WORD_JOINER",
           "RedactingFilter", "download_name", "install_log_redaction", "is_formula_like", "markdown_text",
           "neutralise", "neutralise_text", "pdf_text", "redact", "remember_secrets", "safe_csv", "safe_frame",
           "safe_sheet_name", "safe_xlsx"]
