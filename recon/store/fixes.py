"""The fixes of stored runs: proposals written with their run, and what happened to each (issue 21).

A run's proposed PSA fixes (``recon.fixes.propose``) are written in the run's own transaction
(``after_run``), and in the same transaction the fixes applied earlier are checked against the new run
(``recon.fixes.verify``): a fix that did not take gets a ``not_taken`` event and its finding is reopened
with a note. Everything people and PSAs do to a fix is an append-only ``fix_event`` row, keyed by the
fix's stable ``fix_key`` (its finding's fingerprint and kind), so approvals and applications carry over
when the same period is reconciled again, exactly as resolutions do; the latest state event is a fix's
status (``recon.fixes.EVENT_STATUS``).

When every fix of a finding that was not rejected has been applied, the finding is resolved (``billed``
when money was charged, ``credited`` when credited, ``accepted`` when only a line changed from a later
date) with a note naming the fixes and the PSA's ids: the next run shows it resolved by the fix.

``FixLedger(store)`` is the API the CLI and the dashboard use; who may do what is checked by them
(``recon.access``), not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from recon import fixes
from recon.engine import Reconciliation
from recon.errors import StoreError
from recon.fixes import Fix, FixOutcome
from recon.money import money_times_quantity
from recon.sources import empty_source
from recon.store import bulk, tables
from recon.store.rows import frame_of, timestamps

if TYPE_CHECKING:
    from recon.store.database import Store

_FIX, _EVENT = tables.table(tables.FixProposal), tables.table(tables.FixEvent)
_RUN, _RESOLUTION = tables.table(tables.Run), tables.table(tables.Resolution)
_RUN_IMPORT, _IMPORT = tables.table(tables.RunImport), tables.table(tables.ImportFile)

STORED_FIX_COLUMNS = tuple(name for name in fixes.FIX_COLUMNS)
EVENT_COLUMNS = ("id", "fix_key", "fingerprint", "run_id", "event", "by", "at", "quantity", "effective_date",
                 "amount", "connection", "request", "response", "psa_id", "note")
STATE_COLUMNS = (*fixes.FIX_COLUMNS, "status", "proposed_by", "proposed_at", "approved_by", "approved_at",
                 "applied_by", "applied_at", "connection", "psa_id", "message", "last_request")
APPLIED_EVENTS = ("accepted", "skipped", "applied_by_hand")
VERIFIER = "recon (verification)"
PROPOSER = "recon"


def proposer(run_id: int, by: str = "") -> str:
    """Who proposed the fixes of run ``run_id`` (the engine, in the run ``by`` started)."""
    return f"{PROPOSER} (run {run_id}{', ' + by if by else ''})"

# A pulled source's rows are named "<connection>@<YYYY-MM>:<what>" (recon.connectors.frames.as_file): read
# fresh from the PSA at the run's own time.
_PULLED = re.compile(r"^[^@:/\\]+@\d{4}-\d{2}:")


# ------------------------------------------------------------------------------------ with each run

def after_run(connection: Connection, run_id: int, result: Reconciliation) -> None:
    """Within the run's transaction: store the fixes proposed for its findings, then verify the fixes
    applied before it against it."""
    contracts = result.resolved.get("contracts")
    proposed = fixes.propose(result.discrepancies, contracts if contracts is not None else empty_source("contracts"),
                             list(result.periods), result.settings, keys=result.keys)
    rows = bulk.run_rows(proposed, STORED_FIX_COLUMNS, run_id)
    rows["prorate"] = rows["prorate"].astype(object).map(lambda value: True if value is None or value is pd.NA
                                                         else bool(value)).astype(bool)
    rows["description"], rows["reason"] = rows["description"].fillna(""), rows["reason"].fillna("")
    if len(rows):
        bulk.insert_frame(connection, _FIX, rows)  # (the calendar date of effective_date is stored)
        _proposed_first(connection, run_id)
    if {"contracts", "invoices"} <= set(result.resolved):  # (a Spark run keeps its rows in Spark: not judged)
        verify_run(connection, run_id, result)


def _proposed_first(connection: Connection, run_id: int) -> None:
    """A ``proposed`` event by ``recon`` for each fix of run ``run_id`` proposed for the first time (its key has
    no event yet), so the history starts where the fix did. It carries no values: the proposal row holds them,
    and a later run re-proposing the fix with other figures must not be overridden by it. One ``INSERT ...
    SELECT`` of the run's fix rows, in their order (a 1M run's 17,753 events as row dicts took 0.35 s)."""
    by = proposer(run_id, connection.execute(sa.select(_RUN.c.by).where(_RUN.c.id == int(run_id))).scalar() or "")
    values = {"fix_key": _FIX.c.fix_key, "fingerprint": _FIX.c.fingerprint, "run_id": sa.literal(int(run_id)),
              "event": sa.literal("proposed"), "by": sa.literal(by),
              "at": sa.literal(tables.utc_now(), _EVENT.c.at.type),
              "quantity": sa.null(), "effective_date": sa.null(), "amount": sa.null(), "connection": sa.literal(""),
              # (None as its JSON type binds it: JSON's null, as an event inserted with None holds)
              "request": sa.literal(None, _EVENT.c.request.type), "response": sa.literal(None, _EVENT.c.response.type),
              "psa_id": sa.literal(""), "note": sa.literal(f"proposed by run {run_id}")}
    first_time = ~sa.exists().where(_EVENT.c.fix_key == _FIX.c.fix_key)
    fresh = sa.select(*values.values()).where(_FIX.c.run_id == int(run_id), first_time).order_by(_FIX.c.id)
    connection.execute(sa.insert(_EVENT).from_select(list(values), fresh))


def verify_run(connection: Connection, run_id: int, result: Reconciliation) -> pd.DataFrame:
    """Check every fix applied before run ``run_id`` against it; record what changed (``confirmed``, or
    ``not_taken`` with the finding reopened). Returns the verdicts (``recon.fixes.VERIFY_COLUMNS``)."""
    applied = _applied_fixes(connection)
    if not len(applied):
        return pd.DataFrame(columns=list(fixes.VERIFY_COLUMNS))
    verdicts = fixes.verify(applied, result.resolved["contracts"], result.resolved["invoices"],
                            result.discrepancies, list(result.periods), _file_times(connection, run_id, result),
                            float(result.settings.quantity_tolerance), keys=result.keys)
    judged = verdicts[verdicts["outcome"].ne(fixes.PENDING)].merge(
        applied[["fix_key", "fingerprint", "status"]], on="fix_key")
    changed = judged[judged["outcome"].ne(judged["status"])]
    now = tables.utc_now()
    for row in changed.itertuples():
        _insert_event(connection, row.fix_key, row.fingerprint, run_id, row.outcome, VERIFIER, now,
                      note=f"run {run_id}: {row.note}")
        if row.outcome == fixes.NOT_TAKEN:
            _insert_resolution(connection, [row.fingerprint], "open", VERIFIER, now,
                               f"reopened: fix {row.fix_key} did not take ({row.note}; run {run_id})")
    return verdicts


def agreement_adjustments(connection: Connection) -> pd.DataFrame:
    """The one-time charges and credits written to a PSA on an agreement (``recon.fixes.agreement_adjustments``):
    what the next run expects an agreement invoice's total to carry."""
    return fixes.agreement_adjustments(_applied_fixes(connection))


