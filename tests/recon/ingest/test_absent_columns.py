"""The validation report names a column of an export format that a file lacks, where a finding depends on it
(PRODUCT.md section 9: nothing is dropped silently).

On the code before this file, an optional column deleted in a spreadsheet (or left out of the export) loaded
without a word: ``recon.ingest.normalise`` filled its field all-missing, and the findings changed (a Pax8 file
without ``subscriptionId`` adds up rows of one subscription instead of replacing them in time; without
``endPeriod`` every row runs to the end of its month; without ``type`` no row is a seat). The file is still
used; the report says which column is missing and what that means. A column the format's header does not
have (an older export's, a newer field) is never missed: every fixture and sample file loads without one.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recon.cli import app
from recon.exports.formatting import export_frame
from recon.ingest.directory import inspect_directory
from recon.ingest.files import load_file, load_source, pulled
from recon.ingest.presets import PRESETS, columns_read, fold
from recon.ingest.profile import SourceEntry
from recon.schema import WITHOUT_FIELD
from recon.sources import AbsentColumn
from recon.views import validation_summary
from tests.scenarios import SemanticScenario, run_semantic

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
PAX8 = FIXTURES / "presets" / "pax8-invoice-items.csv"  # the header PRODUCT.md section 2 lists
MICROSOFT = FIXTURES / "real_month" / "microsoft-recon-2026-03.csv"  # Partner Center's full header
NORTHWIND = FIXTURES / "real_month" / "connectwise-agreement-additions-northwind.csv"  # the list view's header
NORTHWIND_ENTRY = SourceEntry(path="additions.csv", kind="contracts", preset="connectwise-additions")
PAX8_ENTRY = SourceEntry(path="pax8.csv", kind="usage", preset="pax8-invoice-items")
MICROSOFT_ENTRY = SourceEntry(path="microsoft.csv", kind="usage", preset="microsoft-nce-recon")
DIRECTORIES = [ROOT / "sample_data", FIXTURES / "presets", FIXTURES / "real_month",
               FIXTURES / "real_exports" / "exports", FIXTURES / "real_exports" / "canonical", FIXTURES / "mini_msp"]
MARK = "which this export format has"  # in every warning of a missing column, in no other


def without(path: Path, column: str) -> bytes:
    """``path``'s CSV with ``column`` deleted (as a spreadsheet deletes it: header and cells)."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    at = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[cell for index, cell in enumerate(row) if index != at]
                                                    for row in rows])
    return out.getvalue().encode()


def test_a_pax8_export_without_subscription_id_says_what_its_absence_means() -> None:
    whole = load_source(PAX8.read_bytes(), "pax8.csv", PAX8_ENTRY)
    loaded = load_source(without(PAX8, "subscriptionId"), "pax8.csv", PAX8_ENTRY)
    assert loaded.report.rows_used == whole.report.rows_used  # still used
    assert loaded.report.absent_columns == (
        AbsentColumn("subscriptionId", "subscription_id", WITHOUT_FIELD["usage"]["subscription_id"]),)
    assert loaded.report.warnings == (
        "no column 'subscriptionId' (subscription_id), which this export format has: rows of one subscription are "
        "added up instead of replacing one another in time, and refunds are not paired with their charges; if the "
        "export left it out, export the file again with it",)
    assert whole.report.absent_columns == () and whole.report.warnings == ()


@pytest.mark.parametrize(("column", "field_name"), [("endPeriod", "period_end"), ("type", "row_type"),
                                                    ("term", "row_type"), ("cost", "unit_cost"),
                                                    ("costTotal", "cost_amount")])
def test_a_pax8_column_a_field_is_derived_from_is_missed_too(column: str, field_name: str) -> None:
    loaded = load_source(without(PAX8, column), "pax8.csv", PAX8_ENTRY)
    assert [(absent.column, absent.field) for absent in loaded.report.absent_columns] == [(column, field_name)]
    means = PRESETS["pax8-invoice-items"].without_column.get(column, WITHOUT_FIELD["usage"][field_name])
    assert loaded.report.warnings[-1].startswith(f"no column {column!r} ({field_name}), {MARK}: {means}")


