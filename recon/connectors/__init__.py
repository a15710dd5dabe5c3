"""Connectors: pull the canonical sources straight from where they live (PRODUCT.md section 6, issue 8).

A named connection (``recon.connectors.config``) is a SQL database or one of the vendor APIs. ``pull``
fetches one billing month from it and normalises every source exactly like an uploaded file (same
mapping, parsing and quarantine; an import record with the SHA-256 of the pulled data). ``check`` makes
the cheapest authenticated call, to tell a user at once whether the connection works.

| type | module | sources |
|---|---|---|
| ``sql`` | ``recon.connectors.sql`` | whichever the connection has a query for |
| ``connectwise`` | ``recon.connectors.connectwise`` | contracts (additions), invoices, time entries, catalog |
| ``autotask`` | ``recon.connectors.autotask`` | contracts (service units), invoices (billing items), time, catalog |
| ``pax8`` | ``recon.connectors.pax8`` | usage (invoice items, with cost; usage-based products' usage lines) |
| ``partner_center`` | ``recon.connectors.partner_center`` | usage (billed reconciliation: API v2, v1 before 2024-02) |
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from recon.connectors import autotask, config, connectwise, partner_center, pax8, sql
from recon.connectors.config import (
    CONNECTOR_LABELS,
    CONNECTOR_TYPES,
    Connection,
    env_name,
    get_connection,
    load_connections,
)
from recon.connectors.frames import (
    ALL_KINDS,
    PulledFile,
    PullResult,
    as_file,
    load_pulled,
    pull_clashes,
    write_pull,
)
from recon.connectors.period import Period
from recon.errors import ConnectorError, MissingSourceError
from recon.schema import REQUIRED_SOURCES
from recon.sources import Sources, combine

Progress = Callable[[str, float], None]

_MODULES: dict[str, ModuleType] = {"sql": sql, "connectwise": connectwise, "autotask": autotask, "pax8": pax8,
                                   "partner_center": partner_center}


def pull(connection: Connection, period: str, progress: Progress | None = None) -> PullResult:
    """Pull ``period`` (``YYYY-MM``) from ``connection``: every source it provides, normalised like a file.

    ``progress(step, fraction)`` is called as the pull goes (fraction from 0 to 1). Raises
    ``ConnectorError`` when the connection cannot be used; bad rows become quarantine rows instead.
    """
    month, files = fetch(connection, period, progress)
    return PullResult(connection.name, month, files, tuple(load_pulled(file) for file in files))


def fetch(connection: Connection, period: str, progress: Progress | None = None) -> tuple[str, tuple[PulledFile, ...]]:
    """``pull`` up to the files, not yet read: (the month as ``YYYY-MM``, the pulled files), for a caller
    that reads files through its own path (the dashboard reads them as uploads)."""
    month = Period.parse(period)
    pulled = _MODULES[connection.type].fetch(connection, month, progress)
    return month.label, tuple(as_file(item, f"{connection.name}@{month.label}") for item in pulled)


def check(connection: Connection) -> str:
    """Make the cheapest authenticated call; a one-line description of what answered, or
    ``ConnectorError`` saying what to fix."""
    return str(_MODULES[connection.type].check(connection))


def pull_named(names: list[str], period: str, connections_file: Path | None = None,
               progress: Progress | None = None) -> list[PullResult]:
    """Pull ``period`` from each named connection of ``connections_file`` (default ``$RECON_CONNECTIONS_FILE``,
    else ``./connections.toml``)."""
    connections = load_connections(connections_file)
    missing = [name for name in names if name not in connections]
    if missing:
        known = ", ".join(sorted(connections)) or "none"
        raise ConnectorError(f"no connection named {', '.join(map(repr, missing))} in "
                             f"{connections_file or config.connections_file()} (defined: {known})")
    return [pull(connections[name], period, _naming(name, progress)) for name in names]


def _naming(name: str, progress: Progress | None) -> Progress | None:
    """``progress`` with each step named after the connection it is a step of (``cw: invoices``)."""
    if progress is None:
        return None
    named: Progress = progress
    return lambda step, fraction: named(f"{name}: {step}", fraction)


def pull_sources(names: list[str], period: str, connections_file: Path | None = None,
                 progress: Progress | None = None) -> tuple[Sources, list[PullResult]]:
    """Pull ``period`` from the named connections and combine them into the ``Sources`` of one run.

    Raises ``MissingSourceError`` when together they provide no contracts, usage or invoices.
    """
    results = pull_named(names, period, connections_file, progress)
    loaded = [item for result in results for item in result.loaded]
    provided = {item.record.source for item in loaded}
    missing = [kind for kind in REQUIRED_SOURCES if kind not in provided]
    if missing:
        raise MissingSourceError(f"connection(s) {', '.join(names)} provide no {', '.join(missing)}: add a "
                                 "--connection that does (e.g. a pax8 or partner_center one for usage)")
    return combine(loaded, ALL_KINDS), results


__all__ = [
    "CONNECTOR_LABELS",
    "CONNECTOR_TYPES",
    "Connection",
    "ConnectorError",
    "Period",
    "PullResult",
    "PulledFile",
    "check",
    "env_name",
    "fetch",
    "get_connection",
    "load_connections",
    "pull",
    "pull_clashes",
    "pull_named",
    "pull_sources",
    "write_pull",
]
