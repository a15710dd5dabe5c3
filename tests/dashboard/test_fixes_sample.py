"""Issue 21's "done when" in the dashboard, on the sample MSP: a finance user approves the proposed fixes of
one month on the Fixes page (bulk, with one effective date), applies them to the ConnectWise and Autotask
stand-ins (the writable ones of tests/recon/connectors, holding the sample's PSA records), the findings
they fix are resolved by the fix, then pulls the next month on the Sources page (Autotask bills it, the
charge under its name) and the next run confirms the fixes; the audit pack holds the whole trail.

The sample's contract lines from ``contracts_connectwise.csv`` and ``contracts_autotask.csv`` are routed by
``contract_files`` to the two connections; the rest (``contracts.csv``) go to no PSA: exported for entry by
hand. AppTest runs the pages in this process, so the stand-ins (threads) answer it as they answer the CLI.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from recon import access
from recon.exports import audit
from recon.store import Store
from recon.store.fixes import FixLedger
from tests.dashboard.apptest import assert_clean, fixes_table, select_fixes
from tests.dashboard.signin import signed_in_app
from tests.recon.connectors import psa_writes, vendors
from tests.recon.connectors.conftest import connections_toml, write_project
from tests.recon.connectors.sample_psas import SAMPLE, sample_autotask, sample_connectwise
from tests.recon.connectors.standin import StandIn

MONTH, NEXT = "2026-10", "2026-11"


@pytest.fixture()
def psas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[psa_writes.WritableConnectWise,
                                                                             psa_writes.WritableAutotask, str]]:
    """The sample MSP as the dashboard's data, its ConnectWise and Autotask stand-ins and a Pax8 one (usage
    of the next month) as named connections; yields the two PSAs and the database URL."""
    data = tmp_path / "data"
    data.mkdir()
    for path in SAMPLE.glob("*.csv"):
        if path.stem not in ("answer_key", "expected_unmapped"):
            shutil.copy(path, data / path.name)
    connectwise, autotask = sample_connectwise(), sample_autotask()
    with StandIn(connectwise) as cw_server, StandIn(autotask) as at_server, StandIn(vendors.Pax8()) as pax8_server:
        connectwise.base, autotask.base = cw_server.url, at_server.url
        write_project(tmp_path, connections_toml(connectwise=cw_server.url)
                      + 'contract_files = ["contracts_connectwise.csv"]\n\n'
                      + connections_toml(autotask=at_server.url) + 'contract_files = ["contracts_autotask.csv"]\n\n'
                      + connections_toml(pax8=pax8_server.url))
        url = f"sqlite:///{tmp_path / 'recon.db'}"
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("RECON_SAMPLE_DIR", str(data))
        monkeypatch.setenv("RECON_DATABASE_URL", url)
        yield connectwise, autotask, url


def pull(at: AppTest, connection: str, period: str) -> None:
    at.selectbox(key="sources.connection").set_value(connection)
    at.text_input(key="sources.period").set_value(period)
    at.button(key="sources.pull").click().run()
    assert_clean(at)


def test_a_finance_user_fixes_a_month_of_the_sample_in_both_psas_and_the_next_run_confirms_it(
        psas: tuple[psa_writes.WritableConnectWise, psa_writes.WritableAutotask, str]) -> None:
    connectwise, autotask, url = psas
    at = signed_in_app(access.FINANCE)
    assert_clean(at)
    at.switch_page("app_pages/fixes.py").run()
    assert_clean(at)
    at.multiselect(key="fixes.columns").select("period").run()  # the finding's month is under More columns
    shown = fixes_table(at)
    month = [position for position, period in enumerate(shown["period"]) if period == MONTH]
    assert len(month) >= 3 and set(shown["status"]) == {"proposed"}

    # approve the month's proposed fixes at once, with one effective date
    select_fixes(at, month)
    at.date_input(key="fixes.approve_date").set_value(date(2026, 11, 1))
    at.button(key="FormSubmitter:fixes.approve-Approve").click().run()
    assert_clean(at)
    store = Store(url)
    ledger = FixLedger(store)
    run_id = int(store.list_runs()["id"].max())
    current = ledger.fixes(run_id).set_index("fix_key")
    keys = shown["fix_key"].iloc[month].tolist()
    assert set(current.loc[keys, "status"]) == {"approved"} and set(current.loc[keys, "approved_by"]) == {"finance"}
    assert set(current.loc[keys, "effective_date"].dt.date) == {date(2026, 11, 1)}
    assert set(current.drop(index=keys)["status"]) == {"proposed"}  # other months' fixes untouched

    # apply them: the PSA lines' fixes go to ConnectWise and Autotask, the rest are to export
    select_fixes(at, month)
    at.button(key="fixes.apply").click().run()
    assert_clean(at)
    current = ledger.fixes(run_id).set_index("fix_key")
    routed = current.loc[keys][current.loc[keys, "origin"].isin(["contracts_connectwise.csv",
                                                                 "contracts_autotask.csv"])]
    assert sorted(zip(routed["client"], routed["kind"], routed["origin"], strict=True)) == [
        ("Highland Orthodontics", "add_line", "contracts_connectwise.csv"),
        ("Highland Orthodontics", "charge", "contracts_connectwise.csv"),
        ("Silver Lake Realty", "charge", "contracts_autotask.csv")]
    assert set(routed["status"]) == {"applied"}
    assert set(current.loc[keys].drop(index=routed.index)["status"]) == {"approved"}  # no connection: to export
    assert sorted((method, path.rsplit("/", 1)[-1]) for method, path, _ in connectwise.writes) == [
        ("POST", "additions"), ("POST", "adjustments")]
    [(_, charge_path, charge)] = autotask.writes
    assert (charge_path, charge["unitPrice"], charge["datePurchased"]) == ("Contracts/30016/Charges", 12.0,
                                                                         "2026-11-01T00:00:00")
    shown = fixes_table(at).set_index("fix_key")
    assert set(shown.loc[routed.index, "status"]) == {"applied"}

    # the findings those fixes clear are resolved by the fix (the Discrepancies page, resolved shown)
    resolved = store.resolutions().drop_duplicates("fingerprint", keep="last").set_index("fingerprint")
    fixed = resolved.loc[list(set(routed["fingerprint"]))]
    assert set(fixed["status"]) == {"billed"} and fixed["note"].str.startswith("fixed in the PSA: ").all()
    at.switch_page("app_pages/discrepancies.py").run()
    at.toggle(key="discrepancies.hide_closed").set_value(False).run()
    at.multiselect(key="discrepancies.columns").select("fingerprint").run()
    assert_clean(at)
    listed = next(frame.value for frame in at.dataframe if "fingerprint" in frame.value).set_index("fingerprint")
    assert set(listed.loc[list(fixed.index), "status"]) == {"billed"}

    # the next month: Autotask bills it (the units in effect and the charge under its name), ConnectWise bills
    # Highland's quarterly agreement at its additions (11 x 9.00 training, the new 16 x 4.00 backup) and
    # invoices the adjustment into that total (the API gives no lines); pulled from the PSAs and Pax8 on the
    # Sources page and reconciled, it confirms the fixes
    autotask.bill_month(NEXT)
    agreement = next(item for item in connectwise.data["finance/agreements"] if item["id"] == 107024)
    connectwise.data["finance/invoices"].append({
        "id": 7001, "invoiceNumber": "INV-7001", "type": "Agreement", "date": f"{NEXT}-01T00:00:00Z",
        "company": agreement["company"], "status": {"id": 2, "name": "Sent"},
        "agreement": {"id": 107024, "name": agreement["name"]}, "agreementAmount": 163.0, "total": 163.0})
    [invoiced] = connectwise.invoice_adjustments(NEXT)
    assert (invoiced["invoiceNumber"], invoiced["agreementAmount"]) == ("INV-7001", 227.0)
    at.switch_page("app_pages/sources.py").run()
    assert_clean(at)
    for name in ("at", "cw", "pax8"):
        pull(at, name, NEXT)
    at.radio(key="sources.pull_mode").set_value("only").run()
    assert_clean(at)
    assert "no longer have" in at.warning[0].value  # the month alone: the sample's year is not in this run
    at.checkbox(key="sources.pull_mode.confirm_loss").check().run()
    at.button(key="sources.reconcile_pulled").click().run()
    assert_clean(at)
    assert int(store.list_runs()["id"].max()) == run_id + 1
    after = ledger.fixes(run_id).set_index("fix_key").loc[routed.index]
    verdicts = dict(zip(zip(after["client"], after["kind"], strict=True), after["status"], strict=True))
    assert verdicts == {("Highland Orthodontics", "add_line"): "confirmed",  # the addition now says 16 seats
                        ("Highland Orthodontics", "charge"): "confirmed",  # billed in the agreement's total
                        ("Silver Lake Realty", "charge"): "confirmed"}  # Autotask's invoice names the charge
    highland = after[after["client"].eq("Highland Orthodontics") & after["kind"].eq("charge")]
    assert highland["message"].tolist() == [f"run {run_id + 1}: billed in agreement invoice INV-7001's total"]
    found = store.load_run(run_id + 1).discrepancies
    assert not found["type"].eq("agreement_total_mismatch").any(), found

    # the audit pack of the month's run holds the whole trail
    pack = pd.read_excel(io.BytesIO(audit.audit_pack(store, run_id)), sheet_name=None, dtype=str)
    trail = pack["fix_history"][pack["fix_history"]["fix_key"].isin(routed.index)]
    events = trail.groupby("fix_key")["event"].apply(list)
    confirmed = after.index[after["status"].eq("confirmed")]
    assert {key: events[key] for key in confirmed} == {
        key: ["proposed", "approved", "accepted", "confirmed"] for key in confirmed}
    by = trail.set_index(["fix_key", "event"])["by"]
    assert {by[(key, "approved")] for key in routed.index} == {"finance"}
    assert trail.loc[trail["event"].eq("accepted"), "psa_id"].notna().all()
    assert set(pack["fixes"].set_index("fix_key").loc[list(routed.index), "status"]) == {"confirmed"}
    store.close()
