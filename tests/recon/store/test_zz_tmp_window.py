"""Which stored charges a run reads back (issue 25; docs/semantics.md, "Charge history"): the charges
overlapping its months, and the rows of subscriptions' series (recurring, credit, adjustment with a
subscription id) of the look-back, whose earlier charges count through replacement in time, refunds and
carried days; the other charges of the look-back only as their pairs (client, sku, vendor, product, span).
A year of monthly usage rows is not read back for every month, and the run's result is the same as with
every charge of the look-back read (``wide_history_query``: the query before issue 25, no pairs)."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from recon.engine import PAIR_COLUMN, Reconciliation, reconcile
from recon.ingest.files import load_source
from recon.ingest.profile import SourceEntry
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES
from recon.sources import Sources, combine
from recon.store import Store, database, tables

KINDS = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)
USAGE_HEADER = ("client,sku,quantity,period_start,period_end,vendor,unit_cost,subscription_id,product_name,"
                "row_type,subscription_start,subscription_end,cost_amount\n")
INVOICE_HEADER = "invoice_number,invoice_date,client,sku,quantity,unit_price,amount,period_start,period_end\n"
CONTRACT_HEADER = "client,sku,unit_price,quantity,start_date,end_date,billing_frequency\n"
CHARGE = tables.table(tables.UsageCharge)
IMPORT = tables.table(tables.ImportFile)
RUN = "2026-03"


def wide_history_query(periods: list[str], exclude_sha256: Any = ()) -> sa.Select[Any]:
    """The query before issue 25: every stored charge of the look-back, whatever its row type."""
    months = sorted(periods)
    first = pd.Period(months[0], "M").start_time.date() - pd.Timedelta(days=database.HISTORY_DAYS_BEFORE)
    last = pd.Period(months[-1], "M").end_time.date() + pd.Timedelta(days=database.HISTORY_DAYS_AFTER)
    excluded = sorted({sha for sha in exclude_sha256 if sha})
    query = (sa.select(CHARGE.c.import_id, CHARGE.c.line, *[CHARGE.c[name] for name in database.CHARGE_FIELDS])
             .join(IMPORT, IMPORT.c.id == CHARGE.c.import_id)
             .where(CHARGE.c.period_end >= first, CHARGE.c.period_start <= last)
             .order_by(CHARGE.c.import_id, CHARGE.c.id))
    return query.where(IMPORT.c.sha256.not_in(excluded)) if excluded else query


PAIR_QUERY = database.pair_query


def no_pairs(periods: list[str], exclude_sha256: Any = ()) -> sa.Select[Any]:
    return PAIR_QUERY(periods, exclude_sha256).where(sa.false())


def wide_history(store: Store, own: Sources, periods: list[str]) -> Sources | None:
    """``Store.history_for`` as before issue 25: every charge of the look-back, and no pairs."""
    with mock.patch.object(database, "history_query", wide_history_query), \
            mock.patch.object(database, "pair_query", no_pairs):
        return store.history_for(own, periods)


def usage_file(name: str, rows: list[str]) -> Any:
    return load_source((USAGE_HEADER + "".join(rows)).encode(), name, SourceEntry(path=name, kind="usage"))


def text_file(name: str, kind: str, text: str) -> Any:
    return load_source(text.encode(), name, SourceEntry(path=name, kind=kind))


# ------------------------------------------------------------------ a Datto row and a Microsoft charge

def may_usage() -> Any:
    """A file of May 2025: a Datto usage row of that month (with a subscription id) and a Microsoft
    subscription's charge for the month, the subscription running to the end of 2026 (its life)."""
    return usage_file("may-usage.csv", [
        "Acme Corp,DATTO-SAAS,5,2025-05-01,2025-05-31,Datto,2.00,D-1,SaaS Protection,usage,,,\n",
        "Acme Corp,M365-BP,3,2025-05-01,2025-05-31,Microsoft,19.80,M-1,Business Premium,recurring,"
        "2025-05-01,2026-12-31,\n"])


def may_2025() -> Sources:
    return combine([may_usage()], KINDS)


def march_files() -> list[Any]:
    """March 2026's own files, ten months later: no usage row for either subscription, an invoice of each."""
    return [
        usage_file("march-usage.csv", ["Acme Corp,EXO-P1,1,2026-03-01,2026-03-31,Microsoft,3.60,X-1,"
                                       "Exchange,recurring,,,\n"]),
        text_file("march-invoices.csv", "invoices", INVOICE_HEADER
                  + "INV-1,2026-03-01,Acme Corp,M365-BP,3,22.00,66.00,2026-03-01,2026-03-31\n"
                  + "INV-1,2026-03-01,Acme Corp,DATTO-SAAS,5,3.00,15.00,2026-03-01,2026-03-31\n"
                  + "INV-1,2026-03-01,Acme Corp,EXO-P1,1,4.00,4.00,2026-03-01,2026-03-31\n")]


def march_2026() -> Sources:
    return combine(march_files(), KINDS)