def _applied_fixes(connection: Connection) -> pd.DataFrame:
    """Every fix whose status is applied, confirmed or not taken, with its approved values and when it was
    applied (``applied_at``)."""
    events = _events(connection, sa.select(*_EVENT.c).where(_EVENT.c.event.in_(list(fixes.EVENT_STATUS))))
    state = _latest(events, list(fixes.EVENT_STATUS))
    keys = [key for key, event in state["event"].items() if fixes.EVENT_STATUS[event] in fixes.APPLIED_STATUSES]
    if not keys:
        return pd.DataFrame()
    latest_rows = (sa.select(sa.func.max(_FIX.c.id)).where(_FIX.c.fix_key.in_(keys)).group_by(_FIX.c.fix_key))
    proposals = _proposals(connection, sa.select(*_FIX.c).where(_FIX.c.id.in_(latest_rows)))
    every = _events(connection, sa.select(*_EVENT.c).where(_EVENT.c.fix_key.in_(keys)))
    current = fold(proposals, every)
    return current[current["status"].isin(fixes.APPLIED_STATUSES)].reset_index(drop=True)


def _file_times(connection: Connection, run_id: int, result: Reconciliation) -> dict[str, datetime]:
    """When the content of each file the run read was first seen; a pulled source counts as read now."""
    query = (sa.select(_RUN_IMPORT.c.file, _IMPORT.c.imported_at).join(_IMPORT, _IMPORT.c.id == _RUN_IMPORT.c.import_id)
             .where(_RUN_IMPORT.c.run_id == run_id))
    times = {str(file): moment for file, moment in connection.execute(query).all()}
    now = tables.utc_now()
    names = set(result.resolved["contracts"]["source_file"].dropna().astype(str)) | set(times)
    return {name: now if _PULLED.match(name) else times[name] for name in names if _PULLED.match(name) or name in times}


