"""PRODUCT.md section 4a, rule by rule: one scenario per rule in the vendors' and PSAs' own formats
(``tests/fixtures/semantics``, built by ``tests/fixtures/make_semantics.py`` from their documented
columns), each with the findings that must appear and the false ones that must not."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recon.exports.formatting import export_frame
from tests.fixtures import make_semantics
from tests.scenarios import SEMANTICS, run_semantic, semantic_names


def _found(result) -> pd.DataFrame:
    found = export_frame(result.discrepancies)
    return found[["period", "client", "sku", "type", "variance"]].astype(str).reset_index(drop=True)


@pytest.mark.parametrize("name", semantic_names())
def test_scenario_raises_exactly_its_true_findings(name: str) -> None:
    scenario = run_semantic(name)
    found = _found(scenario.result)
    expected = scenario.expected.astype(str).sort_values(["period", "client", "sku", "type"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(found.sort_values(["period", "client", "sku", "type"]).reset_index(drop=True),
                                  expected, check_dtype=False)
    absent = scenario.absent.merge(found, on=["period", "client", "sku", "type"])
    assert absent.empty, absent
    assert scenario.result.quarantine.empty, scenario.result.quarantine[["file", "line", "reason"]]


def test_fixture_files_are_what_the_builder_writes(tmp_path: Path) -> None:
    make_semantics.write(tmp_path, tmp_path / "real_month")
    written = {path.name: path.read_text(encoding="utf-8") for path in tmp_path.glob("*.txt")}
    committed = {path.name: path.read_text(encoding="utf-8") for path in SEMANTICS.glob("*.txt")}
    assert written == committed, "run python tests/fixtures/make_semantics.py (tests/fixtures/semantics is stale)"


# ------------------------------------------------------------------------------ what the scenarios show

def _key(result, period: str, client: str, sku: str) -> pd.Series:
    keys = result.keys
    return keys[(keys["period"] == period) & (keys["client"] == client) & (keys["sku"] == sku)].iloc[0]


def test_an_anniversary_cycle_holds_every_day_of_the_month_with_the_stored_history() -> None:
    key = _key(run_semantic("ms_anniversary_cycle").result, "2026-03", "Contoso Dental", "M365-E3")
    assert key["usage_qty"] == 10.0 and key["carried_days"] == 0


def test_without_the_earlier_file_the_days_before_the_cycle_are_carried_and_counted() -> None:
    result = run_semantic("ms_anniversary_cycle_carried").result
    key = _key(result, "2026-03", "Contoso Dental", "M365-E3")
    assert key["usage_qty"] == 10.0 and key["carried_days"] == 19
    assert result.metrics.overall.carried_days == 19 and result.metrics.overall.carried_keys == 1


def test_a_seat_change_replaces_the_cycle_charge_from_its_day() -> None:
    key = _key(run_semantic("ms_seat_change").result, "2026-03", "Contoso Dental", "M365-BP")
    assert key["usage_qty"] == 11.0968  # (14 x 10 + 17 x 12) / 31, never 10 + 12 - 10 over the same days


def test_the_period_end_basis_counts_the_quantity_on_the_last_day() -> None:
    scenario = run_semantic("ms_seat_change_period_end")
    assert _key(scenario.result, "2026-03", "Contoso Dental", "M365-BP")["usage_qty"] == 12.0
    assert scenario.result.settings.quantity_basis == "period_end"


def test_a_refund_in_full_nets_the_purchase() -> None:
    result = run_semantic("ms_cancel_refund").result
    assert _key(result, "2026-03", "Contoso Dental", "EXO-P1")["usage_qty"] == 0.0
    assert result.unmatched_credits.empty


def test_unmatched_credits_are_reported_and_never_go_below_zero() -> None:
    result = run_semantic("ms_unmatched_credit").result
    credits = result.unmatched_credits.sort_values("unmatched_qty").reset_index(drop=True)
    assert list(credits["unmatched_qty"]) == [2.0, 8.0]
    assert list(credits["sku"]) == ["EXO-P1", "M365-E3"]
    assert _key(result, "2026-03", "Northwind Traders", "EXO-P1")["usage_qty"] == 0.0
    e3 = _key(result, "2026-03", "Northwind Traders", "M365-E3")
    assert e3["usage_qty"] == 6.0 and e3["carried_days"] == 9
    assert result.metrics.overall.unmatched_credits == 2


def test_a_yearly_charge_from_an_earlier_import_counts_at_a_twelfth_of_its_cost() -> None:
    scenario = run_semantic("ms_yearly_charge")
    key = _key(scenario.result, "2026-03", "Contoso Dental", "PBI-PRO")
    assert key["usage_qty"] == 4.0 and key["vendor_unit_cost"] == 100_000  # 120.00 / 12 = 10.00
    assert [record.file for record in scenario.result.history_imports] == ["history-03-usage.csv"]


def test_a_corrected_reexport_replaces_the_stored_charge_instead_of_adding_to_it() -> None:
    result = run_semantic("ms_corrected_reexport").result
    assert _key(result, "2026-03", "Northwind Traders", "M365-E3")["usage_qty"] == 10.0
    assert result.history_imports == ()  # the stored import's only charge is the corrected file's


def test_trial_seats_are_counted_apart() -> None:
    result = run_semantic("ms_trial").result
    key = _key(result, "2026-03", "Contoso Dental", "TEAMS-PREM")
    assert key["usage_qty"] == 0.0 and key["trial_qty"] == round(25 * 20 / 31, 4)
    assert result.metrics.overall.trial_keys == 1


def test_microsoft_cost_is_in_the_billing_currency() -> None:
    key = _key(run_semantic("ms_exchange_rate").result, "2026-03", "Lyon Boulangerie", "M365-BP")
    assert key["vendor_unit_cost"] == 182_100  # ROUNDDOWN(19.80 x 0.92, 2) = 18.21


def test_a_blank_exchange_rate_between_two_currencies_leaves_the_catalog_s_cost() -> None:
    """USD prices billed in EUR with PCToBCExchangeRate blank: the row gives no cost (the blank was read as
    1, 19.80 USD as 19.80 EUR, a false negative_margin of -4.00); the catalog's 18.21 EUR stands in."""
    result = run_semantic("ms_exchange_rate_blank").result
    key = _key(result, "2026-03", "Lyon Boulangerie", "M365-BP")
    assert key["vendor_unit_cost"] == 182_100 and key["catalog_unit_cost"] == 182_100
    assert key["usage_qty"] == 5.0  # the row is used: only its cost is unknown
    assert result.discrepancies.empty


