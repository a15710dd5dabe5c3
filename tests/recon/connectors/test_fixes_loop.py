"""The whole loop of issue 21 against the stand-ins (items 4 and 5): a month pulled from Autotask and Pax8
(their documented API formats) is reconciled and stored, a finance user approves its fixes, they are
written to Autotask, and the next month's run pulls Autotask and Pax8 again: the line fix the PSA now holds
is confirmed (the line says the approved units and the finding is gone), the one changed back in Autotask
meanwhile is marked not taken and its finding reopened with a note, and the audit pack holds every step
(proposed, approved, applied with the PSA's id, verified). The one-time charges are billed by Autotask on
March's invoices (the stand-in's billing process: each charge a billing item under its name and
description) and confirmed by the reference they carry."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recon.cli import app
from recon.connectors import load_connections, writeback
from recon.fixes import Fix
from recon.store import Store
from recon.store.fixes import FixLedger
from tests.recon.connectors import psa_writes, vendors
from tests.recon.connectors.conftest import connections_toml, write_project
from tests.recon.connectors.sample_psas import SAMPLE, sample_autotask, sample_connectwise
from tests.recon.connectors.standin import StandIn

runner = CliRunner()
# Globex uses 12 Microsoft 365 seats in February (Pax8); its Autotask contract service 5003 says 10.
GLOBEX_SEATS = vendors._pax8_item("f4", "c-glob", "Globex LLC", "MS-OFF-BUS-PREM", "Microsoft 365 Business Premium",
                                  12, 22.0, 19.8)


def march(item: dict, quantity: int) -> dict:
    """A Pax8 invoice item of March (``item`` of February, with March's quantity)."""
    return {**item, "id": item["id"] + "-mar", "quantity": quantity, "startPeriod": "2026-03-01",
            "endPeriod": "2026-03-31", "costTotal": round(item["cost"] * quantity, 2),
            "subTotal": round(item["price"] * quantity, 2), "total": round(item["price"] * quantity, 2)}


def add_march(autotask: psa_writes.WritableAutotask, monkeypatch: pytest.MonkeyPatch) -> None:
    """March as the PSA and Pax8 then say it: Acme's workstations run on at 17 and every contract service
    is invoiced at the units in effect (Acme 27 seats after its fix; Globex at the 10 it was put back to);
    Pax8 bills Acme 27 seats and Globex 12."""
    units = autotask.data["ContractServiceUnits"]
    units.append({**next(row for row in units if row["id"] == 7003), "id": 7103, "startDate": "2026-03-01T00:00:00",
                  "endDate": "2026-03-31T00:00:00", "approveAndPostDate": None})
    autotask.data["Invoices"] += [
        {"id": 906, "companyID": 29683501, "invoiceNumber": "AT-906", "invoiceDateTime": "2026-03-31T00:00:00",
         "dueDate": "2026-04-30T00:00:00", "invoiceTotal": 1359.0, "isVoided": False},
        {"id": 907, "companyID": 29683502, "invoiceNumber": "AT-907", "invoiceDateTime": "2026-03-31T00:00:00",
         "dueDate": "2026-04-30T00:00:00", "invoiceTotal": 220.0, "isVoided": False}]
    for number, (invoice, company, contract, service, item, quantity, rate) in enumerate([
            (906, 29683501, 29684001, 5001, 301, 17, 45.0), (906, 29683501, 29684001, 5002, 302, 27, 22.0),
            (907, 29683502, 29684002, 5003, 302, 10, 22.0)]):
        name = "Managed Workstation" if item == 301 else "Microsoft 365 Business Premium"
        autotask.data["BillingItems"].append({
            "id": 12001 + number, "invoiceID": invoice, "companyID": company, "contractID": contract,
            "contractServiceID": service, "serviceID": item, "billingItemType": 3, "itemDate": "2026-03-01T00:00:00",
            "itemName": name, "description": name, "quantity": quantity, "rate": rate,
            "extendedPrice": quantity * rate, "taxDollars": 0, "totalAmount": quantity * rate,
            "postedDate": "2026-03-31T00:00:00"})
    autotask.invoice_charges("2026-03")  # Autotask's billing process bills February's fixes' charges
    monkeypatch.setattr(vendors, "PAX8_INVOICES", [*vendors.PAX8_INVOICES, {
        "id": "inv-mar", "invoiceDate": "2026-03-01", "dueDate": "2026-03-31", "status": "Unpaid", "total": 858.0}])
    acme = vendors.PAX8_ITEMS["inv-feb"][0]
    monkeypatch.setitem(vendors.PAX8_ITEMS, "inv-mar", [march(acme, 27), march(GLOBEX_SEATS, 12)])


def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connections: str) -> Store:
    """A project in ``tmp_path`` with these connections, the working directory, and its SQLite store (the
    one ``recon`` commands run here use)."""
    write_project(tmp_path, connections)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    monkeypatch.setenv("RECON_DATABASE_URL", url)
    return Store(url)


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_fixes_applied_to_autotask_are_verified_by_the_next_pull_and_one_changed_back_is_reopened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(vendors.PAX8_ITEMS, "inv-feb", [*vendors.PAX8_ITEMS["inv-feb"], GLOBEX_SEATS])
    autotask, pax8 = psa_writes.WritableAutotask(), vendors.Pax8()
    with StandIn(autotask) as at_server, StandIn(pax8) as pax8_server:
        autotask.base = at_server.url
        store = project(tmp_path, monkeypatch, connections_toml(autotask=at_server.url, pax8=pax8_server.url))
        ledger = FixLedger(store)
        month = ("--connection", "at", "--connection", "pax8", "--period", "2026-02")

        invoke("run", *month, "--out", "out1", "--by", "ann")
        first = ledger.fixes(1)
        lines = first[first["kind"].eq("change_quantity")].set_index("line_id")
        assert lines[["client", "before_qty", "after_qty"]].to_numpy().tolist() == [
            ["Acme Corp", 25.0, 27.0], ["Globex LLC", 10.0, 12.0]]
        assert lines.index.tolist() == ["5002", "5003"]
        invoke("fixes", "approve", "--run", "1", "--all", "--by", "fin")
        applied = invoke("fixes", "apply", "--run", "1", "--apply", "--by", "fin")
        assert applied.count("accepted") == len(first)
        units = {(row["contractServiceID"], row["startDate"][:10]): row["units"]
                 for row in autotask.data["ContractServiceUnits"]}
        assert (units[(5002, "2026-03-01")], units[(5003, "2026-03-01")]) == (27, 12)

        # someone in Autotask puts Globex back to 10 seats from March before the next run
        globex = next(item for item in autotask.data["ContractServices"] if item["id"] == 5003)
        autotask._split_units(globex, date(2026, 3, 1), -2)

        add_march(autotask, monkeypatch)
        invoke("run", "--connection", "at", "--connection", "pax8", "--period", "2026-03", "--out", "out2",
               "--by", "ann")
        after = ledger.fixes(1).set_index("fix_key")
        acme, globex_fix = lines.loc["5002", "fix_key"], lines.loc["5003", "fix_key"]
        assert (after.loc[acme, "status"], after.loc[globex_fix, "status"]) == ("confirmed", "not_taken")
        charges = after.drop(index=[acme, globex_fix])
        assert set(charges["kind"]) == {"charge"} and set(charges["status"]) == {"confirmed"}  # on March's invoices
        events = ledger.events(run_id=1)
        verdicts = events[events["by"].eq("recon (verification)")].set_index("fix_key")
        assert verdicts.loc[acme, "note"] == "run 2: the PSA line says 27 on 2026-03-01; no finding in 2026-03"
        assert verdicts.loc[globex_fix, "note"] == ("run 2: the PSA line says 10 on 2026-03-01, the fix approved 12; "
                                                    "still quantity under billed in 2026-03")
        assert {verdicts.loc[key, "note"] for key in charges.index} == {"run 2: billed on invoice AT-906",
                                                                       "run 2: billed on invoice AT-907"}

        # March: Acme's seats are gone from the findings; Globex's are back, and February's finding reopened
        found = pd.read_csv(tmp_path / "out2" / "discrepancies.csv", dtype=str)
        assert found.loc[found["sku"].eq("302"), ["client", "type"]].to_numpy().tolist() == [
            ["Globex LLC", "quantity_under_billed"]]
        assert not found["sku"].str.contains("charge").any(), found  # the billed charges raise no finding
        latest = store.resolutions().drop_duplicates("fingerprint", keep="last").set_index("fingerprint")
        february = first.set_index("fix_key")["fingerprint"]
        assert latest.loc[february[acme], "status"] == "billed"
        assert latest.loc[february[globex_fix], "status"] == "open"
        assert str(latest.loc[february[globex_fix], "note"]).startswith(
            f"reopened: fix {globex_fix} did not take (the PSA line says 10 on 2026-03-01")

        invoke("export", "1", "--out", "audit.xlsx")
        pack = pd.read_excel(tmp_path / "audit.xlsx", sheet_name=None, dtype=str)
        trail = pack["fix_history"][pack["fix_history"]["fix_key"].isin([acme, globex_fix])]
        assert trail.groupby("fix_key")["event"].apply(list).to_dict() == {
            acme: ["proposed", "approved", "accepted", "confirmed"],
            globex_fix: ["proposed", "approved", "accepted", "not_taken"]}
        by = trail.set_index(["fix_key", "event"])["by"]
        assert (by[(acme, "proposed")], by[(acme, "approved")], by[(acme, "accepted")]) == (
            "recon (run 1, ann)", "fin", "fin")
        assert trail.set_index(["fix_key", "event"]).loc[(acme, "accepted"), "psa_id"]
        assert pack["fixes"].set_index("fix_key").loc[[acme, globex_fix], "status"].tolist() == [
            "confirmed", "not_taken"]
        invoke("export", "2", "--out", "march.xlsx")  # March's pack: the verdicts its run gave on February's fixes
        checked = pd.read_excel(tmp_path / "march.xlsx", sheet_name="fix_history", dtype=str)
        checked = checked[checked["by"].eq("recon (verification)")].set_index("fix_key")
        assert checked.loc[[acme, globex_fix], "event"].tolist() == ["confirmed", "not_taken"]


