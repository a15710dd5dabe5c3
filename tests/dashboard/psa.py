"""A PSA reporting database to connect to: the test MSP's tables in a SQLite file, and the
``connections.toml`` a user would write for it (one read-only query per source, bound to the month).

Pulling a month from it gives the rows the test MSP's files hold for that month (contracts, payments,
the catalog and aliases whole; usage, invoices and time entries of the month), so a pull can be checked
against reconciling the files themselves.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

MINI_MSP = Path(__file__).resolve().parents[1] / "fixtures" / "mini_msp"
MONTH = "2026-03"  # a month with quarantined usage rows (a quantity "twelve", a row without a client)
QUERIES = {
    "contracts": "SELECT * FROM contracts",
    "usage": "SELECT * FROM usage WHERE period_start <= :period_end AND period_end >= :period_start",
    "invoices": "SELECT * FROM invoices WHERE period_start >= :period_start AND period_start <= :period_end",
    "time_entries": "SELECT * FROM time_entries WHERE date >= :period_start AND date <= :period_end",
    "payments": "SELECT * FROM payments",
    "catalog": "SELECT * FROM catalog",
    "client_aliases": "SELECT * FROM client_aliases",
}


def build_psa_database(path: Path) -> Path:
    """Every CSV of the test MSP as a table of text columns in the SQLite file ``path``."""
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        for csv in sorted(MINI_MSP.glob("*.csv")):
            pd.read_csv(csv, dtype=str, keep_default_na=False).to_sql(csv.stem, engine, index=False)
    finally:
        engine.dispose()
    return path


def connections_toml(database: Path, name: str = "psa") -> str:
    """``connections.toml`` text defining the SQL connection ``name`` to ``database``."""
    lines = [f"[connections.{name}]", 'type = "sql"', f'url = "sqlite:///{database}"', f"[connections.{name}.queries]"]
    lines += [f'{kind} = "{sql}"' for kind, sql in QUERIES.items()]
    return "\n".join(lines) + "\n"


def write_psa_project(root: Path) -> Path:
    """A PSA database and a ``connections.toml`` for it under ``root``; returns the connections file."""
    database = build_psa_database(root / "psa.db")
    definitions = root / "connections.toml"
    definitions.write_text(connections_toml(database))
    return definitions
