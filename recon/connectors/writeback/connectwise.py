"""Fixes written to ConnectWise PSA (REST 3.0): agreement additions and agreement adjustments.

What ConnectWise's API takes (the developer network's Finance > Agreements endpoints, as in the public
OpenAPI clients of it):

- ``GET /finance/agreements/{id}/additions[/{additionId}]`` reads a line (``quantity``, ``lessIncluded``,
  ``cancelledDate``, ``product.identifier``, ``description``); lists filter with ``conditions``;
- ``PATCH /finance/agreements/{id}/additions/{additionId}`` takes a JSON Patch list,
  ``[{"op": "replace", "path": "quantity", "value": 27}]``, and answers the addition;
- ``POST /finance/agreements/{id}/additions`` creates one (``product``, ``quantity``, ``unitPrice``,
  ``billCustomer``, ``effectiveDate``, ``prorateCurrentPeriodFlag``, ``description``, ``invoiceDescription``);
- ``POST /finance/agreements/{id}/adjustments`` adds a one-time amount (positive: a charge, negative: a
  credit) to the agreement's next invoice (``amount``, ``description`` up to 1,000 characters,
  ``effectiveDate``); ``GET`` with ``conditions`` lists them;
- a refusal is HTTP 400 (404 for an unknown record) with ``{"code", "message", "errors": [{"code",
  "message", "resource", "field"}]}``.

How each fix is written:

- **quantity change**: the addition's billable quantity is ``quantity - lessIncluded``; the PATCH sets
  ``quantity`` to the approved billable quantity plus ``lessIncluded``. An addition keeps one quantity (no
  dated versions), so the change bills from the agreement's next invoice: apply a fix in the period it
  takes effect. Nothing is sent when the addition already says the approved quantity; the fix is refused
  when it says neither that nor the quantity the fix was proposed on (someone changed it meanwhile);
- **cancellation**: PATCH ``cancelledDate`` to the day before the effective date;
- **new line**: POST an addition, Billable, prorated from its effective date, whose ``description`` carries
  the fix's reference (``[recon fix <key>]``); refused when the agreement already has an active addition
  for that product that is not the fix's own;
- **charge / credit**: POST an adjustment whose description carries the reference; nothing is sent when an
  adjustment with it exists.

The agreement is ``agreement_id`` when it is ConnectWise's numeric id, else looked up by name and company (an
export names agreements). The fix's product, as ConnectWise names it, is the product identifier the export gave
the line (``Fix.line_sku``, read before the SKU mapping: an identifier that is the fix's sku only through the
catalog's vendorSku list or a saved SKU mapping names the same line) or the fix's sku (all a fix stored before
the export's identifier was kept has). The addition is ``line_id`` when numeric and that addition is of the
fix's product (its ``product.identifier`` one of those but for case and blanks, as the lookup without an id
asks: another product means the export's id column was misaligned or out of date, and the fix is refused,
naming the id, the addition's product and the fix's, rather than change or cancel another licence), else the
agreement's addition of the fix's product billing on the fix's date (not cancelled before it: a cancellation
still to come counts) when it has exactly one (every page of the list read). With several (the same licence at
two prices, a site split) a quantity change or cancellation is refused, since changing any of them could change
the wrong line: the refusal names the agreement, how many and their ids, and asks for the additions exported
with their ``id`` column, or the change made in ConnectWise by hand. A cancellation that finds no addition
billing on its date (this fix applied before, or the line cancelled by hand) looks among the ended ones: the
one there is is skipped (already cancelled), several are skipped alike (every one already cancelled).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recon.connectors.config import Connection
from recon.connectors.connectwise import client as connectwise_client
from recon.connectors.connectwise import pages
from recon.connectors.http import ApiClient
from recon.connectors.writeback.steps import (
    Done,
    Refused,
    Step,
    Write,
    Writes,
    day_before,
    first,
    id_list,
    line_products,
    not_the_line,
    numeric_id,
    of_the_product,
    only_one,
    outcome,
    product_named,
    quantity_number,
    wire_number,
)
from recon.fixes import ADD_LINE, CANCEL_LINE, CHANGE_QUANTITY, Fix, FixOutcome
from recon.money import to_decimal

REFUSALS = frozenset({400, 404, 409, 412, 422})
QUANTITY_TOLERANCE = 0.01
_EXPORT = "the agreement's additions with their id"  # what a refusal asks for: the lines with their ids


def apply(api: ApiClient, connection: Connection, fix: Fix, send: bool) -> FixOutcome:
    """Write ``fix`` (or, without ``send``, show what would be written)."""
    return outcome(api, connection.name, fix, plan(api, fix), send, REFUSALS)


def client(connection: Connection) -> ApiClient:
    return connectwise_client(connection)


def plan(api: ApiClient, fix: Fix) -> Step:
    """Read what the fix needs from ConnectWise and decide what to send."""
    agreement = _agreement(api, fix)
    if isinstance(agreement, Refused):
        return agreement
    if fix.kind in (CHANGE_QUANTITY, CANCEL_LINE):
        return _line_change(api, fix, agreement)
    if fix.kind == ADD_LINE:
        return _new_line(api, fix, agreement)
    return _adjustment(api, fix, agreement)


# --------------------------------------------------------------------------------------------- finding

def _quoted(text: str) -> str:
    """A string in a ``conditions`` expression: double quotes, inner quotes and backslashes escaped."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _agreement(api: ApiClient, fix: Fix) -> int | Refused:
    number = numeric_id(fix.agreement_id)
    if number is not None:
        return number
    if not fix.agreement_id:
        return Refused(f"no ConnectWise agreement is known for {fix.client}: the fix names none")
    conditions = f"name={_quoted(fix.agreement_id)} and company/name={_quoted(fix.client)}"
    found, _ = api.get_json("finance/agreements", params={"conditions": conditions})
    record = first(found)
    if record is None:
        return Refused(f"ConnectWise has no agreement {fix.agreement_id!r} of {fix.client}")
    return int(record["id"])


