"""The fixes of stored runs on SQLite and PostgreSQL alike: written with their run, their history
append-only, the status rules, findings resolved when their fixes are applied, and a later run reopening
a fix that did not take."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from recon import fixes
from recon.engine import Reconciliation, reconcile
from recon.errors import StoreError
from recon.fixes import Fix, FixOutcome
from recon.store import Store
from recon.store.fixes import FixLedger
from tests.recon.store.cases import PERIOD, before_fixes
from tests.scenarios import FIXTURES, parse_scenario, scenario_sources


def keys_of(ledger: FixLedger, run_id: int, kind: str, sku: str) -> str:
    current = ledger.fixes(run_id)
    return str(current.loc[current["kind"].eq(kind) & current["sku"].eq(sku), "fix_key"].iloc[0])


def test_a_run_stores_the_fixes_proposed_for_it_exactly(store: Store) -> None:
    result = before_fixes()
    run_id = store.save_run(result, by="ann")
    stored = FixLedger(store).fixes(run_id)
    proposed = fixes.propose(result.discrepancies, result.resolved["contracts"], list(result.periods))
    pd.testing.assert_frame_equal(stored[list(fixes.FIX_COLUMNS)], proposed, check_dtype=False)
    assert stored["amount"].dtype == "Int64" and stored["amount"].tolist()[1:] == [660_000, 500_000, 3_000_000]
    assert stored["status"].tolist() == ["proposed"] * 4
    assert set(stored["proposed_by"]) == {f"recon (run {run_id}, ann)"}


def test_a_fix_is_proposed_once_whichever_runs_propose_it_again(store: Store) -> None:
    """The first run proposing a fix gives it one ``proposed`` event, in the order of its fixes, with no values
    (the proposal row holds them) and JSON's null as request and response; a later run proposing it again
    adds none."""
    result = before_fixes()
    first = store.save_run(result, by="ann")
    ledger = FixLedger(store)
    proposed = ledger.fixes(first)["fix_key"].tolist()
    events = ledger.events()
    assert events["fix_key"].tolist() == proposed and events["id"].is_monotonic_increasing
    assert events[["event", "by", "run_id", "connection", "psa_id", "note"]].drop_duplicates().to_numpy().tolist() == [
        ["proposed", f"recon (run {first}, ann)", first, "", "", f"proposed by run {first}"]]
    assert events[["quantity", "effective_date", "amount", "request", "response"]].isna().all().all()
    second = store.save_run(result, by="bo")
    assert ledger.fixes(second)["fix_key"].tolist() == proposed
    pd.testing.assert_frame_equal(ledger.events(), events)


def test_people_propose_approve_and_reject_as_the_status_allows(store: Store) -> None:
    run_id = store.save_run(before_fixes(), by="ann")
    ledger = FixLedger(store)
    line = keys_of(ledger, run_id, "change_quantity", "M365-BP")
    charges = ledger.fixes(run_id).query("kind == 'charge'")["fix_key"].tolist()
    ledger.propose(run_id, line, "dana", quantity=28)
    current = ledger.fixes(run_id).set_index("fix_key")
    assert (current.loc[line, "after_qty"], current.loc[line, "monthly_change"]) == (28.0, 660_000)
    assert current.loc[line, "description"] == "M365-BP: quantity 25 -> 28 from 2026-02-01"
    assert (current.loc[line, "status"], current.loc[line, "proposed_by"]) == ("proposed", "dana")
    assert ledger.approve(run_id, [line, *charges], "fin", effective_date=date(2026, 3, 1)) == 4
    current = ledger.fixes(run_id).set_index("fix_key")
    assert set(current["status"]) == {"approved"} and set(current["approved_by"]) == {"fin"}
    assert set(current["effective_date"].dt.date) == {date(2026, 3, 1)}
    assert [fix.after_qty for fix in ledger.approved(run_id, [line])] == [28.0]
    ledger.propose(run_id, charges[0], "dana", amount=600_000)  # an edit withdraws the approval
    assert ledger.fixes(run_id).set_index("fix_key").loc[charges[0], ["status", "amount"]].tolist() == [
        "proposed", 600_000]
    assert ledger.reject(run_id, [charges[1]], "fin", note="client goodwill") == 1
    assert ledger.fixes(run_id).set_index("fix_key").loc[charges[1], "status"] == "rejected"
    ledger.record(run_id, [FixOutcome(line, "accepted", "cw", psa_id="101")], "fin")
    with pytest.raises(StoreError, match=rf"cannot mark approved: {line} \(applied\)"):
        ledger.approve(run_id, [line, charges[1]], "fin")
    with pytest.raises(StoreError, match=rf"cannot mark proposed: {line} \(applied\)"):
        ledger.propose(run_id, line, "dana", quantity=30)
    with pytest.raises(StoreError, match=f"run {run_id} has no fix nope"):
        ledger.approve(run_id, ["nope"], "fin")
    with pytest.raises(StoreError, match="a charge or credit needs an amount other than zero"):
        ledger.propose(run_id, charges[1], "dana", amount=0)


def test_a_finding_is_resolved_when_all_its_fixes_are_applied_and_the_next_run_shows_it(store: Store) -> None:
    result = before_fixes()
    run_id = store.save_run(result, by="ann")
    ledger = FixLedger(store)
    line, charge = keys_of(ledger, run_id, "change_quantity", "M365-BP"), keys_of(ledger, run_id, "charge", "M365-BP")
    fingerprint = ledger.fixes(run_id).set_index("fix_key").loc[line, "fingerprint"]
    ledger.approve(run_id, [line, charge], "fin")
    request = {"method": "PATCH", "url": "https://psa/finance/agreements/11/additions/101",
               "body": [{"op": "replace", "path": "quantity", "value": 27}]}
    ledger.record(run_id, [FixOutcome(line, "accepted", "cw", (request,), {"id": 101, "quantity": 27}, "101")], "fin")
    assert store.resolutions().query("fingerprint == @fingerprint").empty  # the charge is still to go
    ledger.record(run_id, [FixOutcome(charge, "accepted", "cw", ({"method": "POST"},), {"id": 9}, "9")], "fin")
    resolution = store.resolutions().set_index("fingerprint").loc[fingerprint]
    assert (resolution["status"], resolution["by"]) == ("billed", "fin")
    assert resolution["note"] == ("fixed in the PSA: M365-BP: quantity 25 -> 27 from 2026-02-01 in cw (101); "
                                  "M365-BP: one-time charge for 2026-01 (quantity under billed) in cw (9)")
    next_run = store.save_run(result, by="ann")
    assert store.load_run(next_run).discrepancies.set_index("fingerprint").loc[fingerprint, "status"] == "billed"
    carried = FixLedger(store).fixes(next_run).set_index("fix_key")
    assert carried.loc[[line, charge], "status"].tolist() == ["applied", "applied"]
    assert carried.loc[line, "psa_id"] == "101" and carried.loc[line, "last_request"] == [request]


def test_every_step_is_an_appended_event_with_the_request_and_the_answer(store: Store) -> None:
    run_id = store.save_run(before_fixes(), by="ann")
    ledger = FixLedger(store)
    charge = keys_of(ledger, run_id, "charge", "HELPDESK")
    ledger.approve(run_id, [charge], "fin")
    shown = {"method": "POST", "url": "https://psa/finance/agreements/7/adjustments", "body": {"amount": 300.0}}
    ledger.record(run_id, [FixOutcome(charge, "dry_run", "cw", (shown,))], "fin")
    assert ledger.fixes(run_id).set_index("fix_key").loc[charge, ["status", "last_request"]].tolist() == [
        "approved", [shown]]
    refusal = {"code": "InvalidObject", "errors": [{"message": "Amount is required", "field": "amount"}]}
    ledger.record(run_id, [FixOutcome(charge, "refused", "cw", (shown,), refusal, "", "HTTP 400: Amount is required")],
                  "fin")
    events = ledger.events([charge])
    assert events[["event", "by", "connection", "note"]].to_numpy().tolist() == [
        ["proposed", f"recon (run {run_id}, ann)", "", f"proposed by run {run_id}"], ["approved", "fin", "", ""],
        ["dry_run", "fin", "cw", ""], ["refused", "fin", "cw", "HTTP 400: Amount is required"]]
    assert events["response"].iloc[-1] == refusal
    assert events["amount"].tolist() == [pd.NA, 3_000_000, pd.NA, 3_000_000]
    current = ledger.fixes(run_id).set_index("fix_key").loc[charge]
    assert (current["status"], current["message"]) == ("refused", "HTTP 400: Amount is required")
    assert ledger.events(run_id=run_id)["id"].is_monotonic_increasing


# ------------------------------------------------------------------------------------------- verifying

def month_with_contract(quantity: int, extra: str = "") -> Reconciliation:
    """The store's January (month_one) with Acme's Microsoft 365 line at ``quantity`` (``extra`` changes
    the contract file's bytes, so it reads as a new export)."""
    sections = parse_scenario((FIXTURES / "store" / "month_one.txt").read_text(encoding="utf-8"))
    sections["contracts"] = sections["contracts"].replace("M365-BP,22.00,25,", f"M365-BP,22.00,{quantity},") + extra
    return reconcile(scenario_sources(sections), periods=[PERIOD])


@pytest.mark.parametrize(("quantity", "outcome", "status", "note"), [
    (25, "not_taken", "open", "the PSA line says 25 on 2026-02-01, the fix approved 27"),
    (27, "confirmed", "accepted", "the PSA line says 27 on 2026-02-01"),
])
def test_a_later_run_checks_that_an_applied_fix_took(store: Store, quantity: int, outcome: str, status: str,
                                                     note: str) -> None:
    first = store.save_run(month_with_contract(25), by="ann")
    ledger = FixLedger(store)
    line = keys_of(ledger, first, "change_quantity", "M365-BP")
    charge = keys_of(ledger, first, "charge", "M365-BP")
    ledger.approve(run_id=first, fix_keys=[line], by="fin")
    ledger.reject(first, [charge], "fin", note="waived")
    ledger.record(first, [FixOutcome(line, "accepted", "cw", psa_id="101")], "fin")
    fingerprint = ledger.fixes(first).set_index("fix_key").loc[line, "fingerprint"]
    assert store.resolutions().set_index("fingerprint").loc[fingerprint, "status"] == "accepted"
    same_file = store.save_run(month_with_contract(25), by="ann")  # the export from before: says nothing
    assert ledger.fixes(same_file).set_index("fix_key").loc[line, "status"] == "applied"
    later = store.save_run(month_with_contract(quantity, "Zeta Co,HELPDESK,300.00,1,2026-01-01\n"), by="ann")
    current = FixLedger(store).fixes(first).set_index("fix_key").loc[line]  # (the fix is the first run's)
    assert (current["status"], current["message"]) == (outcome, f"run {later}: {note}")
    resolution = store.resolutions().set_index("fingerprint").loc[fingerprint]
    assert resolution["status"] == status
    if outcome == "not_taken":
        assert resolution["note"] == f"reopened: fix {line} did not take ({note}; run {later})"
        store.save_run(month_with_contract(25, "Zeta Co,HELPDESK,300.00,1,2026-01-01\n"), by="ann")
        assert FixLedger(store).events([line])["event"].tolist().count("not_taken") == 1  # reopened once



def test_fixes_stored_before_0010_read_with_no_line_sku_and_new_ones_keep_the_exports_product(store: Store) -> None:
    """Migration 0010 adds ``fix.line_sku`` (the line's product as the export named it): the fixes stored
    before hold none, read back as NA, and are written back compared with their sku (``Fix.line_sku`` None).
    Downgrading drops the column (the fixes stay); a run stored after upgrading again keeps it."""
    import sqlalchemy as sa
    from alembic import command

    from recon.store.database import _alembic_config

    first = store.save_run(before_fixes())
    config = _alembic_config()
    for step, target in ((command.downgrade, "0009_charge_pairs"), (command.upgrade, "head")):
        with store.engine.connect() as connection, connection.begin():
            config.attributes["connection"] = connection
            step(config, target)
            columns = {column["name"] for column in sa.inspect(connection).get_columns("fix")}
            assert ("line_sku" in columns) == (target == "head")
    ledger = FixLedger(store)
    before = ledger.fixes(first)
    assert len(before) == 4 and before["line_sku"].isna().all()
    assert {Fix.from_row(row).line_sku for row in before.to_dict("records")} == {None}
    after = ledger.fixes(store.save_run(before_fixes()))
    # (each fix of a line: the scenario's contracts name their products by the skus the run uses)
    assert after[["sku", "line_sku"]].to_numpy().tolist() == [
        ["M365-BP", "M365-BP"], ["M365-BP", "M365-BP"], ["MANAGED-WS", "MANAGED-WS"], ["HELPDESK", "HELPDESK"]]