def test_a_microsoft_export_without_charge_end_date_says_rows_run_to_the_end_of_their_month() -> None:
    loaded = load_source(without(MICROSOFT, "ChargeEndDate"), "microsoft.csv", MICROSOFT_ENTRY)
    assert [(absent.column, absent.field) for absent in loaded.report.absent_columns] == [("ChargeEndDate",
                                                                                           "period_end")]
    assert "each row counts from its start to the end of that month" in loaded.report.warnings[0]
    assert load_source(MICROSOFT.read_bytes(), "microsoft.csv", MICROSOFT_ENTRY).report.warnings == ()


def test_the_report_exports_and_tabulates_the_missing_columns() -> None:
    loaded = load_source(without(PAX8, "endPeriod"), "pax8.csv", PAX8_ENTRY)
    means = WITHOUT_FIELD["usage"]["period_end"]
    assert loaded.report.to_dict()["absent_columns"] == [{"column": "endPeriod", "field": "period_end", "means": means}]
    assert validation_summary([loaded.report])["absent_columns"].tolist() == [f"'endPeriod' (period_end): {means}"]


def test_a_column_only_a_fuller_header_of_the_format_has_is_not_missed() -> None:
    """Partner Center's older header (PRODUCT.md section 2's list) has no SubscriptionStartDate, Publisher
    or ProductQualifiers: a file of it lacks nothing. The same columns missing from a file of the full header are."""
    older = load_source((FIXTURES / "presets" / "microsoft-nce-recon.csv").read_bytes(), "older.csv", MICROSOFT_ENTRY)
    assert older.report.absent_columns == ()
    full = load_source(without(MICROSOFT, "ProductQualifiers"), "microsoft.csv", MICROSOFT_ENTRY)
    assert [(absent.column, absent.field) for absent in full.report.absent_columns] == [("ProductQualifiers",
                                                                                        "row_type")]


def test_a_field_given_by_another_column_is_not_missing() -> None:
    """A profile that maps the field to a column of the file's own (or a column named as the field) reads it."""
    renamed = PAX8.read_text(encoding="utf-8").replace("subscriptionId", "Subscription", 1).encode()
    mapped = SourceEntry(path="pax8.csv", kind="usage", preset="pax8-invoice-items",
                         columns={"subscription_id": "Subscription"})
    assert load_source(renamed, "pax8.csv", mapped).report.warnings == ()
    canonical_name = PAX8.read_text(encoding="utf-8").replace("subscriptionId", "subscription_id", 1).encode()
    assert load_source(canonical_name, "pax8.csv", PAX8_ENTRY).report.absent_columns == ()


def test_a_canonical_file_with_only_its_required_columns_is_not_warned_about() -> None:
    """The canonical format's optional fields have the defaults PRODUCT.md section 2 gives them (a hand-made
    file of the required columns is well formed): only an export format's columns are missed."""
    loaded = load_file(b"client,sku,quantity,period_start\nAcme,M365-BP,3,2026-01-05\n", "usage.csv", "usage")
    assert loaded.report.absent_columns == () and loaded.report.warnings == ()


def test_a_pulled_table_is_not_warned_about_a_field_the_api_left_out() -> None:
    loaded = pulled(load_source(without(PAX8, "subscriptionId"), "pax8:items", PAX8_ENTRY))
    assert loaded.report.absent_columns == () and loaded.report.warnings == ()


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_no_sample_or_fixture_file_lacks_a_column(directory: Path) -> None:
    inspection = inspect_directory(directory)
    assert inspection.reports
    assert [(report.file, report.absent_columns) for report in inspection.reports if report.absent_columns] == []
    assert not [warning for report in inspection.reports for warning in report.warnings if MARK in warning]


def test_the_generated_sample_lacks_no_column(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["sample", "--out", str(tmp_path)]).exit_code == 0
    assert [report.file for report in inspect_directory(tmp_path).reports if report.absent_columns] == []


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_column_a_derived_field_is_declared_from_is_documented_and_read_by_the_rule(preset: str) -> None:
    """``Preset.derived_from`` says which columns a rule reads a field from: hold it to the rule, so a rule
    that stops reading a column (or a name that drifts) fails here, not in a silent load."""
    spec = PRESETS[preset]
    documented = {fold(column) for header in (spec.known_columns, *spec.variants) for column in header}
    declared = {fold(column) for groups in spec.derived_from.values() for names in groups for column in names}
    assert declared <= documented
    for name, groups in spec.derived_from.items():  # the absence of each says what it means
        assert name in WITHOUT_FIELD[spec.kind] or all(names[0] in spec.without_column for names in groups)
    assert {fold(column) for column in spec.without_column} <= {
        fold(column) for names in spec.read_from().values() for group in names for column in group}
    for header in (spec.known_columns, *spec.variants):  # a file of each documented header
        with columns_read() as read:
            spec.prepare(pd.DataFrame({column: pd.Series([""], dtype="string") for column in header}))
        assert declared & {fold(column) for column in header} <= {fold(column) for column in read.found}


