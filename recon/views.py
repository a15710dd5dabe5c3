"""Views of a run for people: filters, rankings, work lists and queues (what the dashboard shows).

Pure functions over a ``Reconciliation``. Nothing here re-implements a rule: a filtered view keeps the
run's keys and discrepancies that pass the filters and re-sums them with ``recon.metrics.summarise``, so
a filtered total is the same arithmetic as the run's total, and the unfiltered view equals the run.
Money stays in Int64 units (``recon.money``); inputs are never mutated (the dashboard caches them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from recon.engine import Mappings, Reconciliation
from recon.errors import FilterError
from recon.fixes import KIND_WORDS
from recon.identity import without_rejected
from recon.keys import KEY, to_period
from recon.metrics import TRIAL_WEIGHTING, Metrics, Overall, summarise
from recon.receivables import AGING_BUCKETS
from recon.rules import INFORMATIONAL_TYPES, finding_names
from recon.schema import SOURCES
from recon.sources import ImportRecord, ValidationReport
from recon.status import CLOSED_STATUSES, STATUSES, with_status

NO_VENDOR = "(no vendor)"
RESOLUTION_STATUSES = STATUSES

LABEL_COLUMNS = ("account_manager", "vendor", "product")


@dataclass(frozen=True)
class Filters:
    """The dashboard's global filters. Empty tuples and ``None`` bounds mean "everything"."""

    period_from: str | None = None
    period_to: str | None = None
    clients: tuple[str, ...] = ()
    account_managers: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.period_from and self.period_to and self.period_from > self.period_to:
            raise FilterError(f"the period range is empty: {self.period_from} is after {self.period_to}")

    def periods_in(self, periods: Sequence[str]) -> tuple[str, ...]:
        """The run's periods inside the range, in order."""
        return tuple(period for period in periods
                     if (not self.period_from or period >= self.period_from)
                     and (not self.period_to or period <= self.period_to))

    def with_clients(self, *clients: str) -> Filters:
        """The same filters narrowed to ``clients`` (the Client page's drill-down)."""
        return Filters(self.period_from, self.period_to, tuple(clients), self.account_managers, self.vendors)


@dataclass(frozen=True)
class FilterOptions:
    """What the filters can choose from in a run."""

    periods: tuple[str, ...]
    clients: tuple[str, ...]
    account_managers: tuple[str, ...]
    vendors: tuple[str, ...]


@dataclass(frozen=True)
class RunView:
    """A run seen through filters: the rows kept and the figures re-summed over them.

    ``discrepancies`` carries the discrepancy schema plus ``account_manager``, ``vendor``, ``product``,
    ``label`` (``recon.rules.FINDING_NAMES``), ``status`` and ``note``. Mapping coverage, ``unmapped`` and
    ``quarantine`` stay run-wide: an unmapped row has no client or period to filter on.
    """

    periods: tuple[str, ...]
    filters: Filters
    currency: str
    keys: pd.DataFrame
    discrepancies: pd.DataFrame
    metrics: Metrics
    receivables: pd.DataFrame
    unmapped: pd.DataFrame
    quarantine: pd.DataFrame
    clients: tuple[str, ...] = field(default=())


# -------------------------------------------------------------------------------------------- labels

def with_labels(found: pd.DataFrame) -> pd.DataFrame:
    """Findings with ``label``: their type in words (``recon.rules.FINDING_NAMES``)."""
    return found.assign(label=finding_names(found["type"]))


def labelled_keys(result: Reconciliation, labels: Mapping[str, pd.Series] | None = None) -> pd.DataFrame:
    """The run's keys with a ``vendor`` for every key (usage vendor, else the catalog's, else
    ``NO_VENDOR``) and a readable ``product`` (catalog description, else vendor product name, else sku):
    ``key_labels``, or ``labels`` when the caller kept them (a run's labels are the same every time)."""
    return result.keys.assign(**(key_labels(result) if labels is None else labels))


def key_labels(result: Reconciliation) -> dict[str, pd.Series]:
    """The columns ``labelled_keys`` sets: ``vendor``, ``product`` and ``account_manager`` as text."""
    catalog = result.resolved.get("catalog")
    keys = result.keys
    vendor = _text(keys["vendor"])
    if catalog is not None and len(catalog):
        catalog_vendor = catalog.dropna(subset=["vendor"]).drop_duplicates("sku").set_index("sku")["vendor"]
        vendor = vendor.fillna(_mapped(keys["sku"], catalog_vendor))
    product = _text(keys["sku_description"]).fillna(_text(keys["product_name"]))
    return {"vendor": vendor.fillna(NO_VENDOR), "product": product.fillna(keys["sku"]),
            "account_manager": _text(keys["account_manager"])}


