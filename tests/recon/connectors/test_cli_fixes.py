"""``recon fixes list|approve|apply`` for a scheduled close (issue 21, item 6): a month reconciled from
files, its fixes approved, a dry run showing the exact ConnectWise request, the write sent to the stand-in
with --apply (once, however often it runs), the finding resolved by the fix and the whole trail stored;
fixes no connection takes exported as CSV and a checklist PDF."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recon.cli import app
from recon.fixes import Fix
from recon.store import Store
from recon.store.fixes import FixLedger
from tests.recon.connectors import psa_writes, vendors
from tests.recon.connectors.conftest import connections_toml, write_project
from tests.recon.connectors.standin import StandIn

runner = CliRunner()

# Acme's agreement 11 in the stand-in bills 25 Business Premium seats (addition 101); the vendor says 27.
FILES = {
    "contracts.csv": "client,sku,unit_price,quantity,start_date,agreement_id\n"
                     "Acme Corp,M365-BP,22.00,25,2025-01-01,11\n",
    "usage.csv": "client,sku,quantity,period_start,vendor,unit_cost\n"
                 "Acme Corp,M365-BP,27,2026-02-01,Pax8,19.80\n",
    "invoices.csv": "invoice_number,invoice_date,client,sku,quantity,unit_price\n"
                    "INV-1,2026-02-01,Acme Corp,M365-BP,25,22.00\n",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, StandIn]]:
    """A working directory with the month's files, a database and a ConnectWise connection taking the
    fixes of lines read from contracts.csv."""
    app_ = psa_writes.WritableConnectWise()
    with StandIn(app_) as server:
        app_.base = server.url
        toml = connections_toml(connectwise=server.url) + 'contract_files = ["contracts.csv"]\n'
        write_project(tmp_path, toml)
        (tmp_path / "data").mkdir()
        for name, text in FILES.items():
            (tmp_path / "data" / name).write_text(text)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'recon.db'}")
        yield tmp_path, server


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_month_is_fixed_in_connectwise_from_the_command_line(project: tuple[Path, StandIn]) -> None:
    root, server = project
    invoke("run", "--data", "data", "--out", "out", "--period", "2026-02", "--by", "ann")
    listed = invoke("fixes", "list", "--run", "1")
    assert "proposed" in listed and "25->27" in listed and "44.00" in listed
    assert invoke("fixes", "approve", "--run", "1", "--all", "--by", "fin") == "Approved 2 fix(es) of run 1.\n"

    dry = invoke("fixes", "apply", "--run", "1", "--by", "fin")
    base = f"{server.url}{vendors.CW_PREFIX}"
    assert f"PATCH {base}/finance/agreements/11/additions/101" in dry
    assert '[{"op": "replace", "path": "quantity", "value": 27}]' in dry
    assert f"POST {base}/finance/agreements/11/adjustments" in dry
    assert server.app.writes == []

    sent = invoke("fixes", "apply", "--run", "1", "--apply", "--by", "fin")
    assert sent.count("accepted") == 2
    assert [(method, path.rsplit("/", 1)[-1]) for method, path, _ in server.app.writes] == [
        ("PATCH", "101"), ("POST", "adjustments")]
    assert invoke("fixes", "apply", "--run", "1", "--apply", "--by", "fin").startswith("No approved fixes")
    assert len(server.app.writes) == 2

    store = Store(f"sqlite:///{root / 'recon.db'}")
    current = FixLedger(store).fixes(1)
    assert set(current["status"]) == {"applied"}
    events = FixLedger(store).events(run_id=1)
    assert events["event"].tolist().count("dry_run") == 2 and events["event"].tolist().count("accepted") == 2
    patch = events.loc[events["event"].eq("dry_run"), "request"].iloc[0]
    assert (json.loads(patch) if isinstance(patch, str) else patch)[0]["method"] == "PATCH"
    [status] = store.resolutions()["status"].unique().tolist()
    assert status == "billed"
    assert "applied" in invoke("fixes", "list", "--run", "1", "--status", "applied")

    invoke("export", "1", "--out", "audit.xlsx")
    trail = pd.read_excel(root / "audit.xlsx", sheet_name="fix_history", dtype=str)
    assert trail["event"].tolist() == ["proposed", "proposed", "approved", "approved", "dry_run", "dry_run",
                                       "accepted", "accepted"]
    assert set(trail["by"]) == {"recon (run 1, ann)", "fin"} and trail["psa_id"].dropna().tolist()[0] == "101"
    assert '"op": "replace", "path": "quantity", "value": 27' in trail["request"].dropna().iloc[0]
    assert pd.read_excel(root / "audit.xlsx", sheet_name="fixes")["status"].tolist() == ["applied", "applied"]


def test_fixes_no_connection_takes_are_exported_for_the_psas_import_screen(project: tuple[Path, StandIn]) -> None:
    root, _ = project
    (root / "connections.toml").write_text("")
    invoke("run", "--data", "data", "--out", "out", "--period", "2026-02")
    invoke("fixes", "approve", "--run", "1", "--all", "--effective-date", "2026-03-15", "--by", "fin")
    said = invoke("fixes", "apply", "--run", "1", "--apply", "--out", "manual", "--by", "fin")
    assert "2 fix(es) have no PSA connection" in said
    table = pd.read_csv(io.BytesIO((root / "manual" / "fixes-run-1.csv").read_bytes()), dtype=str,
                        encoding="utf-8-sig")
    assert table[["change", "before_qty", "after_qty", "amount", "monthly_change", "effective_date"]].fillna(
        "").to_numpy().tolist() == [["quantity change", "25", "27", "", "44.00", "2026-03-15"],
                                    ["one-time charge", "", "", "44.00", "", "2026-03-15"]]
    assert table["reference"].str.fullmatch(r"\[recon fix [0-9a-f]{16}\]").all()
    assert (root / "manual" / "fixes-run-1.pdf").read_bytes().startswith(b"%PDF")
    assert set(FixLedger(Store(f"sqlite:///{root / 'recon.db'}")).fixes(1)["status"]) == {"exported"}
    done = invoke("fixes", "done", "--run", "1", *table["fix_key"].tolist(), "--note", "entered by hand")
    assert done == "Recorded 2 fix(es) of run 1 as applied by hand.\n"


def test_a_bad_step_is_one_clear_line(project: tuple[Path, StandIn]) -> None:
    invoke("run", "--data", "data", "--out", "out", "--period", "2026-02")
    result = runner.invoke(app, ["fixes", "approve", "--run", "1", "nope"])
    assert result.exit_code == 2 and result.output == "error: run 1 has no fix nope\n"
    result = runner.invoke(app, ["fixes", "list", "--run", "9"])
    assert result.exit_code == 2 and result.output == "error: no stored run with id 9\n"


# ------------------------------------------------------------------------------------------- new lines and
# cancellations from the command line, stored as they happened

CATALOG = ("sku,description,list_price,unit_cost,vendor,vendor_sku\n"
           "M365-BP,Microsoft 365 Business Premium,22.00,19.80,Microsoft,\nMANAGED-WS,Managed workstation,45.00,,,\n"
           "301,Managed Workstation,45.00,,,\n302,Microsoft 365 Business Premium,22.00,19.80,Microsoft,\n")


def month_files(product: str, seats: str, client: str, contract: str, other: str, other_contract: str) -> dict:
    """January and February: ``client`` used its seats of ``product`` in January only but was billed both
    months (February: billed_without_usage, a cancellation and a credit); ``other`` kept using its seats and
    in February began using 5 workstations it has no line for (unbilled_usage: a new line and a charge)."""
    workstation = "MANAGED-WS" if product == "M365-BP" else "301"
    return {
        "catalog.csv": CATALOG,
        "contracts.csv": "client,sku,unit_price,quantity,start_date,agreement_id\n"
                         f"{client},{product},22.00,{seats},2025-01-01,{contract}\n"
                         f"{other},{product},22.00,10,2025-06-01,{other_contract}\n",
        "usage.csv": "client,sku,quantity,period_start,vendor,unit_cost\n"
                     f"{client},{product},{seats},2026-01-01,Pax8,19.80\n"
                     f"{other},{product},10,2026-01-01,Pax8,19.80\n{other},{product},10,2026-02-01,Pax8,19.80\n"
                     f"{other},{workstation},5,2026-02-01,Pax8,30.00\n",
        "invoices.csv": "invoice_number,invoice_date,client,sku,quantity,unit_price\n"
                        f"INV-1,2026-01-01,{client},{product},{seats},22.00\n"
                        f"INV-2,2026-01-01,{other},{product},10,22.00\n"
                        f"INV-3,2026-02-01,{client},{product},{seats},22.00\n"
                        f"INV-4,2026-02-01,{other},{product},10,22.00\n",
    }


PSAS = {
    "cw": (month_files("M365-BP", "25", "Acme Corp", "11", "Globex LLC", "12"),
           psa_writes.WritableConnectWise, "connectwise"),
    "at": (month_files("302", "25", "Acme Corp", "29684001", "Globex LLC", "29684002"),
           psa_writes.WritableAutotask, "autotask"),
}


@pytest.mark.parametrize("name", sorted(PSAS))
def test_a_new_line_and_a_cancellation_are_written_and_every_outcome_is_stored(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, writable, kind = PSAS[name]
    psa = writable()
    with StandIn(psa) as server:
        psa.base = server.url
        write_project(tmp_path, connections_toml(**{kind: server.url}) + 'contract_files = ["contracts.csv"]\n')
        (tmp_path / "data").mkdir()
        for file_name, text in files.items():
            (tmp_path / "data" / file_name).write_text(text)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'recon.db'}")
        ledger = FixLedger(Store(f"sqlite:///{tmp_path / 'recon.db'}"))

        invoke("run", "--data", "data", "--out", "out", "--by", "ann")
        proposed = ledger.fixes(1)
        assert sorted(proposed["kind"]) == ["add_line", "cancel_line", "charge", "credit"]
        invoke("fixes", "approve", "--run", "1", "--all", "--by", "fin")
        lines = proposed.loc[proposed["kind"].isin(["add_line", "cancel_line"]), "fix_key"].tolist()
        catalog = psa.data.get("procurement/catalog") if kind == "connectwise" else psa.data["Services"]
        kept = list(catalog)
        catalog[:] = [item for item in catalog if item.get("identifier", item["id"]) not in ("MANAGED-WS", 301)]
        refused = invoke("fixes", "apply", "--run", "1", *lines, "--apply", "--by", "fin")
        catalog[:] = kept
        assert "refused" in refused and "accepted" in refused

        current = ledger.fixes(1).set_index("kind")
        assert (current.loc["add_line", "status"], current.loc["cancel_line", "status"]) == ("refused", "applied")
        assert current.loc["add_line", "message"] in ("HTTP 400: Product not found",
                                                      "HTTP 500: ServiceID 301 is not a service.")
        writes_before = len(psa.writes)
        invoke("fixes", "approve", "--run", "1", current.loc["add_line", "fix_key"], "--by", "fin")
        invoke("fixes", "apply", "--run", "1", "--apply", "--by", "fin")
        current = ledger.fixes(1).set_index("kind")
        assert set(current["status"]) == {"applied"}
        assert len(psa.writes) == writes_before + {"connectwise": 3, "autotask": 4}[kind]
        events = ledger.events(run_id=1)
        accepted = events[events["event"].eq("accepted")].set_index("fix_key")
        new_id = accepted.loc[current.loc["add_line", "fix_key"], "psa_id"].split(",")[0]
        if kind == "connectwise":
            [added] = [item for item in psa.data["finance/agreements/12/additions"] if str(item["id"]) == new_id]
            assert (added["product"]["identifier"], added["quantity"], added["unitPrice"]) == ("MANAGED-WS", 5, 45.0)
            assert psa.data["finance/agreements/11/additions"][0]["cancelledDate"] == "2026-02-28T00:00:00Z"
            assert accepted.loc[current.loc["cancel_line", "fix_key"], "psa_id"] == "101"
        else:
            [added] = [item for item in psa.data["ContractServices"] if str(item["id"]) == new_id]
            assert (added["contractID"], added["serviceID"], added["unitPrice"]) == (29684002, 301, 45.0)
            units = {(row["contractServiceID"], row["startDate"][:10]): row["units"]
                     for row in psa.data["ContractServiceUnits"]}
            assert units[(int(new_id), "2026-03-01")] == 5 and units[(5002, "2026-03-01")] == 0
        trail = events.groupby("fix_key")["event"].apply(list).to_dict()
        assert trail[current.loc["add_line", "fix_key"]] == ["proposed", "approved", "refused", "approved", "accepted"]
        assert trail[current.loc["cancel_line", "fix_key"]] == ["proposed", "approved", "accepted"]
        statuses = store_statuses(tmp_path)
        assert statuses == {"billed", "credited"}  # the charge's finding billed, the cancellation's credited

        # applying again (the fixes as approved, straight to the PSA) sends nothing
        from recon.connectors import load_connections, writeback
        target = load_connections(tmp_path / "connections.toml", tmp_path / ".streamlit" / "secrets.toml")[name]
        again = writeback.apply([Fix.from_row(row) for row in ledger.fixes(1).to_dict("records")], target,
                                send=True)
        assert {outcome.event for outcome in again} == {"skipped"}, [o.message for o in again]
        assert len(psa.writes) == writes_before + {"connectwise": 3, "autotask": 4}[kind]


def store_statuses(root: Path) -> set[str]:
    return set(Store(f"sqlite:///{root / 'recon.db'}").resolutions()["status"])
