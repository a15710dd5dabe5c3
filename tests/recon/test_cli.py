"""The ``recon`` command as a scheduled billing close runs it: files in, evidence out, clear failures."""

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from recon import cli
from recon.cli import app
from recon.exports import report
from recon.exports.formatting import money_text
from tests.scenarios import DEFAULT_CATALOG, SCENARIOS, parse_scenario
from tests.terminal import run_at_a_terminal, steps

runner = CliRunner()


def scenario_dir(tmp_path: Path, name: str) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "catalog.csv").write_text(DEFAULT_CATALOG)
    for kind, text in parse_scenario((SCENARIOS / f"{name}.txt").read_text()).items():
        if kind != "expected":
            (data / f"{kind}.csv").write_text(text)
    return data


def test_the_summary_reads_as_a_person_reads_money_and_says_what_the_files_say(tmp_path: Path) -> None:
    """The printed totals group thousands (``1,163,208.92``, not ``1163208.92``) and are summary.json's exactly."""
    result = runner.invoke(app, ["run", "--data", "sample_data", "--out", str(tmp_path / "out"), "--no-store"])
    assert result.exit_code == 0, result.output
    overall = json.loads((tmp_path / "out" / "summary.json").read_text())["overall"]
    shown = {name: f"{Decimal(overall[name]):,.2f}" for name in ("billed_revenue", "expected_revenue", "leakage")}
    assert "," in shown["billed_revenue"]
    assert (f"  billed {shown['billed_revenue']} USD, expected {shown['expected_revenue']} USD\n"
            f"  leakage {shown['leakage']} USD") in result.output
    assert f"{overall['keys']:,} keys" in result.output


@given(st.integers(min_value=-(10**17), max_value=10**17))
def test_a_grouped_amount_is_the_exact_amount_with_thousands_marked(units: int) -> None:
    assert report.grouped(units).replace(",", "") == money_text(units)


def test_run_writes_every_output(tmp_path: Path) -> None:
    data = scenario_dir(tmp_path, "quantity_and_price")
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "2 discrepancies" in result.output
    found = pd.read_csv(tmp_path / "out" / "discrepancies.csv", dtype=str)
    required = ["period", "client", "sku", "type", "direction", "expected_qty", "billed_qty", "expected_unit_price",
                "billed_unit_price", "expected_amount", "billed_amount", "variance", "fingerprint"]
    assert set(required) <= set(found.columns)
    assert sorted(found["variance"]) == ["-48.00", "-66.00"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["overall"]["leakage"] == "114.00"
    assert summary["by_period"][0]["period"] == "2026-02"
    for name in ("receivables.csv", "unmapped.csv", "quarantine.csv"):
        assert (tmp_path / "out" / name).exists()


def test_keys_csv_is_written_only_when_asked_and_always_as_parquet(tmp_path: Path) -> None:
    """Every key of a run is a large file (a million rows at 1M invoice lines, issue 25): ``keys.csv``
    only with ``--keys``; Parquet always carries it."""
    data = scenario_dir(tmp_path, "quantity_and_price")
    plain = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "plain"), "--no-store"])
    assert plain.exit_code == 0, plain.output
    assert not (tmp_path / "plain" / "keys.csv").exists() and (tmp_path / "plain" / "discrepancies.csv").exists()
    asked = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "asked"), "--no-store", "--keys"])
    assert asked.exit_code == 0, asked.output
    keys = pd.read_csv(tmp_path / "asked" / "keys.csv", dtype=str)
    assert {"period", "client", "sku"} <= set(keys.columns) and len(keys)
    parquet = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "pq"), "--no-store",
                                  "--format", "parquet"])
    assert parquet.exit_code == 0, parquet.output
    assert len(pd.read_parquet(tmp_path / "pq" / "keys.parquet")) == len(keys)


def test_run_restricts_to_the_given_periods(tmp_path: Path) -> None:
    data = scenario_dir(tmp_path, "billed_without_usage")
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--period", "2026-01"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "out" / "discrepancies.csv").empty


def test_a_period_with_no_invoice_or_usage_is_flagged(tmp_path: Path) -> None:
    """A month outside the data (a typo, or not invoiced yet) reads as 100 % leakage: say so."""
    data = scenario_dir(tmp_path, "quantity_and_price")
    asked = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store",
                                "--period", "2026-02", "--period", "2036-02"])
    assert asked.exit_code == 0, asked.output
    assert "Reconciled 2026-02, 2036-02:" in asked.output
    warnings = [line for line in asked.output.splitlines() if "warning" in line]
    assert warnings == ["  warning: 2036-02 has no invoice line and no vendor usage in the data, so every "
                        "contract line in it counts as not billed (a month not yet invoiced, or a mistyped "
                        "--period?)"]
    default = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store"])
    assert "warning" not in default.output


def test_missing_required_file_is_one_clear_line(tmp_path: Path) -> None:
    data = scenario_dir(tmp_path, "quantity_and_price")
    (data / "invoices.csv").unlink()
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {data}: missing required source file(s): invoices.csv"]


def test_missing_column_and_bad_period_fail_clearly(tmp_path: Path) -> None:
    data = scenario_dir(tmp_path, "quantity_and_price")
    (data / "usage.csv").write_text("client,sku,period_start\nAcme,X,2026-01-01\n")
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "missing required column(s) for usage: quantity" in result.output
    assert "Traceback" not in result.output
    bad_period = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path), "--period", "2026-13"])
    assert bad_period.exit_code == 2 and "--period must be YYYY-MM" in bad_period.output


