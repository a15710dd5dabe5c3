"""The session's workspace: which files the active run is computed from, with which settings and
mappings, and the page context every page reads (run, filters, filtered view).

State lives in ``st.session_state`` under ``workspace.*`` keys (set with ``setdefault``); nothing is
module-level mutable state. Computation goes through the cached wrappers of ``dashboard.data``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, login
from recon import access
from recon.company import Company
from recon.connectors import PulledFile
from recon.engine import Mappings, Reconciliation
from recon.errors import MissingSourceError, ReconError
from recon.exports.safe import redact
from recon.fixes import Fix, FixOutcome
from recon.ingest.guard import UploadLimits
from recon.ingest.profile import SourceEntry, parse_profile
from recon.ingest.reading import sha256_of
from recon.settings import Settings
from recon.store import RunComparison, Store, StoredRun, database_url
from recon.store.fixes import STATE_COLUMNS, FixLedger
from recon.views import Filters, RunView

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR_ENV = "RECON_SAMPLE_DIR"
MEMORY_URL = "sqlite://"  # SQLite in memory: a session's own store when the database cannot be opened


def default_data_dir() -> Path:
    """The data the app opens with: ``$RECON_SAMPLE_DIR``, else the sample MSP in ``sample_data/``,
    else the small test MSP shipped with the tests."""
    configured = os.environ.get(SAMPLE_DIR_ENV)
    if configured:
        return Path(configured)
    sample = ROOT / "sample_data"
    if (sample / "contracts.csv").is_file():
        return sample
    return ROOT / "tests" / "fixtures" / "mini_msp"


@dataclass(frozen=True)
class ActiveRun:
    """The run the pages show: its inputs, the mappings it used, its key and (once saved) its id."""

    inputs: data.RunInputs
    mappings: Mappings
    key: str
    run_id: int | None = None


@dataclass(frozen=True)
class PageContext:
    """What the entrypoint hands every page: the run (as the signed-in principal may see it), the
    filters and the run seen through them. ``key`` identifies that scoped run for the caches."""

    active: ActiveRun
    result: Reconciliation
    filters: Filters
    view: RunView
    resolutions: pd.DataFrame | None
    resolutions_key: str
    key: str = ""

    @property
    def currency(self) -> str:
        return self.result.settings.currency


# ------------------------------------------------------------------------------------------- store

def store() -> Store:
    """The database of runs, mappings, settings and resolutions (``RECON_DATABASE_URL``, else
    ``recon.db`` in the working directory), shared by every session. When it cannot be opened, this
    session's own in-memory store (SQLite ``:memory:``): every page works the same, nothing outlives the
    session, and the sidebar says so. One interface either way: no page or function here asks which."""
    try:
        database = data.open_store(database_url())
    except ReconError as error:
        st.session_state["workspace.store_error"] = redact(str(error))
        memory = st.session_state.get("workspace.memory_store")
        if memory is None:
            memory = st.session_state["workspace.memory_store"] = Store(MEMORY_URL)
        return memory
    st.session_state.pop("workspace.store_error", None)
    return database


def auth_storage() -> access.AuthStorage:
    """Users, login attempts and the access log (in the database; raises ``StoreError`` when it cannot
    be opened: without it nobody can sign in)."""
    return data.auth_storage(database_url())


def principal() -> access.Principal:
    """The signed-in principal (the entrypoint renders no page without one)."""
    signed_in = login.current_principal()
    if signed_in is None:
        raise access.AccessDeniedError("not signed in")
    return signed_in


def can(action: str) -> bool:
    signed_in = login.current_principal()
    return signed_in is not None and access.can(signed_in, action)


def require(action: str) -> access.Principal:
    """The principal, when it may perform ``action``; raises ``AccessDeniedError`` otherwise."""
    return access.require(login.current_principal(), action)


def record(action: str, target: str = "", detail: str = "") -> None:
    """One line of the access log for the signed-in principal (an export, a resolution, ...)."""
    access.record(auth_storage(), principal(), action, login.now(), target, detail, login.client_source())


def user_name() -> str:
    """Who is working, for the audit trail: the signed-in user."""
    signed_in = login.current_principal()
    return signed_in.user if signed_in is not None else "dashboard"


# ------------------------------------------------------------------------------------ session state

def upload_limits() -> UploadLimits:
    """How large an upload may be (size and rows from the settings)."""
    return UploadLimits.from_settings(current_settings())


def blobs() -> dict[str, bytes]:
    """Bytes of the files uploaded in this session, by SHA-256."""
    return st.session_state.setdefault("workspace.blobs", {})


def keep_pull(connection: str, connector: str, period: str, pulled: tuple[PulledFile, ...]) -> data.PulledInputs:
    """A pull's files as this session's uploads: each one's bytes kept by SHA-256 and read as the
    connector says (its preset and columns), so validation, quarantine, the import's hash and storing
    are the upload's own code."""
    files = []
    for item in pulled:
        digest = sha256_of(item.content)
        blobs()[digest] = item.content
        files.append(data.InputFile(item.name, item.kind, digest, entry=item.entry(),
                                    origin=f"pulled from {connection}"))
    return data.PulledInputs(connection, connector, period, tuple(files))