def _text(column: pd.Series) -> pd.Series:
    """``column`` as pandas' string dtype; a categorical one through its categories, each made text once
    (a million keys: 0.2 to 0.7 s a column row by row, issue 25)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column.astype("string")
    categories = pd.Series(column.cat.categories).astype("string").array
    return pd.Series(categories.take(column.cat.codes.to_numpy(), allow_fill=True), index=column.index,
                     name=column.name)


def _mapped(column: pd.Series, mapping: pd.Series) -> pd.Series:
    """``column.map(mapping)`` as text, each distinct value of ``column`` looked up once."""
    codes, distinct = pd.factorize(column, use_na_sentinel=True)
    found = pd.Series(distinct).map(mapping).astype("string").array
    return pd.Series(found.take(codes, allow_fill=True), index=column.index, name=column.name)


def filter_options(result: Reconciliation, labels: Mapping[str, pd.Series] | None = None) -> FilterOptions:
    """Every period, client, account manager and vendor of the run, sorted (``labels``: the run's
    ``key_labels``, when the caller kept them)."""
    keys = labelled_keys(result, labels)
    return FilterOptions(tuple(result.periods), _sorted_values(keys["client"]),
                         _sorted_values(keys["account_manager"]), _sorted_values(keys["vendor"]))


def _sorted_values(column: pd.Series) -> tuple[str, ...]:
    return tuple(sorted(str(value) for value in column.dropna().unique()))


def choices(column: pd.Series) -> tuple[str, ...]:
    """The distinct values of ``column`` as text, sorted, missing ones left out (what a filter offers)."""
    return _sorted_values(column)


def account_manager(view: RunView) -> str | None:
    """The account manager the view's contract lines name (the first named), else ``None``."""
    named = view.keys["account_manager"].dropna()
    return str(named.iloc[0]) if len(named) else None


# ------------------------------------------------------------------------------------------ filtering

def _clients_in_scope(keys: pd.DataFrame, filters: Filters) -> pd.Series:
    """Mask over ``keys``: the client and account-manager filters (not period, not vendor)."""
    mask = pd.Series(True, index=keys.index)
    if filters.clients:
        mask &= keys["client"].isin(filters.clients).fillna(False)
    if filters.account_managers:
        mask &= keys["account_manager"].isin(filters.account_managers).fillna(False)
    return mask.astype(bool)


def _keys_in_scope(keys: pd.DataFrame, filters: Filters, periods: tuple[str, ...]) -> pd.Series:
    mask = _clients_in_scope(keys, filters) & keys["period"].isin(periods).fillna(False)
    if filters.vendors:
        mask &= keys["vendor"].isin(filters.vendors).fillna(False)
    return mask.astype(bool)


def _receivables_in_scope(result: Reconciliation, clients: tuple[str, ...] | None,
                          periods: tuple[str, ...]) -> pd.DataFrame:
    """Invoices of the clients in scope (``None``: every client) dated inside the periods."""
    book = result.receivables
    mask = to_period(book["invoice_date"]).isin(periods).fillna(False)
    if clients is not None:
        mask &= book["client"].isin(clients).fillna(False)
    return book[mask.to_numpy(bool)].reset_index(drop=True)


def filter_run(result: Reconciliation, filters: Filters | None = None,
               resolutions: pd.DataFrame | None = None, labels: Mapping[str, pd.Series] | None = None) -> RunView:
    """The run through ``filters``: keys of the periods, clients, account managers and vendors chosen,
    their discrepancies (labelled, with resolution status), the invoices of those clients dated in
    those periods, and every figure of ``recon.metrics`` re-summed over what is kept (``labels``: the
    run's ``key_labels``, when the caller kept them)."""
    filters = filters or Filters()
    periods = filters.periods_in(result.periods)
    keys = labelled_keys(result, labels)
    kept_keys = keys[_keys_in_scope(keys, filters, periods).to_numpy(bool)].reset_index(drop=True)
    scoped = bool(filters.clients or filters.account_managers)
    clients = _sorted_values(keys.loc[_clients_in_scope(keys, filters).to_numpy(bool), "client"])
    book = _receivables_in_scope(result, clients if scoped else None, periods)
    found = result.discrepancies.merge(kept_keys[KEY], on=KEY, how="inner")
    metrics = _metrics(result, kept_keys, found, book, scoped, resolutions, periods)
    labels = kept_keys[[*KEY, *LABEL_COLUMNS]]
    shown = with_status(found.merge(labels, on=KEY, how="left"), resolutions, notes=True)
    shown = with_labels(shown)
    return RunView(periods, filters, result.settings.currency, kept_keys, shown, metrics, book,
                   result.unmapped, result.quarantine, clients)