# ------------------------------------------------------------------------------------------- folding

def fold(proposals: pd.DataFrame, events: pd.DataFrame, proposer: str = PROPOSER) -> pd.DataFrame:
    """Proposals (``FIX_COLUMNS``) with their current state from ``events`` (``EVENT_COLUMNS``, oldest
    first): ``STATE_COLUMNS``. The latest state event gives ``status`` (``proposed`` without one); the
    latest proposal or approval by a person gives the quantity, date and amount in force."""
    out = proposals.copy()
    keys = out["fix_key"].astype(object)

    def latest(names: Sequence[str], column: str) -> pd.Series:
        chosen = _latest(events, names)[column]
        return keys.map(dict(zip(chosen.index, chosen, strict=True))).set_axis(out.index)

    state = latest(list(fixes.EVENT_STATUS), "event")
    out["status"] = state.map(fixes.EVENT_STATUS).fillna("proposed").astype("string")
    values = ["proposed", "approved"]
    out["after_qty"] = latest(values, "quantity").astype("float64").fillna(out["after_qty"])
    out["effective_date"] = pd.to_datetime(latest(values, "effective_date")).fillna(out["effective_date"])
    out["amount"] = latest(values, "amount").astype("Int64").fillna(out["amount"])
    line = out["kind"].isin(fixes.LINE_KINDS)
    change = money_times_quantity(out["after_qty"].fillna(0.0) - out["before_qty"].fillna(0.0),
                                  out["unit_price"].astype("Int64"))
    out["monthly_change"] = change.where(line.to_numpy(bool), pd.NA).astype("Int64")
    out["description"] = fixes.describe(out)
    for prefix, names in (("proposed", ["proposed"]), ("approved", ["approved"]), ("applied", list(APPLIED_EVENTS))):
        out[f"{prefix}_by"] = latest(names, "by").astype("string")
        out[f"{prefix}_at"] = timestamps(latest(names, "at"))
    out["proposed_by"] = out["proposed_by"].fillna(proposer)
    out["connection"] = latest(APPLIED_EVENTS, "connection").astype("string")
    out["psa_id"] = latest(APPLIED_EVENTS, "psa_id").astype("string")
    out["message"] = latest(["refused", "failed", "not_taken", "confirmed", "skipped", "exported"], "note").astype(
        "string")
    out["last_request"] = latest(["dry_run", "accepted", "refused", "failed"], "request")
    return out.reindex(columns=list(STATE_COLUMNS)).reset_index(drop=True)


