"""MSP Billing Recon: the reconciliation engine (no UI here; see ``dashboard/`` for the face).

Data flows one way: files (``recon.ingest``) -> canonical frames (``recon.sources``) -> resolved keys
(``identity``, ``keys`` over ``joins``) -> discrepancies (``rules``) -> figures (``metrics``, ``receivables``) -> one
``Reconciliation`` (``engine``), which ``recon.store`` keeps, ``recon.exports`` writes for people and
``recon.access`` cuts to what a principal may see. ``ARCHITECTURE.md`` walks the whole path.

Names are imported on first use (``recon.lazy``): ``import recon.money`` loads no database driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon import lazy

if TYPE_CHECKING:
    from recon.access.roles import (
        Principal as Principal,
    )
    from recon.access.roles import (
        can as can,
    )
    from recon.access.scope import (
        Scope as Scope,
    )
    from recon.access.scope import (
        apply_scope as apply_scope,
    )
    from recon.access.scope import (
        scope_for as scope_for,
    )
    from recon.access.storage import (
        StoreAuthStorage as StoreAuthStorage,
    )
    from recon.engine import (
        Mappings as Mappings,
    )
    from recon.engine import (
        Reconciliation as Reconciliation,
    )
    from recon.engine import (
        evidence as evidence,
    )
    from recon.engine import (
        reconcile as reconcile,
    )
    from recon.engine import (
        resolve as resolve,
    )
    from recon.errors import (
        AccessDeniedError as AccessDeniedError,
    )
    from recon.errors import (
        MissingSourceError as MissingSourceError,
    )
    from recon.errors import (
        ProfileError as ProfileError,
    )
    from recon.errors import (
        QualityError as QualityError,
    )
    from recon.errors import (
        ReconError as ReconError,
    )
    from recon.errors import (
        SettingsError as SettingsError,
    )
    from recon.errors import (
        SourceError as SourceError,
    )
    from recon.errors import (
        StoreError as StoreError,
    )
    from recon.exports.safe import (
        redact as redact,
    )
    from recon.exports.safe import (
        safe_csv as safe_csv,
    )
    from recon.exports.safe import (
        safe_xlsx as safe_xlsx,
    )
    from recon.ingest.directory import (
        Inspection as Inspection,
    )
    from recon.ingest.directory import (
        inspect_directory as inspect_directory,
    )
    from recon.ingest.directory import (
        load_directory as load_directory,
    )
    from recon.ingest.files import (
        load_file as load_file,
    )
    from recon.ingest.files import (
        load_source as load_source,
    )
    from recon.ingest.guard import (
        UploadLimits as UploadLimits,
    )
    from recon.ingest.presets import (
        PRESETS as PRESETS,
    )
    from recon.ingest.presets import (
        Detection as Detection,
    )
    from recon.ingest.presets import (
        detect_preset as detect_preset,
    )
    from recon.ingest.profile import (
        ColumnGuess as ColumnGuess,
    )
    from recon.ingest.profile import (
        SourceEntry as SourceEntry,
    )
    from recon.ingest.profile import (
        parse_profile as parse_profile,
    )
    from recon.ingest.profile import (
        profile_to_toml as profile_to_toml,
    )
    from recon.ingest.profile import (
        suggest_entry as suggest_entry,
    )
    from recon.ingest.profile import (
        suggest_mapping as suggest_mapping,
    )
    from recon.ingest.reading import (
        ReadOptions as ReadOptions,
    )
    from recon.settings import (
        Settings as Settings,
    )
    from recon.sources import (
        ExpectationOutcome as ExpectationOutcome,
    )
    from recon.sources import (
        Sources as Sources,
    )
    from recon.sources import (
        ValidationReport as ValidationReport,
    )
    from recon.store.database import (
        RunComparison as RunComparison,
    )
    from recon.store.database import (
        Store as Store,
    )
    from recon.store.database import (
        StoredRun as StoredRun,
    )

__version__ = "0.1.0"

_EXPORTS = {
    "Principal": "recon.access.roles",
    "can": "recon.access.roles",
    "Scope": "recon.access.scope",
    "apply_scope": "recon.access.scope",
    "scope_for": "recon.access.scope",
    "StoreAuthStorage": "recon.access.storage",
    "Mappings": "recon.engine",
    "Reconciliation": "recon.engine",
    "evidence": "recon.engine",
    "reconcile": "recon.engine",
    "resolve": "recon.engine",
    "AccessDeniedError": "recon.errors",
    "MissingSourceError": "recon.errors",
    "ProfileError": "recon.errors",
    "QualityError": "recon.errors",
    "ReconError": "recon.errors",
    "SettingsError": "recon.errors",
    "SourceError": "recon.errors",
    "StoreError": "recon.errors",
    "redact": "recon.exports.safe",
    "safe_csv": "recon.exports.safe",
    "safe_xlsx": "recon.exports.safe",
    "Inspection": "recon.ingest.directory",
    "inspect_directory": "recon.ingest.directory",
    "load_directory": "recon.ingest.directory",
    "load_file": "recon.ingest.files",
    "load_source": "recon.ingest.files",
    "UploadLimits": "recon.ingest.guard",
    "Detection": "recon.ingest.presets",
    "PRESETS": "recon.ingest.presets",
    "detect_preset": "recon.ingest.presets",
    "ColumnGuess": "recon.ingest.profile",
    "SourceEntry": "recon.ingest.profile",
    "parse_profile": "recon.ingest.profile",
    "profile_to_toml": "recon.ingest.profile",
    "suggest_entry": "recon.ingest.profile",
    "suggest_mapping": "recon.ingest.profile",
    "ReadOptions": "recon.ingest.reading",
    "Settings": "recon.settings",
    "ExpectationOutcome": "recon.sources",
    "Sources": "recon.sources",
    "ValidationReport": "recon.sources",
    "RunComparison": "recon.store.database",
    "Store": "recon.store.database",
    "StoredRun": "recon.store.database",
}
__getattr__, __dir__ = lazy.exports(globals(), _EXPORTS)
__all__ = ["__version__", *sorted(_EXPORTS)]
