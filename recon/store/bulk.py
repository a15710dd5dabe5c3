"""Bulk inserts for the store's large writes (a run's usage charges, discrepancies and proposed fixes): the
rows of a frame at the driver's speed, with exactly the values SQLAlchemy's ``insert`` binds for them.

Saving a 1M-row run spent over 30 s in SQLAlchemy's per-row insert path (a dict per row, every value through
its type's bind processor; issue 25). Here each column is converted once, vectorised, to what its column
type binds:

- SQLite: the DB-API ``executemany`` on the transaction's own connection, a chunk of rows at a time (rows of
  Python values built column by column: money as integer units, dates as ``YYYY-MM-DD`` text, booleans as
  1/0, NA as NULL);
- PostgreSQL: ``COPY ... FROM STDIN`` in CSV through psycopg 3, in the same transaction (the CSV written by
  Arrow: money as NUMERIC text with its 4 places, dates ISO, floats in their shortest exact form, every
  text value quoted, so an empty text stays apart from NULL, which is an unquoted empty field);
- any other dialect, a column type not listed here or a column whose dtype is not the one its type expects
  (an integer column held as floats, say): SQLAlchemy's own ``insert``, row dicts in batches (the reference
  the tests compare the fast paths with).

Rows go in the frame's order, so ids assigned by the database follow it.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from recon.store import tables

SQLITE_CHUNK = 50_000  # rows of Python values built at a time (a million at once held ~400 MB)
SQLITE_ROWS = 500  # rows of values a statement
COPY_CHUNK = 65_536  # rows of CSV text written at a time
GENERIC_BATCH = 5_000

MONEY, INTEGER, FLOAT, DATE, TEXT, BOOLEAN = "money", "integer", "float", "date", "text", "boolean"


def insert_frame(connection: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Insert every row of ``frame`` into ``table`` in order, in the connection's transaction. ``frame``'s
    columns are (some of) the table's, by name; NA of any kind is NULL; a column of a ``Date`` type may hold
    datetimes (their calendar date is stored); a column left out gets its default, as with ``sa.insert``."""
    if not len(frame):
        return
    filled = with_defaults(table, frame)
    kinds = fast_kinds(table, filled) if filled is not None else None
    dialect = connection.dialect.name
    if filled is None or kinds is None or dialect not in ("sqlite", "postgresql"):
        generic_insert(connection, table, frame)
    elif dialect == "sqlite":
        _sqlite_insert(connection, table, filled, kinds)
    else:
        _postgres_copy(connection, table, filled, kinds)


def run_rows(frame: pd.DataFrame, columns: Sequence[str], run_id: int) -> pd.DataFrame:
    """``columns`` of ``frame`` as rows of run ``run_id``: ``run_id`` and ``position`` (0, 1, ... in the
    frame's order) first, the index dropped."""
    rows = frame.loc[:, list(columns)].reset_index(drop=True)
    rows.insert(0, "position", np.arange(len(rows), dtype="int64"))
    rows.insert(0, "run_id", np.full(len(rows), int(run_id), dtype="int64"))
    return rows


def with_defaults(table: sa.Table, frame: pd.DataFrame) -> pd.DataFrame | None:
    """``frame`` with a column for each column of the table it leaves out that has a Python-side default
    (what ``sa.insert`` adds), or None when such a default is computed (a function: called row by row)."""
    added: dict[str, pd.Series] = {}
    for column in table.columns:
        default = column.default
        if column.name in frame.columns or default is None:
            continue
        if not default.is_scalar:
            return None
        value = default.arg  # type: ignore[attr-defined]
        added[column.name] = (pd.Series(value, index=frame.index, dtype="string") if isinstance(value, str)
                              else pd.Series(np.full(len(frame), value), index=frame.index))
    return frame.assign(**added) if added else frame


def fast_kinds(table: sa.Table, frame: pd.DataFrame) -> dict[str, str] | None:
    """Each column's kind of conversion, or None when a column has no fast path (its type or its dtype)."""
    kinds: dict[str, str] = {}
    for name in frame.columns:
        kind = _kind(table.c[name].type)
        if kind is None or not _dtype_fits(frame[name], kind):
            return None
        kinds[str(name)] = kind
    return kinds


def _kind(sa_type: sa.types.TypeEngine[Any]) -> str | None:
    if isinstance(sa_type, tables.Money):
        return MONEY
    if isinstance(sa_type, sa.types.TypeDecorator | sa.Enum | sa.DateTime | sa.Interval):
        return None
    if isinstance(sa_type, sa.Boolean):
        return BOOLEAN
    if isinstance(sa_type, sa.Date):
        return DATE
    if isinstance(sa_type, sa.Float):
        return FLOAT
    if isinstance(sa_type, sa.Integer):
        return INTEGER
    if isinstance(sa_type, sa.String):
        return TEXT
    return None


