"""The command line when the files are odd (issue 24): a header-only invoice file and no payments, an
export to a folder, the same count of findings in every place, a 0-byte optional file, and the
validation report showing physical lines beside rows."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from recon.cli import app
from tests.recon.test_cli import scenario_dir

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_a_header_only_invoice_file_and_no_payments_reconcile(tmp_path: Path) -> None:
    """Was: "error: bad option: cannot construct ChunkedArray from empty vector and omitted type"."""
    data = scenario_dir(tmp_path, "quantity_and_price")
    header = (data / "invoices.csv").read_text().splitlines()[0]
    (data / "invoices.csv").write_text(header + "\n")
    (data / "payments.csv").unlink(missing_ok=True)
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store"])
    assert result.exit_code == 0, result.output
    assert "Results written to" in result.output


def test_a_zero_byte_optional_file_does_not_refuse_the_run(tmp_path: Path) -> None:
    data = scenario_dir(tmp_path, "quantity_and_price")
    (data / "payments.csv").write_bytes(b"")
    checked = runner.invoke(app, ["validate", "--data", str(data)])
    assert checked.exit_code == 0, checked.output
    assert "  warning: is empty (0 bytes): read as no payments rows" in checked.output
    ran = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store"])
    assert ran.exit_code == 0, ran.output
    (data / "invoices.csv").write_bytes(b"")  # a required source with no bytes is still refused
    refused = runner.invoke(app, ["validate", "--data", str(data)])
    assert refused.exit_code == 1 and "invoices.csv  [invoices]" in refused.output
    assert "REFUSED: is empty (0 bytes)" in refused.output


def test_an_export_to_a_folder_or_an_unwritable_path_is_one_line(tmp_path: Path) -> None:
    data = scenario_dir(tmp_path, "quantity_and_price")
    assert runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out")]).exit_code == 0
    for target, reason in ((tmp_path, "Is a directory"), (Path("/proc/audit.xlsx"), "No such file or directory")):
        result = runner.invoke(app, ["export", "1", "--out", str(target)])
        assert result.exit_code == 2, result.output
        assert result.output == f"error: cannot write {target}: {reason}\n"
        assert result.exception is None or isinstance(result.exception, SystemExit)
    made = tmp_path / "missing" / "audit.xlsx"  # a folder that does not exist yet is made, as for recon run
    assert runner.invoke(app, ["export", "1", "--out", str(made)]).exit_code == 0 and made.is_file()


def test_the_count_of_findings_is_the_same_in_the_summary_and_the_run_list(tmp_path: Path) -> None:
    """``recon runs`` said "found 66" where the summary said 60: informational findings counted in one."""
    data = tmp_path / "data"
    data.mkdir()
    for path in SAMPLE.glob("*.csv"):
        if path.stem not in ("answer_key", "expected_unmapped"):
            shutil.copy(path, data / path.name)
    ran = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out")])
    assert ran.exit_code == 0, ran.output
    assert "61 actionable + 6 informational discrepancies." in ran.output
    listed = runner.invoke(app, ["runs"])
    assert "61 actionable + 6 informational" in listed.output


def test_validate_shows_physical_lines_beside_rows_and_how_the_file_was_read(tmp_path: Path) -> None:
    data = scenario_dir(tmp_path, "quantity_and_price")
    usage = (data / "usage.csv").read_text()
    (data / "usage.csv").write_bytes(usage.encode("utf-16") + "\nbroken,row".encode("utf-16-le"))
    result = runner.invoke(app, ["validate", "--data", str(data)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("usage.csv")))
    rows = usage.count("\n") - 1
    assert lines[at + 1] == f"  rows in {rows + 1} = used {rows} + quarantined 1 (1 blank rows skipped)"
    assert lines[at + 2] == f"  lines {rows + 3} = header 1 + used {rows} + quarantined 1 + blank 1"
    assert lines[at + 3] == "  encoding: UTF-16LE (byte order mark)"


def test_totals_that_would_wrap_refuse_the_run_in_one_line(tmp_path: Path) -> None:
    """Each amount within the per-line limit, but 500 of them at 10^12 add up past what 64-bit money
    holds: the run is refused in one line (it used to print a wrapped, negative billed total, exit 0)."""
    data = scenario_dir(tmp_path, "quantity_and_price")
    lines = (data / "invoices.csv").read_text().splitlines()
    header = lines[0].split(",")
    template = dict(zip(header, lines[1].split(","), strict=True))
    rows = [",".join({**template, "invoice_number": f"BIG-{number}", "quantity": "1",
                      "unit_price": "999999999999", "amount": "999999999999"}.get(name, "") for name in header)
            for number in range(500)]
    (data / "invoices.csv").write_text("\n".join([*lines, *rows]) + "\n")
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: the amounts in these files add up to ") and result.output.count("\n") == 1
    assert "beyond what money can be summed exactly in" in result.output
