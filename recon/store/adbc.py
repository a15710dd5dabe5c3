"""Reading a query's rows through ADBC (Arrow Database Connectivity): SQLite's and libpq's own drivers fill
Arrow columns in C, which become the frame ``recon.store.bulk.read_frame`` makes of the driver's tuples,
column for column.

Reading a month's charge history (1M stored charges) as driver tuples took 8.9 s, most of it making a Python
value per cell and turning rows into columns (issue 25); here no cell becomes a Python object. Used for a
SQLite file and for PostgreSQL through psycopg's URL, when ``adbc-driver-sqlite`` / ``adbc-driver-postgresql``
can be imported; otherwise (another dialect, an in-memory SQLite database, no driver) ``arrow_frame`` returns
None and the rows are read as driver tuples.

- ADBC reads on a connection of its own, so it sees what is committed and nothing of the caller's
  transaction: it is used only while the caller's connection is outside a transaction (a read first in its
  block).
- SQLite: in a process of its own (``recon.store.sqlite_arrow``: the driver carries its own copy of SQLite,
  which must not open the store's file in this process), which hands the table over as an Arrow stream.
  The driver infers each column's Arrow type from its first batch (a column all NULL there is typed int64,
  and a later text or real value fails): one batch holding every row (their number counted first, in the
  same read transaction) leaves nothing to mis-infer, whatever the row count. The columns are read as
  stored (no CAST); a column whose type is not its kind's (a value of another storage class) is not guessed
  at: the rows are read as driver tuples instead.
- PostgreSQL: the types are the server's (money cast to its integer units in SQL, as ``bulk`` does), so
  batches of any size agree; text comes in UTF-8 whatever the client encoding the URL names.
- Values are bound into the SQL by SQLAlchemy's compiler for the dialect (``literal_binds``: dates as
  literals, text quoted and escaped), never formatted in here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from recon.store import bulk
from recon.store.bulk import DATE, FLOAT, INTEGER, MONEY, TEXT
from recon.store.sqlite_arrow import NO_DRIVER

POSTGRES_BATCH_BYTES = 16 << 20  # the driver's batches (any size reads the same frame)
SQLITE_BUSY_MS = 30_000  # as the store's own SQLite connections wait for a lock

_ARROW_TYPES = {MONEY: ("int64",), INTEGER: ("int64", "int32", "int16"), FLOAT: ("double",),
                DATE: ("date32[day]", "string", "large_string"), TEXT: ("string", "large_string")}


def read_frame(connection: Connection, query: sa.Select[Any]) -> pd.DataFrame:
    """``bulk.read_frame``'s frame of ``query``: read through ADBC where it can be (``arrow_frame``), else by
    ``bulk.read_frame`` itself."""
    frame = arrow_frame(connection, query)
    return frame if frame is not None else bulk.read_frame(connection, query)


def arrow_frame(connection: Connection, query: sa.Select[Any]) -> pd.DataFrame | None:
    """``bulk.read_frame``'s frame of ``query`` read through ADBC, or None when ADBC is not for this
    connection or query (see the module docstring; a column of a kind ``bulk.read_frame`` reads through
    SQLAlchemy) or a SQLite column holds values of another storage class than its kind's. Errors of the
    database are raised as SQLAlchemy's."""
    names, found = bulk.selected_kinds(query)
    if connection.in_transaction() or any(kind not in bulk.READABLE for kind in found):
        return None
    kinds = [str(kind) for kind in found]
    if connection.dialect.name == "sqlite":
        table = _sqlite_table(connection, query)
    elif connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        table = _postgres_table(connection, query, kinds)
    else:
        return None
    if table is None:
        return None
    columns = [_typed(table.column(position), kind) for position, kind in enumerate(kinds)]
    if any(column is None for column in columns):
        return None
    return pd.DataFrame(dict(zip(names, columns, strict=True)))


def _sql(dialect: sa.Dialect, query: sa.Select[Any]) -> str:
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


# ---------------------------------------------------------------------------------------------- SQLite

def sqlite_file(url: sa.URL) -> str | None:
    """The absolute path of the SQLite file ``url`` names (as SQLAlchemy's pysqlite opens it), or None for
    an in-memory database or a URL with options (``?uri=true`` and the like)."""
    if url.database in (None, "", ":memory:") or url.query:
        return None
    return os.path.abspath(url.database)  # noqa: PTH100 (the very path SQLAlchemy gives sqlite3)


