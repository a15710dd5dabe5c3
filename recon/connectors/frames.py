"""From pulled records to canonical frames, through the same door as a file.

A connector returns ``Pulled`` sources: frames of text cells shaped like the vendor's own export (the
columns its file preset maps), one per canonical source kind. ``as_file`` turns one into the file it is
equivalent to (rows in a deterministic order, CSV in UTF-8), and ``load_pulled`` reads those bytes with
``recon.ingest.files.load_source`` and that preset: the same preset rules, parsing, Great Expectations validation,
quarantine and row counts as an uploaded export, and the SHA-256 of those bytes as the import's hash.
Rows in = rows loaded + rows quarantined holds for every pull, and anything that takes files takes a pull.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from recon.exports.safe import neutralise_text, safe_csv
from recon.ingest.files import load_source, pulled
from recon.ingest.normalise import LoadedSource
from recon.ingest.profile import SourceEntry
from recon.ingest.reading import ReadOptions
from recon.money import float_text, format_units
from recon.schema import CANONICAL_MONEY_PLACES, OPTIONAL_SOURCES, REQUIRED_SOURCES, SOURCES
from recon.sources import ImportRecord, Sources, combine

ALL_KINDS = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)
PULLED_FILE_OPTIONS = ReadOptions(encoding="utf-8", delimiter=",")  # what ``canonical_bytes`` writes


@dataclass(frozen=True)
class Pulled:
    """One source as a connector pulled it: text cells with the columns a file export of it has.
    ``preset`` names the file preset that reads that export (``recon.ingest.presets``); ``columns`` maps
    canonical fields to columns the preset does not map (or, without a preset, every field whose column
    is not named as the field)."""

    kind: str
    origin: str
    frame: pd.DataFrame
    columns: Mapping[str, str] = field(default_factory=dict)
    preset: str | None = None


@dataclass(frozen=True)
class PulledFile:
    """A pulled source as the file it is equivalent to: its name (the rows' ``source_file``), its canonical
    source kind and its bytes (CSV, UTF-8). Anything that takes an uploaded file takes this."""

    name: str
    kind: str
    content: bytes
    preset: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)

    def entry(self) -> SourceEntry:
        """How to read this file: what an upload of the same export would be read as."""
        return SourceEntry(path=self.name, kind=self.kind, preset=self.preset, columns=dict(self.columns),
                           encoding=PULLED_FILE_OPTIONS.encoding, delimiter=PULLED_FILE_OPTIONS.delimiter)


@dataclass(frozen=True)
class PullResult:
    """Everything one pull of one connection for one period produced: the equivalent files, and those
    files normalised exactly like uploads (same order)."""

    connection: str
    period: str
    files: tuple[PulledFile, ...]
    loaded: tuple[LoadedSource, ...]

    @property
    def imports(self) -> tuple[ImportRecord, ...]:
        return tuple(item.record for item in self.loaded)

    @property
    def issues(self) -> pd.DataFrame:
        return self.sources().issues

    def sources(self) -> Sources:
        """The pulled sources as a ``Sources`` (kinds this connection does not provide are empty)."""
        return combine(self.loaded, ALL_KINDS)

    def counts(self) -> pd.DataFrame:
        """One row per pulled source: kind, origin, rows in / loaded / quarantined, SHA-256."""
        rows = [{"source": r.source, "origin": r.file, "rows_in": r.rows_in, "rows_loaded": r.rows_loaded,
                 "rows_quarantined": r.rows_quarantined, "sha256": r.sha256} for r in self.imports]
        return pd.DataFrame(rows, columns=["source", "origin", "rows_in", "rows_loaded", "rows_quarantined",
                                           "sha256"])


def cell_text(value: Any) -> str:
    """One value as the text a CSV export would carry: exact decimals, ISO dates, ``""`` for nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):  # a database's REAL: its shortest repr, never 5e-05
        return float_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value).strip()


def text_frame(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Records -> a frame of text cells with exactly ``columns`` (absent keys become empty cells)."""
    rows = [[cell_text(record.get(column)) for column in columns] for record in records]
    return pd.DataFrame(rows, columns=list(columns), dtype="string")


def canonical_bytes(frame: pd.DataFrame) -> bytes:
    """The serialisation a pull is hashed and read by: header plus rows as CSV, UTF-8, LF line ends."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def as_file(pulled: Pulled, origin_prefix: str) -> PulledFile:
    """The file a pulled source is equivalent to, named ``<origin_prefix>:<origin>``: the export's
    columns, rows sorted (the same data pulled twice in any order gives the same bytes), CSV in UTF-8."""
    frame = pulled.frame.astype("string").fillna("")
    if len(frame):
        frame = frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)
    return PulledFile(f"{origin_prefix}:{pulled.origin}", pulled.kind, canonical_bytes(frame), pulled.preset,
                      dict(pulled.columns))


