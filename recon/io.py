"""Loading: files (CSV or XLSX) -> canonical frames + quarantine rows (PRODUCT.md sections 2 and 9).

Two steps, kept apart so uploads, database queries and API pulls share the second one:
``read_table`` turns bytes into a frame of text cells (encoding, delimiter and sheet handled here), and
``normalise`` turns a text frame into a canonical frame, validates it with the source's expectation
suite (``recon.quality``) and sends every row it cannot use to quarantine with the file, line, column and
reason. Rows in = rows loaded + rows quarantined, always.

A data directory is read file by file: a file matched by a ``profile.toml`` entry is read as the entry
says (``recon.profile``), a canonically named file (``contracts.csv``, ``usage*.csv``) by its canonical
columns, and any other table file whose header a preset recognises (``recon.presets``) with that preset.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import mmap
import re
import threading
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from recon import quality
from recon.cells import (
    TEXT,
    WHITESPACE,
    arrow_text,
    as_numpy_bool,
    concat,
    constant_text,
    per_distinct,
    text_series,
    tidy_with,
)
from recon.errors import MissingSourceError, SourceError
from recon.money import money_times_quantity, parse_money, parse_quantity
from recon.presets import PRESETS, detect_preset
from recon.profile import SourceEntry, read_profile
from recon.quality import ValidationReport, refused_report
from recon.schema import (
    BILLING_FREQUENCIES,
    ISSUE_COLUMNS,
    OPTIONAL_SOURCES,
    PANDAS_DTYPES,
    REQUIRED_SOURCES,
    SOURCES,
    Field,
    canonical_dtypes,
)
from recon.settings import Settings

Prepare = Callable[[pd.DataFrame], pd.DataFrame]
# A file's bytes: ``bytes`` (an upload), or a file of a data directory mapped into memory (no copy of a
# 170 MB file into fresh pages the process must fault in; what is read is the page cache itself).
FileBytes = bytes | mmap.mmap

ENCODINGS = ("utf-8-sig", "cp1252")
DELIMITERS = ",;\t|"
EXCEL_SUFFIXES = (".xlsx",)
TABLE_SUFFIXES = (".csv", ".txt", ".tsv", *EXCEL_SUFFIXES)
SNIFF_CHARS = 65_536

_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "billable", "x"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "donotbill", "nocharge", "nodefault", ""})
Parser = Callable[[pd.Series, "ReadOptions"], pd.Series]
_FREQUENCY_WORDS = {"monthly": "monthly", "month": "monthly", "annual": "annual", "annually": "annual",
                    "yearly": "annual", "year": "annual"}


@dataclass(frozen=True)
class ReadOptions:
    """How to read one file. ``None`` means detect (encoding, delimiter) or the default (dates, decimal)."""

    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    decimal: str = "."
    sheet: str | int | None = None  # (.xlsx) None: the first sheet whose first row names columns


@dataclass(frozen=True)
class ImportRecord:
    """What one file contributed: the counts that must add up, and its content hash."""

    source: str
    file: str
    sha256: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    blank_rows: int = 0

    def to_dict(self) -> dict[str, str | int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LoadedSource:
    """One file normalised: the canonical rows, its quarantined rows, its import record and its
    validation report."""

    frame: pd.DataFrame
    issues: pd.DataFrame
    record: ImportRecord
    report: ValidationReport


@dataclass(frozen=True)
class Sources:
    """All canonical frames of a run (missing optional sources are empty frames) plus their quarantine."""

    frames: dict[str, pd.DataFrame]
    issues: pd.DataFrame
    imports: tuple[ImportRecord, ...] = field(default=())
    reports: tuple[ValidationReport, ...] = field(default=())

    def __getitem__(self, kind: str) -> pd.DataFrame:
        return self.frames[kind]


# --------------------------------------------------------------------------------------------- reading

def sha256_of(data: FileBytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: FileBytes, encoding: str | None = None) -> str:
    """Bytes to text: the given encoding, else UTF-8 (BOM or not), else cp1252 (Excel on Windows)."""
    failures = []
    for candidate in (encoding,) if encoding else ENCODINGS:
        try:
            return str(data, candidate)
        except UnicodeDecodeError as error:
            name = _ENCODING_NAMES.get(candidate, candidate)
            failures.append(f"{_where(data, error.start)} (0x{data[error.start]:02x}) is not {name}")
    raise SourceError("file", ["cannot be read as text: " + ", and ".join(failures)])


_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "cp1252": "Windows-1252"}


def _where(data: FileBytes, offset: int) -> str:
    """``offset`` in ``data`` as a line (counting from 1) and a byte in that line (from 1)."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data[:offset].count(b"\n") + 1
    return f"line {line}, byte {offset - line_start + 1}"


def sniff_delimiter(text: str) -> str:
    """The delimiter of a delimited text: the candidate that splits the header most consistently."""
    sample = "\n".join(_first_lines(text, 20))
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample else ""
        return max(DELIMITERS, key=header.count)


def _first_lines(text: str, count: int) -> list[str]:
    """``text.splitlines()[:count]`` without splitting a whole million-line file."""
    head = text[:65_536]
    while len(head) < len(text) and len(head.splitlines()) <= count:
        head = text[:2 * len(head)]
    return head.splitlines()[:count]


def read_table(data: FileBytes, name: str, options: ReadOptions = ReadOptions(),
               limits: UploadLimits | None = None) -> pd.DataFrame:
    """Read CSV/TSV/XLSX bytes into a frame of stripped text cells (no type guessing, no NA guessing).

    ``name`` is used for the format (by suffix) and in messages, never as a path. Raises
    ``SourceError`` when the file is unreadable, has no header, or breaks ``limits`` (see
    ``check_upload``).
    """
    name = safe_file_name(name)
    limits = limits or UploadLimits()
    check_upload(data, name, limits)
    try:
        if name.lower().endswith(EXCEL_SUFFIXES):
            sheet = options.sheet if options.sheet is not None else table_sheet(data)
            frame = pd.read_excel(io.BytesIO(data), sheet_name=sheet, dtype=str, keep_default_na=False,
                                  engine="openpyxl")
        else:
            frame = _read_delimited_bytes(data, name, options, limits)
    except SourceError as error:
        raise SourceError(name, error.problems) from None
    except Exception as error:  # any parser failure on hostile or broken bytes is one clear message
        reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
        kind = "XLSX" if name.lower().endswith(EXCEL_SUFFIXES) else "CSV"
        raise SourceError(name, [f"unreadable as {kind}: {reason}"]) from None
    if frame.columns.empty:
        raise SourceError(name, ["has no header row"])
    if len(frame) > limits.max_rows:
        raise SourceError(name, [f"has {len(frame):,} rows, more than the limit of {limits.max_rows:,} "
                                 "(max_upload_rows in the settings)"])
    frame.columns = [str(column).strip()[:MAX_COLUMN_NAME] for column in frame.columns]
    return frame.fillna("").astype("string").apply(_stripped)