def _dtype_fits(column: pd.Series, kind: str) -> bool:
    dtype = column.dtype
    if kind in (MONEY, INTEGER):
        return pd.api.types.is_integer_dtype(dtype)
    if kind == FLOAT:
        return pd.api.types.is_float_dtype(dtype)
    if kind == DATE:
        return isinstance(dtype, np.dtype) and dtype.kind == "M"  # naive datetimes (a zone: the generic path)
    if kind == BOOLEAN:
        return pd.api.types.is_bool_dtype(dtype)
    return pd.api.types.is_string_dtype(dtype) and _all_text(column)


def _all_text(column: pd.Series) -> bool:
    """A text column holds text (or NA) only: an ``object`` column may hold anything."""
    if isinstance(column.dtype, pd.StringDtype):
        return True
    present = column[column.notna()]
    return bool(present.map(type).eq(str).all())


# ------------------------------------------------------------------------------------------- SQLite

def _sqlite_insert(connection: Connection, table: sa.Table, frame: pd.DataFrame, kinds: dict[str, str]) -> None:
    """``executemany`` of an INSERT of many rows a statement (``SQLITE_ROWS`` rows of values, within the
    database's limit on variables): a million rows went in a second faster than one row a statement."""
    preparer = connection.dialect.identifier_preparer
    names = list(kinds)
    head = f"INSERT INTO {preparer.format_table(table)} ({', '.join(preparer.quote(n) for n in names)}) VALUES "
    row = f"({', '.join('?' * len(names))})"
    driver: Any = connection.connection.driver_connection
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if hasattr(driver, "getlimit") else 999
    per_statement = max(1, min(SQLITE_ROWS, limit // len(names)))
    many = head + ", ".join([row] * per_statement)
    for start in range(0, len(frame), SQLITE_CHUNK):
        part = frame.iloc[start:start + SQLITE_CHUNK]
        rows = list(zip(*[sqlite_values(part[name], kinds[name]) for name in names], strict=True))
        whole = len(rows) - len(rows) % per_statement
        if whole:
            connection.exec_driver_sql(many, [tuple(chain.from_iterable(rows[first:first + per_statement]))
                                              for first in range(0, whole, per_statement)])
        if whole < len(rows):
            connection.exec_driver_sql(head + row, rows[whole:])


def sqlite_values(column: pd.Series, kind: str) -> list[Any]:
    """The Python values SQLAlchemy binds on SQLite for ``column`` (of a type of ``kind``), NA as None.
    Text and dates repeat: each distinct value is made once and shared by its rows."""
    missing = column.isna().to_numpy()
    if kind == DATE:
        codes, days = pd.factorize(column.to_numpy().astype("datetime64[D]").view("int64"))
        text = days.astype("datetime64[D]").astype(str).astype(object)[codes]
        text[missing] = None
        return list(text)
    if kind == TEXT:
        codes, distinct = pd.factorize(column, use_na_sentinel=True)
        shared = np.empty(len(distinct) + 1, dtype=object)
        shared[:-1] = np.asarray(distinct, dtype=object)  # and last None, for code -1 (NA)
        return list(shared[codes])
    if kind == BOOLEAN:
        flags = column.astype(object).to_numpy()
        return [None if absent else int(bool(value)) for value, absent in zip(flags, missing, strict=True)]
    if kind == FLOAT:
        values = column.astype("float64").to_numpy().astype(object)
        values[missing] = None  # NaN as NULL too
        return list(values)
    return column.to_numpy(dtype=object, na_value=None).tolist()  # ints, money units


# --------------------------------------------------------------------------------------- PostgreSQL

def _postgres_copy(connection: Connection, table: sa.Table, frame: pd.DataFrame, kinds: dict[str, str]) -> None:
    import pyarrow as pa
    from pyarrow import csv

    preparer = connection.dialect.identifier_preparer
    names = list(kinds)
    statement = (f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(n) for n in names)}) "
                 "FROM STDIN WITH (FORMAT csv)")
    arrow = pa.table({name: arrow_values(frame[name], kinds[name]) for name in names})
    options = csv.WriteOptions(include_header=False, quoting_style="needed")
    driver: Any = connection.connection.driver_connection
    encoding = str(getattr(getattr(driver, "info", None), "encoding", "utf-8"))
    with (_as_sqlalchemy_error(connection, statement), driver.cursor() as cursor,
          cursor.copy(statement) as copy):
        for batch in arrow.to_batches(max_chunksize=COPY_CHUNK):
            sink = io.BytesIO()
            csv.write_csv(batch, sink, options)
            data = sink.getvalue()
            copy.write(data if encoding in ("utf-8", "utf8") else data.decode("utf-8").encode(encoding))


