"""The billing close on the command line, with the store (SQLite and PostgreSQL): run, list, resolve,
re-run with the resolution carried, export the audit pack; bad input is one line and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from recon.cli import app
from recon.store import Store
from tests.scenarios import DEFAULT_CATALOG, FIXTURES, parse_scenario

runner = CliRunner()


def data_dir(tmp_path: Path, name: str) -> Path:
    """The store scenario ``name`` written out as a data directory of CSV files."""
    data = tmp_path / name
    data.mkdir()
    (data / "catalog.csv").write_text(DEFAULT_CATALOG)
    for kind, text in parse_scenario((FIXTURES / "store" / f"{name}.txt").read_text()).items():
        if kind != "expected":
            (data / f"{kind}.csv").write_text(text)
    return data


def recon(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--database-url", url, *args])
    return result.exit_code, result.output


def test_close_of_month_on_the_command_line(store_url: str, tmp_path: Path) -> None:
    code, output = recon(store_url, "run", "--data", str(data_dir(tmp_path, "month_one")), "--out",
                         str(tmp_path / "out1"), "--by", "ann", "--label", "first pass")
    assert code == 0, output
    assert "Stored as run 1" in output
    first = pd.read_csv(tmp_path / "out1" / "discrepancies.csv", dtype=str)
    assert list(first["status"]) == ["open", "open", "open"]
    helpdesk = first.loc[first["type"] == "missed_recurring_charge", "fingerprint"].iloc[0]

    code, output = recon(store_url, "resolve", helpdesk, "--status", "credited", "--note", "CM-77", "--by", "bob")
    assert code == 0 and "credited" in output, output

    code, output = recon(store_url, "run", "--data", str(data_dir(tmp_path, "month_two")), "--out",
                         str(tmp_path / "out2"), "--label", "after fixes")
    assert code == 0 and "Stored as run 2" in output, output
    seen = next(line for line in output.splitlines() if "already imported before (same SHA-256)" in line)
    assert sorted(seen.split(": ")[1].split(", ")) == ["catalog.csv", "contracts.csv", "usage.csv"]
    second = pd.read_csv(tmp_path / "out2" / "discrepancies.csv", dtype=str).set_index("type")
    assert second.loc["missed_recurring_charge", "status"] == "credited"
    assert second.loc["duplicate_charge", "status"] == "open"

    code, output = recon(store_url, "runs")
    assert code == 0
    lines = output.splitlines()
    assert lines[1].split()[0] == "2" and "after fixes" in lines[1]
    assert lines[2].split()[0] == "1" and "ann / first pass" in lines[2] and "416.00" in lines[2]

    code, output = recon(store_url, "history", helpdesk)
    assert code == 0 and "credited  by bob: CM-77" in output

    code, output = recon(store_url, "export", "2", "--out", str(tmp_path / "audit.xlsx"))
    assert code == 0, output
    book = openpyxl.load_workbook(tmp_path / "audit.xlsx")
    assert {"summary", "discrepancies", "inputs", "settings"} <= set(book.sheetnames)


def test_run_uses_the_saved_settings_and_mappings(store_url: str, tmp_path: Path) -> None:
    data = data_dir(tmp_path, "month_one")
    usage = (data / "usage.csv").read_text().replace("ACME Corporation", "acme.onmicrosoft.com")
    (data / "usage.csv").write_text(usage)
    store = Store(store_url)
    store.save_client_alias("acme.onmicrosoft.com", "Acme Corp")
    store.save_settings(store.load_settings().replace(currency="EUR"))
    store.close()
    code, output = recon(store_url, "run", "--data", str(data), "--out", str(tmp_path / "out"))
    assert code == 0, output
    assert "leakage 416.00 EUR" in output and "unmapped usage rows 0" in output


def test_no_store_writes_files_only(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--no-store", "--data", str(data_dir(tmp_path, "month_one")),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0 and "Stored as run" not in result.output
    assert set(pd.read_csv(tmp_path / "out" / "discrepancies.csv")["status"]) == {"open"}


def test_the_database_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'from-env.db'}")
    result = runner.invoke(app, ["run", "--data", str(data_dir(tmp_path, "month_one")), "--out",
                                 str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-env.db").exists()
    assert "1" in runner.invoke(app, ["runs"]).output.splitlines()[1]


@pytest.mark.parametrize(("args", "message"), [
    (["resolve", "0123456789abcdef", "--status", "credited"],
     "error: no stored run has discrepancy fingerprint(s) 0123456789abcdef"),
    (["resolve", "0123456789abcdef", "--status", "paid"],
     "error: unknown status 'paid'; use one of open, billed, credited, accepted, disputed"),
    (["export", "9", "--out", "x.xlsx"], "error: no stored run with id 9"),
], ids=["unknown-fingerprint", "unknown-status", "unknown-run"])
def test_bad_store_input_is_one_clear_line(store_url: str, args: list[str], message: str) -> None:
    code, output = recon(store_url, *args)
    assert code == 2
    assert output.strip().splitlines() == [message]


@pytest.mark.parametrize(("url", "message"), [
    ("nonsense", "error: the database URL (RECON_DATABASE_URL or --database-url) is not one"),  # not quoted
    ("sqlite:////no/such/directory/recon.db", "error: cannot open database sqlite:////no/such/directory/recon.db:"),
    # a password no message of another test holds: it is masked for the life of the process (redaction)
    ("postgresql://someone:pw-7c1d2e0f@127.0.0.1:1/recon", "error: cannot open database "
                                                        "postgresql+psycopg://someone:***@127.0.0.1:1/recon:"),
], ids=["not-a-url", "no-such-directory", "server-down"])
def test_an_unusable_database_is_one_clear_line(url: str, message: str) -> None:
    code, output = recon(url, "runs")
    assert code == 2
    assert len(output.strip().splitlines()) == 1 and output.startswith(message)
    assert "pw-7c1d2e0f" not in output and "Traceback" not in output


def semantic_dir(tmp_path: Path, name: str, history: bool) -> Path:
    """A month of real-format files from ``tests/fixtures/semantics/<name>.txt``: its own files, or
    (``history``) the earlier month's vendor file with the same catalog, contracts and an invoice."""
    from tests.scenarios import SEMANTICS

    sections = parse_scenario((SEMANTICS / f"{name}.txt").read_text(encoding="utf-8"), headers=r"[\w -]+")
    data = tmp_path / f"{name}-{'earlier' if history else 'month'}"
    data.mkdir()
    for header, text in sections.items():
        words = header.split()
        shared = words[0] in ("catalog", "contracts")
        if words[0] in ("settings", "expected", "absent") or ((words[0] == "history") != history and not shared):
            continue
        kind = words[1] if words[0] == "history" else words[0]
        name = f"usage_{len(list(data.iterdir()))}.csv" if kind == "usage" else f"{kind}.csv"
        (data / name).write_text(text)
    if history:
        (data / "invoices.csv").write_text(
            "invoice_number,invoice_date,client,sku,quantity,unit_price,amount,period_start,period_end\n"
            "INV-1104,2025-11-10,Contoso Dental,PBI-PRO,4,14.00,56.00,2025-11-10,2025-11-30\n")
    return data