def sample_with_pax8_missing(tmp_path: Path, column: str) -> Path:
    data = tmp_path / "data"
    shutil.copytree(FIXTURES / "real_exports" / "exports", data)
    pax8 = data / "pax8_invoice_items_2026-03.csv"
    pax8.write_bytes(without(pax8, column))
    return data


def test_recon_run_and_validate_print_the_missing_column(tmp_path: Path) -> None:
    data = sample_with_pax8_missing(tmp_path, "subscriptionId")
    run = CliRunner().invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store"])
    assert run.exit_code == 0, run.output
    assert ("  warning: pax8_invoice_items_2026-03.csv: no column 'subscriptionId' (subscription_id), which this "
            "export format has: rows of one subscription are added up") in run.output
    validate = CliRunner().invoke(app, ["validate", "--data", str(data)])
    assert "  warning: no column 'subscriptionId' (subscription_id), which this export format has" in validate.output
    whole = CliRunner().invoke(app, ["run", "--data", str(FIXTURES / "real_exports" / "exports"),
                                     "--out", str(tmp_path / "whole"), "--no-store"])
    assert whole.exit_code == 0, whole.output
    assert MARK not in whole.output


# ------------------------------------------------------------------- contract exports: each clause is true

def findings(scenario: SemanticScenario) -> list[tuple[str, ...]]:
    """(period, client, sku, type, variance) of each finding, in that order."""
    found = export_frame(scenario.result.discrepancies)[["period", "client", "sku", "type", "variance"]]
    return sorted(found.astype(str).itertuples(index=False, name=None))


def absent_of(scenario: SemanticScenario) -> list[tuple[str, str, str]]:
    return [(absent.column, absent.field, absent.means) for report in scenario.reports
            for absent in report.absent_columns]


@pytest.mark.parametrize(("name", "column"), [("cw_agreement_total", "id"), ("cw_less_included", "id"),
                                              ("cw_prorated_start", "id"),
                                              ("autotask_adjustment", "contractServiceID")])
def test_without_an_addition_id_or_a_contract_service_id_no_finding_changes_and_none_is_warned(
        name: str, column: str) -> None:
    """A ConnectWise addition is one row with its own id, and an Autotask contract service is its contract
    and its service (a recurring service contract holds a service once; the rule falls back on them): the
    rows of a file without the column are told apart as they are with it (the Autotask scenario's
    adjustment from 3/15 still replaces the month's row). The old warning said they were added up."""
    whole, lacking = run_semantic(name), run_semantic(name, without=(("contracts", column),))
    pd.testing.assert_frame_equal(lacking.result.discrepancies, whole.result.discrepancies)
    pd.testing.assert_frame_equal(lacking.result.keys, whole.result.keys)
    assert absent_of(lacking) == [] and not [warning for report in lacking.reports for warning in report.warnings
                                             if MARK in warning]


@pytest.mark.parametrize(("name", "column", "missed"), [
    ("cw_less_included", "billCustomer", [("2026-03", "BACKUP-SRV", "-150.00")]),
    ("cw_cancelled_addition", "Bill", [])])
def test_without_the_bill_column_every_addition_is_expected_revenue(name: str, column: str,
                                                                    missed: list[tuple[str, str, str]]) -> None:
    """ConnectWise makes an addition billable unless its Bill / billCustomer says otherwise: without the
    column every addition is expected, the courtesy backup marked DoNotBill too (a missed recurring charge
    the clause names); where every addition was billable nothing changes. (It read as billable only where
    the column said so: without it no addition was expected and every invoice line was billed outside the
    contract.)"""
    whole, lacking = run_semantic(name), run_semantic(name, without=(("contracts", column),))
    means = WITHOUT_FIELD["contracts"]["billable"]
    assert absent_of(lacking) == [(column, "billable", means)]
    assert means == ("every line reads as billable: one the PSA marks not to be billed (Do Not Bill, No Charge) is "
                     "expected as revenue, and reads as a missed recurring charge")
    assert findings(whole) == []
    assert {found[3] for found in findings(lacking)} <= {"missed_recurring_charge"}
    assert [(found[0], found[2], found[4]) for found in findings(lacking)] == missed


