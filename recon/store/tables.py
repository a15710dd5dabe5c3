"""The database tables of the store (PRODUCT.md section 7), as SQLModel classes.

Two habits keep the audit trail honest: facts people create (resolutions, mappings, settings, profiles)
are **append-only** rows where the latest row per key wins, so two sessions writing at once both land
and nothing is ever overwritten; and runs are written whole in one transaction (``run.complete`` is set
last, and every reader filters on it, a second guard against a half-written run).

Money columns hold Int64 units of 1/10,000 on the Python side (``recon.money``) and ``NUMERIC(18, 4)``
in PostgreSQL. SQLite has no decimal type (its NUMERIC keeps only 15 significant digits, as a float), so
there the same column stores the exact integer units. The schema itself is created and changed only by
the Alembic migrations in ``recon/store/migrations``; a test checks that they match these classes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

MONEY_PLACES = 4
MONEY_DIGITS = 18


class Money(sa.types.TypeDecorator[int]):
    """Int64 money units in Python; NUMERIC(18, 4) in PostgreSQL, exact integer units in SQLite."""

    impl = sa.Numeric(MONEY_DIGITS, MONEY_PLACES)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(MONEY_DIGITS, MONEY_PLACES, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | Decimal | None:
        if value is None:
            return None
        units = int(value)
        return units if dialect.name == "sqlite" else Decimal(units).scaleb(-MONEY_PLACES)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return int(value)
        return int(Decimal(value).scaleb(MONEY_PLACES).to_integral_exact())


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        utc = aware.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _money(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=Money, nullable=nullable)


def _timestamp() -> Any:
    return Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)


def _text(index: bool = False) -> Any:
    return Field(default="", sa_type=sa.Text, nullable=False, index=index)


class ImportFile(SQLModel, table=True):
    """A source file as first seen: content hash (unique, so a re-import is detected) and its counts."""

    __tablename__: ClassVar[str] = "import_file"
    __table_args__ = (sa.UniqueConstraint("sha256", name="uq_import_file_sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(sa_type=sa.String(40), nullable=False)
    file: str = _text()
    sha256: str | None = Field(default=None, sa_type=sa.String(64), nullable=True)
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    blank_rows: int = 0
    imported_at: datetime = _timestamp()


class Run(SQLModel, table=True):
    """One stored reconciliation: what it covered, with which settings and engine, and its totals."""

    __tablename__: ClassVar[str] = "run"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _timestamp()
    by: str = _text()
    label: str = _text()
    periods: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    engine_version: str = Field(default="", sa_type=sa.String(40), nullable=False)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    billed: int | None = _money()
    expected: int | None = _money()
    leakage: int | None = _money()
    overcharge: int | None = _money()
    discrepancies: int = 0
    complete: bool = Field(default=False, nullable=False, index=True)
    # What the run was computed from (files, settings, periods, mappings: the dashboard's run key), so the
    # same inputs re-open their stored run instead of storing it again; none for a run of the CLI.
    run_key: str | None = Field(default=None, sa_type=sa.String(64), nullable=True, index=True)


class RunImport(SQLModel, table=True):
    """Which files a run read, under which name and with which counts (the same bytes may be read again
    later with another column mapping, so the counts belong to the run)."""

    __tablename__: ClassVar[str] = "run_import"

    run_id: int = Field(foreign_key="run.id", primary_key=True, ondelete="CASCADE")
    position: int = Field(primary_key=True)
    import_id: int = Field(foreign_key="import_file.id", index=True)
    file: str = _text()
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    blank_rows: int = 0
    # PRODUCT.md 4a: an earlier import whose stored charges the run drew on (not a file the run read)
    from_history: bool = Field(default=False, nullable=False)


class UsageCharge(SQLModel, table=True):
    """The charge history (PRODUCT.md 4a): the canonical usage rows of every stored import, kept so a
    later run counts earlier imports' charges covering its months (an annual charge bought in March
    counts in November). One import's rows are stored once (imports are unique by SHA-256)."""

    __tablename__: ClassVar[str] = "usage_charge"

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="import_file.id", index=True, ondelete="CASCADE")
    line: int | None = None
    client: str = _text()
    sku: str = _text()
    quantity: float = 0.0
    # (not indexed: the charge history reads a window of 400 days and more in import order; migration 0008)
    period_start: date = Field(sa_type=sa.Date, nullable=False)
    period_end: date = Field(sa_type=sa.Date, nullable=False)
    vendor: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    unit_cost: int | None = _money()
    subscription_id: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    product_name: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    row_type: str = Field(default="usage", sa_type=sa.String(20), nullable=False)
    subscription_start: date | None = Field(default=None, sa_type=sa.Date, nullable=True)
    subscription_end: date | None = Field(default=None, sa_type=sa.Date, nullable=True)
    cost_amount: int | None = _money()