def table_sheet(data: FileBytes) -> str | int:
    """The workbook's first sheet whose first row names two or more columns: a cover or notes sheet
    before the table (a report title, a logo) is passed over. The first sheet when none does."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            first_row = next(sheet.iter_rows(max_row=1, values_only=True), ())
            if sum(value is not None and str(value).strip() != "" for value in first_row) >= 2:
                return str(sheet.title)
    finally:
        book.close()
    return 0


def _read_delimited_bytes(data: FileBytes, name: str, options: ReadOptions, limits: UploadLimits) -> pd.DataFrame:
    """Delimited bytes -> frame of text cells. A file that is UTF-8 goes to Arrow's reader as it is:
    only its head is decoded here (to sniff the delimiter and read the header), and Arrow checks every
    value is UTF-8 as it reads. Any other file (or one Arrow refuses) is decoded whole first."""
    head = _utf8_head(data) if options.encoding is None else None
    if head is not None:
        delimiter = options.delimiter or sniff_delimiter(head[:SNIFF_CHARS])
        _check_header_width(head, delimiter, name, limits)
        header = _header_names(head, delimiter)
        frame = _read_with_arrow(data, delimiter, header) if header else None
        if frame is not None:
            return frame
    data = data if isinstance(data, bytes) else bytes(data)  # the rare file Arrow cannot read as it is
    text = decode_text(data, options.encoding)
    delimiter = options.delimiter or sniff_delimiter(text[:SNIFF_CHARS])
    _check_header_width(text, delimiter, name, limits)
    return read_delimited(text, delimiter, _utf8_of(data, text, options.encoding))


def _utf8_head(data: FileBytes) -> str | None:
    """The start of ``data`` decoded as UTF-8 (BOM dropped): at least its first ``SNIFF_CHARS``
    characters and its whole first line, exactly as decoding the whole file would give them; ``None``
    where that start is not UTF-8."""
    start = _bom_length(data)
    end = max(start + 4 * SNIFF_CHARS, data.find(b"\n", start) + 1)  # a character is at most 4 bytes
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data[start:end], final=end >= len(data))
    except UnicodeDecodeError:
        return None


def _bom_length(data: FileBytes) -> int:
    """Bytes of the UTF-8 byte order mark ``data`` starts with (0 without one)."""
    return len(codecs.BOM_UTF8) if data[:len(codecs.BOM_UTF8)] == codecs.BOM_UTF8 else 0


def _stripped(column: pd.Series) -> pd.Series:
    """``column.str.strip()``, skipped where no cell has whitespace to strip."""
    text = arrow_text(column)
    stripped = tidy_with(text, pc.utf8_trim_whitespace)
    return column if stripped is text else text_series(stripped, column.index)


def _utf8_of(data: bytes, text: str, encoding: str | None) -> bytes | None:
    """``data`` (BOM dropped) when it already is ``text`` in UTF-8, so that it need not be encoded
    again; else ``None``. Of the detected encodings, cp1252 reads each byte as one character and UTF-8
    reads a multi-byte sequence as one, so a shorter text (or an ASCII one) was read as UTF-8."""
    body = data.removeprefix(codecs.BOM_UTF8)
    as_utf8 = len(text) < len(body) or (len(text) == len(body) and text.isascii())
    return body if encoding is None and as_utf8 else None


def read_delimited(text: str, delimiter: str, utf8: bytes | None = None) -> pd.DataFrame:
    """Delimited text -> a frame of text cells, every row kept (a blank line is a row of empty cells).
    ``utf8`` is the same text as UTF-8 bytes when the caller has them (saves encoding it again).

    Arrow's multi-threaded CSV reader does the work. A file it would read differently from pandas' C
    parser goes to that parser instead, which then reads it as it always has: ragged rows (padded),
    whitespace-only lines, and headers with repeated or empty names (renamed ``a.1``, ``Unnamed: 2``).
    """
    header = _header_names(text, delimiter)
    frame = _read_with_arrow(utf8 or text.encode("utf-8"), delimiter, header) if header else None
    if frame is not None:
        return frame
    return pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                       skip_blank_lines=False, engine="c")


def _header_names(text: str, delimiter: str) -> list[str] | None:
    """The header's column names, or ``None`` when they repeat or one is empty (pandas renames those)."""
    header = next(csv.reader(io.StringIO("\n".join(_first_lines(text, 1))), delimiter=delimiter), None)
    if not header or len(set(header)) != len(header) or "" in header:
        return None
    return header


# 4 MB blocks, not Arrow's 1 MB: a 170 MB file becomes 42 chunks per column instead of 165, and every
# later pass over a column pays a little per chunk (the read itself is as fast or faster).
_ARROW_BLOCKS = pa_csv.ReadOptions(block_size=4 * 2**20)


def _read_with_arrow(data: FileBytes, delimiter: str, header: list[str]) -> pd.DataFrame | None:
    """UTF-8 bytes (a BOM is skipped) -> frame of ``string`` columns with Arrow's CSV reader, no type or
    NA guessing; ``None`` where Arrow refuses the file or reads its header otherwise than ``header``."""
    strings = pa_csv.ConvertOptions(column_types=dict.fromkeys(header, TEXT), null_values=[],
                                    strings_can_be_null=False, quoted_strings_can_be_null=False)
    # Without a quote character in the file no value can hold a line break: the faster parse is exact.
    layout = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=data.find(b'"') >= 0,
                                 ignore_empty_lines=False)
    body = pa.BufferReader(pa.py_buffer(data).slice(_bom_length(data)))  # Arrow reads it in place
    try:
        table = pa_csv.read_csv(body, read_options=_ARROW_BLOCKS, parse_options=layout,
                                convert_options=strings)
    except pa.ArrowInvalid:
        return None
    if table.column_names != header or any(column.type != TEXT for column in table.columns):
        return None
    return pd.DataFrame({name: text_series(column, pd.RangeIndex(table.num_rows))
                         for name, column in zip(header, table.columns, strict=True)})


