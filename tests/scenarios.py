"""Small named scenarios: one text file per case, sections of inline CSV plus the expected findings."""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recon.engine import Reconciliation, reconcile
from recon.ingest.files import load_file, load_source
from recon.ingest.profile import SourceEntry
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES
from recon.settings import Settings
from recon.sources import Sources, ValidationReport, combine

FIXTURES = Path(__file__).parent / "fixtures"
SCENARIOS = FIXTURES / "rules"

DEFAULT_CATALOG = """sku,description,list_price,unit_cost,vendor,vendor_sku
M365-BP,Microsoft 365 Business Premium,22.00,19.80,Microsoft,MS-OFF-BUS-PREM;CFQ7TTC0LCHC
MANAGED-WS,Managed workstation,45.00,,,
MANAGED-SRV,Managed server,120.00,,,
HELPDESK,Helpdesk,300.00,,,
BLOCK-HOURS,Block of 10 hours,1250.00,,,
LABOR,Labour,150.00,,,
PROJECT,Project work,,,,
"""


def parse_scenario(text: str, headers: str = r"\w+") -> dict[str, str]:
    """``[section]`` headed blocks of CSV text; ``#`` lines are the scenario's description. ``headers``
    is what a section's name may be (a regular expression)."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        header = re.fullmatch(rf"\[({headers})\]", line.strip())
        if header:
            current = header.group(1)
            sections[current] = []
        elif current and line.strip() and not line.startswith("#"):
            sections[current].append(line)
    return {name: "\n".join(lines) + "\n" for name, lines in sections.items()}


def scenario_sources(sections: dict[str, str]) -> Sources:
    """Load every source section as if it were a file named after it (the catalog defaults)."""
    files = {"catalog": DEFAULT_CATALOG} | {k: v for k, v in sections.items() if k != "expected"}
    loaded = [load_file(text.encode(), f"{kind}.csv", kind) for kind, text in files.items()]
    return combine(loaded, (*REQUIRED_SOURCES, *OPTIONAL_SOURCES))


def run_scenario(name: str, settings: Settings | None = None) -> tuple[Reconciliation, pd.DataFrame]:
    """Reconcile scenario ``name``; returns the result and the expected findings frame."""
    sections = parse_scenario((SCENARIOS / f"{name}.txt").read_text(encoding="utf-8"))
    expected = pd.read_csv(pd.io.common.StringIO(sections["expected"]), dtype=str, keep_default_na=False)
    return reconcile(scenario_sources(sections), settings), expected


def scenario_names() -> list[str]:
    return sorted(path.stem for path in SCENARIOS.glob("*.txt"))


# ------------------------------------------------------------------------- real formats (PRODUCT.md 4a)

SEMANTICS = FIXTURES / "semantics"


@dataclass(frozen=True)
class SemanticScenario:
    """A ``tests/fixtures/semantics`` scenario reconciled: the result, the findings that must appear
    (``expected``: period, client, sku, type, variance) and those that must not (``absent``)."""

    result: Reconciliation
    expected: pd.DataFrame
    absent: pd.DataFrame
    history: Sources | None
    reports: tuple[ValidationReport, ...] = ()  # the run's own files'


def _section_files(sections: dict[str, str], history: bool) -> list:
    """Every ``[kind]`` / ``[kind preset]`` section (``[history kind preset]`` when ``history``) loaded as a
    file of that kind read with that preset."""
    loaded = []
    for number, (header, text) in enumerate(sections.items()):
        words = header.split()
        if (words[0] == "history") != history or words[0] in ("settings", "expected", "absent"):
            continue
        kind, *preset = words[1:] if history else words
        name = f"{'history-' if history else ''}{number:02d}-{kind}.csv"
        entry = SourceEntry(path=name, kind=kind, preset=preset[0] if preset else None)
        loaded.append(load_source(text.encode("utf-8"), name, entry))
    return loaded


def semantic_settings(sections: dict[str, str]) -> tuple[Settings, list[str] | None]:
    """``[settings]``: ``name = value`` lines; ``periods`` is a comma-separated list."""
    values = dict(line.split("=", 1) for line in sections.get("settings", "").splitlines() if "=" in line)
    values = {name.strip(): value.strip() for name, value in values.items()}
    periods = [period.strip() for period in values.pop("periods", "").split(",") if period.strip()]
    return Settings().replace(**values), periods or None


def without_columns(text: str, columns: tuple[str, ...]) -> str:
    """CSV ``text`` with ``columns`` deleted where it has them (as a spreadsheet deletes them: header and cells)."""
    rows = list(csv.reader(io.StringIO(text)))
    kept = [index for index, column in enumerate(rows[0]) if column not in columns]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[row[index] for index in kept] for row in rows])
    return out.getvalue()


@functools.cache
def run_semantic(name: str, without: tuple[tuple[str, str], ...] = (), **changes: str) -> SemanticScenario:
    """Reconcile scenario ``name`` of ``tests/fixtures/semantics`` (its history as the store's charge
    history); ``without``: (kind, column) pairs, the column deleted from its own files of that kind;
    ``changes`` override its settings."""
    sections = parse_scenario((SEMANTICS / f"{name}.txt").read_text(encoding="utf-8"), headers=r"[\w -]+")
    settings, periods = semantic_settings(sections)
    for header, text in sections.items():
        deleted = tuple(column for kind, column in without if kind == header.split()[0])
        sections[header] = without_columns(text, deleted) if deleted else text
    kinds = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)
    history_files = _section_files(sections, history=True)
    history = combine(history_files, kinds) if history_files else None
    files = combine(_section_files(sections, history=False), kinds)
    result = reconcile(files, settings.replace(**changes), periods, history=history)
    frames = [pd.read_csv(io.StringIO(sections[part]), dtype=str, keep_default_na=False)
              for part in ("expected", "absent")]
    return SemanticScenario(result, frames[0], frames[1], history, files.reports)


def semantic_names() -> list[str]:
    return sorted(path.stem for path in SEMANTICS.glob("*.txt"))
