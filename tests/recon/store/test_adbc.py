"""Stored charges read through ADBC (``recon.store.adbc``, issue 25) make the very frame the driver's tuples
made (``bulk.read_frame``), on a SQLite file and on PostgreSQL: NULL text apart from empty text, NULL
dates, columns all NULL for the first 1,200 rows (past the SQLite driver's default batch of 1,024, whose
type it infers), negative money and money past 2**53 units, unicode, signed zeros, the same order. Where
ADBC cannot be used or a value is not what its column's kind reads, the rows are read as driver tuples."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from psycopg.conninfo import conninfo_to_dict

from recon.store import Store, adbc, bulk, database, tables
from recon.store.database import history_query

CHARGE, IMPORT = tables.table(tables.UsageCharge), tables.table(tables.ImportFile)
FIRST_NULLS = 1_200  # rows whose nullable columns are all NULL before any value
AWKWARD_ROWS = 300
SHA_A, SHA_B = "a" * 64, "b" * 64
HOSTILE_SHA = "x' OR '1'='1"  # an excluded "hash" that SQL text formatting would have let in
PERIODS = ["2026-03"]

TEXTS = ["", "é €", "😀 emoji", "中文テキスト", "a\nb", "'quoted'", "\\N", "NULL", " x ", "\t"]
MONEY = [0, -1, 1, -(2**53) - 1, 2**53 + 1, 10**18 - 1, -(10**18 - 1), -1_234_567]
QUANTITIES = [0.0, -0.0, 1 / 3, 1e300, 5e-324, -2.5, 12.0]
DATES = [date(1700, 1, 1), date(2261, 12, 31), date(2026, 2, 28), date(1999, 12, 31)]


def pick(values: list[Any], row: int, absent_every: int = 0) -> Any:
    """The row's value of ``values`` (cycled), or None every ``absent_every`` rows."""
    return None if absent_every and row % absent_every == 0 else values[row % len(values)]


def charge_rows(import_id: int, count: int, first_nulls: int) -> pd.DataFrame:
    """``count`` charges of one import for March 2026: the nullable columns NULL in the first ``first_nulls``
    rows, then awkward values (NULL and empty text alike, money past 2**53 units, unicode, extreme dates)."""
    rows = []
    for row in range(count):
        late = row >= first_nulls
        start = date(2026, 3, 1) - timedelta(days=row % 30)  # (each reaching into March: read for March)
        rows.append({
            "import_id": import_id, "line": row + 2 if late else None,
            "client": pick(TEXTS, row) + "client", "sku": pick(TEXTS, row + 3), "quantity": pick(QUANTITIES, row),
            "period_start": start, "period_end": start + timedelta(days=30),
            "vendor": pick(TEXTS, row, 3) if late else None, "unit_cost": pick(MONEY, row, 4) if late else None,
            "subscription_id": pick(TEXTS, row + 1, 5) if late else None,
            "product_name": pick(TEXTS, row + 2, 2) if late else None, "row_type": pick(["usage", "", "credit"], row),
            "subscription_start": pick(DATES, row, 3) if late else None,
            "subscription_end": pick(DATES, row + 1, 2) if late else None,
            "cost_amount": pick(MONEY, row + 5, 3) if late else None})
    frame = pd.DataFrame(rows)
    for name in ("line", "unit_cost", "cost_amount"):  # (through floats, 10**18 - 1 would become 10**18)
        frame[name] = pd.array([row[name] for row in rows], dtype="Int64")
    return frame


def store_charges(store: Store) -> None:
    """Import A (awkward charges after 1,200 all-NULL rows), import B (every nullable column NULL) and an
    import whose hash looks like SQL, each written by SQLAlchemy's own insert."""
    with store.engine.begin() as connection:
        for import_id, sha in ((1, SHA_A), (2, SHA_B), (3, HOSTILE_SHA)):
            connection.execute(sa.insert(IMPORT).values(id=import_id, source="usage", file=f"usage-{import_id}.csv",
                                                        sha256=sha, imported_at=tables.utc_now()))
        bulk.generic_insert(connection, CHARGE, charge_rows(1, FIRST_NULLS + AWKWARD_ROWS, FIRST_NULLS))
        bulk.generic_insert(connection, CHARGE, charge_rows(2, 50, 50))
        bulk.generic_insert(connection, CHARGE, charge_rows(3, 20, 0))


def plain(column: pd.Series) -> list[Any]:
    return [None if pd.isna(value) else value for value in column]


def both_frames(store: Store, query: sa.Select[Any]) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """``query`` read through ADBC and as driver tuples, each on a fresh connection."""
    with store.engine.connect() as connection:
        arrow = adbc.arrow_frame(connection, query)
    with store.engine.connect() as connection:
        return arrow, bulk.read_frame(connection, query)


def assert_same(arrow: pd.DataFrame | None, driver: pd.DataFrame) -> None:
    assert arrow is not None, "ADBC was not used"
    pd.testing.assert_frame_equal(arrow, driver, check_exact=True)
    assert np.array_equal(np.signbit(arrow["quantity"]), np.signbit(driver["quantity"]))  # -0.0 too