def test_without_the_prorate_columns_a_prorated_partial_month_is_not_expected() -> None:
    """An addition from 3/15 ConnectWise prorates (prorateCurrentPeriodFlag, proratePrice): without both
    columns it reads as billed in whole months, so its prorated March charge is billed outside the
    contract; without one of them the other still marks it prorated (the clause says "only it")."""
    both = run_semantic("cw_prorated_start",
                        without=(("contracts", "prorateCurrentPeriodFlag"), ("contracts", "proratePrice")))
    means = WITHOUT_FIELD["contracts"]["prorate"]
    assert absent_of(both) == [("prorateCurrentPeriodFlag", "prorate", means), ("proratePrice", "prorate", means)]
    assert means == ("a monthly line only it marks prorated is expected in whole months only: nothing is expected "
                     "for a month the line covers in part, and a prorated charge for it reads as billed outside "
                     "the contract")
    assert findings(both) == [("2026-03", "Alpine Ski House", "MANAGED-WS", "billed_outside_contract", "98.72")]
    for column in ("prorateCurrentPeriodFlag", "proratePrice"):
        one = run_semantic("cw_prorated_start", without=(("contracts", column),))
        assert absent_of(one) == [(column, "prorate", means)] and findings(one) == []


def test_a_list_view_without_prorate_price_says_partial_months_are_not_expected() -> None:
    loaded = load_source(without(NORTHWIND, "Prorate Price"), "additions.csv", NORTHWIND_ENTRY)
    assert loaded.report.warnings == (
        "no column 'Prorate Price' (prorate), which this export format has: a monthly line only it marks "
        "prorated is expected in whole months only: nothing is expected for a month the line covers in part, and "
        "a prorated charge for it reads as billed outside the contract; if the export left it out, export the "
        "file again with it",)


def test_without_less_included_each_addition_expects_its_whole_quantity() -> None:
    """The old clause (every line usage-based) was the Quantity column's: without lessIncluded the quantity
    is read, the included part is not taken off (12, not 10), and the invoice of 10 reads as under-billed."""
    lacking = run_semantic("cw_less_included", without=(("contracts", "lessIncluded"),))
    assert absent_of(lacking) == [("lessIncluded", "quantity", "the included quantity is not taken off: each "
                                   "addition expects its whole quantity, so one billed net of it reads as "
                                   "under-billed")]
    assert findings(lacking) == [("2026-03", "Northwind Traders", "MANAGED-WS", "quantity_under_billed", "-90.00")]


def test_a_list_view_without_cancelled_expects_a_cancelled_addition_in_no_month() -> None:
    """The list view's Addition Status says Cancelled: without the Cancelled date such an addition is not
    expected at all, not even in February before its cancellation on 3/3 (the old clause said cancelled
    lines are still expected)."""
    lacking = run_semantic("cw_cancelled_addition", without=(("contracts", "Cancelled"),))
    means = ("the date an addition was cancelled is not read: one whose status says cancelled is not expected "
             "at all, not even before that date, and one whose status does not is still expected after it")
    assert absent_of(lacking) == [("Cancelled", "end_date", means)]
    assert findings(run_semantic("cw_cancelled_addition")) == []
    assert findings(lacking) == [("2026-02", "Northwind Traders", "EXO-P1", "billed_outside_contract", "16.00")]


def test_an_older_list_view_without_cancelled_date_still_expects_a_cancelled_addition() -> None:
    """The older list view has no Addition Status: without Cancelled Date an addition cancelled on 1/31
    is read as running on (the field's own clause), not as not expected."""
    older = FIXTURES / "presets" / "connectwise-additions.csv"
    entry = SourceEntry(path="additions.csv", kind="contracts", preset="connectwise-additions")
    loaded = load_source(without(older, "Cancelled Date"), "additions.csv", entry)
    assert loaded.report.absent_columns == (AbsentColumn("Cancelled Date", "end_date",
                                                         WITHOUT_FIELD["contracts"]["end_date"]),)
    assert WITHOUT_FIELD["contracts"]["end_date"] == ("a line's own end or cancellation date is not read, so it "
                                                      "is still expected after it")
    cancelled = loaded.frame[loaded.frame["sku"].eq("EDR") & loaded.frame["client"].eq("Ridgeway Accounting")]
    assert cancelled["end_date"].isna().all() and cancelled["billable"].all()
    whole = load_source(older.read_bytes(), "additions.csv", entry).frame
    assert str(whole.loc[cancelled.index, "end_date"].iloc[0].date()) == "2026-01-31"