def assert_same_frame(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True), check_exact=True)


def key(result: Reconciliation, sku: str) -> pd.Series:
    keys = result.keys
    return keys[(keys["period"] == RUN) & (keys["client"] == "Acme Corp") & (keys["sku"] == sku)].iloc[0]


def test_a_usage_row_of_ten_months_ago_is_read_back_as_its_pair(store: Store) -> None:
    store.save_run(reconcile(may_2025(), periods=["2025-05"]))
    own = march_2026()
    history = store.history_for(own, [RUN])
    assert history is not None
    # the subscription's charge as stored; then the Datto row as its pair: no quantity, no subscription
    assert history["usage"][["sku", "row_type", "quantity"]].to_numpy().tolist() == [
        ["M365-BP", "recurring", 3.0], ["DATTO-SAAS", "usage", 0.0]]
    assert history["usage"]["subscription_id"].isna().tolist() == [False, True]
    result = reconcile(own, periods=[RUN], history=history)
    # the subscription's charge of May still counts: its quantity carried over March, its life running on
    microsoft = key(result, "M365-BP")
    assert (microsoft["usage_qty"], microsoft["carried_days"]) == (3.0, 31)
    assert result.metrics.overall.carried_days == 31
    # Datto reported the backup in May and not since: March's bill of it is billed without usage (a refund
    # owed), as when May's file is loaded with March's
    datto = key(result, "DATTO-SAAS")
    assert datto["vendor_tracked"] and datto["usage_qty"] == 0.0
    found = result.discrepancies[result.discrepancies["sku"] == "DATTO-SAAS"]
    assert found["type"].tolist() == ["billed_without_usage"]
    together = reconcile(combine([may_usage(), *march_files()], KINDS), periods=[RUN])
    assert_same_frame(found, together.discrepancies[together.discrepancies["sku"] == "DATTO-SAAS"])
    assert result.history_imports == history.imports


def test_a_wider_read_of_the_store_gives_the_same_result(store: Store) -> None:
    """Handed every charge of the look-back (the read before issue 25), the engine finds what it finds from
    ``history_query``'s charges and ``pair_query``'s pairs: the same result, the same imports drawn on."""
    store.save_run(reconcile(may_2025(), periods=["2025-05"]))
    own = march_2026()
    narrow = reconcile(own, periods=[RUN], history=store.history_for(own, [RUN]))
    history = wide_history(store, own, [RUN])
    assert history is not None and len(history["usage"]) == 2
    wide = reconcile(own, periods=[RUN], history=history)
    assert_same_result(narrow, wide)
    assert narrow.history_imports == wide.history_imports


# ------------------------------------------------------------------------- the property: any history

CLIENTS = ("Acme Corp", "Beta LLC")
SKUS = ("M365-BP", "DATTO-SAAS")
ROW_TYPES = ("recurring", "credit", "adjustment", "usage", "one_time", "trial", "cost", "arrears")
# month starts and anniversary days from 15 months before the run's month to two months after it: either
# side of the look-back's first day (400 days before 2026-03-01 is 2025-01-25) and of the window
ANCHORS = [date(2024 + (11 + month) // 12, (11 + month) % 12 + 1, day) for month in range(18) for day in (1, 20)]


def span(start: date, kind: str) -> tuple[date, date]:
    if kind == "month":
        following = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)
    if kind == "cycle":  # an anniversary cycle: the 20th to the 19th of the next month
        return start, (start.replace(day=1) + timedelta(days=32)).replace(day=19)
    if kind == "year":
        return start, start.replace(year=start.year + 1) - timedelta(days=1)
    return start, start


IDENTITY = st.tuples(st.sampled_from(CLIENTS), st.sampled_from(SKUS), st.sampled_from(["", "S1", "S2"]),
                     st.sampled_from(ANCHORS), st.sampled_from(["month", "cycle", "year", "day"]))


@st.composite
def charge_line(draw: st.DrawFn, identities: list[tuple[str, str, str, date, str]], file: str) -> str:
    client, sku, subscription, start, kind = draw(st.sampled_from(identities))
    first, last = span(start, kind)
    row_type = draw(st.sampled_from(ROW_TYPES))
    quantity = draw(st.sampled_from([1, 2, 3, 5, -1, -2] if row_type in ("usage", "adjustment", "arrears")
                                    else [1, 2, 3, 5]))
    cost = draw(st.sampled_from(["", "2.00", "19.80"]))
    # the subscription's life: unknown, from its start, a term, or an end only
    life_start, life_end = draw(st.sampled_from([("", ""), (f"{first}", ""),
                                                 (f"{first}", f"{last + timedelta(days=200)}"),
                                                 ("", f"{last + timedelta(days=60)}")]))
    cost_amount = "-4.00" if row_type == "cost" else ""
    return (f"{client},{sku},{quantity},{first},{last},Vendor,{cost},{subscription},{file},{row_type},"
            f"{life_start},{life_end},{cost_amount}\n")


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[list[str]], list[str], str, bool]:
    """Stored files (rows drawn from a few charge identities, so that files repeat and re-type the same
    charges), the run's own usage rows, its invoices, and whether the run loads the first stored file
    again."""
    identities = draw(st.lists(IDENTITY, min_size=1, max_size=6))
    files = [draw(st.lists(charge_line(identities, f"file {number}"), min_size=1, max_size=6))
             for number in range(draw(st.integers(1, 4)))]
    own = draw(st.lists(charge_line(identities, "own"), min_size=0, max_size=3))
    billed = draw(st.lists(st.tuples(st.sampled_from(CLIENTS), st.sampled_from(SKUS), st.sampled_from([1, 3])),
                           min_size=1, max_size=4))
    invoices = INVOICE_HEADER + "".join(
        f"INV-{number},2026-03-01,{client},{sku},{quantity},10.00,{quantity * 10}.00,2026-03-01,2026-03-31\n"
        for number, (client, sku, quantity) in enumerate(billed))
    return files, own, invoices, draw(st.booleans())