def current_settings() -> Settings:
    """The settings the next run uses: the latest saved, else the defaults."""
    return store().load_settings()


def save_settings(settings: Settings) -> None:
    require(access.CHANGE_SETTINGS)
    record("change_settings", detail=", ".join(f"{k}={v}" for k, v in settings.to_dict().items())[:500])
    store().save_settings(settings, by=user_name())


def current_company() -> Company:
    """The MSP's letterhead for client statements (name, address, logo), saved on Settings."""
    return store().company()


def save_company(company: Company) -> None:
    require(access.CHANGE_SETTINGS)
    record("change_letterhead", detail=f"name={company.name}; logo={'yes' if company.logo else 'no'}"[:500])
    store().save_company(company, by=user_name())


def current_mappings() -> Mappings:
    """The mappings people confirmed (used by the next run)."""
    return store().mappings()


def current_resolutions() -> pd.DataFrame:
    """The latest resolution of every resolved finding (``fingerprint``, ``status``, ``note``, ...)."""
    return store().resolutions()


def directory_inputs(path: Path, settings: Settings) -> data.RunInputs:
    if not path.is_dir():
        raise MissingSourceError(f"data directory not found: {path}")
    files = data.directory_files(str(path), data.directory_stamp(path))
    missing = data.missing_kinds(files)
    if missing:
        raise MissingSourceError(f"{path}: no usable file for {', '.join(missing)} (see the Sources page)")
    return data.RunInputs(files, settings, label=path.name)


def activate(inputs: data.RunInputs, mappings: Mappings | None = None, in_background: bool = False) -> ActiveRun:
    """Make ``inputs`` (with the confirmed mappings) the run every page shows, computed and stored; the
    same inputs, settings and mappings re-open their stored run (found by its run key, a column). Run by
    someone who may run the billing close, it becomes the current data every new session opens
    (``make_current``). ``in_background``: the run is stored on a thread (``data.Saving``, beginning once the
    page is drawn: ``page_drawn``) while the pages show it, without a run id until it is stored
    (``active_run`` learns it; the sidebar says how it goes)."""
    mappings = mappings if mappings is not None else current_mappings()
    key = data.run_key(inputs, mappings)
    active = ActiveRun(inputs, mappings, key)
    database = store()
    stored = database.find_run(key)
    if stored is not None:
        active = replace(active, run_id=stored)
    elif can(access.RUN):  # only who may run the billing close stores runs (they cover every client)
        save = _storing(active, database)
        if in_background:
            data.savings().start(database, key, save)
        else:
            active = replace(active, run_id=save())
    if active.run_id is not None and can(access.RUN):
        make_current(active)
    st.session_state["workspace.active"] = active
    return active


