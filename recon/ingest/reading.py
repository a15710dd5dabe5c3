"""Reading: bytes -> a frame of text cells, with every physical line of the file accounted for
(PRODUCT.md section 2: what real exports contain; issue 24: a file never changes the answer silently).

Nothing is guessed here. The encoding is decided per file with its evidence (``recon.ingest.encoding``),
the delimiter is sniffed by counting fields outside quotes (linear time, no backtracking regular
expression on untrusted text), and the file's records are found on its bytes before any parser allocates
a row (``recon.ingest.lines``): a row whose field count differs from the header's, a quoted value that
swallows lines that look like rows of their own, a closing quote followed by more text, a NUL byte or a
stray non-UTF-8 byte is *quarantined* with its line and reason; a header that spans lines and a quote that
never closes *refuse* the file. Nothing is padded, merged or dropped. Two things cannot be told from real
data, so they are read and said: a last row with every field but no line break after it (a file cut off
inside its last value looks exactly like it, and many tools end files without a line break) gets a warning
naming its line and last value; a vertical tab, form feed or separator character in a value is whitespace
(read as a space, as some systems write a line break inside a value) and a warning counts them and names
the first. XLSX sheets are read cell by cell within the limits (``recon.ingest.workbook``).

What comes out (``TextTable``) is the frame of text cells and its ``Layout``: the first physical line of
every row and how many lines it spans, the rows quarantined while reading, and the line counts (header,
blank, the whole file) that ``recon.ingest.normalise`` completes into physical lines = header + rows used
+ rows quarantined + blank lines.

Speed: a file without quotes, NUL bytes or stray bytes (the usual export) is parsed once by Arrow's
multi-threaded reader, straight from the mapped file; what this module adds is counting its line breaks
(to bound the rows before parsing and to check that every line became a row). Anything else is scanned
(``lines.records``) and only the records that fit go to Arrow.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from recon.cells import (
    CONTROL,
    CONTROL_BYTES,
    ODD_SPACE,
    ODD_SPACE_BYTES,
    TEXT,
    arrow_text,
    control_characters,
    describe_control,
    odd_spaces,
    text_series,
    tidy_with,
    untidy_cells,
)
from recon.errors import EncodingError, SheetLimitError, SourceError
from recon.ingest.encoding import Decoded, decide, undeclared, unicode_line_ends
from recon.ingest.guard import (
    EXCEL_SUFFIXES,
    MAX_COLUMN_NAME,
    PARQUET_SUFFIXES,
    FileBytes,
    UploadLimits,
    check_line_length,
    check_upload,
    safe_file_name,
)
from recon.ingest.lines import (
    CR,
    LF,
    Buffer,
    Quoting,
    Records,
    count_lines,
    line_breaks,
    low_bytes,
    quoted_delimiters_per_line,
    quoting,
    records,
)

# What the parsers raise on bytes that are not the table they claim to be: pandas (ParserError,
# EmptyDataError) a ValueError, Arrow (CSV, Parquet) an ArrowException, openpyxl InvalidFileException (as a
# ValueError: ``_read_workbook``, which imports openpyxl only when a workbook is read), KeyError (a missing
# part) or ValueError, zipfile and zlib their own errors, an XML parser a ParseError (a SyntaxError), a
# truncated stream EOFError or OSError. Any other exception is a bug in our code, and is raised as such
# instead of being reported as a bad file.
UNREADABLE = (ValueError, KeyError, IndexError, EOFError, OSError, SyntaxError, csv.Error, zipfile.BadZipFile,
              zipfile.LargeZipFile, zlib.error, pa.ArrowException)

DELIMITERS = ",;\t|"
SNIFF_BYTES = 65_536
SNIFF_RECORDS = 20
UNNAMED = "unnamed column "  # a header name left blank reads as "unnamed column N"
RAW_SHOWN = 500  # characters of a rejected line kept in the quarantine
EMPTY_FILE = "is empty (0 bytes)"


@dataclass(frozen=True)
class ReadOptions:
    """How to read one file. ``None`` means detect (encoding, delimiter) or the default (dates, decimal)."""

    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    decimal: str = "."
    sheet: str | int | None = None  # (.xlsx) None: the first sheet whose first row names columns


_NO_LINES = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Rejected:
    """Rows quarantined while reading (they are not in the frame): first line, lines spanned, reason and
    the line's text (cut to ``RAW_SHOWN`` characters)."""

    lines: np.ndarray = field(default_factory=lambda: _NO_LINES)
    spans: np.ndarray = field(default_factory=lambda: _NO_LINES)
    reasons: tuple[str, ...] = ()
    raw: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.reasons)