def _metrics(result: Reconciliation, keys: pd.DataFrame, found: pd.DataFrame, book: pd.DataFrame,
             scoped: bool, resolutions: pd.DataFrame | None, periods: tuple[str, ...]) -> Metrics:
    """The figures of a view: ``recon.metrics.summarise`` over what it keeps. Mapping coverage stays
    run-wide (an unmapped row has no client or period to filter on); with a client or manager filter,
    unapplied payments are looked for among the invoices and payments of the invoices kept."""
    frames = result.resolved
    if scoped:
        kept = {kind: frames[kind][frames[kind]["invoice_number"].isin(book["invoice_number"]).fillna(False)]
                for kind in ("invoices", "payments")}
        frames = {**frames, **kept}
    return summarise(keys.drop(columns=["product"]), found, book, frames, result.unmapped, periods, resolutions)


# ----------------------------------------------------------------------------------------- rankings

def top_clients(by_client: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """The ``limit`` clients with the most money at stake (leakage + overcharge), largest first; only
    clients with something at stake."""
    at_stake = by_client.assign(at_stake=by_client["leakage"] + by_client["overcharge"])
    at_stake = at_stake[at_stake["at_stake"] > 0]
    ranked = at_stake.sort_values(["at_stake", "client"], ascending=[False, True], kind="stable")
    return ranked.head(limit).reset_index(drop=True)


def top_products(by_vendor: pd.DataFrame, limit: int = 12) -> pd.DataFrame:
    """The ``limit`` vendor products with the most money at stake (``metrics.by_vendor``), largest first."""
    at_stake = by_vendor.assign(at_stake=by_vendor["leakage"] + by_vendor["overcharge"])
    ranked = at_stake.sort_values(["at_stake", "vendor", "sku"], ascending=[False, True, True], kind="stable")
    return ranked.head(limit).reset_index(drop=True)


def margin_ranking(by_client: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """Clients by gross margin %, lowest first (the ones to look at), the first ``limit`` of them;
    clients with no revenue last."""
    ranked = by_client.sort_values(["gross_margin_pct", "client"], na_position="last", kind="stable")
    columns = ["client", "billed_revenue", "vendor_cost", "gross_margin", "gross_margin_pct"]
    return ranked[columns].head(limit).reset_index(drop=True)


def margin_by_product(keys: pd.DataFrame) -> pd.DataFrame:
    """Billed revenue, vendor cost and gross margin per vendor and product over ``keys`` (a view's), the
    thinnest margin first; products with no billing last. Money in Int64 units."""
    money = keys.assign(billed_revenue=(keys["billed_amount"].fillna(0) + keys["duplicate_amount"].fillna(0)),
                        vendor_cost=keys["vendor_cost_amount"].fillna(0))
    grouped = money.groupby(["vendor", "product"], observed=True, dropna=False).agg(
        billed_revenue=("billed_revenue", "sum"), vendor_cost=("vendor_cost", "sum")).reset_index()
    grouped = grouped.astype({"billed_revenue": "Int64", "vendor_cost": "Int64"})
    grouped["gross_margin"] = grouped["billed_revenue"] - grouped["vendor_cost"]
    billed = grouped["billed_revenue"].astype("Float64")
    grouped["gross_margin_pct"] = (grouped["gross_margin"].astype("Float64") / billed.where(billed != 0)).round(4)
    ordered = grouped.sort_values(["gross_margin_pct", "product"], na_position="last", kind="stable")
    return ordered.reset_index(drop=True)


def receivables_by_client(book: pd.DataFrame) -> pd.DataFrame:
    """Open balance, overdue balance and open invoices per client, largest overdue first."""
    open_items = book[book["aging_bucket"] != "paid"]
    overdue = open_items["balance"].where(open_items["days_past_due"] > 0, 0)
    grouped = open_items.assign(overdue=overdue).groupby("client", observed=True).agg(
        balance=("balance", "sum"), overdue=("overdue", "sum"), open_invoices=("invoice_number", "size"),
        oldest_days_past_due=("days_past_due", "max")).reset_index()
    grouped = grouped.astype({"balance": "Int64", "overdue": "Int64"})
    return grouped.sort_values(["overdue", "balance"], ascending=False, kind="stable").reset_index(drop=True)


# Money the MSP failed to bill (leakage, under-billed) reads as a loss everywhere a person reads it: negative,
# as billed minus expected (the cards' "-$6,326.13", the clients and runs tables, the period chips, their
# CSVs); over-billed money (overcharge, refunds owed) positive. The engine keeps both as positive sums.
LOSS_COLUMNS = ("leakage",)


def as_read(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with leakage as a loss (negative), the sign convention of every card and table."""
    present = [column for column in LOSS_COLUMNS if column in frame]
    return frame.assign(**{column: -frame[column] for column in present}) if present else frame


@dataclass(frozen=True)
class PeriodChange:
    """The change of one figure from the previous period to the last one shown (Int64 units)."""

    period: str
    previous: str
    change: int


def period_change(by_period: pd.DataFrame, column: str) -> PeriodChange | None:
    """Last period's ``column`` against the period before it (``metrics.by_period``, leakage as a loss),
    or None with fewer than two periods."""
    if len(by_period) < 2:
        return None
    shown = as_read(by_period[["period", column]])
    last, previous = shown.iloc[-1], shown.iloc[-2]
    return PeriodChange(str(last["period"]), str(previous["period"]), int(last[column]) - int(previous[column]))


SETTING_WORDS = {
    "quantity_tolerance": "Quantity tolerance (units)", "price_tolerance_pct": "Unit price tolerance (share)",
    "price_tolerance_min": "Unit price tolerance, at least", "amount_tolerance": "Amount tolerance",
    "default_hourly_rate": "Default hourly rate", "fuzzy_suggest_min": "Suggest a client match from confidence",
    "payment_terms_days": "Payment terms (days)", "as_of": "Receivables as of", "max_upload_mb": "Largest upload (MB)",
    "max_upload_rows": "Most rows in one file", "fix_effective": "Fixes take effect",
    "max_upload_columns": "Most columns", "max_line_chars": "Longest line (characters)",
    "max_unzipped_mb": "Largest unpacked workbook (MB)", "max_compression_ratio": "Strongest workbook compression",
    "max_zip_members": "Most parts in a workbook", "max_line_amount": "Largest amount or quantity on one line",
    "quantity_basis": "Quantity in effect",
}
VALUE_WORDS = {"day_weighted": "days held", "period_end": "month end", "next_period": "the month after the run",
               "finding_period": "the finding's own month"}


def settings_table(values: Mapping[str, Any]) -> pd.DataFrame:
    """A run's settings (``Settings.to_dict``) as ``setting, value`` rows in words, for a person to read."""
    rows = [(SETTING_WORDS.get(name, name.replace("_", " ").capitalize()),
             "-" if value is None else VALUE_WORDS.get(str(value), str(value))) for name, value in values.items()]
    return pd.DataFrame(rows, columns=["setting", "value"]).astype("string")


def top_findings(discrepancies: pd.DataFrame, limit: int = 5) -> pd.DataFrame:
    """The ``limit`` largest undercharges and the ``limit`` largest overcharges (informational findings
    left out), undercharges first, each by size."""
    counted = discrepancies[~discrepancies["type"].isin(INFORMATIONAL_TYPES)]
    under = counted[counted["variance"] < 0].sort_values("variance", kind="stable").head(limit)
    over = counted[counted["variance"] > 0].sort_values("variance", ascending=False, kind="stable")
    over = over.head(limit)
    return pd.concat([under, over]).reset_index(drop=True)


# --------------------------------------------------------------------------------------- work list

SORT_ORDERS = {
    "impact": (["abs_variance", "period", "client"], [False, True, True]),
    "period": (["period", "client", "sku"], [True, True, True]),
    "client": (["client", "period", "sku"], [True, True, True]),
    "variance": (["variance", "period"], [True, True]),
}


@dataclass(frozen=True)
class WorklistQuery:
    """The Discrepancies page's own narrowing: types, directions, statuses (empty = all), a minimum
    absolute variance in money units, free text over client / sku / product / detail, and an order."""

    types: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    min_amount: int = 0
    text: str = ""
    include_informational: bool = True
    sort_by: str = "impact"
    hide_closed: bool = False  # leave out findings billed, credited or accepted (``CLOSED_STATUSES``)

    def __post_init__(self) -> None:
        if self.sort_by not in SORT_ORDERS:
            raise FilterError(f"unknown sort order {self.sort_by!r}; "
                              f"expected one of {', '.join(SORT_ORDERS)}")
        if self.min_amount < 0:
            raise FilterError("the minimum amount must not be negative")


def worklist(discrepancies: pd.DataFrame, query: WorklistQuery | None = None) -> pd.DataFrame:
    """The discrepancies ``query`` selects, in its order (largest money first by default)."""
    query = query or WorklistQuery()
    rows = discrepancies
    mask = rows["variance"].abs().fillna(0).ge(query.min_amount)
    chosen = (("type", query.types), ("direction", query.directions), ("status", query.statuses))
    for column, wanted in chosen:
        if wanted and column in rows:
            mask &= rows[column].isin(wanted).fillna(False)
    if not query.include_informational:
        mask &= ~rows["type"].isin(INFORMATIONAL_TYPES)
    if query.hide_closed and "status" in rows:
        mask &= ~rows["status"].isin(CLOSED_STATUSES).fillna(False)
    if query.text.strip():
        mask &= _text_matches(rows, query.text.strip())
    kept = rows[mask.to_numpy(bool)]
    by, ascending = SORT_ORDERS[query.sort_by]
    ordered = kept.assign(abs_variance=kept["variance"].abs())
    ordered = ordered.sort_values(by, ascending=ascending, kind="stable")
    return ordered.drop(columns=["abs_variance"]).reset_index(drop=True)


def net_variance(rows: pd.DataFrame) -> int:
    """Billed minus expected over ``rows`` (findings), in money units: what resolving them all moves."""
    return int(rows["variance"].fillna(0).sum())


def worklist_totals(rows: pd.DataFrame) -> dict[str, int]:
    """Count, under-billed and over-billed money (Int64 units, informational findings not counted)."""
    counted = rows[~rows["type"].isin(INFORMATIONAL_TYPES)]
    variance = counted["variance"].fillna(0)
    return {"findings": len(rows), "actionable": len(counted), "informational": len(rows) - len(counted),
            "under": int(-variance[variance < 0].sum()), "over": int(variance[variance > 0].sum())}


def _text_matches(rows: pd.DataFrame, text: str) -> pd.Series:
    searchable = [column for column in ("client", "sku", "product", "detail", "label", "fingerprint")
                  if column in rows]
    haystack = rows[searchable].astype("string").fillna("").agg(" ".join, axis=1)
    return haystack.str.contains(text, case=False, regex=False).fillna(False)


# -------------------------------------------------------------------------------------- receivables

def aging_table(book: pd.DataFrame) -> pd.DataFrame:
    """Open balance and invoice count per aging bucket, in bucket order (every bucket present)."""
    open_items = book[book["aging_bucket"] != "paid"]
    grouped = open_items.groupby("aging_bucket", observed=True).agg(
        invoices=("invoice_number", "size"), balance=("balance", "sum"))
    table = grouped.reindex(list(AGING_BUCKETS)).fillna(0)
    table = table.astype({"invoices": "int64", "balance": "Int64"})
    return table.rename_axis("aging_bucket").reset_index()


def overdue_invoices(book: pd.DataFrame) -> pd.DataFrame:
    """Invoices with an open balance past their due date, most overdue first."""
    overdue = book[(book["days_past_due"] > 0) & (book["aging_bucket"] != "paid")]
    ordered = overdue.sort_values(["days_past_due", "balance"], ascending=[False, False], kind="stable")
    return ordered.reset_index(drop=True)


def short_paid_invoices(book: pd.DataFrame) -> pd.DataFrame:
    """Invoices marked paid whose payments fall short of the total, biggest shortfall first."""
    short = book[book["short_paid"].astype(bool)]
    return short.sort_values("balance", ascending=False, kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------------------- mappings

QUEUE_COLUMNS = ("reason", "client_raw", "sku_raw", "client", "sku", "suggestion", "suggestion_score", "rows",
                 "quantity", "where")


def mapping_queue(unmapped: pd.DataFrame, rejected: pd.DataFrame | None = None) -> pd.DataFrame:
    """Unmapped usage rows grouped into decisions: one row per (vendor client name, vendor sku, reason)
    with its suggestion, row count, total quantity and where the rows are (``file:first-last``).

    A suggestion someone rejected (``rejected``: ``name``, ``client``) is not offered again. Most rows
    first, so working down the queue maps the most usage soonest."""
    rows = without_rejected(unmapped.assign(
        client_raw=unmapped["client_raw"].astype("string").str.strip(),
        suggestion=unmapped["suggestion"].astype("string")), rejected)
    group = ["reason", "client_raw", "sku_raw"]
    queue = rows.groupby(group, dropna=False, sort=False).agg(
        client=("client", "first"), sku=("sku", "first"), suggestion=("suggestion", "first"),
        suggestion_score=("suggestion_score", "max"), rows=("line", "size"), quantity=("quantity", "sum"),
        file=("file", "first"), first_line=("line", "min"), last_line=("line", "max")).reset_index()
    where = queue["file"].astype(str) + ":" + queue["first_line"].astype(str)
    queue["where"] = where.where(queue["first_line"] == queue["last_line"],
                                 where + "-" + queue["last_line"].astype(str))
    queue = queue.sort_values(["rows", "client_raw"], ascending=[False, True], kind="stable")
    return queue.reindex(columns=list(QUEUE_COLUMNS)).reset_index(drop=True)


def suggested(queue: pd.DataFrame, confirmed: Iterable[str] = ()) -> pd.DataFrame:
    """The decisions of a ``mapping_queue`` that come with a suggestion to confirm or reject, less the
    vendor names already ``confirmed`` (saved client aliases the run on screen predates: decided, applied
    by the next run; offering them again would let one name be confirmed and rejected)."""
    decided = {str(name).strip().casefold() for name in confirmed}
    named = queue["client_raw"].astype("string").str.strip().str.casefold()
    waiting = queue["suggestion"].notna().to_numpy(bool) & ~named.isin(decided).fillna(False).to_numpy(bool)
    return queue[waiting].reset_index(drop=True)


def unmapped_names(queue: pd.DataFrame) -> tuple[str, ...]:
    """The vendor client names of a ``mapping_queue`` still without a PSA client, sorted."""
    return _sorted_values(queue.loc[queue["client"].isna().to_numpy(bool), "client_raw"])


def unmapped_skus(queue: pd.DataFrame) -> tuple[str, ...]:
    """The vendor SKUs of a ``mapping_queue`` still without a PSA SKU, sorted."""
    return _sorted_values(queue.loc[queue["sku"].isna().to_numpy(bool), "sku_raw"])


def client_names(result: Reconciliation) -> tuple[str, ...]:
    """The PSA's client names (what an alias can point at), sorted."""
    psa = result.client_matches[result.client_matches["match_tier"] == "exact"]["client"]
    return _sorted_values(psa)


def sku_names(result: Reconciliation) -> tuple[str, ...]:
    """The PSA's product SKUs (catalog, contracts, invoices): what a vendor SKU can map to."""
    frames = result.resolved
    skus = pd.concat([frames[kind]["sku"] for kind in ("catalog", "contracts", "invoices") if kind in frames])
    return _sorted_values(skus)


# ------------------------------------------------------------------------------------------ sources

IMPORT_COLUMNS = ("source", "file", "rows_in", "rows_loaded", "rows_quarantined", "blank_rows", "balanced",
                  "sha256")


def guess_kind(file_name: str) -> str | None:
    """The canonical source a file name suggests (``usage_pax8.csv`` -> usage), as ``recon.ingest`` reads a
    data directory; ``None`` when the name says nothing."""
    stem = Path(file_name).stem.casefold().strip()
    for kind in SOURCES:
        if stem == kind or stem.startswith((f"{kind}_", f"{kind}-", f"{kind} ")):
            return kind
    return "usage" if stem.startswith("usage") else None


def with_client_alias(mappings: Mappings, alias: str, client: str) -> Mappings:
    """``mappings`` plus the alias ``alias`` -> ``client`` (an earlier alias of that name is replaced)."""
    aliases = mappings.client_aliases
    kept = aliases[aliases["alias"].astype("string").str.casefold() != alias.casefold()]
    row = pd.DataFrame({"alias": [alias], "client": [client]}).astype("string")
    return replace(mappings, client_aliases=pd.concat([kept, row], ignore_index=True))


def with_sku_mapping(mappings: Mappings, vendor_sku: str, sku: str) -> Mappings:
    """``mappings`` plus the vendor SKU ``vendor_sku`` -> PSA ``sku`` (replacing an earlier one)."""
    skus = mappings.sku_map
    kept = skus[skus["vendor_sku"].astype("string").str.casefold() != vendor_sku.casefold()]
    row = pd.DataFrame({"vendor_sku": [vendor_sku], "sku": [sku]}).astype("string")
    return replace(mappings, sku_map=pd.concat([kept, row], ignore_index=True))


VALIDATION_COLUMNS = ("file", "source", "read_as", "rows_in", "rows_used", "rows_quarantined", "blank_rows",
                      "passed", "failed", "balanced", "problems", "unused_columns", "absent_columns", "sha256")
EXPECTATION_COLUMNS = ("file", "source", "rule", "success", "checked", "failed", "expectation", "column",
                       "observed")
# what a person reads of the checks (the Great Expectations name, ``expectation``, stays in the files)
CHECK_COLUMNS = tuple(column for column in EXPECTATION_COLUMNS if column != "expectation")
# how a file was read, in words (the engine's "canonical columns" are the app's own column names)
READ_AS_WORDS = {"canonical columns": "standard column names"}


def validation_summary(reports: Sequence[ValidationReport],
                       records: Sequence[ImportRecord] = ()) -> pd.DataFrame:
    """One row per file: how it was read, rows in / used / quarantined / blank, expectations passed and
    failed, whether the rows balance, why it was refused (if it was), the columns it has that nothing
    read (with a "did you mean"), the columns of its export format it lacks (with what that means for
    the findings) and its SHA-256 (from ``records``)."""
    hashes = {(record.source, record.file): record.sha256 for record in records}
    rows = [{"file": report.file, "source": report.source, "read_as": READ_AS_WORDS.get(report.read_as, report.read_as),
             "rows_in": report.rows_in,
             "rows_used": report.rows_used, "rows_quarantined": report.rows_quarantined,
             "blank_rows": report.blank_rows, "passed": len(report.passed), "failed": len(report.failed),
             "balanced": report.balanced and not report.refused, "problems": "; ".join(report.problems),
             "unused_columns": ", ".join(column.describe() for column in report.unused_columns),
             "absent_columns": "; ".join(column.describe() for column in report.absent_columns),
             "sha256": hashes.get((report.source, report.file), "")} for report in reports]
    return pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS))


def usage_note_text(overall: Overall) -> str:
    """The run's vendor-row notes in one line (Overview): trial seats not expected to be billed, days
    carried from the nearest charge, credits whose charge is not loaded; empty when there are none."""
    parts = []
    if overall.trial_keys:
        parts.append(f"Trial seats not expected to be billed ({TRIAL_WEIGHTING}): {overall.trial_seats:,} on "
                     f"{overall.trial_keys:,} client-product-month(s)")
    if overall.carried_days:
        parts.append(f"{overall.carried_days:,} day(s) carried from the nearest charge")
    if overall.unmatched_credits:
        parts.append(f"{overall.unmatched_credits:,} credit(s) refund a charge not loaded")
    return " · ".join(parts)


def validation_totals(summary: pd.DataFrame) -> dict[str, int]:
    """Rows in, used and quarantined, and expectations failed, over a ``validation_summary``."""
    return {name: int(summary[name].sum()) for name in ("rows_in", "rows_used", "rows_quarantined", "failed")}


def validation_table(reports: Sequence[ValidationReport]) -> pd.DataFrame:
    """Every expectation run on every file (Great Expectations outcomes), failed ones first."""
    rows = [{"file": report.file, "source": report.source, **outcome.to_dict()}
            for report in reports for outcome in report.expectations]
    table = pd.DataFrame(rows, columns=list(EXPECTATION_COLUMNS))
    return table.sort_values("success", kind="stable").reset_index(drop=True)


def import_report(imports: Sequence[ImportRecord]) -> pd.DataFrame:
    """One row per imported file: rows in, loaded, quarantined, blank, and whether in = loaded +
    quarantined holds (it always should: a ``False`` here is a bug to report)."""
    table = pd.DataFrame([record.to_dict() for record in imports], columns=[
        "source", "file", "sha256", "rows_in", "rows_loaded", "rows_quarantined", "blank_rows"])
    table["balanced"] = table["rows_in"] == table["rows_loaded"] + table["rows_quarantined"]
    return table.reindex(columns=list(IMPORT_COLUMNS))


__all__ = [
    "CHECK_COLUMNS",
    "LOSS_COLUMNS",
    "NO_VENDOR",
    "RESOLUTION_STATUSES",
    "FilterError",
    "FilterOptions",
    "Filters",
    "PeriodChange",
    "RunView",
    "WorklistQuery",
    "account_manager",
    "aging_table",
    "as_date",
    "as_read",
    "choices",
    "client_names",
    "filter_options",
    "filter_run",
    "fix_before_after",
    "fix_name",
    "fix_what",
    "guess_kind",
    "import_report",
    "key_labels",
    "labelled_keys",
    "mapping_queue",
    "margin_by_product",
    "margin_ranking",
    "net_variance",
    "outcomes_frame",
    "overdue_invoices",
    "period_change",
    "receivables_by_client",
    "settings_table",
    "short_paid_invoices",
    "sku_names",
    "suggested",
    "text_or_dash",
    "top_clients",
    "top_findings",
    "top_products",
    "unmapped_names",
    "unmapped_skus",
    "validation_summary",
    "validation_table",
    "validation_totals",
    "with_client_alias",
    "with_fix_products",
    "with_labels",
    "with_sku_mapping",
    "worklist",
    "worklist_totals",
]


# ------------------------------------------------------------------------------------------- fixes

def fix_before_after(fix: Mapping[str, Any], line: bool) -> pd.DataFrame:
    """A proposed fix as the PSA will see it: its line's quantity and price before and after (``line``),
    or the one-time amount the next invoice gains (none before)."""
    if line:
        return pd.DataFrame({"line": ["Before", "After"],
                             "quantity": pd.array([fix["before_qty"], fix["after_qty"]], dtype="float64"),
                             "unit_price": pd.array([fix["unit_price"], fix["unit_price"]], dtype="Int64")})
    return pd.DataFrame({"line": ["Before", "After"], "amount": pd.array([0, fix["amount"]], dtype="Int64")})


def with_fix_products(fixes: pd.DataFrame, discrepancies: pd.DataFrame) -> pd.DataFrame:
    """Fixes with ``product``: the name of their finding's product (``discrepancies``' ``product``), else
    the SKU code."""
    named = discrepancies.drop_duplicates("fingerprint") if "product" in discrepancies else discrepancies.iloc[:0]
    names = dict(zip(named["fingerprint"].astype(str), named.get("product", pd.Series(dtype="string")), strict=True))
    product = fixes["fingerprint"].astype(str).map(names).astype("string")
    return fixes.assign(product=product.fillna(fixes["sku"].astype("string")))


def fix_what(fixes: pd.DataFrame) -> pd.Series:
    """What each fix (with its ``product``: ``with_fix_products``) does to which product, for a narrow
    table column: ``credit · Microsoft 365 E3`` (the change first, in one word: it stays in view)."""
    change = fixes["kind"].map(KIND_WORDS).fillna(fixes["kind"]).astype("string")
    return (change + " · " + fixes["product"].astype("string").fillna("-")).astype("string")


def fix_name(fix: Mapping[str, Any], change: str) -> str:
    """A fix in words a person tells apart: client · product · change (its key stays internal)."""
    return " · ".join(text_or_dash(fix.get(part)) for part in ("client", "product")) + f" · {change}"


def text_or_dash(value: object) -> str:
    """A value as text, ``-`` when it is missing (None, NA, NaN or empty)."""
    return "-" if value is None or value is pd.NA or str(value) in ("", "nan", "<NA>") else str(value)


def as_date(value: object) -> date:
    """A stored date, timestamp or ISO text as a ``date``."""
    return pd.Timestamp(value).date()  # type: ignore[arg-type]


def outcomes_frame(outcomes: list[dict[str, Any]]) -> pd.DataFrame:
    """What the PSA answered to each fix sent, one row each."""
    return pd.DataFrame(outcomes)
