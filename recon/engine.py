"""The pipeline: canonical sources -> resolved rows -> keys -> discrepancies -> metrics.

``reconcile`` is the one entry point the CLI, the store and the dashboard call. It returns a frozen
``Reconciliation`` that tells the whole story of a run; nobody downstream recomputes a figure from raw
rows. Every step reads one client's rows only (plus catalog, aliases and settings), so the same function
can run per client partition on a distributed engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from recon import identity, joins, metrics, receivables, rules
from recon import keys as keyfacts
from recon.cells import as_labels, distinct_cells, labels, spread
from recon.schema import LABOR_SKU, OPTIONAL_SOURCES, REQUIRED_SOURCES
from recon.settings import Settings
from recon.sources import ImportRecord, Sources, combine, empty_source

PSA_SOURCES = ("contracts", "invoices", "time_entries")
INVOICE_FACTS = ["client", "sku", "period_start", "quantity", "unit_price", "amount", "invoice_date",
                 "invoice_number", "source_file", "source_line"]
UNMAPPED_COLUMNS = ("source", "file", "line", "client_raw", "sku_raw", "client", "sku", "reason",
                    "suggestion", "suggestion_score", "quantity")


@dataclass(frozen=True)
class Mappings:
    """Mappings confirmed by people (kept in the store), applied on top of the sources' own aliases."""

    client_aliases: pd.DataFrame = field(default_factory=lambda: empty_source("client_aliases"))
    sku_map: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"vendor_sku": pd.Series(dtype="string"),
                                              "sku": pd.Series(dtype="string")}))


@dataclass(frozen=True)
class Resolved:
    """Canonical rows with PSA client and sku names; the usage rows that could not be resolved."""

    frames: dict[str, pd.DataFrame]
    unmapped: pd.DataFrame
    client_matches: pd.DataFrame