def test_an_agreement_total_short_of_its_additions_is_charged_and_its_seats_line_corrected(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ConnectWise bills Acme's agreement 11 as one total (1,000.00, what its additions say) while Pax8 bills
    27 seats where addition 101 says 25: the additions expect 1,044.00. The fixes: an adjustment of 44.00 on
    agreement 11 and addition 101 to 27 seats from March, each sent once."""
    connectwise, pax8 = psa_writes.WritableConnectWise(), vendors.Pax8()
    with StandIn(connectwise) as cw_server, StandIn(pax8) as pax8_server:
        connectwise.base = cw_server.url
        connections = connections_toml(connectwise=cw_server.url, pax8=pax8_server.url)
        ledger = FixLedger(project(tmp_path, monkeypatch, connections))
        invoke("run", "--connection", "cw", "--connection", "pax8", "--period", "2026-02", "--out", "out")
        proposed = ledger.fixes(1)
        total = proposed[proposed["finding_type"].eq("agreement_total_mismatch")]
        shown = total[["client", "sku", "kind", "agreement_id", "line_id", "before_qty", "after_qty", "amount",
                       "monthly_change"]].astype(object)
        assert shown.where(shown.notna(), None).to_numpy().tolist() == [
            ["Acme Corp", "M365-BP", "change_quantity", "11", "101", 25.0, 27.0, None, 440_000],
            ["Acme Corp", "AGREEMENT-11", "charge", "11", None, None, None, 440_000, None]]
        assert total["reason"].iloc[1] == ("agreement total mismatch in 2026-02: the agreement invoice's total "
                                           "$1,000.00, its lines expect $1,044.00 (-$44.00)")
        keys = total["fix_key"].tolist()
        invoke("fixes", "approve", "--run", "1", *keys, "--by", "fin")
        assert invoke("fixes", "apply", "--run", "1", *keys, "--apply", "--by", "fin").count("accepted") == 2
        target = load_connections(tmp_path / "connections.toml", tmp_path / ".streamlit" / "secrets.toml")["cw"]
        approved = [Fix.from_row(row) for row in ledger.fixes(1).set_index("fix_key", drop=False).loc[keys].to_dict(
            "records")]
        again = writeback.apply(approved, target, send=True)  # applied again: ConnectWise has both already
        assert [outcome.event for outcome in again] == ["skipped", "skipped"]
        # ConnectWise invoices the adjustment on agreement 11's March invoice (its agreementAmount: the API has
        # no lines of an agreement invoice) and closes it; applied again, the closed adjustment is still found
        [invoice] = connectwise.invoice_adjustments("2026-03")
        assert (invoice["agreement"]["id"], invoice["agreementAmount"]) == (11, 44.0)
        assert [item["closedFlag"] for item in connectwise.data["finance/agreements/11/adjustments"]] == [True]
        assert [outcome.event for outcome in writeback.apply(approved, target, send=True)] == ["skipped", "skipped"]
        [(patch, patch_path, operations), (post, post_path, body)] = connectwise.writes
        assert (patch, patch_path.removeprefix(vendors.CW_PREFIX), operations) == (
            "PATCH", "/finance/agreements/11/additions/101", [{"op": "replace", "path": "quantity", "value": 27}])
        assert (post, post_path.removeprefix(vendors.CW_PREFIX)) == ("POST", "/finance/agreements/11/adjustments")
        assert (body["amount"], body["agreementId"], body["effectiveDate"]) == (44.0, 11, "2026-03-01T00:00:00Z")
        assert set(ledger.fixes(1).set_index("fix_key").loc[keys, "status"]) == {"applied"}


def test_on_the_sample_msp_the_connectwise_fixes_are_applied_and_the_next_run_shows_them_resolved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 21's "done when" from the command line: the sample MSP reconciled, the fixes of its ConnectWise
    lines (Highland Orthodontics uses Datto SaaS Protection its agreement 107024 has no addition for) approved
    and applied to the stand-in, the next run shows their findings resolved by the fix, and the audit pack
    holds the trail; the fixes of lines from the plain contracts.csv (no connection) are exported."""
    psa = sample_connectwise()
    with StandIn(psa) as server:
        psa.base = server.url
        store = project(tmp_path, monkeypatch, connections_toml(connectwise=server.url)
                        + 'contract_files = ["contracts_connectwise.csv"]\n')
        ledger = FixLedger(store)
        invoke("run", "--data", str(SAMPLE), "--out", "out1", "--by", "ann")
        proposed = ledger.fixes(1)
        ours = proposed[proposed["origin"].eq("contracts_connectwise.csv")]
        assert ours[["period", "kind", "agreement_id"]].to_numpy().tolist() == [
            ["2026-09", "charge", "107024"], ["2026-10", "add_line", "107024"], ["2026-10", "charge", "107024"]]
        assert ours["after_qty"].tolist()[1] == 16 and ours["amount"].tolist()[::2] == [320_000, 640_000]
        invoke("fixes", "approve", "--run", "1", *ours["fix_key"], "--by", "fin")
        said = invoke("fixes", "apply", "--run", "1", *ours["fix_key"], "--apply", "--by", "fin")
        assert said.count("accepted") == 3
        [added] = [item for item in psa.data["finance/agreements/107024/additions"]
                   if item["product"]["identifier"] == "BACKUP-M365"]
        assert (added["quantity"], added["unitPrice"], added["effectiveDate"]) == (16, 4.0, "2026-11-01T00:00:00Z")
        assert sorted(body["amount"] for _, path, body in psa.writes if path.endswith("adjustments")) == [32.0, 64.0]

        invoke("run", "--data", str(SAMPLE), "--out", "out2", "--by", "ann")
        found = pd.read_csv(tmp_path / "out2" / "discrepancies.csv", dtype=str).set_index("fingerprint")
        assert found.loc[list(set(ours["fingerprint"])), "status"].tolist() == ["billed", "billed"]
        invoke("export", "1", "--out", "audit.xlsx")
        trail = pd.read_excel(tmp_path / "audit.xlsx", sheet_name="fix_history", dtype=str)
        mine = trail[trail["fix_key"].isin(ours["fix_key"])]
        assert mine.groupby("fix_key")["event"].apply(list).tolist() == [["proposed", "approved", "accepted"]] * 3
        assert mine.loc[mine["event"].eq("accepted"), "psa_id"].notna().all()


def test_on_the_sample_msp_the_autotask_fix_is_applied_and_confirmed_by_the_next_months_invoice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample MSP's Autotask client (Silver Lake Realty, billed 16 of its 18 units in 2026-10): its fix,
    a one-time charge of 12.00 on contract 30016, is approved and written to the Autotask stand-in; Autotask
    bills November (the units in effect and the charge under its name), and the next run, November pulled
    from Autotask, confirms the charge by the invoice that carries its reference."""
    psa = sample_autotask()
    with StandIn(psa) as server, StandIn(vendors.Pax8()) as pax8_server:
        psa.base = server.url
        connections = (connections_toml(autotask=server.url, pax8=pax8_server.url)
                       + 'contract_files = ["contracts_autotask.csv"]\n')
        ledger = FixLedger(project(tmp_path, monkeypatch, connections))
        invoke("run", "--data", str(SAMPLE), "--out", "out1", "--by", "ann")
        proposed = ledger.fixes(1)
        ours = proposed[proposed["origin"].eq("contracts_autotask.csv")]
        assert ours[["period", "client", "kind", "agreement_id", "line_id", "amount"]].to_numpy().tolist() == [
            ["2026-10", "Silver Lake Realty", "charge", "30016", "50016", 120_000]]
        [key] = ours["fix_key"]
        invoke("fixes", "approve", "--run", "1", key, "--by", "fin")
        assert invoke("fixes", "apply", "--run", "1", key, "--apply", "--by", "fin").count("accepted") == 1
        [(_, path, body)] = psa.writes
        assert (path, body["unitPrice"], body["datePurchased"]) == ("Contracts/30016/Charges", 12.0,
                                                                    "2026-11-01T00:00:00")
        assert f"[recon fix {key}]" in body["name"] and f"[recon fix {key}]" in body["description"]

        billed = psa.bill_month("2026-11")
        assert [(item["quantity"], item["rate"]) for item in billed] == [(18.0, 6.0), (1.0, 12.0)]
        invoke("run", "--connection", "at", "--connection", "pax8", "--period", "2026-11", "--out", "out2",
               "--by", "ann")
        assert ledger.fixes(1).set_index("fix_key").loc[key, "status"] == "confirmed"
        invoke("export", "1", "--out", "audit.xlsx")
        trail = pd.read_excel(tmp_path / "audit.xlsx", sheet_name="fix_history", dtype=str)
        mine = trail[trail["fix_key"].eq(key)]
        assert mine["event"].tolist() == ["proposed", "approved", "accepted", "confirmed"]
        assert mine["note"].iloc[-1].startswith("run 2: billed on invoice AT-")


def add_connectwise_march(connectwise: psa_writes.WritableConnectWise, monkeypatch: pytest.MonkeyPatch,
                          amount: float) -> dict:
    """March as ConnectWise and Pax8 then say it: agreement 11's March invoice (its total ``amount`` before
    ConnectWise's billing adds the open adjustments), Pax8 bills Acme 27 seats. Returns the invoice after
    ConnectWise's billing process invoiced the adjustments effective in March into its total."""
    connectwise.data["finance/invoices"].append({
        "id": 601, "invoiceNumber": "INV-1101", "type": "Agreement", "date": "2026-03-01T00:00:00Z",
        "dueDate": "2026-03-31T00:00:00Z", "company": vendors.ACME, "status": {"id": 2, "name": "Sent"},
        "agreement": {"id": 11, "name": "Acme MSA"}, "agreementAmount": amount, "subtotal": amount, "total": amount})
    [invoice] = connectwise.invoice_adjustments("2026-03")
    monkeypatch.setattr(vendors, "PAX8_INVOICES", [*vendors.PAX8_INVOICES, {
        "id": "inv-mar", "invoiceDate": "2026-03-01", "dueDate": "2026-03-31", "status": "Unpaid", "total": 594.0}])
    monkeypatch.setitem(vendors.PAX8_ITEMS, "inv-mar", [march(vendors.PAX8_ITEMS["inv-feb"][0], 27)])
    return invoice


@pytest.mark.parametrize("extra", [0.0, 5.0], ids=["billed-as-asked", "5.00-more"])
def test_a_connectwise_adjustment_billed_in_the_next_agreement_total_is_confirmed_and_raises_no_mismatch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: float) -> None:
    """February's fixes of Acme's agreement 11 (addition 101 to 27 seats, an adjustment of 44.00, both from
    March) are applied; ConnectWise bills March's agreement invoice at the additions (27 x 22.00 + 10 x 45.00 =
    1,044.00) and invoices the adjustment into its total (1,088.00: the API gives no lines). The next run
    knows the adjustment it applied: the total exceeds the additions by exactly it, so there is no
    agreement_total_mismatch and the adjustment is confirmed, billed in the agreement invoice's total. A total
    5.00 more than that still reports a 5.00 mismatch (the adjustment in it is still confirmed)."""
    connectwise, pax8 = psa_writes.WritableConnectWise(), vendors.Pax8()
    with StandIn(connectwise) as cw_server, StandIn(pax8) as pax8_server:
        connectwise.base = cw_server.url
        connections = connections_toml(connectwise=cw_server.url, pax8=pax8_server.url)
        ledger = FixLedger(project(tmp_path, monkeypatch, connections))
        invoke("run", "--connection", "cw", "--connection", "pax8", "--period", "2026-02", "--out", "out1",
               "--by", "ann")
        proposed = ledger.fixes(1)
        total = proposed[proposed["finding_type"].eq("agreement_total_mismatch")].set_index("kind")
        charge, seats = total.loc["charge", "fix_key"], total.loc["change_quantity", "fix_key"]
        invoke("fixes", "approve", "--run", "1", charge, seats, "--by", "fin")
        assert invoke("fixes", "apply", "--run", "1", charge, seats, "--apply", "--by", "fin").count("accepted") == 2

        invoice = add_connectwise_march(connectwise, monkeypatch, 1044.0 + extra)
        assert invoice["agreementAmount"] == 1088.0 + extra
        invoke("run", "--connection", "cw", "--connection", "pax8", "--period", "2026-03", "--out", "out2",
               "--by", "ann")
        found = pd.read_csv(tmp_path / "out2" / "discrepancies.csv", dtype=str)
        mismatch = found[found["type"].eq("agreement_total_mismatch")]
        if extra:
            assert mismatch[["period", "client", "sku", "variance"]].to_numpy().tolist() == [
                ["2026-03", "Acme Corp", "AGREEMENT-11", "5.00"]]
            assert mismatch[["billed_amount", "expected_amount", "detail"]].to_numpy().tolist() == [
                ["1093.00", "1088.00", "agreement invoice total vs its additions' expected amount plus +$44.00 of "
                 "agreement adjustments the fixes applied"]]
        else:
            assert mismatch.empty, mismatch
        after = ledger.fixes(1).set_index("fix_key")
        assert after.loc[charge, "status"] == "confirmed"
        assert after.loc[charge, "message"] == "run 2: billed in agreement invoice INV-1101's total"
        if not extra:
            assert after.loc[seats, "status"] == "confirmed"
        invoke("export", "1", "--out", "audit.xlsx")
        trail = pd.read_excel(tmp_path / "audit.xlsx", sheet_name="fix_history", dtype=str)
        assert trail.loc[trail["fix_key"].eq(charge), "event"].tolist() == [
            "proposed", "approved", "accepted", "confirmed"]


