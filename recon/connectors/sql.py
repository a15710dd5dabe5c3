"""SQL source: any SQLAlchemy URL plus one query per canonical source.

The queries are the user's own read-only SQL against a PSA reporting replica or a warehouse. They run
through SQLAlchemy ``text()`` with the period bound as parameters, never pasted into the SQL:

- ``:period_start``: first day of the month (a date);
- ``:period_end``: last day of the month (a date, inclusive: ``day <= :period_end``);
- ``:next_period_start``: first day of the next month (exclusive bound, right for timestamps).

Each query runs in a read-only transaction where the database offers one (PostgreSQL ``READ ONLY``,
SQLite ``query_only``). Its result becomes a frame of text cells, which goes through the same column
mapping, parsing, validation and quarantine as an uploaded file. Columns named like the canonical fields
need no mapping; otherwise ``[connections.NAME.mappings.<source>]`` maps canonical field -> result
column, and ``[connections.NAME.presets]`` can name a file preset for a query that returns an export's
columns (``usage = "pax8-invoice-items"``).

Definition in ``connections.toml``::

    [connections.psa-replica]
    type = "sql"
    url = "postgresql+psycopg://recon_reader@psa-db.internal:5432/psa"   # password from secrets
    [connections.psa-replica.queries]
    invoices = '''SELECT inv_no AS invoice_number, ... FROM invoice_lines
                  WHERE service_start < :next_period_start AND service_end >= :period_start'''
    [connections.psa-replica.mappings.invoices]
    client = "company_name"
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from recon.connectors.config import Connection
from recon.connectors.frames import Pulled, text_frame
from recon.connectors.http import redact
from recon.connectors.period import Period
from recon.errors import ConnectorError
from recon.ingest.presets import PRESETS, preset_names
from recon.redaction import url_secrets
from recon.schema import SOURCES

PERIOD_PARAMETERS = ("period_start", "period_end", "next_period_start")
CONNECT_TIMEOUT_SECONDS = 15

Progress = Callable[[str, float], None]


def database_url(connection: Connection) -> sa.URL:
    """The connection's URL with its password (from secrets) put in; plain ``postgresql://`` gets the
    psycopg 3 driver recon ships."""
    try:
        url = sa.make_url(str(connection.setting("url")))
    except ArgumentError:
        raise ConnectorError(f"{connection.label}: url is not a database URL "
                             "(e.g. sqlite:///psa.db or postgresql+psycopg://user@host/db)") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    password = connection.optional_secret("password")
    return url.set(password=password) if password else url


def queries(connection: Connection) -> dict[str, str]:
    """Source kind -> SQL; ``ConnectorError`` naming unknown kinds and empty queries, all at once."""
    defined = connection.setting("queries") or {}
    problems = [f"unknown source {kind!r} (expected one of {', '.join(SOURCES)})" for kind in defined
                if kind not in SOURCES]
    problems += [f"the query for {kind} is empty" for kind, sql in defined.items() if not str(sql).strip()]
    for kind, name in (connection.setting("presets") or {}).items():
        preset = PRESETS.get(name)
        if preset is None or preset.kind != kind:
            problems.append(f"presets.{kind} = {name!r} is not a {kind} preset "
                            f"(one of: {', '.join(preset_names(kind)) or 'none'})")
    if not isinstance(defined, dict) or not defined or problems:
        raise ConnectorError(f"{connection.label}: " + ("; ".join(problems) or "no queries defined"))
    return {kind: str(sql) for kind, sql in defined.items()}


def statement(sql: str, kind: str, period: Period, label: str) -> sa.TextClause:
    """``sql`` as a ``text()`` clause with the period parameters it uses bound as dates."""
    clause = sa.text(sql)
    used = set(clause.compile().params)
    unknown = sorted(used - set(PERIOD_PARAMETERS))
    if unknown:
        raise ConnectorError(f"{label}: the query for {kind} uses :{', :'.join(unknown)}; only "
                             f":{', :'.join(PERIOD_PARAMETERS)} are bound")
    values = {"period_start": period.start, "period_end": period.end, "next_period_start": period.next_start}
    return clause.bindparams(*[sa.bindparam(name, values[name], type_=sa.Date) for name in sorted(used)])


def fetch(connection: Connection, period: Period, progress: Progress | None = None) -> list[Pulled]:
    """Run every query of ``connection`` for ``period``; one ``Pulled`` per source kind."""
    planned = queries(connection)
    pulled = []
    with _read_only(connection) as db:
        for step, (kind, sql) in enumerate(planned.items()):
            if progress:
                progress(f"querying {kind}", step / len(planned))
            pulled.append(_run(db, connection, kind, statement(sql, kind, period, connection.label)))
    if progress:
        progress("done", 1.0)
    return pulled


def check(connection: Connection) -> str:
    """Connect and run ``SELECT 1``; a one-line description of what answered."""
    queries(connection)
    with _read_only(connection) as db:
        db.execute(sa.text("SELECT 1"))
        dialect = db.dialect.name
    return f"connected to {dialect} at {_shown(connection)}"


def _run(db: DbConnection, connection: Connection, kind: str, clause: sa.TextClause) -> Pulled:
    try:
        result = db.execute(clause)
        columns = [str(column) for column in result.keys()]  # noqa: SIM118 - a Result, not a dict
        records = [dict(zip(columns, row, strict=True)) for row in result]
    except SQLAlchemyError as error:
        raise ConnectorError(f"{connection.label}: the query for {kind} failed: "
                             f"{_first_line(error, connection)}") from None
    mapping = connection.setting("mappings", {}).get(kind) or {}
    preset = connection.setting("presets", {}).get(kind)
    return Pulled(kind, f"query {kind}", text_frame(records, columns), mapping, preset)


@contextmanager
def _read_only(connection: Connection) -> Iterator[DbConnection]:
    """A connection in a read-only transaction (rolled back at the end: nothing is ever written)."""
    url = _read_only_url(database_url(connection))
    try:
        engine = sa.create_engine(url, connect_args=_connect_args(url))
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise ConnectorError(f"{connection.label}: cannot use {_shown(connection)}: "
                             f"{_first_line(error, connection)}") from None
    try:
        with engine.connect() as db:
            _make_read_only(db)
            yield db
            db.rollback()
    except SQLAlchemyError as error:
        raise ConnectorError(f"{connection.label}: cannot connect to {_shown(connection)}: "
                             f"{_first_line(error, connection)}") from None
    finally:
        engine.dispose()


def _read_only_url(url: sa.URL) -> sa.URL:
    """A SQLite file is opened read-only (``mode=ro``): a mistyped path fails instead of creating an empty
    database."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or \
            str(url.database).startswith("file:"):
        return url
    return url.set(database=f"file:{url.database}").update_query_dict({"mode": "ro", "uri": "true"})


def _connect_args(url: sa.URL) -> dict[str, Any]:
    if url.get_backend_name() == "postgresql":
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    if url.get_backend_name() == "sqlite":
        return {"timeout": CONNECT_TIMEOUT_SECONDS}
    return {}


def _make_read_only(db: DbConnection) -> None:
    backend = db.dialect.name
    if backend == "sqlite":
        db.exec_driver_sql("PRAGMA query_only = ON")
    elif backend == "postgresql":
        db.exec_driver_sql("SET TRANSACTION READ ONLY")


def _shown(connection: Connection) -> str:
    """The connection's URL fit for a message: no password, and no query (a password may hide there)."""
    return database_url(connection).set(query={}).render_as_string(hide_password=True)


def _first_line(error: BaseException, connection: Connection) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return redact(line, [*connection.secret_values(), *url_secrets(str(connection.setting("url")))])[:300]
