"""The canonical schema (PRODUCT.md section 2) and the fixed frame schemas the engine produces.

Every source, whatever its export format, is normalised into one canonical frame per kind. Field types:
``text`` (string), ``money`` (Int64 in 1/10,000 units, see ``recon.money``), ``quantity`` (float64),
``date`` (datetime64), ``flag`` (bool) and ``choice`` (lower-case text from a fixed vocabulary).
Each canonical row also carries its provenance: ``source_file`` and ``source_line`` (1-based line in the
file, header = line 1), so every figure can be traced back to the input.

``COLUMN_KINDS`` says what every numeric column of the product is (money with its places, a quantity, a
count, a ratio...): the one place that decides how a column is shown and written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

FieldType = Literal["text", "money", "quantity", "date", "flag", "choice"]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    required: bool = False


def _fields(*specs: tuple[str, FieldType, bool]) -> tuple[Field, ...]:
    return tuple(Field(name, kind, required) for name, kind, required in specs)


SOURCES: dict[str, tuple[Field, ...]] = {
    "contracts": _fields(
        ("client", "text", True), ("sku", "text", True), ("unit_price", "money", True),
        ("quantity", "quantity", False), ("start_date", "date", True), ("end_date", "date", False),
        ("billing_frequency", "choice", False), ("agreement_id", "text", False),
        ("description", "text", False), ("currency", "text", False), ("account_manager", "text", False),
        ("included_hours", "quantity", False), ("hourly_rate", "money", False),
        # Not in the original list: ConnectWise "Bill Customer" and Autotask flags say whether a line
        # is expected revenue at all (DoNotBill / NoCharge lines are not).
        ("billable", "flag", False),
        # PRODUCT.md 4a: rows of one contract service (Autotask contractServiceID) replace one another in
        # time; ``prorate`` false means the PSA bills whole billing cycles only (ConnectWise without
        # proration), true (the default) that a partial month is expected day-weighted.
        ("service_id", "text", False), ("prorate", "flag", False),
    ),
    "usage": _fields(
        ("client", "text", True), ("sku", "text", True), ("quantity", "quantity", True),
        ("period_start", "date", True), ("period_end", "date", False), ("vendor", "text", False),
        ("unit_cost", "money", False), ("subscription_id", "text", False), ("product_name", "text", False),
        # PRODUCT.md 4a: what a row is (``ROW_TYPES``), the subscription's known life, and the row's cost
        # in the billing currency (what a rebate or cost credit changes).
        ("row_type", "choice", False), ("subscription_start", "date", False),
        ("subscription_end", "date", False), ("cost_amount", "money", False),
    ),
    "invoices": _fields(
        ("invoice_number", "text", True), ("invoice_date", "date", True), ("client", "text", True),
        ("sku", "text", True), ("quantity", "quantity", True), ("unit_price", "money", True),
        ("amount", "money", False), ("period_start", "date", False), ("period_end", "date", False),
        ("due_date", "date", False), ("status", "text", False), ("description", "text", False),
        ("tax", "money", False),
        # Not in the original list: the PSA's line identifier within an invoice. With it, a line exported
        # twice is a data error (quarantined); without it, repeated lines are duplicate charges to find.
        ("line_id", "text", False),
        # PRODUCT.md 4a: an agreement invoice known by its total (``agreement_total``, compared with its
        # agreement's contract lines) or any invoice known by its total only (``invoice_total``:
        # receivables), the agreement a line bills, and a line's discount (amount = quantity x unit price
        # - discount where the file gives no amount).
        ("line_type", "choice", False), ("agreement_id", "text", False), ("discount", "money", False),
    ),
    "time_entries": _fields(
        ("date", "date", True), ("client", "text", True), ("hours", "quantity", True),
        ("billable", "flag", True), ("rate", "money", False), ("invoice_number", "text", False),
        ("entry_id", "text", False), ("technician", "text", False), ("ticket", "text", False),
        ("work_type", "text", False),
    ),
    "payments": _fields(
        ("invoice_number", "text", True), ("payment_date", "date", True), ("amount", "money", True),
    ),
    "catalog": _fields(
        ("sku", "text", True), ("description", "text", False), ("list_price", "money", False),
        ("unit_cost", "money", False), ("vendor", "text", False), ("vendor_sku", "text", False),
    ),
    "client_aliases": _fields(("alias", "text", True), ("client", "text", True)),
}

# What the findings lose when a file lacks the column an optional field is read from, where that matters
# (PRODUCT.md section 9: nothing is dropped silently). A file in an export format (a preset) that lacks
# a column its format has gets this clause in its validation report (``recon.sources.AbsentColumn``);
# a field missing here (a product name, a description) changes no finding and is not warned about. A
# column whose absence means something else than its field's clause says has its own (``Preset.without_column``),
# as has a column of a field with no clause here (a usage quantity) whose absence matters: Microsoft's
# BillableQuantity (Quantity is read instead), Pax8's total and subTotal (a line's sign).
WITHOUT_FIELD: dict[str, dict[str, str]] = {
    "usage": {
        "period_end": "each row counts from its start to the end of that month, not over its own charge period",
        "subscription_id": "rows of one subscription are added up instead of replacing one another in time, "
                           "and refunds are not paired with their charges",
        "row_type": "rows are not told apart by what they are (seats, credits, one-time fees, trials, rebates), "
                    "so some count as the wrong kind",
        "unit_cost": "the vendor's unit cost is missing: margins and negative_margin findings are not computed",
        "cost_amount": "the rows' cost is missing: rebates and cost credits do not change the vendor's cost",
        "subscription_start": "a subscription's life is taken from its loaded charges only, so fewer days are "
                              "carried from the nearest charge",
        "subscription_end": "a subscription's life is taken from its loaded charges only, so fewer days are "
                            "carried from the nearest charge",
    },
    # No ``service_id``: a ConnectWise addition is one row with its own id, and an Autotask contract service
    # is its contract and its service (the rule falls back on them), so without the column no finding changes.
    "contracts": {
        "quantity": "every line reads as usage-based (no contracted quantity)",
        "end_date": "a line's own end or cancellation date is not read, so it is still expected after it",
        # the presets that read these (ConnectWise's) take a line as billable unless the column says otherwise,
        # and as prorated only where it says so
        "billable": "every line reads as billable: one the PSA marks not to be billed (Do Not Bill, No Charge) is "
                    "expected as revenue, and reads as a missed recurring charge",
        "prorate": "a monthly line only it marks prorated is expected in whole months only: nothing is expected "
                   "for a month the line covers in part, and a prorated charge for it reads as billed outside "
                   "the contract",
        "billing_frequency": "every line reads as billed monthly",
    },
    "invoices": {
        "line_id": "a line exported twice counts as a duplicate charge, not as a data error",
        "discount": "amounts are price x quantity, no discount taken off",
        "line_type": "agreement invoices are not told apart, so their totals are not compared with their "
                     "agreement's lines, and those lines read as not billed (missed_recurring_charge)",
        "status": "no invoice reads as marked paid, so short-paid invoices are not found",
    },
    "time_entries": {
        "invoice_number": "every billable entry counts as not invoiced (unbilled time)",
        "rate": "unbilled time is valued at the contract's or the default hourly rate, not the entry's",
    },
}

REQUIRED_SOURCES = ("contracts", "usage", "invoices")
OPTIONAL_SOURCES = ("time_entries", "payments", "catalog", "client_aliases")
PROVENANCE_COLUMNS = ("source_file", "source_line")

# Billing frequencies and how many months a cycle covers (``one_time``: billed once, at the start).
CYCLE_MONTHS = {"monthly": 1, "bimonthly": 2, "quarterly": 3, "semiannual": 6, "annual": 12, "biennial": 24,
                "triennial": 36, "one_time": 0}
BILLING_FREQUENCIES = tuple(CYCLE_MONTHS)
# What a usage row is (PRODUCT.md 4a; docs/semantics.md): ``usage`` (the default) is consumption, added
# up for the days it covers; ``recurring`` the quantity held over its span (rows of one subscription
# replace one another); ``adjustment`` a change added for its span; ``credit`` a refund netted against
# its charge; ``one_time`` a fee expected once in full; ``cost`` a rebate or cost credit (cost only);
# ``trial`` trial seats, not expected to be billed; ``arrears`` use the vendor billed after the fact
# (Pax8's term Arrears): its span's total, counted once in full in the month it starts, and it replaces
# the ``usage`` rows of its subscription that report the same use inside its span.
ROW_TYPES = ("usage", "recurring", "adjustment", "credit", "one_time", "cost", "trial", "arrears")
LINE_TYPES = ("item", "agreement_total", "invoice_total")
# The vocabulary of each ``choice`` field, and the words read as each value (case, spaces, ``-`` and
# ``_`` ignored).
CHOICES: dict[str, tuple[str, ...]] = {"billing_frequency": BILLING_FREQUENCIES, "row_type": ROW_TYPES,
                                       "line_type": LINE_TYPES}
CHOICE_WORDS: dict[str, dict[str, str]] = {
    "billing_frequency": {
        "monthly": "monthly", "month": "monthly", "bimonthly": "bimonthly", "everytwomonths": "bimonthly",
        "quarterly": "quarterly", "quarter": "quarterly", "semiannual": "semiannual",
        "semiannually": "semiannual", "halfyearly": "semiannual", "biannual": "semiannual",
        "annual": "annual", "annually": "annual", "yearly": "annual", "year": "annual",
        "biennial": "biennial", "biennially": "biennial", "everytwoyears": "biennial", "2year": "biennial",
        "triennial": "triennial", "triennially": "triennial", "3year": "triennial", "onetime": "one_time",
        "once": "one_time",
    },
    "row_type": {name.replace("_", ""): name for name in ROW_TYPES},
    "line_type": {name.replace("_", ""): name for name in LINE_TYPES},
}
LABOR_SKU = "LABOR"
AGREEMENT_SKU_PREFIX = "AGREEMENT"  # an agreement invoice's total is the key (period, client, AGREEMENT-<id>)

PANDAS_DTYPES: dict[FieldType, str] = {
    "text": "string",
    "money": "Int64",
    "quantity": "float64",
    "date": "datetime64[ns]",
    "flag": "boolean",
    "choice": "string",
}


def field_names(kind: str) -> list[str]:
    return [field.name for field in SOURCES[kind]]


def required_fields(kind: str) -> list[str]:
    return [field.name for field in SOURCES[kind] if field.required]


def canonical_dtypes(kind: str) -> dict[str, str]:
    """Column -> pandas dtype of a canonical frame of ``kind`` (provenance columns included)."""
    dtypes = {field.name: PANDAS_DTYPES[field.type] for field in SOURCES[kind]}
    return dtypes | {"source_file": "string", "source_line": "Int64"}


# The quarantine: one row per rejected input row, with where it came from and why.
ISSUE_COLUMNS = ("source", "file", "line", "column", "reason", "raw")

# The discrepancy schema every rule returns (PRODUCT.md section 4; money in Int64 units).
DISCREPANCY_COLUMNS = (
    "period", "client", "sku", "type", "direction",
    "expected_qty", "billed_qty", "usage_qty", "contract_qty",
    "expected_unit_price", "billed_unit_price", "price_source",
    "expected_amount", "billed_amount", "variance", "detail",
)


# ------------------------------------------------------------------------------------ column kinds
#
# What every numeric column that leaves the engine is, declared once by name: money (with the places it
# is written with: unit prices 4, amounts 2), a quantity, a count, a ratio, a score or a number of days.
# Every display (dashboard tables and cards), download (CSV, XLSX) and export (run outputs, audit pack,
# statements, pulled CSVs) reads it; ``tests/test_money_leaves_as_schema.py`` walks every page and every
# CLI output and fails on a numeric column declared nowhere here, or on money not written as declared.
# One name means one thing in every frame (``rate`` is the money per hour of a time entry; a ratio is
# ``*_rate`` or ``*_pct``).

ColumnKindName = Literal["money", "quantity", "count", "ratio", "score", "days"]


@dataclass(frozen=True)
class ColumnKind:
    """What a numeric column holds. ``places``: the decimals it is written with (money: 4 for unit
    prices, 2 for amounts; a ratio 4; a score and days 1; a count 0)."""

    name: ColumnKindName
    places: int = 0

    @property
    def is_money(self) -> bool:
        return self.name == "money"


UNIT_PRICE = ColumnKind("money", 4)  # per unit (per GB, per seat, per hour of a catalog): sub-cent prices exist
AMOUNT = ColumnKind("money", 2)  # quantity x price, totals, balances, variances, figures: whole cents
QUANTITY = ColumnKind("quantity", 4)  # units, seats, hours: float64 rounded to four places
COUNT = ColumnKind("count")  # rows, lines, findings, invoices; also ids and line numbers
RATIO = ColumnKind("ratio", 4)  # 0..1, shown as a percentage
SCORE = ColumnKind("score", 1)  # fuzzy-match confidence, 0..100
DAYS = ColumnKind("days", 1)

# Canonical source files written back (``recon pull``) keep every place money was read with: a pulled
# file is a lossless copy that ``recon run --data`` reads again, not a report.
CANONICAL_MONEY_PLACES = 4


def _named(kind: ColumnKind, *names: str) -> dict[str, ColumnKind]:
    return dict.fromkeys(names, kind)


COLUMN_KINDS: dict[str, ColumnKind] = {
    **_named(UNIT_PRICE,
             # canonical sources
             "unit_price", "unit_cost", "list_price",
             # keys and discrepancies
             "expected_unit_price", "billed_unit_price", "contract_unit_price", "vendor_unit_cost",
             "catalog_unit_cost"),
    **_named(AMOUNT,
             # canonical sources (``rate`` / ``hourly_rate``: money per hour, in cents; PRODUCT.md 4a:
             # ``cost_amount`` a usage row's total cost, ``discount`` an invoice line's)
             "amount", "tax", "hourly_rate", "rate", "cost_amount", "discount",
             # keys and discrepancies
             "expected_amount", "billed_amount", "variance", "vendor_cost_amount", "duplicate_amount",
             "unbilled_time_amount",
             # an agreement total's key: the agreement adjustments fixes wrote that its total carries
             "billed_adjustments",
             # receivables (per invoice, per client)
             "total", "paid", "balance", "overdue",
             # figures (``recon.metrics``: overall, per period / client / type / vendor) and rankings
             "expected_revenue", "billed_revenue", "leakage", "overcharge", "net_variance", "vendor_cost",
             "gross_margin", "at_stake", "billed_labour", "effective_hourly_rate", "recovered", "open_exposure",
             "ar_balance", "overdue_balance", "unapplied_amount",
             # stored runs and comparisons, statements
             "billed", "expected", "old_variance", "new_variance", "variance_delta", "leakage_delta",
             "overcharge_delta", "difference", "under_billed", "over_billed", "net",
             # proposed PSA fixes (``recon.fixes``): what a line bills more per month from its effective date
             "monthly_change"),
    **_named(QUANTITY,
             "quantity", "hours", "included_hours",
             "expected_qty", "billed_qty", "usage_qty", "contract_qty", "duplicate_qty",
             "hours_worked", "hours_billable", "hours_invoiced", "hours_uninvoiced", "hours_billed", "unbilled_hours",
             # proposed PSA fixes: the line's quantity before and after
             "before_qty", "after_qty",
             # PRODUCT.md 4a: trial seats (a key's, a run's), a credit's part no loaded charge takes, a key's
             # quantity credited below zero
             "trial_qty", "trial_seats", "unmatched_qty", "usage_deficit"),
    **_named(COUNT,
             "keys", "keys_flagged", "discrepancies", "informational", "usage_rows", "usage_rows_mapped",
             "contract_lines",
             "invoice_lines", "duplicate_lines", "short_paid_invoices", "open_invoices", "invoices",
             "unapplied_payments", "rows", "rows_in", "rows_loaded", "rows_used", "rows_quarantined", "blank_rows",
             "passed", "failed", "checked",
             # PRODUCT.md 4a: whole days carried from the nearest charge, keys with some, unmatched credits
             "carried_days", "carried_keys", "trial_keys", "unmatched_credits", "unmatched_credit_rows",
             # identifiers and line numbers: integers that count nothing, and are never money
             "id", "import_id", "run_id", "line", "source_line", "first_line", "last_line"),
    **_named(RATIO, "leakage_rate", "billing_accuracy", "gross_margin_pct", "mapping_coverage", "realisation"),
    **_named(SCORE, "match_score", "suggestion_score"),
    **_named(DAYS, "days_past_due", "oldest_days_past_due", "dso"),
}


def column_kind(column: str) -> ColumnKind | None:
    """What ``column`` holds (``None``: not a numeric column of the product: text, a date, a flag)."""
    return COLUMN_KINDS.get(column)


def money_places(column: str) -> int | None:
    """The places money in ``column`` is written with (4 for unit prices, 2 for amounts); ``None`` when
    ``column`` is not money."""
    kind = COLUMN_KINDS.get(column)
    return kind.places if kind is not None and kind.is_money else None


def money_columns(columns: Iterable[str]) -> dict[str, int]:
    """The money columns among ``columns``, with their places, in order."""
    return {column: places for column in columns if (places := money_places(str(column))) is not None}
