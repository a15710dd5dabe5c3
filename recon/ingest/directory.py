"""A data directory: every file read and validated (``inspect_directory``), or loaded into the
``Sources`` of a run (``load_directory``).

A file matched by a ``profile.toml`` entry is read as the entry says (``recon.ingest.profile``), a
canonically named file (``contracts.csv``, ``usage*.csv``) by its canonical columns, and any other table
file whose header a preset recognises (``recon.ingest.presets``) with that preset.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recon.errors import JailError, MissingSourceError, ProfileError, SourceError
from recon.ingest import quality
from recon.ingest.files import describe, load_entry, load_source, read_options, recorded, with_hash
from recon.ingest.guard import TABLE_SUFFIXES, FileBytes, UploadLimits
from recon.ingest.jail import LINK_OUT, Jail, glob_matches
from recon.ingest.normalise import (
    LoadedSource,
    ParsedFile,
    column_list,
    match_columns,
    missing_required,
    normalise,
    parse_cells,
    with_verdict,
)
from recon.ingest.presets import PRESETS, detect_preset
from recon.ingest.profile import PROFILE_FILE, SourceEntry, read_profile
from recon.ingest.reading import EMPTY_FILE, ReadOptions, TextTable, read_text_table, sha256_of
from recon.schema import (
    OPTIONAL_SOURCES,
    REQUIRED_SOURCES,
    SOURCES,
)
from recon.sources import (
    ImportRecord,
    Lines,
    Sources,
    ValidationReport,
    combine,
    empty_issues,
    empty_source,
    refused_report,
)

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
    ``invoices.xlsx`` ... matched on the stem, CSV/TSV/TXT or XLSX (links out of it left out)."""
    found: dict[str, list[Path]] = {kind: [] for kind in SOURCES}
    jail = Jail.of(data_dir)
    for name, path in jail.files(TABLE_SUFFIXES):
        kind = canonical_kind(name)
        if kind is not None and jail.holds(path):
            found[kind].append(path)
    return found


def canonical_kind(file_name: str) -> str | None:
    """The source kind a canonical file name stands for (``usage_pax8.csv`` -> usage), else None."""
    stem = Path(file_name).stem.casefold()
    kind = "usage" if stem.startswith("usage") else stem
    return kind if kind in SOURCES and Path(file_name).suffix.lower() in TABLE_SUFFIXES else None


def _files(jail: Jail, entries: tuple[SourceEntry, ...]) -> tuple[list[tuple[str, Path]], list[str]]:
    """(name, path) of the table files of the jail, and the files in its folders that a profile entry
    naming a folder (``path = "pax8/*.csv"``) matches; and a note for each link to a folder out of the
    jail (never entered)."""
    top = jail.files(TABLE_SUFFIXES)
    nested = [entry.path for entry in entries if "/" in entry.path]
    if not nested:
        return top, []
    walked, links_out = jail.walk()
    deeper = [(name, path) for name, path in walked
              if "/" in name and any(glob_matches(pattern, name) for pattern in nested)]
    return top + deeper, [f"{name}/: {LINK_OUT}" for name in links_out]


LOADING_THREADS = 2  # files parsed at a time
MOST_FILES_WAITING = 16  # files loading at a time, those waiting for the GX worker's verdict included
WAITING_BYTES = 32 << 20  # the most file bytes waiting for the worker's verdict while others are parsed


def inspect_directory(data_dir: Path, options: ReadOptions = ReadOptions(),
                      limits: UploadLimits | None = None) -> Inspection:
    """Read and validate every file of ``data_dir`` without stopping at a bad one.

    A file matched by a ``profile.toml`` entry is read as the entry says (first match wins); a
    canonically named file by its canonical columns (or a preset its header matches, if those are
    missing); any other table file by the preset its header matches, else it is ignored. The directory
    is a jail (``recon.ingest.jail``): a link out of it is refused, never read. ``limits`` bound what a
    file may be (default: the settings' defaults). Raises ``MissingSourceError`` for a missing directory
    and ``ProfileError`` for a malformed profile.
    """
    jail = Jail.of(data_dir)
    entries = _profile(jail)
    files, links_out = _files(jail, entries)
    loaded: list[LoadedSource] = []
    refused: list[ValidationReport] = []
    ignored: list[str] = list(links_out)
    names = [name for name, _ in files]
    claims = [next((item for item in entries if item.matches(name)), None) for name in names]
    used = {id(entry) for entry in claims if entry is not None}
    # Two files at a time: Arrow's reader, numpy's byte passes and hashing release the GIL, so one file
    # is parsed while the other is in the (serialised) quality suite. Largest first, so that no big file
    # is left to load alone at the end. A small file waiting for its suite in the GX worker process
    # (``quality.start_worker``) gives its place to the next file meanwhile (``_Places``); small files
    # come early, for the worker to judge while the big ones are parsed (``loading_order``).
    sizes = [jail.size(path) for _, path in files]
    order = loading_order(sizes)
    suites = _SharedSuites(names, claims)
    limits = limits or UploadLimits()
    places = _Places()

    def load(number: int) -> _Loaded | _Awaiting:
        with places.taken(sizes[number]) as place, quality.giving_way(place):
            return _load_path(jail, files[number][1], names[number], claims[number], options, limits, suites)

    with ThreadPoolExecutor(max(LOADING_THREADS, min(len(files), MOST_FILES_WAITING))) as pool:
        started = {number: pool.submit(load, number) for number in order}
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