# --------------------------------------------------------------------------------------- hostile input
# Uploads come from anyone with a login, and files from vendors: check what a file *is* before a
# parser sees it, and refuse with one sentence what a parser would choke on or a spreadsheet would run.

MAX_COLUMN_NAME = 200
_XLSX_REFUSED_PARTS = (
    ("xl/externallinks/", "links to other workbooks (external links)"),
    ("vbaproject.bin", "macros (VBA project)"),
    ("xl/activex/", "ActiveX controls"),
    ("xl/embeddings/", "embedded objects"),
)
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class UploadLimits:
    """What an uploaded file may be: size, rows, columns, line length, and for XLSX (a zip archive)
    how much it may unpack to and how strongly it may be compressed (a zip bomb is tiny and unpacks to
    gigabytes). ``from_settings`` takes size and rows from the settings."""

    max_bytes: int = 200 * 2**20
    max_rows: int = 2_000_000
    max_columns: int = 1_000
    max_line_chars: int = 1_000_000
    max_unzipped_bytes: int = 1024 * 2**20
    max_compression_ratio: int = 100
    max_zip_members: int = 10_000

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(max_bytes=settings.max_upload_mb * 2**20, max_rows=settings.max_upload_rows)


def safe_file_name(name: str) -> str:
    """The last component of an uploaded file's name, without control characters (uploads are bytes:
    the name is a label, never a path). ``"../../etc/x.csv"`` -> ``"x.csv"``."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip()
    if base in ("", ".", ".."):
        return "upload"
    stem, dot, suffix = base.rpartition(".")
    return base[:200] if not dot or len(suffix) > 10 else stem[:190] + dot + suffix


def check_upload(data: FileBytes, name: str, limits: UploadLimits) -> None:
    """Refuse, with a ``SourceError`` naming the reason, a file that is too large, an XLSX that is a
    zip bomb or carries macros, external links, ActiveX or embedded objects, an old binary workbook,
    or a text file with absurdly long lines."""
    if len(data) > limits.max_bytes:
        raise SourceError(name, [f"is {len(data) / 2**20:,.1f} MB, more than the limit of "
                                 f"{limits.max_bytes / 2**20:,.0f} MB (max_upload_mb in the settings)"])
    lower = name.lower()
    if lower.endswith((".xlsm", ".xltm", ".xlsb")):
        raise SourceError(name, ["macro-enabled or binary workbooks are not accepted; save it as .xlsx or .csv"])
    if data[:len(_OLE2_MAGIC)] == _OLE2_MAGIC:
        raise SourceError(name, ["is an Excel 97-2003 (.xls) or password-protected workbook; save it as .xlsx or .csv"])
    if lower.endswith(EXCEL_SUFFIXES):
        check_xlsx_archive(data, name, limits)
    else:
        _check_line_length(data, name, limits)


def check_xlsx_archive(data: FileBytes, name: str, limits: UploadLimits) -> None:
    """Look inside an XLSX (a zip archive) before openpyxl opens it. The sizes checked are the ones the
    archive declares; Python's zipfile never inflates a member past its declared size (it stops, and
    the CRC check fails), so these bounds hold for the parser too."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            content_types = _read_small(archive, "[Content_Types].xml")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, ValueError, OSError, EOFError):
        # zlib.error: a damaged compressed part; NotImplementedError: a compression method zipfile lacks
        raise SourceError(name, ["is not a valid XLSX file (damaged, truncated, or not an Excel workbook)"]) from None
    problems = _zip_size_problems(members, limits)
    names = [member.filename.replace("\\", "/").lower() for member in members]
    problems += [f"contains {what}; such workbooks are refused" for part, what in _XLSX_REFUSED_PARTS
                 if any(part in member for member in names)]
    if b"macroenabled" in content_types.lower() and not any("vbaproject.bin" in member for member in names):
        problems.append("is a macro-enabled workbook; such workbooks are refused")
    if problems:
        raise SourceError(name, problems)


def _zip_size_problems(members: list[zipfile.ZipInfo], limits: UploadLimits) -> list[str]:
    unpacked = sum(member.file_size for member in members)
    if len(members) > limits.max_zip_members:
        return [f"has {len(members):,} parts inside, more than {limits.max_zip_members:,}"]
    if unpacked > limits.max_unzipped_bytes:
        return [f"unpacks to {unpacked / 2**20:,.0f} MB, more than the limit of "
                f"{limits.max_unzipped_bytes / 2**20:,.0f} MB"]
    bombs = [member.filename for member in members if member.file_size > 2**20
             and member.file_size > limits.max_compression_ratio * max(member.compress_size, 1)]
    if bombs:
        return [f"is compressed more than {limits.max_compression_ratio}:1 ({bombs[0][:80]}), "
                "which only a zip bomb does; refused"]
    return []


def _read_small(archive: zipfile.ZipFile, member: str, limit: int = 2**20) -> bytes:
    """A small member's bytes (at most ``limit``), or empty when absent."""
    try:
        with archive.open(member) as handle:
            return handle.read(limit)
    except KeyError:
        return b""


def _check_line_length(data: FileBytes, name: str, limits: UploadLimits) -> None:
    """Refuse text whose longest line is beyond ``max_line_chars`` (measured in bytes)."""
    if not _may_have_long_line(data, limits.max_line_chars):
        return
    raw = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero((raw == 10) | (raw == 13))  # two compares: half the time of np.isin
    edges = np.concatenate(([-1], breaks, [len(data)]))
    longest = int(np.diff(edges).max()) - 1 if len(data) else 0
    if longest > limits.max_line_chars:
        line = int(np.argmax(np.diff(edges))) + 1
        raise SourceError(name, [f"line {line:,} is {longest:,} characters long, more than the limit of "
                                 f"{limits.max_line_chars:,}; is this really a CSV file?"])


