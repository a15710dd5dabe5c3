"""The store: runs, discrepancies, resolutions with their append-only history, mappings and source imports
in a real database (PRODUCT.md section 7): SQLite by default, PostgreSQL by URL.

In: a ``Reconciliation``, resolutions and mappings people make. Out: stored runs read back exactly
(``StoredRun``), their comparison, the history of every finding. ``tables`` declares the schema
(SQLModel), ``migrations`` evolves it (Alembic), ``database`` is the ``Store`` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon import lazy

if TYPE_CHECKING:
    from recon.store.database import (
        DEFAULT_URL as DEFAULT_URL,
    )
    from recon.store.database import (
        DISCREPANCY_DTYPES as DISCREPANCY_DTYPES,
    )
    from recon.store.database import (
        ENV_URL as ENV_URL,
    )
    from recon.store.database import (
        HISTORY_COLUMNS as HISTORY_COLUMNS,
    )
    from recon.store.database import (
        IMPORT_COLUMNS as IMPORT_COLUMNS,
    )
    from recon.store.database import (
        INSERT_BATCH as INSERT_BATCH,
    )
    from recon.store.database import (
        RESOLUTION_COLUMNS as RESOLUTION_COLUMNS,
    )
    from recon.store.database import (
        RUN_LIST_COLUMNS as RUN_LIST_COLUMNS,
    )
    from recon.store.database import (
        STORED_DISCREPANCY_COLUMNS as STORED_DISCREPANCY_COLUMNS,
    )
    from recon.store.database import (
        ImportOutcome as ImportOutcome,
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
    from recon.store.database import (
        compare as compare,
    )
    from recon.store.database import (
        create_store_engine as create_store_engine,
    )
    from recon.store.database import (
        database_url as database_url,
    )
    from recon.store.database import (
        discrepancy_frame as discrepancy_frame,
    )
    from recon.store.database import (
        migrate as migrate,
    )
    from recon.store.database import (
        migrate_when_free as migrate_when_free,
    )

_EXPORTS = {
    "DEFAULT_URL": "recon.store.database",
    "DISCREPANCY_DTYPES": "recon.store.database",
    "ENV_URL": "recon.store.database",
    "HISTORY_COLUMNS": "recon.store.database",
    "IMPORT_COLUMNS": "recon.store.database",
    "INSERT_BATCH": "recon.store.database",
    "ImportOutcome": "recon.store.database",
    "RESOLUTION_COLUMNS": "recon.store.database",
    "RUN_LIST_COLUMNS": "recon.store.database",
    "RunComparison": "recon.store.database",
    "STORED_DISCREPANCY_COLUMNS": "recon.store.database",
    "Store": "recon.store.database",
    "StoredRun": "recon.store.database",
    "compare": "recon.store.database",
    "create_store_engine": "recon.store.database",
    "database_url": "recon.store.database",
    "discrepancy_frame": "recon.store.database",
    "migrate": "recon.store.database",
    "migrate_when_free": "recon.store.database",
}
__getattr__, __dir__ = lazy.exports(globals(), _EXPORTS)
__all__ = sorted(_EXPORTS)
