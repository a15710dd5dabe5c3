"""The only place with Streamlit caches: thin wrappers around pure ``recon`` calls.

Every wrapper is keyed by hashable values (file hashes, a run key, frozen filters); the heavy objects it
needs are passed as ``_underscore`` arguments, which Streamlit does not hash. Results held by
``st.cache_resource`` are shared between reruns and sessions, so nothing downstream may mutate them
(``recon`` never mutates its inputs; pages only render).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from recon import access, views
from recon.access.storage import StoreAuthStorage
from recon.engine import Mappings, Reconciliation, evidence, reconcile
from recon.errors import ReconError
from recon.exports.safe import redact
from recon.ingest import directory, files, plan, quality, reading
from recon.ingest.directory import canonical_kind
from recon.ingest.guard import UploadLimits
from recon.ingest.normalise import LoadedSource
from recon.ingest.profile import SourceEntry
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES
from recon.settings import Settings
from recon.sources import Sources, ValidationReport, combine
from recon.store import RunComparison, Store, StoredRun

ALL_KINDS = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)
LOG = logging.getLogger("dashboard")
DEFAULT_LIMITS = UploadLimits()


@dataclass(frozen=True)
class InputFile:
    """One source file of a run: on disk (``path``) or uploaded in this session (bytes kept by hash).
    A pulled source is an upload too: its bytes are the file the pull is equivalent to."""

    name: str
    kind: str
    sha256: str
    path: str | None = None  # the data directory of the file (read as that directory's inspection read it)
    entry: SourceEntry | None = None  # how an upload is read (kind, preset, columns); None: canonical
    origin: str = "upload"  # how the bytes came: "upload", or "pulled from <connection>" (the report's read_as)


@dataclass(frozen=True)
class PulledInputs:
    """One pull kept in the session until it is reconciled: the connection, the month and the files it gave."""

    connection: str
    connector: str
    period: str
    files: tuple[InputFile, ...]


@dataclass(frozen=True)
class RunInputs:
    """Everything a run is computed from, except the mappings (hashed separately, see ``run_key``)."""

    files: tuple[InputFile, ...]
    settings: Settings
    periods: tuple[str, ...] = ()
    label: str = ""


def frame_digest(frame: pd.DataFrame | None) -> str:
    """A content hash of a whole frame (Streamlit's own hasher samples large frames: not good enough)."""
    if frame is None or frame.empty:
        return "empty"
    values = pd.util.hash_pandas_object(frame.astype("string"), index=False).to_numpy().tobytes()
    return hashlib.sha256(values + "|".join(map(str, frame.columns)).encode()).hexdigest()[:24]


def run_key(inputs: RunInputs, mappings: Mappings) -> str:
    """The identity of a computed run: same files, settings, periods and mappings, same result."""
    payload = {
        "files": sorted([file.kind, file.name, file.sha256, file.path or "",
                         json.dumps(file.entry.to_dict() if file.entry else None, sort_keys=True)]
                        for file in inputs.files),
        "settings": inputs.settings.to_dict(), "periods": list(inputs.periods),
        "aliases": frame_digest(mappings.client_aliases), "skus": frame_digest(mappings.sku_map),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


ALIAS_COLUMNS, SKU_COLUMNS = ("alias", "client", "source_file", "source_line"), ("vendor_sku", "sku")


def _records(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, object]]:
    present = [column for column in columns if column in frame]
    values = frame[present].astype(object)
    return [{key: (None if pd.isna(value) else value) for key, value in row.items()}
            for row in values.to_dict("records")]


def recipe_of(inputs: RunInputs, mappings: Mappings) -> dict[str, Any]:
    """What the store keeps to rebuild a run in another session (``inputs_of`` reads it back): every file
    with how it is read (an upload's bytes are kept apart, by SHA-256), the settings, the periods, the label
    and the mappings the run used (so the rebuilt run has the same run key)."""
    return {
        "files": [{"name": file.name, "kind": file.kind, "sha256": file.sha256, "path": file.path,
                   "entry": file.entry.to_dict() if file.entry else None, "origin": file.origin}
                  for file in inputs.files],
        "settings": inputs.settings.to_dict(), "periods": list(inputs.periods), "label": inputs.label,
        "aliases": _records(mappings.client_aliases, ALIAS_COLUMNS), "skus": _records(mappings.sku_map, SKU_COLUMNS),
    }


def inputs_of(recipe: dict[str, Any]) -> tuple[RunInputs, Mappings]:
    """The inputs and mappings a ``recipe_of`` recipe describes."""
    files = tuple(InputFile(item["name"], item["kind"], item["sha256"], item.get("path"),
                            SourceEntry(**item["entry"]) if item.get("entry") else None, item.get("origin", "upload"))
                  for item in recipe["files"])
    inputs = RunInputs(files, Settings.from_dict(recipe["settings"]), tuple(recipe.get("periods") or ()),
                       str(recipe.get("label") or ""))
    aliases = pd.DataFrame(recipe.get("aliases") or [], columns=list(ALIAS_COLUMNS))
    aliases = aliases.astype({"alias": "string", "client": "string", "source_file": "string", "source_line": "Int64"})
    skus = pd.DataFrame(recipe.get("skus") or [], columns=list(SKU_COLUMNS)).astype("string")
    return inputs, Mappings(client_aliases=aliases, sku_map=skus)


# ----------------------------------------------------------------------------------------- loading

@st.cache_resource(show_spinner=False)
def quality_suites_warming() -> bool:
    """Once per server, when the first visitor's sign-in form is drawn: Great Expectations starts
    importing in the background (``recon.ingest.quality.import_in_background``), so that the files read after
    signing in do not wait about 3 s for it; nothing when the suites run in a worker process that imports
    it (``dashboard/server.py`` starts one)."""
    if not quality.has_worker():
        quality.import_in_background()
    return True


@st.cache_resource(max_entries=4, show_spinner=False)
def directory_reading(path: str) -> threading.Thread:
    """Once per server and data directory, when a sign-in form is drawn: the directory the visitor will
    see once signed in is read and validated on a thread (``directory_inspection``, its cache shared), while
    they type; at 1M lines that is most of a first session's wait. A failure is left for the session to
    meet and show."""

    def read() -> None:
        try:
            directory_inspection(path, directory_stamp(Path(path)))
        except Exception:  # (the session reading it again says what is wrong)
            LOG.info("reading %s ahead of signing in failed", path, exc_info=True)

    thread = threading.Thread(target=read, name="read-data-directory", daemon=True)
    thread.start()
    return thread


@st.cache_resource(max_entries=4, show_spinner=False)
def directory_inspection(path: str, stamp: tuple[tuple[str, int, int], ...]) -> directory.Inspection:
    """``recon.ingest.directory.inspect_directory``: every file of a data directory read (profile, canonical name or
    detected preset) and validated. ``stamp`` (names, sizes, mtimes) renews it when files change.
    Shared, not copied: with a million invoice lines a copy per call (``st.cache_data`` unpickles one
    for every caller) costs seconds on every new session and every visit to the Sources page."""
    _ = stamp
    return directory.inspect_directory(Path(path))


def directory_files(path: str, stamp: tuple[tuple[str, int, int], ...]) -> tuple[InputFile, ...]:
    """The files a data directory contributes to a run."""
    inspection = directory_inspection(path, stamp)
    return tuple(InputFile(item.record.file, item.record.source, item.record.sha256, path)
                 for item in inspection.loaded)


def directory_stamp(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Cheap change detector for a directory: every file's name, size and modification time."""
    return tuple(sorted((item.name, item.stat().st_size, item.stat().st_mtime_ns)
                        for item in path.iterdir() if item.is_file()))


@st.cache_data(max_entries=128, show_spinner=False)
def loaded_upload(sha256: str, name: str, entry: SourceEntry | None, _data: bytes,
                  limits: UploadLimits = DEFAULT_LIMITS, origin: str = "upload") -> LoadedSource:
    """An uploaded (or pulled) file read as ``entry`` says (``recon.ingest.files.load_source``), or by its canonical
    columns; keyed by content hash, entry, upload limits and origin (the bytes are not hashed again). A
    pulled table's columns nothing read are the API's own (``files.pulled``)."""
    _ = sha256
    if entry is None:
        return files.load_file(_data, name, canonical_kind(name) or "usage", limits=limits)
    loaded = files.load_source(_data, name, entry, read_as=f"{origin}: {files.describe(entry)}", limits=limits)
    return loaded if origin == "upload" else files.pulled(loaded)


@st.cache_data(max_entries=128, show_spinner=False)
def file_header(sha256: str, name: str, _data: bytes, limits: UploadLimits = DEFAULT_LIMITS) -> tuple[str, ...]:
    """The column names of a file (``recon.ingest.reading.read_table``, within the upload limits)."""
    _ = sha256
    return tuple(reading.read_table(_data, name, limits=limits).columns)


def loaded_input(file: InputFile, blobs: dict[str, bytes], limits: UploadLimits = DEFAULT_LIMITS) -> LoadedSource:
    """One input of a run, loaded: a directory's file from its (cached) inspection, an upload from its
    bytes kept in the session (within the upload ``limits``)."""
    if file.path is not None:
        directory = Path(file.path)
        inspection = directory_inspection(str(directory), directory_stamp(directory))
        return next(item for item in inspection.loaded if item.record.file == file.name)
    return loaded_upload(file.sha256, file.name, file.entry, blobs[file.sha256], limits, file.origin)


def input_reports(files: tuple[InputFile, ...], blobs: dict[str, bytes],
                  limits: UploadLimits = DEFAULT_LIMITS) -> tuple[ValidationReport, ...]:
    """The validation report of every input file of a run."""
    return tuple(loaded_input(file, blobs, limits).report for file in files)


@st.cache_resource(max_entries=6, show_spinner=False)
def reconciliation(key: str, _inputs: RunInputs, _blobs: dict[str, bytes], _mappings: Mappings,
                   _store: Store | None = None) -> Reconciliation:
    """``recon.reconcile`` of the inputs, computed once per run key and shared (never mutated). With a
    store, the charges kept from its earlier imports count where they cover the run's months, and the
    agreement adjustments its fixes wrote to a PSA are known to the run (an agreement invoice's total
    carrying them is no mismatch for them: docs/semantics.md)."""
    _ = key
    limits = UploadLimits.from_settings(_inputs.settings)
    loaded = [loaded_input(file, _blobs, limits) for file in _inputs.files]
    sources: Sources = combine(loaded, ALL_KINDS)
    periods = list(_inputs.periods)
    adjustments = _store.agreement_adjustments() if _store else None
    # the stored charges are handed over, not kept here: the engine frees them once they are resolved
    return reconcile(sources, _inputs.settings, periods or None, _mappings,
                     history=_store.history_for(sources, periods) if _store else None,
                     adjustments=adjustments)


# ------------------------------------------------------------------------------------------- views

@st.cache_resource(max_entries=16, show_spinner=False)
def key_labels(key: str, _result: Reconciliation) -> dict[str, pd.Series]:
    """``recon.views.key_labels`` per run, shared by its filter options and every view of it (each made
    them again: 1.7 to 3.8 s of a 1M run's first session)."""
    _ = key
    return views.key_labels(_result)


@st.cache_resource(max_entries=64, show_spinner=False)
def run_view(key: str, filters: views.Filters, resolutions_key: str, _result: Reconciliation,
             _resolutions: pd.DataFrame | None) -> views.RunView:
    """``recon.views.filter_run`` per (run, filters, resolutions state)."""
    _ = resolutions_key
    return views.filter_run(_result, filters, _resolutions, labels=key_labels(key, _result))


@st.cache_data(max_entries=64, show_spinner=False)
def key_evidence(key: str, period: str, client: str, sku: str, _result: Reconciliation) -> dict[str, pd.DataFrame]:
    """``recon.evidence``: the contract, usage and invoice rows behind one key."""
    _ = key
    return evidence(_result, period, client, sku)


@st.cache_data(max_entries=16, show_spinner=False)
def filter_options(key: str, _result: Reconciliation) -> views.FilterOptions:
    """``recon.views.filter_options`` per run."""
    return views.filter_options(_result, key_labels(key, _result))


def input_facts(file: InputFile, blobs: dict[str, bytes], limits: UploadLimits = DEFAULT_LIMITS) -> plan.InputFacts:
    """What the upload plan needs of one input: its kind, vendors, months, clients and rows (read once, cached)."""
    loaded = loaded_input(file, blobs, limits)
    issuer = plan.issuer_of(file.entry.preset if file.entry is not None else None)
    return plan.facts(file.name, file.kind, loaded.frame, issuer, ident=file_ident(file))


def file_ident(file: InputFile) -> str:
    """One input told apart from every other of a run: where it is, its name and its content."""
    return f"{file.path or file.origin}|{file.name}|{file.sha256}"


UPLOAD_MODES = {"replace": "in place of the current files of the same kind and vendor",
                "add": "added to the current data (replacing nothing)",
                "only": "only these files"}


def plan_files(current: tuple[InputFile, ...], new: tuple[InputFile, ...], mode: str, blobs: dict[str, bytes],
               limits: UploadLimits = DEFAULT_LIMITS) -> tuple[plan.InputPlan, tuple[InputFile, ...]]:
    """``recon.ingest.plan.plan_inputs`` for files of the session (mode: a key of ``UPLOAD_MODES``): the plan
    the page shows and the files of the next run (the current ones kept, then the new ones)."""
    before = [input_facts(file, blobs, limits) for file in current]
    after = [input_facts(file, blobs, limits) for file in new]
    alongside = [item.ident for item in after] if mode == "add" else []
    made = plan.plan_inputs(before, after, only_new=mode == "only", added_alongside=alongside)
    kept = {item.ident for item in made.kept}
    return made, (*(file for file in current if file_ident(file) in kept), *new)


def missing_kinds(files: tuple[InputFile, ...]) -> list[str]:
    """Required sources (contracts, usage, invoices) with no file."""
    present = {file.kind for file in files}
    return [kind for kind in REQUIRED_SOURCES if kind not in present]


@st.cache_resource(max_entries=4, show_spinner=False)
def open_store(url: str) -> Store:
    """One ``recon.store.Store`` per database URL, shared by every session (it pools connections)."""
    return Store(url)


# ------------------------------------------------------------------------------------------- saving runs

class Saving:
    """A run being stored (``save``: ``Store.save_run`` and what goes with it) on a thread of its own, so
    that the session which reconciled it shows its findings meanwhile: at 1M lines storing takes as long
    as reading and reconciling together. Its outcome is kept: the run id, or why it failed (the sidebar
    of every session showing the run says so; the run is in the server's cache and can be saved again).
    Not a daemon thread: a server told to stop finishes storing first. It begins once told the page
    showing the run is drawn (``go``), or after ``GRACE_S`` at the latest, so that storing does not share
    the interpreter with drawing the first page."""

    GRACE_S = 30.0

    def __init__(self, save: Callable[[], int]) -> None:
        self.run_id: int | None = None
        self.error: str | None = None
        self._go = threading.Event()
        self._thread = threading.Thread(target=self._save, args=(save,), name="save-run")
        self._thread.start()

    def go(self) -> None:
        """Begin storing now (the page showing the run is drawn)."""
        self._go.set()

    def _save(self, save: Callable[[], int]) -> None:
        self._go.wait(self.GRACE_S)
        try:
            self.run_id = save()
        except ReconError as error:
            self.error = redact(str(error))
        except Exception as error:  # whatever it is, the sessions say so (the details in the server log)
            LOG.exception("storing a run failed")
            self.error = redact(f"{type(error).__name__}: {error}")

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        self._go.set()
        self._thread.join(timeout)


class Savings:
    """The runs of the server being stored (or whose storing failed), by store and run key: a run is
    stored once, whichever sessions show it meanwhile. (The store itself is in the key, not its id: an id
    is reused once its object is gone, and an in-memory store is a session's own.)"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[tuple[Store, str], Saving] = {}
        self._waited: set[Saving] = set()

    def start(self, store: Store, key: str, save: Callable[[], int]) -> Saving:
        """Store a run with ``save`` unless it is being (or was just) stored; a failed save is tried again."""
        with self._lock:
            found = self._by_key.get((store, key))
            if found is None or found.error is not None:
                found = self._by_key[(store, key)] = Saving(save)
            return found

    def of(self, store: Store, key: str) -> Saving | None:
        with self._lock:
            return self._by_key.get((store, key))

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every save begun since the last ``wait`` is over; whether there was any (begun,
        whether still under way or over by now)."""
        with self._lock:
            begun = [saving for saving in self._by_key.values() if saving not in self._waited]
            self._waited.update(begun)
        for saving in begun:
            saving.wait(timeout)
        return bool(begun)


@st.cache_resource(show_spinner=False)
def savings() -> Savings:
    """The server's ``Savings`` (one for every session)."""
    return Savings()


# ------------------------------------------------------------------------------------------- stored runs
# The Runs page's reads, keyed by the store (its id: one shared database, or a session's own in-memory
# store) and its stamp (``Store.stamp``: the newest run and resolution), so they are read again exactly
# when a run is stored or a finding resolved, by this session or any other.

@st.cache_data(max_entries=8, show_spinner=False)
def run_list(store_id: int, stamp: tuple[int, int], _store: Store) -> pd.DataFrame:
    """``Store.list_runs``."""
    _ = store_id, stamp
    return _store.list_runs()


@st.cache_data(max_entries=16, show_spinner=False)
def stored_run(store_id: int, stamp: tuple[int, int], run_id: int, _store: Store) -> StoredRun:
    """``Store.load_run``."""
    _ = store_id, stamp
    return _store.load_run(run_id)


@st.cache_data(max_entries=16, show_spinner=False)
def run_comparison(store_id: int, stamp: tuple[int, int], old_id: int, new_id: int, _store: Store) -> RunComparison:
    """``Store.compare_runs``."""
    _ = store_id, stamp
    return _store.compare_runs(old_id, new_id)


# ------------------------------------------------------------------------------------------- access

@st.cache_resource(max_entries=32, show_spinner=False)
def scoped_reconciliation(key: str, scope: access.Scope, _result: Reconciliation) -> Reconciliation:
    """``recon.access.apply_scope``: the run as a principal of ``scope`` may see it, once per (run, scope).
    Every page reads this, never the whole run, so no page can show a client outside the scope."""
    _ = key
    return access.apply_scope(_result, scope)


@st.cache_resource(max_entries=4, show_spinner=False)
def auth_storage(url: str) -> StoreAuthStorage:
    """Users, login attempts and the access log in the store's database. On a database with no user
    yet, creates ``admin`` and prints its one-time password once, on the server's console."""
    storage = StoreAuthStorage(open_store(url))
    password = access.ensure_first_admin(storage, datetime.now(UTC))
    if password:
        print(access.first_admin_banner(password), flush=True)  # the server's terminal, never the browser
    return storage
