"""MSP Billing Recon: the reconciliation engine (no UI here; see ``dashboard/`` for the face).

Data flows one way: files (``io``) -> canonical frames -> resolved keys (``identity``, ``keys``) ->
discrepancies (``rules``) -> figures (``metrics``, ``receivables``) -> one ``Reconciliation``.
"""

from recon.auth import AccessDeniedError, Principal, Scope, apply_scope, can, scope_for
from recon.auth_store import StoreAuthStorage
from recon.engine import Mappings, Reconciliation, evidence, reconcile, resolve
from recon.errors import (
    MissingSourceError,
    ProfileError,
    QualityError,
    ReconError,
    SettingsError,
    SourceError,
    StoreError,
)
from recon.io import (
    Inspection,
    ReadOptions,
    Sources,
    UploadLimits,
    inspect_directory,
    load_directory,
    load_file,
    load_source,
)
from recon.presets import PRESETS, Detection, detect_preset
from recon.profile import ColumnGuess, SourceEntry, parse_profile, profile_to_toml, suggest_entry, suggest_mapping
from recon.quality import ExpectationOutcome, ValidationReport
from recon.safe_export import redact, safe_csv, safe_xlsx
from recon.settings import Settings
from recon.store import RunComparison, Store, StoredRun

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "AccessDeniedError",
    "ColumnGuess",
    "Detection",
    "ExpectationOutcome",
    "Inspection",
    "Mappings",
    "MissingSourceError",
    "Principal",
    "ProfileError",
    "QualityError",
    "ReadOptions",
    "ReconError",
    "Reconciliation",
    "RunComparison",
    "Scope",
    "Settings",
    "SettingsError",
    "SourceEntry",
    "SourceError",
    "Sources",
    "Store",
    "StoreAuthStorage",
    "StoreError",
    "StoredRun",
    "UploadLimits",
    "ValidationReport",
    "__version__",
    "apply_scope",
    "can",
    "detect_preset",
    "evidence",
    "inspect_directory",
    "load_directory",
    "load_file",
    "load_source",
    "parse_profile",
    "profile_to_toml",
    "reconcile",
    "redact",
    "resolve",
    "safe_csv",
    "safe_xlsx",
    "scope_for",
    "suggest_entry",
    "suggest_mapping",
]
