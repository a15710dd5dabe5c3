"""``recon``: the engine without the browser, for scheduled billing close (PRODUCT.md section 8)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from recon import io, report
from recon.engine import reconcile
from recon.errors import ReconError
from recon.settings import Settings

app = typer.Typer(help="MSP Billing Recon: contracts vs vendor usage vs invoices.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)

DataOption = Annotated[Path, typer.Option("--data", help="Directory of source files (contracts.csv, ...).")]


def fail(message: str) -> None:
    """One clear line on stderr and a non-zero exit; never a traceback for bad input."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _valid_period(value: str) -> str:
    try:
        date.fromisoformat(value + "-01")
    except ValueError:
        fail(f"--period must be YYYY-MM, got {value!r}")
    return value


@app.command()
def run(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the results to.")],
    period: Annotated[list[str] | None, typer.Option("--period", help="YYYY-MM; repeat for several.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Receivables as of this date (YYYY-MM-DD).")] = None,
) -> None:
    """Reconcile a data directory and write discrepancies, summary, receivables, unmapped and quarantine."""
    periods = [_valid_period(value) for value in period or []]
    try:
        settings = Settings(as_of=date.fromisoformat(as_of) if as_of else None)
        result = reconcile(io.load_directory(data), settings, periods or None)
        report.write_outputs(result, out)
    except ReconError as error:
        fail(str(error))
    except ValueError as error:
        fail(f"bad option: {error}")
    for line in report.summary_lines(result):
        typer.echo(line)
    typer.echo(f"Results written to {out}/")


@app.command()
def validate(
    data: DataOption,
    all_expectations: Annotated[bool, typer.Option("--all", help="List passed expectations too.")] = False,
    limit: Annotated[int, typer.Option(min=0, help="Quarantined rows to print per file.")] = 20,
) -> None:
    """Read and check every source file (profile.toml, presets, expectation suites) and print the report
    per file: expectations passed and failed, quarantined rows with reasons, rows in = used +
    quarantined. Exits 1 when a file is refused or a required source is missing."""
    try:
        inspection = io.inspect_directory(data)
    except ReconError as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(code=1) from None
    issues = {item.record.file: item.issues for item in inspection.loaded}
    for file_report in inspection.reports:
        file_issues = issues.get(file_report.file)
        for line in report.validation_lines(file_report, file_issues, all_expectations, limit):
            typer.echo(line)
    for line in [*inspection.ignored, *inspection.unused_entries]:
        typer.echo(f"note: {line}")
    missing = inspection.missing_kinds()
    if missing:
        typer.echo(f"refused: no file provides the required source(s): {', '.join(missing)}", err=True)
    if inspection.refused or missing:
        raise typer.Exit(code=1)


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the sample MSP into.")],
    clients: Annotated[int, typer.Option(min=1, help="Number of clients.")] = 40,
    months: Annotated[int, typer.Option(min=1, max=120, help="Number of months.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 7,
) -> None:
    """Write a realistic sample MSP (every discrepancy type planted) and its answer key."""
    from recon.sample import write_sample

    generated = write_sample(out, clients=clients, months=months, seed=seed)
    typer.echo(f"Sample MSP written to {out}/: {len(generated.answer_key)} planted discrepancies.")


@app.command()
def dashboard(port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501) -> None:
    """Start the dashboard (Streamlit)."""
    app_path = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    if not app_path.exists():
        fail(f"dashboard not found at {app_path}")
    raise typer.Exit(subprocess.call([sys.executable, "-m", "streamlit", "run", str(app_path),
                                      "--server.port", str(port)]))


if __name__ == "__main__":
    app()
