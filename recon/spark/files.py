"""A data directory on any file system Spark reads (a local path, ``s3a://``, ``abfss://``, ``gs://``,
``dbfs:/``): its files listed as ``recon`` lists a directory, and each read by one task with ``recon``'s
own reader (``recon.ingest.directory.read_file``).

A file is the unit of reading on purpose: encoding and delimiter are detected per file, line numbers
count from its header, keys must be unique within it, and its SHA-256 identifies the import, so a file is
read whole, exactly as the local engine reads it. Large tables come as many files (Spark and data
lakes write them so: part files named by a ``profile.toml`` glob such as ``invoices/*.parquet``), and
the files are spread over the executors. One file is bounded as an upload is (``UploadLimits``: 200 MB,
2,000,000 rows): give executors about five times the largest file in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from recon.cells import distinct_cells
from recon.engine import period_evidence
from recon.errors import MissingSourceError
from recon.ingest.directory import read_file
from recon.ingest.guard import TABLE_SUFFIXES
from recon.ingest.normalise import LoadedSource
from recon.ingest.profile import PROFILE_FILE, SourceEntry, parse_profile
from recon.ingest.reading import ReadOptions
from recon.sources import ValidationReport
from recon.spark.payload import Parcel, envelope, frame_bytes, value_bytes

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Rows per payload: a file's canonical rows travel in pieces of this many (each then resolved alone).
CHUNK_ROWS = 250_000
# ``position`` of a piece: the file's place times this, plus the piece's number.
CHUNKS_PER_FILE = 1 << 20
SMALL_KINDS = ("catalog", "client_aliases")  # read whole by the driver too (identity, catalog facts)
SAMPLED_KEYS = {"invoices": "invoice_number", "payments": "invoice_number"}
SAMPLE_SIZE = 256


@dataclass(frozen=True)
class DataFile:
    """One file of the data directory: its place in reading order, its URI, its name relative to the
    directory (``/``-separated) and the ``profile.toml`` entry that claims it (if any)."""

    position: int
    uri: str
    name: str
    entry: SourceEntry | None


@dataclass(frozen=True)
class Listing:
    files: tuple[DataFile, ...]
    unused_entries: tuple[str, ...]


def list_data_files(spark: SparkSession, data: str) -> Listing:
    """The files a run reads, in the local engine's order: the directory's table files by name, then
    the files in sub-directories that a ``profile.toml`` path with a ``/`` names, in path order."""
    context: Any = spark.sparkContext  # Hadoop's FileSystem, through the JVM: the file systems Spark reads
    jvm, hadoop = context._jvm, context._jsc.hadoopConfiguration()
    root = jvm.org.apache.hadoop.fs.Path(data)
    fs = root.getFileSystem(hadoop)
    if not fs.exists(root) or not fs.getFileStatus(root).isDirectory():
        raise MissingSourceError(f"data directory not found: {data}")
    base = fs.makeQualified(root).toString().rstrip("/")
    relative = _all_files(fs, root, base)
    entries = _profile(spark, fs, root, relative)
    top = sorted(name for name in relative if "/" not in name and _is_table(name))
    nested = sorted({name for entry in entries if "/" in entry.path for name in relative
                     if "/" in name and _glob_matches(name, entry.path)}, key=lambda name: tuple(name.split("/")))
    names = top + nested
    claims = [next((item for item in entries if item.matches(name)), None) for name in names]
    used = {id(entry) for entry in claims if entry is not None}
    unused = tuple(f"profile.toml line {entry.line}: path {entry.path!r} matched no file"
                   for entry in entries if id(entry) not in used)
    files = tuple(DataFile(number, f"{base}/{name}", name, claim)
                  for number, (name, claim) in enumerate(zip(names, claims, strict=True)))
    return Listing(files, unused)


def _all_files(fs: object, root: object, base: str) -> list[str]:
    found = []
    listing = fs.listFiles(root, True)  # type: ignore[attr-defined]
    while listing.hasNext():
        path = listing.next().getPath().toString()
        found.append(path[len(base) + 1:] if path.startswith(base + "/") else path.rsplit("/", 1)[-1])
    return found


def _is_table(name: str) -> bool:
    return "." in name and "." + name.rsplit(".", 1)[-1].lower() in TABLE_SUFFIXES


def _glob_matches(name: str, pattern: str) -> bool:
    """``pathlib.Path.glob`` for one relative path: segment by segment (``*`` stays within a folder)."""
    parts, wanted = name.split("/"), pattern.strip("/").split("/")
    return len(parts) == len(wanted) and all(fnmatchcase(part, glob) for part, glob in zip(parts, wanted, strict=True))


def _profile(spark: SparkSession, fs: object, root: object, relative: list[str]) -> tuple[SourceEntry, ...]:
    if PROFILE_FILE not in relative:
        return ()
    path = fs.makeQualified(root).toString().rstrip("/") + "/" + PROFILE_FILE  # type: ignore[attr-defined]
    text = spark.read.text(path, wholetext=True).collect()[0][0]
    return parse_profile(text)


# ----------------------------------------------------------------------------------- in the executors

def read_files(batches: Iterator[pd.DataFrame], files: dict[str, DataFile],
               options: ReadOptions) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` over ``binaryFile`` rows (``path``, ``content``): each file read with
    ``recon``'s reader, as parcels (see ``file_parcels``)."""
    for batch in batches:
        for path, content in zip(batch["path"], batch["content"], strict=True):
            data_file = files[path]
            loaded = cast(LoadedSource | ValidationReport | str,
                          read_file(bytes(content), data_file.name, data_file.entry, options))
            yield envelope(file_parcels(data_file, loaded))