class UsageChargePair(SQLModel, table=True):
    """What a stored import's charges say beyond the days they cover: each distinct (client, sku, vendor,
    product, span) of its charges outside subscriptions' series. A run reads back only the charges covering
    its months (and the series of its look-back), but a (client, sku) an import of the look-back reported
    stays vendor-tracked (docs/semantics.md, "Charge history"): a year of usage rows is not read for that."""

    __tablename__: ClassVar[str] = "usage_charge_pair"

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="import_file.id", index=True, ondelete="CASCADE")
    client: str = _text()
    sku: str = _text()
    vendor: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    product_name: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    period_start: date = Field(sa_type=sa.Date, nullable=False)
    period_end: date = Field(sa_type=sa.Date, nullable=False)


class Discrepancy(SQLModel, table=True):
    """One finding of one run, in the engine's discrepancy schema (money in units, see ``Money``)."""

    __tablename__: ClassVar[str] = "discrepancy"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True, ondelete="CASCADE")
    position: int = 0
    fingerprint: str = Field(sa_type=sa.String(64), nullable=False, index=True)
    period: str = Field(sa_type=sa.String(7), nullable=False)
    client: str = _text()
    sku: str = _text()
    type: str = Field(sa_type=sa.String(40), nullable=False)
    direction: str = Field(sa_type=sa.String(8), nullable=False)
    expected_qty: float | None = None
    billed_qty: float | None = None
    usage_qty: float | None = None
    contract_qty: float | None = None
    expected_unit_price: int | None = _money()
    billed_unit_price: int | None = _money()
    price_source: str | None = Field(default=None, sa_type=sa.String(40), nullable=True)
    expected_amount: int | None = _money()
    billed_amount: int | None = _money()
    variance: int | None = _money()
    detail: str | None = Field(default=None, sa_type=sa.Text, nullable=True)


class Resolution(SQLModel, table=True):
    """Append-only: one row per status change of a fingerprint; the latest row is its status."""

    __tablename__: ClassVar[str] = "resolution"

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(sa_type=sa.String(64), nullable=False, index=True)
    status: str = Field(sa_type=sa.String(20), nullable=False)
    note: str = _text()
    by: str = _text()
    at: datetime = _timestamp()


class ClientAlias(SQLModel, table=True):
    """Append-only: a vendor or export name confirmed as a PSA client (latest per alias wins)."""

    __tablename__: ClassVar[str] = "client_alias"

    id: int | None = Field(default=None, primary_key=True)
    alias: str = _text(index=True)
    client: str = _text()
    by: str = _text()
    at: datetime = _timestamp()


class RejectedSuggestion(SQLModel, table=True):
    """A fuzzy client suggestion a person rejected: ``name`` is not offered as ``client`` again."""

    __tablename__: ClassVar[str] = "rejected_suggestion"

    id: int | None = Field(default=None, primary_key=True)
    name: str = _text(index=True)
    client: str = _text()
    by: str = _text()
    at: datetime = _timestamp()


class SkuMapping(SQLModel, table=True):
    """Append-only: a vendor SKU confirmed as a PSA product (latest per vendor SKU wins)."""

    __tablename__: ClassVar[str] = "sku_mapping"

    id: int | None = Field(default=None, primary_key=True)
    vendor_sku: str = _text(index=True)
    sku: str = _text()
    by: str = _text()
    at: datetime = _timestamp()