# ----------------------------------------------------------------------------- vendor exports: the cost

def test_a_pax8_export_without_term_says_a_yearly_cost_counts_as_a_month_s() -> None:
    """Pax8's term says how many months a line's cost is for: without it the annual 72.00 is a month's cost
    and a sound margin reads as a loss (the row_type clause alone did not say so)."""
    lacking = run_semantic("pax8_annual_term", without=(("usage", "term"),))
    assert absent_of(lacking) == [("term", "row_type", "rows are not told apart by their term (trials, one-time "
                                   "fees, arrears, rebates), so some count as the wrong kind, and an annual or "
                                   "multi-year cost counts as one month's: margins read too low (false "
                                   "negative_margin findings)")]
    assert findings(run_semantic("pax8_annual_term")) == []
    assert findings(lacking) == [("2026-03", "Fabrikam Legal", "EDR", "negative_margin", "-645.00")]


def test_a_microsoft_export_without_the_exchange_rate_says_the_catalog_s_cost_stands_in() -> None:
    """Without PCToBCExchangeRate a row priced in USD and billed in EUR has no cost in EUR (as a blank rate
    between two currencies): the catalog's unit cost stands in, here 19.80, a negative_margin the
    catalog's cost makes (the warning says so). The old clause said the USD price is read as the EUR
    cost, which the rule no longer does."""
    lacking = run_semantic("ms_exchange_rate", without=(("usage", "PCToBCExchangeRate"),))
    assert absent_of(lacking) == [("PCToBCExchangeRate", "unit_cost", "a row priced in another currency than it "
                                   "is billed in has no unit cost: the catalog's unit cost is used for it (none "
                                   "where the catalog has none), so its margins and negative_margin findings "
                                   "follow the catalog")]
    assert findings(run_semantic("ms_exchange_rate")) == []
    assert findings(lacking) == [("2026-03", "Lyon Boulangerie", "M365-BP", "negative_margin", "-4.00")]
    whole = run_semantic("ms_exchange_rate").result.keys
    assert whole["vendor_unit_cost"].tolist() == [182_100]  # 19.80 x 0.92 from the row
    assert lacking.result.keys["vendor_unit_cost"].tolist() == [198_000]  # the catalog's


def test_a_microsoft_file_in_one_currency_without_the_rate_reads_as_before() -> None:
    """Rows priced and billed in one currency need no rate: without the column nothing changes."""
    for name in ("ms_seat_change", "ms_cancel_refund"):
        whole, lacking = run_semantic(name), run_semantic(name, without=(("usage", "PCToBCExchangeRate"),))
        pd.testing.assert_frame_equal(lacking.result.discrepancies, whole.result.discrepancies)
        pd.testing.assert_frame_equal(lacking.result.keys, whole.result.keys)


UNSAID_CURRENCY = {
    column: f"the currency a row is {verb} in is not known, so a row whose PCToBCExchangeRate is blank has no unit "
            "cost (a blank rate is 1 only where the row is priced in the currency it is billed in): the catalog's "
            "unit cost is used for it (none where the catalog has none), so its margins and negative_margin "
            "findings follow the catalog"
    for column, verb in (("PricingCurrency", "priced"), ("Currency", "billed"))}