def _may_have_long_line(data: FileBytes, limit: int) -> bool:
    """Whether some line might be longer than ``limit``: a line that long covers a whole aligned window
    of ``limit // 2`` bytes, so if every window holds a line break (found within a line's length of its
    start, by ``bytes.find``), none is; a few hundred finds instead of a pass over every byte."""
    window = max(limit // 2, 1)
    for start in range(0, len(data) - window + 1, window):
        end = start + window
        if data.find(b"\n", start, end) < 0 and data.find(b"\r", start, end) < 0:
            return True
    return False


def _check_header_width(text: str, delimiter: str, name: str, limits: UploadLimits) -> None:
    header = text[: text.find("\n")] if "\n" in text else text
    if header.count(delimiter) + 1 > limits.max_columns:
        raise SourceError(name, [f"has {header.count(delimiter) + 1:,} columns, more than the limit of "
                                 f"{limits.max_columns:,}"])


# ----------------------------------------------------------------------------------------- normalising

def match_columns(columns: Iterable[str], kind: str,
                  mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """Canonical field -> file column: an explicit ``mapping`` first, then the canonical name itself
    (case, spaces and underscores ignored)."""
    by_folded = {_fold(column): column for column in columns}
    matched: dict[str, str] = {}
    for spec in SOURCES[kind]:
        explicit = (mapping or {}).get(spec.name)
        if explicit is not None and explicit in by_folded.values():
            matched[spec.name] = explicit
        elif explicit is None and _fold(spec.name) in by_folded:
            matched[spec.name] = by_folded[_fold(spec.name)]
    return matched


def _column_list(columns: Iterable[object], shown: int = 30) -> str:
    """Column names for a message: the first ``shown``, each cut to 60 characters."""
    names = [str(column)[:60] for column in columns]
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _fold(name: str) -> str:
    return name.strip().casefold().replace(" ", "").replace("_", "")


def missing_required(kind: str, matched: dict[str, str]) -> list[str]:
    return [spec.name for spec in SOURCES[kind] if spec.required and spec.name not in matched]


def normalise(raw: pd.DataFrame, kind: str, file_name: str, options: ReadOptions = ReadOptions(),
              mapping: Mapping[str, str] | None = None, prepare: Prepare | None = None) -> LoadedSource:
    """Text frame -> canonical frame of ``kind`` plus quarantined rows and the validation report.

    ``prepare`` (a preset's or profile's rule: text frame -> text frame, same rows) runs on the data rows
    before the columns are matched. Raises ``SourceError`` naming every missing required column. Blank
    rows are skipped (counted as ``blank_rows``); a repeated header row and any row that fails an
    expectation of the source's suite (``recon.quality``: unreadable or missing required values, negative
    quantities, dates out of range, ...) goes to quarantine, one issue per row with all its reasons.
    """
    parsed = _parsed(raw, kind, file_name, options, mapping, prepare)
    return _validated(parsed, quality.validate(kind, parsed.judged, parsed.cells))


@dataclass(frozen=True)
class _Parsed:
    """A file's rows parsed into canonical columns, before the quality suite judges them: ``text`` its
    non-blank rows as read, ``frame`` the parsed ones, ``judged``/``cells`` what the suite is handed
    (the data rows: a repeated header row is not judged)."""

    kind: str
    file_name: str
    text: pd.DataFrame
    lines: pd.Series
    blank_rows: int
    data_rows: np.ndarray
    frame: pd.DataFrame
    judged: pd.DataFrame
    cells: dict[str, pd.Series]


def _parsed(raw: pd.DataFrame, kind: str, file_name: str, options: ReadOptions,
            mapping: Mapping[str, str] | None, prepare: Prepare | None) -> _Parsed:
    if kind not in SOURCES:
        raise SourceError(file_name, [f"unknown source kind {kind!r}; expected one of {', '.join(SOURCES)}"])
    text = raw.reset_index(drop=True)
    lines = pd.Series(np.arange(len(text), dtype=np.int64) + 2, dtype="Int64")  # header is line 1
    blank = _rows_equal_to(text, [""] * len(text.columns))
    if blank.any():
        text, lines = text[~blank].reset_index(drop=True), lines[~blank].reset_index(drop=True)
    data_rows = ~_repeated_header(text).to_numpy()
    prepared = prepare(text).fillna("") if prepare is not None else text
    matched = match_columns(prepared.columns, kind, mapping)
    missing = missing_required(kind, matched)
    if missing:
        raise SourceError(file_name, [f"missing required column(s) for {kind}: {', '.join(missing)}"
                                      f" (found: {_column_list(raw.columns)})"])

    frame = _upper_codes(pd.DataFrame({spec.name: _parse_field(
        spec, prepared[matched[spec.name]] if spec.name in matched else None, len(text), options)
        for spec in SOURCES[kind]}, index=text.index, copy=False))
    every_row = bool(data_rows.all())  # the usual case: no row need be picked out (nor copied)
    picked = prepared if every_row else prepared[data_rows]
    cells = {name: picked[column] for name, column in matched.items()}
    return _Parsed(kind, file_name, text, lines, int(blank.sum()), data_rows, frame,
                   frame if every_row else frame[data_rows], cells)


def _validated(parsed: _Parsed, validation: quality.Validation) -> LoadedSource:
    """The parsed file with the suite's verdict: good rows in canonical dtypes, the others quarantined."""
    kind, file_name, text, lines, data_rows = (parsed.kind, parsed.file_name, parsed.text, parsed.lines,
                                               parsed.data_rows)
    if data_rows.all():
        reasons = validation.reasons.set_axis(text.index)
    else:
        reasons = constant_text("repeated header row", text.index)
        reasons[data_rows] = validation.reasons.to_numpy()
    frame = _apply_defaults(kind, parsed.frame)
    frame["source_file"] = constant_text(file_name, frame.index)
    frame["source_line"] = lines
    bad = reasons.ne("").to_numpy()
    # (a boolean pick of no rows still has Arrow concatenate every text column: slice when none is bad)
    picked_rows = (lambda frame: frame[bad]) if bad.any() else (lambda frame: frame.iloc[:0])
    issues = _issues_frame(kind, file_name, picked_rows(lines), picked_rows(reasons), picked_rows(text))
    good = (frame[~bad].reset_index(drop=True) if bad.any() else frame).astype(canonical_dtypes(kind))
    record = ImportRecord(kind, file_name, "", len(text), len(good), int(bad.sum()), parsed.blank_rows)
    report = ValidationReport(kind, file_name, record.rows_in, record.rows_loaded, record.rows_quarantined,
                              record.blank_rows, validation.outcomes)
    return LoadedSource(good, issues, record, report)


def _upper_codes(frame: pd.DataFrame) -> pd.DataFrame:
    """Currency codes are compared upper-case ("usd" is USD)."""
    if "currency" not in frame:
        return frame
    return frame.assign(currency=frame["currency"].str.upper())


def _repeated_header(text: pd.DataFrame) -> pd.Series:
    """A copy-paste often leaves the header row again inside the data: quarantine it as such."""
    return pd.Series(_rows_equal_to(text, [str(column) for column in text.columns]), index=text.index)


def _rows_equal_to(text: pd.DataFrame, values: list[str]) -> np.ndarray:
    """Rows whose cells equal ``values`` column by column (a missing cell counts as equal). Each column
    is compared on the rows still matching, so a million-row file costs about one column's pass."""
    matching = np.arange(len(text))
    for column, value in zip(text.columns, values, strict=True):
        cells = arrow_text(text[column] if len(matching) == len(text) else text[column].iloc[matching])
        if len(matching) == len(text) and not cells.null_count and _holds_no(cells, value):
            return np.zeros(len(text), dtype=bool)  # the usual answer, from one scan without a mask
        matching = matching[as_numpy_bool(pc.fill_null(pc.equal(cells, value), True))]
        if not len(matching):
            break
    rows = np.zeros(len(text), dtype=bool)
    rows[matching] = True
    return rows


def _holds_no(cells: pa.ChunkedArray, value: str) -> bool:
    """Whether no cell is ``value`` (an empty value: whether no cell is empty)."""
    if not len(cells):
        return True
    if value == "":
        return bool(pc.min(pc.binary_length(cells)).as_py())
    return pc.index(cells, value).as_py() < 0


def _parse_field(spec: Field, cells: pd.Series | None, length: int, options: ReadOptions) -> pd.Series:
    """Parse one column; a cell that cannot be read (or is blank) is ``<NA>``, which the quality suite
    turns into a reason when the value was required or given."""
    if cells is None:
        return _empty_column(spec, length)
    return _PARSERS[spec.type](cells, options)


def _empty_column(spec: Field, length: int) -> pd.Series:
    """An absent optional column: all missing, in the field's dtype."""
    return pd.Series([None] * length, dtype=object).astype(PANDAS_DTYPES[spec.type])


def _parse_text(cells: pd.Series, options: ReadOptions) -> pd.Series:
    text = arrow_text(cells)
    collapsed = tidy_with(text, lambda untidy: pc.replace_substring_regex(untidy, WHITESPACE + "+", " "))
    if len(text) and pc.min(pc.binary_length(text)).as_py():  # no empty cell: nothing to blank out
        return text_series(collapsed, cells.index)
    return text_series(pc.if_else(pc.equal(text, ""), pa.scalar(None, collapsed.type), collapsed), cells.index)


def _parse_money(cells: pd.Series, options: ReadOptions) -> pd.Series:
    return parse_money(cells, options.decimal)


def _parse_quantity(cells: pd.Series, options: ReadOptions) -> pd.Series:
    return parse_quantity(cells, options.decimal)


_TIME_ZONE_SUFFIX = r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?:Z|[+-]\d{2}:?\d{2})$"


def parse_dates(cells: pd.Series, date_format: str | None = None) -> pd.Series:
    """Dates: the profile's format when given; else ISO 8601 ``YYYY-MM-DD``, then M/D/YYYY (a time part,
    with or without a zone, is ignored: the date is the one written)."""
    text = cells.astype("string").str.strip()
    # A timestamp's zone (``Z``, ``+02:00``) is dropped: the date is the one written (APIs send UTC stamps).
    text = text.str.replace(_TIME_ZONE_SUFFIX, r"\1", regex=True)
    if date_format:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
        return _in_ns_range(parsed.dt.tz_localize(None).dt.normalize())
    day = text.str.split(r"[T ]", n=1, regex=True).str[0]
    iso = pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")
    us = pd.to_datetime(day, format="%m/%d/%Y", errors="coerce")
    return _in_ns_range(iso.fillna(us))


def _in_ns_range(dates: pd.Series) -> pd.Series:
    """Canonical dates are datetime64[ns] (years 1678 to 2261); a date outside cannot be read."""
    inside = dates.between(pd.Timestamp.min, pd.Timestamp.max).fillna(False)
    return dates.where(inside).astype("datetime64[ns]")


def _parse_date(cells: pd.Series, options: ReadOptions) -> pd.Series:
    return parse_dates(cells, options.date_format)


def _parse_flag(cells: pd.Series, options: ReadOptions) -> pd.Series:
    folded = cells.str.casefold().str.replace(r"[\s_-]", "", regex=True)
    values = pd.Series(pd.NA, index=cells.index, dtype="boolean")
    values[folded.isin(_TRUE_WORDS).fillna(False).to_numpy()] = True
    values[folded.isin(_FALSE_WORDS).fillna(False).to_numpy() & cells.ne("").to_numpy()] = False
    return values


def _parse_choice(cells: pd.Series, options: ReadOptions) -> pd.Series:
    mapped = cells.str.casefold().map(_FREQUENCY_WORDS)
    return mapped.where(mapped.isin(BILLING_FREQUENCIES)).astype("string")


def _once_per_distinct(parse: Parser) -> Parser:
    """``parse`` run on each distinct cell once (see ``recon.cells.per_distinct``): a column of a
    million cells holds a few hundred dates, prices or flags."""
    def parse_distinct(cells: pd.Series, options: ReadOptions) -> pd.Series:
        return per_distinct(lambda distinct: parse(distinct, options), cells)
    return parse_distinct


_PARSERS: dict[str, Parser] = {
    "text": _parse_text, "money": _once_per_distinct(_parse_money),
    "quantity": _once_per_distinct(_parse_quantity), "date": _once_per_distinct(_parse_date),
    "flag": _once_per_distinct(_parse_flag), "choice": _once_per_distinct(_parse_choice),
}


def _apply_defaults(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Defaults PRODUCT.md section 2 gives: monthly billing, billable lines, whole-month periods, and an
    invoice amount of quantity x unit price."""
    out = frame.copy(deep=False)
    if kind == "contracts":
        out["billing_frequency"] = out["billing_frequency"].fillna("monthly")
        out["billable"] = out["billable"].fillna(True)
    if kind == "usage":
        _fill_missing(out, "period_end", lambda rows: month_end(rows["period_start"]))
    if kind == "invoices":
        _fill_missing(out, "amount", lambda rows: money_times_quantity(rows["quantity"], rows["unit_price"]))
        _fill_missing(out, "period_start", lambda rows: month_start(rows["invoice_date"]))
        _fill_missing(out, "period_end", lambda rows: month_end(rows["period_start"]))
    return out


def _fill_missing(frame: pd.DataFrame, column: str, default: Callable[[pd.DataFrame], pd.Series]) -> None:
    """Fill ``column``'s missing values with ``default`` computed on those rows only (a file usually
    gives the value on every row, and then nothing is computed)."""
    missing = frame[column].isna().to_numpy()
    if missing.any():
        frame[column] = frame[column].fillna(default(frame[missing]))


def month_start(dates: pd.Series) -> pd.Series:
    """First day of each date's month (NaT stays NaT)."""
    months = dates.to_numpy("datetime64[ns]").astype("datetime64[M]")
    return pd.Series(months.astype("datetime64[ns]"), index=dates.index)


def month_end(dates: pd.Series) -> pd.Series:
    """Last day of each date's month (NaT stays NaT)."""
    next_months = dates.to_numpy("datetime64[ns]").astype("datetime64[M]") + 1
    last_days = next_months.astype("datetime64[D]") - np.timedelta64(1, "D")
    return pd.Series(last_days.astype("datetime64[ns]"), index=dates.index)


def _issues_frame(kind: str, file_name: str, lines: pd.Series, reasons: pd.Series,
                  rows: pd.DataFrame) -> pd.DataFrame:
    raw = _joined_cells(rows) if len(rows) else pd.Series(dtype="string")
    first_column = reasons.str.extract(r"^([a-z_]+):", expand=False)
    return pd.DataFrame({
        "source": pd.Series(kind, index=reasons.index, dtype="string"),
        "file": pd.Series(file_name, index=reasons.index, dtype="string"),
        "line": lines.to_numpy(),
        "column": first_column.fillna("").to_numpy(),
        "reason": reasons.to_numpy(),
        "raw": raw.to_numpy() if len(rows) else pd.Series([], dtype="string"),
    }, columns=list(ISSUE_COLUMNS)).reset_index(drop=True)


def _joined_cells(rows: pd.DataFrame) -> pd.Series:
    """Each row's cells as one ``a | b | c`` text (``<NA>`` for a missing cell), for the quarantine."""
    cells = [pc.fill_null(arrow_text(rows[column]), "<NA>") for column in rows.columns]
    return text_series(concat(cells, " | "), rows.index)


def empty_issues() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="Int64" if column == "line" else "string")
                         for column in ISSUE_COLUMNS})


