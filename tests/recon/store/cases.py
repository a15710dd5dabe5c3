"""Reconciliations the store tests save: the same January reconciled before and after fixes.

Also imported by the subprocesses of the crash and concurrency tests (``python -c`` with the repository
root on ``PYTHONPATH``), so it only needs ``recon`` and ``tests.scenarios``.
"""

from __future__ import annotations

from functools import cache

from recon.engine import Reconciliation, reconcile
from tests.scenarios import FIXTURES, parse_scenario, run_scenario, scenario_sources

PERIOD = "2026-01"


@cache
def month(name: str) -> Reconciliation:
    """Reconcile ``tests/fixtures/store/<name>.txt`` over January 2026 (once per process: the result is
    frozen, and tests that need a variant make one with ``dataclasses.replace``)."""
    sections = parse_scenario((FIXTURES / "store" / f"{name}.txt").read_text(encoding="utf-8"))
    return reconcile(scenario_sources(sections), periods=[PERIOD])


def before_fixes() -> Reconciliation:
    """Quantity under-billed (-66.00), price below contract (-50.00), missed helpdesk (-300.00)."""
    return month("month_one")


def after_fixes() -> Reconciliation:
    """Quantity now -22.00, price cleared, a new duplicate (+450.00), helpdesk still missed."""
    return month("month_two")


@cache
def scenario(name: str) -> Reconciliation:
    """The engine's result for rule scenario ``name`` (``tests/fixtures/rules``), once per process."""
    return run_scenario(name)[0]


def fingerprint_of(result: Reconciliation, finding_type: str) -> str:
    found = result.discrepancies
    return str(found.loc[found["type"] == finding_type, "fingerprint"].iloc[0])