def test_a_blank_exchange_rate_beside_a_blank_currency_cell_leaves_the_catalog_s_cost_and_warns() -> None:
    """USD prices billed in EUR, the row's PricingCurrency cell and its rate blank: nothing says the row is
    priced in the currency it is billed in, so the blank rate is no rate (it was read as 1, 19.80 USD as
    19.80 EUR, a false negative_margin of -4.00); the catalog's 18.21 EUR stands in and the file's report
    counts the row."""
    scenario = run_semantic("ms_exchange_rate_unsaid_currency")
    key = _key(scenario.result, "2026-03", "Nantes Fromagerie", "M365-BP")
    assert key["vendor_unit_cost"] == 182_100 and key["catalog_unit_cost"] == 182_100
    assert key["usage_qty"] == 5.0  # the row is used: only its cost is unknown
    assert scenario.result.discrepancies.empty
    [usage] = [report for report in scenario.reports if report.file.endswith("-usage.csv")]
    assert usage.absent_columns == () and len(usage.warnings) == 1
    assert usage.warnings[0].startswith("1 row(s) with a blank PCToBCExchangeRate leave PricingCurrency or Currency "
                                        "blank")


def test_a_pax8_credit_s_sign_is_its_totals_not_its_quantity() -> None:
    """A seat decrease written with quantity 3 and a negative subTotal and total: the 3 seats come off for
    the 16 days they cover."""
    result = run_semantic("pax8_seat_decrease").result
    assert _key(result, "2026-03", "Fabrikam Legal", "EXO-P1")["usage_qty"] == round(10 - 3 * 16 / 31, 4)


def test_a_product_is_product_id_and_sku_id_and_the_vendor_its_publisher() -> None:
    result = run_semantic("ms_product_sku").result
    assert list(result.unmapped["sku_raw"]) == ["CFQ7TTC0LCHC:0001"]
    assert list(result.unmapped["reason"]) == ["unknown sku"]
    assert _key(result, "2026-03", "Northwind Traders", "BACKUP-365")["vendor"] == "Acronis International GmbH"
    assert _key(result, "2026-03", "Northwind Traders", "M365-E3")["usage_qty"] == 3.0


def test_a_pax8_annual_term_costs_a_twelfth_a_month_and_adds_no_months() -> None:
    result = run_semantic("pax8_annual_term").result
    assert result.periods == ("2026-03",)
    assert _key(result, "2026-03", "Fabrikam Legal", "EDR")["vendor_unit_cost"] == 60_000


def test_a_pax8_prorate_adds_to_the_subscription_and_ends_before_the_first() -> None:
    result = run_semantic("pax8_prorate").result
    assert result.periods == ("2026-03",)
    assert _key(result, "2026-03", "Fabrikam Legal", "EXO-P1")["usage_qty"] == 9.0323