def loading_order(sizes: list[int]) -> list[int]:
    """The order files are loaded in (their numbers, from their sizes in bytes): the largest first, so that
    no big file is left to load alone at the end; then the small ones, smallest first, as many as may wait
    for their verdicts together without keeping a place (``WAITING_BYTES``), so that the GX worker judges
    them while the big files are parsed, not one after another once all are (at 1M invoice lines: the
    contracts, payments and catalog suites, 0.6 to 1 s of the worker's, came last and ended the loading);
    then the others, largest first."""
    largest_first = sorted(range(len(sizes)), key=lambda number: -sizes[number])
    small: list[int] = []
    waiting = 0
    for number in sorted(largest_first[1:], key=lambda number: sizes[number]):
        if waiting + sizes[number] > WAITING_BYTES:
            break
        small.append(number)
        waiting += sizes[number]
    chosen = set(small)
    return largest_first[:1] + small + [number for number in largest_first[1:] if number not in chosen]


def _profile(jail: Jail) -> tuple[SourceEntry, ...]:
    """The entries of the jail's ``profile.toml``; one that is a link out of the jail is refused."""
    path = jail.root / PROFILE_FILE
    if (path.is_symlink() or path.exists()) and not jail.holds(path):
        raise ProfileError(f"{PROFILE_FILE} is a link to a place outside the data directory; links out of it "
                           "are not followed")
    return read_profile(jail.root)


class _Places:
    """``LOADING_THREADS`` files parsed at a time. A file waiting for its verdict from the GX worker process
    (which imports GX at the start of a run, seconds) gives its place to the next file meanwhile, as long as
    the files waiting that way are at most ``WAITING_BYTES`` together: their cells stay in memory while they
    wait (at 1M invoice lines, parsing every file while the first waited raised the peak by 0.5 GB)."""

    def __init__(self) -> None:
        self._parsing = threading.Semaphore(LOADING_THREADS)
        self._lock = threading.Lock()
        self._waiting = 0

    @contextmanager
    def taken(self, size: int) -> Iterator[_Place]:
        with self._parsing:
            yield _Place(self, size)

    def give_way(self, size: int) -> bool:
        with self._lock:
            if self._waiting + size > WAITING_BYTES:
                return False
            self._waiting += size
        self._parsing.release()
        return True

    def take_back(self, size: int) -> None:
        self._parsing.acquire()
        with self._lock:
            self._waiting -= size


@dataclass(frozen=True)
class _Place:
    """A loading thread's place, for ``quality.giving_way``."""

    places: _Places
    size: int

    def give_way(self) -> bool:
        return self.places.give_way(self.size)

    def take_back(self) -> None:
        self.places.take_back(self.size)


_Loaded = LoadedSource | ValidationReport | str  # a file of a directory: rows, a refusal, or why it was ignored


@dataclass(frozen=True)
class _Awaiting:
    """A parsed file waiting for the run of its suite it shares with other files (``_SharedSuites``)."""

    parsed: ParsedFile
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
            finished[name] = recorded(with_verdict(item.parsed, validation), item.sha256, item.read_as)
    return finished


def _load_path(jail: Jail, path: Path, name: str, entry: SourceEntry | None, options: ReadOptions,
               limits: UploadLimits, suites: _SharedSuites) -> _Loaded | _Awaiting:
    """Load one file of a directory: its rows, the report of its refusal, or (a string) why a file
    nobody claims was not read; a file that shares its suite's run may come back still waiting. A link
    out of the jail, or anything but a regular file, is refused unread."""
    try:
        data = jail.read(path)
    except JailError as error:
        kind = entry.kind if entry else canonical_kind(name)
        return suites.arrive(name, refused_report(kind or "unknown", name, [str(error)],
                                                  describe(entry) if entry else "canonical columns"))
    return suites.arrive(name, read_file(data, name, entry, options, suites.shares(name), limits))


