"""The only place with Streamlit caches: thin wrappers around pure ``recon`` calls.

Every wrapper is keyed by hashable values (file hashes, a run key, frozen filters); the heavy objects it
needs are passed as ``_underscore`` arguments, which Streamlit does not hash. Results held by
``st.cache_resource`` are shared between reruns and sessions, so nothing downstream may mutate them
(``recon`` never mutates its inputs; pages only render).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from recon import io as recon_io
from recon import views
from recon.engine import Mappings, Reconciliation, evidence, reconcile
from recon.io import LoadedSource, Sources
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES
from recon.settings import Settings
from recon.store import Store

ALL_KINDS = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)


@dataclass(frozen=True)
class InputFile:
    """One source file of a run: on disk (``path``) or uploaded in this session (bytes kept by hash)."""

    name: str
    kind: str
    sha256: str
    path: str | None = None
    columns: tuple[tuple[str, str], ...] = ()  # canonical field -> column in the file ("" = none)


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
        "files": sorted([file.kind, file.name, file.sha256, list(file.columns)] for file in inputs.files),
        "settings": inputs.settings.to_dict(), "periods": list(inputs.periods),
        "aliases": frame_digest(mappings.client_aliases), "skus": frame_digest(mappings.sku_map),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


# ----------------------------------------------------------------------------------------- loading

@st.cache_data(max_entries=128, show_spinner=False)
def directory_files(path: str, stamp: tuple[tuple[str, int, int], ...]) -> tuple[InputFile, ...]:
    """The canonical source files of a directory with their hashes (``stamp``: names, sizes, mtimes)."""
    _ = stamp
    found = recon_io.source_files(Path(path))
    return tuple(InputFile(file.name, kind, recon_io.sha256_of(file.read_bytes()), str(file))
                 for kind, files in found.items() for file in files)


def directory_stamp(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Cheap change detector for a directory: every file's name, size and modification time."""
    return tuple(sorted((item.name, item.stat().st_size, item.stat().st_mtime_ns)
                        for item in path.iterdir() if item.is_file()))


@st.cache_data(max_entries=128, show_spinner=False)
def loaded_file(sha256: str, name: str, kind: str, _data: bytes,
                columns: tuple[tuple[str, str], ...] = ()) -> LoadedSource:
    """``recon.io.load_file`` keyed by content hash and column mapping (the bytes are not hashed again)."""
    _ = sha256
    return recon_io.load_file(_data, name, kind, mapping=dict(columns) or None)


@st.cache_data(max_entries=128, show_spinner=False)
def file_header(sha256: str, name: str, _data: bytes) -> tuple[str, ...]:
    """The column names of a file (``recon.io.read_table``)."""
    _ = sha256
    return tuple(recon_io.read_table(_data, name).columns)


def file_bytes(file: InputFile, blobs: dict[str, bytes]) -> bytes:
    return Path(file.path).read_bytes() if file.path else blobs[file.sha256]


@st.cache_resource(max_entries=6, show_spinner=False)
def reconciliation(key: str, _inputs: RunInputs, _blobs: dict[str, bytes], _mappings: Mappings) -> Reconciliation:
    """``recon.reconcile`` of the inputs, computed once per run key and shared (never mutated)."""
    _ = key
    loaded = [loaded_file(file.sha256, file.name, file.kind, file_bytes(file, _blobs), file.columns)
              for file in _inputs.files]
    sources: Sources = recon_io.combine(loaded, ALL_KINDS)
    return reconcile(sources, _inputs.settings, list(_inputs.periods) or None, _mappings)


# ------------------------------------------------------------------------------------------- views

@st.cache_resource(max_entries=64, show_spinner=False)
def run_view(key: str, filters: views.Filters, resolutions_key: str, _result: Reconciliation,
             _resolutions: pd.DataFrame | None) -> views.RunView:
    """``recon.views.filter_run`` per (run, filters, resolutions state)."""
    _ = key, resolutions_key
    return views.filter_run(_result, filters, _resolutions)


@st.cache_data(max_entries=64, show_spinner=False)
def key_evidence(key: str, period: str, client: str, sku: str, _result: Reconciliation) -> dict[str, pd.DataFrame]:
    """``recon.evidence``: the contract, usage and invoice rows behind one key."""
    _ = key
    return evidence(_result, period, client, sku)


@st.cache_data(max_entries=16, show_spinner=False)
def filter_options(key: str, _result: Reconciliation) -> views.FilterOptions:
    """``recon.views.filter_options`` per run."""
    _ = key
    return views.filter_options(_result)


def merge_files(current: tuple[InputFile, ...], uploaded: tuple[InputFile, ...],
                replace_kinds: bool) -> tuple[InputFile, ...]:
    """The files of the next run: the uploads, plus (when ``replace_kinds``) the current files of every
    kind nothing was uploaded for."""
    if not replace_kinds:
        return uploaded
    new_kinds = {file.kind for file in uploaded}
    return (*(file for file in current if file.kind not in new_kinds), *uploaded)


def missing_kinds(files: tuple[InputFile, ...]) -> list[str]:
    """Required sources (contracts, usage, invoices) with no file."""
    present = {file.kind for file in files}
    return [kind for kind in REQUIRED_SOURCES if kind not in present]


@st.cache_resource(max_entries=4, show_spinner=False)
def open_store(url: str) -> Store:
    """One ``recon.store.Store`` per database URL, shared by every session (it pools connections)."""
    return Store(url)
