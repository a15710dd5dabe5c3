"""Resolution statuses of a discrepancy (PRODUCT.md section 7) and attaching them to findings.

A person resolves a finding by its stable ``fingerprint``; the latest resolution is its status, and a
finding nobody resolved is ``open``. Kept apart from ``recon.store`` so exports can show statuses
without touching a database.
"""

from __future__ import annotations

import pandas as pd

OPEN = "open"
STATUSES = (OPEN, "billed", "credited", "accepted", "disputed")


def with_status(found: pd.DataFrame, resolutions: pd.DataFrame | None) -> pd.DataFrame:
    """A copy of ``found`` with a ``status`` column: the latest of ``resolutions`` (columns
    ``fingerprint``, ``status``, oldest first) for each fingerprint, else ``open``."""
    if resolutions is None or not len(resolutions):
        return found.assign(status=pd.Series(OPEN, index=found.index, dtype="string"))
    latest = resolutions.drop_duplicates("fingerprint", keep="last").set_index("fingerprint")["status"]
    return found.assign(status=found["fingerprint"].map(latest).astype("string").fillna(OPEN))
