"""MSP Billing Recon: the reconciliation engine (no UI here; see ``dashboard/`` for the face).

Data flows one way: files (``io``) -> canonical frames -> resolved keys (``identity``, ``keys``) ->
discrepancies (``rules``) -> figures (``metrics``, ``receivables``) -> one ``Reconciliation``.
"""

from recon.engine import Mappings, Reconciliation, evidence, reconcile, resolve
from recon.errors import MissingSourceError, ReconError, SettingsError, SourceError, StoreError
from recon.io import ReadOptions, Sources, load_directory, load_file
from recon.settings import Settings
from recon.store import RunComparison, Store, StoredRun

__version__ = "0.1.0"

__all__ = [
    "Mappings",
    "MissingSourceError",
    "ReadOptions",
    "ReconError",
    "Reconciliation",
    "RunComparison",
    "Settings",
    "SettingsError",
    "SourceError",
    "Sources",
    "Store",
    "StoreError",
    "StoredRun",
    "__version__",
    "evidence",
    "load_directory",
    "load_file",
    "reconcile",
    "resolve",
]