def _storing(active: ActiveRun, database: Store) -> Callable[[], int]:
    """Storing ``active``'s run, as a call that needs no session (a thread may make it): the run saved,
    the access log's line for it, and the run made the current data. Returns the run id."""
    result, by, label = whole_result(active), user_name(), active.inputs.label or "uploaded files"
    who, storage, source = principal(), auth_storage(), login.client_source()
    files = describe_files(active.inputs.files)
    recipe, uploaded = data.recipe_of(active.inputs, active.mappings), _uploaded(active)

    def save() -> int:
        run_id = database.save_run(result, by=by, label=label, key=active.key)
        access.record(storage, who, "reconcile", login.now(), f"run #{run_id}", files, source)
        _make_current(database, run_id, recipe, uploaded, by)
        return run_id

    return save


def page_drawn() -> None:
    """The script run is over: a run waiting to be stored (``activate``) may begin now."""
    active = st.session_state.get("workspace.active")
    if active is not None and active.run_id is None:
        pending = data.savings().of(store(), active.key)
        if pending is not None:
            pending.go()


def saving() -> data.Saving | None:
    """The storing of the active run while it is under way, or after it failed; None once the run is
    stored (or when it is not this session's to store)."""
    active = active_run()
    return data.savings().of(store(), active.key) if active.run_id is None else None


def save_again() -> None:
    """Store the active run again after its storing failed."""
    require(access.RUN)
    active, database = active_run(), store()
    data.savings().start(database, active.key, _storing(active, database))


def describe_files(files: tuple[data.InputFile, ...]) -> str:
    """The files of a run for the access log: names and the start of each SHA-256."""
    return ", ".join(f"{file.name} ({file.sha256[:12]})" for file in files)[:500]


def make_current(active: ActiveRun) -> None:
    """Make the stored ``active`` run the current data of everyone's new sessions (its uploaded bytes kept
    in the store so that any session can rebuild it); nothing when it already is."""
    _make_current(store(), int(active.run_id or 0), data.recipe_of(active.inputs, active.mappings),
                  _uploaded(active), user_name())


def _uploaded(active: ActiveRun) -> dict[str, bytes]:
    """The bytes of the run's uploaded files (by SHA-256) this session holds."""
    return {file.sha256: blobs()[file.sha256] for file in active.inputs.files
            if file.path is None and file.sha256 in blobs()}


def _make_current(database: Store, run_id: int, recipe: dict[str, Any], uploaded: dict[str, bytes], by: str) -> None:
    current = database.current()
    if current is not None and current["run_id"] == run_id:
        return
    database.save_contents(uploaded)
    database.make_current(run_id, recipe, by=by)


def current_data() -> dict[str, Any] | None:
    """The current data of the store (``run_id``, ``recipe``, ``by``, ``at``), or None."""
    return store().current()


def open_current() -> ActiveRun | None:
    """The store's current data as this session's active run (its uploaded bytes read back from the
    store); None when there is none, or it cannot be rebuilt (a file gone from its directory)."""
    current = current_data()
    if current is None:
        return None
    inputs, mappings = data.inputs_of(current["recipe"])
    needed = [file.sha256 for file in inputs.files if file.path is None and file.sha256 not in blobs()]
    blobs().update(store().contents(needed))
    if not all(file.sha256 in blobs() if file.path is None else _unchanged(file) for file in inputs.files):
        return None
    active = ActiveRun(inputs, mappings, data.run_key(inputs, mappings), int(current["run_id"]))
    st.session_state["workspace.active"] = active
    return active


def _unchanged(file: data.InputFile) -> bool:
    """Whether a data directory's file still holds the bytes a run read."""
    folder = Path(str(file.path))
    if not folder.is_dir():
        return False
    return any(found.name == file.name and found.sha256 == file.sha256
               for found in data.directory_files(str(folder), data.directory_stamp(folder)))