def empty_source(kind: str) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in canonical_dtypes(kind).items()})


# ------------------------------------------------------------------------------------------- one file

def load_file(data: bytes, name: str, kind: str, options: ReadOptions = ReadOptions(),
              mapping: dict[str, str] | None = None, limits: UploadLimits | None = None) -> LoadedSource:
    """Read and normalise one file's bytes; the import record carries the content hash. ``name`` is a
    label (its directories are dropped); ``limits`` bound what the file may be (``UploadLimits``)."""
    name = safe_file_name(name)
    loaded = normalise(read_table(data, name, options, limits), kind, name, options, mapping)
    return _with_hash(loaded, data, "canonical columns" if mapping is None else "column mapping")


def load_source(data: FileBytes, name: str, entry: SourceEntry, base: ReadOptions = ReadOptions(),
                read_as: str = "", limits: UploadLimits | None = None) -> LoadedSource:
    """Read one file as a profile entry (or the Sources page's choices) says: its kind, preset, read
    options and columns. ``base`` gives the options the entry leaves open. Raises ``SourceError`` when
    the file is unreadable, breaks ``limits``, a mapped column is absent or a required field has no
    column. ``name`` is a label (its directories are dropped)."""
    name = safe_file_name(name)
    options = read_options(entry, base)
    raw = read_table(data, name, options, limits)
    return _load_entry(raw, data, name, entry, options, read_as or describe(entry))


