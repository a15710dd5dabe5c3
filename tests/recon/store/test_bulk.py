"""What a run's save writes, row by row, on SQLite and PostgreSQL alike, now that its large tables go in bulk
(``recon.store.bulk``: executemany on SQLite, COPY on PostgreSQL; issue 25): every stored row of a run reads
back as the run had it, charges with NULLs, negative and large money, odd text and extreme quantities read
back exactly, the fast paths store exactly what SQLAlchemy's own insert stores, and no value goes through a
per-value conversion any more."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon import fixes
from recon.engine import Reconciliation
from recon.sources import ImportRecord
from recon.store import Store, bulk, tables
from recon.store.database import CHARGE_FIELDS, STORED_DISCREPANCY_COLUMNS
from tests.recon.store.cases import before_fixes

CHARGE, DISCREPANCY = tables.table(tables.UsageCharge), tables.table(tables.Discrepancy)
RUN_IMPORT, IMPORT = tables.table(tables.RunImport), tables.table(tables.ImportFile)
FIX = tables.table(tables.FixProposal)
MONEY_LIMIT = 10**18 - 1  # NUMERIC(18, 4) in units of 1/10,000
USAGE_FILE = "usage-bulk.csv"


def plain(value: Any) -> Any:
    """A frame's value as the database returns it: None for any NA, Python scalars, dates for datetimes."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value.item() if isinstance(value, np.generic) else value


def stored(store: Store, table: sa.Table, *where: Any, order: Any = None) -> list[dict[str, Any]]:
    first_key = table.primary_key.columns.values()[0]
    query = sa.select(table).where(*where).order_by(order if order is not None else first_key)
    with store.engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def expected_charges(charges: pd.DataFrame) -> list[dict[str, Any]]:
    """What the charge history keeps of each usage row (PRODUCT.md 4a), written out row by row."""
    out = []
    for row in charges.to_dict(orient="records"):
        values = {name: plain(row[name]) for name in CHARGE_FIELDS}
        values["line"] = plain(row["source_line"])
        values["period_end"] = values["period_end"] or values["period_start"]
        values["row_type"] = values["row_type"] if values["row_type"] is not None else "usage"
        out.append(values)
    return out


