"""Proposed fixes: the PSA change that clears each open finding, as data (issue 21).

Finding leakage is half the job; the other half is amending the agreement and the invoice. ``propose`` turns
a run's findings and its resolved contract lines into the changes a finance lead would make in the PSA, one
row per change (``FIX_COLUMNS``), each carrying its finding's fingerprint:

    finding                                  change on the PSA line              one-time money
    quantity_under/over_billed,              change_quantity  C -> E             charge / credit of the
    unbilled_usage                           (add_line when no line is active)   period's gap (-variance)
    billed_without_usage                     cancel_line (quantity -> 0)         credit of what was billed
    missed_recurring_charge,                 -                                   charge / credit
    billed_outside_contract, price_*,
    duplicate_charge
    agreement_total_mismatch                 -                                   charge / credit of the
                                                                                 gap, on the agreement
                                                                                 the total names
    unbilled_time, negative_margin           none: invoice the time entries / informational

- **A line changes only where it disagrees with what is expected.** A quantity finding whose contract
  quantity C already equals the expected quantity E (the invoice is what is wrong) gets no line change; a
  price finding never changes the line (the agreement carries the contract price the invoice did not
  follow). The quantity of the latest line of the key active in the period moves by E - C (so a second line
  of the same product stays as it is); a quantity day-weighted to a fraction is rounded to whole units
  for a line that counts whole units.
- **An agreement total that differs from its lines** (ConnectWise bills an agreement as one total,
  PRODUCT.md 4a) is settled by a one-time adjustment of the gap on the agreement the total names
  (``AGREEMENT-<id>``), from the next period (an agreement adjustment in ConnectWise). Where the run's keys
  show lines of that agreement whose contract quantity disagrees with the expected one (the vendor bills 27
  seats, the addition says 25), those lines change quantity too, from the next period, so the total stops
  falling short; such a fix is keyed by the finding and the line's sku.
- **Lines change once, from the run's last period.** A line change is proposed for findings of the run's
  last period only (an earlier month's line is history); every period's gap is a one-time charge or credit.
- **Effective date**: the first day of the period after the run's last one (``Settings.fix_effective =
  "next_period"``, the default). With ``"finding_period"``, a line whose PSA prorates (``prorate`` true or
  absent, PRODUCT.md 4a) changes from the first day of the finding's own period instead; the PSA then bills
  that period's difference itself, so no separate one-time fix is proposed for it.
- **Money**: ``amount`` is the one-time money a fix brings (positive: recovered from the client; negative:
  credited back), ``monthly_change`` how much the line bills per month more (or less) from the effective
  date. Both are Int64 units.

``verify`` is the other end of the loop: given the fixes applied earlier and a later run, it says for each
whether the PSA line now says what was approved and whether the finding is gone (``VERIFY_COLUMNS``).

``agreement_adjustments`` closes it for ConnectWise, which invoices a one-time charge or credit as an
agreement adjustment inside the agreement invoice's total (no line carries its reference): the applied
charges and credits go into the next run as data (``recon.reconcile(..., adjustments=...)``), an agreement
total that carries them is no mismatch for them (``recon.keys.billed_adjustments``), and ``verify``
confirms them by that total (docs/semantics.md, "Agreement adjustments inside a total").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from recon.money import display_money, money_times_quantity
from recon.settings import Settings

CHANGE_QUANTITY, ADD_LINE, CANCEL_LINE = "change_quantity", "add_line", "cancel_line"
CHARGE, CREDIT = "charge", "credit"
FIX_KINDS = (CHANGE_QUANTITY, ADD_LINE, CANCEL_LINE, CHARGE, CREDIT)
LINE_KINDS = frozenset({CHANGE_QUANTITY, ADD_LINE, CANCEL_LINE})
ONE_TIME_KINDS = frozenset({CHARGE, CREDIT})
KIND_NAMES = {CHANGE_QUANTITY: "quantity change", ADD_LINE: "new line", CANCEL_LINE: "cancellation",
              CHARGE: "one-time charge", CREDIT: "one-time credit"}
# The same in one word, for a narrow column beside the money (the one-time or monthly column says which)
KIND_WORDS = {CHANGE_QUANTITY: "quantity", ADD_LINE: "new line", CANCEL_LINE: "cancel", CHARGE: "charge",
              CREDIT: "credit"}
EFFECTIVE_CHOICES = ("next_period", "finding_period")

QUANTITY_TYPES = frozenset({"quantity_under_billed", "quantity_over_billed", "unbilled_usage"})
CANCEL_TYPES = frozenset({"billed_without_usage"})
AGREEMENT_TOTAL = "agreement_total_mismatch"
AGREEMENT_SKU_PREFIX = "AGREEMENT-"  # an agreement total's key (recon.keys.agreement_sku): AGREEMENT-<id>
ONE_TIME_TYPES = frozenset({*QUANTITY_TYPES, *CANCEL_TYPES, "missed_recurring_charge", "billed_outside_contract",
                            "price_below_contract", "price_above_contract", "duplicate_charge", AGREEMENT_TOTAL})
# The findings that judge whether a line now bills what it should (verification).
PRESENCE_TYPES = frozenset({*QUANTITY_TYPES, *CANCEL_TYPES, "missed_recurring_charge", "billed_outside_contract"})

FIX_COLUMNS = ("fix_key", "fingerprint", "period", "client", "sku", "finding_type", "variance", "kind",
               "agreement_id", "line_id", "line_sku", "origin", "before_qty", "after_qty", "unit_price", "amount",
               "monthly_change", "effective_date", "prorate", "description", "reason")
FIX_DTYPES = {"fix_key": "string", "fingerprint": "string", "period": "string", "client": "string",
              "sku": "string", "finding_type": "string", "variance": "Int64", "kind": "string",
              "agreement_id": "string", "line_id": "string", "line_sku": "string", "origin": "string",
              "before_qty": "float64", "after_qty": "float64", "unit_price": "Int64", "amount": "Int64",
              "monthly_change": "Int64",
              "effective_date": "datetime64[ns]", "prorate": "boolean", "description": "string",
              "reason": "string"}
REFERENCE_PREFIX = "recon fix"


def reference(fix_key: str) -> str:
    """The text a fix leaves in the PSA (a charge's description, a new line's description), by which it is
    found again: applying twice finds it instead of writing it twice, and a later invoice line carrying it
    proves the charge was billed."""
    return f"[{REFERENCE_PREFIX} {fix_key}]"


def fix_keys(fingerprints: pd.Series, kinds: pd.Series) -> pd.Series:
    """Stable id of a fix: its finding's fingerprint and its kind hashed (the same finding reconciled again
    proposes the same fix, so approvals and applications carry over, as resolutions do)."""
    text = fingerprints.astype(str) + "|" + kinds.astype(str)
    return pd.Series([hashlib.sha256(value.encode()).hexdigest()[:16] for value in text.tolist()],
                     index=fingerprints.index, dtype="string")


def effective_start(periods: Sequence[str]) -> pd.Timestamp:
    """The first day of the period after the last of ``periods`` (``YYYY-MM``)."""
    return (pd.Period(max(periods), "M") + 1).start_time


def empty_fixes() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in FIX_DTYPES.items()})


# ------------------------------------------------------------------------------------------- proposing

def propose(found: pd.DataFrame, contracts: pd.DataFrame, periods: Sequence[str],
            settings: Settings | None = None, keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """The fixes that clear ``found`` (a run's discrepancies with their fingerprints), read against the run's
    resolved ``contracts`` over ``periods``: ``FIX_COLUMNS``, money in Int64 units, one row per PSA change,
    in finding order (see the module docstring for the rules). Findings of other types propose nothing.
    ``keys`` (the run's keys, optional) tell which lines of an agreement billed as one total disagree with
    what is expected of them."""
    settings = settings or Settings()
    fixable = found[found["type"].isin(ONE_TIME_TYPES).to_numpy(bool)].drop_duplicates("fingerprint")
    fixable = fixable.reset_index(drop=True)
    if not len(fixable) or not len(periods):
        return empty_fixes()
    lines = _billable_lines(contracts)
    located = _on_named_agreements(_with_lines(fixable, lines), lines)
    next_start = effective_start(periods)
    last = located[located["period"].eq(max(periods)).to_numpy(bool)]
    inside = _agreement_lines(last, keys, lines, settings)
    line = _line_fixes(pd.concat([last, inside], ignore_index=True) if len(inside) else last, settings, next_start)
    prorated = set(line.loc[line["effective_date"].lt(next_start).to_numpy(bool), "fingerprint"])
    charges = _one_time_fixes(located[~located["fingerprint"].isin(prorated).to_numpy(bool)], next_start,
                              settings.currency)
    out = pd.concat([frame for frame in (line, charges) if len(frame)] or [empty_fixes()], ignore_index=True)
    order = {fingerprint: position for position, fingerprint in enumerate(fixable["fingerprint"])}
    out = out.assign(position=out["fingerprint"].map(order), kind_order=out["kind"].map(FIX_KINDS.index))
    out = out.sort_values(["position", "kind_order"], kind="stable").drop(columns=["position", "kind_order"])
    # a line inside an agreement total is keyed by its finding and its own sku (one finding, several lines)
    own = out["fingerprint"].astype("string") + ("|" + out["sku"].astype("string")).where(
        out["finding_type"].eq(AGREEMENT_TOTAL) & out["kind"].isin(list(LINE_KINDS)), "")
    out = out.assign(fix_key=fix_keys(own, out["kind"]))
    return out.reindex(columns=list(FIX_COLUMNS)).astype(FIX_DTYPES).reset_index(drop=True)


def _billable_lines(contracts: pd.DataFrame) -> pd.DataFrame:
    """The contract lines that bill: client, sku, quantity, price, dates, agreement, line id, the line's product
    as the PSA export named it (``sku_raw``, before the SKU mapping; NA where the rows do not say), origin,
    prorate."""
    billable = contracts["billable"].fillna(True).astype(bool) if "billable" in contracts else True
    lines = contracts[np.asarray(billable, dtype=bool) if not isinstance(billable, bool) else slice(None)]
    column = lambda name: lines[name] if name in lines else pd.Series(pd.NA, index=lines.index)  # noqa: E731
    return pd.DataFrame({
        "client": lines["client"].astype("string"), "sku": lines["sku"].astype("string"),
        "line_qty": lines["quantity"].astype("float64"), "line_price": lines["unit_price"].astype("Int64"),
        "start_date": pd.to_datetime(lines["start_date"]), "end_date": pd.to_datetime(column("end_date")),
        "agreement_id": column("agreement_id").astype("string"), "line_id": column("service_id").astype("string"),
        "line_sku": column("sku_raw").astype("string").str.strip(),
        "origin": column("source_file").astype("string"),
        "prorate": column("prorate").astype("boolean").fillna(True),
    }).reset_index(drop=True)


def _with_lines(found: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """``found`` with the latest line of its key active in its period (``line_*``, NA where none) and the
    client's latest active line's agreement and origin (for a new line or a charge without a line)."""
    bounds = found[["period"]].drop_duplicates().astype({"period": "string"})
    bounds = bounds.assign(month_start=pd.to_datetime(bounds["period"] + "-01"))
    bounds = bounds.assign(month_end=bounds["month_start"] + pd.offsets.MonthEnd(0))
    keys = found[["fingerprint", "period", "client", "sku"]].astype("string").merge(bounds, on="period")
    active = keys.merge(lines, on="client", suffixes=("", "_line"))
    active = active[(active["start_date"] <= active["month_end"])
                    & (active["end_date"].isna() | (active["end_date"] >= active["month_start"]))]
    active = active.sort_values(["start_date", "line_qty"], kind="stable", na_position="first")
    same = active[active["sku"].eq(active["sku_line"]).to_numpy(bool)].drop_duplicates("fingerprint", keep="last")
    client = active.drop_duplicates("fingerprint", keep="last")[["fingerprint", "agreement_id", "origin"]]
    line_columns = ["line_qty", "line_price", "agreement_id", "line_id", "line_sku", "origin", "prorate"]
    out = found.astype({"fingerprint": "string"}).merge(
        same[["fingerprint", *line_columns]], on="fingerprint", how="left")
    out = out.merge(client.rename(columns={"agreement_id": "client_agreement", "origin": "client_origin"}),
                    on="fingerprint", how="left")
    out["has_line"] = out["line_qty"].notna() | out["line_price"].notna()
    out["agreement_id"] = out["agreement_id"].fillna(out["client_agreement"])
    out["origin"] = out["origin"].fillna(out["client_origin"])
    return out


def _on_named_agreements(found: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """An agreement total's finding (sku ``AGREEMENT-<id>``) goes on the agreement the total names, with the
    origin of that agreement's lines (the client's latest line may belong to another agreement)."""
    totals = found["type"].eq(AGREEMENT_TOTAL).to_numpy(bool) & found["sku"].astype("string").str.startswith(
        AGREEMENT_SKU_PREFIX).fillna(False).to_numpy(bool)
    if not totals.any():
        return found
    named = found["sku"].astype("string").str.removeprefix(AGREEMENT_SKU_PREFIX)
    origins = lines.dropna(subset=["agreement_id"]).drop_duplicates(["client", "agreement_id"], keep="last")
    origin = found[["client"]].astype("string").assign(agreement_id=named).merge(
        origins[["client", "agreement_id", "origin"]], on=["client", "agreement_id"], how="left")["origin"]
    out = found.copy()
    out["agreement_id"] = named.where(totals, out["agreement_id"])
    out["origin"] = origin.set_axis(out.index).where(totals, out["origin"]).fillna(out["origin"])
    return out


def _agreement_lines(found: pd.DataFrame, keys: pd.DataFrame | None, lines: pd.DataFrame,
                     settings: Settings) -> pd.DataFrame:
    """For each agreement total's finding in ``found``, its agreement's lines (keys billed inside the total)
    whose contract quantity disagrees with the expected one, as rows of that finding with the line's sku
    and quantities located on their lines: the quantity changes that stop the total falling short (or
    running over) again next month."""
    totals = found[found["type"].eq(AGREEMENT_TOTAL).to_numpy(bool)]
    if keys is None or not len(totals) or "in_agreement_total" not in keys:
        return found.iloc[0:0]
    inside = keys[keys["in_agreement_total"].fillna(False).astype(bool).to_numpy(bool)]
    inside = inside[["period", "client", "sku", "expected_qty", "contract_qty", "expected_unit_price"]].astype(
        {"period": "string", "client": "string", "sku": "string"})
    gap = (inside["expected_qty"].astype("float64") - inside["contract_qty"].astype("float64").fillna(0)).abs()
    inside = inside[(gap > float(settings.quantity_tolerance)).to_numpy(bool)
                    & inside["expected_qty"].gt(0).fillna(False).to_numpy(bool)]
    finding = totals.drop(columns=["sku", "expected_qty", "contract_qty", "expected_unit_price", "line_qty",
                                   "line_price", "line_id", "line_sku", "origin", "prorate", "has_line",
                                   "client_agreement", "client_origin"],
                          errors="ignore").rename(columns={"agreement_id": "named"})
    rows = finding.astype({"period": "string", "client": "string"}).merge(inside, on=["period", "client"])
    if not len(rows):
        return found.iloc[0:0]
    rows = rows.assign(total_fingerprint=rows["fingerprint"], fingerprint=rows["fingerprint"] + "|" + rows["sku"])
    located = _with_lines(rows.drop(columns=["named"]), lines).assign(named=rows["named"].to_numpy())
    located = located[located["agreement_id"].eq(located["named"]).fillna(False).to_numpy(bool)]
    return located.assign(fingerprint=located["total_fingerprint"]).drop(columns=["named", "total_fingerprint"])


def _line_fixes(found: pd.DataFrame, settings: Settings, next_start: pd.Timestamp) -> pd.DataFrame:
    """Quantity changes, new lines and cancellations for the findings of the run's last period."""
    expected = found["expected_qty"].astype("float64")
    contracted = found["contract_qty"].astype("float64").fillna(0.0)
    disagrees = (expected - contracted).abs() > float(settings.quantity_tolerance)
    quantity = found["type"].isin([*QUANTITY_TYPES, AGREEMENT_TOTAL]).to_numpy(bool) & disagrees.to_numpy(bool) \
        & (expected > 0).to_numpy(bool)
    cancel = found["type"].isin(CANCEL_TYPES).to_numpy(bool) & found["has_line"].to_numpy(bool) \
        & found["line_qty"].fillna(0).gt(0).to_numpy(bool)
    change = found[quantity & found["has_line"].to_numpy(bool)]
    new = found[quantity & ~found["has_line"].to_numpy(bool)]
    before = change["line_qty"].fillna(0.0)
    rows = [
        change.assign(kind=CHANGE_QUANTITY, before_qty=before,
                      after_qty=_whole_like(before + (change["expected_qty"] - change["contract_qty"].fillna(0)),
                                            before),
                      unit_price=change["line_price"]),
        new.assign(kind=ADD_LINE, before_qty=np.nan, after_qty=_whole_like(new["expected_qty"], new["expected_qty"]),
                   unit_price=new["expected_unit_price"], prorate=True),
        found[cancel].assign(kind=CANCEL_LINE, before_qty=found.loc[cancel, "line_qty"], after_qty=0.0,
                             unit_price=found.loc[cancel, "line_price"]),
    ]
    out = pd.concat([row for row in rows if len(row)] or [found.iloc[0:0].assign(kind="")], ignore_index=True)
    if not len(out):
        return empty_fixes()
    # (a line inside an agreement total changes from the next period: the total's gap is charged apart)
    earlier = out["prorate"].fillna(True).astype(bool) & (settings.fix_effective == "finding_period") \
        & out["type"].ne(AGREEMENT_TOTAL)
    own_start = pd.to_datetime(out["period"].astype("string") + "-01")
    out["effective_date"] = own_start.where(earlier, next_start)
    out["monthly_change"] = money_times_quantity((out["after_qty"] - out["before_qty"].fillna(0.0)), out["unit_price"])
    out["amount"] = (-out["variance"].astype("Int64")).where(earlier, pd.NA).astype("Int64")
    return _worded(out, settings.currency)


def _whole_like(quantity: pd.Series, line: pd.Series) -> pd.Series:
    """``quantity`` rounded half up to whole units where the line counts whole units (seats), else to 4
    places: a day-weighted 26.5 seats becomes 27 on a line of whole seats."""
    whole = (line.fillna(0) % 1).eq(0)
    return np.floor(quantity + 0.5).where(whole, quantity.round(4)).astype("float64")


def _one_time_fixes(found: pd.DataFrame, next_start: pd.Timestamp, currency: str) -> pd.DataFrame:
    """A charge (under-billed) or credit (over-billed) of each finding's gap, on the next invoice."""
    amount = (-found["variance"].astype("Int64"))
    picked = found[amount.ne(0).fillna(False).to_numpy(bool)]
    if not len(picked):
        return empty_fixes()
    amount = -picked["variance"].astype("Int64")
    out = picked.assign(kind=np.where(amount > 0, CHARGE, CREDIT), amount=amount, before_qty=np.nan,
                        after_qty=np.nan, unit_price=pd.NA, monthly_change=pd.NA, effective_date=next_start,
                        line_id=picked["line_id"].where(picked["has_line"], pd.NA),
                        line_sku=picked["line_sku"].where(picked["has_line"], pd.NA))
    return _worded(out.reset_index(drop=True), currency)


def _worded(fixes: pd.DataFrame, currency: str) -> pd.DataFrame:
    """``description`` (what the PSA is to say) and ``reason`` (why), in words."""
    out = fixes.reset_index(drop=True).rename(columns={"type": "finding_type"})
    out["description"] = describe(out)
    out["reason"] = pd.Series([_reason(row, currency) for row in _rows(out, REASON_FIELDS)], dtype="string")
    return out


# The columns the words are made of (rows of only these: a run's 17,000 fixes as dicts of every column of
# their findings took seconds of a 1M run's save, issue 25)
DESCRIPTION_FIELDS = ("effective_date", "kind", "sku", "before_qty", "after_qty", "period", "finding_type")
REASON_FIELDS = ("finding_type", "variance", "period", "billed_qty", "expected_qty", "contract_qty",
                 "billed_unit_price", "expected_unit_price", "billed_amount", "expected_amount", "detail")


def _rows(frame: pd.DataFrame, fields: Sequence[str]) -> list[dict[str, Any]]:
    """``frame``'s rows as dicts of those of ``fields`` it has (a field it lacks reads as missing)."""
    return frame[[name for name in fields if name in frame.columns]].to_dict("records")


def describe(fixes: pd.DataFrame) -> pd.Series:
    """What each fix changes, in words (``FIX_COLUMNS``): ``M365-BP: quantity 25 -> 27 from 2026-03-01``."""
    return pd.Series([_description(row) for row in _rows(fixes, DESCRIPTION_FIELDS)], index=fixes.index,
                     dtype="string")


def _quantity(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.4f}".rstrip("0").rstrip(".")


def _description(row: Mapping[str, Any]) -> str:
    when = pd.Timestamp(row["effective_date"]).date().isoformat()
    kind, sku = row["kind"], row["sku"]
    if kind == CHANGE_QUANTITY:
        return f"{sku}: quantity {_quantity(row['before_qty'])} -> {_quantity(row['after_qty'])} from {when}"
    if kind == ADD_LINE:
        return f"{sku}: new line, quantity {_quantity(row['after_qty'])} from {when}"
    if kind == CANCEL_LINE:
        return f"{sku}: cancel (quantity {_quantity(row['before_qty'])} -> 0) from {when}"
    what = "charge" if kind == CHARGE else "credit"
    return f"{sku}: one-time {what} for {row['period']} ({_finding_words(row['finding_type'])})"


def _finding_words(finding_type: str) -> str:
    return str(finding_type).replace("_", " ")


def _reason(row: Mapping[str, Any], currency: str) -> str:
    """Why, in the finding's own terms: quantities for a quantity finding, prices for a price finding."""
    def money(name: str, places: int = 2) -> str:
        value = row.get(name)
        return display_money(int(value), currency, places) if value is not None and pd.notna(value) else "—"

    kind = str(row["finding_type"])
    gap = display_money(int(row["variance"]), currency, signed=True)
    if kind.startswith("price_"):
        said = (f"billed {_quantity(row['billed_qty'])} at {money('billed_unit_price', 4)}, contract price "
                f"{money('expected_unit_price', 4)}")
    elif kind == AGREEMENT_TOTAL:
        said = f"the agreement invoice's total {money('billed_amount')}, its lines expect {money('expected_amount')}"
    elif kind == "duplicate_charge":
        said = f"{row.get('detail') or 'a repeated line'} billed {money('billed_amount')}"
    else:
        said = (f"expected {_quantity(row['expected_qty'])}, contract {_quantity(row['contract_qty'])}, "
                f"billed {_quantity(row['billed_qty'])}")
    return f"{_finding_words(kind)} in {row['period']}: {said} ({gap})"


# ------------------------------------------------------------------------------------------- one fix

@dataclass(frozen=True)
class Fix:
    """One fix as it is to be written to the PSA: what was proposed, with the quantity, date and amount
    a person approved. Money in Int64 units; ``line_id`` is the PSA line (addition or contract service id)
    where the contract rows named it; ``line_sku`` that line's product as the PSA export named it (the
    addition's product identifier, the contract service's service id) before the SKU mapping made it ``sku``:
    what the line is of in the PSA (None for a fix stored before it was kept, or of no line)."""

    fix_key: str
    fingerprint: str
    kind: str
    client: str
    sku: str
    period: str
    agreement_id: str | None
    line_id: str | None
    origin: str | None
    before_qty: float | None
    after_qty: float | None
    unit_price: int | None
    amount: int | None
    effective_date: date
    description: str
    line_sku: str | None = None

    @property
    def reference(self) -> str:
        return reference(self.fix_key)

    @property
    def delta(self) -> float:
        """After minus before (the change of quantity a line fix makes)."""
        return float(self.after_qty or 0.0) - float(self.before_qty or 0.0)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Fix:
        """From a fixes frame row (``FIX_COLUMNS``, approved values already in place)."""
        def text(name: str) -> str | None:
            value = row.get(name)
            return None if value is None or pd.isna(value) or str(value) == "" else str(value)

        def number(name: str) -> float | None:
            value = row.get(name)
            return None if value is None or pd.isna(value) else float(value)

        def units(name: str) -> int | None:
            value = row.get(name)
            return None if value is None or pd.isna(value) else int(value)

        when = row["effective_date"]
        return cls(fix_key=str(row["fix_key"]), fingerprint=str(row["fingerprint"]), kind=str(row["kind"]),
                   client=str(row["client"]), sku=str(row["sku"]), period=str(row["period"]),
                   agreement_id=text("agreement_id"), line_id=text("line_id"), origin=text("origin"),
                   before_qty=number("before_qty"), after_qty=number("after_qty"), unit_price=units("unit_price"),
                   amount=units("amount"), effective_date=pd.Timestamp(when).date(),
                   description=str(row.get("description") or ""), line_sku=text("line_sku"))


# ------------------------------------------------------------------------------------------- outcomes

# What can happen to a fix (``fix_event.event``) and the status each leaves it in; a dry run leaves the
# status as it was (it only stores the exact request).
EVENT_STATUS = {"proposed": "proposed", "approved": "approved", "rejected": "rejected", "accepted": "applied",
                "skipped": "applied", "applied_by_hand": "applied", "refused": "refused", "failed": "failed",
                "exported": "exported", "confirmed": "confirmed", "not_taken": "not_taken"}
FIX_EVENTS = (*EVENT_STATUS, "dry_run")
FIX_STATUSES = ("proposed", "approved", "rejected", "exported", "applied", "refused", "failed", "confirmed",
                "not_taken")
APPLIED_STATUSES = frozenset({"applied", "confirmed", "not_taken"})
# Which statuses each step may start from.
MAY_PROPOSE = frozenset({"proposed", "approved", "rejected", "refused", "failed", "not_taken"})
MAY_APPROVE = frozenset({"proposed", "rejected", "refused", "failed", "not_taken"})
MAY_REJECT = frozenset({"proposed", "approved", "refused", "failed", "exported"})
MAY_APPLY = frozenset({"approved", "failed"})


@dataclass(frozen=True)
class FixOutcome:
    """What writing one fix to a PSA did: ``event`` is ``dry_run`` (nothing sent; ``requests`` are the exact
    requests it would send), ``accepted`` (``psa_id`` names what the PSA created or changed), ``skipped``
    (the PSA already says it: nothing sent), ``refused`` (the PSA, or a check before sending, said no:
    ``message``) or ``failed`` (no usable answer after the retries)."""

    fix_key: str
    event: str
    connection: str = ""
    requests: tuple[dict[str, Any], ...] = ()
    response: Any = None
    psa_id: str = ""
    message: str = ""


# ------------------------------------------------------------------------------------------- verifying

CONFIRMED, NOT_TAKEN, PENDING = "confirmed", "not_taken", "pending"
VERIFY_COLUMNS = ("fix_key", "outcome", "note")


def agreement_adjustments(state: pd.DataFrame) -> pd.DataFrame:
    """The one-time charges and credits among fixes ``state`` (``FIX_COLUMNS`` with ``status``) that were
    written to the PSA (status applied, confirmed or not taken) on an agreement, as the agreement
    adjustments a run expects an agreement invoice's total to carry (``recon.keys.ADJUSTMENT_COLUMNS``:
    the period of the effective date, client, agreement id, amount in Int64 units; plus ``fix_key``)."""
    columns = ["fix_key", "period", "client", "agreement_id", "amount"]
    if not len(state):
        return pd.DataFrame({name: pd.Series(dtype="Int64" if name == "amount" else "string") for name in columns})
    chosen = state[state["kind"].isin(list(ONE_TIME_KINDS)).to_numpy(bool)
                   & state["status"].isin(list(APPLIED_STATUSES)).to_numpy(bool)
                   & state["agreement_id"].notna().to_numpy(bool) & state["amount"].notna().to_numpy(bool)]
    return pd.DataFrame({
        "fix_key": chosen["fix_key"].astype("string"),
        "period": pd.to_datetime(chosen["effective_date"]).dt.strftime("%Y-%m").astype("string"),
        "client": chosen["client"].astype("string"), "agreement_id": chosen["agreement_id"].astype("string"),
        "amount": chosen["amount"].astype("Int64")}).reset_index(drop=True)


def verify(applied: pd.DataFrame, contracts: pd.DataFrame, invoices: pd.DataFrame, found: pd.DataFrame,
           periods: Sequence[str], file_times: Mapping[str, datetime], quantity_tolerance: float = 0.01,
           keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Whether each fix ``applied`` earlier took, judged by a later run (its resolved ``contracts`` and
    ``invoices``, its findings ``found`` over ``periods``). ``applied``: ``fix_key, kind, client, sku,
    after_qty, amount, effective_date, applied_at``. ``file_times``: when each source file's content was
    first seen (a contract row is evidence only when read after the fix was applied: an export from before
    says nothing about it).

    - line fixes: the line must say the approved quantity on the effective date (0 or no line for a
      cancellation), where the run's fresh contract rows reach that date; and no presence or quantity
      finding of the key may remain in an invoiced period from the effective date on (for a line inside an
      agreement total, ``finding_type`` agreement_total_mismatch, nor a mismatch of that agreement's total);
    - charges and credits: confirmed when an invoice line from the effective date on carries the fix's
      reference, or, on an agreement billed as one total (ConnectWise), when the run's ``keys`` show that
      agreement's total of the effective period carrying the applied adjustments
      (``billed_adjustments``, ``recon.keys.billed_adjustments``); their absence proves nothing.

    ``VERIFY_COLUMNS``: ``confirmed`` (a check passed, none failed), ``not_taken`` (a check failed:
    the note says which), ``pending`` (nothing yet to judge by)."""
    carried = _carried_totals(keys, invoices)
    rows = [_verdict(fix, contracts, invoices, found, periods, file_times, quantity_tolerance, carried)
            for fix in applied.to_dict("records")]
    return pd.DataFrame(rows, columns=list(VERIFY_COLUMNS)).astype("string")


def _verdict(fix: Mapping[str, Any], contracts: pd.DataFrame, invoices: pd.DataFrame, found: pd.DataFrame,
             periods: Sequence[str], file_times: Mapping[str, datetime], tolerance: float,
             carried: Mapping[tuple[str, str, str], str] | None = None) -> dict[str, str]:
    effective = pd.Timestamp(fix["effective_date"])
    later = [period for period in periods if pd.Period(period, "M") >= pd.Period(effective, "M")]
    if fix["kind"] in LINE_KINDS:
        checks = [_line_check(fix, contracts, file_times, tolerance), _finding_check(fix, invoices, found, later)]
    else:
        checks = [_charge_check(fix, invoices, later, carried or {})]
    failed = [note for verdict, note in checks if verdict is False]
    passed = [note for verdict, note in checks if verdict is True]
    if failed:
        return {"fix_key": fix["fix_key"], "outcome": NOT_TAKEN, "note": "; ".join(failed)}
    if passed:
        return {"fix_key": fix["fix_key"], "outcome": CONFIRMED, "note": "; ".join(passed)}
    return {"fix_key": fix["fix_key"], "outcome": PENDING, "note": "nothing in this run shows it yet"}


def _aware(moment: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _line_check(fix: Mapping[str, Any], contracts: pd.DataFrame, file_times: Mapping[str, datetime],
                tolerance: float) -> tuple[bool | None, str]:
    """(passed, note) from the contract rows read after the fix was applied; None: no such rows reach its date."""
    applied_at = _aware(fix["applied_at"])
    read = contracts["source_file"].astype("string").map(lambda name: file_times.get(str(name)))
    fresh = contracts[read.map(lambda moment: moment is not None and _aware(moment) > applied_at).astype(bool)]
    effective = pd.Timestamp(fix["effective_date"])
    reaches = fresh["end_date"].isna() | (fresh["end_date"] >= effective)
    if not reaches.any():
        return None, ""
    active = fresh[fresh["client"].eq(fix["client"]) & fresh["sku"].eq(fix["sku"]) & (fresh["start_date"] <= effective)
                   & reaches & fresh.get("billable", pd.Series(True, index=fresh.index)).fillna(True).astype(bool)]
    says = float(active["quantity"].fillna(0).sum())
    wanted = 0.0 if fix["kind"] == CANCEL_LINE else float(fix["after_qty"])
    when = effective.date().isoformat()
    if abs(says - wanted) <= tolerance:
        return True, f"the PSA line says {_quantity(says)} on {when}"
    return False, f"the PSA line says {_quantity(says)} on {when}, the fix approved {_quantity(wanted)}"


def _finding_check(fix: Mapping[str, Any], invoices: pd.DataFrame, found: pd.DataFrame,
                   later: list[str]) -> tuple[bool | None, str]:
    """(passed, note) from the invoiced periods from the effective date on; None: none invoiced yet."""
    billed = set(_invoice_periods(invoices[invoices["client"].eq(fix["client"])]))
    judged = [period for period in later if period in billed]
    if not judged:
        return None, ""
    mine = found["sku"].eq(fix["sku"]) & found["type"].isin(PRESENCE_TYPES)
    if fix.get("finding_type") == AGREEMENT_TOTAL and fix.get("agreement_id"):  # a line inside a total: the
        total = f"{AGREEMENT_SKU_PREFIX}{fix['agreement_id']}"                  # total judges it
        mine = mine | (found["sku"].eq(total) & found["type"].eq(AGREEMENT_TOTAL))
    remaining = found[found["client"].eq(fix["client"]) & mine & found["period"].isin(judged)]
    if len(remaining):
        first = remaining.iloc[0]
        return False, f"still {_finding_words(first['type'])} in {first['period']}"
    return True, f"no finding in {', '.join(judged)}"


def _carried_totals(keys: pd.DataFrame | None, invoices: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """(period, client, agreement id or "" for a total naming none) -> the agreement invoice number(s) of
    each agreement total of the run that carries the applied adjustments (``billed_adjustments``)."""
    if keys is None or "billed_adjustments" not in keys or not len(keys):
        return {}
    totals = keys[keys["billed_adjustments"].fillna(0).ne(0).to_numpy(bool)]
    if not len(totals):
        return {}
    named = totals["sku"].astype("string").str.removeprefix(AGREEMENT_SKU_PREFIX.rstrip("-")).str.removeprefix("-")
    lines = invoices[invoices["line_type"].astype("string").eq("agreement_total").fillna(False).to_numpy(bool)] \
        if "line_type" in invoices else invoices.iloc[0:0]
    lines = lines.assign(period=_invoice_periods(lines), agreement=lines["agreement_id"].astype("string").fillna(""))
    out = {}
    for period, client, agreement in zip(totals["period"].astype(str), totals["client"].astype(str),
                                         named.astype(str), strict=True):
        mine = lines[lines["period"].eq(period).to_numpy(bool) & lines["client"].eq(client).to_numpy(bool)
                     & lines["agreement"].eq(agreement).to_numpy(bool)]
        numbers = list(dict.fromkeys(mine["invoice_number"].dropna().astype(str)))
        out[(period, client, agreement)] = ", ".join(numbers)
    return out


def _charge_check(fix: Mapping[str, Any], invoices: pd.DataFrame, later: list[str],
                  totals: Mapping[tuple[str, str, str], str]) -> tuple[bool | None, str]:
    period = pd.Timestamp(fix["effective_date"]).strftime("%Y-%m")
    agreement = fix.get("agreement_id")
    for named in ([str(agreement)] if agreement is not None and not pd.isna(agreement) else []) + [""]:
        number = totals.get((period, str(fix["client"]), named))
        if number is not None:
            return True, f"billed in agreement invoice {number}'s total" if number else \
                "billed in the agreement invoice's total"
    lines = invoices[invoices["client"].eq(fix["client"])]
    lines = lines[_invoice_periods(lines).isin(later).to_numpy(bool)]
    carried = lines["description"].astype("string").str.contains(reference(str(fix["fix_key"])), regex=False)
    if carried.fillna(False).any():
        number = lines.loc[carried.fillna(False).to_numpy(bool), "invoice_number"].iloc[0]
        return True, f"billed on invoice {number}"
    return None, ""


def _invoice_periods(invoices: pd.DataFrame) -> pd.Series:
    start = invoices["period_start"] if "period_start" in invoices else invoices["invoice_date"]
    return pd.to_datetime(start).dt.strftime("%Y-%m").astype("string")


__all__ = [
    "ADD_LINE",
    "APPLIED_STATUSES",
    "CANCEL_LINE",
    "CHANGE_QUANTITY",
    "CHARGE",
    "CONFIRMED",
    "CREDIT",
    "EVENT_STATUS",
    "FIX_COLUMNS",
    "FIX_DTYPES",
    "FIX_EVENTS",
    "FIX_KINDS",
    "FIX_STATUSES",
    "KIND_NAMES",
    "KIND_WORDS",
    "MAY_APPLY",
    "MAY_APPROVE",
    "MAY_PROPOSE",
    "MAY_REJECT",
    "NOT_TAKEN",
    "PENDING",
    "VERIFY_COLUMNS",
    "Fix",
    "FixOutcome",
    "agreement_adjustments",
    "describe",
    "effective_start",
    "empty_fixes",
    "fix_keys",
    "propose",
    "reference",
    "verify",
]
