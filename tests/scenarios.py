"""Small named scenarios: one text file per case, sections of inline CSV plus the expected findings."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from recon.engine import Reconciliation, reconcile
from recon.ingest.files import load_file
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES
from recon.settings import Settings
from recon.sources import Sources, combine

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


def parse_scenario(text: str) -> dict[str, str]:
    """``[section]`` headed blocks of CSV text; ``#`` lines are the scenario's description."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        header = re.fullmatch(r"\[(\w+)\]", line.strip())
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
