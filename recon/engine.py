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
from recon.errors import MoneyRangeError, NoMonthError
from recon.money import headroom_problem
from recon.schema import LABOR_SKU, OPTIONAL_SOURCES, REQUIRED_SOURCES, SOURCES
from recon.settings import Settings
from recon.sources import ImportRecord, Sources, combine, empty_source

PSA_SOURCES = ("contracts", "invoices", "time_entries")
INVOICE_FACTS = ["client", "sku", "period_start", "quantity", "unit_price", "amount", "invoice_date",
                 "invoice_number", "source_file", "source_line", "line_type", "agreement_id"]
HISTORY_COLUMN = "from_history"  # usage rows drawn from the store's charge history (not the run's own files)
# in the store's charge history: a stored import's pair (client, sku, vendor, product, span) standing for its
# charges outside the run's months (``recon.store.database.pair_query``), a charge of no quantity
PAIR_COLUMN = "stored_pair"
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
    # which of the usage rows given (in their order) map to a client and sku (``resolve_rows``; else None)
    usage_mapped: np.ndarray | None = None


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
    # PRODUCT.md 4a: credit rows whose charge is not among the loaded rows (``keys.UNMATCHED_COLUMNS``),
    # the stored imports whose charges the run drew on, and the canonical usage rows of the run's own
    # files (what the store keeps as charge history).
    unmatched_credits: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=list(keyfacts.UNMATCHED_COLUMNS)))
    history_imports: tuple[ImportRecord, ...] = ()
    charges: pd.DataFrame = field(default_factory=lambda: empty_source("usage"))
    # the run's usage rows are not in ``charges`` but come apart (a Spark run streams them:
    # ``SparkRun.charge_chunks``), so storing the run needs them handed over (``Store.save_run(charges=...)``)
    charges_apart: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary of the run (money as decimal strings)."""
        return {"periods": list(self.periods), "settings": self.settings.to_dict(),
                "imports": [record.to_dict() for record in self.imports],
                "history_imports": [record.to_dict() for record in self.history_imports],
                **self.metrics.to_dict()}


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
    Usage rows that stay unresolved are ``unmapped``, in their order. Contract rows keep the product as the
    PSA export named it as ``sku_raw`` (what a fix's line is of in the PSA: ``recon.fixes``, write-back)."""
    distinct = distinct or {}
    matches, lookup = found.client_matches, found.sku_lookup
    out = dict(frames)
    for kind in (kind for kind in PSA_SOURCES if kind in frames):
        out[kind] = _with_client(frames[kind], _distinct(frames[kind], distinct.get(kind)), matches)
    for kind in (kind for kind in ("contracts", "invoices") if kind in frames):
        out[kind] = out[kind].assign(sku=_psa_skus(out[kind]["sku"], lookup))
    if "contracts" in frames:
        out["contracts"] = out["contracts"].assign(sku_raw=frames["contracts"]["sku"])
    usage_rows = frames["usage"] if "usage" in frames else empty_source("usage")
    text = usage_text if usage_text is not None else _usage_text(usage_rows)
    usage = _resolved_usage(text, _distinct(usage_rows, distinct.get("usage")), matches, lookup)
    mapped = (usage["client"].notna() & usage["sku"].notna()).to_numpy(bool)
    if "usage" in frames:
        out["usage"] = usage[mapped].reset_index(drop=True)
    # a stored charge that maps to nothing was listed when its own file was reconciled
    stored = (usage[HISTORY_COLUMN].fillna(False).to_numpy(bool) if HISTORY_COLUMN in usage
              else np.zeros(len(usage), dtype=bool))
    return Resolved(out, _unmapped_rows(usage[~mapped & ~stored], matches), matches,
                    mapped if "usage" in frames else None)


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
    """Every month that has an invoice line, and every month from the first invoiced one in which one of
    the run's own usage rows starts, sorted (without invoices: every month a usage row starts in). A
    charge reaching into later months (a year billed up front, a cycle 3/20-4/19) does not add them, nor
    does a charge that started before the invoiced months (the cycle 2/20-3/19 in a file for March), nor
    a stored charge: those months are reconciled with their own invoices (PRODUCT.md 4a)."""
    return periods_in([period_evidence(resolved.frames)])


def source_periods(sources: Sources) -> list[str]:
    """``available_periods`` read from sources before they are resolved (every usage row, mapped or
    not): the months to ask the store's charge history for before the run."""
    return periods_in([period_evidence(_with_all_kinds(sources).frames)])


