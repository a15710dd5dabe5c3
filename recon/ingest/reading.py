"""Reading: bytes -> a frame of text cells (PRODUCT.md section 2: what real exports contain).

Encoding (UTF-8 with or without BOM, else Windows-1252), delimiter (sniffed among ``,;\t|``) and
sheet (XLSX: the first sheet whose first row names columns) are decided here; every cell stays text
so that nothing is guessed before ``recon.ingest.normalise`` parses it exactly. Files are checked by
``recon.ingest.guard`` before any parser sees them.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from openpyxl.utils.exceptions import InvalidFileException

from recon.cells import (
    TEXT,
    arrow_text,
    text_series,
    tidy_with,
)
from recon.errors import SourceError
from recon.ingest.guard import (
    EXCEL_SUFFIXES,
    MAX_COLUMN_NAME,
    PARQUET_SUFFIXES,
    FileBytes,
    UploadLimits,
    check_header_width,
    check_upload,
    safe_file_name,
)

# What the parsers raise on bytes that are not the table they claim to be: pandas (ParserError,
# EmptyDataError) a ValueError, Arrow (CSV, Parquet) an ArrowException, openpyxl InvalidFileException,
# KeyError (a missing part) or ValueError, zipfile and zlib their own errors, an XML parser a ParseError
# (a SyntaxError), a truncated stream EOFError or OSError. Any other exception is a bug in our code, and
# is raised as such instead of being reported as a bad file.
UNREADABLE = (ValueError, KeyError, IndexError, EOFError, OSError, SyntaxError, csv.Error, zipfile.BadZipFile,
              zipfile.LargeZipFile, zlib.error, InvalidFileException, pa.ArrowException)

ENCODINGS = ("utf-8-sig", "cp1252")
DELIMITERS = ",;\t|"
SNIFF_CHARS = 65_536



@dataclass(frozen=True)
class ReadOptions:
    """How to read one file. ``None`` means detect (encoding, delimiter) or the default (dates, decimal)."""

    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    decimal: str = "."
    sheet: str | int | None = None  # (.xlsx) None: the first sheet whose first row names columns


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
        elif name.lower().endswith(PARQUET_SUFFIXES):
            frame = read_parquet_cells(data)
        else:
            frame = _read_delimited_bytes(data, name, options, limits)
    except SourceError as error:
        raise SourceError(name, error.problems) from None
    except UNREADABLE as error:  # a parser refusing hostile or broken bytes: one clear message
        reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
        kind = next((label for suffixes, label in ((EXCEL_SUFFIXES, "XLSX"), (PARQUET_SUFFIXES, "Parquet"))
                     if name.lower().endswith(suffixes)), "CSV")
        raise SourceError(name, [f"unreadable as {kind}: {reason}"]) from None
    if frame.columns.empty:
        raise SourceError(name, ["has no header row"])
    if len(frame) > limits.max_rows:
        raise SourceError(name, [f"has {len(frame):,} rows, more than the limit of {limits.max_rows:,} "
                                 "(max_upload_rows in the settings)"])
    frame.columns = [str(column).strip()[:MAX_COLUMN_NAME] for column in frame.columns]
    return frame.fillna("").astype("string").apply(_stripped)


def read_parquet_cells(data: FileBytes) -> pd.DataFrame:
    """A Parquet file's columns as text cells, as a CSV export of the same table would hold them: text
    as it is, other types as Arrow writes them (dates ``YYYY-MM-DD``, numbers and decimals in full,
    booleans ``true``/``false``), a missing value empty. Parsing, validation and quarantine are then a
    CSV's (a Parquet table's row ``n`` is line ``n + 1`` after its header line)."""
    table = pq.read_table(pa.BufferReader(data))
    cells = {name: pc.fill_null(column if column.type in (pa.string(), TEXT) else pc.cast(column, TEXT), "")
             for name, column in zip(table.column_names, table.columns, strict=True)}
    return pd.DataFrame({name: text_series(column.cast(TEXT), pd.RangeIndex(table.num_rows))
                         for name, column in cells.items()})


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
        check_header_width(head, delimiter, name, limits)
        header = _header_names(head, delimiter)
        frame = _read_with_arrow(data, delimiter, header) if header else None
        if frame is not None:
            return frame
    data = data if isinstance(data, bytes) else bytes(data)  # the rare file Arrow cannot read as it is
    text = decode_text(data, options.encoding)
    delimiter = options.delimiter or sniff_delimiter(text[:SNIFF_CHARS])
    check_header_width(text, delimiter, name, limits)
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