def test_adbc_reads_the_same_frame_as_the_driver(store: Store) -> None:
    store_charges(store)
    arrow, driver = both_frames(store, history_query(PERIODS))
    assert_same(arrow, driver)
    assert arrow is not None
    assert arrow.dtypes.astype(str).to_dict() == {
        "import_id": "Int64", "line": "Int64", "client": "string", "sku": "string", "quantity": "float64",
        "period_start": "datetime64[ns]", "period_end": "datetime64[ns]", "vendor": "string", "unit_cost": "Int64",
        "subscription_id": "string", "product_name": "string", "row_type": "string",
        "subscription_start": "datetime64[ns]", "subscription_end": "datetime64[ns]", "cost_amount": "Int64"}
    assert arrow["import_id"].tolist() == [1] * (FIRST_NULLS + AWKWARD_ROWS) + [2] * 50 + [3] * 20

    # the values themselves, as written: NULL and empty text apart, money exact past 2**53 units
    written = charge_rows(1, FIRST_NULLS + AWKWARD_ROWS, FIRST_NULLS)
    read = arrow[arrow["import_id"] == 1]
    for name in ("unit_cost", "cost_amount", "line", "vendor", "subscription_id", "product_name", "client"):
        assert plain(read[name]) == plain(written[name])
    assert read["vendor"].isna().sum() > FIRST_NULLS
    assert read["vendor"].eq("").sum() > 0
    assert read["subscription_start"].iloc[FIRST_NULLS:].dropna().dt.date.isin(DATES).all()


def test_excluded_imports_are_bound_as_values(store: Store) -> None:
    store_charges(store)
    arrow, driver = both_frames(store, history_query(PERIODS, [SHA_A, HOSTILE_SHA, "a\\'b", "é"]))
    assert_same(arrow, driver)
    assert set(driver["import_id"]) == {2}


def test_columns_null_in_every_row_and_no_rows_read_the_same(store: Store) -> None:
    store_charges(store)
    only_nulls = history_query(PERIODS, [SHA_A, HOSTILE_SHA])  # import B: its nullable columns all NULL
    arrow, driver = both_frames(store, only_nulls)
    assert_same(arrow, driver)
    assert driver["cost_amount"].isna().all()
    arrow, driver = both_frames(store, history_query(["2031-01"]))
    assert_same(arrow, driver)
    assert len(driver) == 0


