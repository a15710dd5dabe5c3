"""No money leaves the product as units (issue 19): every table a page shows, every file a page offers
for download and every file the CLI writes, on the sample MSP, holds money as ``recon.schema`` declares it.

The walk: every page under AppTest as an admin (who sees every table and every download), with the
tabs, expanders and evidence panels that hold tables: a row selected where a selection opens evidence, a
second stored run with one invoice price changed (so the Runs page compares new, cleared and changed
findings), a finding resolved (its history), a file uploaded and a month pulled from a SQL connection
on the Sources page (their previews). Then ``recon run --out``, ``recon
export`` and ``recon pull`` (from a SQL database holding the sample MSP). ``tests/money_checks.py`` says
what fails: a numeric column the schema does not declare, money not written with its declared places
(``1140000`` for 114.00), money on screen as integer units or without the currency format of its places.

Each defect the issue names has its own test below the walk, on the same collected tables and files.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from dashboard.ui import money_format
from recon.cli import app as cli
from recon.engine import reconcile
from recon.ingest.directory import load_directory
from recon.money import MONEY_SCALE, money_times_quantity
from recon.rules import INFORMATIONAL_TYPES
from recon.schema import CANONICAL_MONEY_PLACES, SOURCES
from recon.store import Store
from tests.dashboard.psa import connections_toml
from tests.dashboard.signin import signed_in_app
from tests.money_checks import (
    column_formats,
    csv_problems,
    screen_matches_csv,
    screen_problems,
    summary_problems,
    xlsx_problems,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
pytestmark = pytest.mark.skipif(not (SAMPLE / "contracts.csv").is_file(), reason="sample_data/ is not generated yet")
# page -> the tables whose first row is selected (the evidence panels open on a selection)
PAGES: dict[str, tuple[str, ...]] = {
    "overview": (), "client": ("client.findings",), "discrepancies": ("discrepancies.table",),
    "fixes": ("fixes.table",), "receivables": (), "sources": (), "mappings": (), "runs": (), "settings": (),
    "admin": (),
}
SELECTED = {"selection": {"rows": [0], "columns": [], "cells": []}}


@dataclass
class Table:
    """One table on screen: the page, where on it, its frame and the number format of each column."""

    page: str
    where: str
    frame: pd.DataFrame
    formats: dict[str, str | None]


@dataclass
class Walk:
    tables: list[Table] = field(default_factory=list)
    downloads: dict[str, bytes] = field(default_factory=dict)  # "page: file name" -> content

    def table(self, page: str, column: str) -> Table:
        """The first table on ``page`` showing ``column``."""
        return next(table for table in self.tables if table.page == page and column in table.frame)

    def download(self, page: str, suffix: str) -> bytes:
        return next(content for where, content in self.downloads.items()
                    if where.startswith(f"{page}: ") and where.endswith(suffix))

    def csv_of(self, table: Table) -> bytes | None:
        """The CSV download of ``table``: the one on its page with the same columns and rows (a table
        and its download are made from the same frame)."""
        for where, content in self.downloads.items():
            if where.startswith(f"{table.page}: ") and where.endswith(".csv"):
                written = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
                if list(written.columns) == list(table.frame.columns) and len(written) == len(table.frame):
                    return content
        return None


def sample_psa(root: Path) -> Path:
    """The sample MSP as a PSA reporting database (every file a table of text, the usage files one
    table) and the ``connections.toml`` naming it ``psa``; returns that file."""
    engine = sa.create_engine(f"sqlite:///{root / 'psa.db'}")
    for kind in ("contracts", "invoices", "time_entries", "payments", "catalog", "client_aliases"):
        pd.read_csv(SAMPLE / f"{kind}.csv", dtype=str, keep_default_na=False).to_sql(kind, engine, index=False)
    usage = [pd.read_csv(path, dtype=str, keep_default_na=False) for path in sorted(SAMPLE.glob("usage_*.csv"))]
    pd.concat(usage, ignore_index=True).to_sql("usage", engine, index=False)
    engine.dispose()
    definitions = root / "connections.toml"
    definitions.write_text(connections_toml(root / "psa.db"))
    return definitions


def changed_price_run(url: str) -> int:
    """Store a run of the sample MSP in which the first under-priced invoice line is one currency unit
    cheaper still: the Runs page's comparison then has a changed finding (and a new and a cleared one)."""
    sources = load_directory(SAMPLE)
    first = reconcile(sources)
    finding = first.discrepancies[first.discrepancies["type"] == "price_below_contract"].iloc[0]
    invoices = sources["invoices"]
    line = (invoices["client"] == finding["client"]) & (invoices["sku"] == finding["sku"]) & (
        invoices["period_start"].dt.strftime("%Y-%m") == finding["period"])
    price = invoices["unit_price"].mask(line, invoices["unit_price"] - MONEY_SCALE)
    cheaper = invoices.assign(unit_price=price, amount=invoices["amount"].mask(
        line, money_times_quantity(invoices["quantity"], price)))
    changed = dataclasses.replace(sources, frames={**sources.frames, "invoices": cheaper})
    store = Store(url)
    try:
        return store.save_run(reconcile(changed), by="walk", label="one price changed")
    finally:
        store.close()