def without(rows: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return [{key: value for key, value in row.items() if key not in names} for row in rows]


# ------------------------------------------------------------------------------------ a whole run

def test_every_row_a_run_stores_reads_back_as_the_run_had_it(store: Store) -> None:
    result = before_fixes()
    run_id = store.save_run(result, by="ann")

    found = result.discrepancies
    rows = stored(store, DISCREPANCY, DISCREPANCY.c.run_id == run_id, order=DISCREPANCY.c.position)
    assert without(rows, "id") == [{"run_id": run_id, "position": position,
                                    **{name: plain(value) for name, value in row.items()}}
                                   for position, row in enumerate(found[list(STORED_DISCREPANCY_COLUMNS)]
                                                                  .to_dict(orient="records"))]

    [usage] = [(position, record) for position, record in enumerate(result.imports) if record.source == "usage"]
    links = stored(store, RUN_IMPORT, RUN_IMPORT.c.run_id == run_id, order=RUN_IMPORT.c.position)
    assert [(link["position"], link["file"], link["rows_loaded"], link["from_history"]) for link in links] == [
        (position, record.file, record.rows_loaded, False) for position, record in enumerate(result.imports)]
    imports = {row["id"]: row for row in stored(store, IMPORT)}
    assert [imports[link["import_id"]]["sha256"] for link in links] == [record.sha256 for record in result.imports]

    usage_id = links[usage[0]]["import_id"]
    charges = stored(store, CHARGE, CHARGE.c.import_id == usage_id)
    assert without(charges, "id", "import_id") == expected_charges(result.charges)
    assert len(stored(store, CHARGE)) == len(result.charges)

    proposed = fixes.propose(found, result.resolved["contracts"], list(result.periods), result.settings,
                             keys=result.keys)
    written = stored(store, FIX, FIX.c.run_id == run_id, order=FIX.c.position)
    assert [row["fix_key"] for row in written] == proposed["fix_key"].tolist()
    for row, (_, want) in zip(written, proposed.iterrows(), strict=True):
        assert {name: row[name] for name in fixes.FIX_COLUMNS} == {name: plain(want[name])
                                                                     for name in fixes.FIX_COLUMNS}


def test_sqlite_keeps_money_as_integers_dates_as_iso_text_and_quantities_as_reals(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'recon.db'}")
    store.save_run(before_fixes())
    with store.engine.connect() as connection:
        charge = connection.exec_driver_sql(
            "SELECT typeof(unit_cost), typeof(cost_amount), typeof(quantity), period_start, typeof(period_start), "
            "typeof(line), typeof(subscription_id) FROM usage_charge").one()
        found = connection.exec_driver_sql(
            "SELECT typeof(variance), typeof(expected_qty), typeof(position) FROM discrepancy").all()
    assert tuple(charge) == ("integer", "null", "real", "2026-01-01", "text", "integer", "null")
    assert set(found) == {("integer", "real", "integer")}
    store.close()


# --------------------------------------------------------------------------- charges, generated

TEXT = st.one_of(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
                 st.sampled_from(["", "\\N", "\\.", "a\n\\.\nb", '"', '""', ",", "\r\n", " x ", "NULL", "é €"]))
MONEY = st.one_of(st.none(), st.integers(-MONEY_LIMIT, MONEY_LIMIT),
                  st.sampled_from([0, -1, 1, MONEY_LIMIT, -MONEY_LIMIT, 2**53 + 1, -(2**53) - 1]))
DAY = st.dates(date(1900, 1, 1), date(2200, 12, 31))
QUANTITY = st.one_of(st.floats(allow_nan=False), st.sampled_from([0.0, -0.0, 0.1, 1 / 3, 5e-324, 1e300, -2.5]))


@st.composite
def charge_rows(draw: st.DrawFn) -> pd.DataFrame:
    count = draw(st.integers(1, 12))
    rows = []
    for line in range(count):
        start = draw(DAY)
        rows.append({
            "client": draw(TEXT), "sku": draw(TEXT), "quantity": draw(QUANTITY), "period_start": start,
            "period_end": draw(st.one_of(st.none(), st.just(start + timedelta(days=29)))),
            "vendor": draw(st.one_of(st.none(), TEXT)), "unit_cost": draw(MONEY),
            "subscription_id": draw(st.one_of(st.none(), TEXT)), "product_name": draw(st.one_of(st.none(), TEXT)),
            "row_type": draw(st.sampled_from([None, "usage", "recurring", "credit", ""])),
            "subscription_start": draw(st.one_of(st.none(), DAY)), "subscription_end": draw(st.one_of(st.none(), DAY)),
            "cost_amount": draw(MONEY), "source_line": draw(st.one_of(st.none(), st.just(line + 2)))})
    column = {name: [row[name] for row in rows] for name in rows[0]}  # (a frame of the dicts: ints and None as floats)
    out = pd.DataFrame({name: pd.array(column[name], dtype="string") for name in
                        ("client", "sku", "vendor", "subscription_id", "product_name", "row_type")})
    out["quantity"] = np.array(column["quantity"], dtype="float64")
    for name in ("period_start", "period_end", "subscription_start", "subscription_end"):
        out[name] = pd.to_datetime(pd.Series(column[name], dtype=object)).astype("datetime64[ns]")
    for name in ("unit_cost", "cost_amount", "source_line"):
        out[name] = pd.array(column[name], dtype="Int64")
    out["source_file"] = pd.Series(USAGE_FILE, index=out.index, dtype="string")
    return out[[*CHARGE_FIELDS, "source_file", "source_line"]]


def with_charges(charges: pd.DataFrame) -> Reconciliation:
    """The small month's run, its usage file replaced by ``charges`` (under a SHA-256 of their own, so each
    example is a new import)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(charges.astype(str)).to_numpy().tobytes()
                            + np.random.default_rng().bytes(8)).hexdigest()
    record = ImportRecord("usage", USAGE_FILE, digest, len(charges), len(charges), 0, 0)
    return dataclasses.replace(before_fixes(), charges=charges, imports=(record,), history_imports=())


def raw_rows(store: Store, import_id: int) -> list[tuple[Any, ...]]:
    """The charges of an import as the driver returns them (on SQLite with each value's storage class)."""
    names = ["line", *CHARGE_FIELDS]
    columns = ", ".join(f'"{name}"' for name in names)
    if store.engine.dialect.name == "sqlite":
        columns += ", " + ", ".join(f'typeof("{name}")' for name in names)
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(
            f"SELECT {columns} FROM usage_charge WHERE import_id = {int(import_id)} ORDER BY id")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(charges=charge_rows())
def test_charges_with_nulls_negative_and_large_money_read_back_exactly(store: Store, charges: pd.DataFrame) -> None:
    result = with_charges(charges)
    run_id = store.save_run(result)
    [import_id] = [row["import_id"] for row in stored(store, RUN_IMPORT, RUN_IMPORT.c.run_id == run_id)]
    kept = stored(store, CHARGE, CHARGE.c.import_id == import_id)
    assert without(kept, "id", "import_id") == expected_charges(charges)

    # the same rows through SQLAlchemy's own insert (what the store did before): stored identically
    with store.engine.begin() as connection:
        reference = connection.execute(sa.insert(IMPORT).values(
            source="usage", file="reference", imported_at=tables.utc_now()).returning(IMPORT.c.id)).scalar_one()
        frame = pd.DataFrame({"import_id": reference, "line": charges["source_line"].to_numpy()})
        for name in CHARGE_FIELDS:
            frame[name] = charges[name].to_numpy() if isinstance(charges[name].dtype, np.dtype) else charges[name].array
        frame["period_end"] = frame["period_end"].where(frame["period_end"].notna(), frame["period_start"])
        frame["row_type"] = frame["row_type"].fillna("usage")
        bulk.generic_insert(connection, CHARGE, frame)
    assert raw_rows(store, import_id) == raw_rows(store, reference)

    history = store.charge_history(sorted({f"{day:%Y-%m}" for day in charges["period_start"]}))
    assert history is not None
    usage = history["usage"]
    drawn = usage[usage["source_file"].str.startswith(f"{USAGE_FILE} (stored import {import_id})")]
    for name in ("unit_cost", "cost_amount"):
        assert drawn[name].dtype == "Int64"
        assert [plain(value) for value in drawn[name]] == [plain(value) for value in charges[name]]
    assert drawn["quantity"].tolist() == charges["quantity"].tolist()


# ------------------------------------------------------------------------------- fast, and found so

def test_a_runs_charges_are_not_converted_value_by_value(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Saving 3,000 charges binds no money value one at a time (SQLAlchemy's per-row path did, twice a row:
    a million-row run spent most of its save there, issue 25)."""
    calls = []
    original = tables.Money.process_bind_param

    def counted(self: tables.Money, value: Any, dialect: Any) -> Any:
        calls.append(value)
        return original(self, value, dialect)

    monkeypatch.setattr(tables.Money, "process_bind_param", counted)
    base = before_fixes().charges
    charges = base.loc[base.index.repeat(3_000)].reset_index(drop=True)
    charges["source_file"] = pd.Series(USAGE_FILE, index=charges.index, dtype="string")
    charges["source_line"] = pd.array(np.arange(2, len(charges) + 2), dtype="Int64")
    charges["cost_amount"] = pd.array(np.arange(len(charges)) * -7, dtype="Int64")
    store.save_run(with_charges(charges))
    assert len(stored(store, CHARGE)) == 3_000
    assert len(calls) < 100


def test_a_column_without_a_fast_path_goes_through_sqlalchemy(store: Store) -> None:
    """Money held as floats (not the Int64 units the engine gives) is not guessed at: SQLAlchemy binds it."""
    frame = pd.DataFrame({"client": pd.Series(["a", "b"], dtype="string"), "sku": pd.Series(["x", "y"], dtype="string"),
                          "quantity": [1.0, 2.0], "period_start": pd.to_datetime(["2026-01-01", "2026-02-01"]),
                          "period_end": pd.to_datetime(["2026-01-31", "2026-02-28"]), "unit_cost": [12_345.0, None]})
    assert bulk.fast_kinds(CHARGE, frame) is None
    assert bulk.fast_kinds(CHARGE, frame.drop(columns="unit_cost")) is not None
    with store.engine.begin() as connection:
        import_id = connection.execute(sa.insert(IMPORT).values(
            source="usage", file="floats", imported_at=tables.utc_now()).returning(IMPORT.c.id)).scalar_one()
        bulk.insert_frame(connection, CHARGE, frame.assign(import_id=import_id))
    assert [(row["unit_cost"], row["period_end"]) for row in stored(store, CHARGE)] == [
        (12_345, date(2026, 1, 31)), (None, date(2026, 2, 28))]


def test_a_failed_bulk_write_is_a_store_error_and_leaves_no_run(store: Store) -> None:
    charges = before_fixes().charges.copy()
    charges["client"] = pd.Series([pd.NA], index=charges.index, dtype="string")  # client is NOT NULL
    charges["source_file"] = pd.Series([USAGE_FILE], index=charges.index, dtype="string")
    with pytest.raises(Exception, match="database write failed") as raised:
        store.save_run(with_charges(charges))
    assert type(raised.value).__name__ == "StoreError"
    assert store.latest_run_id() is None and stored(store, CHARGE) == [] and stored(store, IMPORT) == []


def test_a_column_left_out_gets_its_default_as_with_sqlalchemy(store: Store) -> None:
    frame = pd.DataFrame({"client": pd.Series(["a"], dtype="string"), "sku": pd.Series(["x"], dtype="string"),
                          "quantity": [1.0], "period_start": pd.to_datetime(["2026-01-01"]),
                          "period_end": pd.to_datetime(["2026-01-31"])})
    assert bulk.fast_kinds(CHARGE, bulk.with_defaults(CHARGE, frame)) is not None
    with store.engine.begin() as connection:
        import_id = connection.execute(sa.insert(IMPORT).values(
            source="usage", file="defaults", imported_at=tables.utc_now()).returning(IMPORT.c.id)).scalar_one()
        bulk.insert_frame(connection, CHARGE, frame.assign(import_id=import_id))
    [row] = stored(store, CHARGE)
    assert (row["row_type"], row["vendor"], row["unit_cost"]) == ("usage", None, None)
