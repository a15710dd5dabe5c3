"""Resolution statuses of a discrepancy (PRODUCT.md section 7) and attaching them to findings.

A person resolves a finding by its stable ``fingerprint``; the latest resolution is its status, and a
finding nobody resolved is ``open``. Kept apart from ``recon.store`` so exports can show statuses
without touching a database. ``with_status`` is the one place a status (and its note) is joined onto
findings: the run's outputs, a stored run, the dashboard's views and the recovered / open figures.
"""

from __future__ import annotations

import pandas as pd

OPEN = "open"
STATUSES = (OPEN, "billed", "credited", "accepted", "disputed")
# Worked and closed: billed or credited (the money moved) or accepted as it is. Open and disputed findings
# still need someone (the Discrepancies page hides the closed ones unless asked).
CLOSED_STATUSES = ("billed", "credited", "accepted")


def latest_resolutions(resolutions: pd.DataFrame | None) -> pd.DataFrame | None:
    """One row per fingerprint: the last one given (a history in time order collapses to its state)."""
    if resolutions is None:
        return None
    return resolutions.drop_duplicates("fingerprint", keep="last").reset_index(drop=True)


def with_status(found: pd.DataFrame, resolutions: pd.DataFrame | None, notes: bool = False) -> pd.DataFrame:
    """A copy of ``found`` with a ``status`` column: the latest of ``resolutions`` (columns
    ``fingerprint``, ``status``, optional ``note``, oldest first) for each fingerprint, else ``open``;
    with ``notes``, also that resolution's ``note`` (missing where there is none)."""
    status = pd.Series(OPEN, index=found.index, dtype="string")
    note = pd.Series(pd.NA, index=found.index, dtype="string")
    latest = latest_resolutions(resolutions)
    if latest is not None and len(latest):
        latest = latest.set_index("fingerprint")
        status = found["fingerprint"].map(latest["status"]).astype("string").fillna(OPEN)
        if "note" in latest:
            note = found["fingerprint"].map(latest["note"]).astype("string")
    return found.assign(status=status, note=note) if notes else found.assign(status=status)