def _collect(at: AppTest, page: str, offered: list[tuple[str, Callable[[], object]]], walk: Walk) -> None:
    for index, element in enumerate([*at.dataframe, *at.table]):
        config = getattr(element.proto, "columns", "")
        walk.tables.append(Table(page, f"{page} table {index}", element.value, column_formats(config)))
    for file_name, produce in offered:
        content = produce()
        walk.downloads[f"{page}: {file_name}"] = content.encode() if isinstance(content, str) else bytes(content)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    tmp = tmp_path_factory.mktemp("walk")
    url = f"sqlite:///{tmp / 'recon.db'}"
    walked = Walk()
    offered: list[tuple[str, Callable[[], object]]] = []
    original = MediaFileManager.add_deferred

    def recording(self: MediaFileManager, data_callable: Callable[[], object], mimetype: str | None,
                  coordinates: str, file_name: str | None = None, *, element_id: str = "") -> str:
        offered.append((file_name or "", data_callable))
        return original(self, data_callable, mimetype, coordinates, file_name=file_name,  # type: ignore[arg-type]
                        element_id=element_id)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECON_SAMPLE_DIR", str(SAMPLE))
        patch.setenv("RECON_DATABASE_URL", url)
        patch.setattr(MediaFileManager, "add_deferred", recording)
        at = signed_in_app()  # stores the sample MSP's run
        assert not at.exception, [item.value for item in at.exception]
        changed_price_run(url)
        for page, selections in PAGES.items():
            offered.clear()
            at.switch_page(f"app_pages/{page}.py")
            for key in selections:
                at.session_state[key] = SELECTED
            at.run()
            assert not at.exception, (page, [item.value for item in at.exception])
            _collect(at, page, offered, walked)
        offered.clear()  # a finding resolved: the Discrepancies page shows its history
        at.switch_page("app_pages/discrepancies.py")
        at.session_state["discrepancies.table"] = SELECTED
        at.run()
        at.selectbox(key="discrepancies.status").select("disputed")
        at.button(key="FormSubmitter:discrepancies.resolve-Save resolution").click().run()
        at.session_state["discrepancies.table.1"] = SELECTED  # a saved resolution renews the grid's key
        at.run()
        _collect(at, "discrepancies (resolved)", offered, walked)
        offered.clear()  # a file uploaded on the Sources page: its preview, checks and quarantine
        at.switch_page("app_pages/sources.py").run()
        invoices = (SAMPLE / "invoices.csv").read_bytes()
        at.file_uploader(key="sources.uploads").set_value([("invoices.csv", invoices, "text/csv")]).run()
        assert not at.exception, [item.value for item in at.exception]
        _collect(at, "sources (upload)", offered, walked)
        offered.clear()  # a month pulled on the Connect tab: each pulled source's preview and checks
        patch.setenv("RECON_CONNECTIONS_FILE", str(sample_psa(tmp)))
        at.file_uploader(key="sources.uploads").set_value([]).run()
        at.text_input(key="sources.period").input("2026-03")
        at.button(key="sources.pull").click().run()
        assert not at.exception, [item.value for item in at.exception]
        assert at.session_state["sources.pulls"]
        _collect(at, "sources (pull)", offered, walked)
    yield walked


