"""Each discrepancy type on a small hand-computed scenario (tests/fixtures/rules/*.txt): the findings
that must fire, with their exact variance, and nothing else (the cases beside them must not fire)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from recon.engine import reconcile
from recon.exports.formatting import export_frame
from recon.money import MONEY_SCALE
from recon.rules import DISCREPANCY_TYPES, FINDING_NAMES, RULES, finding_name
from recon.settings import Settings
from tests.scenarios import SCENARIOS, parse_scenario, run_scenario, scenario_names, scenario_sources


def found_rows(name: str, settings: Settings | None = None) -> list[tuple[str, ...]]:
    result, _ = run_scenario(name, settings)
    exported = export_frame(result.discrepancies)
    return sorted(exported[["period", "client", "sku", "type", "variance"]].itertuples(index=False, name=None))


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_finds_exactly_the_expected_discrepancies(name: str) -> None:
    result, expected = run_scenario(name)
    exported = export_frame(result.discrepancies)
    found = sorted(exported[["period", "client", "sku", "type", "variance"]].itertuples(index=False, name=None))
    assert found == sorted(expected.itertuples(index=False, name=None))


def test_every_discrepancy_type_has_a_scenario() -> None:
    covered = set()
    for name in scenario_names():
        covered |= set(run_scenario(name)[1]["type"])
    assert covered == set(DISCREPANCY_TYPES)


def test_every_discrepancy_type_has_a_name_in_words() -> None:
    assert set(FINDING_NAMES) == set(DISCREPANCY_TYPES)
    assert finding_name("quantity_under_billed") == "Fewer units invoiced than used"
    assert finding_name("some_new_type") == "Some new type"  # a type without a name yet still reads


def test_registry_reads_like_the_spec_in_precedence_order() -> None:
    assert [rule.__name__ for rule in RULES] == [
        "duplicate_charge", "unbilled_usage", "billed_without_usage", "quantity_under_billed",
        "quantity_over_billed", "missed_recurring_charge", "billed_outside_contract",
        "price_below_contract", "price_above_contract", "unbilled_time", "negative_margin",
        "agreement_total_mismatch",
    ]


def test_direction_follows_the_sign_of_the_variance() -> None:
    result, _ = run_scenario("price_below_contract")
    found = result.discrepancies
    assert (found.loc[found["variance"] < 0, "direction"] == "under").all()
    assert (found.loc[found["variance"] > 0, "direction"] == "over").all()


def test_quantity_tolerance_is_a_setting() -> None:
    # With no tolerance at all, the prorated 1.7143 billed as 1.71 becomes a (tiny) under-billing:
    # -(1.7143 - 1.71) x 22.00 = -0.0946.
    rows = found_rows("quantity_under_billed", Settings(quantity_tolerance=Decimal("0")))
    assert ("2026-02", "Gamma Ltd", "M365-BP", "quantity_under_billed", "-0.09") in rows


def test_price_tolerance_is_a_setting() -> None:
    rows = found_rows("price_below_contract", Settings(price_tolerance_pct=Decimal("0.2")))
    assert not [row for row in rows if row[3].startswith("price_")]


def test_negative_margin_is_not_leakage() -> None:
    result, _ = run_scenario("negative_margin")
    assert result.metrics.overall.leakage == 0
    assert len(result.discrepancies) == 1


def test_fingerprint_is_stable_and_unique_per_key_and_type() -> None:
    first, _ = run_scenario("quantity_and_price")
    second, _ = run_scenario("quantity_and_price")
    assert first.discrepancies["fingerprint"].tolist() == second.discrepancies["fingerprint"].tolist()
    assert first.discrepancies["fingerprint"].is_unique


def _adjusted_mismatch(adjustments: list[tuple[str, str, str, str]]) -> list[tuple[str, ...]]:
    """The agreement_total_mismatch scenario (Acme's AG-1 total 400.00 against its lines' 450.00) run with
    the agreement adjustments fixes applied (period, client, agreement, amount)."""
    sections = parse_scenario((SCENARIOS / "agreement_total_mismatch.txt").read_text(encoding="utf-8"))
    frame = pd.DataFrame(adjustments, columns=["period", "client", "agreement_id", "amount"])
    frame["amount"] = pd.array([int(Decimal(value) * MONEY_SCALE) for value in frame["amount"]], dtype="Int64")
    result = reconcile(scenario_sources(sections), adjustments=frame)
    exported = export_frame(result.discrepancies)
    return sorted(exported[["sku", "type", "variance"]].itertuples(index=False, name=None))


@pytest.mark.parametrize(("adjustments", "expected"), [
    # a credit of 50.00 the fix wrote, invoiced inside the total: no mismatch
    ([("2026-02", "Acme Corp", "AG-1", "-50.00")], []),
    # two adjustments together explain the gap
    ([("2026-02", "Acme Corp", "AG-1", "-30.00"), ("2026-02", "Acme Corp", "AG-1", "-20.00")], []),
    # the total falls short by more than the credit: the rest is still a mismatch
    ([("2026-02", "Acme Corp", "AG-1", "-30.00")], [("AGREEMENT-AG-1", "agreement_total_mismatch", "-20.00")]),
    # not carried: a credit larger than the gap, a charge against a shortfall, another month, agreement, client
    ([("2026-02", "Acme Corp", "AG-1", "-80.00")], [("AGREEMENT-AG-1", "agreement_total_mismatch", "-50.00")]),
    ([("2026-02", "Acme Corp", "AG-1", "50.00")], [("AGREEMENT-AG-1", "agreement_total_mismatch", "-50.00")]),
    ([("2026-03", "Acme Corp", "AG-1", "-50.00")], [("AGREEMENT-AG-1", "agreement_total_mismatch", "-50.00")]),
    ([("2026-02", "Acme Corp", "AG-9", "-50.00")], [("AGREEMENT-AG-1", "agreement_total_mismatch", "-50.00")]),
    ([("2026-02", "Beta LLC", "AG-1", "-50.00")], [("AGREEMENT-AG-1", "agreement_total_mismatch", "-50.00")]),
    # Beta's total is exactly its lines: a charge it does not carry changes nothing
    ([("2026-02", "Beta LLC", "AG-2", "10.00")], [("AGREEMENT-AG-1", "agreement_total_mismatch", "-50.00")]),
])
def test_an_agreement_total_carrying_the_applied_adjustments_is_no_mismatch_for_them(
        adjustments: list[tuple[str, str, str, str]], expected: list[tuple[str, ...]]) -> None:
    assert _adjusted_mismatch(adjustments) == expected