def read_file(data: FileBytes, name: str, entry: SourceEntry | None, options: ReadOptions = ReadOptions(),
              shares_suite: bool = False, limits: UploadLimits | None = None) -> _Loaded | _Awaiting:
    """One file of a data directory, from its bytes: its rows (``LoadedSource``), the report of its
    refusal, or (a string) why a file nobody claims was not read. ``name`` is its path relative to the
    directory; ``entry`` the ``profile.toml`` entry claiming it; ``limits`` what a file may be (default:
    the settings' defaults). A 0-byte file of an optional source reads as no rows. (The Spark engine
    reads each file with this, in a task of its own; ``shares_suite``: see ``_SharedSuites``.)"""
    kind = entry.kind if entry else canonical_kind(name)
    how = describe(entry) if entry else "canonical columns"
    limits = limits or UploadLimits()
    try:
        if not len(data) and kind in OPTIONAL_SOURCES:
            return _empty_optional(kind, name, how)
        if entry is not None:
            return load_source(data, name, entry, options, limits=limits)
        raw = read_text_table(data, name, options, limits) if kind else _header_or_none(data, name, options, limits)
        if raw is None:
            return "not a table this tool can read"
        columns = raw.frame.columns
        if kind and not missing_required(kind, match_columns(columns, kind)):
            if shares_suite:
                return _Awaiting(parse_cells(raw, kind, name, options, None, None, limits), sha256_of(data), how)
            return with_hash(normalise(raw, kind, name, options, limits=limits), data, how)
        detection = detect_preset(columns)
        preset = PRESETS.get(detection.preset or "")
        if preset is None or kind not in (None, preset.kind):
            return _undetected(name, kind, raw.frame, detection.reason)
        kind, how = preset.kind, f"preset detected from the header: {detection.reason}"
        guessed = SourceEntry(path=name, kind=preset.kind, preset=preset.name)
        return load_entry(raw, data, name, guessed, read_options(guessed, options), how, limits)
    except SourceError as error:
        return refused_report(kind or "unknown", name, error.problems, how)


def _header_or_none(data: FileBytes, name: str, options: ReadOptions, limits: UploadLimits) -> TextTable | None:
    try:
        return read_text_table(data, name, options, limits)
    except SourceError:
        return None


def _empty_optional(kind: str, name: str, how: str) -> LoadedSource:
    """A 0-byte file of an optional source: no rows, and the report says so (it refuses nothing)."""
    record = ImportRecord(kind, name, sha256_of(b""), 0, 0, 0, line_counts=Lines(0))
    report = ValidationReport(kind, name, read_as=how, line_counts=Lines(0),
                              warnings=(f"{EMPTY_FILE}: read as no {kind} rows",))
    return LoadedSource(empty_source(kind), empty_issues(), record, report)


def _undetected(name: str, kind: str | None, raw: pd.DataFrame, detection: str) -> str:
    """Why a file nobody claims is ignored; for a canonically named file, a refusal naming its columns."""
    if kind is None:
        return f"no profile entry, not a canonical name, and {detection}"
    missing = missing_required(kind, match_columns(raw.columns, kind))
    raise SourceError(name, [f"missing required column(s) for {kind}: {', '.join(missing)}"
                             f" (found: {column_list(raw.columns)}); {detection}"])


def load_directory(data_dir: Path, options: ReadOptions = ReadOptions(), limits: UploadLimits | None = None) -> Sources:
    """Load every source file of ``data_dir`` (see ``inspect_directory`` for which files and how).

    Raises ``MissingSourceError`` when contracts, usage or invoices is absent, ``SourceError`` for an
    unreadable file or missing required columns (every problem of every file at once), and
    ``ProfileError`` for a malformed ``profile.toml``.
    """
    inspection = inspect_directory(data_dir, options, limits)
    require_sources(str(data_dir), inspection.reports, inspection.refused)
    return combine(inspection.loaded, (*REQUIRED_SOURCES, *OPTIONAL_SOURCES))


def require_sources(where: str, reports: Iterable[ValidationReport], refused: Iterable[ValidationReport]) -> None:
    """Raise ``MissingSourceError`` when no file of ``reports`` (every file read, loaded or refused)
    provides contracts, usage or invoices, and ``SourceError`` naming every ``refused`` file's problems."""
    kinds = {report.source for report in reports} | {report.source for report in refused}
    absent = [kind for kind in REQUIRED_SOURCES if kind not in kinds]
    if absent:
        names = [f"{kind}.csv" if kind != "usage" else "usage*.csv" for kind in absent]
        raise MissingSourceError(f"{where}: missing required source file(s): {', '.join(names)}")
    refused = list(refused)
    if refused:
        raise SourceError(where, [f"{report.file}: " + "; ".join(report.problems) for report in refused])
