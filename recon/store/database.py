"""The store: runs, discrepancies, resolutions and mappings in a real database (PRODUCT.md section 7).

SQLite by default (``recon.db`` in the working directory, WAL mode); PostgreSQL when the URL (or
``RECON_DATABASE_URL``) says so. The schema is migrated with Alembic when a ``Store`` is constructed.

Guarantees, each covered by a test on both backends:

- a run is written in one transaction (its row, every discrepancy, its input links) and flagged
  complete last, so a crash mid-save leaves nothing visible;
- resolutions, mappings, settings and profiles are append-only inserts (no read-modify-write), so two
  sessions acting on the same fingerprint both land in its history; the latest row is the current one;
- a file's SHA-256 is unique among imports, so importing the same bytes twice is detected;
- money goes in and comes out as the same Int64 units, stored exactly (see ``recon.store.tables.Money``).

Everything the store returns is a frame or a frozen value; money stays in Int64 units of 1/10,000.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from recon import metrics
from recon.company import Company
from recon.engine import PAIR_COLUMN, Mappings, Reconciliation, source_periods
from recon.errors import StoreError
from recon.keys import SERIES_KINDS, describe_periods
from recon.metrics import Overall
from recon.redaction import redact, remember_secrets, url_secrets
from recon.rules import INFORMATIONAL_TYPES, OUTPUT_COLUMNS
from recon.schema import QUANTITY, column_kind, money_columns
from recon.settings import Settings
from recon.sources import ImportRecord, Sources, empty_issues, empty_source
from recon.status import STATUSES, with_status
from recon.store import adbc, bulk, tables
from recon.store import fixes as fix_ledger
from recon.store.rows import frame_of as _frame
from recon.store.rows import text_columns as _text_columns
from recon.store.rows import timestamps as _timestamps

ENV_URL = "RECON_DATABASE_URL"
DEFAULT_URL = "sqlite:///recon.db"
INSERT_BATCH = 1_000
RUN_KEY_PREFIX = 12  # what a run stored before keys were a column kept of its key (in its label)
COMPANY_KEY = "company"  # a settings row holding the letterhead (Store.save_company), not run settings
_PG_MIGRATION_LOCK = 0x5245434F4E  # pg_advisory_xact_lock key: "RECON"

RUN_LIST_COLUMNS = ("id", "created_at", "by", "label", "periods", "engine_version", "billed", "expected",
                    "leakage", "overcharge", "discrepancies")
RESOLUTION_COLUMNS = ("fingerprint", "status", "note", "by", "at")
HISTORY_COLUMNS = ("id", *RESOLUTION_COLUMNS)
IMPORT_COLUMNS = ("import_id", "source", "file", "sha256", "rows_in", "rows_loaded", "rows_quarantined",
                  "blank_rows", "first_imported_at", "first_file", "from_history")
# The charge history a run draws on: stored charges ending this many days before its first month still
# count (a year billed up front, and the nearest charge to carry a gap from), and those starting up to a
# month after its last.
HISTORY_DAYS_BEFORE = 400
HISTORY_DAYS_AFTER = 31
# Stored charges from which the history is read through ADBC (``charge_history``): driver tuples take about
# 9 us a charge, ADBC about 2 to 3 us after a fixed 0.07 s (PostgreSQL's connection) to 0.25 s (SQLite's reader
# process)
ADBC_FROM_CHARGES = 50_000
CHARGE_CHUNK = 100_000  # charges converted and written at a time
_COUNT_FIELDS = ("rows_in", "rows_loaded", "rows_quarantined", "blank_rows")

_T = tables.table
_IMPORT, _RUN, _RUN_IMPORT = _T(tables.ImportFile), _T(tables.Run), _T(tables.RunImport)
_CONTENT, _CURRENT = _T(tables.InputContent), _T(tables.CurrentData)
_DISCREPANCY, _RESOLUTION = _T(tables.Discrepancy), _T(tables.Resolution)
_ALIAS, _REJECTED, _SKU_MAP = _T(tables.ClientAlias), _T(tables.RejectedSuggestion), _T(tables.SkuMapping)
_SETTINGS, _PROFILE = _T(tables.SettingsVersion), _T(tables.MappingProfile)
_CHARGE = _T(tables.UsageCharge)
_PAIR = _T(tables.UsageChargePair)
CHARGE_FIELDS = ("client", "sku", "quantity", "period_start", "period_end", "vendor", "unit_cost",
                 "subscription_id", "product_name", "row_type", "subscription_start", "subscription_end",
                 "cost_amount")

STORED_DISCREPANCY_COLUMNS = OUTPUT_COLUMNS  # the engine's schema, in its order
# The frames the store returns have the engine's dtypes: money Int64 units, quantities float64 (recon.schema).
DISCREPANCY_DTYPES = {**dict.fromkeys(money_columns(STORED_DISCREPANCY_COLUMNS), "Int64"),
                      **{name: "float64" for name in STORED_DISCREPANCY_COLUMNS if column_kind(name) == QUANTITY}}


# ------------------------------------------------------------------------------------------ results

@dataclass(frozen=True)
class ImportOutcome:
    """What recording one import did: its row id, and whether the same bytes were already imported."""

    id: int
    duplicate: bool
    first_imported_at: datetime


@dataclass(frozen=True)
class StoredRun:
    """A past run re-opened read-only. ``discrepancies`` has the engine's columns (money in Int64 units)
    plus ``status``, the latest resolution of each fingerprint (``open`` when never resolved)."""

    id: int
    created_at: datetime
    by: str
    label: str
    periods: tuple[str, ...]
    engine_version: str
    settings: Settings
    summary: dict[str, Any]
    discrepancies: pd.DataFrame
    imports: pd.DataFrame

    @property
    def overall(self) -> Overall:
        """The run's headline figures as it stored them (money in Int64 units)."""
        return Overall.from_dict(self.summary.get("overall", {}))


@dataclass(frozen=True)
class RunComparison:
    """Run ``old_id`` against run ``new_id`` by fingerprint.

    ``new``: findings of the new run absent from the old one. ``cleared``: findings of the old run absent
    from the new one, in a period the new run covers (a period it did not look at is not cleared).
    ``changed``: same fingerprint, different variance; ``unchanged``: same fingerprint, same variance.
    Both have the new run's columns plus ``old_variance``, ``new_variance`` and ``variance_delta``.
    Every frame keeps the ``status`` column (today's resolution). ``leakage_delta`` and
    ``overcharge_delta`` are new minus old in Int64 units (positive: more leakage than before), over
    ``periods_compared`` (the new run's periods, as for ``cleared``): the old run's findings in
    ``periods_left_out`` (periods the new run did not look at) are not counted as gone.
    """

    old_id: int
    new_id: int
    new: pd.DataFrame
    cleared: pd.DataFrame
    changed: pd.DataFrame
    unchanged: pd.DataFrame
    leakage_delta: int
    overcharge_delta: int
    periods_compared: tuple[str, ...] = ()
    periods_left_out: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------- connecting