def test_every_table_on_every_page_shows_money_as_the_schema_declares(walk: Walk) -> None:
    assert len(walk.tables) > 25
    assert {*PAGES, "discrepancies (resolved)", "sources (upload)", "sources (pull)"} - {"settings"} <= {
        table.page for table in walk.tables}  # every page with a table, the history, both doors' previews
    problems = [problem for table in walk.tables
                for problem in screen_problems(table.where, table.frame, table.formats, money_format)]
    assert problems == []


def test_every_csv_a_page_offers_writes_money_as_the_schema_declares(walk: Walk) -> None:
    csvs = {where: content for where, content in walk.downloads.items() if where.endswith(".csv")}
    assert len(csvs) > 20
    assert [problem for where, content in csvs.items() for problem in csv_problems(where, content)] == []


def test_every_table_downloads_the_money_it_shows(walk: Walk) -> None:
    checked = [(table, walk.csv_of(table)) for table in walk.tables]
    assert sum(content is not None for _, content in checked) > 15
    assert [problem for table, content in checked if content is not None
            for problem in screen_matches_csv(table.where, table.frame, content)] == []


def test_the_audit_pack_a_page_offers_holds_money_as_numbers_with_their_places(walk: Walk) -> None:
    pack = walk.download("runs", ".xlsx")
    assert xlsx_problems("audit pack", pack) == []
    discrepancies = pd.read_excel(io.BytesIO(pack), sheet_name="discrepancies")
    listed = pd.read_csv(io.BytesIO(walk.download("runs", "discrepancies.csv")), dtype=str)
    assert sorted(Decimal(str(value)).quantize(Decimal("0.01")) for value in discrepancies["variance"]) == sorted(
        Decimal(value) for value in listed["variance"])


def test_the_client_statement_holds_the_client_pages_differences(walk: Walk) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(walk.download("client", "statement.xlsx"))).active
    cells = list(sheet.iter_rows(values_only=True))
    header = next(number for number, row in enumerate(cells) if row[0] == "Month")
    total = next(number for number, row in enumerate(cells) if number > header and row[0] == "Total")
    rows = cells[header + 1:total]
    found = pd.read_csv(io.BytesIO(walk.download("client", "-discrepancies.csv")), dtype=str)
    owed = found[~found["type"].isin(INFORMATIONAL_TYPES)] if "type" in found else found
    assert sorted(Decimal(str(row[8])).quantize(Decimal("0.01")) for row in rows if row[8] is not None) == sorted(
        Decimal(value) for value in owed["variance"])


# ------------------------------------------------------------------------------ the defects

def test_overview_clients_csv_writes_leakage_as_money_not_units(walk: Walk) -> None:
    clients = walk.download("overview", "clients.csv")
    leakage = pd.read_csv(io.BytesIO(clients), dtype=str)["leakage"]
    assert "-1425.00" in set(leakage)  # was 14250000 (the issue saw 1140000 for 114.00); a loss: negative (issue 22)
    assert csv_problems("clients.csv", clients) == []


def test_receivables_who_owes_the_most_shows_overdue_as_money(walk: Walk) -> None:
    table = walk.table("receivables", "overdue")
    assert pd.api.types.is_float_dtype(table.frame["overdue"])  # was Int64 units on screen
    assert table.formats["overdue"] == money_format(2)
    content = walk.download("receivables", "receivables_by_client.csv")
    assert csv_problems("receivables_by_client.csv", content) == []
    assert screen_matches_csv("who owes the most", table.frame, content) == []


def test_runs_csv_writes_run_totals_as_money(walk: Walk) -> None:
    content = walk.download("runs", "runs.csv")
    listed = pd.read_csv(io.BytesIO(content), dtype=str)
    assert listed["billed"].str.fullmatch(r"\d+\.\d\d").all()  # was 11534466200
    assert csv_problems("runs.csv", content) == []