def file_parcels(data_file: DataFile, loaded: LoadedSource | ValidationReport | str) -> list[Parcel]:
    """What one file gives: why it was ignored or refused; else its import record and report, its
    quarantined rows, its canonical rows (in pieces of ``CHUNK_ROWS``), the client and sku names it
    uses in order of first appearance (identity is built from every file's names, in file order), for
    invoices and payments a sample of invoice numbers (where the ranges of receivables split), and for
    invoices and usage the months of its rows, mapped or not (``periods``: the months a local run asks
    the store's charge history for, ``recon.engine.source_periods``)."""
    position = data_file.position * CHUNKS_PER_FILE
    if isinstance(loaded, str):
        return [Parcel("ignored", value_bytes(f"{data_file.name}: {loaded}"), position=position)]
    if isinstance(loaded, ValidationReport):
        return [Parcel("refused", value_bytes(loaded), position=position, kind=loaded.source)]
    kind, frame = loaded.record.source, loaded.frame
    parcels = [Parcel("record", value_bytes((loaded.record, loaded.report)), position=position, kind=kind),
               Parcel("issues", frame_bytes(loaded.issues), position=position, kind=kind),
               Parcel("names", value_bytes(_names(frame)), position=position, kind=kind)]
    if kind in ("invoices", "usage"):
        parcels.append(Parcel("periods", value_bytes(period_evidence({kind: frame})), position=position, kind=kind))
    if kind in SAMPLED_KEYS:
        parcels.append(Parcel("sample", value_bytes(_sample(frame[SAMPLED_KEYS[kind]])), position=position, kind=kind))
    for number, start in enumerate(range(0, max(len(frame), 1), CHUNK_ROWS)):
        piece = frame.iloc[start:start + CHUNK_ROWS]
        parcels.append(Parcel("rows", frame_bytes(piece), position=position + number, kind=kind))
    return parcels


def _names(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {column: distinct_cells(frame[column])[1].reset_index(drop=True)
            for column in ("client", "sku") if column in frame}


def _sample(values: pd.Series) -> list[str]:
    distinct = sorted(str(value) for value in pd.unique(values.dropna()))
    step = max(len(distinct) // SAMPLE_SIZE, 1)
    return distinct[::step]