def _sqlite_table(connection: Connection, query: sa.Select[Any]) -> Any | None:
    """The rows of ``query`` as an Arrow table read by ``recon.store.sqlite_arrow`` in a process of its own
    (its module docstring says why), or None when the database is not a file or the driver is missing."""
    path = sqlite_file(connection.engine.url)
    if path is None or not sys.executable or importlib.util.find_spec("adbc_driver_sqlite") is None:
        return None
    import pyarrow as pa

    sql = _sql(connection.dialect, query)
    request = json.dumps({"path": path, "sql": sql, "busy_ms": SQLITE_BUSY_MS}).encode()
    table = None
    with tempfile.TemporaryFile() as errors:
        reader = subprocess.Popen([sys.executable, "-P", str(Path(__file__).with_name("sqlite_arrow.py"))],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
        try:
            assert reader.stdin is not None and reader.stdout is not None
            with reader.stdin:
                reader.stdin.write(request)  # read whole by the reader before it writes a byte
            with reader.stdout:
                table = pa.ipc.open_stream(reader.stdout).read_all()
        except (OSError, pa.ArrowInvalid):
            pass  # (the reader failed: its status and message say why)
        finally:
            if table is None and reader.poll() is None:
                reader.kill()
            status = reader.wait()
        if status == NO_DRIVER:
            return None
        if status != 0 or table is None:
            errors.seek(0)
            said = errors.read().decode(errors="replace").strip().splitlines()
            raise sa.exc.OperationalError(sql, None, RuntimeError(said[-1] if said else f"exit status {status}"))
    return table


# ------------------------------------------------------------------------------------------ PostgreSQL

def postgres_uri(dialect: sa.Dialect, url: sa.URL) -> str | None:
    """The libpq URI of PostgreSQL URL ``url`` (``postgresql+psycopg://user:pw@host:port/db?options=...``):
    the libpq parameters psycopg gets from SQLAlchemy for it (host, port, user, password, dbname and the
    URL's query; not psycopg's own, such as its adapters), each percent-encoded as a query parameter of
    ``postgresql://``, plus ``client_encoding`` UTF8 (Arrow's text is UTF-8). None when a parameter has
    several values."""
    from psycopg import pq

    known = {option.keyword.decode() for option in pq.Conninfo.get_defaults()}
    _, parameters = dialect.create_connect_args(url)
    libpq = {key: value for key, value in parameters.items() if key in known and value is not None}
    libpq["client_encoding"] = "UTF8"
    if any(isinstance(value, list | tuple) for value in libpq.values()):
        return None
    return "postgresql://?" + "&".join(f"{quote(key, safe='')}={quote(str(value), safe='')}"
                                       for key, value in libpq.items())


def _postgres_table(connection: Connection, query: sa.Select[Any], kinds: Sequence[str]) -> Any | None:
    """The rows of ``query`` with money as its integer units (``bulk.postgres_raw``), or None when the
    driver is missing or the URL has a parameter of several values."""
    dialect = connection.dialect
    uri = postgres_uri(dialect, connection.engine.url)
    try:
        import adbc_driver_postgresql.dbapi
    except ImportError:
        return None
    if uri is None:
        return None
    raw = query.with_only_columns(*[bulk.postgres_raw(column, kind).label(f"c{position}") for position, (column, kind)
                                    in enumerate(zip(query.selected_columns, kinds, strict=True))],
                                  maintain_column_froms=True)
    sql = _sql(dialect, raw)
    with (_as_sqlalchemy_error(dialect, sql), adbc_driver_postgresql.dbapi.connect(uri) as adbc_connection,
          adbc_connection.cursor() as cursor):
        cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(POSTGRES_BATCH_BYTES)})
        cursor.execute(sql)
        return cursor.fetch_arrow_table()


@contextmanager
def _as_sqlalchemy_error(dialect: sa.Dialect, statement: str) -> Iterator[None]:
    """The driver's errors raised as SQLAlchemy's (``OperationalError`` and the like), as ``execute`` raises
    them, so the store reports them the same way."""
    from adbc_driver_manager import Error

    try:
        yield
    except Error as error:
        raise sa.exc.DBAPIError.instance(statement, None, error, Error, dialect=dialect) from error


# ---------------------------------------------------------------------------------------------- frames

def _typed(column: Any, kind: str) -> Any:
    """An Arrow column as ``bulk.read_frame``'s typed column of ``kind``, or None when its Arrow type is not
    one ``kind`` is read from. A column of nulls only is NA of the kind's type whatever its Arrow type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count == len(column):
        return bulk.empty_column(kind, len(column))
    if str(column.type) not in _ARROW_TYPES[kind]:
        return None
    if str(column.type) == "string" and pc.min(pc.binary_length(column)).as_py() < 0:
        return None  # SQLite's one batch: its 32-bit text offsets went past 2 GiB and wrapped
    if kind in (MONEY, INTEGER):
        return pd.Int64Dtype().__from_arrow__(column.cast(pa.int64()))
    if kind == FLOAT:
        return column.to_numpy()  # float64, NULL as NaN
    if kind == DATE:
        try:
            days = column.cast(pa.date32())  # SQLite's text (strictly YYYY-MM-DD) or PostgreSQL's dates
        except pa.ArrowInvalid:
            return None  # text the driver path may still read as a date (2026-1-5)
        return days.cast(pa.timestamp("ns")).to_numpy()  # a year past datetime64[ns]'s range raises
    return pd.array(column.cast(pa.large_string()), dtype="string")