def database_url(url: str | None = None) -> str:
    """The database to use: ``url``, else ``RECON_DATABASE_URL``, else ``recon.db`` in the working dir."""
    return url or os.environ.get(ENV_URL) or DEFAULT_URL


def _normalised_url(url: str) -> sa.URL:
    """Parse ``url``; plain ``postgresql://`` (or ``postgres://``) gets the psycopg 3 driver we ship. Its
    password is remembered as a secret (``recon.redaction``) before anything can fail. A URL that does
    not parse is refused without being quoted: it may hold a password."""
    remember_secrets(url_secrets(url))
    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError):
        raise StoreError(f"the database URL ({ENV_URL} or --database-url) is not one: write it like "
                         "sqlite:///recon.db or postgresql://user:password@host:5432/database (it is not "
                         "shown here because it may hold a password)") from None
    remember_secrets([parsed.password] if isinstance(parsed.password, str) else [])
    if "@" in (parsed.host or ""):
        raise StoreError(f"the database URL ({ENV_URL} or --database-url) has an '@' after the user's password: "
                         "write an @, : or / inside the password percent-encoded (%40, %3A, %2F)")
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _shown(url: sa.URL) -> str:
    """A database URL fit for a message: no password, and no query (it may carry one)."""
    return url.set(query={}).render_as_string(hide_password=True)