def test_postgres_batches_of_any_size_read_the_same(postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver's batches are typed by the server: one whose rows are all NULL types its columns as any
    other does."""
    store = Store(postgres_schema_url)
    store_charges(store)
    monkeypatch.setattr(adbc, "POSTGRES_BATCH_BYTES", 512)
    assert_same(*both_frames(store, history_query(PERIODS)))
    store.close()


def test_the_history_of_a_store_of_many_charges_reads_through_adbc(store: Store,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A store of fewer charges than ``ADBC_FROM_CHARGES`` is read as driver tuples (ADBC's connection, and
    SQLite's reader process, would cost more than they save); a larger one through ADBC; the same history."""
    store_charges(store)
    read_through_adbc: list[bool] = []
    arrow_frame = adbc.arrow_frame

    def watched(connection: Any, query: sa.Select[Any]) -> pd.DataFrame | None:
        frame = arrow_frame(connection, query)
        read_through_adbc.append(frame is not None)
        return frame

    monkeypatch.setattr(adbc, "arrow_frame", watched)
    small = store.charge_history(PERIODS)
    assert read_through_adbc == []
    monkeypatch.setattr(database, "ADBC_FROM_CHARGES", FIRST_NULLS)
    large = store.charge_history(PERIODS)
    assert read_through_adbc == [True]
    assert small is not None and large is not None
    pd.testing.assert_frame_equal(small["usage"], large["usage"], check_exact=True)
    assert small.imports == large.imports
    usage = large["usage"]
    assert len(usage) == FIRST_NULLS + AWKWARD_ROWS + 50 + 20
    assert usage["unit_cost"].max() == 10**18 - 1


def test_reading_a_sqlite_file_through_adbc_keeps_the_stores_locks(tmp_path: Any) -> None:
    """adbc-driver-sqlite carries its own copy of SQLite: opened in this process, it would drop the locks the
    store's own connections hold (https://sqlite.org/howtocorrupt.html, 2.2.1), and another process could
    reset the WAL under an open read. It reads in a process of its own."""
    path = tmp_path / "recon.db"
    store = Store(f"sqlite:///{path}")
    store_charges(store)
    checkpoint = ("import sqlite3, sys; print(*sqlite3.connect(sys.argv[1], timeout=0)"
                  ".execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone())")
    with store.engine.connect() as reading:
        reading.execute(sa.select(sa.func.count()).select_from(CHARGE)).scalar_one()  # a read of the WAL, open
        with store.engine.connect() as connection:
            assert adbc.arrow_frame(connection, history_query(PERIODS)) is not None
        probe = subprocess.run([sys.executable, "-c", checkpoint, str(path)], capture_output=True, text=True,
                               check=True)
        busy, _, _ = probe.stdout.split()
        assert busy == "1", "another process reset the WAL under the open read"
    store.close()


# ------------------------------------------------------------------------------------ driver tuples

def test_an_in_memory_database_or_an_open_transaction_reads_driver_tuples(tmp_path: Any) -> None:
    memory = Store("sqlite://")
    store_charges(memory)
    with memory.engine.connect() as connection:
        assert adbc.arrow_frame(connection, history_query(PERIODS)) is None
        assert len(adbc.read_frame(connection, history_query(PERIODS))) == FIRST_NULLS + AWKWARD_ROWS + 70
    memory.close()

    store = Store(f"sqlite:///{tmp_path / 'recon.db'}")
    store_charges(store)
    with store.engine.begin() as connection:  # uncommitted rows of its own: ADBC's connection would not see them
        connection.execute(sa.update(CHARGE).values(sku="changed"))
        assert adbc.arrow_frame(connection, history_query(PERIODS)) is None
        assert set(adbc.read_frame(connection, history_query(PERIODS))["sku"]) == {"changed"}
    store.close()


def test_without_the_adbc_drivers_the_rows_are_read_as_driver_tuples(store: Store,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store_charges(store)
    with store.engine.connect() as connection:
        expected = bulk.read_frame(connection, history_query(PERIODS))
    for module in ("adbc_driver_sqlite", "adbc_driver_postgresql.dbapi"):
        monkeypatch.setitem(sys.modules, module, None)  # (an import of it raises ImportError)
    with store.engine.connect() as connection:
        assert adbc.arrow_frame(connection, history_query(PERIODS)) is None
    with store.engine.connect() as connection:
        pd.testing.assert_frame_equal(adbc.read_frame(connection, history_query(PERIODS)), expected, check_exact=True)


def test_sqlite_values_of_another_storage_class_are_not_guessed_at(tmp_path: Any) -> None:
    """Money held as a fraction (SQLite keeps 1.5 as REAL in an INTEGER column): ADBC would make the column
    floats; it is left to the driver path, which refuses it as before. A date that is not YYYY-MM-DD text
    is read by the driver path as before."""
    store = Store(f"sqlite:///{tmp_path / 'recon.db'}")
    store_charges(store)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE usage_charge SET subscription_end = '2026-1-5' WHERE id = 1400")
    arrow, driver = both_frames(store, history_query(PERIODS))
    assert arrow is None
    assert driver["subscription_end"].iloc[1399] == pd.Timestamp("2026-01-05")
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE usage_charge SET subscription_end = NULL, unit_cost = 1.5 WHERE id = 1400")
    with store.engine.connect() as connection:
        assert adbc.arrow_frame(connection, history_query(PERIODS)) is None
        with pytest.raises(TypeError):
            adbc.read_frame(connection, history_query(PERIODS))
    store.close()


def test_a_stored_date_past_datetime64_ns_raises_on_both_paths(tmp_path: Any) -> None:
    """1500-01-01 (a year datetime64[ns] cannot hold) once came back from the driver path as 2084-07-20."""
    store = Store(f"sqlite:///{tmp_path / 'recon.db'}")
    store_charges(store)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE usage_charge SET subscription_start = '1500-01-01' WHERE id = 1400")
    for read in (adbc.arrow_frame, bulk.read_frame):
        with store.engine.connect() as connection, pytest.raises(ValueError, match=r"[Oo]ut of bounds"):
            read(connection, history_query(PERIODS))
    store.close()


# ------------------------------------------------------------------------------------------ URLs

def test_a_postgres_url_means_to_libpq_what_it_means_to_psycopg() -> None:
    url = sa.make_url("postgresql+psycopg://ann%40acme:p%40ss%3Aw%2Frd%20%25%2B%26%3D@[::1]:6543/re%20con"
                      "?options=-c%20search_path%3D%22my%20schema%22&sslmode=disable&application_name=a%2Bb")
    dialect = sa.create_engine(url).dialect
    uri = adbc.postgres_uri(dialect, url)
    assert uri is not None and uri.startswith("postgresql://")
    assert conninfo_to_dict(uri) == {
        "user": "ann@acme", "password": "p@ss:w/rd %+&=", "host": "::1", "port": "6543", "dbname": "re con",
        "options": '-c search_path="my schema"', "sslmode": "disable", "application_name": "a+b",
        "client_encoding": "UTF8"}


def test_only_a_sqlite_file_is_read_through_adbc() -> None:
    assert adbc.sqlite_file(sa.make_url("sqlite://")) is None
    assert adbc.sqlite_file(sa.make_url("sqlite:///:memory:")) is None
    assert adbc.sqlite_file(sa.make_url("sqlite:///file:data.db?mode=ro&uri=true")) is None
    found = adbc.sqlite_file(sa.make_url("sqlite:///data/recon.db"))
    assert found is not None and found.endswith("/data/recon.db") and found.startswith("/")