@dataclass(frozen=True)
class Layout:
    """Where the rows of a read file came from. ``lines``/``spans``: the first physical line (from 1) of
    each row of the frame and the lines it spans; ``rejected``: rows quarantined while reading;
    ``physical_lines``: the file's lines (``None`` for a table that is not a file: a pulled source);
    ``header_lines``: the header's; ``blank_lines``: blank lines the reader dropped, above the header
    or among the rows (``blank_rows`` of them among the rows; blank rows in the frame are counted when
    normalised); ``encoding``: how the text was decoded, with its evidence;
    ``warnings``: what the reader noticed and the user should know; ``duplicates``: header names that
    appear more than once (name, 1-based columns): which column a field is read from is then a guess,
    refused when the field needs one of them."""

    lines: np.ndarray
    spans: np.ndarray
    rejected: Rejected = field(default_factory=Rejected)
    physical_lines: int | None = None
    header_lines: int = 1
    blank_lines: int = 0
    encoding: str = ""
    warnings: tuple[str, ...] = ()
    duplicates: tuple[tuple[str, tuple[int, ...]], ...] = ()
    blank_rows: int = 0


def table_layout(rows: int) -> Layout:
    """The layout of a table that is not a file (a pulled source, a frame built in code): row ``i`` is
    line ``i + 2`` under a header, and there are no physical lines to account for."""
    return Layout(np.arange(rows, dtype=np.int64) + 2, np.ones(rows, dtype=np.int64))


@dataclass(frozen=True)
class TextTable:
    """A file read into text cells (``frame``) and where each row came from (``layout``)."""

    frame: pd.DataFrame
    layout: Layout


# --------------------------------------------------------------------------------------------- reading

