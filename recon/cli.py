"""``recon``: the engine without the browser, for scheduled billing close (PRODUCT.md section 8)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from recon import io, report
from recon.engine import reconcile
from recon.errors import ReconError
from recon.settings import Settings

if TYPE_CHECKING:
    from recon.connectors.frames import PullResult

app = typer.Typer(help="MSP Billing Recon: contracts vs vendor usage vs invoices.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)

DataOption = Annotated[Path, typer.Option("--data", help="Directory of source files (contracts.csv, ...).")]
ConnectionOption = Annotated[list[str] | None, typer.Option(
    "--connection", help="A named connection of connections.toml to pull from; repeat for several.")]
ConnectionsFileOption = Annotated[Path | None, typer.Option(
    "--connections", help="The connections file (default: ./connections.toml).")]


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
    out: Annotated[Path, typer.Option("--out", help="Directory to write the results to.")],
    data: Annotated[Path | None, typer.Option("--data", help="Directory of source files (contracts.csv, ...).")] = None,
    connection: ConnectionOption = None,
    connections: ConnectionsFileOption = None,
    period: Annotated[list[str] | None, typer.Option("--period", help="YYYY-MM; repeat for several.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Receivables as of this date (YYYY-MM-DD).")] = None,
) -> None:
    """Reconcile a data directory (--data) or a month pulled straight from connections (--connection), and
    write discrepancies, summary, receivables, unmapped and quarantine."""
    periods = [_valid_period(value) for value in period or []]
    if (data is None) == (not connection):
        fail("give exactly one of --data DIR or --connection NAME")
    if connection and len(periods) != 1:
        fail("--connection needs exactly one --period YYYY-MM: the month to pull")
    try:
        settings = Settings(as_of=date.fromisoformat(as_of) if as_of else None)
        sources = io.load_directory(data) if data is not None else _pulled_sources(connection or [], periods[0],
                                                                                   connections)
        result = reconcile(sources, settings, periods or None)
        report.write_outputs(result, out)
    except ReconError as error:
        fail(str(error))
    except ValueError as error:
        fail(f"bad option: {error}")
    for line in report.summary_lines(result):
        typer.echo(line)
    typer.echo(f"Results written to {out}/")


def _pulled_sources(names: list[str], period: str, connections_file: Path | None) -> io.Sources:
    from recon.connectors import pull_sources

    sources, results = pull_sources(names, period, connections_file)
    for result in results:
        _echo_counts(result)
    return sources


def _echo_counts(result: PullResult) -> None:
    typer.echo(f"Pulled {result.connection} for {result.period}:")
    for record in result.imports:
        typer.echo(f"  {record.source:<15} in {record.rows_in:>7}  loaded {record.rows_loaded:>7}"
                   f"  quarantined {record.rows_quarantined:>5}  sha256 {record.sha256[:12]}")


@app.command()
def pull(
    connection: Annotated[list[str], typer.Option("--connection", help="A named connection; repeat for several.")],
    period: Annotated[str, typer.Option("--period", help="The month to pull, YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="Data directory to write the canonical CSVs into.")] = Path("data"),
    connections: ConnectionsFileOption = None,
) -> None:
    """Pull one month from connections into a data directory (canonical CSVs ``recon run --data`` reads),
    printing rows in / loaded / quarantined per source."""
    from recon.connectors import pull_named, write_pull

    month = _valid_period(period)
    try:
        results = pull_named(connection, month, connections)
        for result in results:
            write_pull(result, out)
    except ReconError as error:
        fail(str(error))
    for result in results:
        _echo_counts(result)
        for issue in result.issues.head(20).itertuples():
            typer.echo(f"    {issue.file}:{issue.line}: {issue.reason}")
    typer.echo(f"Canonical sources written to {out}/")


@app.command()
def validate(data: DataOption) -> None:
    """Read and check every source file; report rows in / loaded / quarantined. Exits 1 when a file is
    refused."""
    try:
        sources = io.load_directory(data)
    except ReconError as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(code=1) from None
    for record in sources.imports:
        typer.echo(f"{record.file:<28} {record.source:<15} in {record.rows_in:>7}  loaded {record.rows_loaded:>7}"
                   f"  quarantined {record.rows_quarantined:>5}")
    for issue in sources.issues.head(50).itertuples():
        typer.echo(f"  {issue.file}:{issue.line}: {issue.reason}")
    if len(sources.issues) > 50:
        typer.echo(f"  ... and {len(sources.issues) - 50} more quarantined rows")


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