def assert_same_result(narrow: Reconciliation, wide: Reconciliation) -> None:
    for name in ("keys", "discrepancies", "unmapped", "client_matches", "unmatched_credits", "receivables"):
        pd.testing.assert_frame_equal(getattr(narrow, name), getattr(wide, name), check_exact=True, obj=name)
    assert narrow.metrics.overall == wide.metrics.overall
    for name in ("by_period", "by_client", "by_type", "by_vendor"):
        pd.testing.assert_frame_equal(getattr(narrow.metrics, name), getattr(wide.metrics, name), check_exact=True,
                                      obj=name)
    assert narrow.periods == wide.periods


@pytest.fixture(scope="module")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty store (its tables made), copied for each example."""
    path = tmp_path_factory.mktemp("template") / "recon.db"
    Store(f"sqlite:///{path}").close()
    return path


# (no shrinking: a store per example makes it take over five minutes; the failing example is printed whole)
@settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=histories())
def test_the_narrowed_history_gives_the_result_of_the_whole_look_back(store_template: Path,
                                                                      case: tuple[list[list[str]], list[str],
                                                                                  str, bool]) -> None:
    files, own_rows, invoices, again = case
    stored = [usage_file(f"stored-{number}.csv", rows) for number, rows in enumerate(files)]
    with tempfile.TemporaryDirectory(prefix="recon-history-") as scratch:
        path = Path(scratch) / "recon.db"
        path.write_bytes(store_template.read_bytes())
        store = Store(f"sqlite:///{path}")
        try:
            store.save_run(reconcile(combine(stored, KINDS), periods=[RUN]))
            own = combine([usage_file("own-usage.csv", own_rows), text_file("own-invoices.csv", "invoices", invoices),
                           *stored[:1 if again else 0]], KINDS)
            narrow = store.history_for(own, [RUN])
            wide = wide_history(store, own, [RUN])
        finally:
            store.close()
    narrowed, whole = (reconcile(own, periods=[RUN], history=history) for history in (narrow, wide))
    assert_same_result(narrowed, whole)
    # A pair is no charge: it neither replaces a charge of another import nor is replaced, so an import whose
    # charges outside the run's months newer files all repeat is still listed (its pairs are read): the
    # imports drawn on are those of the whole look-back, and those with pairs read.
    listed, before = set(narrowed.history_imports), set(whole.history_imports)
    assert before <= listed
    with_pairs = set(narrow["usage"].loc[narrow["usage"][PAIR_COLUMN], "source_file"]) if narrow is not None else set()
    assert {record.file for record in listed - before} <= with_pairs


# ------------------------------------------------------------------------------------- the migration

def stored_pairs(store: Store) -> list[tuple[Any, ...]]:
    pair = tables.table(tables.UsageChargePair)
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(pair.c.import_id, *[pair.c[name] for name in database.PAIR_FIELDS])
                                  .order_by(pair.c.import_id, pair.c.client, pair.c.sku, pair.c.period_start))
        return [tuple(row) for row in rows]


def test_migration_0009_fills_in_the_pairs_of_the_charges_stored_before(store: Store) -> None:
    """A store of charges from before 0009 gets its pairs from them, the same as storing them writes (the
    subscription's charge has none: it is read back whole); downgrading drops the table."""
    from alembic import command

    from recon.store.database import _alembic_config

    store.save_run(reconcile(may_2025(), periods=["2025-05"]))
    written = stored_pairs(store)
    assert [row[1:3] for row in written] == [("Acme Corp", "DATTO-SAAS")]
    config = _alembic_config()
    with store.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0008_charge_periods_unindexed")
        assert "usage_charge_pair" not in sa.inspect(connection).get_table_names()
    with store.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert stored_pairs(store) == written
    own = march_2026()
    assert key(reconcile(own, periods=[RUN], history=store.history_for(own, [RUN])), "DATTO-SAAS")["vendor_tracked"]
