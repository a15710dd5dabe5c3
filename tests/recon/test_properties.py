"""Invariants no hand-made case can cover, checked with hypothesis on generated months of billing:
money is conserved (findings add up to billed minus expected), input order changes nothing, and every
usage row is either used or listed as unmapped."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from recon.engine import reconcile
from recon.ingest.files import load_file
from recon.metrics import counted
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES
from recon.settings import Settings
from recon.sources import combine
from tests.scenarios import DEFAULT_CATALOG

CLIENTS = ("Acme Corp", "Beta LLC", "Gamma Ltd")
VENDOR_NAMES = {"Acme Corp": "ACME CORPORATION", "Beta LLC": "beta.onmicrosoft.com", "Gamma Ltd": "Gamma Ltd"}
SKUS = ("M365-BP", "MANAGED-WS", "PROJECT")
PERIODS = ("2026-01", "2026-02", "2026-03")
EXACT = Settings(quantity_tolerance=Decimal(0), price_tolerance_pct=Decimal(0), price_tolerance_min=Decimal(0),
                 amount_tolerance=Decimal(0))

prices = st.sampled_from(["20.00", "22.00", "22.50", "45.00", "19.99"])
quantities = st.integers(min_value=0, max_value=30)
contract_rows = st.tuples(st.sampled_from(CLIENTS), st.sampled_from(SKUS[:2]), prices,
                          st.one_of(st.none(), quantities), st.sampled_from(["2025-06-01", "2026-02-01"]),
                          st.sampled_from(["", "2026-02-28"]))
usage_rows = st.tuples(st.sampled_from(CLIENTS), st.sampled_from(PERIODS), quantities,
                       st.sampled_from(["01", "10", "20"]))
invoice_rows = st.tuples(st.sampled_from(CLIENTS), st.sampled_from(SKUS), st.sampled_from(PERIODS),
                         st.integers(1, 30), prices)
month = st.fixed_dictionaries({
    "contracts": st.lists(contract_rows, max_size=6), "usage": st.lists(usage_rows, max_size=8),
    "invoices": st.lists(invoice_rows, min_size=1, max_size=10),
})


def to_files(data: dict[str, list[tuple]]) -> dict[str, str]:
    contracts = ["client,sku,unit_price,quantity,start_date,end_date"] + [
        f"{c},{s},{p},{'' if q is None else q},{start},{end}" for c, s, p, q, start, end in data["contracts"]]
    usage = ["client,sku,quantity,period_start,vendor,unit_cost"] + [
        f"{VENDOR_NAMES[c]},MS-OFF-BUS-PREM,{q},{p}-{day},Pax8,19.80" for c, p, q, day in data["usage"]]
    invoices = ["invoice_number,invoice_date,client,sku,quantity,unit_price"] + [
        f"INV-{i},{p}-01,{c},{s},{q},{price}" for i, (c, s, p, q, price) in enumerate(data["invoices"])]
    return {"contracts": "\n".join(contracts), "usage": "\n".join(usage), "invoices": "\n".join(invoices),
            "catalog": DEFAULT_CATALOG}


def reconcile_files(files: dict[str, str], settings: Settings = EXACT):
    loaded = [load_file(text.encode(), f"{kind}.csv", kind) for kind, text in files.items()]
    return reconcile(combine(loaded, (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)), settings)


def shuffled(text: str, seed: int) -> str:
    header, *rows = text.split("\n")
    order = pd.Series(rows, dtype=object).sample(frac=1.0, random_state=seed).tolist()
    return "\n".join([header, *order])


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(month)
def test_findings_add_up_to_billed_minus_expected_per_key(data) -> None:
    result = reconcile_files(to_files(data))
    keys = result.keys.set_index(["period", "client", "sku"])
    gap = keys["billed_amount"] + keys["duplicate_amount"] - keys["expected_amount"]
    variance = counted(result.discrepancies).groupby(["period", "client", "sku"])["variance"].sum()
    explained = variance.reindex(gap.index, fill_value=0)
    assert (explained == gap).all(), pd.DataFrame({"gap": gap, "explained": explained})[explained != gap]


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(month)
def test_run_totals_conserve_money(data) -> None:
    overall = reconcile_files(to_files(data)).metrics.overall
    assert overall.net_variance == overall.billed_revenue - overall.expected_revenue


@hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(month, st.integers(0, 10_000))
def test_input_order_changes_nothing(data, seed) -> None:
    files = to_files(data)
    first = reconcile_files(files, Settings())
    second = reconcile_files({kind: shuffled(text, seed) for kind, text in files.items()}, Settings())
    columns = ["period", "client", "sku", "type", "variance", "fingerprint"]
    pd.testing.assert_frame_equal(first.discrepancies[columns], second.discrepancies[columns])
    assert first.to_dict() == second.to_dict() | {"imports": first.to_dict()["imports"]}


@hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(month, st.lists(st.sampled_from(["Zebra Holdings", "Acme Crop"]), max_size=3))
def test_every_usage_row_is_used_or_unmapped(data, strangers) -> None:
    files = to_files(data)
    files["usage"] += "".join(f"\n{name},MS-OFF-BUS-PREM,3,2026-02-01,Pax8,19.80" for name in strangers)
    files["usage"] += "\nAcme Corp,UNKNOWN-SKU,2,2026-02-01,Pax8,1.00"
    result = reconcile_files(files)
    rows_in = len(files["usage"].split("\n")) - 1
    assert len(result.resolved["usage"]) + len(result.unmapped) + len(result.quarantine) == rows_in
    assert set(result.unmapped["reason"]) <= {"unknown client", "unknown sku", "unknown client and sku"}
    assert not result.discrepancies["client"].isin(strangers).any()
