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


# The browser tour's case: one ConnectWise agreement additions export of one client, uploaded in place of
# the canonical contracts of 40 clients, took every other client's contract lines out of the next run
# with no warning (contracts cover no months, and only months were looked at).
CLIENTS = tuple(f"Client {number:02d}" for number in range(1, 41))


def test_a_replacement_missing_clients_is_a_loss():
    current = [InputFacts("contracts.csv", "contracts", rows=243, ident="c", clients=CLIENTS),
               InputFacts("invoices.csv", "invoices", periods=("2026-10",), rows=900, ident="i", clients=CLIENTS)]
    new = InputFacts("additions.csv", "contracts", ("ConnectWise",), rows=5, ident="n", clients=("Client 07",))
    plan = plan_inputs(current, [new])
    assert [item.name for item in plan.replaced] == ["contracts.csv"]
    assert [loss.describe() for loss in plan.losses] == [
        "the contract lines of 39 of 40 clients (Client 01, Client 02, Client 03 and 36 more)"]
    assert plan.losses[0].clients == tuple(name for name in CLIENTS if name != "Client 07")
    assert plan_inputs(current, [new], added_alongside={"n"}).losses == ()  # added beside: nothing lost


def test_clients_lost_are_per_vendor_like_the_months():
    current = [InputFacts("usage_pax8.csv", "usage", ("Pax8",), ("2026-10",), 295, "p", ("Acme", "Contoso")),
               InputFacts("usage_datto.csv", "usage", ("Datto",), ("2026-10",), 120, "d", ("Fabrikam",))]
    new = InputFacts("pax8.csv", "usage", ("Pax8",), ("2026-10",), 100, "n", ("Acme",))
    assert [loss.describe() for loss in plan_inputs(current, [new]).losses] == [
        "the Pax8 vendor usage rows of 1 of 2 clients (Contoso)"]


def test_clients_spelled_otherwise_are_not_lost():
    current = [InputFacts("contracts.csv", "contracts", rows=2, ident="c", clients=("Acme Corporation", "Contoso"))]
    new = InputFacts("contracts_cw.csv", "contracts", ("ConnectWise",), rows=2, ident="n",
                     clients=("ACME Corp", "Contoso Ltd"))  # the same clients to the engine's name matching
    assert plan_inputs(current, [new]).losses == ()


def test_a_whole_source_lost_is_not_also_said_per_client():
    current = [InputFacts("contracts.csv", "contracts", rows=2, ident="c", clients=("Acme", "Contoso"))]
    new = InputFacts("invoices.csv", "invoices", (), ("2026-10",), 10, "n", ("Acme",))
    assert [loss.describe() for loss in plan_inputs(current, [new], only_new=True).losses] == ["all contracts"]


def test_facts_read_the_distinct_clients():
    frame = pd.DataFrame({"client": pd.array(["Contoso", "Acme", None, "Acme", ""], dtype="string"),
                          "sku": ["A"] * 5})
    assert facts("c.csv", "contracts", frame).clients == ("Acme", "Contoso")
    categorical = frame.assign(client=frame["client"].astype("category").cat.add_categories(["Unused"]))
    assert facts("c.csv", "contracts", categorical).clients == ("Acme", "Contoso")
    assert facts("p.csv", "payments", pd.DataFrame({"invoice_number": ["1"]})).clients == ()