def create_store_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url``, with SQLite set up for safe concurrent use (WAL, busy timeout,
    ``BEGIN IMMEDIATE`` for writes)."""
    parsed = _normalised_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        return sa.create_engine(parsed, pool_pre_ping=True, json_serializer=_json_dumps)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise StoreError(f"cannot use database {_shown(parsed)}: {_first_line(error)}") from None


def _sqlite_engine(url: sa.URL) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    engine = sa.create_engine(
        url, json_serializer=_json_dumps, connect_args={"check_same_thread": False, "timeout": 30},
        **({"poolclass": StaticPool} if in_memory else {}))
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy (not the sqlite3 module) issue BEGIN, so writes can take the lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    """Writes begin IMMEDIATE (take the write lock first, wait for it under the busy timeout) instead of
    upgrading a read lock mid-transaction, which SQLite refuses at once when another writer got there."""
    writing = connection.get_execution_options().get("recon_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _json_dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return redact(text.splitlines()[0])[:300] if text else type(error).__name__


# ------------------------------------------------------------------------------------- migrations

# The newest migration (recon/store/migrations/versions): a store already at it opens without importing
# Alembic, 0.15 s of every command that opens the store. A test holds it to Alembic's own head.
SCHEMA_REVISION = "0010_fix_line_sku"


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "recon.store:migrations")
    return config


def schema_revision(connection: Connection) -> str | None:
    """The migration the database's schema is at (Alembic's ``alembic_version``); None before the first."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there). Holds a lock while migrating
    so two processes starting at once on an empty database do not both create it."""
    with engine.connect() as connection:
        current = schema_revision(connection)
    if current == SCHEMA_REVISION:
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _alembic_config()
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    if current == head:
        return
    if current is not None and current not in {script.revision for script in scripts.walk_revisions()}:
        raise StoreError(f"the database schema (revision {current}) is newer than this version of recon "
                         f"knows (up to {head}); upgrade recon to use it")
    with _write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def migrate_when_free(engine: Engine, attempts: int = 6) -> None:
    """``migrate``, tried again while SQLite reports the database locked. Processes opening a fresh
    database together can get "database is locked" at once, without SQLite waiting out its busy timeout
    (while one sets up WAL or recovers it); migrating is idempotent, so waiting and retrying is safe."""
    for attempt in range(attempts):
        try:
            migrate(engine)
            return
        except OperationalError as error:
            if engine.dialect.name != "sqlite" or "locked" not in str(error.orig) or attempt == attempts - 1:
                raise
            time.sleep(0.1 * 2**attempt)


@contextmanager
def _write_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        connection.execution_options(recon_write=True)
        with connection.begin():
            yield connection


# ----------------------------------------------------------------------------------------- frames

def _text(value: str, what: str) -> str:
    cleaned = str(value).strip()
    if not cleaned:
        raise StoreError(f"{what} must not be empty")
    return cleaned


# ------------------------------------------------------------------------------------------ store

class Store:
    """Runs, resolutions, mappings, settings and profiles in one database (see the module docstring).

    ``url``: a SQLAlchemy URL (``sqlite:///recon.db``, ``postgresql://user:pw@127.0.0.1/recon``);
    default ``RECON_DATABASE_URL``, else ``sqlite:///recon.db``. Raises ``StoreError`` (one clear line)
    when the database cannot be reached or migrated.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        self.engine = create_store_engine(self.url)
        try:
            migrate_when_free(self.engine)
        except SQLAlchemyError as error:
            self.engine.dispose()
            shown = _shown(self.engine.url)
            raise StoreError(f"cannot open database {shown}: {_first_line(error)}") from None

    def __repr__(self) -> str:
        return f"Store({self.shown_url!r})"

    @property
    def shown_url(self) -> str:
        """The database's URL fit to print: no password, no query."""
        return _shown(self.engine.url)

    def close(self) -> None:
        """Release the connections (the store can still be used; it reconnects on demand)."""
        self.engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        try:
            with _write_transaction(self.engine) as connection:
                yield connection
        except SQLAlchemyError as error:
            raise StoreError(f"database write failed: {_first_line(error)}") from None

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except SQLAlchemyError as error:
            raise StoreError(f"database read failed: {_first_line(error)}") from None

    # ------------------------------------------------------------------------------------- imports

    def record_imports(self, records: Iterable[ImportRecord]) -> list[int]:
        """Record source files by content hash, in one transaction; returns their import ids. A file
        whose SHA-256 is already stored is not stored again: its existing id is returned (see
        ``record_import`` for the duplicate flag)."""
        with self._writing() as connection:
            return [outcome.id for outcome in _insert_imports(connection, records)]

    def record_import(self, record: ImportRecord) -> ImportOutcome:
        """Record one source file; ``duplicate`` says the same bytes were imported before (when:
        ``first_imported_at``)."""
        with self._writing() as connection:
            return _insert_imports(connection, [record])[0]

    def find_import(self, sha256: str) -> dict[str, Any] | None:
        """The import with this content hash (id, source, file, sha256, counts, imported_at), or None."""
        with self._reading() as connection:
            row = connection.execute(sa.select(_IMPORT).where(_IMPORT.c.sha256 == sha256)).mappings().first()
        return dict(row) if row else None

    # ---------------------------------------------------------------------------------------- runs

    def save_run(self, result: Reconciliation, *, by: str = "", label: str = "", key: str | None = None,
                 charges: Iterable[pd.DataFrame] | None = None) -> int:
        """Store a run whole, in one transaction: the run (periods, settings, summary, totals, engine
        version), every discrepancy, the files it read, the stored imports whose charges it drew on, the
        usage rows of its files as charge history (once per import) and the PSA fixes proposed for its
        findings (with the fixes applied earlier checked against it: ``recon.store.fixes.after_run``).
        ``key`` names what the run was computed from (the dashboard's run key: ``find_run`` finds the run
        again by it). ``charges``: the usage rows of the run's files in pieces, for a run that does not hold
        them in one frame (a Spark run: ``SparkRun.charge_chunks``; ``_store_charge_chunks`` says how they
        come); by default ``result.charges``, and required for a run whose rows come apart
        (``Reconciliation.charges_apart``: ``ValueError`` without them, rather than a month of vendor charges
        silently lost to the runs after it). Returns the run id."""
        if charges is None and result.charges_apart:
            raise ValueError("this run's usage rows are not in its result (a Spark run streams them): store it "
                             "with save_run(run.result, charges=run.charge_chunks()), or later months lose its "
                             "vendor charges")
        with self._writing() as connection:
            run_id = _insert_run(connection, result, by.strip(), label.strip(), key)
            _insert_discrepancies(connection, run_id, result.discrepancies)
            outcomes = _link_imports(connection, run_id, result.imports)
            _link_imports(connection, run_id, result.history_imports, first=len(result.imports), from_history=True)
            if charges is None:
                _store_charges(connection, result, outcomes)
            else:
                _store_charge_chunks(connection, result, outcomes, charges)
            fix_ledger.after_run(connection, run_id, result)  # its proposed fixes; earlier fixes verified
            connection.execute(sa.update(_RUN).where(_RUN.c.id == run_id).values(complete=True))
        return run_id

    def charge_history(self, periods: Sequence[str], exclude_sha256: Iterable[str] = ()) -> Sources | None:
        """The stored charges (usage rows of earlier imports) a run over ``periods`` draws on: those of
        imports other than ``exclude_sha256`` (the run's own files) overlapping the run's months, and the
        rows of subscriptions' series ending up to ``HISTORY_DAYS_BEFORE`` days before them (``history_query``);
        the other charges of those days as their pairs (``pair_query``), each a charge of no quantity. Each
        row's ``source_file`` names its import (``<file> (stored import <id>)``); one ``ImportRecord`` per
        import read, in import order. None when there are none."""
        if not periods:
            return None
        query = history_query(periods, exclude_sha256)
        with self._reading() as connection:
            stored = connection.execute(sa.select(sa.func.count()).select_from(_CHARGE)).scalar_one()
        with self._reading() as connection:
            # typed columns straight from the driver (a million charges as row objects, then a frame of them,
            # took 13 s and 2.5 GB; as driver tuples 8.9 s; through ADBC's Arrow 2.4 to 3 s; issue 25), money
            # straight to Int64 (exact past 2**53). ADBC reads on a connection of its own, outside this one's
            # transaction, which begins with the next statement: it sees every import those charges belong to
            # (imports are never deleted). It costs a connection, for SQLite a reader process (0.2 s): a store
            # of fewer charges than ``ADBC_FROM_CHARGES`` is read faster as driver tuples.
            read = adbc.read_frame if stored >= ADBC_FROM_CHARGES else bulk.read_frame
            rows = read(connection, query)
            pairs = bulk.read_frame(connection, pair_query(periods, exclude_sha256))
            if not len(rows) and not len(pairs):
                return None
            ids = sorted({int(found) for found in (*pd.unique(rows["import_id"]), *pd.unique(pairs["import_id"]))})
            imports = connection.execute(sa.select(_IMPORT.c.id, _IMPORT.c.file, _IMPORT.c.sha256,
                                                   *[_IMPORT.c[n] for n in _COUNT_FIELDS])
                                         .where(_IMPORT.c.id.in_(ids)).order_by(_IMPORT.c.id)).all()
        return _history_sources(rows, pairs, imports)

    def history_for(self, sources: Sources, periods: Sequence[str] = ()) -> Sources | None:
        """The stored charges a run of ``sources`` over ``periods`` (default: the months they cover) draws on:
        ``charge_history`` leaving out the sources' own files."""
        return self.charge_history(periods or source_periods(sources), [record.sha256 for record in sources.imports])

    def list_runs(self) -> pd.DataFrame:
        """Every complete run, newest first: ``RUN_LIST_COLUMNS`` (money totals in Int64 units,
        ``periods`` in words (``"2026-01 to 2026-03"``), ``created_at`` in UTC), and ``informational``:
        how many of its ``discrepancies`` are informational (negative margin), which count as no money."""
        columns = [_RUN.c[name] for name in RUN_LIST_COLUMNS]
        informational = sa.select(_DISCREPANCY.c.run_id, sa.func.count().label("count")).where(
            _DISCREPANCY.c.type.in_(sorted(INFORMATIONAL_TYPES))).group_by(_DISCREPANCY.c.run_id)
        with self._reading() as connection:
            rows = connection.execute(sa.select(*columns).where(_RUN.c.complete).order_by(_RUN.c.id.desc()))
            frame = _frame(rows.all(), RUN_LIST_COLUMNS, dict.fromkeys(money_columns(RUN_LIST_COLUMNS), "Int64"))
            counts: dict[int, int] = {int(run): int(count) for run, count in connection.execute(informational).all()}
        frame["periods"] = frame["periods"].map(describe_periods)
        frame = _text_columns(frame, ("by", "label", "periods", "engine_version"))
        frame["created_at"] = _timestamps(frame["created_at"])
        frame["informational"] = frame["id"].map(counts).fillna(0)
        return frame.astype({"id": "int64", "discrepancies": "int64", "informational": "int64"})

    def find_run(self, key: str) -> int | None:
        """The newest complete run stored with ``key`` (or, for a run stored before keys were a column,
        with its first 12 characters), else ``None``."""
        query = (sa.select(sa.func.max(_RUN.c.id))
                 .where(_RUN.c.complete, _RUN.c.run_key.in_({key, key[:RUN_KEY_PREFIX]})))
        with self._reading() as connection:
            return connection.execute(query).scalar()

    def stamp(self) -> tuple[int, int]:
        """What the database holds, as far as reading runs goes: the newest complete run and the newest
        resolution (ids; 0 when none). It changes whenever a run is stored or a finding resolved, so a
        cache of runs, stored findings and comparisons keyed by it is never stale."""
        with self._reading() as connection:
            run = connection.execute(sa.select(sa.func.max(_RUN.c.id)).where(_RUN.c.complete)).scalar()
            resolution = connection.execute(sa.select(sa.func.max(_RESOLUTION.c.id))).scalar()
        return int(run or 0), int(resolution or 0)

    def latest_run_id(self) -> int | None:
        """The id of the newest complete run, or None when there is none."""
        with self._reading() as connection:
            return connection.execute(sa.select(sa.func.max(_RUN.c.id)).where(_RUN.c.complete)).scalar()

    def previous_run_id(self, run_id: int) -> int | None:
        """The newest complete run before ``run_id`` covering the same periods (what to compare with)."""
        periods = self._run_row(run_id)["periods"]
        with self._reading() as connection:
            rows = connection.execute(sa.select(_RUN.c.id, _RUN.c.periods).where(
                _RUN.c.complete, _RUN.c.id < run_id).order_by(_RUN.c.id.desc())).all()
        return next((row.id for row in rows if list(row.periods) == list(periods)), None)

    def load_run(self, run_id: int) -> StoredRun:
        """Re-open a stored run read-only (``StoredRun``); ``StoreError`` when there is no such run."""
        row = self._run_row(run_id)
        found = self._run_discrepancies(run_id)
        return StoredRun(
            id=row["id"], created_at=row["created_at"], by=row["by"], label=row["label"],
            periods=tuple(row["periods"]), engine_version=row["engine_version"],
            settings=Settings.from_dict(row["settings"]), summary=row["summary"],
            discrepancies=with_status(found, self.resolutions()), imports=self._run_imports(run_id))

    def _run_row(self, run_id: int) -> dict[str, Any]:
        with self._reading() as connection:
            row = connection.execute(sa.select(_RUN).where(_RUN.c.id == int(run_id), _RUN.c.complete)
                                     ).mappings().first()
        if row is None:
            raise StoreError(f"no stored run with id {run_id}")
        return dict(row)

    def _run_discrepancies(self, run_id: int) -> pd.DataFrame:
        columns = [_DISCREPANCY.c[name] for name in STORED_DISCREPANCY_COLUMNS]
        query = sa.select(*columns).where(_DISCREPANCY.c.run_id == run_id).order_by(_DISCREPANCY.c.position)
        with self._reading() as connection:
            frame = _frame(connection.execute(query).all(), STORED_DISCREPANCY_COLUMNS, DISCREPANCY_DTYPES)
        return discrepancy_frame(frame)

    def _run_imports(self, run_id: int) -> pd.DataFrame:
        link, first = _RUN_IMPORT, _IMPORT
        query = (sa.select(link.c.import_id, first.c.source, link.c.file, first.c.sha256,
                           *[link.c[name] for name in _COUNT_FIELDS], first.c.imported_at, first.c.file,
                           link.c.from_history)
                 .join(first, first.c.id == link.c.import_id)
                 .where(link.c.run_id == run_id).order_by(link.c.position))
        with self._reading() as connection:
            frame = _frame(connection.execute(query).all(), IMPORT_COLUMNS)
        frame = _text_columns(frame, ("source", "file", "sha256", "first_file"))
        frame["first_imported_at"] = _timestamps(frame["first_imported_at"])
        return frame.astype(dict.fromkeys(("import_id", *_COUNT_FIELDS), "int64") | {"from_history": "bool"})

    def compare_runs(self, old_id: int, new_id: int) -> RunComparison:
        """What changed from run ``old_id`` to run ``new_id`` (see ``RunComparison``)."""
        old, new = self.load_run(old_id), self.load_run(new_id)
        return compare(old, new)

    # --------------------------------------------------------------------------------- resolutions

    def resolve(self, fingerprints: Iterable[str], status: str, note: str = "", by: str = "") -> None:
        """Record ``status`` (open, billed, credited, accepted, disputed) with a note for each fingerprint:
        one appended history row each, in one transaction. ``StoreError`` for an unknown status or a
        fingerprint that no stored run contains (all of them named)."""
        wanted = list(dict.fromkeys(str(fingerprint).strip() for fingerprint in fingerprints))
        status = str(status).strip().lower()
        if status not in STATUSES:
            raise StoreError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        if not wanted or "" in wanted:
            raise StoreError("give at least one fingerprint (and no empty ones)")
        rows = [{"fingerprint": fingerprint, "status": status, "note": note.strip(), "by": by.strip(),
                 "at": tables.utc_now()} for fingerprint in wanted]
        with self._writing() as connection:
            _check_known(connection, wanted)
            connection.execute(sa.insert(_RESOLUTION), rows)

    def agreement_adjustments(self) -> pd.DataFrame:
        """The agreement adjustments the fixes wrote to a PSA (applied, confirmed or not taken one-time
        charges and credits on an agreement): ``recon.keys.ADJUSTMENT_COLUMNS`` plus ``fix_key``, for
        ``reconcile(..., adjustments=...)``."""
        with self._reading() as connection:
            return fix_ledger.agreement_adjustments(connection)

    def resolutions(self) -> pd.DataFrame:
        """The current status of every resolved fingerprint (its latest resolution): ``fingerprint, status,
        note, by, at``."""
        latest = (sa.select(sa.func.max(_RESOLUTION.c.id).label("id"))
                  .group_by(_RESOLUTION.c.fingerprint).subquery())
        query = (sa.select(*[_RESOLUTION.c[name] for name in RESOLUTION_COLUMNS])
                 .join(latest, latest.c.id == _RESOLUTION.c.id).order_by(_RESOLUTION.c.fingerprint))
        with self._reading() as connection:
            frame = _frame(connection.execute(query).all(), RESOLUTION_COLUMNS)
        return _resolution_frame(frame)

    def history(self, fingerprint: str | None = None) -> pd.DataFrame:
        """Every resolution event (of one fingerprint, or all), oldest first: ``id`` plus the resolution
        columns."""
        query = sa.select(*[_RESOLUTION.c[name] for name in HISTORY_COLUMNS]).order_by(_RESOLUTION.c.id)
        if fingerprint is not None:
            query = query.where(_RESOLUTION.c.fingerprint == fingerprint)
        with self._reading() as connection:
            frame = _frame(connection.execute(query).all(), HISTORY_COLUMNS)
        return _resolution_frame(frame).astype({"id": "int64"})

    # ------------------------------------------------------------------------------------ mappings

    def save_client_alias(self, alias: str, client: str, by: str = "") -> None:
        """Confirm that ``alias`` (a vendor or export name) is the PSA client ``client``."""
        self._append(_ALIAS, alias=_text(alias, "alias"), client=_text(client, "client"), by=by.strip())

    def remove_client_alias(self, alias: str, by: str = "") -> None:
        """Withdraw a confirmed alias (recorded as a row with an empty client; history is kept)."""
        self._append(_ALIAS, alias=_text(alias, "alias"), client="", by=by.strip())

    def reject_suggestion(self, name: str, client: str, by: str = "") -> None:
        """Record that ``name`` is not ``client``: that fuzzy suggestion is not offered again."""
        self._append(_REJECTED, name=_text(name, "name"), client=_text(client, "client"), by=by.strip())

    def rejected_suggestions(self) -> pd.DataFrame:
        """Rejected (name, client) pairs, first rejection of each: ``name, client, by, at``."""
        columns = ("name", "client", "by", "at")
        query = sa.select(*[_REJECTED.c[name] for name in columns]).order_by(_REJECTED.c.id)
        with self._reading() as connection:
            frame = _frame(connection.execute(query).all(), columns)
        frame = frame.drop_duplicates(["name", "client"], keep="first").reset_index(drop=True)
        frame["at"] = _timestamps(frame["at"])
        return _text_columns(frame, ("name", "client", "by"))

    def save_sku_mapping(self, vendor_sku: str, sku: str, by: str = "") -> None:
        """Confirm that the vendor's ``vendor_sku`` is the PSA product ``sku``."""
        self._append(_SKU_MAP, vendor_sku=_text(vendor_sku, "vendor_sku"), sku=_text(sku, "sku"),
                     by=by.strip())

    def remove_sku_mapping(self, vendor_sku: str, by: str = "") -> None:
        """Withdraw a confirmed SKU mapping (recorded as a row with an empty sku; history is kept)."""
        self._append(_SKU_MAP, vendor_sku=_text(vendor_sku, "vendor_sku"), sku="", by=by.strip())

    def mappings(self) -> Mappings:
        """The confirmed client aliases and SKU mappings in force (latest per alias / vendor SKU), ready
        for ``reconcile(..., mappings=...)``."""
        aliases = self._latest(_ALIAS, "alias", "client")
        sku_map = self._latest(_SKU_MAP, "vendor_sku", "sku")
        client_aliases = pd.DataFrame({
            "alias": aliases["alias"], "client": aliases["client"],
            "source_file": pd.Series("recon store", index=aliases.index, dtype="string"),
            "source_line": aliases["id"].astype("Int64")})
        return Mappings(client_aliases=client_aliases, sku_map=sku_map[["vendor_sku", "sku"]])

    def _latest(self, table: sa.Table, key: str, value: str) -> pd.DataFrame:
        """Latest row per ``key`` (by id), withdrawn ones (empty ``value``) left out, in id order."""
        query = sa.select(table.c.id, table.c[key], table.c[value]).order_by(table.c.id)
        with self._reading() as connection:
            frame = _frame(connection.execute(query).all(), ("id", key, value))
        frame = frame.drop_duplicates(key, keep="last")
        frame = frame[frame[value] != ""].reset_index(drop=True)
        return _text_columns(frame, (key, value))

    def _append(self, table: sa.Table, **values: Any) -> None:
        with self._writing() as connection:
            connection.execute(sa.insert(table).values(at=tables.utc_now(), **values))

    # ---------------------------------------------------------------------------- the current data

    def save_contents(self, contents: dict[str, bytes]) -> None:
        """Keep the bytes of uploaded or pulled files by SHA-256 (a hash already kept is not written again)."""
        if not contents:
            return
        with self._writing() as connection:
            known = set(connection.execute(sa.select(_CONTENT.c.sha256).where(
                _CONTENT.c.sha256.in_(list(contents)))).scalars())
            rows = [{"sha256": digest, "content": content} for digest, content in contents.items()
                    if digest not in known]
            if rows:
                connection.execute(sa.insert(_CONTENT), rows)

    def contents(self, digests: Iterable[str]) -> dict[str, bytes]:
        """The kept bytes of these SHA-256 hashes (those kept; a missing one is left out)."""
        wanted = list(dict.fromkeys(digests))
        if not wanted:
            return {}
        with self._reading() as connection:
            rows = connection.execute(sa.select(_CONTENT.c.sha256, _CONTENT.c.content)
                                      .where(_CONTENT.c.sha256.in_(wanted))).all()
        return {str(digest): bytes(content) for digest, content in rows}

    def make_current(self, run_id: int, recipe: dict[str, Any], by: str = "") -> None:
        """Make run ``run_id`` the current data every new session opens (``recipe``: how to rebuild it)."""
        self._append(_CURRENT, run_id=run_id, recipe=recipe, by=by.strip())

    def current(self) -> dict[str, Any] | None:
        """The current data (``run_id``, ``recipe``, ``by``, ``at`` in UTC), or None when none was made
        current yet (or its run was deleted)."""
        query = (sa.select(_CURRENT.c.run_id, _CURRENT.c.recipe, _CURRENT.c.by, _CURRENT.c.at)
                 .order_by(_CURRENT.c.id.desc()).limit(1))
        with self._reading() as connection:
            row = connection.execute(query).mappings().first()
        return dict(row) if row else None

    # ---------------------------------------------------------------------------- settings, profiles

    def save_settings(self, settings: Settings, by: str = "") -> None:
        """Save the settings in force from now on (earlier versions are kept)."""
        self._append(_SETTINGS, data=settings.to_dict(), by=by.strip())

    def load_settings(self) -> Settings:
        """The latest saved settings, or the defaults when none were saved."""
        data = self._latest_settings_row(company=False)
        return Settings.from_dict(data) if data is not None else Settings()

    def save_company(self, company: Company, by: str = "") -> None:
        """Save the MSP's letterhead (name, address, logo) for client statements. Kept in the settings'
        table as a row of its own (``{"company": ...}``), so it never changes the run settings; the logo's
        bytes are kept once by SHA-256 beside the inputs' contents."""
        digest = None
        if company.logo is not None:
            digest = hashlib.sha256(company.logo).hexdigest()
            self.save_contents({digest: company.logo})
        self._append(_SETTINGS, data={COMPANY_KEY: company.to_dict(digest)}, by=by.strip())

    def company(self) -> Company:
        """The latest saved letterhead, or an empty one (no name, address or logo)."""
        data = self._latest_settings_row(company=True)
        if data is None:
            return Company()
        saved = data[COMPANY_KEY]
        digest = saved.get("logo_sha256")
        logo = self.contents([digest]).get(digest) if digest else None
        return Company(name=str(saved.get("name", "")), address=str(saved.get("address", "")), logo=logo)

    def _latest_settings_row(self, company: bool) -> dict[str, Any] | None:
        """The newest row of the settings' table that holds the letterhead (``company``) or the run
        settings (rows are few: people save them by hand)."""
        query = sa.select(_SETTINGS.c.data).order_by(_SETTINGS.c.id.desc())
        with self._reading() as connection:
            for (data,) in connection.execute(query):
                if (COMPANY_KEY in data) == company:
                    return dict(data)
        return None

    def save_profile(self, name: str, text: str, by: str = "") -> None:
        """Save a column-mapping profile (TOML text) under ``name``; a later save replaces it."""
        self._append(_PROFILE, name=_text(name, "profile name"), text=text, by=by.strip())

    def profiles(self) -> dict[str, str]:
        """Every saved profile, name -> TOML text (latest version of each), sorted by name."""
        latest = self._latest(_PROFILE, "name", "text")
        return dict(sorted(zip(latest["name"], latest["text"], strict=True)))

    def exposure(self, run_id: int) -> dict[str, int]:
        """Recovered and open exposure of a stored run under today's resolutions (Int64 units):
        ``{"recovered": ..., "open_exposure": ...}`` (PRODUCT.md section 5)."""
        return metrics.exposure(self.load_run(run_id).discrepancies, self.resolutions())


# ----------------------------------------------------------------------------------- write helpers

def _insert_imports(connection: Connection, records: Iterable[ImportRecord]) -> list[ImportOutcome]:
    return [_insert_import(connection, record) for record in records]


def _insert_import(connection: Connection, record: ImportRecord) -> ImportOutcome:
    """Insert the file unless its hash is known (ON CONFLICT DO NOTHING: safe under concurrency)."""
    now = tables.utc_now()
    values = {"source": record.source, "file": record.file, "sha256": record.sha256 or None,
              "imported_at": now, **{name: int(getattr(record, name)) for name in _COUNT_FIELDS}}
    if values["sha256"] is None:
        new_id = connection.execute(sa.insert(_IMPORT).values(values).returning(_IMPORT.c.id)).scalar_one()
        return ImportOutcome(new_id, False, now)
    new_id = connection.execute(_insert_unless_known(connection, values)).scalar()
    if new_id is not None:
        return ImportOutcome(new_id, False, now)
    known = connection.execute(sa.select(_IMPORT.c.id, _IMPORT.c.imported_at)
                               .where(_IMPORT.c.sha256 == values["sha256"])).one()
    return ImportOutcome(known.id, True, known.imported_at)


def _insert_unless_known(connection: Connection, values: dict[str, Any]) -> sa.Executable:
    """INSERT ... ON CONFLICT (sha256) DO NOTHING RETURNING id, in the connection's dialect."""
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    return (dialect_insert(_IMPORT).values(values).on_conflict_do_nothing(index_elements=["sha256"])
            .returning(_IMPORT.c.id))


def _engine_version() -> str:
    import recon

    return str(recon.__version__)


def _insert_run(connection: Connection, result: Reconciliation, by: str, label: str, key: str | None) -> int:
    overall = result.metrics.overall
    values: dict[str, Any] = {
        "created_at": tables.utc_now(), "by": by, "label": label, "run_key": key, "periods": list(result.periods),
        "engine_version": _engine_version(), "settings": result.settings.to_dict(),
        "summary": json.loads(_json_dumps(result.to_dict())),
        "billed": overall.billed_revenue, "expected": overall.expected_revenue, "leakage": overall.leakage,
        "overcharge": overall.overcharge,
        "discrepancies": len(result.discrepancies), "complete": False,
    }
    return int(connection.execute(sa.insert(_RUN).values(values).returning(_RUN.c.id)).scalar_one())


def _insert_discrepancies(connection: Connection, run_id: int, found: pd.DataFrame) -> None:
    missing = [name for name in STORED_DISCREPANCY_COLUMNS if name not in found]
    if missing:
        raise StoreError(f"discrepancies lack column(s): {', '.join(missing)}")
    bulk.insert_frame(connection, _DISCREPANCY, bulk.run_rows(found, STORED_DISCREPANCY_COLUMNS, run_id))


def _link_imports(connection: Connection, run_id: int, records: Sequence[ImportRecord], first: int = 0,
                  from_history: bool = False) -> list[ImportOutcome]:
    outcomes = _insert_imports(connection, records)
    links = [{"run_id": run_id, "position": position, "import_id": outcome.id, "file": record.file,
              "from_history": from_history, **{name: int(getattr(record, name)) for name in _COUNT_FIELDS}}
             for position, (record, outcome) in enumerate(zip(records, outcomes, strict=True), start=first)]
    if links:
        connection.execute(sa.insert(_RUN_IMPORT), links)
    return outcomes


def _store_charges(connection: Connection, result: Reconciliation, outcomes: Sequence[ImportOutcome]) -> None:
    """Keep the usage rows of the run's usage imports as charge history, with their pairs (``_charge_pairs``),
    once per import (an import seen before, the same SHA-256, already has its rows). A chunk of rows at a
    time: a copy of a whole file's rows beside the run held 200 MB more at a 1M run's peak (issue 25)."""
    charges = result.charges
    codes, files = pd.factorize(charges["source_file"])
    for record, outcome in zip(result.imports, outcomes, strict=True):
        if not _takes_charges(connection, record, outcome):
            continue
        code = int(files.get_indexer([record.file])[0]) if len(files) else -1
        positions = np.flatnonzero(codes == code) if code >= 0 else np.empty(0, dtype="int64")
        if not len(positions):
            continue
        _insert_charges(connection, outcome.id, (charges.take(positions[start:start + CHARGE_CHUNK])
                                                 for start in range(0, len(positions), CHARGE_CHUNK)))


def _store_charge_chunks(connection: Connection, result: Reconciliation, outcomes: Sequence[ImportOutcome],
                         chunks: Iterable[pd.DataFrame]) -> None:
    """``_store_charges`` for usage rows that come in pieces (``result.charges``'s columns; a Spark run's rows
    never in one frame): each piece of one file (its ``source_file``), a file's pieces in the order of its
    rows, one after the other or apart (A, B, A: a file's later pieces are stored after its earlier ones,
    never passed over). The store keeps the same rows (in each import, the same order), pairs and order of
    pairs as from the rows in one frame, writing ``CHARGE_CHUNK`` rows at most at a time; a file's pairs are
    written once its last piece is (spans joined over all of its pieces: ``_joined_spans``), and between
    runs of its pieces only its joined spans are held. A piece of a file whose charges are not wanted (not a
    usage import, or one stored before) is passed over."""
    wanted: dict[str, int] = {}
    for record, outcome in zip(result.imports, outcomes, strict=True):
        # (the same bytes twice in one run are one import: its charges once)
        if record.file not in wanted and outcome.id not in wanted.values() and _takes_charges(
                connection, record, outcome):
            wanted[record.file] = outcome.id
    pairs: dict[int, pd.DataFrame] = {}  # import id -> its pairs so far, spans joined (first seen first)
    pieces = (piece for piece in chunks if len(piece))
    for file, of_file in itertools.groupby(pieces, key=lambda piece: piece["source_file"].iloc[0]):
        if file not in wanted:
            continue
        import_id = wanted[file]
        found = _insert_charge_rows(connection, import_id, (piece.iloc[start:start + CHARGE_CHUNK]
                                                            for piece in of_file
                                                            for start in range(0, len(piece), CHARGE_CHUNK)))
        earlier = pairs.get(import_id)
        pairs[import_id] = _joined_spans(found if earlier is None else pd.concat([earlier, found],
                                                                                 ignore_index=True))
    for joined in pairs.values():
        bulk.insert_frame(connection, _PAIR, joined)


def _takes_charges(connection: Connection, record: ImportRecord, outcome: ImportOutcome) -> bool:
    """Whether the run's import ``record`` (stored as ``outcome``) is one whose usage rows the store keeps: a
    usage file with a SHA-256 whose import has no charges stored yet."""
    if record.source != "usage" or not record.sha256:
        return False
    known = connection.execute(sa.select(sa.func.count()).select_from(_CHARGE)
                               .where(_CHARGE.c.import_id == outcome.id)).scalar_one()
    return not known


def _insert_charges(connection: Connection, import_id: int, parts: Iterable[pd.DataFrame]) -> None:
    """Store ``parts`` (canonical usage rows of one import, in order, one insert each) as its charges, then
    their pairs (``_charge_pairs``, spans joined: ``_joined_spans``)."""
    bulk.insert_frame(connection, _PAIR, _joined_spans(_insert_charge_rows(connection, import_id, parts)))


def _insert_charge_rows(connection: Connection, import_id: int, parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Store ``parts`` (canonical usage rows of one import, in order, one insert each) as its charges; their
    pairs (``_charge_pairs`` of each part, in order, spans not joined yet)."""
    pairs = []
    for rows in parts:
        part = _charge_frame(rows, import_id)
        bulk.insert_frame(connection, _CHARGE, part)
        pairs.append(_charge_pairs(part))
    return pd.concat(pairs, ignore_index=True)


def _charge_frame(rows: pd.DataFrame, import_id: int) -> pd.DataFrame:
    """Canonical usage rows as ``usage_charge`` columns (``bulk.insert_frame`` stores the calendar date of
    the datetimes, money as units, NA as NULL): a charge without an end ends where it starts, one without
    a row type is usage."""
    out = pd.DataFrame({"import_id": np.full(len(rows), import_id, dtype="int64"),
                        "line": rows["source_line"].astype("Int64").to_numpy()})
    for name in CHARGE_FIELDS:
        out[name] = rows[name].to_numpy() if isinstance(rows[name].dtype, np.dtype) else rows[name].array
    out["period_end"] = out["period_end"].where(out["period_end"].notna(), out["period_start"])
    out["row_type"] = out["row_type"].astype("string").fillna("usage")
    return out


PAIR_FIELDS = ("client", "sku", "vendor", "product_name", "period_start", "period_end")


def _charge_pairs(charges: pd.DataFrame) -> pd.DataFrame:
    """``usage_charge_pair`` rows of ``charges`` (``_charge_frame``'s columns): their distinct ``import_id``
    and ``PAIR_FIELDS`` outside subscriptions' series, in the order first seen."""
    series = (charges["row_type"].isin(list(SERIES_KINDS)) & charges["subscription_id"].notna()).to_numpy(bool)
    return charges.loc[~series, ["import_id", *PAIR_FIELDS]].drop_duplicates(ignore_index=True)


def _joined_spans(pairs: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` (``_charge_pairs``) with the spans of one import, client, sku, vendor and product that touch or
    overlap joined into one: a month's file holds one span per pair, the bench's year file twelve. Nothing is
    lost: the joined span covers the same days without a gap, so it overlaps a run's months where one of
    its charges does (then those charges are read themselves), and the look-back where one of them does."""
    if not len(pairs):
        return pairs
    named = ["import_id", *(name for name in PAIR_FIELDS if name not in ("period_start", "period_end"))]
    group = pairs.groupby(named, dropna=False, sort=False).ngroup().to_numpy()
    starts = pairs["period_start"].to_numpy("datetime64[D]")
    order = np.lexsort((starts, group))
    group, starts = group[order], starts[order]
    ends = pairs["period_end"].to_numpy("datetime64[D]")[order]
    reach = pd.Series(ends).groupby(group).cummax().to_numpy("datetime64[D]")  # the latest end so far
    new = np.r_[True, (group[1:] != group[:-1]) | (starts[1:] > reach[:-1] + np.timedelta64(1, "D"))]
    first = np.flatnonzero(new)
    joined = pairs.iloc[order[first]][named].reset_index(drop=True)
    last = np.maximum.reduceat(ends.astype(np.int64), first).astype("datetime64[D]")
    return joined.assign(period_start=starts[first].astype("datetime64[ns]"), period_end=last.astype("datetime64[ns]"))


@dataclass(frozen=True)
class HistoryWindow:
    """The days a run over some months draws on stored charges for: its months (``first_month`` to
    ``last_month``) and the look-back around them (``first`` to ``last``)."""

    first: date
    first_month: date
    last_month: date
    last: date

    @classmethod
    def of(cls, periods: Sequence[str]) -> HistoryWindow:
        months = sorted(periods)
        first_month = pd.Period(months[0], "M").start_time.date()
        last_month = pd.Period(months[-1], "M").end_time.date()
        return cls(first_month - pd.Timedelta(days=HISTORY_DAYS_BEFORE), first_month, last_month,
                   last_month + pd.Timedelta(days=HISTORY_DAYS_AFTER))

    def covering(self, table: sa.Table) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
        """Conditions on ``table``'s rows (``period_start``, ``period_end``): their span overlaps the look-back;
        it overlaps the run's months."""
        looked_back = sa.and_(table.c.period_end >= self.first, table.c.period_start <= self.last)
        return looked_back, sa.and_(table.c.period_end >= self.first_month, table.c.period_start <= self.last_month)


def history_query(periods: Sequence[str], exclude_sha256: Iterable[str] = ()) -> sa.Select[Any]:
    """The stored charges ``Store.charge_history`` reads for a run over ``periods`` (not empty), in the order
    of their import and line: ``import_id``, ``line`` and ``CHARGE_FIELDS``. Those that count on days of the
    run: charges overlapping its months, and the rows of subscriptions' series (a ``SERIES_KINDS`` row type
    and a subscription id; replacement in time, refunds and carried days) ending up to ``HISTORY_DAYS_BEFORE``
    days before its first month or starting up to ``HISTORY_DAYS_AFTER`` days after its last. Any other
    charge of the look-back is read as its pair (``pair_query``): a year of monthly usage rows is not read
    back for each month (issue 25)."""
    looked_back, in_months = HistoryWindow.of(periods).covering(_CHARGE)
    series = sa.and_(_CHARGE.c.row_type.in_(sorted(SERIES_KINDS)), _CHARGE.c.subscription_id.is_not(None))
    query = (sa.select(_CHARGE.c.import_id, _CHARGE.c.line, *[_CHARGE.c[name] for name in CHARGE_FIELDS])
             .join(_IMPORT, _IMPORT.c.id == _CHARGE.c.import_id)
             .where(looked_back, sa.or_(in_months, series))
             .order_by(_CHARGE.c.import_id, _CHARGE.c.id))
    return _excluding(query, exclude_sha256)


def pair_query(periods: Sequence[str], exclude_sha256: Iterable[str] = ()) -> sa.Select[Any]:
    """The pairs (``usage_charge_pair``) of the stored charges of the look-back that ``history_query`` leaves
    out (those outside subscriptions' series not overlapping the run's months): ``import_id`` and
    ``PAIR_FIELDS``, one row per import, client, sku, vendor and product, in the order first stored. What
    those charges do for the run (a vendor-tracked (client, sku), a client's name to match) one pair does
    alike; its span is the first start and the first end of its stored spans, outside the run's months as
    each of them is (ending before the months if one does, else starting after), where nothing counts."""
    looked_back, in_months = HistoryWindow.of(periods).covering(_PAIR)
    named = [_PAIR.c[name] for name in PAIR_FIELDS if name not in ("period_start", "period_end")]
    query = (sa.select(_PAIR.c.import_id, *named, sa.func.min(_PAIR.c.period_start).label("period_start"),
                       sa.func.min(_PAIR.c.period_end).label("period_end"))
             .join(_IMPORT, _IMPORT.c.id == _PAIR.c.import_id)
             .where(looked_back, sa.not_(in_months))
             .group_by(_PAIR.c.import_id, *named)
             .order_by(_PAIR.c.import_id, sa.func.min(_PAIR.c.id)))
    return _excluding(query, exclude_sha256)


def _excluding(query: sa.Select[Any], exclude_sha256: Iterable[str]) -> sa.Select[Any]:
    excluded = sorted({sha for sha in exclude_sha256 if sha})
    return query.where(_IMPORT.c.sha256.not_in(excluded)) if excluded else query


def _history_sources(rows: pd.DataFrame, pairs: pd.DataFrame, imports: Sequence[Any]) -> Sources:
    """Stored charges (``import_id``, ``line`` and ``CHARGE_FIELDS``, in order) and the pairs of the others
    (``pair_query``) as a ``Sources`` of usage rows (canonical dtypes; a pair as a charge of no quantity
    after its import's charges, marked in ``PAIR_COLUMN``), one import record per import (``imports``: their
    rows of ``import_file``), in import order."""
    labels = {int(found.id): f"{found.file} (stored import {found.id})" for found in imports}
    frame = empty_source("usage")
    usage = pd.concat([pd.DataFrame({name: rows[name] for name in ("import_id", "line", *CHARGE_FIELDS)}),
                       pairs.assign(quantity=0.0, row_type="usage")], ignore_index=True)
    pair = np.arange(len(usage)) >= len(rows)
    if len(pairs):
        order = np.argsort(usage["import_id"].to_numpy(np.int64), kind="stable")
        usage, pair = usage.take(order).reset_index(drop=True), pair[order]
    usage["source_file"] = usage["import_id"].map(labels).astype("string")
    usage["source_line"] = usage.pop("line")
    usage = usage.reindex(columns=frame.columns)
    for name in ("period_start", "period_end", "subscription_start", "subscription_end"):
        usage[name] = pd.to_datetime(usage[name])
    usage = usage.astype(frame.dtypes.to_dict()).assign(**{PAIR_COLUMN: pair})
    records = tuple(ImportRecord("usage", labels[int(found.id)], found.sha256 or "", int(found.rows_in),
                                 int(found.rows_loaded), int(found.rows_quarantined), int(found.blank_rows))
                    for found in sorted(imports, key=lambda found: int(found.id)))
    return Sources({"usage": usage}, empty_issues(), records)


def _check_known(connection: Connection, fingerprints: list[str]) -> None:
    known: set[str] = set()
    for start in range(0, len(fingerprints), INSERT_BATCH):
        chunk = fingerprints[start:start + INSERT_BATCH]
        query = (sa.select(_DISCREPANCY.c.fingerprint).distinct()
                 .join(_RUN, _RUN.c.id == _DISCREPANCY.c.run_id)
                 .where(_RUN.c.complete, _DISCREPANCY.c.fingerprint.in_(chunk)))
        known.update(connection.execute(query).scalars())
    unknown = [fingerprint for fingerprint in fingerprints if fingerprint not in known]
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise StoreError(f"no stored run has discrepancy fingerprint(s) {shown}")


# ---------------------------------------------------------------------------------- pure helpers

def discrepancy_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Stored discrepancy rows with the engine's dtypes: text as ``string``, quantities ``float64``,
    money ``Int64`` units."""
    text = [name for name in frame.columns if name not in DISCREPANCY_DTYPES]
    return _text_columns(frame.astype(DISCREPANCY_DTYPES), text)


def _resolution_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame["at"] = _timestamps(frame["at"])
    return _text_columns(frame, ("fingerprint", "status", "note", "by"))


def compare(old: StoredRun, new: StoredRun) -> RunComparison:
    """Compare two stored runs by fingerprint (see ``RunComparison``)."""
    old_found, new_found = old.discrepancies, new.discrepancies
    in_old = new_found["fingerprint"].isin(old_found["fingerprint"])
    in_new = old_found["fingerprint"].isin(new_found["fingerprint"])
    in_scope = old_found["period"].isin(new.periods)
    both = _with_old_variance(new_found[in_old], old_found)
    new_money, old_money = metrics.money_at_stake(new_found), metrics.money_at_stake(old_found[in_scope])
    moved = both["new_variance"].ne(both["old_variance"]).fillna(
        both["new_variance"].isna() != both["old_variance"].isna()).to_numpy(bool)
    return RunComparison(
        old_id=old.id, new_id=new.id,
        new=new_found[~in_old].reset_index(drop=True),
        cleared=old_found[~in_new & in_scope].reset_index(drop=True),
        changed=both[moved].reset_index(drop=True), unchanged=both[~moved].reset_index(drop=True),
        leakage_delta=new_money[0] - old_money[0], overcharge_delta=new_money[1] - old_money[1],
        periods_compared=tuple(new.periods),
        periods_left_out=tuple(period for period in old.periods if period not in set(new.periods)))


def _with_old_variance(found: pd.DataFrame, old_found: pd.DataFrame) -> pd.DataFrame:
    """``found`` (new run rows) plus ``old_variance``, ``new_variance`` (= ``variance``) and
    ``variance_delta`` (new minus old), all Int64 units."""
    old_variance = old_found.drop_duplicates("fingerprint").set_index("fingerprint")["variance"]
    out = found.assign(old_variance=found["fingerprint"].map(old_variance).astype("Int64"),
                       new_variance=found["variance"])
    return out.assign(variance_delta=out["new_variance"] - out["old_variance"]).reset_index(drop=True)


__all__ = ["DEFAULT_URL", "ENV_URL", "STATUSES", "ImportOutcome", "RunComparison", "Store", "StoredRun",
           "compare", "create_store_engine", "database_url", "migrate"]