def test_a_bad_as_of_date_is_a_bad_option_but_a_bug_is_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what the user typed is reported as a bad option: a ValueError raised inside the engine (a bug
    in our code, injected here) propagates instead of reading "bad option: ..." (issue 19)."""
    data = scenario_dir(tmp_path, "quantity_and_price")
    bad_date = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store",
                                   "--as-of", "2026-02-31"])
    assert bad_date.exit_code == 2 and "--as-of must be YYYY-MM-DD, got '2026-02-31'" in bad_date.output

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("cannot convert float NaN to integer")

    monkeypatch.setattr(cli, "reconcile", broken)
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store"])
    assert isinstance(result.exception, ValueError) and "bad option" not in result.output


@pytest.mark.parametrize("usage", ["", "Acme,DATTO-SAAS,3,2026-01-01\n"], ids=["no rows", "no row that maps"])
def test_files_that_give_no_month_to_reconcile_say_so(tmp_path: Path, usage: str) -> None:
    """Header-only contracts and invoices, and a usage file with no row or none that maps (no contract names
    the client): no month to reconcile. One clear line, not a traceback (an IndexError from the engine)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "contracts.csv").write_text("client,sku,unit_price,quantity,start_date\n")
    (data / "invoices.csv").write_text("invoice_number,invoice_date,client,sku,quantity,unit_price\n")
    (data / "usage.csv").write_text("client,sku,quantity,period_start\n" + usage)
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store"])
    assert result.exit_code == 2 and "Traceback" not in result.output and result.exception is not None
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: no month to reconcile: no invoice line and no usage row mapped to a "
                                "client and sku")
    assert ("1 usage row maps to no client and sku" in lines[-1]) == bool(usage)


def test_validate_reports_counts_and_refuses_bad_files(tmp_path: Path) -> None:
    data = scenario_dir(tmp_path, "quantity_and_price")
    with (data / "usage.csv").open("a") as usage:
        usage.write("Acme Corp,MS-OFF-BUS-PREM,many,2026-02-01,Pax8,19.80\n")
    result = runner.invoke(app, ["validate", "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert "quantity: cannot read quantity 'many'" in result.output
    shutil.copy(data / "usage.csv", data / "usage_broken.xlsx")
    refused = runner.invoke(app, ["validate", "--data", str(data)])
    assert refused.exit_code == 1 and "usage_broken.xlsx" in refused.output


def test_help_reads_as_prose_without_source_markup() -> None:
    """Docstrings become the help: their ``code`` spans render as code, not as doubled backticks, and a
    command's summary in the list is one paragraph, not the docstring's line breaks."""
    for command in ([], ["pull"], ["dashboard"], ["user"]):
        shown = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output
        assert "``" not in shown, shown
    listed = runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    assert "connections (--connection), store the run, and write" in listed, listed


ENDING = """
import atexit, sys
sys.argv = ["recon", *{args!r}]


class Held:
    def __del__(self):
        print("torn down", flush=True)


held = Held()  # a global of the program: the interpreter's teardown frees it
atexit.register(lambda: print("exit handlers ran"))
from recon.cli import entry

entry()
"""


@pytest.mark.parametrize("store", [False, True])
def test_a_run_without_the_store_ends_without_the_interpreters_teardown(tmp_path: Path, store: bool) -> None:
    # Freeing a 1M run's objects one by one took 0.15 to 0.4 s after its results were written (issue 25); a run that
    # stored nothing ends at once, its exit handlers run and its output flushed. A stored run ends as usual.
    import subprocess
    import sys

    data, out = scenario_dir(tmp_path, "quantity_and_price"), tmp_path / "out"
    args = ["--database-url", f"sqlite:///{tmp_path / 'recon.db'}", "run", "--data", str(data), "--out", str(out),
            *([] if store else ["--no-store"])]
    done = subprocess.run([sys.executable, "-c", ENDING.format(args=args)], cwd=Path(cli.__file__).parents[1],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[-2:] == ([f"Results written to {out}/", "exit handlers ran", "torn down"][-2:] if store
                          else [f"Results written to {out}/", "exit handlers ran"])
    assert ("torn down" in lines) is store
    assert (out / "discrepancies.csv").exists()


def test_a_run_at_a_terminal_says_what_it_is_doing(tmp_path: Path) -> None:
    """A million-row run takes 10 to 30 s (issue 25): at a terminal each step is said as it begins, with the
    seconds since the start, on standard error; the summary on standard output is as before."""
    data = scenario_dir(tmp_path, "quantity_and_price")
    database = f"sqlite:///{tmp_path / 'recon.db'}"
    code, stdout, shown = run_at_a_terminal(["--database-url", database, "run", "--data", str(data),
                                              "--out", str(tmp_path / "out")])
    assert code == 0, shown
    assert steps(shown) == [f"reading the files of {data}",
                     "reconciling 1 contract line, 1 usage row, 1 invoice line, 7 catalog rows, "
                     "with any charges stored by earlier imports",
                     f"storing the run (2 findings) in {database}",
                     f"writing the results to {tmp_path / 'out'}/"], shown
    assert all(line.endswith(" s") for line in (line.split("]")[0] for line in shown.splitlines()
                                                 if line.startswith("[")))
    assert "2 discrepancies" in stdout and "[" not in stdout.split("\n", 1)[0]


def test_a_run_whose_output_goes_to_a_file_or_a_pipe_says_nothing_more(tmp_path: Path) -> None:
    """A scheduled close reads stdout and logs stderr: without a terminal no step is said, stderr stays empty."""
    import subprocess
    import sys

    data = scenario_dir(tmp_path, "quantity_and_price")
    done = subprocess.run([sys.executable, "-m", "recon.cli", "run", "--data", str(data), "--out",
                           str(tmp_path / "out"), "--no-store"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "2 discrepancies" in done.stdout and "reading the files" not in done.stdout