def _latest(events: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The latest of ``events`` per fix key among the event names ``names`` (indexed by fix key)."""
    if not len(events):
        return pd.DataFrame(columns=list(EVENT_COLUMNS)).set_index("fix_key")
    chosen = events[events["event"].isin(names)]
    return chosen.drop_duplicates("fix_key", keep="last").set_index("fix_key")


# ------------------------------------------------------------------------------------------- reading

def _proposals(connection: Connection, query: sa.Select[Any]) -> pd.DataFrame:
    rows = connection.execute(query.order_by(_FIX.c.run_id, _FIX.c.position)).mappings().all()
    frame = pd.DataFrame([{name: row[name] for name in fixes.FIX_COLUMNS} for row in rows],
                         columns=list(fixes.FIX_COLUMNS))
    frame["effective_date"] = pd.to_datetime(frame["effective_date"])
    return frame.astype(fixes.FIX_DTYPES)


def _events(connection: Connection, query: sa.Select[Any]) -> pd.DataFrame:
    rows = connection.execute(query.order_by(_EVENT.c.id)).all()
    frame = frame_of(rows, [column.name for column in _EVENT.columns], {"amount": "Int64"})
    frame = frame.reindex(columns=list(EVENT_COLUMNS))
    frame["at"] = timestamps(frame["at"])
    frame["quantity"] = frame["quantity"].astype("float64")
    return frame


def _insert_event(db: Connection, fix_key: str, fingerprint: str, run_id: int, event: str, by: str,
                  at: datetime, **values: Any) -> None:
    row = {"fix_key": fix_key, "fingerprint": fingerprint, "run_id": int(run_id), "event": event, "by": by.strip(),
           "at": at, "quantity": None, "effective_date": None, "amount": None, "connection": "", "request": None,
           "response": None, "psa_id": "", "note": ""}
    db.execute(sa.insert(_EVENT).values({**row, **values}))


def _insert_resolution(connection: Connection, fingerprints: Iterable[str], status: str, by: str, at: datetime,
                       note: str) -> None:
    rows = [{"fingerprint": fingerprint, "status": status, "note": note, "by": by, "at": at}
            for fingerprint in dict.fromkeys(fingerprints)]
    if rows:
        connection.execute(sa.insert(_RESOLUTION), rows)


def _plain(value: Any) -> Any:
    """A frame cell as a value for an insert (None for NA)."""
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value.item() if hasattr(value, "item") else value


# -------------------------------------------------------------------------------------------- ledger

class FixLedger:
    """The fixes of a store's runs and their history: read, propose (edit), approve, reject, record what
    a PSA did (``recon.fixes.FixOutcome``), export, mark applied by hand. Every write is one transaction of
    appended events; a step a fix's status does not allow is refused with ``StoreError`` naming the fixes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------------------------- reading

    def fixes(self, run_id: int) -> pd.DataFrame:
        """The fixes proposed for run ``run_id`` with their current state (``STATE_COLUMNS``), in finding
        order."""
        with self.store._reading() as connection:
            by = connection.execute(sa.select(_RUN.c.by).where(_RUN.c.id == int(run_id))).scalar()
            if by is None:
                raise StoreError(f"no stored run with id {run_id}")
            proposals = _proposals(connection, sa.select(*_FIX.c).where(_FIX.c.run_id == int(run_id)))
            events = _events(connection, sa.select(*_EVENT.c).where(_EVENT.c.fix_key.in_(list(proposals["fix_key"]))))
        return fold(proposals, events, proposer=proposer(run_id, by))

    def events(self, fix_keys: Iterable[str] | None = None, run_id: int | None = None) -> pd.DataFrame:
        """Every event (of these fixes, or of the fixes of run ``run_id`` and those recorded by it, such as
        its verdicts on fixes applied before it, or all), oldest first (``EVENT_COLUMNS``; ``request`` and
        ``response`` as the JSON they were stored as)."""
        query = sa.select(*_EVENT.c)
        with self.store._reading() as connection:
            if run_id is not None:
                keys = sa.select(_FIX.c.fix_key).where(_FIX.c.run_id == int(run_id))
                query = query.where(_EVENT.c.fix_key.in_(keys) | (_EVENT.c.run_id == int(run_id)))
            if fix_keys is not None:
                query = query.where(_EVENT.c.fix_key.in_(list(fix_keys)))
            return _events(connection, query)

    def approved(self, run_id: int, fix_keys: Iterable[str] | None = None) -> list[Fix]:
        """The fixes of run ``run_id`` that may be applied now (approved, or failed and to be retried), with
        the values approved; only those of ``fix_keys`` when given."""
        current = self.fixes(run_id)
        ready = current[current["status"].isin(fixes.MAY_APPLY)]
        if fix_keys is not None:
            ready = ready[ready["fix_key"].isin(list(fix_keys))]
        return [Fix.from_row(row) for row in ready.to_dict("records")]

    # ------------------------------------------------------------------------------------- writing

    def propose(self, run_id: int, fix_key: str, by: str, *, quantity: float | None = None,
                effective_date: date | None = None, amount: int | None = None, note: str = "") -> None:
        """Propose fix ``fix_key`` with a new quantity (a line fix), effective date or amount (a charge or
        credit): a person's proposal, to be approved by finance. Withdraws an earlier approval."""
        row = self._one(run_id, fix_key, fixes.MAY_PROPOSE, "proposed")
        line = row["kind"] in fixes.LINE_KINDS
        values = _values(row, quantity if line else None, effective_date, None if line else amount)
        if line and values["quantity"] is not None and values["quantity"] < 0:
            raise StoreError("a quantity cannot be negative")
        if not line and not values["amount"]:
            raise StoreError("a charge or credit needs an amount other than zero")
        self._append(run_id, [row], "proposed", by, note=note.strip(), **values)

    def approve(self, run_id: int, fix_keys: Iterable[str], by: str, *, effective_date: date | None = None,
                note: str = "") -> int:
        """Approve fixes of run ``run_id`` as they stand (with one ``effective_date`` for all, when given);
        returns how many."""
        rows = self._many(run_id, fix_keys, fixes.MAY_APPROVE, "approved")
        with self.store._writing() as connection:
            now = tables.utc_now()
            for row in rows:
                values = _values(row, None, effective_date, None)
                _insert_event(connection, row["fix_key"], row["fingerprint"], run_id, "approved", by, now,
                              note=note.strip(), **values)
        return len(rows)

    def reject(self, run_id: int, fix_keys: Iterable[str], by: str, note: str = "") -> int:
        """Decline fixes (they are not applied; the finding stays as it is)."""
        rows = self._many(run_id, fix_keys, fixes.MAY_REJECT, "rejected")
        self._append(run_id, rows, "rejected", by, note=note.strip())
        return len(rows)

    def export(self, run_id: int, fix_keys: Iterable[str], by: str, note: str = "") -> int:
        """Record that approved fixes were exported for manual entry in the PSA (CSV, checklist)."""
        rows = self._many(run_id, fix_keys, fixes.MAY_APPLY, "exported")
        self._append(run_id, rows, "exported", by, note=note.strip())
        return len(rows)

    def applied_by_hand(self, run_id: int, fix_keys: Iterable[str], by: str, note: str = "") -> int:
        """Record that exported (or approved) fixes were entered in the PSA by hand; their findings are
        resolved as for a fix the PSA accepted."""
        rows = self._many(run_id, fix_keys, fixes.MAY_APPLY | {"exported"}, "applied by hand")
        outcomes = [FixOutcome(row["fix_key"], "applied_by_hand", "manual", message=note.strip())
                    for row in rows]
        self.record(run_id, outcomes, by)
        return len(rows)

    def record(self, run_id: int, outcomes: Iterable[FixOutcome], by: str) -> None:
        """Store what writing fixes to a PSA did (one event each: the requests, the answer, the PSA's id or
        message); findings whose fixes are now all applied are resolved, in the same transaction."""
        chosen = list(outcomes)
        current = self.fixes(run_id).set_index("fix_key", drop=False)
        unknown = sorted({outcome.fix_key for outcome in chosen} - set(current.index))
        if unknown:
            raise StoreError(f"run {run_id} has no fix {', '.join(unknown)}")
        with self.store._writing() as connection:
            now = tables.utc_now()
            for outcome in chosen:
                row = current.loc[outcome.fix_key]
                values = _values(row, None, None, None) if outcome.event != "dry_run" else {}
                _insert_event(connection, outcome.fix_key, str(row["fingerprint"]), run_id, outcome.event, by, now,
                              connection=outcome.connection, request=list(outcome.requests) or None,
                              response=_jsonable(outcome.response), psa_id=outcome.psa_id,
                              note=outcome.message, **values)
            done = [outcome for outcome in chosen if outcome.event in APPLIED_EVENTS]
            self._resolve_fixed(connection, run_id, {o.fix_key for o in done}, by, now)

    # ------------------------------------------------------------------------------------- helpers

    def _one(self, run_id: int, fix_key: str, allowed: frozenset[str], step: str) -> Mapping[str, Any]:
        return self._many(run_id, [fix_key], allowed, step)[0]

    def _many(self, run_id: int, fix_keys: Iterable[str], allowed: frozenset[str], step: str) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(str(key).strip() for key in fix_keys))
        if not wanted:
            raise StoreError("choose at least one fix")
        current = self.fixes(run_id).set_index("fix_key", drop=False)
        unknown = [key for key in wanted if key not in current.index]
        if unknown:
            raise StoreError(f"run {run_id} has no fix {', '.join(unknown)}")
        rows = [current.loc[key].to_dict() for key in wanted]
        wrong = [f"{row['fix_key']} ({row['status']})" for row in rows if row["status"] not in allowed]
        if wrong:
            raise StoreError(f"cannot mark {step}: {', '.join(wrong)}")
        return rows

    def _append(self, run_id: int, rows: Sequence[Mapping[str, Any]], event: str, by: str, **values: Any) -> None:
        with self.store._writing() as connection:
            now = tables.utc_now()
            for row in rows:
                _insert_event(connection, row["fix_key"], row["fingerprint"], run_id, event, by, now, **values)

    def _resolve_fixed(self, connection: Connection, run_id: int, applied: set[str], by: str, now: datetime) -> None:
        """Resolve the findings of ``applied`` fixes whose fixes (not rejected) are all applied now."""
        if not applied:
            return
        proposals = _proposals(connection, sa.select(*_FIX.c).where(_FIX.c.run_id == int(run_id)))
        events = _events(connection, sa.select(*_EVENT.c).where(_EVENT.c.fix_key.in_(list(proposals["fix_key"]))))
        current = fold(proposals, events)
        touched = set(current.loc[current["fix_key"].isin(applied), "fingerprint"])
        for fingerprint in sorted(touched):
            mine = current[current["fingerprint"].eq(fingerprint) & current["status"].ne("rejected")]
            if not mine["status"].isin(fixes.APPLIED_STATUSES).all():
                continue
            _insert_resolution(connection, [fingerprint], _resolution_status(mine), by, now, _resolution_note(mine))


