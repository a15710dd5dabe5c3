"""``recon pull`` and ``recon run --connection``: a month end to end from the three APIs, no file upload."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recon.cli import app
from recon.ingest.directory import load_directory
from tests.recon.connectors import vendors
from tests.recon.connectors.conftest import connections_toml, write_project
from tests.recon.connectors.standin import StandIn

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connectwise_server: StandIn, pax8_server: StandIn,
            partner_center_server: StandIn) -> Iterator[Path]:
    """A working directory with connections.toml and .streamlit/secrets.toml for the three stand-ins."""
    write_project(tmp_path, connections_toml(connectwise_server.url, pax8_server.url, partner_center_server.url))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def test_run_reconciles_a_month_straight_from_the_apis(project: Path) -> None:
    result = runner.invoke(app, ["run", "--connection", "cw", "--connection", "pax8", "--connection", "msft",
                                 "--period", vendors.MONTH, "--out", "out"])
    assert result.exit_code == 0, result.output
    assert "Pulled cw for 2026-02:" in result.output and "3 discrepancies" in result.output
    found = pd.read_csv(project / "out" / "discrepancies.csv", dtype=str)
    assert sorted(zip(found["client"], found["sku"], found["type"], found["variance"], strict=True)) == [
        ("Acme Corp", "AGREEMENT-11", "agreement_total_mismatch", "-44.00"),  # 27 seats used, 25 in the total
        ("Acme Corp", "LABOR", "unbilled_time", "-300.00"),
        ("Globex LLC", "M365-BP", "price_below_contract", "-20.00"),
    ]
    summary = json.loads((project / "out" / "summary.json").read_text())
    assert summary["overall"]["leakage"] == "364.00"
    assert {record["source"] for record in summary["imports"]} == {"contracts", "invoices", "time_entries",
                                                                   "catalog", "usage"}
    unmapped = pd.read_csv(project / "out" / "unmapped.csv", dtype=str)
    # Datto, Teams Essentials and Proofpoint's two days of usage (no catalog SKU), Initech (no client)
    assert len(unmapped) == 5


def test_pull_writes_a_data_directory_that_run_reads(project: Path) -> None:
    for name in ("cw", "pax8", "msft"):
        pulled = runner.invoke(app, ["pull", "--connection", name, "--period", vendors.MONTH, "--out", "data"])
        assert pulled.exit_code == 0, pulled.output
    files = sorted(path.name for path in (project / "data").iterdir())
    assert files == ["catalog.csv", "contracts.csv", "imports-cw.json", "imports-msft.json", "imports-pax8.json",
                     "invoices.csv", "quarantine-cw.csv", "quarantine-msft.csv", "quarantine-pax8.csv",
                     "time_entries.csv", "usage-msft.csv", "usage-pax8.csv"]
    contracts = pd.read_csv(project / "data" / "contracts.csv", dtype=str)
    assert contracts.loc[contracts["sku"] == "M365-BP", "unit_price"].tolist() == ["22.0000", "22.0000"]
    ran = runner.invoke(app, ["run", "--data", "data", "--out", "out", "--period", vendors.MONTH])
    assert ran.exit_code == 0, ran.output
    assert "3 discrepancies" in ran.output


def test_pull_prints_counts_and_quarantined_rows(project: Path) -> None:
    result = runner.invoke(app, ["pull", "--connection", "pax8", "--period", vendors.MONTH, "--out", "data"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == ["Pulled pax8 for 2026-02:",
                         "pax8@2026-02:invoice items  [usage]  read as pulled, read with preset pax8-invoice-items",
                         "  rows in 3 = used 2 + quarantined 1"]
    assert "    line 4: quantity: required value is empty (expect_column_values_to_not_be_null)" in lines
    assert "already imported" not in result.output


def test_pulls_are_stored_as_imports_with_their_hash(project: Path) -> None:
    from recon.store import Store

    first = runner.invoke(app, ["pull", "--connection", "pax8", "--period", vendors.MONTH, "--out", "data"])
    again = runner.invoke(app, ["pull", "--connection", "pax8", "--period", vendors.MONTH, "--out", "data"])
    assert first.exit_code == 0 and again.exit_code == 0, again.output
    assert "already imported before (same SHA-256): pax8@2026-02:invoice items" in again.output
    ran = runner.invoke(app, ["run", "--connection", "cw", "--connection", "pax8", "--connection", "msft",
                              "--period", vendors.MONTH, "--out", "out", "--label", "pulled"])
    assert ran.exit_code == 0, ran.output
    store = Store()
    try:
        stored = store.load_run(store.latest_run_id() or 0)
        assert stored.label == "pulled"
        files = set(stored.imports["file"])
        assert {"cw@2026-02:agreement additions", "pax8@2026-02:invoice items",
                "msft@2026-02:billed invoice reconciliation (API v2)"} <= files
        assert all(len(digest) == 64 for digest in stored.imports["sha256"])
    finally:
        store.close()


def test_exactly_one_of_data_or_connection(project: Path) -> None:
    both = runner.invoke(app, ["run", "--data", "data", "--connection", "cw", "--period", "2026-02", "--out", "o"])
    neither = runner.invoke(app, ["run", "--out", "o"])
    for result in (both, neither):
        assert result.exit_code == 2 and "give exactly one of --data DIR or --connection NAME" in result.output
    no_period = runner.invoke(app, ["run", "--connection", "cw", "--out", "o"])
    assert no_period.exit_code == 2 and "--connection needs exactly one --period" in no_period.output


def test_connection_failures_are_one_clear_line(project: Path) -> None:
    unknown = runner.invoke(app, ["pull", "--connection", "nope", "--period", "2026-02"])
    assert unknown.exit_code == 2
    assert unknown.output.strip() == "error: no connection named 'nope' in connections.toml (defined: cw, msft, pax8)"
    missing_usage = runner.invoke(app, ["run", "--connection", "cw", "--period", "2026-02", "--out", "o"])
    assert missing_usage.exit_code == 2 and "provide no usage" in missing_usage.output
    (project / ".streamlit" / "secrets.toml").write_text("")
    no_secret = runner.invoke(app, ["pull", "--connection", "pax8", "--period", "2026-02"])
    assert no_secret.exit_code == 2 and "RECON_CONN_PAX8_CLIENT_SECRET" in no_secret.output
    assert "Traceback" not in no_secret.output


def test_pulled_csvs_are_inert_and_read_back_exactly(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23 item 9: ``recon pull`` writes CSVs people open in a spreadsheet: a client named like a
    formula is written inert (a leading '), and ``recon run --data`` reads it back as it was named."""
    hostile = '=HYPERLINK("http://evil.example/x","Acme")'
    monkeypatch.setitem(vendors.ACME, "name", hostile)
    for connection in ("cw", "pax8"):
        pulled = runner.invoke(app, ["pull", "--connection", connection, "--period", vendors.MONTH, "--out", "data"])
        assert pulled.exit_code == 0, pulled.output
    for name in ("contracts.csv", "invoices.csv", "time_entries.csv"):
        with (project / "data" / name).open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        names = {row["client"] for row in rows}
        assert "'" + hostile in names and hostile not in names, (name, names)
    sources = load_directory(project / "data")
    assert hostile in set(sources["contracts"]["client"]) and hostile in set(sources["invoices"]["client"])


