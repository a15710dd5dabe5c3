"""Quantities in effect (PRODUCT.md section 4a): what the rows of one subscription or one contract service
hold, day by day, and so in each month.

Rows come as a *series* (one subscription, one contract service: an integer code per row), a kind, an
inclusive span of days and a quantity:

- ``HOLDS``: the quantity held over the span (a Microsoft cycle charge, a Pax8 subscription line, an
  Autotask ContractServiceUnits row). Rows of one series that follow each other in time replace one
  another: each is in effect until the day before the next one starts, never added to it.
- ``REFUNDS``: a credit of an earlier charge (quantity = what it refunds, positive). A refund with the
  same span and quantity as a charge cancels it (one to one). A refund starting the day a replacement
  starts is the refund half of that change (Microsoft writes both for a seat change): the replacement
  already took the old quantity out, so it is *absorbed*; any other refund nets against what is in
  effect over its span.
- ``ADDS``: a change added to what is in effect for its span (a Pax8 prorate line, signed).

What a series holds never falls below zero; the part of a credit that would take it below (or an
absorbed refund larger than what it replaced) is *unmatched*: its charge is not among the loaded rows.
Days inside a series' known life (its life dates, else its first charge's start to its last charge's
end) that no charge covers carry the quantity of the nearest charge (a gap between two charges: each
half from its side) and are counted as carried days.

Everything is vectorised: rows are sorted once by (series, start, end, quantity); replacement is a shift
within series; refunds are matched with a sorted search; series with refunds or additions are swept as
+quantity / -quantity events (sort, cumulative sums restarted at each series); months come from interval
arithmetic on day numbers. No Python loop runs over rows or series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HOLDS, REFUNDS, ADDS = 0, 1, 2
_NAT = np.iinfo(np.int64).min
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Spans:
    """Pieces of constant quantity: series, first and last day (int64 day numbers), quantity, and whether
    the piece is carried (no charge covers it)."""

    series: np.ndarray
    first: np.ndarray
    last: np.ndarray
    quantity: np.ndarray
    carried: np.ndarray

    @classmethod
    def empty(cls) -> Spans:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, np.zeros(0), np.zeros(0, dtype=bool))

    def pick(self, mask: np.ndarray) -> Spans:
        return Spans(self.series[mask], self.first[mask], self.last[mask], self.quantity[mask], self.carried[mask])


@dataclass(frozen=True)
class Held:
    """What the series hold, per series and calendar month of the window: ``held`` has columns
    ``series``, ``month`` (datetime64[M]), ``quantity_days`` (sum of quantity x days), ``days`` (days with
    a quantity, carried ones included), ``carried_days`` and ``last_day_quantity``; ``unmatched`` is, per
    input row, the refunded quantity whose charge is not among the rows (0 for every other row);
    ``effective_last`` the last day each HOLDS row is in effect after replacement (its own last day for
    other rows; before its first day when a later row replaced it whole)."""

    held: pd.DataFrame
    unmatched: np.ndarray
    effective_last: np.ndarray


def days(values: np.ndarray | pd.Series) -> np.ndarray:
    """Dates -> int64 day numbers (NaT -> int64 min)."""
    return np.asarray(values, dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def held_by_month(series: np.ndarray, kind: np.ndarray, first: np.ndarray, last: np.ndarray,
                  quantity: np.ndarray, life_first: np.ndarray, life_last: np.ndarray,
                  window: tuple[int, int], carry: bool = True) -> Held:
    """The quantity each series holds in each month of ``window`` (first and last day numbers).

    ``first``/``last``/``life_first``/``life_last`` are int64 day numbers (``days``; life days may be NaT,
    meaning unknown); ``quantity`` float (REFUNDS: the refunded quantity, sign ignored). ``carry`` false:
    days no charge covers hold nothing (contract lines: a PSA writes a row for every period it bills)."""
    count = len(series)
    order = _row_order(series, first, last, quantity)
    s, k, a, b = series[order], kind[order], first[order], last[order]
    q = np.where(k == REFUNDS, np.abs(quantity[order]), quantity[order]).astype(float)
    live = ~_exact_refunds(s, k, a, b, q)
    holds = live & (k == HOLDS)
    effective = np.where(holds, _replaced_last(s, a, b, holds), b)
    unmatched = np.zeros(count)
    refunds = np.flatnonzero(live & (k == REFUNDS))
    absorbed, replaced = _absorbed(s, a, effective, q, holds, refunds)
    unmatched_sorted = np.zeros(count)
    unmatched_sorted[refunds[absorbed]] = np.maximum(q[refunds[absorbed]] - replaced[absorbed], 0.0)
    netted = refunds[~absorbed]
    adds = np.flatnonzero(live & (k == ADDS))
    swept_series = np.unique(s[np.concatenate([netted, adds])])
    in_sweep = np.isin(s, swept_series)
    plain = np.flatnonzero(holds & ~in_sweep & (effective >= a))
    spans = [Spans(s[plain], a[plain], effective[plain], q[plain], np.zeros(len(plain), dtype=bool))]
    if len(swept_series):
        swept, deficit = _sweep(s, a, b, effective, q, holds & in_sweep, netted, adds)
        unmatched_sorted[netted] = _deficit_per_refund(swept, deficit, s[netted], a[netted], b[netted])
        charged = swept.pick(~swept.carried)  # (``carried`` marks the pieces no charge covers)
        spans.append(Spans(charged.series, charged.first, charged.last, np.maximum(charged.quantity, 0.0),
                           np.zeros(len(charged.series), dtype=bool)))
    pieces = _ordered(_concat(spans))
    if carry:
        pieces = _with_carried(pieces, *_life(s, a, b, life_first[order], life_last[order], live & (k != REFUNDS)))
    pieces = _ordered(_within(pieces, *window))
    unmatched[order] = unmatched_sorted
    effective_last = np.empty(count, dtype=np.int64)
    effective_last[order] = effective
    return Held(_per_month(pieces, window), unmatched, effective_last)


def replaced_last(series: np.ndarray, first: np.ndarray, last: np.ndarray, quantity: np.ndarray) -> np.ndarray:
    """For rows that all hold a quantity (contract lines): the last day each is in effect once later rows
    of its series replace it (its own last day where none does; before its first day where a row starting
    the same day wins). Day numbers in and out, in the rows' own order."""
    order = _row_order(series, first, last, quantity)
    effective = np.empty(len(series), dtype=np.int64)
    effective[order] = _replaced_last(series[order], first[order], last[order], np.ones(len(series), dtype=bool))
    return effective


