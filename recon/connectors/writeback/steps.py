"""What writing one fix to a PSA takes, as values: the writes to send, or why nothing is to be sent.

A PSA module reads what it must first (the line as the PSA has it now, whether the fix is already there)
and answers with a ``Step``: ``Writes`` (the exact requests, in order), ``Done`` (the PSA already says what
the fix approves: nothing to send) or ``Refused`` (sending would be wrong: the line is not where the fix
expects it). ``send`` then sends the writes through the connection's ``ApiClient`` (its timeouts, retries
on 429 / 5xx and redaction), each non-idempotent write with a lookup that finds it again, so a retry after
a lost answer never writes twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from recon.connectors.http import ApiClient, decode_json, service_message
from recon.errors import ConnectorError
from recon.fixes import CANCEL_LINE, Fix, FixOutcome
from recon.money import to_decimal

Lookup = Callable[[ApiClient], Any]  # the record a write created, found again; None when it is not there
IdOf = Callable[[Any], str]


@dataclass(frozen=True)
class Write:
    """One request that changes the PSA. ``find`` looks for what it creates (by the fix's reference), so a
    retry after a lost answer finds it instead of creating it twice; ``then`` builds the next write from
    this one's answer (a contract service created, then its units)."""

    method: str
    path: str
    body: Any
    find: Lookup | None = None
    id_of: IdOf = lambda answer: str((answer or {}).get("id", "")) if isinstance(answer, dict) else ""
    then: Callable[[Any], Write] | None = None
    placeholder: Write | None = None  # what ``then`` will send, as far as known before sending (a dry run)

    def shown(self, api: ApiClient) -> dict[str, Any]:
        """The request as it is sent: method, full URL, JSON body."""
        return {"method": self.method, "url": f"{api.base_url}/{self.path.lstrip('/')}", "body": self.body}


@dataclass(frozen=True)
class Writes:
    writes: tuple[Write, ...]


@dataclass(frozen=True)
class Done:
    message: str


@dataclass(frozen=True)
class Refused:
    message: str


Step = Writes | Done | Refused


@dataclass(frozen=True)
class Answer:
    """The answers of the writes sent so far: bodies and the PSA's ids."""

    bodies: list[Any] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------- sending

def outcome(api: ApiClient, connection: str, fix: Fix, step: Step, send: bool, refusals: Collection[int],
            refused_body: Callable[[httpx.Response], bool] | None = None) -> FixOutcome:
    """What writing ``fix`` did (or, without ``send``, would do): a dry run lists the exact requests."""
    if isinstance(step, Done):
        return FixOutcome(fix.fix_key, "skipped", connection, message=step.message)
    if isinstance(step, Refused):
        return FixOutcome(fix.fix_key, "refused", connection, message=step.message)
    planned = [write.shown(api) for write in _planned(step.writes)]
    if not send:
        return FixOutcome(fix.fix_key, "dry_run", connection, tuple(planned))
    return _send_all(api, connection, fix, step.writes, refusals, refused_body)


def _planned(writes: tuple[Write, ...]) -> list[Write]:
    out: list[Write] = []
    for write in writes:
        out.append(write)
        if write.placeholder is not None:
            out.append(write.placeholder)
    return out


def _send_all(api: ApiClient, connection: str, fix: Fix, writes: tuple[Write, ...], refusals: Collection[int],
              refused_body: Callable[[httpx.Response], bool] | None) -> FixOutcome:
    sent: list[dict[str, Any]] = []
    answer = Answer()
    queue = list(writes)
    while queue:
        write = queue.pop(0)
        sent.append(write.shown(api))
        try:
            response = api.request(write.method, write.path, json=write.body, accept=frozenset(refusals),
                                   settle=_settler(api, write))
        except ConnectorError as error:
            return FixOutcome(fix.fix_key, "failed", connection, tuple(sent), answer.bodies or None,
                              ",".join(answer.ids), _partly(answer, str(error)))
        body = _body(response)
        if not response.is_success:
            final = refused_body is None or refused_body(response)
            said = service_message(response) or f"HTTP {response.status_code}"
            event = "refused" if final else "failed"
            return FixOutcome(fix.fix_key, event, connection, tuple(sent), body, ",".join(answer.ids),
                              _partly(answer, f"HTTP {response.status_code}: {said}"))
        answer.bodies.append(body)
        answer.ids.append(write.id_of(body))
        if write.then is not None:
            queue.insert(0, write.then(body))
    return FixOutcome(fix.fix_key, "accepted", connection, tuple(sent),
                      answer.bodies[0] if len(answer.bodies) == 1 else answer.bodies,
                      ",".join(item for item in answer.ids if item))


def _partly(answer: Answer, message: str) -> str:
    done = [item for item in answer.ids if item]
    return f"{message} (done before it: {', '.join(done)})" if done else message


def _settler(api: ApiClient, write: Write) -> Callable[[], httpx.Response | None] | None:
    if write.find is None:
        return None
    lookup = write.find

    def settle() -> httpx.Response | None:
        found = lookup(api)
        if found is None:
            return None
        return httpx.Response(200, json=json.loads(json.dumps(found, default=str)),
                              request=httpx.Request(write.method, f"{api.base_url}/{write.path}"))

    return settle


def _body(response: httpx.Response) -> Any:
    try:
        return decode_json(response)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500]


