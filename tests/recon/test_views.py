"""recon.views: filtered views equal the run when nothing is filtered, and narrow it exactly when
something is; rankings, work lists, receivables lists and the mapping queue."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import recon
from recon import views
from recon.money import display_money

MINI_MSP = Path(__file__).resolve().parents[1] / "fixtures" / "mini_msp"


@pytest.fixture(scope="module")
def run() -> recon.Reconciliation:
    return recon.reconcile(recon.load_directory(MINI_MSP))


def test_unfiltered_view_is_the_run(run):
    view = views.filter_run(run)
    assert view.metrics.overall == run.metrics.overall
    assert view.periods == run.periods
    assert len(view.discrepancies) == len(run.discrepancies)
    pd.testing.assert_frame_equal(view.metrics.by_period, run.metrics.by_period)


def test_options_list_every_client_manager_and_vendor(run):
    options = views.filter_options(run)
    assert options.periods == ("2026-01", "2026-02", "2026-03", "2026-04")
    assert options.clients == ("Acme Corporation", "Birch Dental LLC", "Cobalt Logistics",
                               "Delta Legal Partners", "Evergreen Clinic")
    assert options.account_managers == ("Dana Lee", "Priya Shah", "Sam Ortiz")
    # BACKUP-GB is billed in April without usage: its vendor still comes from the catalog
    assert options.vendors == (views.NO_VENDOR, "Datto", "Pax8", "SentinelOne")


def test_labels_kept_by_the_caller_give_the_same_view(run):
    """``key_labels`` made once and handed to ``filter_options`` and ``filter_run`` (as the dashboard keeps
    them per run) give what labelling the keys afresh gives."""
    labels = views.key_labels(run)
    assert views.filter_options(run, labels) == views.filter_options(run)
    kept = views.filter_run(run, views.Filters(account_managers=("Dana Lee",)), labels=labels)
    fresh = views.filter_run(run, views.Filters(account_managers=("Dana Lee",)))
    pd.testing.assert_frame_equal(kept.keys, fresh.keys)
    pd.testing.assert_frame_equal(kept.discrepancies, fresh.discrepancies)
    assert kept.metrics.overall == fresh.metrics.overall


def test_key_labels_read_categorical_columns_as_text(run):
    """A categorical column (as the engine's keys carry vendor, product and manager names) becomes the
    same text, missing values included, as ``astype("string")`` makes of it."""
    column = pd.Series(["b", None, "a", "b", None], dtype="category", name="vendor")
    pd.testing.assert_series_equal(views._text(column), column.astype("string"))
    keys = run.keys.assign(vendor=run.keys["vendor"].astype("category"),
                           account_manager=run.keys["account_manager"].astype("category"))
    labelled = views.labelled_keys(recon.Reconciliation(**{**run.__dict__, "keys": keys}))
    expected = views.labelled_keys(run)
    pd.testing.assert_frame_equal(labelled.drop(columns=["vendor", "account_manager"]),
                                  expected.drop(columns=["vendor", "account_manager"]))
    pd.testing.assert_series_equal(labelled["vendor"], expected["vendor"])
    pd.testing.assert_series_equal(labelled["account_manager"], expected["account_manager"])


def test_client_filter_keeps_only_that_client(run):
    view = views.filter_run(run, views.Filters(clients=("Acme Corporation",)))
    assert set(view.discrepancies["client"]) == {"Acme Corporation"}
    assert set(view.receivables["client"]) == {"Acme Corporation"}
    acme = run.metrics.by_client.set_index("client").loc["Acme Corporation"]
    assert view.metrics.overall.leakage == int(acme["leakage"])
    assert view.metrics.overall.billed_revenue == int(acme["billed_revenue"])


def test_filters_partition_the_run(run):
    """Summed over every account manager, the filtered leakage is the run's leakage, to the cent."""
    options = views.filter_options(run)
    per_manager = [views.filter_run(run, views.Filters(account_managers=(manager,)))
                   for manager in options.account_managers]
    total = sum(view.metrics.overall.leakage for view in per_manager)
    assert total == run.metrics.overall.leakage
    assert sum(len(view.discrepancies) for view in per_manager) == len(run.discrepancies)


def test_period_range_and_vendor_filter(run):
    view = views.filter_run(run, views.Filters(period_from="2026-02", period_to="2026-03", vendors=("Pax8",)))
    assert view.periods == ("2026-02", "2026-03")
    assert set(view.discrepancies["period"]) <= {"2026-02", "2026-03"}
    assert set(view.discrepancies["vendor"]) == {"Pax8"}
    assert set(view.metrics.by_period["period"]) == {"2026-02", "2026-03"}


def test_a_range_with_no_data_gives_zeros_not_an_error(run):
    view = views.filter_run(run, views.Filters(period_from="2030-01"))
    assert view.metrics.overall.keys == 0
    assert view.metrics.overall.leakage == 0
    assert view.metrics.overall.leakage_rate is None
    assert view.discrepancies.empty


def test_reversed_range_is_refused_with_a_clear_message():
    with pytest.raises(views.FilterError, match="2026-04 is after 2026-01"):
        views.Filters(period_from="2026-04", period_to="2026-01")


def test_view_does_not_mutate_the_run(run):
    before = run.discrepancies.copy()
    views.filter_run(run, views.Filters(clients=("Acme Corporation",)))
    pd.testing.assert_frame_equal(run.discrepancies, before)
    assert "product" not in run.keys


def test_resolutions_give_status_and_recovered(run):
    under = run.discrepancies[run.discrepancies["type"] == "unbilled_usage"].iloc[0]
    resolutions = pd.DataFrame({"fingerprint": [under["fingerprint"]] * 2, "status": ["disputed", "billed"],
                                "note": ["first look", "invoiced INV-2001"]})
    view = views.filter_run(run, resolutions=resolutions)
    row = view.discrepancies.set_index("fingerprint").loc[under["fingerprint"]]
    assert (row["status"], row["note"]) == ("billed", "invoiced INV-2001")  # the latest resolution wins
    assert set(view.discrepancies["status"]) == {"open", "billed"}
    assert view.metrics.overall.recovered == abs(int(under["variance"]))


def test_top_clients_ranks_money_at_stake(run):
    ranked = views.top_clients(run.metrics.by_client, limit=2)
    assert list(ranked["client"]) == ["Cobalt Logistics", "Acme Corporation"]
    assert (ranked["at_stake"] == ranked["leakage"] + ranked["overcharge"]).all()


def test_top_findings_split_under_and_over_without_informational(run):
    found = views.filter_run(run).discrepancies
    top = views.top_findings(found, limit=2)
    assert list(top["direction"]) == ["under", "under", "over", "over"]
    assert "negative_margin" not in set(top["type"])
    assert top["variance"].iloc[0] == found.loc[found["type"] != "negative_margin", "variance"].min()


@pytest.mark.parametrize(("query", "expected_types"), [
    (views.WorklistQuery(types=("unbilled_usage",)), {"unbilled_usage"}),
    (views.WorklistQuery(directions=("over",)), {"duplicate_charge", "billed_outside_contract",
                                                  "quantity_over_billed", "price_above_contract",
                                                  "billed_without_usage"}),
    (views.WorklistQuery(text="cobalt"), {"unbilled_time", "missed_recurring_charge"}),
    (views.WorklistQuery(min_amount=1_000_000, include_informational=False),
     {"duplicate_charge", "billed_outside_contract", "unbilled_time", "missed_recurring_charge",
      "price_above_contract"}),
])
def test_worklist_narrows(run, query, expected_types):
    rows = views.worklist(views.filter_run(run).discrepancies, query)
    assert set(rows["type"]) == expected_types


def test_worklist_orders_by_impact_by_default(run):
    rows = views.worklist(views.filter_run(run).discrepancies)
    sizes = rows["variance"].abs().tolist()
    assert sizes == sorted(sizes, reverse=True)
    with pytest.raises(views.FilterError, match="unknown sort order"):
        views.WorklistQuery(sort_by="colour")


def test_receivables_lists(run):
    book = views.filter_run(run).receivables
    aging = views.aging_table(book)
    assert list(aging["aging_bucket"]) == ["current", "1-30", "31-60", "61-90", "90+"]
    assert int(aging["balance"].sum()) == run.metrics.overall.ar_balance
    overdue = views.overdue_invoices(book)
    assert list(overdue["invoice_number"]) == ["INV-1007", "INV-1013", "INV-1014"]
    short = views.short_paid_invoices(book)
    assert list(short["invoice_number"]) == ["INV-1007"]
    assert display_money(int(short["balance"].iloc[0])) == "$120.00"


def test_mapping_queue_groups_rows_into_decisions(run):
    queue = views.mapping_queue(run.unmapped)
    first = queue.iloc[0]
    assert (first["client_raw"], first["suggestion"]) == ("Cobalt Logistcs Inc", "Cobalt Logistics")
    assert first["rows"] == 4
    assert first["where"] == "usage.csv:22-25"
    assert queue["rows"].sum() == len(run.unmapped)


def test_rejected_suggestion_is_not_offered_again(run):
    rejected = pd.DataFrame({"name": ["Cobalt Logistcs Inc"], "client": ["Cobalt Logistics"]})
    queue = views.mapping_queue(run.unmapped, rejected).set_index("client_raw")
    assert pd.isna(queue.loc["Cobalt Logistcs Inc", "suggestion"])


def test_a_rejection_is_honoured_whatever_the_case_it_was_typed_in(run):
    """One rule for rejected suggestions (``identity.without_rejected``): the queue compared names exactly
    while the store folded their case, so a rejection stored as typed came back in the queue (issue 19)."""
    rejected = pd.DataFrame({"name": ["cobalt logistcs inc "], "client": ["Cobalt Logistics"]})
    queue = views.mapping_queue(run.unmapped, rejected).set_index("client_raw")
    assert pd.isna(queue.loc["Cobalt Logistcs Inc", "suggestion"])
    assert pd.isna(queue.loc["Cobalt Logistcs Inc", "suggestion_score"])


def test_import_report_balances(run):
    report = views.import_report(run.imports)
    assert report["balanced"].all()
    usage = report.set_index("source").loc["usage"]
    assert (usage["rows_in"], usage["rows_loaded"], usage["rows_quarantined"]) == (39, 37, 2)


def test_names_for_mapping_choices(run):
    assert "Cobalt Logistics" in views.client_names(run)
    assert "Cobalt Logistcs Inc" not in views.client_names(run)
    assert {"M365-BP", "LABOR", "PHONE-SUP"} <= set(views.sku_names(run))


@pytest.mark.parametrize(("units", "currency", "signed", "text"), [
    (-12_345_600, "USD", False, "-$1,234.56"),
    (1_200_000, "EUR", True, "+€120.00"),
    (0, "GBP", True, "£0.00"),
    (50_000, "CHF", False, "CHF 5.00"),
    (None, "USD", False, "—"),
    (5, "USD", False, "$0.00"),
])
def test_display_money(units, currency, signed, text):
    assert display_money(units, currency, signed=signed) == text


@pytest.mark.parametrize(("name", "kind"), [
    ("contracts.csv", "contracts"), ("usage_pax8_2026-03.csv", "usage"), ("usage.xlsx", "usage"),
    ("Invoices.CSV", "invoices"), ("time_entries-q1.csv", "time_entries"), ("client_aliases.csv", "client_aliases"),
    ("export (3).csv", None),
])
def test_guess_kind_from_the_file_name(name, kind):
    assert views.guess_kind(name) == kind


def test_mappings_are_added_without_touching_the_original():
    empty = recon.Mappings()
    once = views.with_client_alias(empty, "Cobalt Logistcs Inc", "Cobalt Logistics")
    twice = views.with_client_alias(once, "cobalt logistcs inc", "Cobalt Freight")
    assert empty.client_aliases.empty
    assert list(twice.client_aliases["client"]) == ["Cobalt Freight"]  # the later decision replaces the earlier
    skus = views.with_sku_mapping(empty, "MS-VISIO-P2", "VISIO")
    assert list(skus.sku_map["sku"]) == ["VISIO"] and empty.sku_map.empty


def test_a_confirmed_alias_changes_the_run(run):
    mappings = views.with_client_alias(recon.Mappings(), "Cobalt Logistcs Inc", "Cobalt Logistics")
    again = recon.reconcile(recon.load_directory(MINI_MSP), mappings=mappings)
    assert len(again.discrepancies) == len(run.discrepancies) + 1
    assert len(again.unmapped) == len(run.unmapped) - 4


def test_worklist_totals_and_top_products(run):
    found = views.filter_run(run).discrepancies
    totals = views.worklist_totals(found)
    assert totals == {"findings": 14, "actionable": 10, "informational": 4, "under": run.metrics.overall.leakage,
                      "over": run.metrics.overall.overcharge}
    products = views.top_products(run.metrics.by_vendor, limit=2)
    assert list(products["sku"]) == ["MANAGED-SVC", "LABOR"]


def test_the_change_against_the_previous_period_reads_leakage_as_a_loss(run):
    by_period = run.metrics.by_period
    change = views.period_change(by_period, "leakage")
    assert (change.period, change.previous) == ("2026-04", "2026-03")
    assert change.change == -(int(by_period["leakage"].iloc[-1]) - int(by_period["leakage"].iloc[-2]))
    assert views.period_change(by_period.iloc[:1], "leakage") is None
    assert (views.as_read(by_period)["leakage"] == -by_period["leakage"]).all()
    assert (views.as_read(by_period)["overcharge"] == by_period["overcharge"]).all()


def test_validation_summary_and_table():
    sources = recon.load_directory(MINI_MSP)
    summary = views.validation_summary(sources.reports, sources.imports).set_index("file")
    usage = summary.loc["usage.csv"]
    assert (usage["rows_in"], usage["rows_used"], usage["rows_quarantined"]) == (39, 37, 2)
    assert usage["balanced"] and usage["failed"] == 2 and len(usage["sha256"]) == 64
    table = views.validation_table(sources.reports)
    failed = table[~table["success"]]
    assert set(failed["file"]) == {"usage.csv", "invoices.csv"}
    assert table["success"].iloc[: len(failed)].eq(False).all()  # failed expectations first


def test_margin_by_product_and_receivables_by_client(run):
    evergreen = views.filter_run(run, views.Filters(clients=("Evergreen Clinic",)))
    margins = views.margin_by_product(evergreen.keys)
    first = margins.iloc[0]
    assert (first["vendor"], first["product"]) == ("Pax8", "Microsoft 365 Business Premium")
    assert first["gross_margin"] < 0  # billed 18.00 against a cost of 19.80
    assert int(margins["billed_revenue"].sum()) == evergreen.metrics.overall.billed_revenue
    owed = views.receivables_by_client(views.filter_run(run).receivables)
    assert list(owed["client"][:2]) == ["Cobalt Logistics", "Delta Legal Partners"]
    assert int(owed["balance"].sum()) == run.metrics.overall.ar_balance
    assert int(owed["overdue"].sum()) == run.metrics.overall.overdue_balance
