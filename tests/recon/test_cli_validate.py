"""``recon validate`` prints the per-file report and fails only when something is refused; ``recon run``
reads profile.toml."""

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from recon.cli import app

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "real_exports"
runner = CliRunner()


def test_validate_prints_the_report_per_file_and_exits_zero_with_quarantined_rows() -> None:
    result = runner.invoke(app, ["validate", "--data", str(ROOT / "exports")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        "microsoft_recon_2026-03.csv  [usage]  read as preset microsoft-nce-recon (profile.toml line 2" in out
    )
    # PRODUCT.md 4a: the -2 seats row is a credit (netted, never quarantined); the row without a client is
    assert "microsoft_recon_2026-03.csv  [usage]" in out and "  rows in 3 = used 3 + quarantined 0" in out
    assert "  rows in 2 = used 1 + quarantined 1" in out
    assert "FAILED client present and text" in out and "expect_column_values_to_not_be_null  (1 of 2 rows)" in out
    assert "    line 3: client: required value is empty (expect_column_values_to_not_be_null)" in out
    assert "psa_invoices.csv  [invoices]  read as invoices with a column mapping" in out


def test_validate_all_lists_passed_expectations_too() -> None:
    result = runner.invoke(app, ["validate", "--data", str(ROOT / "canonical"), "--all"])
    assert result.exit_code == 0
    assert "ok     required columns present" in result.output


def test_validate_exits_non_zero_when_a_file_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "canonical", data)
    (data / "time_entries.csv").write_text("when,who\n2026-03-01,Acme\n")
    (data / "notes.csv").write_text("anything,else\n1,2\n")
    result = runner.invoke(app, ["validate", "--data", str(data)])
    assert result.exit_code == 1
    assert "time_entries.csv  [time_entries]" in result.output
    assert (
        "REFUSED: missing required column(s) for time_entries: date, client, hours, billable" in result.output
    )
    assert "note: notes.csv: no profile entry, not a canonical name, and no preset fits" in result.output
    assert "usage.csv  [usage]" in result.output  # the other files are still reported


def test_validate_exits_non_zero_for_a_bad_profile_or_a_missing_source(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "exports", data)
    (data / "profile.toml").write_text('[[source]]\npath = "x.csv"\nkind = "usage"\ndecimal = ";"\n')
    result = runner.invoke(app, ["validate", "--data", str(data)])
    assert result.exit_code == 1
    assert "line 4: [[source]] #1: decimal ';' is not '.' or ','" in result.output
    (data / "profile.toml").unlink()
    for name in ("psa_invoices.csv",):
        (data / name).unlink()
    result = runner.invoke(app, ["validate", "--data", str(data)])
    assert result.exit_code == 1
    assert "no file provides the required source(s): invoices" in result.output


def test_run_honours_the_profile(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--data", str(ROOT / "exports"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "11 discrepancies" in result.output  # test_real_exports pins them (the -2 seats credit nets, 4a)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {item["file"] for item in summary["imports"]} >= {
        "microsoft_recon_2026-03.csv",
        "psa_invoices.csv",
    }


def test_validate_never_prints_a_secret_a_data_file_holds(tmp_path: Path, monkeypatch) -> None:
    """Issue 23 item 8 (the attack of item 6): a data file holding the process environment (there
    ``payments.csv`` linked to ``/proc/self/environ``) had ``recon validate`` print the connection
    password in its refusal. The refusal still names the file's columns, with the secret masked by name
    (``RECON_CONN_*``) and by value (a secret the process holds, wherever it appears)."""
    data = tmp_path / "data"
    shutil.copytree(ROOT / "canonical", data)
    monkeypatch.setenv("RECON_CONN_PSA_PASSWORD", "Conn-Env-Secret1")
    (data / "payments.csv").write_bytes(b"RECON_CONN_PSA_PASSWORD=Conn-Env-Secret1\0PATH=/usr/bin\0HOME=/root\0")
    (data / "time_entries.csv").write_text("date,client,hours,billable\nConn-Env-Secret1,Acme,1,true\n")
    result = runner.invoke(app, ["validate", "--data", str(data)])
    assert "payments.csv  [payments]" in result.output and "REFUSED" in result.output
    # (the reader of issue 24 refuses the NUL-separated environment at its header without quoting it; a
    # refusal that did quote it would show the name masked)
    assert ("REFUSED: the header (line 1) holds a NUL byte" in result.output
            or "RECON_CONN_PSA_PASSWORD=***" in result.output)
    assert "Conn-Env-Secret1" not in result.output