def read_options(entry: SourceEntry, base: ReadOptions = ReadOptions()) -> ReadOptions:
    """The entry's read options, else its preset's, else ``base``."""
    preset = entry.preset_spec
    return ReadOptions(
        encoding=entry.encoding or base.encoding, delimiter=entry.delimiter or base.delimiter,
        date_format=entry.date_format or (preset.date_format if preset else None) or base.date_format,
        decimal=entry.decimal or (preset.decimal if preset else None) or base.decimal,
        sheet=entry.sheet if entry.sheet is not None else base.sheet)


def describe(entry: SourceEntry) -> str:
    """How an entry reads a file, in words (the report's ``read_as``)."""
    how = f"preset {entry.preset}" if entry.preset else f"{entry.kind} with a column mapping"
    if entry.preset and entry.columns:
        how += " and a column mapping"
    return how + (f" (profile.toml line {entry.line}, path {entry.path!r})" if entry.line else "")


def _load_entry(raw: pd.DataFrame, data: FileBytes, name: str, entry: SourceEntry, options: ReadOptions,
                read_as: str) -> LoadedSource:
    absent = [f"{column!r} (for {field_name})" for field_name, column in entry.columns.items()
              if column not in raw.columns]
    if absent:
        raise SourceError(name, [f"mapped column(s) not in the file: {', '.join(absent)}"
                                 f" (found: {_column_list(raw.columns)})"])
    preset = entry.preset_spec
    if preset and preset.client_key and "client" not in entry.columns and not entry.client_lookup:
        raise SourceError(name, [f"{preset.name} exports name no client: give the profile a client column or "
                                 f"a [source.client_lookup] table ({preset.client_key} -> client)"])
    mapping = entry.mapping(entry.prepare(raw.iloc[:0]).columns)
    loaded = normalise(raw, entry.kind, name, options, mapping, prepare=entry.prepare)
    return _with_hash(loaded, data, read_as)


def _with_hash(loaded: LoadedSource, data: FileBytes, read_as: str) -> LoadedSource:
    return _recorded(loaded, sha256_of(data), read_as)