def sha256_of(data: FileBytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_table(data: FileBytes, name: str, options: ReadOptions = ReadOptions(),
               limits: UploadLimits | None = None) -> pd.DataFrame:
    """Read CSV/TSV/XLSX bytes into a frame of stripped text cells (``read_text_table``'s frame)."""
    return read_text_table(data, name, options, limits).frame


def read_text_table(data: FileBytes, name: str, options: ReadOptions = ReadOptions(),
                    limits: UploadLimits | None = None) -> TextTable:
    """Read CSV/TSV/XLSX bytes into text cells (no type guessing, no NA guessing) and their layout.

    ``name`` is used for the format (by suffix) and in messages, never as a path. Raises
    ``SourceError`` when the file is unreadable, has no header, or breaks ``limits`` (``check_upload``,
    and while reading: rows, columns, line length).
    """
    name = safe_file_name(name)
    limits = limits or UploadLimits()
    check_upload(data, name, limits)
    kind = next((label for suffixes, label in ((EXCEL_SUFFIXES, "XLSX"), (PARQUET_SUFFIXES, "Parquet"))
                 if name.lower().endswith(suffixes)), "CSV")
    try:
        if kind == "XLSX":
            table = _read_workbook(bytes(data), options, limits)
        elif kind == "Parquet":
            table = _read_parquet(data, limits)
        else:
            table = _read_delimited(data, options, limits)
    except SourceError as error:
        raise SourceError(name, error.problems) from None
    except (EncodingError, SheetLimitError) as error:
        raise SourceError(name, [str(error)]) from None
    except UNREADABLE as error:  # a parser refusing hostile or broken bytes: one clear message
        reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise SourceError(name, [f"unreadable as {kind}: {reason}"]) from None
    if table.frame.columns.empty:
        raise SourceError(name, ["has no header row"])
    return table


# ------------------------------------------------------------------------------------------ workbooks

def _read_workbook(data: bytes, options: ReadOptions, limits: UploadLimits) -> TextTable:
    from openpyxl.utils.exceptions import InvalidFileException  # (openpyxl: 0.3 s of a run that reads no workbook)

    from recon.ingest.workbook import read_sheet

    try:
        sheet = read_sheet(data, options.sheet, limits.max_rows, limits.max_columns)
    except InvalidFileException as error:  # unreadable bytes: said as the other parsers' (``UNREADABLE``)
        raise ValueError(*error.args) from error
    names, duplicates = column_names(sheet.header)
    columns = list(zip(*sheet.rows, strict=True)) if sheet.rows else [()] * len(names)
    index = pd.RangeIndex(len(sheet.rows))
    frame = pd.DataFrame({number: pd.Series(list(values), index=index, dtype="string")
                          for number, values in enumerate(columns)})
    frame.columns = pd.Index(names)
    rejected = Rejected(np.array([row for row, _ in sheet.beyond], dtype=np.int64),
                        np.ones(len(sheet.beyond), dtype=np.int64),
                        tuple(f"row {row:,} has a value in column {letter}, right of the header's last column "
                              f"({len(names)} columns)" for row, letter in sheet.beyond),
                        tuple("" for _ in sheet.beyond))
    blank = sheet.lines - int(bool(sheet.header_row)) - len(sheet.rows) - len(sheet.beyond)  # empty rows
    above = max(sheet.header_row - 1, 0)
    layout = Layout(np.array(sheet.row_numbers, dtype=np.int64), np.ones(len(sheet.rows), np.int64), rejected,
                    sheet.lines, int(bool(sheet.header_row)), blank, "", (), duplicates, blank - above)
    return TextTable(*_tidied(frame, layout))


# -------------------------------------------------------------------------------------------- Parquet

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


def _read_parquet(data: FileBytes, limits: UploadLimits) -> TextTable:
    """A Parquet table within the limits, checked on its metadata before a column is read: its lines
    are a CSV export's (the header, then a line per row)."""
    metadata = pq.ParquetFile(pa.BufferReader(data)).metadata
    if metadata.num_rows > limits.max_rows:
        raise SourceError("file", [f"has {metadata.num_rows:,} rows, more than the limit of {limits.max_rows:,} "
                                   "(max_upload_rows in the settings)"])
    if metadata.num_columns > limits.max_columns:
        raise SourceError("file", [f"has {metadata.num_columns:,} columns, more than the limit of "
                                   f"{limits.max_columns:,} (max_upload_columns in the settings)"])
    frame = read_parquet_cells(data)
    names, duplicates = column_names([str(column) for column in frame.columns])
    frame.columns = pd.Index(names)
    rows = len(frame)
    layout = Layout(np.arange(rows, dtype=np.int64) + 2, np.ones(rows, dtype=np.int64), Rejected(), rows + 1,
                    duplicates=duplicates)
    return TextTable(*_tidied(frame, layout))


# ------------------------------------------------------------------------------------ delimited text

class _NotUtf8Error(Exception):
    """A text taken for UTF-8 holds a byte that is not: decide its encoding from all its bytes."""


def _read_delimited(data: FileBytes, options: ReadOptions, limits: UploadLimits) -> TextTable:
    decoded = decide(Buffer(data), options.encoding)
    try:
        return _parse_delimited(decoded, options, limits)
    except _NotUtf8Error:
        return _parse_delimited(undeclared(decoded.buffer, declared_utf8=bool(options.encoding)), options, limits)


def _parse_delimited(decoded: Decoded, options: ReadOptions, limits: UploadLimits) -> TextTable:
    decoded, line_ends = unicode_line_ends(decoded)
    buffer = decoded.buffer
    if not len(buffer):
        raise SourceError("file", [EMPTY_FILE])
    check_line_length(buffer, limits)
    counted = count_lines(buffer) if len(buffer) > limits.max_rows else None  # a row takes a byte at least
    if counted is not None and counted - 1 > limits.max_rows:
        raise SourceError("file", [f"has {counted - 1:,} rows, more than the limit of {limits.max_rows:,} "
                                   "(max_upload_rows in the settings)"])
    delimiter = options.delimiter or sniff_delimiter(buffer.text(0, SNIFF_BYTES))
    if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n':
        raise SourceError("file", [f"delimiter {delimiter!r} must be one ASCII character other than a quote or a "
                                   "line break"])
    text = _DelimitedText(buffer, decoded, ord(delimiter), quoting(buffer, ord(delimiter)))
    header = text.header(limits)
    notes = tuple(note for note in (line_ends,) if note)
    if text.quoting.unclosed >= 0:
        raise SourceError("file", [text.unclosed_problem()])
    table = text.simple_read(header, counted) if text.simple else None
    frame, layout = table if table is not None else text.scanned_read(header)
    return TextTable(frame, _with_notes(layout, decoded, (*notes, *_unterminated_last_row(buffer, frame, layout))))


def _unterminated_last_row(buffer: Buffer, frame: pd.DataFrame, layout: Layout) -> tuple[str, ...]:
    """A warning when the file's last line is a row used and no line break follows it (issue 24, item 8).
    A value cut off there (``637.50`` saved as ``63``: a download or copy that stopped) leaves every field
    in place, so nothing tells it from a real value, and many tools write no final line break: the row is
    kept, and the report names the line and its last value for someone to compare. A cut that loses a
    field is quarantined instead (``_field_counts``), and a blank last line holds nothing to cut."""
    raw = buffer.raw
    if not len(frame) or not len(raw) or int(raw[-1]) in (LF, CR):
        return ()
    last = int(layout.lines[-1] + layout.spans[-1] - 1)
    if last != layout.physical_lines or not any(str(value) for value in frame.iloc[-1]):
        return ()
    column = str(frame.columns[-1])
    value = str(frame[column].iloc[-1])
    shown = value[:40] + (" ..." if len(value) > 40 else "")
    return (f"line {last:,} (the last) has no line break after it: if the file was cut off, its last value "
            f"({column} '{shown}') may be incomplete; compare that row with the source or export the file again",)


def _with_notes(layout: Layout, decoded: Decoded, notes: tuple[str, ...]) -> Layout:
    return dataclasses.replace(layout, encoding=decoded.description, warnings=(*notes, *layout.warnings))


@dataclass(frozen=True)
class _Header:
    """The header record: the column names (stripped, blanks and repeats named apart), where its text
    is, and the blank lines above it."""

    names: list[str]
    duplicates: tuple[tuple[str, tuple[int, ...]], ...]
    record: int  # which record the header is (records above it are blank lines)
    start: int
    end: int
    next_start: int
    first_line: int


class _DelimitedText:
    """A decoded delimited text being read: its bytes, quotes and (when needed) records."""

    def __init__(self, buffer: Buffer, decoded: Decoded, delimiter: int, quotes: Quoting) -> None:
        self.buffer = buffer
        self.decoded = decoded
        self.delimiter = delimiter
        self.quoting = quotes
        self._records: Records | None = None

    @property
    def records(self) -> Records:
        if self._records is None:
            self._records = records(self.buffer, self.delimiter, self.quoting)
        return self._records

    @property
    def low(self) -> frozenset[int]:
        return low_bytes(self.buffer)

    @property
    def simple(self) -> bool:
        """No stray byte, NUL byte, misplaced quote or line break inside quotes: every line should be one
        row, and one parse of the text as it is tells (``simple_read``)."""
        if len(self.decoded.stray) or len(self.quoting.misplaced) or self.buffer.has(b"\x00"):
            return False
        if not len(self.quoting.toggles):
            return True
        breaks, _ = line_breaks(self.buffer)
        return not bool(np.any(self.quoting.inside(breaks)))

    # ------------------------------------------------------------------------------------- the header

    def header(self, limits: UploadLimits) -> _Header:
        number, start, end, next_start, first_line = self._header_record()
        if self._blank(start, end):  # nothing but blank lines
            return _Header([], (), number, start, end, next_start, first_line)
        width = self._fields_between(start, end)
        if width > limits.max_columns:
            raise SourceError("file", [f"has {width:,} columns, more than the limit of {limits.max_columns:,} "
                                       "(max_upload_columns in the settings)"])
        if self._line_breaks_between(start, end):
            last = first_line + self._line_breaks_between(start, end)
            raise SourceError("file", [f"the header runs over lines {first_line} to {last}: a quote in it opens a "
                                       "value that a later line closes (a stray quote?); check the header's quoting"])
        raw = self.buffer.text(start, end)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            if not self.decoded.checked:
                raise _NotUtf8Error from None
            raise SourceError("file", ["the header is not UTF-8 text"]) from None
        if "\x00" in text or self._stray_between(start, end):
            raise SourceError("file", [f"the header (line {first_line}) holds a NUL byte or a byte that is not "
                                       "UTF-8; check the file's encoding"])
        raw_names = next(csv.reader([text], delimiter=chr(self.delimiter)), [])
        _refuse_control_characters(raw_names, first_line)
        names, duplicates = column_names(raw_names)
        return _Header(names, duplicates, number, start, end, next_start, first_line)

    def _header_record(self) -> tuple[int, int, int, int, int]:
        """(record number, start, end, next start, first line) of the first record that is not blank."""
        position, number, line = 0, 0, 1
        while True:
            end, next_start = self._record_end(position)
            if not self._blank(position, end) or next_start >= len(self.buffer):
                return number, position, end, next_start, line
            line += 1 + self._line_breaks_between(position, end)
            position, number = next_start, number + 1

    def _record_end(self, start: int) -> tuple[int, int]:
        """(end, next start) of the record starting at ``start``: its first line break outside quotes."""
        position = start
        while True:
            breaks = [found for found in (self.buffer.find(b"\n", position), self.buffer.find(b"\r", position))
                      if found >= 0]
            if not breaks:
                return len(self.buffer), len(self.buffer)
            found = min(breaks)
            if not self.quoting.inside(np.array([found]))[0]:
                crlf = self.buffer.text(found, found + 2) == b"\r\n"
                return found, found + 1 + crlf
            position = found + 1

    def _blank(self, start: int, end: int) -> bool:
        return not self.buffer.text(start, end).strip(b" \t\r\n" + bytes([self.delimiter]))

    def _fields_between(self, start: int, end: int) -> int:
        raw = self.buffer.raw[start:end]
        delimiters = np.flatnonzero(raw == self.delimiter) + start
        return int(np.count_nonzero(~self.quoting.inside(delimiters))) + 1

    def _line_breaks_between(self, start: int, end: int) -> int:
        raw = self.buffer.raw[start:end]
        lone_cr = (raw == 0x0D) & np.append(raw[1:] != 0x0A, True)
        return int(np.count_nonzero(raw == 0x0A) + np.count_nonzero(lone_cr))

    def _stray_between(self, start: int, end: int) -> bool:
        stray = self.decoded.stray
        return bool(np.any((stray >= start) & (stray < end)))

    def unclosed_problem(self) -> str:
        position = self.quoting.unclosed
        line = 1 + self._line_breaks_between(0, position)
        rest = count_lines(self.buffer) - line
        return (f"line {line:,}: a quote opens a value that never closes; it would take in the {rest:,} "
                "line(s) after it, to the end of the file (a stray or cut-off quote?)")

    # ------------------------------------------------------------------------------------------ reads

    def simple_read(self, header: _Header, counted: int | None) -> tuple[pd.DataFrame, Layout] | None:
        """One Arrow parse of the body as it is; ``None`` when some line did not become one row."""
        try:
            table = _arrow_read(self.buffer, header.next_start, len(self.buffer), len(header.names), self.delimiter,
                                False, self.decoded.checked)
        except pa.ArrowInvalid:  # a row of another width (Arrow stops at the first): scan the records
            return None
        lines = counted if counted is not None else count_lines(self.buffer)
        first_data_line = header.first_line + 1
        if first_data_line - 1 + table.num_rows != lines:
            return None
        rows = table.num_rows
        layout = Layout(np.arange(rows, dtype=np.int64) + first_data_line, np.ones(rows, dtype=np.int64),
                        Rejected(), lines, 1, header.first_line - 1, duplicates=header.duplicates)
        return _tidied(_frame(table, header.names), layout, self.low)

    def scanned_read(self, header: _Header) -> tuple[pd.DataFrame, Layout]:
        """Every record classified on the bytes; the ones that fit the header go to Arrow."""
        found = self.records
        width = len(header.names)
        data = np.arange(header.record + 1, len(found))
        problems = self._problems(data, width)
        blank = self._blank_misfits(data, width, problems)
        kept = data[(problems == "") & ~blank]
        try:
            table = _arrow_read_records(self.buffer, found, kept, width, self.delimiter, self.decoded.checked)
        except pa.ArrowInvalid:
            table = None
        if table is None or table.num_rows != len(kept):
            raise SourceError("file", ["its rows cannot be told apart unambiguously (quoting the reader and the "
                                       "line scan read differently); check the quoting"])
        bad = data[problems != ""]
        rejected = Rejected(found.first_lines[bad], found.spans[bad], tuple(problems[problems != ""].tolist()),
                            tuple(self._raw(number) for number in bad))
        above = int(found.spans[:header.record].sum())
        blank_lines = above + int(found.spans[data[blank]].sum())
        layout = Layout(found.first_lines[kept], found.spans[kept], rejected, found.lines,
                        int(found.spans[header.record]), blank_lines, duplicates=header.duplicates,
                        blank_rows=int(blank.sum()))
        return _tidied(_frame(table, header.names), layout, self.low)

    def _raw(self, number: int) -> str:
        found = self.records
        start, end = int(found.starts[number]), int(found.ends[number])
        text = self.buffer.text(start, min(end, start + 4 * RAW_SHOWN)).decode("utf-8", errors="replace")
        return text[:RAW_SHOWN] + (" ..." if end - start > RAW_SHOWN else "")

    def _problems(self, data: np.ndarray, width: int) -> np.ndarray:
        """Per data record, why it is quarantined ("" when it is not)."""
        reasons = np.full(len(data), "", dtype=object)
        checks: list[Callable[[np.ndarray, int], np.ndarray]] = [self._field_counts, self._swallowed,
                                                                 self._misplaced, self._odd_bytes]
        for check in checks:
            found_reasons = check(data, width)
            reasons = np.where((reasons == "") & (found_reasons != ""), found_reasons, reasons)
        return reasons

    def _field_counts(self, data: np.ndarray, width: int) -> np.ndarray:
        found = self.records
        fields = found.fields[data]
        empty = found.starts[data] == found.ends[data]  # an empty line: a blank row, not a short one
        reasons = np.full(len(data), "", dtype=object)
        misfit = np.flatnonzero((fields != width) & ~empty)
        last = len(found) - 1
        cut_off = found.next_starts[last] == found.ends[last] and len(self.buffer) > 0
        for position in misfit:
            number = data[position]
            count = int(fields[position])
            reason = f"{count:,} fields where the header has {width:,}"
            if count > width:
                reason += " (values beyond the header's columns would be lost)"
            elif number == last and cut_off:
                reason += " (the last line, with no line break after it: the file looks cut off)"
            reasons[position] = self._lines_of(number) + reason
        return reasons

    def _swallowed(self, data: np.ndarray, width: int) -> np.ndarray:
        """Rows whose quoted value runs over lines holding a row's worth of delimiters inside it: rows of
        their own that a stray quote took in (a note with line breaks rarely has a line of that many)."""
        found = self.records
        reasons = np.full(len(data), "", dtype=object)
        multi = np.flatnonzero(found.spans[data] > 1)
        if not len(multi) or width < 2:
            return reasons
        per_line = quoted_delimiters_per_line(self.buffer, self.delimiter, self.quoting)
        for position in multi:
            number = data[position]
            first, span = int(found.first_lines[number]), int(found.spans[number])
            inner = per_line[first:first + span - 1]  # lines 2..span of the record (0-based index = line - 1)
            if np.any(inner >= width - 1):
                reasons[position] = (f"lines {first:,} to {first + span - 1:,} read as one row: a quote on line "
                                     f"{first:,} opens a value that takes in lines that look like rows of their "
                                     "own (a stray quote?)")
        return reasons

    def _misplaced(self, data: np.ndarray, width: int) -> np.ndarray:
        return self._at_positions(data, self.quoting.misplaced,
                                  lambda first: "a closing quote is followed by more text in the same value")

    def _odd_bytes(self, data: np.ndarray, width: int) -> np.ndarray:
        stray = self.decoded.stray
        reasons = self._at_positions(data, stray, lambda first: (
            f"byte 0x{int(self.decoded.stray_values[np.searchsorted(stray, first)]):02x} is not UTF-8, in a file "
            "that otherwise is"))
        if self.buffer.has(b"\x00"):
            nul = self._at_positions(data, np.flatnonzero(self.buffer.raw == 0),
                                     lambda first: "a NUL byte (0x00): binary data in a text file")
            reasons = np.where(reasons == "", nul, reasons)
        return reasons

    def _at_positions(self, data: np.ndarray, positions: np.ndarray, what: Callable[[int], str]) -> np.ndarray:
        """Reasons for the records holding one of ``positions``: ``what(first position in the record)``
        and where in the row it is."""
        reasons = np.full(len(data), "", dtype=object)
        if not len(positions):
            return reasons
        found = self.records
        holding = found.containing(positions)
        for number in np.unique(holding):
            position = np.searchsorted(data, number)
            if position < len(data) and data[position] == number:
                first = int(positions[holding == number][0])
                offset = first - int(found.starts[number]) + 1
                reasons[position] = f"{self._lines_of(number)}{what(first)} (byte {offset:,} of the row)"
        return reasons

    def _lines_of(self, number: int) -> str:
        span = int(self.records.spans[number])
        first = int(self.records.first_lines[number])
        return "" if span == 1 else f"lines {first:,} to {first + span - 1:,}: "

    def _blank_misfits(self, data: np.ndarray, width: int, problems: np.ndarray) -> np.ndarray:
        """Records quarantined only for their field count that hold nothing but spaces and delimiters:
        blank lines (``   `` or ``,,,``), not rows."""
        found = self.records
        blank = np.zeros(len(data), dtype=bool)
        for position in np.flatnonzero((problems != "") & (found.fields[data] != width)):
            number = data[position]
            if self._blank(int(found.starts[number]), int(found.ends[number])):
                blank[position] = True
                problems[position] = ""
        return blank


def _refuse_control_characters(names: list[str], line: int) -> None:
    """A header name holding a control character (or a vertical tab, form feed or separator inside it,
    around it they are whitespace) matches no field: the column would be left out or another one guessed
    for it, so the file is refused, naming the column and the character."""
    for number, name in enumerate(names, start=1):
        found = re.search(CONTROL, name) or re.search(ODD_SPACE, name.strip())
        if found:
            raise SourceError("file", [f"the name of column {number} in the header (line {line:,}) holds "
                                       f"{describe_control(ord(found.group()))}; check the file's header"])


def column_names(raw: list[str]) -> tuple[list[str], tuple[tuple[str, tuple[int, ...]], ...]]:
    """Header names stripped (and cut to ``MAX_COLUMN_NAME``) *before* repeats are looked for: a blank
    name becomes ``unnamed column N`` and a repeat ``name (column N)``; the repeated names come back with
    their columns (from 1)."""
    stripped = [str(name).strip()[:MAX_COLUMN_NAME] for name in raw]
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(stripped, start=1):
        if name:
            positions.setdefault(name, []).append(number)
    names = []
    for number, name in enumerate(stripped, start=1):
        if not name:
            names.append(f"{UNNAMED}{number}")
        elif positions[name][0] != number:
            names.append(f"{name} (column {number})")
        else:
            names.append(name)
    repeated = tuple((name, tuple(columns)) for name, columns in positions.items() if len(columns) > 1)
    taken: set[str] = set()
    for number, name in enumerate(names):  # a made-up name may itself repeat a real one: number it apart
        while name in taken:
            name = f"{name} #{number + 1}"
        names[number] = name
        taken.add(name)
    return names, repeated


def sniff_delimiter(head: bytes | str) -> str:
    """The delimiter of a delimited text, from its first records: among ``,;\\t|``, the one that gives
    the header two or more fields and the most of the next records the header's field count (fields
    counted outside quotes; ties go to the earlier candidate). ``,`` when none splits the header."""
    data = head.encode("utf-8") if isinstance(head, str) else head
    if len(data) >= SNIFF_BYTES:  # a cut record at the end of the head would not count right
        data = data[:max(data.rfind(b"\n"), data.rfind(b"\r")) + 1] or data
    best, best_score = ",", (0.0, 0)
    for candidate in DELIMITERS:
        fields = _sniffed_fields(Buffer(data), ord(candidate))
        if len(fields) and fields[0] >= 2:
            score = (float(np.mean(fields[1:] == fields[0])) if len(fields) > 1 else 1.0, int(fields[0]))
            if score > best_score:
                best, best_score = candidate, score
    return best


def _sniffed_fields(buffer: Buffer, delimiter: int) -> np.ndarray:
    """Fields of the first non-blank records of ``buffer`` for ``delimiter``."""
    found = records(buffer, delimiter)
    filled = np.flatnonzero(found.ends > found.starts)
    return found.fields[filled[:SNIFF_RECORDS + 1]]


# ------------------------------------------------------------------------------------------------ Arrow

# 4 MB blocks, not Arrow's 1 MB: a 170 MB file becomes 42 chunks per column instead of 165, and every
# later pass over a column pays a little per chunk (the read itself is as fast or faster).
_BLOCK_SIZE = 4 * 2**20


def _arrow_read(buffer: Buffer, start: int, end: int, width: int, delimiter: int, newlines_in_values: bool,
                checked: bool) -> pa.Table:
    """Arrow's reader over ``buffer[start:end]`` with ``width`` text columns (no header, no type or NA
    guessing). Raises ``pa.ArrowInvalid`` at a row of another width (no invalid-row handler: Arrow would
    decode such a row's text for it, and print a traceback where that text is not UTF-8)."""
    names = [f"c{number}" for number in range(width)]
    if end <= start or not width:
        return pa.table({name: pa.chunked_array([pa.array([], TEXT)]) for name in names})
    body = pa.py_buffer(buffer.data).slice(buffer.start + start, end - start)  # read in place
    return _parse(pa.BufferReader(body), names, delimiter, newlines_in_values, checked)


def _arrow_read_records(buffer: Buffer, found: Records, kept: np.ndarray, width: int, delimiter: int,
                        checked: bool) -> pa.Table:
    """Arrow's reader over the ``kept`` records only (one copy of them when some records are left out)."""
    if not len(kept):
        return _arrow_read(buffer, 0, 0, width, delimiter, False, checked)
    multi = bool(np.any(found.spans[kept] > 1))
    first, last = int(kept[0]), int(kept[-1])
    if last - first + 1 == len(kept):  # one run of records: read in place
        return _arrow_read(buffer, int(found.starts[first]), int(found.next_starts[last]), width, delimiter,
                           multi, checked)
    breaks = np.flatnonzero(np.diff(kept) != 1)
    run_starts = np.concatenate(([kept[0]], kept[breaks + 1]))
    run_ends = np.concatenate((kept[breaks], [kept[-1]]))
    parts = [buffer.text(int(found.starts[a]), int(found.next_starts[b])) for a, b in zip(run_starts, run_ends,
                                                                                          strict=True)]
    parts = [part if part.endswith((b"\n", b"\r")) else part + b"\n" for part in parts]
    joined = Buffer(b"".join(parts))
    return _arrow_read(joined, 0, len(joined), width, delimiter, multi, checked)


def _parse(body: pa.BufferReader, names: list[str], delimiter: int, newlines_in_values: bool,
           checked: bool) -> pa.Table:
    read = pa_csv.ReadOptions(block_size=_BLOCK_SIZE, column_names=names)
    layout = pa_csv.ParseOptions(delimiter=chr(delimiter), newlines_in_values=newlines_in_values,
                                 ignore_empty_lines=False)
    strings = pa_csv.ConvertOptions(column_types=dict.fromkeys(names, TEXT), null_values=[],
                                    strings_can_be_null=False, quoted_strings_can_be_null=False)
    try:
        return pa_csv.read_csv(body, read_options=read, parse_options=layout, convert_options=strings)
    except pa.ArrowInvalid as error:
        if "UTF8" in str(error) and not checked:
            raise _NotUtf8Error from None
        raise


def _frame(table: pa.Table, names: list[str]) -> pd.DataFrame:
    index = pd.RangeIndex(table.num_rows)
    frame = pd.DataFrame({number: text_series(column, index) for number, column in enumerate(table.columns)})
    frame.columns = pd.Index(names)
    return frame


def _tidied(frame: pd.DataFrame, layout: Layout, low: frozenset[int] | None = None) -> tuple[pd.DataFrame, Layout]:
    """Every cell stripped of surrounding whitespace; a row holding a control character (an escape
    sequence, a bell: binary data or a forged terminal line, not text) moved to the rows quarantined
    while reading; and values holding a vertical tab, form feed or separator character (whitespace, read
    as a space) counted in a warning. One byte scan per column serves all three (``untidy_cells``);
    ``low``, the control characters the file holds (``lines.low_bytes``; ``None``: not known), skips the
    searches the file's bytes cannot need."""
    if frame.columns.empty:
        return frame, layout
    controls_possible = low is None or bool(low & CONTROL_BYTES)
    spaces_possible = low is None or bool(low & ODD_SPACE_BYTES)
    frame = frame.fillna("").astype("string")
    columns, found, spaced = {}, {}, {}
    for number, name in enumerate(frame.columns):
        text = arrow_text(frame[name])
        untidy = untidy_cells(text)
        stripped = tidy_with(text, pc.utf8_trim_whitespace, untidy)
        columns[number] = frame[name] if stripped is text else text_series(stripped, frame.index)
        controls = control_characters(text, untidy) if controls_possible else None
        if controls is not None and controls.any():
            found[name] = controls
        odd = odd_spaces(text, untidy) if spaces_possible else None
        if odd is not None and odd.any():
            spaced[name] = (odd, text)
    tidied = pd.DataFrame(columns, index=frame.index)
    tidied.columns = frame.columns
    if spaced:
        layout = _with_odd_spaces(layout, spaced, found)
    return _without_controls(tidied, layout, found, frame) if found else (tidied, layout)


def _with_odd_spaces(layout: Layout, spaced: dict[str, tuple[np.ndarray, pa.ChunkedArray]],
                     found: dict[str, np.ndarray]) -> Layout:
    """The layout with a warning counting the values (of rows not quarantined) that hold a vertical tab,
    form feed or separator character, naming the first one's character, line and column."""
    rows = len(layout.lines)
    quarantined = np.zeros(rows, dtype=bool)
    for controls in found.values():
        quarantined |= controls
    count, first = 0, (rows, "", "")
    for name, (odd, text) in spaced.items():
        kept = np.flatnonzero(odd & ~quarantined)
        count += len(kept)
        if len(kept) and int(kept[0]) < first[0]:
            cell = str(text[int(kept[0])])
            first = (int(kept[0]), name, next(character for character in cell if re.match(ODD_SPACE, character)))
    if not count:
        return layout
    row, name, character = first
    warning = (f"{count:,} value(s) hold a vertical tab, form feed or separator character, read as a space (the "
               f"first: 0x{ord(character):02x} on line {int(layout.lines[row]):,}, column {name}); check them if the "
               "file's system did not mean a space or a line break there")
    return dataclasses.replace(layout, warnings=(*layout.warnings, warning))


def _without_controls(frame: pd.DataFrame, layout: Layout, found: dict[str, np.ndarray],
                      untidied: pd.DataFrame) -> tuple[pd.DataFrame, Layout]:
    """The rows holding a control character (``found``: per column, which rows) moved to the rows
    quarantined while reading, each reason naming the column and the first such character (looked for in
    ``untidied``, the cells before stripping: NEL, U+0085, is whitespace at a value's end)."""
    reasons = np.full(len(frame), "", dtype=object)
    for name, rows in found.items():
        for row in np.flatnonzero(rows & (reasons == "")):
            cell = str(untidied[name].iloc[row])
            code = next(ord(character) for character in cell if re.match(CONTROL, character))
            reasons[row] = f"{name}: holds {describe_control(code)}, not text"
    bad = reasons != ""
    raw = [" | ".join(str(value) for value in values)[:RAW_SHOWN] for values in frame[bad].itertuples(index=False)]
    rejected = layout.rejected
    moved = Rejected(np.concatenate([rejected.lines, layout.lines[bad]]),
                     np.concatenate([rejected.spans, layout.spans[bad]]),
                     (*rejected.reasons, *reasons[bad].tolist()), (*rejected.raw, *raw))
    layout = dataclasses.replace(layout, lines=layout.lines[~bad], spans=layout.spans[~bad], rejected=moved)
    return frame[~bad].reset_index(drop=True), layout