def test_recon_pull_from_autotask_and_pax8_reconciles_a_month_with_no_upload(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, autotask_server: StandIn, pax8_server: StandIn) -> None:
    """Issue 18, done when: ``recon pull`` offers the Autotask connection, and what it and Pax8 pull is a
    month ``recon run`` reconciles with no file uploaded. ContractServiceUnits 15 (2/1-2/14) then 17 (from
    2/15) are 16 in effect, so billing 15 is under by one (-45.00), never by 17 (rows added up: -765.00)."""
    write_project(tmp_path, connections_toml(pax8=pax8_server.url, autotask=autotask_server.url))
    monkeypatch.chdir(tmp_path)
    for name in ("at", "pax8"):
        pulled = runner.invoke(app, ["pull", "--connection", name, "--period", vendors.MONTH, "--out", "data",
                                     "--no-store"])
        assert pulled.exit_code == 0, pulled.output
        assert f"Pulled {name} for {vendors.MONTH}:" in pulled.output
    assert {"contracts.csv", "invoices.csv", "time_entries.csv", "catalog.csv", "usage-pax8.csv"} <= {
        path.name for path in (tmp_path / "data").iterdir()}
    ran = runner.invoke(app, ["run", "--data", "data", "--out", "out", "--period", vendors.MONTH, "--no-store"])
    assert ran.exit_code == 0, ran.output
    found = pd.read_csv(tmp_path / "out" / "discrepancies.csv", dtype=str)
    assert sorted(zip(found["client"], found["sku"], found["type"], found["variance"], strict=True)) == [
        ("Acme Corp", "301", "quantity_under_billed", "-45.00"),  # 16 workstations in effect, 15 billed
        ("Acme Corp", "302", "quantity_under_billed", "-44.00"),  # Pax8 27 seats, 25 billed
        ("Acme Corp", "LABOR", "unbilled_time", "-300.00"),  # 2 h on the ticket, never invoiced
        ("Globex LLC", "302", "price_below_contract", "-20.00"),  # 20.00 billed against 22.00
        ("Globex LLC", "LABOR", "unbilled_time", "-75.00"),  # 0.5 h on the contract, never invoiced
    ]
    contracts = pd.read_csv(tmp_path / "data" / "contracts.csv", dtype=str)
    assert set(contracts["client"]) == {"Acme Corp", "Globex LLC"}  # Contracts -> Companies, no client_lookup


