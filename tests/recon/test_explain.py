"""One line of arithmetic per finding (issue 22, item 4): what the Discrepancies page shows beside each
selected finding."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

import recon
from recon.explain import EXPLANATIONS, explain, price_text
from recon.money import MONEY_SCALE
from recon.rules import FINDING_NAMES
from recon.settings import Settings
from recon.status import with_status
from recon.views import WorklistQuery, worklist
from tests.scenarios import SCENARIOS, parse_scenario, scenario_sources

MINI_MSP = Path(__file__).resolve().parents[1] / "fixtures" / "mini_msp"


@pytest.fixture(scope="module")
def found() -> pd.DataFrame:
    return recon.reconcile(recon.load_directory(MINI_MSP)).discrepancies


def test_every_finding_type_has_its_arithmetic():
    assert set(FINDING_NAMES) <= set(EXPLANATIONS)


@pytest.mark.parametrize(("kind", "line"), [
    ("unbilled_usage", "usage 12 x $6.50 = $78.00; invoiced 0"),
    ("quantity_under_billed", "usage 27, invoiced 24: -3 x $22.00 = -$66.00"),
    ("price_below_contract", "invoiced 24 at $20.00, agreed $22.00: 24 x -$2.00 = -$48.00"),
    ("missed_recurring_charge", "contract 1 x $3,200.00 = $3,200.00; invoiced 0"),
    ("billed_without_usage", "invoiced 600 x $0.085 = $51.00; usage 0"),
    ("unbilled_time", "11 billable hours x $150.00 = $1,650.00; invoiced 0"),
])
def test_a_line_per_finding(found: pd.DataFrame, kind: str, line: str):
    rows = found[found["type"] == kind]
    assert line in set(explain(rows))


def test_the_lines_keep_the_index_and_say_the_detail_of_an_unknown_type(found: pd.DataFrame):
    rows = found.head(3).assign(type=["something_new", *found["type"].head(2)], detail=["as the rule said", "", ""])
    lines = explain(rows)
    assert list(lines.index) == list(rows.index) and lines.iloc[0] == "as the rule said"


def test_unit_prices_show_two_places_when_whole_cents():
    assert price_text(220_000, "USD") == "$22.00"
    assert price_text(850, "USD") == "$0.085"
    assert price_text(None, "USD") == "—"


def test_the_worklist_hides_closed_findings_when_asked(found: pd.DataFrame):
    fingerprints = list(found["fingerprint"].head(3))
    resolutions = pd.DataFrame({"fingerprint": fingerprints, "status": ["billed", "disputed", "accepted"]})
    rows = with_status(found, resolutions)
    shown = worklist(rows, WorklistQuery(hide_closed=True))
    assert set(shown["fingerprint"]) == set(found["fingerprint"]) - {fingerprints[0], fingerprints[2]}
    assert len(worklist(rows, WorklistQuery())) == len(found)


def _agreement_total_lines(total: str, adjustments: list[str], currency: str = "USD") -> list[str]:
    """The agreement_total_mismatch rule scenario (Acme's AG-1 additions 10 x 45.00 = 450.00) with AG-1's
    invoice total ``total`` and agreement adjustments the fixes applied to AG-1 in February: the
    explanation of each agreement_total_mismatch found."""
    sections = parse_scenario((SCENARIOS / "agreement_total_mismatch.txt").read_text(encoding="utf-8"))
    sections["invoices"] = sections["invoices"].replace("AGREEMENT-AG-1,1,400.00", f"AGREEMENT-AG-1,1,{total}")
    made = pd.DataFrame({"period": "2026-02", "client": "Acme Corp", "agreement_id": "AG-1",
                         "amount": pd.array([int(Decimal(amount) * MONEY_SCALE) for amount in adjustments],
                                            dtype="Int64")})
    found = recon.reconcile(scenario_sources(sections), Settings().replace(currency=currency),
                            adjustments=made).discrepancies
    return list(explain(found[found["type"] == "agreement_total_mismatch"], currency))


def test_an_agreement_total_without_adjustments_is_explained_by_its_additions():
    assert _agreement_total_lines("400.00", []) == ["agreement invoice total $400.00, its additions expected "
                                                    "$450.00: -$50.00"]


def test_an_agreement_total_carrying_a_credit_says_what_was_expected_of_it():
    # the total carries the 30.00 credit a fix wrote: 450.00 - 30.00 = 420.00 was expected, not "additions 420"
    assert _agreement_total_lines("400.00", ["-30.00"]) == [
        "agreement invoice total $400.00, expected $420.00: its additions $450.00 less $30.00 of agreement "
        "credits on this invoice: -$20.00"]


def test_an_agreement_total_carrying_charges_names_their_sum():
    assert _agreement_total_lines("1500.00", ["30.00", "1000.00"]) == [
        "agreement invoice total $1,500.00, expected $1,480.00: its additions $450.00 plus $1,030.00 of agreement "
        "charges on this invoice: +$20.00"]


@pytest.mark.parametrize(("currency", "line"), [
    ("CHF", "agreement invoice total CHF 400.00, expected CHF 420.00: its additions CHF 450.00 less CHF 30.00 of "
            "agreement credits on this invoice: -CHF 20.00"),
    ("CAD", "agreement invoice total CA$400.00, expected CA$420.00: its additions CA$450.00 less CA$30.00 of "
            "agreement credits on this invoice: -CA$20.00"),
])
def test_the_carried_adjustments_read_back_in_the_runs_currency(currency: str, line: str):
    assert _agreement_total_lines("400.00", ["-30.00"], currency) == [line]