def _row_order(series: np.ndarray, first: np.ndarray, last: np.ndarray, quantity: np.ndarray) -> np.ndarray:
    """The rows by (series, first day, last day, quantity). Exports list a subscription's rows together
    and in time, so a stable sort on (series, first day) is nearly free; the few rows tying on it are
    ordered by (last day, quantity) apart, so input order never decides anything."""
    key = _pair_key(series, first)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    tie = ordered[1:] == ordered[:-1]
    if tie.any():
        positions = np.flatnonzero(np.r_[tie, False] | np.r_[False, tie])
        rows = order[positions]
        order[positions] = rows[np.lexsort((quantity[rows], last[rows], key[rows]))]
    return order


def _exact_refunds(s: np.ndarray, k: np.ndarray, a: np.ndarray, b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Rows (sorted) cancelled one to one by an exact refund: same series, span and quantity."""
    paired = np.zeros(len(s), dtype=bool)
    refunds = k == REFUNDS
    if not refunds.any():
        return paired
    rows = np.flatnonzero(np.isin(s, s[refunds]) & ((k == HOLDS) | refunds))
    rounded = np.round(q[rows], 6)
    is_refund = refunds[rows]
    # groups of (series, span, quantity); in each, charges then refunds, each in row order
    order = np.lexsort((is_refund, rounded, b[rows], a[rows], s[rows]))
    picked, flags, quantity = rows[order], is_refund[order], rounded[order]
    count = len(picked)
    new_group = np.r_[True, (s[picked][1:] != s[picked][:-1]) | (a[picked][1:] != a[picked][:-1])
                      | (b[picked][1:] != b[picked][:-1]) | (quantity[1:] != quantity[:-1])]
    new_block = new_group | np.r_[True, flags[1:] != flags[:-1]]
    group = np.cumsum(new_group) - 1
    rank = np.arange(count) - np.maximum.accumulate(np.where(new_block, np.arange(count), 0))
    refund_count = np.bincount(group, weights=flags).astype(np.int64)[group]
    charge_count = np.bincount(group)[group] - refund_count
    paired[picked[rank < np.where(flags, charge_count, refund_count)]] = True
    return paired


def _replaced_last(s: np.ndarray, a: np.ndarray, b: np.ndarray, holds: np.ndarray) -> np.ndarray:
    """For sorted rows: the day before the next HOLDS row of the series starts, where that is earlier than
    the row's own last day (ties on the start: the last row wins, the others end before they start)."""
    rows = np.flatnonzero(holds)
    following = np.full(len(s), _NEVER, dtype=np.int64)
    if len(rows) > 1:
        same = s[rows[1:]] == s[rows[:-1]]
        following[rows[:-1][same]] = a[rows[1:]][same]
    return np.minimum(b, np.where(following == _NEVER, _NEVER, following - 1))


def _absorbed(s: np.ndarray, a: np.ndarray, effective: np.ndarray, q: np.ndarray, holds: np.ndarray,
              refunds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which refunds start the day a HOLDS row of their series starts (the refund half of a change), and
    the quantity that was in effect the day before (what the change replaced)."""
    rows = np.flatnonzero(holds)
    if not len(rows) or not len(refunds):
        return np.zeros(len(refunds), dtype=bool), np.zeros(len(refunds))
    key_rows = _pair_key(s[rows], a[rows])
    key_refunds = _pair_key(s[refunds], a[refunds])
    position = np.searchsorted(key_rows, key_refunds, side="left")
    at = np.minimum(position, len(rows) - 1)
    absorbed = (position < len(rows)) & (key_rows[at] == key_refunds)
    before = rows[np.maximum(position - 1, 0)]
    in_effect = ((position > 0) & (s[before] == s[refunds]) & (a[before] < a[refunds])
                 & (effective[before] >= a[refunds] - 1) & (effective[before] >= a[before]))
    return absorbed, np.where(in_effect, q[before], 0.0)


def _pair_key(series: np.ndarray, day: np.ndarray) -> np.ndarray:
    """(series, day) as one sortable int64 (series codes and day numbers are both small)."""
    return series.astype(np.int64) * (1 << 32) + (day.astype(np.int64) + (1 << 31))


def _sweep(s: np.ndarray, a: np.ndarray, b: np.ndarray, effective: np.ndarray, q: np.ndarray,
           holds: np.ndarray, netted: np.ndarray, adds: np.ndarray) -> tuple[Spans, np.ndarray]:
    """Series with refunds or additions: +q at each row's first day, -q the day after its last, summed
    per (series, day); the running sums give pieces. Returns the pieces (``carried`` True where no charge
    covers a piece) and each piece's deficit (how far refunds take it below zero)."""
    held = np.flatnonzero(holds & (effective >= a))
    ev_series = np.concatenate([s[held], s[held], s[adds], s[adds], s[netted], s[netted]])
    ev_day = np.concatenate([a[held], effective[held] + 1, a[adds], b[adds] + 1, a[netted], b[netted] + 1])
    ev_value = np.concatenate([q[held], -q[held], q[adds], -q[adds], -q[netted], q[netted]])
    ones = np.ones(len(held) + len(adds))
    ev_cover = np.concatenate([ones[:len(held)], -ones[:len(held)], ones[len(held):], -ones[len(held):],
                               np.zeros(2 * len(netted))])
    order = np.argsort(_pair_key(ev_series, ev_day), kind="stable")
    key = _pair_key(ev_series, ev_day)[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    series, day = ev_series[order][starts], ev_day[order][starts]
    value = np.add.reduceat(ev_value[order], starts)
    cover = np.add.reduceat(ev_cover[order], starts)
    group_start = np.r_[True, series[1:] != series[:-1]]
    running = np.round(_restarted_cumsum(value, group_start), 6)
    covering = np.round(_restarted_cumsum(cover, group_start))
    keep = ~np.r_[group_start[1:], True]  # a series' last event opens no piece
    next_day = np.r_[day[1:], 0]
    pieces = Spans(series[keep], day[keep], next_day[keep] - 1, running[keep], covering[keep] <= 0)
    return pieces, np.maximum(-pieces.quantity, 0.0)


def _restarted_cumsum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Cumulative sums that restart at every ``group_start``."""
    total = np.cumsum(values)
    first = np.maximum.accumulate(np.where(group_start, np.arange(len(values)), 0))
    return total - (total - values)[first]


def _deficit_per_refund(pieces: Spans, deficit: np.ndarray, series: np.ndarray, first: np.ndarray,
                        last: np.ndarray) -> np.ndarray:
    """The largest deficit over each netted refund's span (the part of it no loaded charge covers)."""
    short = deficit > 0
    if not short.any() or not len(series):
        return np.zeros(len(series))
    holes = pd.DataFrame({"s": pieces.series[short], "a": pieces.first[short], "b": pieces.last[short],
                          "d": deficit[short]})
    refunds = pd.DataFrame({"s": series, "ra": first, "rb": last, "row": np.arange(len(series))})
    both = refunds.merge(holes, on="s")
    both = both[(both["a"] <= both["rb"]) & (both["b"] >= both["ra"])]
    return both.groupby("row")["d"].max().reindex(np.arange(len(series)), fill_value=0.0).to_numpy()


def _concat(parts: list[Spans]) -> Spans:
    return Spans(*(np.concatenate([getattr(part, name) for part in parts])
                   for name in ("series", "first", "last", "quantity", "carried")))


def _ordered(pieces: Spans) -> Spans:
    order = np.argsort(_pair_key(pieces.series, pieces.first), kind="stable")
    return pieces.pick(order)


def _life(s: np.ndarray, a: np.ndarray, b: np.ndarray, life_first: np.ndarray, life_last: np.ndarray,
          charges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per series with a charge (sorted): its known life, the life dates where given (widened to its
    charges), else its first charge's first day to its last charge's last day."""
    rows = np.flatnonzero(charges)
    if not len(rows):
        none = np.zeros(0, dtype=np.int64)
        return none, none, none
    lo = np.where(life_first[rows] == _NAT, a[rows], np.minimum(life_first[rows], a[rows]))
    hi = np.where(life_last[rows] == _NAT, b[rows], np.maximum(life_last[rows], b[rows]))
    series = s[rows]
    starts = np.flatnonzero(np.r_[True, series[1:] != series[:-1]])
    return series[starts], np.minimum.reduceat(lo, starts), np.maximum.reduceat(hi, starts)


def _with_carried(pieces: Spans, life_series: np.ndarray, life_lo: np.ndarray, life_hi: np.ndarray) -> Spans:
    """Add carried pieces for the days inside each series' life that no piece covers: before the first
    piece (its quantity), after the last (its quantity), and between two pieces (each half from its side)."""
    if not len(pieces.series):
        return pieces
    index = np.searchsorted(life_series, pieces.series)
    lo, hi = life_lo[index], life_hi[index]
    same_next = np.r_[pieces.series[1:] == pieces.series[:-1], False]
    same_prev = np.r_[False, same_next[:-1]]
    next_first = np.r_[pieces.first[1:], 0]
    # between two pieces: [last + 1, next first - 1], split at the middle
    gap = same_next & (next_first > pieces.last + 1)
    gap_lo, gap_hi = pieces.last[gap] + 1, next_first[gap] - 1
    middle = gap_lo + (gap_hi - gap_lo) // 2
    following = np.flatnonzero(gap) + 1
    lead = ~same_prev & (lo < pieces.first)
    trail = ~same_next & (hi > pieces.last)
    carried = [
        Spans(pieces.series[gap], gap_lo, middle, pieces.quantity[gap], np.ones(len(gap_lo), dtype=bool)),
        Spans(pieces.series[following], middle + 1, gap_hi, pieces.quantity[following],
              np.ones(len(following), dtype=bool)),
        Spans(pieces.series[lead], lo[lead], pieces.first[lead] - 1, pieces.quantity[lead],
              np.ones(int(lead.sum()), dtype=bool)),
        Spans(pieces.series[trail], pieces.last[trail] + 1, hi[trail], pieces.quantity[trail],
              np.ones(int(trail.sum()), dtype=bool)),
    ]
    everything = _concat([pieces, *carried])
    return everything.pick(everything.first <= everything.last)


def _within(pieces: Spans, first_day: int, last_day: int) -> Spans:
    first, last = np.maximum(pieces.first, first_day), np.minimum(pieces.last, last_day)
    keep = first <= last
    return Spans(pieces.series[keep], first[keep], last[keep], pieces.quantity[keep], pieces.carried[keep])


def _per_month(pieces: Spans, window: tuple[int, int]) -> pd.DataFrame:
    """Pieces split at month ends and summed per (series, month). Day numbers map to months through a
    table over the window's days (a few hundred entries), not a datetime conversion per piece."""
    lo, hi = window
    month_of = np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    first_month_number = month_of[0] if len(month_of) else 0
    month_first_day = (np.arange(first_month_number, first_month_number + len(np.unique(month_of)) + 1)
                       .astype("datetime64[M]").astype("datetime64[D]").astype(np.int64))
    first_month, last_month = month_of[pieces.first - lo], month_of[pieces.last - lo]
    count = last_month - first_month + 1
    row = np.repeat(np.arange(len(first_month)), count)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
    month = first_month[row] + offset
    starts_at = month_first_day[month - first_month_number]
    ends_at = month_first_day[month - first_month_number + 1] - 1
    covered = np.minimum(pieces.last[row], ends_at) - np.maximum(pieces.first[row], starts_at) + 1
    quantity, series = pieces.quantity[row], pieces.series[row]
    # pieces come in (series, first day) order and never overlap: (series, month) runs are contiguous
    starts = np.flatnonzero(np.r_[True, (series[1:] != series[:-1]) | (month[1:] != month[:-1])]) if len(row) \
        else np.zeros(0, dtype=np.int64)

    def summed(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts) if len(starts) else values[:0]

    return pd.DataFrame({
        "series": series[starts], "month": month[starts].astype("datetime64[M]"),
        "quantity_days": summed(quantity * covered), "days": summed(covered),
        "carried_days": summed(np.where(pieces.carried[row], covered, 0)),
        "last_day_quantity": summed(np.where(pieces.last[row] >= ends_at, quantity, 0.0))})
