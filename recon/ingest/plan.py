"""What a new set of files does to the current data, before anything is reconciled: which current files
an upload (or a pull) replaces, which it keeps, and what the next run would no longer have.

In: ``InputFacts`` for the current files and for the new ones (``facts`` reads them off a loaded frame: the
kind, who issued the file, the months it covers, the clients it names, its rows). Out: an ``InputPlan`` the
Sources page shows ("replaces usage_pax8.csv (295 rows), keeps 9 files (6,918 rows)") and asks about when it
drops something.

The rule (a finance lead's expectation, issue 22): a new file replaces the current files **of the same kind
and the same vendor** and nothing else. The vendor is who issued the file: a preset's (Pax8, Microsoft,
ConnectWise), else, for vendor usage, the ``vendor`` values it lists. A usage file naming no vendor replaces
only a file of the same name; a contract, invoice, time, payment, catalog or alias file of unknown origin
replaces the current file(s) of its kind. A person can instead add a file alongside, or reconcile only the
new files; whatever the choice, the plan lists every source, vendor and month the next run would lose, and
every client whose rows of a source (or of one vendor's usage) it would lose: a ConnectWise agreement export
of one client put in place of the contracts of 40 covers no month less, yet takes 39 clients' contract lines
out of the comparison. Clients are told apart as the engine matches them (``normalise_client_names``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recon.identity import normalise_client_names
from recon.ingest.presets import PRESETS
from recon.keys import describe_periods

# The column whose month says which period a row of each source belongs to (sources without one, such
# as contracts or the catalog, cover no particular month).
PERIOD_COLUMNS = {"usage": "period_start", "invoices": "period_start", "time_entries": "date",
                  "payments": "payment_date"}
KIND_WORDS = {"contracts": "contracts", "usage": "vendor usage", "invoices": "invoices",
              "time_entries": "time entries", "payments": "payments", "catalog": "the product catalog",
              "client_aliases": "client aliases"}
# What a client has in each source that names clients (its rows, in the words of a loss).
CLIENT_ROWS = {"contracts": "contract lines", "usage": "vendor usage rows", "invoices": "invoice lines",
               "time_entries": "time entries", "client_aliases": "client aliases"}
SHOWN_CLIENTS = 3  # client names a loss spells out before "and N more"


@dataclass(frozen=True)
class InputFacts:
    """One input file as the plan sees it. ``vendors``: who issued it, as written (``Pax8``); ``periods``:
    the ``YYYY-MM`` months its rows belong to (empty for a source without months); ``ident``: what tells
    two files of the same name apart (their SHA-256); ``clients``: the distinct clients its rows name, as
    written (empty for a source without clients)."""

    name: str
    kind: str
    vendors: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    rows: int = 0
    ident: str = ""
    clients: tuple[str, ...] = ()

    @property
    def vendor_keys(self) -> frozenset[str]:
        return frozenset(vendor.casefold() for vendor in self.vendors)

    def replaces(self, current: InputFacts) -> bool:
        """Whether this new file takes the place of ``current`` (the module's rule)."""
        if self.kind != current.kind:
            return False
        if self.vendor_keys and current.vendor_keys:
            return bool(self.vendor_keys & current.vendor_keys)
        if self.kind == "usage":
            return self.name.casefold() == current.name.casefold()
        return True

    def describe(self) -> str:
        """``usage_pax8.csv (Pax8, 2025-11 to 2026-10, 295 rows)``."""
        parts = [", ".join(self.vendors)] if self.vendors else []
        parts += [describe_periods(self.periods)] if self.periods else []
        return f"{self.name} ({', '.join([*parts, f'{self.rows:,} rows'])})"


def issuer_of(preset: str | None) -> str | None:
    """Who issues the files a preset reads: the first word of its title (``Pax8``, ``Microsoft``)."""
    if preset is None or preset not in PRESETS:
        return None
    return PRESETS[preset].title.split()[0]


def facts(name: str, kind: str, frame: pd.DataFrame, issuer: str | None = None, ident: str = "") -> InputFacts:
    """The facts of one loaded file: ``issuer`` when a preset read it (its vendor, e.g. ``Pax8``), else the
    ``vendor`` values of a usage file; the months of its rows; the clients they name; its row count."""
    if issuer:
        vendors: tuple[str, ...] = (issuer,)
    elif kind == "usage" and "vendor" in frame:
        vendors = tuple(sorted({str(value) for value in frame["vendor"].dropna().unique()}))
    else:
        vendors = ()
    column = PERIOD_COLUMNS.get(kind)
    periods: tuple[str, ...] = ()
    if column is not None and column in frame and len(frame):
        months = pd.to_datetime(frame[column], errors="coerce").dropna().dt.strftime("%Y-%m")
        periods = tuple(sorted(months.unique()))
    clients = _distinct_text(frame["client"]) if kind in CLIENT_ROWS and "client" in frame else ()
    return InputFacts(name, kind, vendors, periods, len(frame), ident, clients)


def _distinct_text(column: pd.Series) -> tuple[str, ...]:
    """The distinct non-empty values of a text column, sorted: by its codes when it is categorical (a million
    rows of a few thousand clients), else ``unique`` (hashing, no Python call per row)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        values = column.cat.categories[np.unique(codes[codes >= 0])]
    else:
        values = column.dropna().unique()
    return tuple(sorted({str(value) for value in values} - {""}))


@dataclass(frozen=True)
class Loss:
    """Something the current data has and the next run would not: a source (kind), one vendor's part of
    it, some of its months, or the rows of some ``clients`` (of the ``of`` clients it has now)."""

    kind: str
    vendor: str
    periods: tuple[str, ...]
    whole: bool  # every month of it (or a source without months) is lost
    clients: tuple[str, ...] = ()
    of: int = 0

    def describe(self) -> str:
        """``all contracts``, ``Pax8 vendor usage for 2026-09``, ``the contract lines of 39 of 40 clients
        (Acme Corp, Contoso, Fabrikam and 36 more)``."""
        if self.clients:
            rows = CLIENT_ROWS.get(self.kind, f"{KIND_WORDS.get(self.kind, self.kind)} rows")
            rows = f"{self.vendor} {rows}" if self.vendor else rows
            more = len(self.clients) - SHOWN_CLIENTS
            names = ", ".join(self.clients[:SHOWN_CLIENTS]) + (f" and {more:,} more" if more > 0 else "")
            return f"the {rows} of {len(self.clients):,} of {self.of:,} clients ({names})"
        what = KIND_WORDS.get(self.kind, self.kind)
        what = f"{self.vendor} {what}" if self.vendor else what
        if self.whole or not self.periods:
            return f"all {what}"
        return f"{what} for {describe_periods(self.periods)}"


@dataclass(frozen=True)
class InputPlan:
    """The next run's files: the current ones ``kept``, the ``replaced`` ones left out, the new ones
    ``added``; ``losses``: what the current data has that the next run would not (ask before running)."""

    kept: tuple[InputFacts, ...]
    replaced: tuple[InputFacts, ...]
    added: tuple[InputFacts, ...]
    losses: tuple[Loss, ...]

    @property
    def files(self) -> tuple[InputFacts, ...]:
        return (*self.kept, *self.added)

    @property
    def rows(self) -> int:
        return sum(item.rows for item in self.files)

    def summary(self) -> str:
        """One sentence: what is replaced, kept and added (files and rows)."""
        parts = []
        if self.replaced:
            parts.append(f"replaces {_files(self.replaced)}")
        if self.kept:
            parts.append(f"keeps {_files(self.kept)}")
        parts.append(f"adds {_files(self.added)}")
        return "; ".join(parts) + f". The next run reads {len(self.files)} file(s), {self.rows:,} rows."


def _files(items: Sequence[InputFacts]) -> str:
    names = ", ".join(item.name for item in items[:4]) + (f" and {len(items) - 4} more" if len(items) > 4 else "")
    return f"{len(items)} file(s) ({sum(item.rows for item in items):,} rows: {names})"


def plan_inputs(current: Sequence[InputFacts], new: Sequence[InputFacts], *, only_new: bool = False,
                added_alongside: Iterable[str] = ()) -> InputPlan:
    """The plan for reconciling ``new`` files with the ``current`` ones: each new file replaces what the
    module's rule says, except those whose ``ident`` is in ``added_alongside`` (they replace nothing);
    ``only_new`` leaves every current file out."""
    alongside = set(added_alongside)
    replacing = [item for item in new if item.ident not in alongside]
    replaced: tuple[InputFacts, ...] = tuple(
        old for old in current if only_new or any(item.replaces(old) for item in replacing))
    kept = tuple(old for old in current if old not in replaced)
    return InputPlan(kept, replaced, tuple(new), _losses(current, (*kept, *new)))


def _coverage(files: Iterable[InputFacts], what: str = "periods") -> dict[tuple[str, str], set[str]]:
    """(kind, vendor) -> months covered (a source without months covers the empty set, but is present), or
    with ``what="clients"`` the clients named."""
    covered: dict[tuple[str, str], set[str]] = {}
    for item in files:
        for vendor in item.vendors or ("",):
            covered.setdefault((item.kind, vendor), set()).update(getattr(item, what))
    return covered


def _losses(before: Sequence[InputFacts], after: Sequence[InputFacts]) -> tuple[Loss, ...]:
    had, will = _coverage(before), _coverage(after)
    had_clients, will_clients = _coverage(before, "clients"), _coverage(after, "clients")
    client_key = _client_keys([*had_clients.values(), *will_clients.values()])
    kinds_after = {kind for kind, _ in will}
    vendors_after = {(kind, vendor.casefold()) for kind, vendor in will}
    losses = []
    for (kind, vendor), months in sorted(had.items()):
        if kind not in kinds_after:
            losses.append(Loss(kind, "", tuple(sorted(months)), True))
        elif vendor and (kind, vendor.casefold()) not in vendors_after:
            losses.append(Loss(kind, vendor, tuple(sorted(months)), True))
        else:
            kept = [key for key in will if key[0] == kind and (not vendor or key[1].casefold() == vendor.casefold())]
            missing = tuple(sorted(months - set().union(*(will[key] for key in kept))))
            if missing:
                losses.append(Loss(kind, vendor, missing, False))
            lost = _clients_lost(had_clients[(kind, vendor)], set().union(*(will_clients[key] for key in kept)),
                                 client_key)
            if lost:
                losses.append(Loss(kind, vendor, (), False, lost, len({client_key[name] for name in
                                                                       had_clients[(kind, vendor)]})))
    return tuple(_one_per_kind(losses))


def _client_keys(groups: Iterable[set[str]]) -> dict[str, str]:
    """Client name -> the key the engine matches it by (``normalise_client_names``; the folded name when
    nothing is left of it), computed once per distinct name."""
    names = sorted(set().union(*groups))
    if not names:
        return {}
    keys = normalise_client_names(pd.Series(names, dtype="str"))
    return {name: key or name.casefold() for name, key in zip(names, keys, strict=True)}


def _clients_lost(had: set[str], will: set[str], key: dict[str, str]) -> tuple[str, ...]:
    """The clients of ``had`` that ``will`` does not name (by their key), one spelling each, sorted."""
    kept = {key[name] for name in will}
    lost: dict[str, str] = {}
    for name in sorted(had, key=lambda name: (name.casefold(), name)):
        if key[name] not in kept:
            lost.setdefault(key[name], name)
    return tuple(lost.values())


def _one_per_kind(losses: list[Loss]) -> list[Loss]:
    """A whole source lost is said once, not once per vendor of it."""
    whole_kinds = {loss.kind for loss in losses if loss.whole and not loss.vendor}
    return [loss for loss in losses if not loss.vendor or loss.kind not in whole_kinds]


__all__ = ["InputFacts", "InputPlan", "Loss", "facts", "issuer_of", "plan_inputs"]