def test_a_run_draws_on_stored_charges_and_takes_its_quantity_basis(store_url: str, tmp_path: Path) -> None:
    code, output = recon(store_url, "run", "--data", str(semantic_dir(tmp_path, "ms_yearly_charge", True)),
                         "--out", str(tmp_path / "november"), "--period", "2025-11")
    assert code == 0 and "Stored as run 1" in output, output
    assert "stored charges drawn on" not in output

    march = semantic_dir(tmp_path, "ms_yearly_charge", False)
    code, output = recon(store_url, "run", "--data", str(march), "--out", str(tmp_path / "march"), "--period",
                         "2026-03", "--quantity-basis", "period_end")
    assert code == 0 and "Stored as run 2" in output, output
    drawn = next(line for line in output.splitlines() if "stored charges drawn on" in line)
    assert "(stored import " in drawn and "usage_" in drawn
    assert "0 discrepancies" in output  # the year bought in November holds March's 4 seats
    assert pd.read_csv(tmp_path / "march" / "unmatched_credits.csv").empty
    store = Store(store_url)
    assert store.load_run(2).settings.quantity_basis == "period_end"
    assert store.load_settings().quantity_basis == "day_weighted"  # the option is for this run only
    store.close()

    code, output = recon(store_url, "run", "--data", str(march), "--out", str(tmp_path / "bad"),
                         "--quantity-basis", "average")
    assert code != 0 and "quantity_basis" in output and len(output.strip().splitlines()) == 1, output


def test_a_run_of_another_data_set_draws_on_none_of_the_stored_charges_it_cannot_map(store_url: str,
                                                                                     tmp_path: Path) -> None:
    """The sample MSP stored, then a month of real-format exports of other clients (a user uploading "only
    these files"): the sample's March charges map to none of the month's clients, so they count for nothing
    and the run did not draw on their imports. It used to list all four ("stored charges drawn on:
    usage_datto.csv (stored import 9), ..."), in the run's audit trail too, files the user never chose."""
    sample = tmp_path / "sample"
    assert runner.invoke(app, ["sample", "--out", str(sample)]).exit_code == 0
    code, output = recon(store_url, "run", "--data", str(sample), "--out", str(tmp_path / "sample-out"))
    assert code == 0 and "Stored as run 1" in output, output
    real_month = FIXTURES / "real_month"
    code, output = recon(store_url, "run", "--data", str(real_month), "--out", str(tmp_path / "month"))
    assert code == 0 and "Stored as run 2" in output, output
    assert "stored charges drawn on" not in output
    code, alone = recon(store_url, "run", "--no-store", "--data", str(real_month), "--out", str(tmp_path / "alone"))
    assert code == 0, alone
    findings = [(tmp_path / name / "discrepancies.csv").read_bytes() for name in ("month", "alone")]
    assert findings[0] == findings[1]
    store = Store(store_url)
    try:
        imports = store.load_run(2).imports
        assert len(imports) and not imports["from_history"].astype(bool).any()
    finally:
        store.close()