# ConnectWise names Acme's seats by a product identifier of its own, the same product as the catalog's M365-BP
# only through the catalog's vendorSku list ("MS-OFF-BUS-PREM;CFQ7TTC0LCHC") or a saved SKU mapping: the run
# reads addition 101 as M365-BP, and its fix, naming addition 101, changes that addition.
@pytest.mark.parametrize(("identifier", "mapped"), [("MS-OFF-BUS-PREM", False), ("O365-BUSPREM", True)])
def test_an_addition_whose_product_is_the_fixs_sku_only_through_the_sku_mapping_is_changed_by_its_id(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, identifier: str, mapped: bool) -> None:
    connectwise, pax8 = psa_writes.WritableConnectWise(), vendors.Pax8()
    connectwise.data["finance/agreements/11/additions"][0]["product"] = {"id": 1, "identifier": identifier}
    with StandIn(connectwise) as cw_server, StandIn(pax8) as pax8_server:
        connectwise.base = cw_server.url
        store = project(tmp_path, monkeypatch, connections_toml(connectwise=cw_server.url, pax8=pax8_server.url))
        if mapped:
            store.save_sku_mapping(identifier, "M365-BP", by="ann")
        ledger = FixLedger(store)
        invoke("run", "--connection", "cw", "--connection", "pax8", "--period", "2026-02", "--out", "out")
        proposed = ledger.fixes(1)
        [line] = proposed[proposed["kind"].eq("change_quantity")].to_dict("records")
        assert (line["sku"], line["line_id"], line["line_sku"], line["before_qty"], line["after_qty"]) == (
            "M365-BP", "101", identifier, 25.0, 27.0)
        invoke("fixes", "approve", "--run", "1", line["fix_key"], "--by", "fin")
        said = invoke("fixes", "apply", "--run", "1", line["fix_key"], "--apply", "--by", "fin")
        assert said.count("accepted") == 1, said
        assert connectwise.writes == [("PATCH", f"{vendors.CW_PREFIX}/finance/agreements/11/additions/101",
                                       [{"op": "replace", "path": "quantity", "value": 27}])]
        assert ledger.fixes(1).set_index("fix_key").loc[line["fix_key"], "status"] == "applied"