def _values(row: Mapping[str, Any], quantity: float | None, effective_date: date | None,
            amount: int | None) -> dict[str, Any]:
    """The values an event carries: those given, else the fix's current ones."""
    line = row["kind"] in fixes.LINE_KINDS
    return {"quantity": float(quantity) if quantity is not None else _plain(row["after_qty"]) if line else None,
            "effective_date": effective_date or _plain(row["effective_date"]),
            "amount": int(amount) if amount is not None else _plain(row["amount"])}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, dict | list | str | int | float | bool):
        return value
    return str(value)


def _resolution_status(applied: pd.DataFrame) -> str:
    money = applied.loc[applied["kind"].isin(fixes.ONE_TIME_KINDS), "amount"].dropna()
    if (money > 0).any():
        return "billed"
    if (money < 0).any():
        return "credited"
    return "accepted"


def _resolution_note(applied: pd.DataFrame) -> str:
    parts = []
    for row in applied.itertuples():
        where = f" in {row.connection}" if isinstance(row.connection, str) and row.connection else ""
        psa = f" ({row.psa_id})" if isinstance(row.psa_id, str) and row.psa_id else ""
        parts.append(f"{row.description}{where}{psa}")
    return ("fixed in the PSA: " + "; ".join(parts))[:1000]


__all__ = ["EVENT_COLUMNS", "STATE_COLUMNS", "FixLedger", "after_run", "fold", "verify_run"]