def test_a_pull_at_a_terminal_says_each_step_of_each_connection(project: Path) -> None:
    """An API's pages can take minutes: at a terminal ``recon run --connection`` says which connection is at
    which step (each once, as it begins) before reconciling; standard output is as without a terminal."""
    from tests.terminal import run_at_a_terminal, steps

    code, stdout, shown = run_at_a_terminal(["run", "--connection", "cw", "--connection", "pax8", "--connection",
                                             "msft", "--period", vendors.MONTH, "--out", "out"], cwd=project)
    assert code == 0, shown
    said = steps(shown)
    pulled = [step.removeprefix("pulling ") for step in said if step.startswith("pulling ")]
    assert [step.split(": ")[0] for step in pulled] == sorted(
        [step.split(": ")[0] for step in pulled], key=["cw", "pax8", "msft"].index)  # one connection after another
    assert {"cw: agreements", "cw: invoices", "cw: time entries", "pax8: invoice items"} <= set(pulled)
    assert len(pulled) == len(set(pulled))  # each step once
    assert [step for step in said if step.startswith("pulled ")] == ["pulled cw", "pulled pax8", "pulled msft"]
    assert said[len(pulled) + 3].startswith("reconciling ") and said[-1] == "writing the results to out/"
    assert "Pulled cw for 2026-02:" in stdout and "pulling" not in stdout


def test_pull_never_writes_over_a_file_another_connection_or_a_person_wrote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connectwise_server: StandIn, autotask_server: StandIn,
        pax8_server: StandIn) -> None:
    """``recon pull`` writes ``contracts.csv``, ``invoices.csv``, ``time_entries.csv`` and ``catalog.csv`` for a
    PSA. It used to write them over whatever the folder held: a catalog kept by hand (its vendor_sku mapping
    gone), or, pulling ConnectWise and Autotask in one command, ConnectWise's contracts replaced by Autotask's
    without a word. Now such a pull is refused before anything is written, naming the file and whose it is;
    pulling the same connection again refreshes its own files."""
    write_project(tmp_path, connections_toml(connectwise_server.url, pax8_server.url,
                                             autotask=autotask_server.url))
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    kept = "sku,description,list_price,vendor_sku\nM365-BP,Business Premium,22.00,MS-OFF-BUS-PREM\n"
    (data / "catalog.csv").write_text(kept)
    pulled = runner.invoke(app, ["pull", "--connection", "cw", "--period", vendors.MONTH, "--out", "data",
                                 "--no-store"])
    assert pulled.exit_code != 0
    assert "data/catalog.csv is not from a pull, and pulling cw would write over it" in pulled.output, pulled.output
    assert (data / "catalog.csv").read_text() == kept and sorted(path.name for path in data.iterdir()) == [
        "catalog.csv"]

    (data / "catalog.csv").unlink()
    for _ in range(2):  # the same connection again: its own files refreshed
        pulled = runner.invoke(app, ["pull", "--connection", "cw", "--period", vendors.MONTH, "--out", "data",
                                     "--no-store"])
        assert pulled.exit_code == 0, pulled.output
    contracts = (data / "contracts.csv").read_bytes()
    both = runner.invoke(app, ["pull", "--connection", "pax8", "--connection", "at", "--period", vendors.MONTH,
                               "--out", "data", "--no-store"])
    assert both.exit_code != 0
    assert "data/contracts.csv is pulled from connection cw, and pulling at would" in both.output, both.output
    assert (data / "contracts.csv").read_bytes() == contracts and not (data / "usage-pax8.csv").exists()

    together = runner.invoke(app, ["pull", "--connection", "cw", "--connection", "at", "--period", vendors.MONTH,
                                   "--out", "elsewhere", "--no-store"])
    assert together.exit_code != 0 and "cw and at both give contracts" in together.output, together.output
    assert not (tmp_path / "elsewhere").exists()