def arrow_values(column: pd.Series, kind: str) -> Any:
    """``column`` as an Arrow array whose CSV text PostgreSQL reads as the value SQLAlchemy would bind:
    money as a decimal of 4 places (units / 10,000, exactly), dates as dates, NA as null."""
    import pyarrow as pa

    missing = column.isna().to_numpy()
    if kind == MONEY:
        units = column.to_numpy(dtype="int64", na_value=0)
        words = np.empty((len(units), 2), dtype="int64")  # a 128-bit two's complement integer, low word first
        words[:, 0], words[:, 1] = units, units >> 63
        validity = pa.array(~missing).buffers()[1] if missing.any() else None
        return pa.Array.from_buffers(pa.decimal128(38, tables.MONEY_PLACES), len(units),
                                     [validity, pa.py_buffer(words)], null_count=int(missing.sum()))
    if kind == DATE:
        return pa.array(column.to_numpy().astype("datetime64[D]"), mask=missing, type=pa.date32())
    if kind == FLOAT:
        return pa.array(column.astype("float64").to_numpy(), mask=missing | np.isnan(column.astype("float64")),
                        type=pa.float64())
    if kind == INTEGER:
        return pa.array(column.to_numpy(dtype="int64", na_value=0), mask=missing, type=pa.int64())
    if kind == BOOLEAN:
        return pa.array(column.astype(object).to_numpy(), mask=missing, type=pa.bool_())
    return pa.array(column, type=pa.large_string(), from_pandas=True)


