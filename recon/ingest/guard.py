"""The upload guard: what a file *is*, checked before any parser sees it.

Uploads come from anyone with a login, and files from vendors: size, rows, columns, line length,
and for XLSX (a zip archive) macros, external links, embedded objects and zip bombs are refused with
one sentence naming the file and the limit (``UploadLimits``, from the settings).
"""

from __future__ import annotations

import io
import mmap
import re
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from recon.errors import SourceError
from recon.ingest.lines import Buffer
from recon.settings import Settings

# A file's bytes: ``bytes`` (an upload), or a file of a data directory mapped into memory (no copy of a
# 170 MB file into fresh pages the process must fault in; what is read is the page cache itself).
FileBytes = bytes | mmap.mmap

EXCEL_SUFFIXES = (".xlsx",)
PARQUET_SUFFIXES = (".parquet",)  # a table a data lake or Spark wrote (recon sample --format parquet)
TABLE_SUFFIXES = (".csv", ".txt", ".tsv", *EXCEL_SUFFIXES, *PARQUET_SUFFIXES)
_PARQUET_MAGIC = b"PAR1"

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
    """What a file may be: size, rows, columns, line length, and for XLSX (a zip archive) how much it
    may unpack to and how strongly it may be compressed (a zip bomb is tiny and unpacks to gigabytes).
    Each is a setting (``from_settings``; the defaults are ``Settings``' defaults), and each refusal
    names its setting. Rows, columns and line length are checked while reading, before anything is
    allocated for a row (``recon.ingest.reading``, ``recon.ingest.workbook``)."""

    max_bytes: int = 200 * 2**20
    max_rows: int = 2_000_000
    max_columns: int = 1_000
    max_line_chars: int = 1_000_000
    max_unzipped_bytes: int = 1024 * 2**20
    max_compression_ratio: int = 100
    max_zip_members: int = 10_000
    max_line_amount: int = 10**16  # in 1/10,000 units: 10^12 currency units (max_line_amount in the settings)

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(max_bytes=settings.max_upload_mb * 2**20, max_rows=settings.max_upload_rows,
                   max_columns=settings.max_upload_columns, max_line_chars=settings.max_line_chars,
                   max_unzipped_bytes=settings.max_unzipped_mb * 2**20,
                   max_compression_ratio=settings.max_compression_ratio, max_zip_members=settings.max_zip_members,
                   max_line_amount=settings.max_line_amount_units)


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
    zip bomb or carries macros, external links, ActiveX or embedded objects, or an old binary workbook.
    (A text file's line length is checked once it is decoded: ``check_line_length``.)"""
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
    elif lower.endswith(PARQUET_SUFFIXES) and (data[:4] != _PARQUET_MAGIC or data[-4:] != _PARQUET_MAGIC):
        raise SourceError(name, ["is not a Parquet file (damaged, truncated, or another format)"])


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
        return [f"has {len(members):,} parts inside, more than {limits.max_zip_members:,} "
                "(max_zip_members in the settings)"]
    if unpacked > limits.max_unzipped_bytes:
        return [f"unpacks to {unpacked / 2**20:,.0f} MB, more than the limit of "
                f"{limits.max_unzipped_bytes / 2**20:,.0f} MB (max_unzipped_mb in the settings)"]
    bombs = [member.filename for member in members if member.file_size > 2**20
             and member.file_size > limits.max_compression_ratio * max(member.compress_size, 1)]
    if bombs:
        return [f"is compressed more than {limits.max_compression_ratio}:1 ({bombs[0][:80]}), "
                "which only a zip bomb does; refused (max_compression_ratio in the settings)"]
    return []


def _read_small(archive: zipfile.ZipFile, member: str, limit: int = 2**20) -> bytes:
    """A small member's bytes (at most ``limit``), or empty when absent."""
    try:
        with archive.open(member) as handle:
            return handle.read(limit)
    except KeyError:
        return b""


def check_line_length(buffer: Buffer, limits: UploadLimits) -> None:
    """Refuse text whose longest line is beyond ``max_line_chars`` (measured in bytes of UTF-8)."""
    data, start, size = buffer.data, buffer.start, len(buffer.data)
    if not _may_have_long_line(data, start, size, limits.max_line_chars):
        return
    raw = buffer.raw
    breaks = np.flatnonzero((raw == 10) | (raw == 13))  # two compares: half the time of np.isin
    edges = np.concatenate(([-1], breaks, [len(raw)]))
    longest = int(np.diff(edges).max()) - 1 if len(raw) else 0
    if longest > limits.max_line_chars:
        line = int(np.argmax(np.diff(edges))) + 1
        raise SourceError("file", [f"line {line:,} is {longest:,} characters long, more than the limit of "
                                   f"{limits.max_line_chars:,} (max_line_chars in the settings); is this really "
                                   "a CSV file?"])


def _may_have_long_line(data: FileBytes, start: int, size: int, limit: int) -> bool:
    """Whether some line might be longer than ``limit``: a line that long covers a whole aligned window
    of ``limit // 2`` bytes, so if every window holds a line break (found within a line's length of its
    start, by ``bytes.find``), none is; a few hundred finds instead of a pass over every byte."""
    window = max(limit // 2, 1)
    for low in range(start, size - window + 1, window):
        end = low + window
        if data.find(b"\n", low, end) < 0 and data.find(b"\r", low, end) < 0:
            return True
    return False