def _recorded(loaded: LoadedSource, sha256: str, read_as: str) -> LoadedSource:
    record = dataclasses.replace(loaded.record, sha256=sha256)
    report = dataclasses.replace(loaded.report, read_as=read_as)
    return LoadedSource(loaded.frame, loaded.issues, record, report)


# ------------------------------------------------------------------------------------------ a directory

@dataclass(frozen=True)
class Inspection:
    """Every file of a data directory read and validated: the loaded ones, the refused ones (with their
    problems), the table files nobody claims, and the profile entries that matched no file."""

    loaded: tuple[LoadedSource, ...]
    refused: tuple[ValidationReport, ...]
    ignored: tuple[str, ...] = ()
    unused_entries: tuple[str, ...] = ()

    @property
    def reports(self) -> tuple[ValidationReport, ...]:
        """One report per file read, loaded or refused, in file-name order."""
        return tuple(sorted((*[item.report for item in self.loaded], *self.refused), key=lambda r: r.file))

    def missing_kinds(self) -> list[str]:
        """Required sources (contracts, usage, invoices) that no file provides."""
        kinds = {report.source for report in self.reports}
        return [kind for kind in REQUIRED_SOURCES if kind not in kinds]


def source_files(data_dir: Path) -> dict[str, list[Path]]:
    """Files of a data directory by source kind: ``contracts.csv``, ``usage*.csv`` (several allowed),
    ``invoices.xlsx`` ... matched on the stem, CSV/TSV/TXT or XLSX."""
    found: dict[str, list[Path]] = {kind: [] for kind in SOURCES}
    for path in _table_files(data_dir):
        kind = canonical_kind(path.name)
        if kind is not None:
            found[kind].append(path)
    return found


def canonical_kind(file_name: str) -> str | None:
    """The source kind a canonical file name stands for (``usage_pax8.csv`` -> usage), else None."""
    stem = Path(file_name).stem.casefold()
    kind = "usage" if stem.startswith("usage") else stem
    return kind if kind in SOURCES and Path(file_name).suffix.lower() in TABLE_SUFFIXES else None


def _table_files(data_dir: Path) -> list[Path]:
    return [path for path in sorted(data_dir.iterdir())
            if path.is_file() and path.suffix.lower() in TABLE_SUFFIXES]


LOADING_THREADS = 2


def inspect_directory(data_dir: Path, options: ReadOptions = ReadOptions()) -> Inspection:
    """Read and validate every file of ``data_dir`` without stopping at a bad one.

    A file matched by a ``profile.toml`` entry is read as the entry says (first match wins); a
    canonically named file by its canonical columns (or a preset its header matches, if those are
    missing); any other table file by the preset its header matches, else it is ignored. Raises
    ``MissingSourceError`` for a missing directory and ``ProfileError`` for a malformed profile.
    """
    if not data_dir.is_dir():
        raise MissingSourceError(f"data directory not found: {data_dir}")
    entries = read_profile(data_dir)
    files = _table_files(data_dir) + sorted({path for entry in entries if "/" in entry.path
                                              for path in data_dir.glob(entry.path) if path.is_file()})
    loaded: list[LoadedSource] = []
    refused: list[ValidationReport] = []
    ignored: list[str] = []
    names = [path.relative_to(data_dir).as_posix() for path in files]
    claims = [next((item for item in entries if item.matches(name)), None) for name in names]
    used = {id(entry) for entry in claims if entry is not None}
    # Two files at a time: Arrow's reader, numpy's byte passes and hashing release the GIL, so one file
    # is parsed while the other is in the (serialised) quality suite. Largest first, so that no big file
    # is left to load alone at the end.
    largest_first = sorted(range(len(files)), key=lambda number: -files[number].stat().st_size)
    suites = _SharedSuites(names, claims)
    with ThreadPoolExecutor(LOADING_THREADS) as pool:
        started = {number: pool.submit(_load_path, files[number], names[number], claims[number], options, suites)
                   for number in largest_first}
        loaded_or_waiting = [started[number].result() for number in range(len(files))]  # (raises what failed)
    results = [suites.result(name, item) for name, item in zip(names, loaded_or_waiting, strict=True)]
    for name, result in zip(names, results, strict=True):
        if isinstance(result, str):
            ignored.append(f"{name}: {result}")
        elif isinstance(result, ValidationReport):
            refused.append(result)
        else:
            loaded.append(result)
    unused = tuple(f"profile.toml line {entry.line}: path {entry.path!r} matched no file"
                   for entry in entries if id(entry) not in used)
    return Inspection(tuple(loaded), tuple(refused), tuple(ignored), unused)


_Loaded = LoadedSource | ValidationReport | str  # a file of a directory: rows, a refusal, or why it was ignored


@dataclass(frozen=True)
class _Awaiting:
    """A parsed file waiting for the run of its suite it shares with other files (``_SharedSuites``)."""

    parsed: _Parsed
    sha256: str
    read_as: str


class _SharedSuites:
    """Files of one kind that share one run of its quality suite (``quality.validate_together``): GX's
    cost is mostly per expectation, and vendors' usage comes as several files of one kind (the 1M
    sample's four usage files: 1.06 to 1.10 s of suites apart, 0.47 to 0.56 s together). They are the
    canonically named files of a kind whose suite has no key check (a key repeats within a file, not
    across files), when a directory has two or more. Each such file arrives here once loaded (parsed
    and waiting, or refused, or read some other way); the last to arrive runs the suite for those
    waiting, once per set of fields given, on its loading thread, while the other thread goes on."""

    def __init__(self, names: list[str], claims: list[SourceEntry | None]) -> None:
        kinds = [canonical_kind(name) if claim is None else None for name, claim in zip(names, claims, strict=True)]
        counts = Counter(kind for kind in kinds if kind is not None and kind not in quality.UNIQUE_KEYS)
        self._group = {name: kind for name, kind in zip(names, kinds, strict=True) if kind and counts[kind] > 1}
        self._left = {kind: count for kind, count in counts.items() if count > 1}
        self._waiting: dict[str, list[tuple[str, _Awaiting]]] = {kind: [] for kind in self._left}
        self._done: dict[str, _Loaded] = {}
        self._lock = threading.Lock()

    def shares(self, name: str) -> bool:
        return name in self._group

    def arrive(self, name: str, loaded: _Loaded | _Awaiting) -> _Loaded | _Awaiting:
        """``loaded`` for file ``name``; if it was the last of its kind to arrive, the files that wait
        are validated together and finished (``result`` then gives each)."""
        kind = self._group.get(name)
        if kind is None:
            return loaded
        with self._lock:
            if isinstance(loaded, _Awaiting):
                self._waiting[kind].append((name, loaded))
            self._left[kind] -= 1
            if self._left[kind]:  # others of its kind are still loading: the last of them finishes this one
                return loaded
        finished = _validated_together(kind, self._waiting[kind])
        with self._lock:
            self._done.update(finished)
        return finished.get(name, loaded)

    def result(self, name: str, loaded: _Loaded | _Awaiting) -> _Loaded:
        if isinstance(loaded, _Awaiting):
            with self._lock:
                return self._done[name]
        return loaded


