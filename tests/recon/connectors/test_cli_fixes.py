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
    assert trail["event"].tolist() == ["approved", "approved", "dry_run", "dry_run", "accepted", "accepted"]
    assert set(trail["by"]) == {"fin"} and trail["psa_id"].dropna().tolist()[0] == "101"
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