class SettingsVersion(SQLModel, table=True):
    """Append-only: every saved version of the settings (the latest is in force)."""

    __tablename__: ClassVar[str] = "settings_version"

    id: int | None = Field(default=None, primary_key=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    by: str = _text()
    at: datetime = _timestamp()


class MappingProfile(SQLModel, table=True):
    """Append-only: a column-mapping profile (TOML text) by name; the latest version per name wins."""

    __tablename__: ClassVar[str] = "mapping_profile"

    id: int | None = Field(default=None, primary_key=True)
    name: str = _text(index=True)
    text: str = _text()
    by: str = _text()
    at: datetime = _timestamp()


class UserAccount(SQLModel, table=True):
    """A person who may sign in (``recon.access``): role, bcrypt hash (none for identity-provider users),
    clients granted by name, the name contracts use for them as account manager. Changes are
    updates in place; each one is written to ``access_log`` with who did it."""

    __tablename__: ClassVar[str] = "user_account"  # "user" is reserved in PostgreSQL
    __table_args__ = (sa.UniqueConstraint("username", name="uq_user_account_username"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_type=sa.String(100), nullable=False)
    role: str = Field(sa_type=sa.String(20), nullable=False)
    password_hash: str | None = Field(default=None, sa_type=sa.String(100), nullable=True)
    clients: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    manager_name: str = _text()
    disabled: bool = Field(default=False, nullable=False)
    must_change_password: bool = Field(default=False, nullable=False)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins counted per key (``user:<name>``, ``address:<address>``; ``recon.access.throttle``):
    one row per key, changed in place in one transaction per sign-in, forgotten after the lockout window."""

    __tablename__: ClassVar[str] = "login_throttle"

    key: str = Field(sa_type=sa.String(300), primary_key=True)
    failures: int = Field(default=0, nullable=False)
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    refused: int = Field(default=0, nullable=False)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False, index=True)


class BrowserSession(SQLModel, table=True):
    """A signed-in browser (``recon.access.sessions``): the SHA-256 of its session cookie (never the cookie),
    who signed in there and how, when, and when it was last used (idle and absolute expiry)."""

    __tablename__: ClassVar[str] = "browser_session"

    key_hash: str = Field(sa_type=sa.String(64), primary_key=True)
    username: str = Field(sa_type=sa.String(200), nullable=False, index=True)
    method: str = Field(default="password", sa_type=sa.String(20), nullable=False)
    started_at: datetime = _timestamp()
    last_seen_at: datetime = _timestamp()


class AccessLog(SQLModel, table=True):
    """Append-only: who signed in, exported, resolved or changed what, when, from where."""

    __tablename__: ClassVar[str] = "access_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False, index=True)
    username: str = Field(sa_type=sa.String(200), nullable=False, index=True)
    action: str = Field(sa_type=sa.String(40), nullable=False)
    target: str = _text()
    detail: str = _text()
    source: str = Field(default="", sa_type=sa.String(100), nullable=False)
    outcome: str = Field(default="ok", sa_type=sa.String(20), nullable=False)


class FixProposal(SQLModel, table=True):
    """A PSA change the engine proposed for one finding of one run (``recon.fixes.FIX_COLUMNS``); what
    people and the PSA then did with it is in ``fix_event``. Written with its run, in the same transaction."""

    __tablename__: ClassVar[str] = "fix"
    __table_args__ = (sa.UniqueConstraint("run_id", "fix_key", name="uq_fix_run_key"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True, ondelete="CASCADE")
    position: int = 0
    fix_key: str = Field(sa_type=sa.String(64), nullable=False, index=True)
    fingerprint: str = Field(sa_type=sa.String(64), nullable=False, index=True)
    period: str = Field(sa_type=sa.String(7), nullable=False)
    client: str = _text()
    sku: str = _text()
    finding_type: str = Field(sa_type=sa.String(40), nullable=False)
    variance: int | None = _money()
    kind: str = Field(sa_type=sa.String(20), nullable=False)
    agreement_id: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    line_id: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    # the line's product as the PSA export named it (migration 0010; NULL in fixes stored before)
    line_sku: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    origin: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    before_qty: float | None = None
    after_qty: float | None = None
    unit_price: int | None = _money()
    amount: int | None = _money()
    monthly_change: int | None = _money()
    effective_date: date = Field(sa_type=sa.Date, nullable=False)
    prorate: bool = Field(default=True, nullable=False)
    description: str = _text()
    reason: str = _text()


class FixEvent(SQLModel, table=True):
    """Append-only: everything that happened to a fix (``fix_key``): proposed or edited, approved, rejected,
    a dry run with the exact request, sent and accepted with the PSA's id or refused with its message,
    exported for manual entry, confirmed or found not taken by a later run. The latest state event is the
    fix's status; ``quantity`` / ``effective_date`` / ``amount`` carry what was proposed or approved."""

    __tablename__: ClassVar[str] = "fix_event"

    id: int | None = Field(default=None, primary_key=True)
    fix_key: str = Field(sa_type=sa.String(64), nullable=False, index=True)
    fingerprint: str = Field(sa_type=sa.String(64), nullable=False)
    run_id: int = Field(foreign_key="run.id", index=True, ondelete="CASCADE")
    event: str = Field(sa_type=sa.String(20), nullable=False)
    by: str = _text()
    at: datetime = _timestamp()
    quantity: float | None = None
    effective_date: date | None = Field(default=None, sa_type=sa.Date, nullable=True)
    amount: int | None = _money()
    connection: str = _text()
    request: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    response: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    psa_id: str = _text()
    note: str = _text()


class InputContent(SQLModel, table=True):
    """The bytes of an uploaded or pulled file a run was computed from, by SHA-256 (written once), so any
    session can rebuild the current data (``CurrentData``) without the person who uploaded it."""

    __tablename__: ClassVar[str] = "input_content"

    sha256: str = Field(sa_type=sa.String(64), primary_key=True)
    content: bytes = Field(sa_type=sa.LargeBinary, nullable=False)


class CurrentData(SQLModel, table=True):
    """Append-only: which run is the current data every new session opens, the recipe to rebuild it (files
    with how each is read, settings, periods, label, the mappings it used), who made it current and when."""

    __tablename__: ClassVar[str] = "current_data"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True, ondelete="CASCADE")
    recipe: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    by: str = _text()
    at: datetime = _timestamp()


TABLES = (ImportFile, Run, RunImport, Discrepancy, Resolution, ClientAlias, RejectedSuggestion, SkuMapping,
          SettingsVersion, MappingProfile, UserAccount, LoginThrottle, BrowserSession, AccessLog, FixProposal,
          FixEvent, InputContent, CurrentData)


def table(model: type[SQLModel]) -> sa.Table:
    """The SQLAlchemy ``Table`` of a model (for bulk inserts and Core selects)."""
    found = model.__table__  # type: ignore[attr-defined]
    assert isinstance(found, sa.Table)
    return found