def _additions(api: ApiClient, agreement: int, sku: str, open_only: bool = True) -> list[dict[str, Any]]:
    """The agreement's additions of ``sku``: those with no cancelled date (``open_only``), else every one."""
    conditions = f"product/identifier={_quoted(sku)}" + (" and cancelledDate=null" if open_only else "")
    # every page: how many lines there are decides whether one may be written to
    return [item for item in pages(api, f"finance/agreements/{agreement}/additions", {"conditions": conditions})
            if isinstance(item, dict)]


def _of_products(api: ApiClient, agreement: int, names: tuple[str, ...], open_only: bool) -> list[dict[str, Any]]:
    """The agreement's additions of any of ``names`` (the fix's ``line_products``), each once, in the order
    ConnectWise lists them per name."""
    found: dict[Any, dict[str, Any]] = {}
    for name in names:
        for item in _additions(api, agreement, name, open_only):
            found.setdefault(item.get("id"), item)
    return list(found.values())


def _addition(api: ApiClient, fix: Fix, agreement: int) -> Mapping[str, Any] | Done | Refused:
    """The addition the fix changes: ``line_id`` when numeric and that addition is of the fix's product (else
    refused: the id is misaligned or stale), else the agreement's one addition of the fix's product billing on
    its date (not cancelled before it; a cancellation applied before finds it among the ended ones); several:
    refused. The fix's product is the line's as the export named it or the fix's sku (``line_products``)."""
    number = numeric_id(fix.line_id)
    if number is not None:
        found, response = api.get_json(f"finance/agreements/{agreement}/additions/{number}", accept=(404,))
        if response.status_code == 404 or not isinstance(found, dict):
            return Refused(f"ConnectWise agreement {agreement} has no addition {number}")
        return _of_the_fix(found, fix, agreement, number)
    product = product_named(fix)
    holder, what = f"ConnectWise agreement {agreement}", f"additions of {product}"
    every = _of_products(api, agreement, line_products(fix), open_only=False)
    last_day = day_before(fix.effective_date).isoformat()
    # the lines billing on the fix's date: a line whose cancellation is still to come counts (it bills then)
    billing = [item for item in every if not "" < _cancelled(item) <= last_day]
    if billing or fix.kind != CANCEL_LINE:
        chosen = only_one(billing, holder, f"{what} billing on {fix.effective_date}", _EXPORT, "ConnectWise", fix)
    elif len(every) > 1:  # every line ended by then: this cancellation applied before, or made by hand
        return Done(f"every addition of {product} on agreement {agreement} ({id_list(every)}) is already "
                    f"cancelled by {last_day}")
    else:
        chosen = only_one(every, holder, what, _EXPORT, "ConnectWise", fix)
    return Refused(f"ConnectWise agreement {agreement} has no addition of {product} billing on "
                   f"{fix.effective_date}") if chosen is None else chosen


