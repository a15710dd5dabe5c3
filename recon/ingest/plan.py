"""What a new set of files does to the current data, before anything is reconciled: which current files
an upload (or a pull) replaces, which it keeps, and what the next run would no longer have.

In: ``InputFacts`` for the current files and for the new ones (``facts`` reads them off a loaded frame: the
kind, who issued the file, the months it covers, its rows). Out: an ``InputPlan`` the Sources page shows
("replaces usage_pax8.csv (295 rows), keeps 9 files (6,918 rows)") and asks about when it drops something.

The rule (a finance lead's expectation, issue 22): a new file replaces the current files **of the same kind
and the same vendor** and nothing else. The vendor is who issued the file: a preset's (Pax8, Microsoft,
ConnectWise), else, for vendor usage, the ``vendor`` values it lists. A usage file naming no vendor replaces
only a file of the same name; a contract, invoice, time, payment, catalog or alias file of unknown origin
replaces the current file(s) of its kind. A person can instead add a file alongside, or reconcile only the
new files; whatever the choice, the plan lists every source, vendor and month the next run would lose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from recon.ingest.presets import PRESETS
from recon.keys import describe_periods

# The column whose month says which period a row of each source belongs to (sources without one, such
# as contracts or the catalog, cover no particular month).
PERIOD_COLUMNS = {"usage": "period_start", "invoices": "period_start", "time_entries": "date",
                  "payments": "payment_date"}
KIND_WORDS = {"contracts": "contracts", "usage": "vendor usage", "invoices": "invoices",
              "time_entries": "time entries", "payments": "payments", "catalog": "the product catalog",
              "client_aliases": "client aliases"}


@dataclass(frozen=True)
class InputFacts:
    """One input file as the plan sees it. ``vendors``: who issued it, as written (``Pax8``); ``periods``:
    the ``YYYY-MM`` months its rows belong to (empty for a source without months); ``ident``: what tells
    two files of the same name apart (their SHA-256)."""

    name: str
    kind: str
    vendors: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    rows: int = 0
    ident: str = ""

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
    ``vendor`` values of a usage file; the months of its rows; its row count."""
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
    return InputFacts(name, kind, vendors, periods, len(frame), ident)


@dataclass(frozen=True)
class Loss:
    """Something the current data has and the next run would not: a source (kind), one vendor's part of
    it, or some of its months."""

    kind: str
    vendor: str
    periods: tuple[str, ...]
    whole: bool  # every month of it (or a source without months) is lost

    def describe(self) -> str:
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


def _coverage(files: Iterable[InputFacts]) -> dict[tuple[str, str], set[str]]:
    """(kind, vendor) -> months covered (a source without months covers the empty set, but is present)."""
    covered: dict[tuple[str, str], set[str]] = {}
    for item in files:
        for vendor in item.vendors or ("",):
            covered.setdefault((item.kind, vendor), set()).update(item.periods)
    return covered


def _losses(before: Iterable[InputFacts], after: Iterable[InputFacts]) -> tuple[Loss, ...]:
    had, will = _coverage(before), _coverage(after)
    kinds_after = {kind for kind, _ in will}
    vendors_after = {(kind, vendor.casefold()) for kind, vendor in will}
    losses = []
    for (kind, vendor), months in sorted(had.items()):
        if kind not in kinds_after:
            losses.append(Loss(kind, "", tuple(sorted(months)), True))
        elif vendor and (kind, vendor.casefold()) not in vendors_after:
            losses.append(Loss(kind, vendor, tuple(sorted(months)), True))
        else:
            kept_months = set().union(*(found for (other, name), found in will.items()
                                        if other == kind and (not vendor or name.casefold() == vendor.casefold())))
            missing = tuple(sorted(months - kept_months))
            if missing:
                losses.append(Loss(kind, vendor, missing, False))
    return tuple(_one_per_kind(losses))


def _one_per_kind(losses: list[Loss]) -> list[Loss]:
    """A whole source lost is said once, not once per vendor of it."""
    whole_kinds = {loss.kind for loss in losses if loss.whole and not loss.vendor}
    return [loss for loss in losses if not loss.vendor or loss.kind not in whole_kinds]


__all__ = ["InputFacts", "InputPlan", "Loss", "facts", "issuer_of", "plan_inputs"]
