"""One file: bytes and how to read them (a profile entry, a preset, canonical columns) -> a loaded
source with its import record (SHA-256, row counts) and validation report.
"""

from __future__ import annotations

import dataclasses

from recon.errors import SourceError
from recon.ingest.guard import FileBytes, UploadLimits, safe_file_name
from recon.ingest.normalise import LoadedSource, column_list, normalise
from recon.ingest.profile import SourceEntry
from recon.ingest.reading import ReadOptions, TextTable, read_text_table, sha256_of
from recon.sources import unused_warning

# ------------------------------------------------------------------------------------------- one file

def load_file(data: bytes, name: str, kind: str, options: ReadOptions = ReadOptions(),
              mapping: dict[str, str] | None = None, limits: UploadLimits | None = None) -> LoadedSource:
    """Read and normalise one file's bytes; the import record carries the content hash. ``name`` is a
    label (its directories are dropped); ``limits`` bound what the file may be (``UploadLimits``)."""
    name = safe_file_name(name)
    loaded = normalise(read_text_table(data, name, options, limits), kind, name, options, mapping, limits=limits)
    return with_hash(loaded, data, "canonical columns" if mapping is None else "column mapping")


def load_source(data: FileBytes, name: str, entry: SourceEntry, base: ReadOptions = ReadOptions(),
                read_as: str = "", limits: UploadLimits | None = None) -> LoadedSource:
    """Read one file as a profile entry (or the Sources page's choices) says: its kind, preset, read
    options and columns. ``base`` gives the options the entry leaves open. Raises ``SourceError`` when
    the file is unreadable, breaks ``limits``, a mapped column is absent or a required field has no
    column. ``name`` is a label (its directories are dropped)."""
    name = safe_file_name(name)
    options = read_options(entry, base)
    raw = read_text_table(data, name, options, limits)
    return load_entry(raw, data, name, entry, options, read_as or describe(entry), limits)


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


def load_entry(raw: TextTable, data: FileBytes, name: str, entry: SourceEntry, options: ReadOptions,
               read_as: str, limits: UploadLimits | None = None) -> LoadedSource:
    columns = raw.frame.columns
    absent = [f"{column!r} (for {field_name})" for field_name, column in entry.columns.items()
              if column not in columns]
    if absent:
        raise SourceError(name, [f"mapped column(s) not in the file: {', '.join(absent)}"
                                 f" (found: {column_list(columns)})"])
    preset = entry.preset_spec
    mapping = entry.mapping(entry.prepare(raw.frame.iloc[:0]).columns)
    if preset and preset.client_key and "client" not in mapping:
        named = " or ".join(preset.columns.get("client", ()))
        raise SourceError(name, [f"{preset.name} rows name no client here: add a client column ({named}), "
                                 f"give the profile a client column or a [source.client_lookup] table "
                                 f"({preset.client_key} -> client)"])
    loaded = normalise(raw, entry.kind, name, options, mapping, prepare=entry.prepare, limits=limits)
    return with_hash(loaded, data, read_as)


def pulled(loaded: LoadedSource) -> LoadedSource:
    """A table pulled from an API, read as a file: the columns nothing read are the API's own fields (an
    API renames nothing by hand), named in its report as known, without a warning; and a column of the
    export format it lacks is a field the API left out of every record (nobody deleted it), not warned
    about either."""
    report = loaded.report
    if not report.unused_columns and not report.absent_columns:
        return loaded
    dropped = {unused_warning(report.unused_columns), *(column.warning() for column in report.absent_columns)}
    known = tuple(dataclasses.replace(column, did_you_mean=None, known=True) for column in report.unused_columns)
    report = dataclasses.replace(report, unused_columns=known, absent_columns=(),
                                 warnings=tuple(text for text in report.warnings if text not in dropped))
    return LoadedSource(loaded.frame, loaded.issues, loaded.record, report)


def with_hash(loaded: LoadedSource, data: FileBytes, read_as: str) -> LoadedSource:
    return recorded(loaded, sha256_of(data), read_as)


def recorded(loaded: LoadedSource, sha256: str, read_as: str) -> LoadedSource:
    record = dataclasses.replace(loaded.record, sha256=sha256)
    report = dataclasses.replace(loaded.report, read_as=read_as)
    return LoadedSource(loaded.frame, loaded.issues, record, report)