def test_a_rebate_changes_the_cost_and_a_trial_is_apart() -> None:
    key = _key(run_semantic("pax8_rebate_trial").result, "2026-03", "Fabrikam Legal", "M365-BP")
    assert key["usage_qty"] == 12.0 and key["trial_qty"] == round(5 * 12 / 31, 4)
    assert key["vendor_cost_amount"] == 2_138_400  # 237.60 - 23.76


def test_a_pax8_arrears_item_is_the_months_billed_use_and_replaces_the_usage_lines_it_covers() -> None:
    scenario = run_semantic("pax8_arrears")
    result = scenario.result
    globex = _key(result, "2026-02", "Globex LLC", "EMAIL-SEC")
    assert globex["usage_qty"] == 3.0  # not 3 from the lines + 3 from the Arrears item
    assert globex["vendor_cost_amount"] == 103_800  # 3 x 3.46, not twice
    fabrikam = _key(result, "2026-02", "Fabrikam Legal", "EMAIL-SEC")
    assert fabrikam["usage_qty"] == 2.0 and fabrikam["vendor_cost_amount"] == 69_200  # in full, never x 14/28
    usage = result.resolved["usage"]
    assert len(usage) == 28 + 14 + 2  # the lines are kept (evidence), they only stop counting
    assert [record.file for record in result.history_imports] == ["history-02-usage.csv"]

def test_connectwise_agreement_id_is_the_agreements_id() -> None:
    result = run_semantic("cw_less_included").result
    contracts = result.resolved["contracts"]
    assert set(contracts["agreement_id"]) == {"4711"}
    assert _key(result, "2026-03", "Northwind Traders", "MANAGED-WS")["contract_qty"] == 10.0


def test_autotask_rows_replace_one_another() -> None:
    key = _key(run_semantic("autotask_adjustment").result, "2026-03", "Lakeside Veterinary Clinic", "29683450")
    assert key["contract_qty"] == 16.0968 and key["expected_amount"] == 8_853_200


def test_the_evidence_of_a_key_says_its_carried_days_and_trial_seats() -> None:
    from recon.engine import evidence

    carried = evidence(run_semantic("ms_anniversary_cycle_carried").result, "2026-03", "Contoso Dental", "M365-E3")
    assert carried["key"]["carried_days"].iloc[0] == 19
    assert list(carried["usage"]["row_type"]) == ["recurring"]
    with_history = evidence(run_semantic("ms_anniversary_cycle").result, "2026-03", "Contoso Dental", "M365-E3")
    assert with_history["key"]["carried_days"].iloc[0] == 0
    assert with_history["usage"]["source_file"].str.contains(r"^history-").sum() == 1  # February's cycle
    trial = evidence(run_semantic("ms_trial").result, "2026-03", "Contoso Dental", "TEAMS-PREM")
    assert trial["key"]["trial_qty"].iloc[0] == round(25 * 20 / 31, 4)


def test_the_run_report_counts_carried_days_trial_seats_and_unmatched_credits() -> None:
    """Issue 17 items 1 and 3: what ``recon run`` prints (``summary_lines``) says how many days were
    carried from the nearest charge, the trial seats counted apart, and the credits whose charge is not
    loaded; a month whose charges cover every day says nothing of the kind."""
    from recon.exports.report import summary_lines

    carried = summary_lines(run_semantic("ms_anniversary_cycle_carried").result)
    assert "  19 day(s) on 1 key(s) no loaded charge covers carried the nearest charge's quantity (load the " \
           "earlier month's file to see them)" in carried
    trial = summary_lines(run_semantic("ms_trial").result)
    assert ("  trial seats (day-weighted: a seat held half the month counts 0.5), not expected to be billed: "
            "16.13 on 1 key(s)") in trial  # 25 seats x 20 / 31 days
    unmatched = summary_lines(run_semantic("ms_unmatched_credit").result)
    assert "  2 credit row(s) refund a charge that is not among the loaded rows (unmatched_credits.csv)" in unmatched
    assert not any("carried" in line or "credit row" in line
                   for line in summary_lines(run_semantic("ms_anniversary_cycle").result))


def test_the_overview_line_counts_trial_seats_carried_days_and_unmatched_credits() -> None:
    """Issue 17 item 3: trial seats are counted apart on a line under the Overview's cards (with the days
    carried and the unmatched credits); a month with none of them has no such line."""
    from recon.views import usage_note_text

    def line(name: str) -> str:
        return usage_note_text(run_semantic(name).result.metrics.overall)

    assert line("ms_trial") == ("Trial seats not expected to be billed (day-weighted: a seat held half the month "
                                "counts 0.5): 16.13 on 1 client-product-month(s)")  # 25 seats x 20 / 31 days
    assert line("ms_unmatched_credit") == ("9 day(s) carried from the nearest charge · 2 credit(s) refund a charge "
                                           "not loaded")
    assert line("ms_anniversary_cycle") == ""