@pytest.mark.parametrize("column", ["PricingCurrency", "Currency"])
def test_a_microsoft_export_without_a_currency_leaves_a_blank_rate_s_cost_unknown(column: str) -> None:
    """Measured (run_semantic(name, without=(("usage", column),)) over every ms_ scenario): only a blank
    PCToBCExchangeRate reads differently. USD prices billed in EUR with the rate blank (ms_exchange_rate_blank):
    without PricingCurrency or Currency the file no longer says the two differ, and the blank rate was read
    as 1, 19.80 USD as 19.80 EUR: a false negative_margin of -4.00, without a word. A file of the header
    that has both columns but lacks one cannot tell: the blank rate is no rate, the catalog's 18.21 EUR
    stands in, and the file is warned about."""
    lacking = run_semantic("ms_exchange_rate_blank", without=(("usage", column),))
    assert findings(run_semantic("ms_exchange_rate_blank")) == [] and findings(lacking) == []
    assert absent_of(lacking) == [(column, "unit_cost", UNSAID_CURRENCY[column])]
    assert lacking.result.keys["vendor_unit_cost"].tolist() == [182_100]  # the catalog's, in EUR
    assert lacking.result.keys["usage_qty"].tolist() == [5.0]  # the row is used: only its cost is unknown
    both = run_semantic("ms_exchange_rate_blank", without=(("usage", "PricingCurrency"), ("usage", "Currency")))
    assert [absent[0] for absent in absent_of(both)] == ["PricingCurrency", "Currency"] and findings(both) == []


@pytest.mark.parametrize("name", ["ms_exchange_rate", "ms_exchange_rate_places", "ms_metered_cost", "ms_seat_change",
                                  "ms_yearly_charge"])
def test_without_a_currency_a_microsoft_file_whose_rates_are_given_reads_as_before(name: str) -> None:
    """A rate written in the row (0.92, 0.923456, 0.846202666, or 1 where the currencies are the same, as
    Microsoft writes it) is used whatever the currencies: without either column nothing changes."""
    whole = run_semantic(name)
    for column in ("PricingCurrency", "Currency"):
        lacking = run_semantic(name, without=(("usage", column),))
        pd.testing.assert_frame_equal(lacking.result.discrepancies, whole.result.discrepancies)
        pd.testing.assert_frame_equal(lacking.result.keys, whole.result.keys)
        assert absent_of(lacking) == [(column, "unit_cost", UNSAID_CURRENCY[column])]


def test_an_older_microsoft_file_without_currency_reads_as_before_and_is_not_warned_about() -> None:
    """PRODUCT.md section 2's header has Currency but neither PricingCurrency nor a rate: nothing compares
    the currencies, a price is the cost as it stands, with or without Currency."""
    older = FIXTURES / "presets" / "microsoft-nce-recon.csv"
    whole = load_source(older.read_bytes(), "older.csv", MICROSOFT_ENTRY)
    lacking = load_source(without(older, "Currency"), "older.csv", MICROSOFT_ENTRY)
    assert lacking.report.absent_columns == () and lacking.report.warnings == ()
    assert whole.frame["unit_cost"].notna().all()
    pd.testing.assert_frame_equal(lacking.frame, whole.frame)


# ------------------------------------------------------------------------- vendor exports: the quantity

BILLABLE_QUANTITY = ("Quantity (the units bought) is read instead: on a metered (consumption) row that is not "
                     "the quantity billed, so that product's usage is wrong: over- and under-billing findings on "
                     "it are false or missed, and so is a loss on its margin")


def test_a_microsoft_export_without_billable_quantity_reads_a_metered_row_s_units_bought() -> None:
    """Microsoft: "Quantity: units bought. Use BillableQuantity for reconciliation"; its example metered
    row has Quantity 1 and BillableQuantity 0.005001. Without BillableQuantity the 2000 GB stored read as
    1: the 2000 billed are over-billed (63.97) and the loss of 0.80 on the margin is missed. It loaded
    without a word."""
    whole = run_semantic("ms_metered_cost")
    lacking = run_semantic("ms_metered_cost", without=(("usage", "BillableQuantity"),))
    assert absent_of(lacking) == [("BillableQuantity", "quantity", BILLABLE_QUANTITY)]
    assert findings(whole) == [("2026-03", "Marseille Architectes", "AZ-TABLES", "negative_margin", "-0.80")]
    assert findings(lacking) == [("2026-03", "Marseille Architectes", "AZ-TABLES", "quantity_over_billed", "63.97")]


@pytest.mark.parametrize("name", ["ms_seat_change", "ms_cancel_refund", "ms_partial_cancel", "ms_unmatched_credit",
                                  "ms_anniversary_cycle", "ms_yearly_charge", "ms_trial"])
