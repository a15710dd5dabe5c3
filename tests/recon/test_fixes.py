"""recon.fixes: the PSA change proposed for each finding (one scenario file per case, ``tests/fixtures/fixes``),
its invariants, and the verdict of a later run on a fix applied earlier."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recon import fixes
from recon.engine import reconcile
from recon.ingest.directory import load_directory
from recon.money import format_units
from recon.settings import Settings
from tests.scenarios import FIXTURES, parse_scenario, scenario_sources

SCENARIOS = sorted(path.stem for path in (FIXTURES / "fixes").glob("*.txt"))
SHOWN = ["period", "client", "sku", "kind", "agreement_id", "before_qty", "after_qty", "amount", "monthly_change",
         "effective_date"]


def scenario(name: str, chosen: Settings | None = None) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """(proposed fixes, expected fixes, the result) of ``tests/fixtures/fixes/<name>.txt``."""
    sections = parse_scenario((FIXTURES / "fixes" / f"{name}.txt").read_text(encoding="utf-8"))
    result = reconcile(scenario_sources({k: v for k, v in sections.items() if k != "fixes"}), chosen)
    proposed = fixes.propose(result.discrepancies, result.resolved["contracts"], list(result.periods), result.settings,
                             keys=result.keys)
    expected = pd.read_csv(io.StringIO(sections["fixes"]), dtype=str, keep_default_na=False)
    return proposed, expected, result


def as_text(proposed: pd.DataFrame) -> pd.DataFrame:
    """The columns the scenario files state, written the way they write them."""
    def number(values: pd.Series) -> pd.Series:
        return values.map(lambda value: "" if pd.isna(value) else f"{value:g}")

    out = proposed.assign(
        before_qty=number(proposed["before_qty"]), after_qty=number(proposed["after_qty"]),
        amount=format_units(proposed["amount"]), monthly_change=format_units(proposed["monthly_change"]),
        effective_date=proposed["effective_date"].dt.strftime("%Y-%m-%d"),
        agreement_id=proposed["agreement_id"].fillna(""))
    return out[SHOWN].astype(str).reset_index(drop=True)


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_scenario_proposes_exactly_its_fixes(name: str) -> None:
    proposed, expected, _ = scenario(name)
    pd.testing.assert_frame_equal(as_text(proposed), expected[SHOWN], obj=name)


def test_a_fix_carries_its_finding_and_says_what_and_why() -> None:
    proposed, _, result = scenario("quantity_change")
    finding = result.discrepancies.iloc[0]
    assert set(proposed["fingerprint"]) == {finding["fingerprint"]}
    assert proposed["finding_type"].tolist() == ["quantity_under_billed"] * 2
    assert proposed["variance"].tolist() == [-440_000, -440_000]
    assert proposed["description"].tolist() == [
        "M365-BP: quantity 25 -> 27 from 2026-03-01",
        "M365-BP: one-time charge for 2026-02 (quantity under billed)"]
    assert proposed["reason"].iloc[0] == ("quantity under billed in 2026-02: expected 27, contract 25, billed 25 "
                                          "(-$44.00)")
    assert proposed["origin"].tolist() == ["contracts.csv"] * 2
    assert proposed["fix_key"].is_unique and proposed["fix_key"].str.fullmatch(r"[0-9a-f]{16}").all()


def test_a_price_finding_says_prices() -> None:
    proposed, _, _ = scenario("one_time")
    reason = proposed.loc[proposed["finding_type"].eq("price_below_contract"), "reason"].iloc[0]
    assert reason == ("price below contract in 2026-02: billed 10 at $40.0000, contract price $45.0000 (-$50.00)")


def test_where_the_psa_prorates_the_line_changes_from_the_findings_own_period_instead_of_a_charge() -> None:
    proposed, _, _ = scenario("quantity_change", Settings(fix_effective="finding_period"))
    columns = ["kind", "after_qty", "amount", "monthly_change", "effective_date"]
    assert as_text(proposed)[columns].to_numpy().tolist() == [
        ["change_quantity", "27", "44.00", "44.00", "2026-02-01"]]


def test_a_line_the_psa_does_not_prorate_keeps_the_next_period_and_the_charge() -> None:
    _, _, result = scenario("quantity_change")
    contracts = result.resolved["contracts"].assign(prorate=False)
    proposed = fixes.propose(result.discrepancies, contracts, list(result.periods),
                             Settings(fix_effective="finding_period"))
    assert proposed["kind"].tolist() == ["change_quantity", "charge"]
    assert set(proposed["effective_date"].dt.date) == {date(2026, 3, 1)}


def test_the_psa_line_ids_come_from_the_contract_rows() -> None:
    _, _, result = scenario("quantity_change")
    contracts = result.resolved["contracts"].assign(service_id=pd.Series(["101", "102"], dtype="string"),
                                                    agreement_id=pd.Series(["11", "11"], dtype="string"))
    proposed = fixes.propose(result.discrepancies, contracts, list(result.periods))
    assert proposed[["kind", "agreement_id", "line_id"]].to_numpy().tolist() == [
        ["change_quantity", "11", "101"], ["charge", "11", "101"]]


def test_a_fix_keeps_the_product_its_contract_row_named_before_the_sku_mapping() -> None:
    """The agreement line names Acme's seats MS-OFF-BUS-PREM, which the catalog's vendor_sku list makes M365-BP:
    the run reads the line as M365-BP, and its fixes keep the export's name of the line's product (``line_sku``,
    what write-back compares the PSA line with)."""
    sections = parse_scenario((FIXTURES / "fixes" / "quantity_change.txt").read_text(encoding="utf-8"))
    sections["contracts"] = sections["contracts"].replace("Acme Corp,M365-BP,", "Acme Corp,MS-OFF-BUS-PREM,")
    result = reconcile(scenario_sources({k: v for k, v in sections.items() if k != "fixes"}))
    contracts = result.resolved["contracts"]
    assert contracts[["sku", "sku_raw"]].to_numpy().tolist() == [["M365-BP", "MS-OFF-BUS-PREM"],
                                                                 ["MANAGED-WS", "MANAGED-WS"]]
    proposed = fixes.propose(result.discrepancies, contracts, list(result.periods))
    assert proposed[["kind", "sku", "line_sku"]].to_numpy().tolist() == [
        ["change_quantity", "M365-BP", "MS-OFF-BUS-PREM"], ["charge", "M365-BP", "MS-OFF-BUS-PREM"]]
    assert fixes.Fix.from_row(proposed.iloc[0].to_dict()).line_sku == "MS-OFF-BUS-PREM"


def test_a_setting_outside_its_vocabulary_is_refused() -> None:
    with pytest.raises(Exception, match="fix_effective must be next_period or finding_period"):
        Settings(fix_effective="yesterday")
    assert Settings.from_dict(Settings(fix_effective="finding_period").to_dict()).fix_effective == "finding_period"


def test_nothing_to_fix_proposes_nothing() -> None:
    _, _, result = scenario("quantity_change")
    empty = fixes.propose(result.discrepancies.iloc[0:0], result.resolved["contracts"], list(result.periods))
    assert list(empty.columns) == list(fixes.FIX_COLUMNS) and not len(empty)


def test_the_same_findings_propose_the_same_fixes_whatever_the_order_of_the_contract_lines() -> None:
    _, _, result = scenario("one_time")
    contracts = result.resolved["contracts"]
    first = fixes.propose(result.discrepancies, contracts, list(result.periods))
    again = fixes.propose(result.discrepancies, contracts.iloc[::-1].reset_index(drop=True), list(result.periods))
    pd.testing.assert_frame_equal(first, again)


# ----------------------------------------------------------------------------------------- the sample MSP

@pytest.fixture(scope="module")
def sample_result() -> object:
    root = Path(__file__).resolve().parents[2] / "sample_data"
    return reconcile(load_directory(root))


def test_on_the_sample_msp_every_gap_is_charged_or_credited_once(sample_result: object) -> None:
    """Over a year of the sample MSP: one one-time fix per fixable finding, for exactly its gap, so the
    one-time money proposed is the money the fixable findings say is owed either way."""
    found = sample_result.discrepancies
    proposed = fixes.propose(found, sample_result.resolved["contracts"], list(sample_result.periods))
    fixable = found[found["type"].isin(fixes.ONE_TIME_TYPES) & found["variance"].ne(0)]
    one_time = proposed[proposed["kind"].isin(fixes.ONE_TIME_KINDS)]
    assert sorted(one_time["fingerprint"]) == sorted(fixable["fingerprint"])
    assert int(one_time["amount"].sum()) == -int(fixable["variance"].sum())
    assert (one_time["kind"].eq("charge") == one_time["amount"].gt(0)).all()
    lines = proposed[proposed["kind"].isin(fixes.LINE_KINDS)]
    assert set(lines["period"]) <= {max(sample_result.periods)}
    assert not proposed.duplicated(["fingerprint", "kind"]).any() and proposed["fix_key"].is_unique
    assert not proposed["finding_type"].isin(["unbilled_time", "negative_margin"]).any()


finding_rows = st.lists(st.tuples(st.sampled_from(sorted(fixes.ONE_TIME_TYPES | {"unbilled_time"})),
                                  st.sampled_from(["A", "B", "C"]), st.integers(0, 40), st.integers(0, 40),
                                  st.integers(0, 40), st.integers(-5_000_000, 5_000_000), st.booleans()),
                        min_size=1, max_size=12, unique_by=lambda row: (row[0], row[1]))


@settings(max_examples=60)
@given(rows=finding_rows)
def test_a_line_change_moves_the_line_by_the_gap_and_every_gap_is_settled_once(rows: list[tuple]) -> None:
    """Whatever the findings say: a quantity change moves its line by exactly E - C, a new line asks for E,
    a cancellation for 0, and every finding with a gap gets exactly one one-time fix of -variance."""
    found = pd.DataFrame([{"period": "2026-02", "client": "Acme Corp", "sku": sku, "type": kind,
                           "expected_qty": float(expected), "contract_qty": float(contract),
                           "billed_qty": float(billed), "usage_qty": float(expected), "expected_unit_price": 220000,
                           "billed_unit_price": 220000, "variance": variance, "fingerprint": f"{kind}|{sku}"}
                          for kind, sku, expected, contract, billed, variance, _ in rows]).astype({"variance": "Int64"})
    lines = pd.DataFrame([{"client": "Acme Corp", "sku": sku, "quantity": float(contract), "unit_price": 220000,
                           "start_date": pd.Timestamp("2025-01-01"), "billable": True, "source_file": "c.csv"}
                          for kind, sku, _, contract, _, _, has_line in rows if has_line]).reindex(
        columns=["client", "sku", "quantity", "unit_price", "start_date", "billable", "source_file"])
    proposed = fixes.propose(found, lines, ["2026-02"])
    assert not proposed.duplicated(["fingerprint", "kind"]).any()
    by_finding = found.set_index("fingerprint")
    for row in proposed.itertuples():
        finding = by_finding.loc[row.fingerprint]
        if row.kind == "change_quantity":
            assert row.after_qty - row.before_qty == finding["expected_qty"] - finding["contract_qty"]
        elif row.kind == "add_line":
            assert row.after_qty == finding["expected_qty"] and pd.isna(row.before_qty)
        elif row.kind == "cancel_line":
            assert row.after_qty == 0 and finding["type"] == "billed_without_usage"
        else:
            assert row.amount == -finding["variance"]
    gaps = found[found["type"].isin(fixes.ONE_TIME_TYPES) & found["variance"].ne(0)]
    assert sorted(proposed.loc[proposed["kind"].isin(fixes.ONE_TIME_KINDS), "fingerprint"]) == sorted(
        gaps["fingerprint"])


# --------------------------------------------------------------------------------------------- verifying

APPLIED_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def applied(kind: str = "change_quantity", after: float | None = 27.0, amount: int | None = None) -> pd.DataFrame:
    return pd.DataFrame([{"fix_key": "k1", "kind": kind, "client": "Acme Corp", "sku": "M365-BP", "after_qty": after,
                          "amount": amount, "effective_date": pd.Timestamp("2026-03-01"), "applied_at": APPLIED_AT}])


def contracts(quantity: float, end: str | None = None, file: str = "contracts.csv") -> pd.DataFrame:
    return pd.DataFrame({"client": ["Acme Corp"], "sku": ["M365-BP"], "quantity": [quantity],
                         "start_date": pd.to_datetime(["2025-01-01"]), "end_date": pd.to_datetime([end]),
                         "billable": [True], "source_file": [file]})


def invoices(*lines: tuple[str, str, str]) -> pd.DataFrame:
    """(period, sku, description) lines of Acme."""
    return pd.DataFrame({"client": ["Acme Corp"] * len(lines), "sku": [sku for _, sku, _ in lines],
                         "period_start": pd.to_datetime([f"{period}-01" for period, _, _ in lines]),
                         "description": [text for _, _, text in lines],
                         "invoice_number": [f"INV-{n}" for n in range(len(lines))]})


def findings(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"period": [period for period, _ in rows], "client": ["Acme Corp"] * len(rows),
                         "sku": ["M365-BP"] * len(rows), "type": [kind for _, kind in rows]})


LATER = {"contracts.csv": APPLIED_AT + timedelta(days=30)}
EARLIER = {"contracts.csv": APPLIED_AT - timedelta(days=30)}


@pytest.mark.parametrize(("case", "kwargs", "outcome", "note"), [
    ("the line says the approved quantity", {"contracts": contracts(27), "times": LATER}, "confirmed",
     "the PSA line says 27 on 2026-03-01"),
    ("the line still says the old quantity", {"contracts": contracts(25), "times": LATER}, "not_taken",
     "the PSA line says 25 on 2026-03-01, the fix approved 27"),
    ("an export from before the fix says nothing", {"contracts": contracts(25), "times": EARLIER}, "pending",
     "nothing in this run shows it yet"),
    ("a pull that ends before the effective date says nothing", {"contracts": contracts(25, "2026-02-28"),
                                                                      "times": LATER}, "pending",
     "nothing in this run shows it yet"),
    ("March invoiced and clean", {"contracts": contracts(27), "times": LATER, "periods": ["2026-03"],
                                      "invoices": invoices(("2026-03", "M365-BP", "seats"))}, "confirmed",
     "the PSA line says 27 on 2026-03-01; no finding in 2026-03"),
    ("March invoiced and still short", {"contracts": contracts(27), "times": LATER, "periods": ["2026-03"],
                                            "invoices": invoices(("2026-03", "M365-BP", "seats")),
                                            "found": findings(("2026-03", "quantity_under_billed"))}, "not_taken",
     "still quantity under billed in 2026-03"),
    ("March found but not invoiced yet", {"contracts": contracts(27, "2026-02-28"), "times": LATER,
                                          "periods": ["2026-03"],
                                          "found": findings(("2026-03", "missed_recurring_charge"))}, "pending",
     "nothing in this run shows it yet"),
])
def test_a_later_run_judges_a_line_fix(case: str, kwargs: dict, outcome: str, note: str) -> None:
    verdict = fixes.verify(applied(), kwargs["contracts"], kwargs.get("invoices", invoices()),
                           kwargs.get("found", findings()), kwargs.get("periods", ["2026-02"]), kwargs["times"])
    assert verdict.to_dict("records") == [{"fix_key": "k1", "outcome": outcome, "note": note}], case


def test_a_cancellation_is_confirmed_when_the_line_has_ended() -> None:
    verdict = fixes.verify(applied("cancel_line", 0.0), contracts(10, "2026-02-28").assign(
        end_date=pd.to_datetime(["2026-02-28"])).pipe(lambda frame: pd.concat(
            [frame, frame.assign(sku="OTHER", end_date=pd.NaT)])), invoices(), findings(), ["2026-02"], LATER)
    assert verdict["outcome"].tolist() == ["confirmed"]


def test_a_charge_is_confirmed_by_the_invoice_line_that_carries_its_reference_and_never_refuted_by_absence() -> None:
    charge = applied("charge", None, 440_000)
    billed = invoices(("2026-03", "ADJ", f"M365-BP charge {fixes.reference('k1')}"))
    assert fixes.verify(charge, contracts(27), billed, findings(), ["2026-03"], LATER)["note"].tolist() == [
        "billed on invoice INV-0"]
    unbilled = invoices(("2026-03", "M365-BP", "seats"))
    assert fixes.verify(charge, contracts(27), unbilled, findings(), ["2026-03"], LATER)["outcome"].tolist() == [
        "pending"]


def test_a_line_fix_inside_an_agreement_total_is_judged_by_the_agreements_total_too() -> None:
    """A seats line corrected because its agreement's total fell short: the line saying 27 is not enough while
    the agreement's total still falls short in March (its lines raise no finding of their own)."""
    fix = applied().assign(finding_type="agreement_total_mismatch", agreement_id="11")
    march = invoices(("2026-03", "AGREEMENT-11", "agreement total"))
    short = findings(("2026-03", "agreement_total_mismatch")).assign(sku="AGREEMENT-11")
    verdict = fixes.verify(fix, contracts(27), march, short, ["2026-03"], LATER)
    assert verdict.to_dict("records") == [{"fix_key": "k1", "outcome": "not_taken",
                                           "note": "still agreement total mismatch in 2026-03"}]
    clean = fixes.verify(fix, contracts(27), march, findings(), ["2026-03"], LATER)
    assert clean["outcome"].tolist() == ["confirmed"]
    other = findings(("2026-03", "agreement_total_mismatch")).assign(sku="AGREEMENT-12")  # another agreement's
    assert fixes.verify(fix, contracts(27), march, other, ["2026-03"], LATER)["outcome"].tolist() == ["confirmed"]