def active_run() -> ActiveRun:
    """The active run; on a session's first page view the store's current data (shared by everyone), and
    only when there is none yet, the default data directory's (reconciled, and stored on a thread while the
    pages show it: ``activate``)."""
    active = st.session_state.get("workspace.active")
    if active is None:
        active = open_current() or activate(directory_inputs(default_data_dir(), current_settings()),
                                            in_background=True)
    elif active.run_id is None:  # stored since, on the thread that stored it?
        stored = data.savings().of(store(), active.key)
        if stored is not None and stored.run_id is not None:
            active = st.session_state["workspace.active"] = replace(active, run_id=stored.run_id)
    return active


def read_ahead() -> None:
    """While a visitor signs in: the data directories their first page view reads (the current data's,
    else the default one) are read on a thread (``data.directory_reading``)."""
    try:
        current = current_data()
    except ReconError:  # no database: the sign-in page says so
        return
    folders = {file.path for file in data.inputs_of(current["recipe"])[0].files if file.path} if current \
        else {str(default_data_dir())}
    for folder in sorted(folders):
        if Path(folder).is_dir():
            data.directory_reading(folder)


def active_files() -> tuple[data.InputFile, ...]:
    """The files of the run on screen (none when no run could be made yet)."""
    active = st.session_state.get("workspace.active")
    return active.inputs.files if active is not None else ()


def is_stale(active: ActiveRun) -> bool:
    """Whether settings or mappings changed since the active run was computed."""
    inputs = replace(active.inputs, settings=current_settings())
    return data.run_key(inputs, current_mappings()) != active.key


def rerun_with_current_choices() -> ActiveRun:
    """The active run's files again, with the current settings and mappings, its progress on screen (a
    re-run of a large book takes seconds)."""
    active = active_run()
    with st.status("Re-running with the current settings and mappings …", expanded=True) as status:
        progress = st.progress(0.1, text="Reading the settings and mappings")
        inputs, mappings = replace(active.inputs, settings=current_settings()), current_mappings()
        progress.progress(0.3, text=f"Reconciling {len(inputs.files)} file(s)")
        rerun = activate(inputs, mappings)
        progress.progress(1.0, text="Done")
        status.update(label=f"Re-run done: run #{rerun.run_id}", state="complete", expanded=False)
    return rerun


def whole_result(active: ActiveRun) -> Reconciliation:
    """The run over every client (to store it); pages read ``result_of``."""
    return data.reconciliation(active.key, active.inputs, blobs(), active.mappings, store())


def scope() -> access.Scope:
    return access.scope_for(principal())


def view_key(active: ActiveRun) -> str:
    """The cache identity of the run as this principal sees it: the run key plus the scope."""
    current = scope()
    if current.all_clients:
        return active.key
    tag = "|".join([*sorted(current.managers), "#", *sorted(current.clients)])
    return f"{active.key}:{hashlib.sha256(tag.encode()).hexdigest()[:16]}"


def result_of(active: ActiveRun) -> Reconciliation:
    """The active run cut to the signed-in principal's clients (``recon.access.apply_scope``): frames,
    figures, evidence and everything downloaded from them."""
    return data.scoped_reconciliation(view_key(active), scope(), whole_result(active))


def build_context(filters: Filters) -> PageContext:
    """The page context for ``filters`` on the active run (computed once, cached)."""
    active = active_run()
    result = result_of(active)
    key = view_key(active)
    resolutions = current_resolutions()
    resolutions_key = data.frame_digest(resolutions)
    view = data.run_view(key, filters, resolutions_key, result, resolutions)
    context = PageContext(active, result, filters, view, resolutions, resolutions_key, key)
    st.session_state["app.context"] = context
    return context


def context() -> PageContext | None:
    """The context the entrypoint built for this script run (``None`` when there is no run)."""
    return st.session_state.get("app.context")


# ------------------------------------------------------------------------------------------ mappings

def rejected_suggestions() -> pd.DataFrame:
    """Suggestions people rejected (``name``, ``client``): not offered again."""
    return store().rejected_suggestions()


def confirm_alias(alias: str, client: str) -> None:
    require(access.MAP)
    record("confirm_alias", target=alias[:200], detail=f"is {client}"[:500])
    store().save_client_alias(alias, client, by=user_name())