def test_runs_changed_tab_shows_and_downloads_variance_delta_as_money(walk: Walk) -> None:
    table = walk.table("runs", "variance_delta")
    assert len(table.frame) >= 1
    assert pd.api.types.is_float_dtype(table.frame["variance_delta"])  # was -117000 on screen
    assert table.formats["variance_delta"] == money_format(2)
    content = walk.download("runs", "-changed.csv")
    changed = pd.read_csv(io.BytesIO(content), dtype=str)
    assert changed["variance_delta"].str.fullmatch(r"-\d+\.\d\d").all()  # one unit cheaper, times its quantity
    assert csv_problems("changed.csv", content) == []


def test_client_margin_csv_writes_money(walk: Walk) -> None:
    content = walk.download("client", "margin-by-product.csv")
    margins = pd.read_csv(io.BytesIO(content), dtype=str)
    assert margins["gross_margin"].str.fullmatch(r"-?\d+\.\d\d").all()  # was 2574000
    assert csv_problems("margin by product.csv", content) == []


# ----------------------------------------------------------------------------------------- the CLI

@pytest.fixture(scope="module")
def cli_outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``recon run --out``, ``recon export`` and ``recon pull`` (from a SQL database holding the sample MSP)."""
    root = tmp_path_factory.mktemp("cli")
    database = f"sqlite:///{root / 'recon.db'}"
    runner = CliRunner()
    ran = runner.invoke(cli, ["--database-url", database, "run", "--data", str(SAMPLE), "--out", str(root / "out"),
                                 "--keys"])
    assert ran.exit_code == 0, ran.output
    exported = runner.invoke(cli, ["--database-url", database, "export", "1", "--out", str(root / "audit.xlsx")])
    assert exported.exit_code == 0, exported.output
    definitions = sample_psa(root)
    pulled = runner.invoke(cli, ["pull", "--connection", "psa", "--period", "2026-03", "--out", str(root / "pulled"),
                                 "--no-store", "--connections", str(definitions)])
    assert pulled.exit_code == 0, pulled.output
    yield root


def test_recon_run_writes_money_as_the_schema_declares(cli_outputs: Path) -> None:
    written = sorted((cli_outputs / "out").glob("*.csv"))
    assert [path.name for path in written] == ["discrepancies.csv", "keys.csv", "quarantine.csv", "receivables.csv",
                                               "unmapped.csv", "unmatched_credits.csv"]
    assert [problem for path in written for problem in csv_problems(path.name, path.read_bytes())] == []
    summary = json.loads((cli_outputs / "out" / "summary.json").read_text())
    assert summary_problems("summary.json", summary) == []


def test_recon_run_keys_csv_writes_the_catalog_unit_cost_as_money(cli_outputs: Path) -> None:
    keys = pd.read_csv(cli_outputs / "out" / "keys.csv", dtype=str, keep_default_na=False)
    costs = keys.loc[keys["sku"] == "BACKUP-M365", "catalog_unit_cost"]
    assert set(costs) == {"2.0000"}  # was 20000
    assert keys["usage_rows"].str.fullmatch(r"\d*").all()  # a count, not 1.0


def test_recon_export_writes_the_audit_pack_with_money_as_numbers(cli_outputs: Path) -> None:
    pack = (cli_outputs / "audit.xlsx").read_bytes()
    assert xlsx_problems("audit.xlsx", pack) == []
    summary = pd.read_excel(io.BytesIO(pack), sheet_name="summary", dtype=object).set_index("key")["value"]
    figures = json.loads((cli_outputs / "out" / "summary.json").read_text())["overall"]
    assert Decimal(str(summary["leakage"])).quantize(Decimal("0.01")) == Decimal(figures["leakage"])


def test_recon_pull_writes_canonical_money_with_every_place(cli_outputs: Path) -> None:
    written = sorted((cli_outputs / "pulled").glob("*.csv"))
    assert {path.name for path in written} >= {"contracts.csv", "invoices.csv", "catalog.csv"}
    lossless = {spec.name: CANONICAL_MONEY_PLACES for specs in SOURCES.values() for spec in specs
                if spec.type == "money"}
    assert [problem for path in written for problem in csv_problems(path.name, path.read_bytes(), lossless)] == []