def _validated_together(kind: str, waiting: list[tuple[str, _Awaiting]]) -> dict[str, _Loaded]:
    """Each waiting file finished, the suite run once per set of fields given."""
    by_fields: dict[tuple[str, ...], list[tuple[str, _Awaiting]]] = {}
    for name, awaiting in waiting:
        by_fields.setdefault(tuple(awaiting.parsed.cells), []).append((name, awaiting))
    finished: dict[str, _Loaded] = {}
    for files in by_fields.values():
        validations = quality.validate_together(kind, [(item.parsed.judged, item.parsed.cells) for _, item in files])
        for (name, item), validation in zip(files, validations, strict=True):
            finished[name] = _recorded(_validated(item.parsed, validation), item.sha256, item.read_as)
    return finished


def _load_path(path: Path, name: str, entry: SourceEntry | None, options: ReadOptions,
               suites: _SharedSuites) -> _Loaded | _Awaiting:
    """Load one file of a directory: its rows, the report of its refusal, or (a string) why a file
    nobody claims was not read; a file that shares its suite's run may come back still waiting."""
    return suites.arrive(name, _read_path(path, name, entry, options, suites.shares(name)))


def _read_path(path: Path, name: str, entry: SourceEntry | None, options: ReadOptions,
               shares_suite: bool) -> _Loaded | _Awaiting:
    data = _mapped(path)
    kind = entry.kind if entry else canonical_kind(name)
    how = describe(entry) if entry else "canonical columns"
    try:
        if entry is not None:
            return load_source(data, name, entry, options)
        raw = read_table(data, name, options) if kind else _header_or_none(data, name, options)
        if raw is None:
            return "not a table this tool can read"
        if kind and not missing_required(kind, match_columns(raw.columns, kind)):
            if shares_suite:
                return _Awaiting(_parsed(raw, kind, name, options, None, None), sha256_of(data), how)
            return _with_hash(normalise(raw, kind, name, options), data, how)
        detection = detect_preset(raw.columns)
        preset = PRESETS.get(detection.preset or "")
        if preset is None or kind not in (None, preset.kind):
            return _undetected(name, kind, raw, detection.reason)
        kind, how = preset.kind, f"preset detected from the header: {detection.reason}"
        guessed = SourceEntry(path=name, kind=preset.kind, preset=preset.name)
        return _load_entry(raw, data, name, guessed, read_options(guessed, options), how)
    except SourceError as error:
        return refused_report(kind or "unknown", name, error.problems, how)


def _mapped(path: Path) -> FileBytes:
    """A text file's bytes mapped read-only into memory (an empty file, or a workbook, read as bytes):
    Arrow parses the page cache in place, where reading would first copy the file into as many fresh
    pages (about 0.3 s of the million-line directory's 1.7 s on the bench machine, ``bench/results.md``).
    Nothing read keeps a reference (Arrow's reader copies every value out), so the mapping closes with
    ``data``. As with any mapped read (ripgrep, Polars), a file truncated by another program mid-read is
    not supported."""
    if path.suffix.lower() in EXCEL_SUFFIXES or not path.stat().st_size:
        return path.read_bytes()
    with path.open("rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _undetected(name: str, kind: str | None, raw: pd.DataFrame, detection: str) -> str:
    """Why a file nobody claims is ignored; for a canonically named file, a refusal naming its columns."""
    if kind is None:
        return f"no profile entry, not a canonical name, and {detection}"
    missing = missing_required(kind, match_columns(raw.columns, kind))
    raise SourceError(name, [f"missing required column(s) for {kind}: {', '.join(missing)}"
                             f" (found: {_column_list(raw.columns)}); {detection}"])


def _header_or_none(data: FileBytes, name: str, options: ReadOptions) -> pd.DataFrame | None:
    try:
        return read_table(data, name, options)
    except SourceError:
        return None


def combine(loaded: Iterable[LoadedSource], kinds: Iterable[str]) -> Sources:
    """Concatenate loaded files per kind into one ``Sources``; kinds with no file get empty frames."""
    by_kind: dict[str, list[pd.DataFrame]] = {kind: [] for kind in kinds}
    issues, records, reports = [], [], []
    for item in loaded:
        by_kind.setdefault(item.record.source, []).append(item.frame)
        issues.append(item.issues)
        records.append(item.record)
        reports.append(item.report)
    frames = {kind: (pd.concat(parts, ignore_index=True) if parts else empty_source(kind))
              for kind, parts in by_kind.items()}
    all_issues = pd.concat([empty_issues(), *[i for i in issues if len(i)]], ignore_index=True)
    return Sources(frames, all_issues, tuple(records), tuple(reports))


def load_directory(data_dir: Path, options: ReadOptions = ReadOptions()) -> Sources:
    """Load every source file of ``data_dir`` (see ``inspect_directory`` for which files and how).

    Raises ``MissingSourceError`` when contracts, usage or invoices is absent, ``SourceError`` for an
    unreadable file or missing required columns (every problem of every file at once), and
    ``ProfileError`` for a malformed ``profile.toml``.
    """
    inspection = inspect_directory(data_dir, options)
    absent = inspection.missing_kinds()
    if absent:
        names = [f"{kind}.csv" if kind != "usage" else "usage*.csv" for kind in absent]
        raise MissingSourceError(f"{data_dir}: missing required source file(s): {', '.join(names)}")
    if inspection.refused:
        raise SourceError(str(data_dir), [f"{report.file}: " + "; ".join(report.problems)
                                          for report in inspection.refused])
    return combine(inspection.loaded, (*REQUIRED_SOURCES, *OPTIONAL_SOURCES))