def test_without_billable_quantity_seat_rows_read_as_before_and_the_file_is_warned_about(name: str) -> None:
    """Seats, their refunds (the sign is the Subtotal's) and prorated charges carry the same number in
    Quantity: the findings do not change. The file is warned about all the same (a file's rows may be
    metered: the clause names them)."""
    whole, lacking = run_semantic(name), run_semantic(name, without=(("usage", "BillableQuantity"),))
    pd.testing.assert_frame_equal(lacking.result.discrepancies, whole.result.discrepancies)
    pd.testing.assert_frame_equal(lacking.result.keys, whole.result.keys)
    assert absent_of(lacking) == [("BillableQuantity", "quantity", BILLABLE_QUANTITY)]


PAX8_SCENARIOS = ["pax8_seat_decrease", "pax8_prorate", "pax8_rebate_trial", "pax8_one_time", "pax8_annual_term",
                  "pax8_arrears"]


@pytest.mark.parametrize("name", PAX8_SCENARIOS)
def test_without_total_a_pax8_file_reads_as_with_it_and_is_not_warned_about(name: str) -> None:
    """``total`` gives a line's sign, else ``subTotal``, which has the same sign on a line whose quantity
    counts: a seat decrease (pax8_seat_decrease), a prorate, a rebate, a one-time fee, an annual term and
    arrears read the same without it. No warning: nothing changes."""
    whole, lacking = run_semantic(name), run_semantic(name, without=(("usage", "total"),))
    pd.testing.assert_frame_equal(lacking.result.discrepancies, whole.result.discrepancies)
    pd.testing.assert_frame_equal(lacking.result.keys, whole.result.keys)
    assert absent_of(lacking) == [] and not [warning for report in lacking.reports for warning in report.warnings
                                             if MARK in warning]


@pytest.mark.parametrize("path", [PAX8, FIXTURES / "real_month" / "pax8-invoice-items-2026-03.csv"],
                         ids=["presets", "real_month"])
def test_a_pax8_file_without_total_loads_the_same_rows(path: Path) -> None:
    """The presets' file has a prorate credit whose subTotal (-5.66) and total (-6.29) differ; the real
    month's a rebate with subTotal 0.00 and total -23.76 (a cost row: its quantity counts for nothing)."""
    whole = load_source(path.read_bytes(), "pax8.csv", PAX8_ENTRY)
    lacking = load_source(without(path, "total"), "pax8.csv", PAX8_ENTRY)
    cost = whole.frame["row_type"].eq("cost")
    pd.testing.assert_frame_equal(lacking.frame[~cost], whole.frame[~cost])
    assert lacking.report.absent_columns == () and lacking.report.warnings == ()


def test_a_pax8_file_without_total_and_sub_total_reads_a_credit_as_seats_added() -> None:
    """Without both a line has no sign: the 3 seats removed from 3/16 read as 3 added, and the correct
    bill reads as under-billed (and, its quantity short, priced above the contract)."""
    lacking = run_semantic("pax8_seat_decrease", without=(("usage", "total"), ("usage", "subTotal")))
    assert absent_of(lacking) == [("total", "quantity", "credits and seat decreases are not told from charges: "
                                   "their seats read as added, so usage reads too high and correct bills read "
                                   "as under-billed")]
    assert findings(lacking) == [("2026-03", "Fabrikam Legal", "EXO-P1", "price_above_contract", "5.81"),
                                 ("2026-03", "Fabrikam Legal", "EXO-P1", "quantity_under_billed", "-18.19")]


def test_invoice_lines_without_the_agreement_amount_say_the_agreement_s_lines_read_as_not_billed() -> None:
    """Without invoice.agreementAmount an agreement invoice's total is one for receivables only: its
    agreement's additions read as billed nowhere (a missed_recurring_charge each), which the old clause
    left out."""
    lacking = run_semantic("cw_agreement_total", without=(("invoices", "invoice.agreementAmount"),))
    assert absent_of(lacking) == [("invoice.agreementAmount", "line_type", "agreement invoices are not told apart, "
                                   "so their totals are not compared with their agreement's lines, and those lines "
                                   "read as not billed (missed_recurring_charge)")]
    assert findings(lacking) == [("2026-03", "Alpine Ski House", "MANAGED-WS", "missed_recurring_charge", "-225.00"),
                                 ("2026-03", "Northwind Traders", "MANAGED-WS", "missed_recurring_charge", "-450.00")]