def load_pulled(file: PulledFile) -> LoadedSource:
    """Read a pulled file exactly like an uploaded export (``recon.ingest.files.load_source`` with its preset):
    same parsing, validation, quarantine and counts, and the SHA-256 of its bytes as the import's hash."""
    how = f"pulled, read with preset {file.preset}" if file.preset else f"pulled {file.kind}"
    return pulled(load_source(file.content, file.name, file.entry(), read_as=how))


# ------------------------------------------------------------------------------------------ writing

def canonical_csv_frame(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """A canonical frame ready for ``<kind>.csv``: canonical columns only, money as exact decimals (four
    places, nothing rounded away), dates ISO, flags true/false; provenance columns dropped. Text cells
    that a spreadsheet would run as a formula get a leading ``'`` (the file is opened in one too);
    reading the file back drops it (``recon.ingest.normalise``), so ``recon run`` sees the names as pulled."""
    out = pd.DataFrame(index=frame.index)
    for spec in SOURCES[kind]:
        column = frame[spec.name]
        if spec.type == "money":
            out[spec.name] = format_units(column.astype("Int64"), CANONICAL_MONEY_PLACES)
        elif spec.type == "date":
            out[spec.name] = column.dt.strftime("%Y-%m-%d")
        elif spec.type == "flag":
            out[spec.name] = column.map({True: "true", False: "false"})
        else:
            out[spec.name] = neutralise_text(column) if spec.type in ("text", "choice") else column
    return out


def pulled_file_name(kind: str, connection: str) -> str:
    """``usage-<connection>.csv`` (several usage files may share a data directory), else ``<kind>.csv``."""
    return f"usage-{connection}.csv" if kind == "usage" else f"{kind}.csv"


def pull_clashes(results: Sequence[PullResult], out_dir: Path) -> list[str]:
    """Why writing ``results`` into ``out_dir`` would lose a file (none: it may be written): a file the pull
    would write that the folder holds and that was not pulled from the same connection (written by a person,
    or by another connection's pull, as its ``imports-<connection>.json`` says), or one file two of the
    pulls would both write (``contracts.csv`` from two PSAs). Pulling a connection again refreshes its own."""
    owners = _pulled_by(out_dir)
    planned: dict[str, str] = {}
    clashes = []
    for result in results:
        for kind in sorted({record.source for record in result.imports}):
            name = pulled_file_name(kind, result.connection)
            if planned.get(name, result.connection) != result.connection:
                clashes.append(f"{planned[name]} and {result.connection} both give {kind} ({name}): pull them into "
                               "separate --out folders")
            elif name not in planned and (out_dir / name).exists() and owners.get(name) != result.connection:
                whose = f"pulled from connection {owners[name]}" if name in owners else "not from a pull"
                clashes.append(f"{out_dir / name} is {whose}, and pulling {result.connection} would write over it: "
                               "pull into another --out folder, or move the file away first")
            planned[name] = result.connection
    return clashes


def _pulled_by(out_dir: Path) -> dict[str, str]:
    """The files of ``out_dir`` an earlier pull wrote -> its connection (from its ``imports-*.json``)."""
    owners = {}
    for path in sorted(out_dir.glob("imports-*.json")) if out_dir.is_dir() else ():
        try:
            written = json.loads(path.read_text(encoding="utf-8"))
            connection = str(written["connection"])
            kinds = {str(record["source"]) for record in written["imports"]}
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a pull's record: its files count as nobody's
        owners.update({pulled_file_name(kind, connection): connection for kind in kinds})
    return owners


def write_pull(result: PullResult, out_dir: Path) -> list[Path]:
    """Write the pulled canonical sources as CSV files ``recon run --data`` reads, plus the quarantined
    rows (``quarantine-<connection>.csv``) and the import records (``imports-<connection>.json``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sources, paths = result.sources(), []
    for kind in sorted({record.source for record in result.imports}):
        path = out_dir / pulled_file_name(kind, result.connection)
        canonical_csv_frame(sources[kind], kind).to_csv(path, index=False)
        paths.append(path)
    quarantine = out_dir / f"quarantine-{result.connection}.csv"
    quarantine.write_bytes(safe_csv(sources.issues))  # a report people open: formulas neutralised
    imports = out_dir / f"imports-{result.connection}.json"
    imports.write_text(json.dumps({"connection": result.connection, "period": result.period,
                                   "imports": [r.to_dict() for r in result.imports]}, indent=2) + "\n")
    return [*paths, quarantine, imports]