# ----------------------------------------------------------------------------------------------- values

def wire_number(units: int | None, places: int = 2) -> float | None:
    """Money for a JSON body: the exact decimal as the number JSON carries (a float whose shortest form is
    that decimal, checked: never a rounded amount on the wire)."""
    amount = to_decimal(units, places)
    if amount is None:
        return None
    number = float(amount)
    if Decimal(repr(number)) != amount:
        raise ConnectorError(f"the amount {amount} cannot be sent exactly as a JSON number")
    return number


def quantity_number(value: float | None) -> float | int | None:
    """A quantity for a JSON body: a whole number as an integer."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(float(value), 4)


def day_before(day: date) -> date:
    return day - timedelta(days=1)


def first(records: Any) -> Mapping[str, Any] | None:
    """The first record of a list answer (or the answer itself when it is one record)."""
    if isinstance(records, list):
        return records[0] if records else None
    return records if isinstance(records, dict) and records else None


def only_one(candidates: Sequence[Mapping[str, Any]], holder: str, what: str, export: str, psa: str,
             fix: Fix) -> Mapping[str, Any] | Refused | None:
    """The line meant by a fix that names none, among the ``candidates`` (``what``: the lines of its product
    on ``holder``): the one there is; None when there is none; Refused when there are several, since which
    one is meant cannot be known and writing to any of them could change the wrong line. The refusal names
    them and what to do (``export``: what to export with the ids' column, or change the line by hand)."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    verb = "cancel" if fix.kind == CANCEL_LINE else "change"
    return Refused(f"{holder} has {len(candidates)} {what} ({id_list(candidates)}) and the fix does not say "
                   f"which: export {export} column and reconcile again, or {verb} the right one in {psa} by hand")


def same_product(psa: Any, sku: str) -> bool:
    """Whether a PSA line's product (its identifier, or service id) is the fix's ``sku``: equal but for case
    and surrounding blanks, as the engine reads skus (``recon.identity.sku_lookup`` folds them, the catalog's
    spelling winning), so a line spelt ``m365-bp`` resolved to the fix's ``M365-BP``."""
    return psa is not None and str(psa).strip().casefold() == str(sku).strip().casefold()


def line_products(fix: Fix) -> tuple[str, ...]:
    """The names the fix's line may carry in the PSA, each once (``same_product`` tells them apart): the
    product the PSA export named for the line (``Fix.line_sku``: the addition's product identifier, the
    contract service's service id, as read before the SKU mapping), then the fix's ``sku``. An identifier
    that is the fix's sku only through the catalog's ``vendor_sku`` list or a saved SKU mapping is the
    export's own name of the line's product, and the line carrying it is the fix's; the sku stays one too
    (what a fix stored before ``line_sku`` was kept is compared with, and a file whose product column is not
    the PSA's identifier still names its lines by it)."""
    names: list[str] = []
    for name in (fix.line_sku, fix.sku):
        if name and not any(same_product(name, known) for known in names):
            names.append(str(name).strip())
    return tuple(names) or (fix.sku,)


def of_the_product(psa: Any, fix: Fix) -> bool:
    """Whether a PSA line's product (its identifier, or service id) is the fix's: one of ``line_products``."""
    return any(same_product(psa, name) for name in line_products(fix))


def product_named(fix: Fix) -> str:
    """The fix's product in words: its sku, with the export's name of it beside it when that is another
    (``M365-BP (MS-OFF-BUS-PREM in the export)``)."""
    names = line_products(fix)
    return fix.sku if len(names) == 1 else f"{fix.sku} ({names[0]} in the export)"


def not_the_line(line: str, found: str, expected: str, export: str, psa: str, fix: Fix) -> Refused:
    """The refusal of a line the fix names by id that is not of the fix's product (or contract): ``line`` is
    of ``found``, the fix says ``expected``. An export's id column misaligned or out of date would otherwise
    change (or cancel) another licence; what to do is ``export`` (with the ids' column) again, or by hand."""
    verb = "cancel" if fix.kind == CANCEL_LINE else "change"
    return Refused(f"{line} is of {found}, not of {expected} as the fix says (its id may be misaligned or out of "
                   f"date): export {export} column and reconcile again, or {verb} the right one in {psa} by hand")


def id_list(records: Sequence[Mapping[str, Any]], shown: int = 10) -> str:
    """``ids 101, 104``: the records' ids, smallest first (the first ``shown``, then how many more)."""
    ids = sorted((str(record.get("id")) for record in records), key=lambda text: (len(text), text))
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return "ids " + ", ".join(ids[:shown]) + more


def numeric_id(value: str | None) -> int | None:
    """A PSA id given as text (``"101"``), or None when the text is not one (a name)."""
    if value is None:
        return None
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return int(text) if text.isdigit() else None