@dataclass(frozen=True)
class Reconciliation:
    """The result of one run: what was compared, what was found, and the figures."""

    periods: tuple[str, ...]
    settings: Settings
    discrepancies: pd.DataFrame
    keys: pd.DataFrame
    unmapped: pd.DataFrame
    client_matches: pd.DataFrame
    quarantine: pd.DataFrame
    receivables: pd.DataFrame
    metrics: metrics.Metrics
    resolved: dict[str, pd.DataFrame]
    imports: tuple[ImportRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary of the run (money as decimal strings)."""
        return {"periods": list(self.periods), "settings": self.settings.to_dict(),
                "imports": [record.to_dict() for record in self.imports], **self.metrics.to_dict()}


# ----------------------------------------------------------------------------------------- resolution

@dataclass(frozen=True)
class Identity:
    """Who is who, for a whole run: each client name's PSA client (``identity.MATCH_COLUMNS``, fuzzy
    suggestions included) and the folded vendor SKU -> PSA SKU lookup. Built once from every name of the
    run (``identify``), then applied row by row (``resolve_rows``)."""

    client_matches: pd.DataFrame
    sku_lookup: dict[str, str]


def identify(names: Mapping[str, pd.Series], psa_skus: pd.Series, client_aliases: pd.DataFrame,
             catalog: pd.DataFrame, settings: Settings, mappings: Mappings | None = None) -> Identity:
    """The run's identity tables. ``names``: for each of ``PSA_SOURCES`` and ``usage``, its client names
    in order of first appearance (the first spelling of names that normalise alike is the directory's);
    ``psa_skus``: the contracts' then the invoices' SKUs (in order of appearance; repeats change
    nothing). Global by nature: the directory is every PSA name, so it is built from all of them."""
    mappings = mappings or Mappings()
    aliases = pd.concat([client_aliases, mappings.client_aliases], ignore_index=True)
    directory = identity.build_directory(_concat_names(names, PSA_SOURCES), aliases)
    matches = identity.match_clients(_concat_names(names, (*PSA_SOURCES, "usage")), directory,
                                     settings.fuzzy_suggest_min)
    return Identity(matches, identity.sku_lookup(catalog, mappings.sku_map, psa_skus))


def resolve(sources: Sources, settings: Settings, mappings: Mappings | None = None) -> Resolved:
    """Put PSA client and sku names on every row. PSA sources name the clients; usage rows resolve
    through aliases, exact, normalised names (fuzzy only suggests) and the SKU map. Unresolved usage
    rows go to ``unmapped`` (never valued as leakage)."""
    with ThreadPoolExecutor(1) as pool:  # the usage rows' own text does not depend on who the clients are
        usage_text = pool.submit(_usage_text, sources["usage"])
        # identity works on names, not rows: each frame's client names once, in order of first appearance
        distinct = {kind: distinct_cells(sources[kind]["client"]) for kind in (*PSA_SOURCES, "usage")}
        psa_skus = pd.concat([sources["contracts"]["sku"], sources["invoices"]["sku"]], ignore_index=True)
        found = identify({kind: names for kind, (_, names) in distinct.items()}, psa_skus,
                         sources["client_aliases"], sources["catalog"], settings, mappings)
        return resolve_rows(sources.frames, found, distinct, usage_text.result())


def resolve_rows(frames: Mapping[str, pd.DataFrame], found: Identity,
                 distinct: Mapping[str, tuple[np.ndarray, pd.Series]] | None = None,
                 usage_text: pd.DataFrame | None = None) -> Resolved:
    """``frames`` (any of the sources, any subset of their rows) with PSA client and sku names, row by
    row: a part of the rows resolves as it does within the whole. ``distinct`` (``distinct_cells`` of a
    frame's clients) and ``usage_text`` (``_usage_text`` of the usage rows) save computing them again.
    Usage rows that stay unresolved are ``unmapped``, in their order."""
    distinct = distinct or {}
    matches, lookup = found.client_matches, found.sku_lookup
    out = dict(frames)
    for kind in (kind for kind in PSA_SOURCES if kind in frames):
        out[kind] = _with_client(frames[kind], _distinct(frames[kind], distinct.get(kind)), matches)
    for kind in (kind for kind in ("contracts", "invoices") if kind in frames):
        out[kind] = out[kind].assign(sku=_psa_skus(out[kind]["sku"], lookup))
    usage_rows = frames["usage"] if "usage" in frames else empty_source("usage")
    text = usage_text if usage_text is not None else _usage_text(usage_rows)
    usage = _resolved_usage(text, _distinct(usage_rows, distinct.get("usage")), matches, lookup)
    mapped = (usage["client"].notna() & usage["sku"].notna()).to_numpy(bool)
    if "usage" in frames:
        out["usage"] = usage[mapped].reset_index(drop=True)
    return Resolved(out, _unmapped_rows(usage[~mapped], matches), matches)


def _distinct(frame: pd.DataFrame, known: tuple[np.ndarray, pd.Series] | None) -> tuple[np.ndarray, pd.Series]:
    return known if known is not None else distinct_cells(frame["client"])


def _usage_text(usage: pd.DataFrame) -> pd.DataFrame:
    """``usage`` with its text columns categorical (``client`` and ``sku``, still to resolve, aside) and
    the vendor's sku as ``sku_raw``: vendor reports repeat a few thousand names over up to millions of
    rows, and as text the resolved rows (a subset, so a copy) would hold every name again (200 MB at
    1M rows)."""
    text = [name for name in usage.columns if name not in ("client", "sku") and usage[name].dtype == "string"]
    return usage.assign(**{name: as_labels(usage[name]) for name in text}, sku_raw=as_labels(usage["sku"]))


def _resolved_usage(usage: pd.DataFrame, distinct: tuple[np.ndarray, pd.Series], matches: pd.DataFrame,
                    lookup: dict[str, str]) -> pd.DataFrame:
    """Usage rows (``_usage_text``) with the PSA ``client`` and ``sku``; ``client_raw`` and ``sku_raw``
    keep the vendor's."""
    codes, names = distinct
    client, tier = _matched(names, matches)
    sku_raw = usage["sku_raw"]
    skus = sku_raw.cat.categories.to_series(index=None)
    return usage.assign(
        client_raw=labels(names, codes, usage.index), client=labels(client, codes, usage.index),
        match_tier=labels(tier, codes, usage.index),
        sku=labels(identity.map_skus(skus, lookup), np.asarray(sku_raw.array.codes, dtype=np.int64), usage.index))


def _matched(names: pd.Series, matches: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The PSA client and match tier of each distinct name."""
    lookup = matches.set_index("name")
    stripped = names.astype("string").str.strip()
    client, tier = (stripped.map(lookup[column]).astype("string") for column in ("client", "match_tier"))
    return client, tier


def _concat_names(names: Mapping[str, pd.Series], kinds: tuple[str, ...]) -> pd.Series:
    return pd.concat([names[kind] for kind in kinds], ignore_index=True)


def _with_client(frame: pd.DataFrame, distinct: tuple[np.ndarray, pd.Series], matches: pd.DataFrame) -> pd.DataFrame:
    """``client`` replaced by the PSA name (``client_raw`` keeps the original), with the match tier.
    ``distinct`` is ``distinct_cells(frame["client"])``."""
    codes, names = distinct
    client, tier = _matched(names, matches)
    # PSA sources name their clients canonically already: then the column itself is the answer.
    same = frame["client"].dtype == "string" and client.equals(names)
    resolved = frame["client"] if same else spread(client, codes, frame.index)
    # a handful of tier names over a million rows: a categorical, not a million strings
    return frame.assign(client_raw=frame["client"], client=resolved,
                        match_tier=spread(tier.astype("category"), codes, frame.index))


def _psa_skus(skus: pd.Series, lookup: dict[str, str]) -> pd.Series:
    """PSA skus through the SKU map (one it does not know stays as written, stripped), per distinct sku;
    the column itself where that changes nothing (the usual case), so invoice lines are not copied."""
    codes, distinct = distinct_cells(skus)
    mapped = identity.map_skus(distinct, lookup).fillna(distinct.str.strip())
    return skus if skus.dtype == "string" and mapped.equals(distinct) else spread(mapped, codes, skus.index)


def _unmapped_rows(rows: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    lookup = matches.set_index("name")
    names = rows["client_raw"].astype("string").str.strip()
    reason = pd.Series("unknown client", index=rows.index, dtype="string")
    reason = reason.where(rows["client"].isna(), "unknown sku")
    reason = reason.where(~(rows["client"].isna() & rows["sku"].isna()), "unknown client and sku")
    out = pd.DataFrame({
        "source": "usage", "file": rows["source_file"], "line": rows["source_line"],
        "client_raw": rows["client_raw"], "sku_raw": rows["sku_raw"], "client": rows["client"],
        "sku": rows["sku"], "reason": reason,
        "suggestion": names.map(lookup["suggestion"]).astype("string"),
        "suggestion_score": names.map(lookup["suggestion_score"]).astype("float64"),
        "quantity": rows["quantity"],
    })
    # a few rows: plain text again, as every other table of findings has it
    text = dict.fromkeys(("file", "client_raw", "sku_raw", "client", "sku"), "string")
    return out.reindex(columns=list(UNMAPPED_COLUMNS)).astype(text).reset_index(drop=True)


# --------------------------------------------------------------------------------------------- periods

def available_periods(resolved: Resolved) -> list[str]:
    """Every month that has an invoice line or a usage row, sorted."""
    return periods_in([period_evidence(resolved.frames)])


def period_evidence(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """What the run's months are read from, for the rows of ``frames`` (any part of them): the distinct
    service starts of invoice lines and the distinct date ranges of (resolved) usage rows. Parts of the
    rows give parts whose union ``periods_in`` reads as it reads the whole."""
    evidence = {}
    if "invoices" in frames:
        evidence["invoices"] = frames["invoices"][["period_start"]].drop_duplicates()
    if "usage" in frames:
        # The months a usage row covers depend on its dates only: each distinct date range once.
        evidence["usage"] = frames["usage"][["period_start", "period_end", "quantity"]].drop_duplicates(
            ["period_start", "period_end"])
    return evidence


def periods_in(parts: list[dict[str, pd.DataFrame]]) -> list[str]:
    """The sorted months of ``period_evidence`` parts: an invoice line's service month, every month a
    usage row covers."""
    def combined(kind: str, columns: list[str]) -> pd.DataFrame:
        frames = [part[kind] for part in parts if kind in part]
        return pd.concat(frames, ignore_index=True).drop_duplicates(columns) if frames else pd.DataFrame()
    starts = combined("invoices", ["period_start"])
    spans = combined("usage", ["period_start", "period_end"])
    invoice_periods = keyfacts.to_period(starts["period_start"]) if len(starts) else pd.Series(dtype="string")
    usage_periods = keyfacts.prorate_usage(spans)["period"] if len(spans) else pd.Series(dtype="string")
    return sorted(set(invoice_periods.dropna()) | set(usage_periods.dropna()))


def run_as_of(settings: Settings, periods: list[str]) -> date:
    """The date receivables are aged at: the setting, else the last period's end, else today."""
    return settings.as_of or (_month_end(periods[-1]) if periods else date.today())


def days_in(periods: list[str] | tuple[str, ...]) -> int:
    """Days in the run's months (DSO's denominator)."""
    return sum(pd.Period(period, "M").days_in_month for period in periods)


# ------------------------------------------------------------------------------------------------ keys

def build_keys(resolved: Resolved, periods: list[str], settings: Settings) -> pd.DataFrame:
    """One row of facts per (period, client, sku) of the run's periods (see ``recon.keys``), in key
    order."""
    frames = keyfacts.coded(resolved.frames)
    vendor_tracked = frames["usage"][keyfacts.CLIENT_SKU].drop_duplicates().assign(vendor_tracked=True)
    had_contract = frames["contracts"][keyfacts.CLIENT_SKU].drop_duplicates().assign(had_contract=True)
    managers = keyfacts.account_managers(frames["contracts"]).astype({"account_manager": "category"})
    # The merged facts are passed on, not kept: the columns completing them replaces are freed at once.
    keys = keyfacts.complete_keys(_merged_facts(frames, periods, settings), vendor_tracked, had_contract,
                                  _catalog_facts(frames["catalog"]))
    keys = keys.assign(account_manager=joins.left_lookup(keys, managers, ["client"])["account_manager"])
    return keyfacts.decoded(keys)


def _merged_facts(frames: dict[str, pd.DataFrame], periods: list[str], settings: Settings) -> pd.DataFrame:
    """Every fact per key, one row per key of the run's periods, in key order."""
    merged = joins.outer_join(_facts_by_key(frames, periods, settings), keyfacts.KEY)
    in_run = merged["period"].isin(periods).to_numpy()
    return merged if in_run.all() else merged[in_run].reset_index(drop=True)


def _facts_by_key(frames: dict[str, pd.DataFrame], periods: list[str], settings: Settings) -> list[pd.DataFrame]:
    """Usage, contract, invoice and labour facts per key (each frame unique on the key)."""
    # Usage and invoices on threads of their own, beside contracts and labour: pandas' and Arrow's
    # kernels release the GIL, and the sources are independent.
    with ThreadPoolExecutor(2) as pool:
        usage = pool.submit(_usage_facts, frames["usage"])
        invoice_facts = pool.submit(keyfacts.invoices_by_key, frames["invoices"][INVOICE_FACTS])
        # in start-date order, so that the latest line of a key comes last; lines starting the same day are
        # ordered by their content, never by input order
        contracts = frames["contracts"][keyfacts.CONTRACT_FACTS].sort_values(
            ["start_date", "unit_price", "quantity"], kind="stable")
        active = keyfacts.active_contract_lines(contracts, periods)
        labour = keyfacts.time_by_key(frames["time_entries"], keyfacts.labour_terms(active),
                                      settings.default_hourly_rate_units)
        contract_facts = keyfacts.contracts_by_key(active)
        return [usage.result(), contract_facts, invoice_facts.result(), labour]


def _usage_facts(usage: pd.DataFrame) -> pd.DataFrame:
    return keyfacts.usage_by_key(usage) if len(usage) else _no_usage()


def _no_usage() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in {
        "period": "string", "client": "string", "sku": "string", "usage_qty": "float64",
        "vendor_cost_amount": "Int64", "vendor": "category", "product_name": "category",
        "usage_rows": "Int64", "vendor_unit_cost": "Int64"}.items()})


def _catalog_facts(catalog: pd.DataFrame) -> pd.DataFrame:
    facts = catalog.drop_duplicates("sku", keep="first")[["sku", "list_price", "unit_cost", "description"]]
    facts = facts.astype({"description": "category"})
    return facts.rename(columns={"unit_cost": "catalog_unit_cost", "description": "sku_description"})


# ---------------------------------------------------------------------------------------------- a run

def reconcile(sources: Sources, settings: Settings | None = None, periods: list[str] | None = None,
              mappings: Mappings | None = None, resolutions: pd.DataFrame | None = None) -> Reconciliation:
    """Reconcile ``sources`` over ``periods`` (``YYYY-MM``; default: every month with data).

    ``resolutions`` (columns ``fingerprint``, ``status``) feeds the recovered / open exposure metrics.
    """
    settings = settings or Settings()
    sources = _with_all_kinds(sources)
    resolved = resolve(sources, settings, mappings)
    chosen = sorted(set(periods)) if periods else available_periods(resolved)
    as_of = run_as_of(settings, chosen)
    with ThreadPoolExecutor(1) as pool:  # receivables beside the keys (see ``_facts_by_key``)
        book_future = pool.submit(receivables.receivables, resolved.frames["invoices"], sources["payments"],
                                  settings, as_of)
        keys, found = reconcile_clients(resolved, chosen, settings)
        book = book_future.result()
    figures = metrics.summarise(keys, found, book, resolved.frames, resolved.unmapped, chosen, resolutions)
    return Reconciliation(tuple(chosen), settings, found, keys, resolved.unmapped, resolved.client_matches,
                          sources.issues, book, figures, resolved.frames, sources.imports)


# Which rows a set of clients needs: the client-bearing sources split by client, the shared ones whole.
CLIENT_KINDS = ("contracts", "usage", "invoices", "time_entries")
SHARED_KINDS = ("catalog",)


def reconcile_clients(resolved: Resolved, periods: list[str], settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The keys (``build_keys``) and findings (``rules.apply_rules``) of the clients in ``resolved``.

    Per client by construction (PRODUCT.md section 4): given the rows of ``CLIENT_KINDS`` of any set of
    whole clients (in the order they have in the whole) and ``SHARED_KINDS`` whole, it returns exactly
    those clients' part of the whole run's keys and findings. The local engine calls it once with every
    client; the Spark engine once per range of clients (``recon.spark``)."""
    keys = build_keys(resolved, periods, settings)
    return keys, rules.apply_rules(keys, settings)


def _month_end(period: str) -> date:
    return pd.Period(period, "M").end_time.date()


def _with_all_kinds(sources: Sources) -> Sources:
    """Fill absent kinds with empty canonical frames, so optional sources can simply be missing."""
    missing = [kind for kind in (*REQUIRED_SOURCES, *OPTIONAL_SOURCES) if kind not in sources.frames]
    if not missing:
        return sources
    frames = {**sources.frames, **{kind: empty_source(kind) for kind in missing}}
    return dataclasses.replace(sources, frames=frames)


def evidence(result: Reconciliation, period: str, client: str, sku: str) -> dict[str, pd.DataFrame]:
    """The contract, usage and invoice rows behind one key (and time entries for labour), side by side
    (canonical rows: money in Int64 units)."""
    month = pd.Period(period, "M")
    start, end = month.start_time, month.end_time.normalize()
    frames = result.resolved
    contracts = frames["contracts"]
    usage = frames["usage"]
    invoices = frames["invoices"]
    out = {
        "contract": contracts[(contracts["client"] == client) & (contracts["sku"] == sku)],
        "usage": usage[(usage["client"] == client) & (usage["sku"] == sku) & (usage["period_start"] <= end)
                       & (usage["period_end"] >= start)],
        "invoice": invoices[(invoices["client"] == client) & (invoices["sku"] == sku)
                            & (keyfacts.to_period(invoices["period_start"]) == period)],
    }
    if sku == LABOR_SKU:
        time = frames["time_entries"]
        out["time"] = time[(time["client"] == client) & (keyfacts.to_period(time["date"]) == period)]
    return {name: frame.reset_index(drop=True) for name, frame in out.items()}


__all__ = ["Mappings", "Reconciliation", "Resolved", "combine", "evidence", "reconcile", "resolve"]