def _of_the_fix(addition: dict[str, Any], fix: Fix, agreement: int, number: int) -> Mapping[str, Any] | Refused:
    """The addition the fix names by id, when it is of the fix's product (what the lookup without an id asks
    ConnectWise for: ``product/identifier`` one of the fix's ``line_products``, the product identifier the
    export gave the line or the fix's sku) on the fix's agreement; else refused."""
    product = addition.get("product")
    identifier = product.get("identifier") if isinstance(product, dict) else None
    its_agreement = numeric_id(str(addition.get("agreementId") or ""))
    if its_agreement is not None and its_agreement != agreement:  # (ConnectWise answers it under its own)
        return not_the_line(f"ConnectWise addition {number}", f"agreement {its_agreement}", f"agreement {agreement}",
                            _EXPORT, "ConnectWise", fix)
    if not of_the_product(identifier, fix):
        return not_the_line(f"ConnectWise agreement {agreement}'s addition {number}",
                            str(identifier).strip() if identifier else "no product", product_named(fix), _EXPORT,
                            "ConnectWise", fix)
    return addition


def _cancelled(addition: Mapping[str, Any]) -> str:
    """The day an addition is cancelled on (``YYYY-MM-DD``), or "" when it is not."""
    return str(addition.get("cancelledDate") or "")[:10]


# --------------------------------------------------------------------------------------------- writing

def _line_change(api: ApiClient, fix: Fix, agreement: int) -> Step:
    addition = _addition(api, fix, agreement)
    if isinstance(addition, Done | Refused):
        return addition
    path = f"finance/agreements/{agreement}/additions/{addition['id']}"
    if fix.kind == CANCEL_LINE:
        last_day = day_before(fix.effective_date).isoformat()
        cancelled = _cancelled(addition)
        if cancelled and cancelled <= last_day:
            return Done(f"addition {addition['id']} is already cancelled on {cancelled}")
        return Writes((Write("PATCH", path, [{"op": "replace", "path": "cancelledDate",
                                              "value": f"{last_day}T00:00:00Z"}]),))
    included = float(addition.get("lessIncluded") or 0)
    billable = float(addition.get("quantity") or 0) - included
    wanted = float(fix.after_qty or 0)
    if abs(billable - wanted) <= QUANTITY_TOLERANCE:
        return Done(f"addition {addition['id']} already bills {quantity_number(wanted)}")
    if fix.before_qty is not None and abs(billable - fix.before_qty) > QUANTITY_TOLERANCE:
        return Refused(f"addition {addition['id']} bills {quantity_number(billable)}, not the "
                       f"{quantity_number(fix.before_qty)} the fix was proposed on: review it first")
    body = [{"op": "replace", "path": "quantity", "value": quantity_number(wanted + included)}]
    return Writes((Write("PATCH", path, body),))


def _new_line(api: ApiClient, fix: Fix, agreement: int) -> Step:
    existing = _additions(api, agreement, fix.sku)
    ours = [item for item in existing if fix.reference in str(item.get("description") or "")]
    if ours:
        return Done(f"addition {ours[0]['id']} (this fix's) is already on agreement {agreement}")
    if existing:
        return Refused(f"agreement {agreement} already has addition {existing[0]['id']} of {fix.sku}: review "
                       "it instead of adding a line")
    path = f"finance/agreements/{agreement}/additions"
    body = {"product": {"identifier": fix.sku}, "quantity": quantity_number(fix.after_qty),
            "unitPrice": wire_number(fix.unit_price, 4), "billCustomer": "Billable",
            "effectiveDate": f"{fix.effective_date.isoformat()}T00:00:00Z", "prorateCurrentPeriodFlag": True,
            "description": f"{fix.sku} {fix.reference}"[:100], "invoiceDescription": fix.sku}

    def find(client: ApiClient) -> Any:
        return next((item for item in _additions(client, agreement, fix.sku)
                     if fix.reference in str(item.get("description") or "")), None)

    return Writes((Write("POST", path, body, find=find),))


def _adjustments(api: ApiClient, agreement: int, fix: Fix) -> list[dict[str, Any]]:
    conditions = f"description like {_quoted('%' + fix.reference + '%')}"
    found, _ = api.get_json(f"finance/agreements/{agreement}/adjustments", params={"conditions": conditions})
    return [item for item in found or [] if isinstance(item, dict)]


def _adjustment(api: ApiClient, fix: Fix, agreement: int) -> Step:
    existing = _adjustments(api, agreement, fix)
    if existing:
        return Done(f"adjustment {existing[0].get('id')} (this fix's) is already on agreement {agreement}")
    what = "charge" if (fix.amount or 0) > 0 else "credit"
    text = f"{fix.sku} {what} for {fix.period}: {to_decimal(abs(fix.amount or 0))} {fix.reference}"
    body = {"amount": wire_number(fix.amount), "description": text[:1000],
            "effectiveDate": f"{fix.effective_date.isoformat()}T00:00:00Z", "agreementId": agreement}
    path = f"finance/agreements/{agreement}/adjustments"
    return Writes((Write("POST", path, body, find=lambda client: first(_adjustments(client, agreement, fix))),))


__all__ = ["REFUSALS", "apply", "client", "plan"]
