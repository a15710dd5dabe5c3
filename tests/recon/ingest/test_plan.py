"""What an upload replaces and keeps (issue 22, item 1): the same kind and vendor only."""

from __future__ import annotations

import pandas as pd

from recon.ingest.plan import InputFacts, facts, issuer_of, plan_inputs

CURRENT = (
    InputFacts("contracts.csv", "contracts", rows=40, ident="c"),
    InputFacts("invoices.csv", "invoices", periods=("2026-09", "2026-10"), rows=900, ident="i"),
    InputFacts("usage_pax8.csv", "usage", ("Pax8",), ("2026-09", "2026-10"), 295, "p"),
    InputFacts("usage_datto.csv", "usage", ("Datto",), ("2026-09", "2026-10"), 120, "d"),
    InputFacts("usage_microsoft.csv", "usage", ("Microsoft",), ("2026-09", "2026-10"), 80, "m"),
)


def test_an_upload_replaces_only_the_same_kind_and_vendor():
    new = InputFacts("pax8_october.csv", "usage", ("Pax8",), ("2026-09", "2026-10"), 300, "n")
    plan = plan_inputs(CURRENT, [new])
    assert [item.name for item in plan.replaced] == ["usage_pax8.csv"]
    assert [item.name for item in plan.kept] == ["contracts.csv", "invoices.csv", "usage_datto.csv",
                                                  "usage_microsoft.csv"]
    assert plan.losses == ()
    assert plan.rows == 40 + 900 + 120 + 80 + 300
    assert "replaces 1 file(s) (295 rows: usage_pax8.csv)" in plan.summary()


def test_a_usage_file_naming_no_vendor_replaces_only_its_namesake():
    new = InputFacts("usage_datto.csv", "usage", (), ("2026-10",), 10, "x")
    plan = plan_inputs(CURRENT, [new])
    assert [item.name for item in plan.replaced] == ["usage_datto.csv"]
    assert [loss.describe() for loss in plan.losses] == ["all Datto vendor usage"]  # the new file names no vendor


def test_a_month_missing_from_the_replacement_is_a_loss():
    new = InputFacts("pax8.csv", "usage", ("Pax8",), ("2026-10",), 150, "n")
    plan = plan_inputs(CURRENT, [new])
    assert [loss.describe() for loss in plan.losses] == ["Pax8 vendor usage for 2026-09"]


def test_only_the_new_files_lists_every_source_it_drops():
    new = InputFacts("pax8.csv", "usage", ("Pax8",), ("2026-09", "2026-10"), 300, "n")
    plan = plan_inputs(CURRENT, [new], only_new=True)
    assert plan.kept == ()
    assert {loss.describe() for loss in plan.losses} == {
        "all contracts", "all invoices", "all Datto vendor usage", "all Microsoft vendor usage"}


def test_added_alongside_replaces_nothing():
    new = InputFacts("pax8_extra.csv", "usage", ("Pax8",), ("2026-10",), 5, "n")
    plan = plan_inputs(CURRENT, [new], added_alongside={"n"})
    assert plan.replaced == () and len(plan.kept) == len(CURRENT) and plan.losses == ()


def test_facts_read_vendors_months_and_rows_off_a_frame():
    frame = pd.DataFrame({"vendor": ["Pax8", "Pax8", None],
                          "period_start": pd.to_datetime(["2026-09-01", "2026-10-01", "2026-10-01"])})
    found = facts("u.csv", "usage", frame, ident="s")
    assert found == InputFacts("u.csv", "usage", ("Pax8",), ("2026-09", "2026-10"), 3, "s")
    assert found.describe() == "u.csv (Pax8, 2026-09 to 2026-10, 3 rows)"


def test_a_preset_file_is_its_issuers_whatever_products_it_lists():
    frame = pd.DataFrame({"vendor": ["Microsoft"], "period_start": pd.to_datetime(["2026-10-01"])})
    pulled = facts("pax8@2026-10:usage lines", "usage", frame, issuer_of("pax8-invoice-items"))
    assert pulled.vendors == ("Pax8",)
    assert [item.name for item in plan_inputs(CURRENT, [pulled]).replaced] == ["usage_pax8.csv"]
    assert issuer_of(None) is None and issuer_of("connectwise-time") == "ConnectWise"