def confirm_sku(vendor_sku: str, sku: str) -> None:
    require(access.MAP)
    record("confirm_sku", target=vendor_sku[:200], detail=f"is {sku}"[:500])
    store().save_sku_mapping(vendor_sku, sku, by=user_name())


def reject_suggestion(name: str, client: str) -> None:
    require(access.MAP)
    record("reject_alias", target=name[:200], detail=f"is not {client}"[:500])
    store().reject_suggestion(name, client, by=user_name())


# ------------------------------------------------------------------------------------ resolutions

def resolve(fingerprints: list[str], status: str, note: str) -> None:
    """Record a resolution for each finding (appended to its history in the database). Only for a
    principal who may resolve, and only findings of the run as they see it (their clients)."""
    require(access.RESOLVE)
    current = context()
    visible = set(current.result.discrepancies["fingerprint"]) if current is not None else set()
    outside = sorted(set(fingerprints) - visible)
    if outside:
        raise access.AccessDeniedError(f"{len(outside)} of these findings are not yours to resolve")
    record("resolve", target=", ".join(fingerprints[:20]) + (" ..." if len(fingerprints) > 20 else ""),
           detail=f"{status}: {note}"[:500])
    store().resolve(fingerprints, status, note, by=user_name())


def resolution_history(fingerprint: str) -> pd.DataFrame:
    """Every resolution of one finding, oldest first."""
    return store().history(fingerprint)


# ------------------------------------------------------------------------------------------- fixes
#
# The PSA fixes of the active run (issue 21). Everyone who sees the run reads its fixes (their clients'
# only); account managers propose (edit a quantity, date or amount) for their clients; finance and admin
# approve, reject and apply. Every step is in the fix's append-only history and in the access log.

def run_fixes() -> pd.DataFrame:
    """The fixes of the active (stored) run whose findings the principal sees through the filters
    (``recon.store.fixes.STATE_COLUMNS``); none before the run is stored."""
    current = context()
    active = current.active if current is not None else st.session_state.get("workspace.active")
    if active is None or active.run_id is None or current is None:
        return pd.DataFrame(columns=list(STATE_COLUMNS))
    fixes = FixLedger(store()).fixes(active.run_id)
    shown = set(current.view.discrepancies["fingerprint"].astype(str))
    return fixes[fixes["fingerprint"].isin(shown)].reset_index(drop=True)


def fix_history(fix_key: str) -> pd.DataFrame:
    """Every event of one fix, oldest first: who proposed, approved, applied it, with request and answer."""
    events = FixLedger(store()).events([fix_key])
    return events[["at", "event", "by", "quantity", "effective_date", "amount", "connection", "psa_id", "note",
                   "request", "response"]]


def _own_fixes(action: str, keys: list[str]) -> int:
    """The stored run id, when the principal may ``action`` and every fix of ``keys`` is one they see."""
    require(action)
    current = context()
    active = current.active if current is not None else None
    if active is None or active.run_id is None:
        raise access.AccessDeniedError("this run is not stored: its fixes cannot be changed")
    visible = set(FixLedger(store()).fixes(active.run_id).query(
        "fingerprint in @seen", local_dict={"seen": list(current.result.discrepancies["fingerprint"])})["fix_key"])
    outside = sorted(set(keys) - visible)
    if outside:
        raise access.AccessDeniedError(f"{len(outside)} of these fixes are not yours to change")
    return int(active.run_id)


def propose_fix(key: str, *, quantity: float | None = None, effective_date: date | None = None,
                amount: int | None = None, note: str = "") -> None:
    """A person's edit of one fix (a new quantity or amount, another date): proposed again, to approve."""
    run_id = _own_fixes(access.PROPOSE_FIX, [key])
    record("propose_fix", target=key, detail=f"quantity {quantity}, date {effective_date}, amount {amount}")
    FixLedger(store()).propose(run_id, key, user_name(), quantity=quantity, effective_date=effective_date,
                               amount=amount, note=note)