def period_evidence(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """What the run's months are read from, for the rows of ``frames`` (any part of them): the distinct
    service starts of invoice lines and the distinct starts of the run's own usage rows (not stored
    charges). Parts of the rows give parts whose union ``periods_in`` reads as it reads the whole."""
    evidence = {}
    if "invoices" in frames:
        evidence["invoices"] = frames["invoices"][["period_start"]].drop_duplicates()
    if "usage" in frames:
        usage = frames["usage"]
        if HISTORY_COLUMN in usage:
            usage = usage[~usage[HISTORY_COLUMN].fillna(False).to_numpy(bool)]
        evidence["usage"] = usage[["period_start"]].drop_duplicates()
    return evidence


def periods_in(parts: list[dict[str, pd.DataFrame]]) -> list[str]:
    """The sorted months of ``period_evidence`` parts (see ``available_periods``)."""
    def months(kind: str) -> set[str]:
        frames = [part[kind] for part in parts if kind in part and len(part[kind])]
        if not frames:
            return set()
        starts = pd.concat(frames, ignore_index=True)["period_start"].drop_duplicates()
        return set(keyfacts.to_period(starts).dropna())
    invoice_periods, usage_periods = months("invoices"), months("usage")
    if invoice_periods:
        usage_periods = {period for period in usage_periods if period >= min(invoice_periods)}
    return sorted(invoice_periods | usage_periods)


def run_as_of(settings: Settings, periods: list[str]) -> date:
    """The date receivables are aged at: the setting, else the last period's end, else today."""
    return settings.as_of or (_month_end(periods[-1]) if periods else date.today())


def days_in(periods: list[str] | tuple[str, ...]) -> int:
    """Days in the run's months (DSO's denominator)."""
    return sum(pd.Period(period, "M").days_in_month for period in periods)


# ------------------------------------------------------------------------------------------------ keys

@dataclass(frozen=True)
class KeyFacts:
    """The keys of a run and what reading the usage rows found beside them."""

    keys: pd.DataFrame
    unmatched_credits: pd.DataFrame


def build_keys(resolved: Resolved, periods: list[str], settings: Settings,
               adjustments: pd.DataFrame | None = None) -> KeyFacts:
    """One row of facts per (period, client, sku) of the run's periods (see ``recon.keys``), in key
    order, agreement invoices' totals as keys of their own (expecting the agreement ``adjustments`` fixes
    wrote where a total carries them, ``recon.keys.billed_adjustments``); and the unmatched credits."""
    frames = keyfacts.coded(resolved.frames)
    vendor_tracked = frames["usage"][keyfacts.CLIENT_SKU].drop_duplicates().assign(vendor_tracked=True)
    had_contract = frames["contracts"][keyfacts.CLIENT_SKU].drop_duplicates().assign(had_contract=True)
    managers = keyfacts.account_managers(frames["contracts"]).astype({"account_manager": "category"})
    # The merged facts are passed on, not kept: the columns completing them replaces are freed at once.
    facts, unmatched, agreements = _merged_facts(frames, periods, settings)
    keys = keyfacts.complete_keys(facts, vendor_tracked, had_contract, _catalog_facts(frames["catalog"]))
    keys = keys.assign(account_manager=joins.left_lookup(keys, managers, ["client"])["account_manager"])
    totals = keyfacts.agreement_totals(resolved.frames["invoices"])
    totals = totals[totals["period"].isin(periods)].reset_index(drop=True)
    keys = keyfacts.with_agreement_totals(keyfacts.decoded(keys), totals, agreements, adjustments)
    return KeyFacts(keys, unmatched)


def _merged_facts(frames: dict[str, pd.DataFrame], periods: list[str],
                  settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every fact per key, one row per key of the run's periods, in key order; the unmatched credits;
    the agreement of each key's contract lines."""
    by_key, unmatched, agreements = _facts_by_key(frames, periods, settings)
    merged = joins.outer_join(by_key, keyfacts.KEY)
    in_run = merged["period"].isin(periods).to_numpy()
    return (merged if in_run.all() else merged[in_run].reset_index(drop=True)), unmatched, agreements


def _facts_by_key(frames: dict[str, pd.DataFrame], periods: list[str],
                  settings: Settings) -> tuple[list[pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Usage, contract, invoice and labour facts per key (each frame unique on the key), the unmatched
    credits and the agreements of the contract keys."""
    # Usage and invoices on threads of their own, beside contracts and labour: pandas' and Arrow's
    # kernels release the GIL, and the sources are independent.
    with ThreadPoolExecutor(2) as pool:
        usage = pool.submit(_usage_facts, frames["usage"], periods, settings.quantity_basis)
        invoice_facts = pool.submit(keyfacts.invoices_by_key, frames["invoices"][INVOICE_FACTS])
        # in start-date order, so that the latest line of a key comes last; lines starting the same day are
        # ordered by their content, never by input order
        contracts = frames["contracts"][keyfacts.CONTRACT_FACTS].sort_values(
            ["start_date", "unit_price", "quantity"], kind="stable")
        expected = keyfacts.expected_contract_lines(contracts, periods, settings.quantity_basis)
        labour = keyfacts.time_by_key(frames["time_entries"], keyfacts.labour_terms(expected),
                                      settings.default_hourly_rate_units)
        contract_facts = keyfacts.contracts_by_key(expected)
        usage_facts, unmatched = usage.result()
        return ([usage_facts, contract_facts, invoice_facts.result(), labour], unmatched,
                keyfacts.agreements_by_key(expected))


# The usage facts of a key, in one order whether a set of clients has usage rows or not (the Spark
# engine writes the keys of ranges of clients under the header of a range without rows).
USAGE_FACT_TYPES = {
    "period": "string", "client": "string", "sku": "string", "vendor": "category", "product_name": "category",
    "usage_rows": "Int64", "carried_days": "int64", "usage_qty": "float64", "usage_deficit": "float64",
    "trial_qty": "float64", "vendor_cost_amount": "Int64", "vendor_unit_cost": "Int64",
    "unmatched_credit_rows": "int64"}


def _usage_facts(usage: pd.DataFrame, periods: list[str], basis: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if len(usage) and periods:
        facts, unmatched = keyfacts.usage_by_key(usage, periods, basis)
        return facts[list(USAGE_FACT_TYPES)], unmatched
    return _no_usage(), pd.DataFrame(columns=list(keyfacts.UNMATCHED_COLUMNS))


def _no_usage() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in USAGE_FACT_TYPES.items()})


def _catalog_facts(catalog: pd.DataFrame) -> pd.DataFrame:
    facts = catalog.drop_duplicates("sku", keep="first")[["sku", "list_price", "unit_cost", "description"]]
    facts = facts.astype({"description": "category"})
    return facts.rename(columns={"unit_cost": "catalog_unit_cost", "description": "sku_description"})


# ---------------------------------------------------------------------------------------------- a run

def reconcile(sources: Sources, settings: Settings | None = None, periods: list[str] | None = None,
              mappings: Mappings | None = None, resolutions: pd.DataFrame | None = None,
              history: Sources | None = None, adjustments: pd.DataFrame | None = None) -> Reconciliation:
    """Reconcile ``sources`` over ``periods`` (``YYYY-MM``; default: every month with data in
    ``sources``, ``available_periods``).

    ``resolutions`` (columns ``fingerprint``, ``status``) feeds the recovered / open exposure metrics.
    ``history`` is the store's charge history (``Store.charge_history``): usage rows of earlier imports
    that count where they cover the run's months (an annual charge bought in March counts in November),
    and pairs (``PAIR_COLUMN``) standing for the others of the look-back (a vendor-tracked (client, sku));
    an import among ``sources``' own (the same SHA-256) is never drawn on twice, a charge that a newer
    file also holds (a corrected re-export) is taken from the newer file only, and history never adds a
    month to the run.
    ``adjustments`` (``recon.keys.ADJUSTMENT_COLUMNS``; the store's ``Store.agreement_adjustments``) are the
    agreement adjustments fixes wrote to the PSA: an agreement invoice's total carrying them is not a
    mismatch for them (docs/semantics.md, "Agreement adjustments inside a total").
    """
    settings = settings or Settings()
    sources = _with_all_kinds(sources)
    problem = headroom_problem(*_amounts_and_quantities(sources))
    if problem:
        raise MoneyRangeError(problem)
    stored_imports = history.imports if history is not None else ()
    combined = _with_history(sources, history)
    # Neither the stored charges as read nor the usage rows with them added (a million rows each in a second
    # month at 1M) are needed once resolved: freed before the keys are built, where the run peaks. (A caller
    # that passes ``history`` without keeping it lets it go here: bench/results.md, issue 25.)
    del history
    resolved = resolve(combined, settings, mappings)
    del combined
    drawn_on = drawn_imports(stored_imports, drawn_files(resolved.frames["usage"]))
    chosen = sorted(set(periods)) if periods else available_periods(resolved)
    if not chosen:
        raise no_month_error(len(resolved.unmapped))
    as_of = run_as_of(settings, chosen)
    with ThreadPoolExecutor(1) as pool:  # receivables beside the keys (see ``_facts_by_key``)
        book_future = pool.submit(receivables.receivables, resolved.frames["invoices"], sources["payments"],
                                  settings, as_of)
        built, found = _reconciled_clients(resolved, chosen, settings, adjustments)
        book = book_future.result()
    # (the mapped usage rows counted for coverage are the run's own: ``metrics.summarise`` leaves out the
    # stored charges drawn on)
    figures = metrics.summarise(built.keys, found, book, resolved.frames, resolved.unmapped, chosen, resolutions)
    return Reconciliation(tuple(chosen), settings, found, built.keys, resolved.unmapped, resolved.client_matches,
                          sources.issues, book, figures, resolved.frames, sources.imports,
                          built.unmatched_credits, drawn_on, sources["usage"])


def no_month_error(unmapped: int) -> NoMonthError:
    """Why a run has no month to reconcile (both engines), with ``unmapped`` usage rows mapped to nothing."""
    why = (f"; {unmapped:,} usage row{' maps' if unmapped == 1 else 's map'} to no client and sku: name the "
           "client in a contract or client_aliases.csv and the sku in catalog.csv" if unmapped else "")
    return NoMonthError(f"no month to reconcile: no invoice line and no usage row mapped to a client and sku gives "
                        f"one{why}")


def _with_history(sources: Sources, history: Sources | None) -> Sources:
    """The run's sources with the stored charges of other imports added to its usage rows (flagged
    ``from_history``). Imports with the SHA-256 of one of the run's own files are left out: the same bytes
    never count twice; nor does the same charge in two files (``_newest_charges``). A pair (``PAIR_COLUMN``) is
    no charge: it neither replaces one nor is replaced."""
    own = sources["usage"].assign(**{HISTORY_COLUMN: False})
    if history is None or not len(history["usage"]):
        return dataclasses.replace(sources, frames={**sources.frames, "usage": own})
    candidates = history_candidates(sources.imports, history.imports)
    rows = history["usage"]
    # which charges count is decided on their identity alone; the rows are then copied once
    stored = rows.take(counted_history(own, rows, candidates))
    stored = stored.drop(columns=[PAIR_COLUMN], errors="ignore").reset_index(drop=True)
    usage = pd.concat([own, stored.assign(**{HISTORY_COLUMN: True})], ignore_index=True)
    return dataclasses.replace(sources, frames={**sources.frames, "usage": usage})


def drawn_files(usage: pd.DataFrame) -> list[str]:
    """The ``source_file`` of the stored charges among resolved usage rows (those that count and map to a
    client and sku): a stored import whose charges all map to nothing, say another data set's, was not
    drawn on (its rows were listed as unmapped when its own files were reconciled)."""
    if HISTORY_COLUMN not in usage or not len(usage):
        return []
    stored = usage.loc[usage[HISTORY_COLUMN].fillna(False).to_numpy(bool), "source_file"]
    return [str(name) for name in pd.unique(stored.astype("string").dropna())]


def history_candidates(own: tuple[ImportRecord, ...], stored: tuple[ImportRecord, ...]) -> list[str]:
    """The ``source_file`` of each stored import a run of the files ``own`` may draw on, in import order:
    every one but those with the SHA-256 of one of its own files (the same bytes never count twice)."""
    seen = {record.sha256 for record in own if record.sha256}
    return [record.file for record in stored if record.sha256 not in seen]


def counted_history(own: pd.DataFrame, stored: pd.DataFrame, candidates: list[str]) -> np.ndarray:
    """The positions, in order, of the rows of ``stored`` (charge history: ``CHARGE_IDENTITY``,
    ``source_file``, ``PAIR_COLUMN`` if any) that count beside the run's own usage rows ``own``
    (``CHARGE_IDENTITY``): the rows of the imports ``candidates`` (``history_candidates``), each charge from
    the newest file that holds it (``_newest_charges``), and every pair. A charge is its client and sku as
    written, so the rows of some whole clients (as written) give those clients' part of the whole's answer:
    the Spark engine decides it per range of clients (``recon.spark.stages``)."""
    candidate = stored["source_file"].isin(candidates).to_numpy()
    pair = stored[PAIR_COLUMN].to_numpy(bool) if PAIR_COLUMN in stored else np.zeros(len(stored), dtype=bool)
    picked = np.flatnonzero(candidate & ~pair)
    identities = stored[[*CHARGE_IDENTITY, "source_file"]].take(picked)
    newest = picked[_newest_charges(own, identities, candidates)]
    return np.sort(np.concatenate([newest, np.flatnonzero(candidate & pair)]))


def drawn_imports(stored: tuple[ImportRecord, ...], files: Any) -> tuple[ImportRecord, ...]:
    """The records of ``stored`` whose ``source_file`` is among ``files`` (those of the history rows that
    count and map to a client and sku), in import order: the imports a run drew on."""
    kept = set(files)
    return tuple(record for record in stored if record.file in kept)


CHARGE_IDENTITY = ["client", "sku", "subscription_id", "period_start", "period_end", "row_type"]


def _newest_charges(own: pd.DataFrame, stored: pd.DataFrame, files: list[str]) -> np.ndarray:
    """Which stored rows count: a charge (client, sku, subscription, span and row type, as the vendor wrote
    them) is taken from the newest file that has it: the run's own files first, then the stored imports
    from the latest (``files`` in import order). A corrected re-export of a month (other bytes, the same
    charges) so replaces the stored one instead of adding to it; charges only an earlier import holds
    (an annual charge bought in March, the cycle 2/20-3/19) still count. A refund is not the charge it
    refunds: a charge and its whole refund (the same span) from two imports both count, and cancel."""
    if not len(stored):
        return np.zeros(0, dtype=bool)
    rank_of_file = {name: len(files) - position for position, name in enumerate(files)}  # newest: 1
    rank = np.concatenate([np.zeros(len(own), dtype=np.int64),
                           stored["source_file"].map(rank_of_file).to_numpy(dtype=np.int64)])
    both = pd.concat([own[CHARGE_IDENTITY], stored[CHARGE_IDENTITY]], ignore_index=True)
    identity = [both[name].astype("string").fillna("") if name in ("client", "sku", "subscription_id")
                else both[name].astype("string").fillna("usage") if name == "row_type"  # (stored: "usage")
                else both[name] for name in CHARGE_IDENTITY]
    best = pd.Series(rank).groupby(identity, dropna=False, sort=False).transform("min").to_numpy()
    return (rank == best)[len(own):]


def _amounts_and_quantities(sources: Sources) -> tuple[list[pd.Series], list[pd.Series]]:
    """Every money column and every quantity column of the sources (by the canonical schema)."""
    amounts: list[pd.Series] = []
    quantities: list[pd.Series] = []
    for kind, fields in SOURCES.items():
        frame = sources.frames[kind]
        amounts += [frame[spec.name] for spec in fields if spec.type == "money" and spec.name in frame]
        quantities += [frame[spec.name] for spec in fields if spec.type == "quantity" and spec.name in frame]
    return amounts, quantities


# Which rows a set of clients needs: the client-bearing sources split by client, the shared ones whole.
CLIENT_KINDS = ("contracts", "usage", "invoices", "time_entries")
SHARED_KINDS = ("catalog",)


def reconcile_clients(resolved: Resolved, periods: list[str], settings: Settings,
                      adjustments: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The keys (``build_keys``) and findings (``rules.apply_rules``) of the clients in ``resolved``.

    Per client by construction (PRODUCT.md section 4): given the rows of ``CLIENT_KINDS`` of any set of
    whole clients (in the order they have in the whole) and ``SHARED_KINDS`` whole, it returns exactly
    those clients' part of the whole run's keys and findings. The local engine calls it once with every
    client; the Spark engine once per range of clients (``recon.spark``)."""
    built, found = _reconciled_clients(resolved, periods, settings, adjustments)
    return built.keys, found


def _reconciled_clients(resolved: Resolved, periods: list[str], settings: Settings,
                        adjustments: pd.DataFrame | None = None) -> tuple[KeyFacts, pd.DataFrame]:
    """``reconcile_clients`` with the unmatched credits listed beside the keys (their count per key is a
    key fact, ``unmatched_credit_rows``, so the Spark engine's figures have it too)."""
    built = build_keys(resolved, periods, settings, adjustments)
    return built, rules.apply_rules(built.keys, settings)


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
    keys = result.keys
    facts = [column for column in EVIDENCE_FACTS if column in keys]
    out["key"] = keys[(keys["period"] == period) & (keys["client"] == client) & (keys["sku"] == sku)][facts]
    return {name: frame.reset_index(drop=True) for name, frame in out.items()}


# what the evidence panel says of the key itself (PRODUCT.md 4a: days carried, trial seats)
EVIDENCE_FACTS = ("usage_qty", "contract_qty", "billed_qty", "carried_days", "trial_qty")


__all__ = ["Mappings", "Reconciliation", "Resolved", "combine", "evidence", "reconcile", "resolve"]