@contextmanager
def _as_sqlalchemy_error(connection: Connection, statement: str) -> Iterator[None]:
    """Errors of the driver raised as SQLAlchemy's (``IntegrityError`` and the like), as ``execute`` raises
    them, so the store reports them the same way."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as error:
        raise sa.exc.DBAPIError.instance(statement, None, error, dbapi.Error, dialect=connection.dialect) from error


# ------------------------------------------------------------------------------------------ generic

def generic_insert(connection: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """SQLAlchemy's insert of ``frame``'s rows (dicts of plain Python values), in batches."""
    for start in range(0, len(frame), GENERIC_BATCH):
        connection.execute(sa.insert(table), python_rows(table, frame.iloc[start:start + GENERIC_BATCH]))


def python_rows(table: sa.Table, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values: None for NA / NaT / NaN, dates for the datetimes of a ``Date``
    column, ints for Int64."""
    out = frame.copy()
    for name in out.columns:
        sa_type = table.c[name].type
        if (isinstance(sa_type, sa.Date) and not isinstance(sa_type, sa.DateTime)
                and pd.api.types.is_datetime64_any_dtype(out[name])):
            out[name] = out[name].dt.date
    return [{key: _plain(value) for key, value in row.items()} for row in out.astype(object).to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    return value


# ------------------------------------------------------------------------------------------ reading

READ_CHUNK = 100_000  # rows turned into typed columns at a time


def read_frame(connection: Connection, query: sa.Select[Any]) -> pd.DataFrame:
    """The rows of ``query`` as a frame, one column per selected column (by its name), read a chunk at a
    time into typed columns: money and integers ``Int64`` (money in units, exactly), floats ``float64``,
    dates ``datetime64[ns]``, text ``string``; NULL as NA. The values come from the driver without
    SQLAlchemy's per-value result processing (money cast to its integer units in the database, dates as
    ISO text); a column of another type, or another dialect, is read through SQLAlchemy. (``recon.store.adbc``
    reads the same frame as Arrow, faster, where it can.)"""
    names, kinds = selected_kinds(query)
    dialect = connection.dialect.name
    if dialect not in ("sqlite", "postgresql") or any(kind not in READABLE for kind in kinds):
        from recon.store.rows import frame_of

        dtypes = {name: "Int64" for name, kind in zip(names, kinds, strict=True) if kind in (MONEY, INTEGER)}
        return frame_of(connection.execute(query).all(), names, dtypes)
    raw = query.with_only_columns(*[_raw(column, kind, dialect).label(name) for column, kind, name
                                    in zip(query.selected_columns, kinds, names, strict=True)],
                                  maintain_column_froms=True)
    parts: list[list[Any]] = [[] for _ in names]
    for rows in _chunks(connection, raw):
        for position, values in enumerate(zip(*rows, strict=True)):
            parts[position].append(_typed(values, kinds[position]))
    return pd.DataFrame({name: _joined(chunks, kind) for name, chunks, kind in zip(names, parts, kinds, strict=True)})


def selected_kinds(query: sa.Select[Any]) -> tuple[list[str], list[str | None]]:
    """The names of ``query``'s selected columns and each one's kind (None: a type ``read_frame`` reads
    through SQLAlchemy)."""
    selected = list(query.selected_columns)
    return [str(column.key) for column in selected], [_kind(column.type) for column in selected]


def _chunks(connection: Connection, query: sa.Select[Any]) -> Iterator[Sequence[Any]]:
    """The rows of ``query``, ``READ_CHUNK`` at a time, as the driver's own tuples (no row objects, no
    result processing). SQLite steps through the rows as they are fetched; psycopg holds the result in
    libpq's buffer and makes Python values a chunk at a time (a server-side cursor, fetching chunk by
    chunk, was slower by a third at 1M rows)."""
    result = connection.execute(query)
    try:
        cursor = result.cursor  # (SQLAlchemy buffers no rows ahead of it without stream_results)
        while rows := cursor.fetchmany(READ_CHUNK):
            yield rows
    finally:
        result.close()


READABLE = (MONEY, INTEGER, FLOAT, DATE, TEXT)  # the kinds read_frame reads from the driver


def _raw(column: Any, kind: str | None, dialect: str) -> Any:
    """``column`` as the driver's plain value: money as its integer units, dates as ``YYYY-MM-DD``."""
    if dialect == "postgresql":
        return postgres_raw(column, str(kind))
    if kind == MONEY:
        return sa.type_coerce(column, sa.BigInteger())  # stored as the units
    if kind == DATE:
        return sa.type_coerce(column, sa.String())  # ISO text
    plain: dict[str, sa.types.TypeEngine[Any]] = {INTEGER: sa.BigInteger(), FLOAT: sa.Float(), TEXT: sa.String()}
    return sa.type_coerce(column, plain[str(kind)])


def postgres_raw(column: Any, kind: str) -> Any:
    """``column`` as PostgreSQL gives it plainly: money as its integer units (NUMERIC(18, 4) times 10,000,
    cast to BIGINT: an exact integer), dates as dates."""
    if kind == MONEY:
        scaled = sa.type_coerce(column, sa.Numeric(tables.MONEY_DIGITS, tables.MONEY_PLACES)) * sa.literal_column(
            str(10**tables.MONEY_PLACES))
        return sa.cast(scaled, sa.BigInteger())
    plain: dict[str, sa.types.TypeEngine[Any]] = {DATE: sa.Date(), INTEGER: sa.BigInteger(), FLOAT: sa.Float(),
                                                  TEXT: sa.String()}
    return sa.type_coerce(column, plain[kind])


def _typed(values: tuple[Any, ...], kind: str | None) -> Any:
    """A chunk of one column's driver values as a typed array (text and dates repeat: each distinct value
    is converted once)."""
    if kind in (MONEY, INTEGER):
        return pd.array(values, dtype="Int64")
    if kind == FLOAT:
        return np.array([np.nan if value is None else value for value in values], dtype="float64")
    codes, distinct = pd.factorize(np.array(values, dtype=object), use_na_sentinel=True)
    if kind == DATE:
        iso = pd.Index(distinct, dtype=object).astype(str)  # SQLite's text, psycopg's dates
        days = pd.to_datetime(iso, format="%Y-%m-%d").as_unit("ns").to_numpy()  # a year past its range raises
        return np.append(days, np.datetime64("NaT", "ns"))[codes]  # code -1 (NULL): the NaT
    import pyarrow as pa

    text = pa.array(np.asarray(distinct, dtype=object), type=pa.large_string()).take(
        pa.array(codes, mask=codes < 0, type=pa.int64()))
    return pd.array(text.cast(pa.large_string()), dtype="string")


def _joined(chunks: list[Any], kind: str | None) -> Any:
    if not chunks:
        return empty_column(str(kind), 0)
    if kind in (FLOAT, DATE):
        return np.concatenate(chunks)
    return pd.concat([pd.Series(chunk) for chunk in chunks], ignore_index=True)


def empty_column(kind: str, length: int) -> pd.Series:
    """A column of ``length`` NAs of ``read_frame``'s type for ``kind``."""
    if kind == FLOAT:
        return pd.Series(np.full(length, np.nan))
    if kind == DATE:
        return pd.Series(np.full(length, np.datetime64("NaT", "ns")))
    return pd.Series(pd.array([pd.NA] * length, dtype="Int64" if kind in (MONEY, INTEGER) else "string"))