def approve_fixes(keys: list[str], effective_date: date | None = None, note: str = "") -> int:
    """Approve fixes, with one effective date for all of them when given."""
    run_id = _own_fixes(access.APPROVE_FIX, keys)
    record("approve_fix", target=", ".join(keys[:20]), detail=f"effective {effective_date or 'as proposed'}")
    return FixLedger(store()).approve(run_id, keys, user_name(), effective_date=effective_date, note=note)


def reject_fixes(keys: list[str], note: str = "") -> int:
    run_id = _own_fixes(access.APPROVE_FIX, keys)
    record("reject_fix", target=", ".join(keys[:20]), detail=note[:500])
    return FixLedger(store()).reject(run_id, keys, user_name(), note=note)


def apply_fixes(keys: list[str], send: bool) -> tuple[list[FixOutcome], list[Fix]]:
    """Write approved fixes to the PSA connection each came from (a dry run unless ``send``: the exact
    requests, stored); returns the outcomes and the fixes no connection takes (to export)."""
    from recon.connectors import load_connections, writeback

    run_id = _own_fixes(access.APPLY_FIX, keys)
    ledger = FixLedger(store())
    chosen = ledger.approved(run_id, keys)
    record("apply_fix" if send else "dry_run_fix", target=", ".join(keys[:20]), detail=f"{len(chosen)} approved")
    connections = load_connections()
    routed, unrouted = writeback.route(chosen, connections)
    outcomes: list[FixOutcome] = []
    by = user_name()
    for name, some in routed.items():
        outcomes += writeback.apply(some, connections[name], send=send,
                                    record=lambda outcome: ledger.record(run_id, [outcome], by))
    return outcomes, unrouted


def export_fixes(keys: list[str]) -> None:
    """Record approved fixes as exported for entry by hand (their CSV / checklist was downloaded)."""
    run_id = _own_fixes(access.APPLY_FIX, keys)
    FixLedger(store()).export(run_id, keys, user_name())


def fixes_done(keys: list[str], note: str = "") -> int:
    """Record fixes as entered in the PSA by hand; their findings are resolved."""
    run_id = _own_fixes(access.APPLY_FIX, keys)
    record("fix_applied_by_hand", target=", ".join(keys[:20]), detail=note[:500])
    return FixLedger(store()).applied_by_hand(run_id, keys, user_name(), note=note)


# ------------------------------------------------------------------------------------------ profiles

def profiles() -> dict[str, str]:
    """Saved column-mapping profiles, name -> ``profile.toml`` text."""
    return store().profiles()


def save_profile(name: str, text: str) -> None:
    require(access.UPLOAD)
    store().save_profile(name, text, by=user_name())


# ------------------------------------------------------------------------------------------ stored runs

def stored_runs() -> pd.DataFrame:
    """Every stored run, newest first (``Store.list_runs``), read again only after a run is stored or a
    finding resolved."""
    database = store()
    return data.run_list(id(database), database.stamp(), database)


def stored_run(run_id: int) -> StoredRun:
    """One stored run re-opened read-only (``Store.load_run``), cached as ``stored_runs``."""
    database = store()
    return data.stored_run(id(database), database.stamp(), run_id, database)


def run_comparison(old_id: int, new_id: int) -> RunComparison:
    """Run ``old_id`` against run ``new_id`` (``Store.compare_runs``), cached as ``stored_runs``."""
    database = store()
    return data.run_comparison(id(database), database.stamp(), old_id, new_id, database)


def profile_for(file_name: str) -> tuple[str, SourceEntry] | None:
    """The first saved profile with an entry whose path matches ``file_name``, with that entry (a
    profile that no longer parses is skipped)."""
    for name, text in profiles().items():
        try:
            entries = parse_profile(text, origin=f"profile {name!r}")
        except ReconError:
            continue
        entry = next((item for item in entries if item.matches(file_name)), None)
        if entry is not None:
            return name, entry
    return None
