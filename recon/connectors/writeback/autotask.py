"""Fixes written to Autotask PSA (REST v1.0): contract service units, contract services and charges.

What Autotask's API takes (its REST entity articles and Swagger models, as in the public clients of it):

- **ContractServiceAdjustments** change the units of a contract service from an ``effectiveDate``:
  ``POST /ContractServiceAdjustments`` with ``contractID``, ``contractServiceID``, ``serviceID``,
  ``effectiveDate``, ``unitChange`` (a whole number of units, added to those in effect) and optionally
  ``adjustedUnitPrice``; answered ``{"itemId": n}``. The entity can be created only (never queried), so
  whether a change is already in effect is read from the **ContractServiceUnits** the adjustment produces
  (``POST /ContractServiceUnits/query``: ``units`` per ``startDate``..``endDate``). Autotask prorates an
  adjustment from its effective date;
- **ContractServices** (``POST /Contracts/{contractID}/Services``: ``contractID``, ``serviceID``,
  ``unitPrice``, ``invoiceDescription``, ``internalDescription``) adds a service to a contract; its units
  come from an adjustment;
- **ContractCharges** (``POST /Contracts/{contractID}/Charges``: ``contractID``, ``name``, ``description``,
  ``chargeType``, ``datePurchased``, ``unitQuantity``, ``unitPrice``, ``isBillableToCompany``, ``status``;
  ``POST /ContractCharges/query``) bill a one-time amount through the billing process;
- a refusal comes as HTTP 500 (404 for an unknown record) with ``{"errors": ["..."]}``: such an answer is
  the PSA's no and is not retried (429, 502, 503, 504 and a 500 without that body are).

How each fix is written: a quantity change or cancellation is one adjustment of ``approved - in effect``
units (nothing is sent when the units in effect on the date are already the approved ones; refused when
they are neither those nor the ones the fix was proposed on); a new line is a contract service whose
``internalDescription`` carries the fix's reference, then an adjustment giving it its units; a charge or
credit is a contract charge of one unit at the amount (negative for a credit) whose name and description
carry the reference (Autotask bills it under its name: the billing item's ``itemName``). ``charge_type`` and
``charge_status`` in connections.toml set those picklist values (default 1).

The contract is ``agreement_id`` (Autotask's numeric id). The fix's service is the serviceID the export gave
the line (``Fix.line_sku``, read before the SKU mapping) or its ``sku`` (all a fix stored before has).
The contract service is ``line_id`` when numeric and that contract service is of the fix's contract and service
(another means the export's ``contractServiceID`` column was misaligned or out of date: refused, naming both,
rather than adjust another line's units), else the contract's contract service of the fix's service when it has
exactly one: with several (the same service twice, at two prices or for two sites) a quantity change or
cancellation is refused, since changing any of them could change the wrong line; the refusal names them and
asks for an export with the ``contractServiceID`` column, or the change made by hand (a cancellation whose
services all have 0 units on the date is skipped: nothing is sent). A new line's own contract service is the
one carrying its reference: a retry after an earlier try created it but did not set its units (the adjustment
failed, or the run stopped between the two writes; it has no unit row yet, or other units than the fix's) sends
the adjustment that gives it the fix's units and is accepted; only one that has them already is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from recon.connectors.autotask import client as autotask_client
from recon.connectors.autotask import query
from recon.connectors.config import Connection
from recon.connectors.http import ApiClient, decode_json
from recon.connectors.writeback.steps import (
    Done,
    Refused,
    Step,
    Write,
    Writes,
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

REFUSALS = frozenset({400, 404, 409, 422, 500})
QUANTITY_TOLERANCE = 0.01


def apply(api: ApiClient, connection: Connection, fix: Fix, send: bool) -> FixOutcome:
    """Write ``fix`` (or, without ``send``, show what would be written)."""
    return outcome(api, connection.name, fix, plan(api, fix, connection), send, REFUSALS, _is_refusal)


def client(connection: Connection) -> ApiClient:
    return autotask_client(connection)


def _is_refusal(response: httpx.Response) -> bool:
    """An answer that is Autotask's no (final), not a server failing (worth another try later)."""
    if response.status_code != 500:
        return True
    try:
        body = decode_json(response)
    except ValueError:
        return False
    return isinstance(body, dict) and bool(body.get("errors"))


def plan(api: ApiClient, fix: Fix, connection: Connection | None = None) -> Step:
    """Read what the fix needs from Autotask and decide what to send."""
    contract = numeric_id(fix.agreement_id)
    if contract is None:
        return Refused(f"no Autotask contract id is known for {fix.client} (the fix names "
                       f"{fix.agreement_id or 'none'})")
    if fix.kind in (CHANGE_QUANTITY, CANCEL_LINE):
        return _units_change(api, fix, contract)
    if fix.kind == ADD_LINE:
        return _new_service(api, fix, contract)
    return _charge(api, fix, contract, connection)


def _when(fix: Fix) -> str:
    return f"{fix.effective_date.isoformat()}T00:00:00"


# --------------------------------------------------------------------------------------------- reading

def _services(api: ApiClient, fix: Fix, contract: int) -> list[dict[str, Any]]:
    """The contract services the fix can mean: the one ``line_id`` names when numeric, else the contract's
    services of its service."""
    number = numeric_id(fix.line_id)
    if number is not None:
        return list(query(api, "ContractServices", [{"field": "id", "op": "eq", "value": number}]))
    found: dict[Any, dict[str, Any]] = {}
    for service in _service_ids(fix):
        filters = [{"field": "contractID", "op": "eq", "value": contract},
                   {"field": "serviceID", "op": "eq", "value": service}]
        for item in query(api, "ContractServices", filters):
            found.setdefault(item.get("id"), item)
    return list(found.values())


def _service_ids(fix: Fix) -> list[int]:
    """The service ids the fix's line may be of, each once: those of its ``line_products`` that are one (the
    serviceID the export gave the line, the fix's sku)."""
    return list(dict.fromkeys(number for number in map(numeric_id, line_products(fix)) if number is not None))


_EXPORT = "the contract service units with their contractServiceID"  # what a refusal asks for


def _service(api: ApiClient, fix: Fix, contract: int) -> Mapping[str, Any] | Done | Refused:
    """The contract service the fix changes: ``line_id`` when numeric and that contract service is of the fix's
    contract and service (else refused: the id is misaligned or stale), else the contract's one service of its
    service; several are refused (a cancellation is skipped when none of them has units on the date)."""
    found = _services(api, fix, contract)
    number = numeric_id(fix.line_id)
    if number is not None:
        return _of_the_fix(found[0], fix, contract) if found else Refused(
            f"Autotask contract {contract} has no contract service {number}")
    product = product_named(fix)
    if len(found) > 1 and fix.kind == CANCEL_LINE and all(_without_units(api, item, fix) for item in found):
        return Done(f"every contract service of service {product} on contract {contract} ({id_list(found)}) "
                    f"already has 0 units on {fix.effective_date}")
    chosen = only_one(found, f"Autotask contract {contract}", f"contract services of service {product}", _EXPORT,
                      "Autotask", fix)
    return Refused(f"Autotask contract {contract} has no contract service of {product}") if chosen is None \
        else chosen


def _of_the_fix(service: dict[str, Any], fix: Fix, contract: int) -> Mapping[str, Any] | Refused:
    """The contract service the fix names by id, when it is of the fix's contract and of its service (what the
    lookup without an id asks Autotask for: ``contractID``, and ``serviceID`` one of the fix's ``line_products``,
    the service id the export gave the line or the fix's sku); else refused."""
    its_contract, its_service = numeric_id(str(service.get("contractID") or "")), service.get("serviceID")
    # (a sku read from a spreadsheet may say 302.0: the service 302)
    same = numeric_id(str(its_service)) in _service_ids(fix) or of_the_product(its_service, fix)
    if its_contract == contract and same:
        return service
    return not_the_line(f"Autotask contract service {service.get('id')}",
                        f"service {its_service} on contract {service.get('contractID')}",
                        f"service {product_named(fix)} on contract {contract}", _EXPORT, "Autotask", fix)


def _without_units(api: ApiClient, service: Mapping[str, Any], fix: Fix) -> bool:
    """Whether a contract service's units in effect on the fix's date are 0 (it has a unit row then)."""
    now = units_on(api, int(service["id"]), _when(fix))
    return now is not None and abs(now) <= QUANTITY_TOLERANCE


def _own(services: list[dict[str, Any]], fix: Fix) -> list[dict[str, Any]]:
    """The contract services the fix created (their ``internalDescription`` carries its reference)."""
    return [item for item in services if fix.reference in str(item.get("internalDescription") or "")]


def units_on(api: ApiClient, contract_service: int, when: str) -> float | None:
    """The units of a contract service in effect on ``when``: the unit row covering the day, else the
    latest one starting before it; None when it has none."""
    filters: list[dict[str, Any]] = [{"field": "contractServiceID", "op": "eq", "value": contract_service},
               {"field": "startDate", "op": "lte", "value": when}]
    rows = list(query(api, "ContractServiceUnits", filters))
    if not rows:
        return None
    covering = [row for row in rows if str(row.get("endDate") or "9999") >= when]
    chosen = max(covering or rows, key=lambda row: str(row.get("startDate") or ""))
    return float(chosen.get("units") or 0)


# --------------------------------------------------------------------------------------------- writing

def _adjustment(fix: Fix, contract: int, service: Mapping[str, Any] | None, change: float,
                contract_service: int | str) -> Write:
    body = {"contractID": contract, "contractServiceID": contract_service,
            "serviceID": (service or {}).get("serviceID") or next(iter(_service_ids(fix)), None),
            "effectiveDate": _when(fix), "unitChange": int(change)}
    target = float(fix.after_qty or 0) if fix.kind != CANCEL_LINE else 0.0

    def find(client: ApiClient) -> Any:
        if not isinstance(contract_service, int):
            return None
        now = units_on(client, contract_service, _when(fix))
        return {"itemId": None, "units": now} if now is not None and abs(now - target) <= QUANTITY_TOLERANCE else None

    return Write("POST", "ContractServiceAdjustments", body, find=find, id_of=_item_id)


def _item_id(answer: Any) -> str:
    return str(answer.get("itemId") or "") if isinstance(answer, dict) else ""


def _units_change(api: ApiClient, fix: Fix, contract: int) -> Step:
    service = _service(api, fix, contract)
    if isinstance(service, Done | Refused):
        return service
    now = units_on(api, int(service["id"]), _when(fix))
    if now is None:
        return Refused(f"contract service {service['id']} has no units on {fix.effective_date}")
    wanted = 0.0 if fix.kind == CANCEL_LINE else float(fix.after_qty or 0)
    if abs(now - wanted) <= QUANTITY_TOLERANCE:
        return Done(f"contract service {service['id']} already has {quantity_number(wanted)} units on "
                    f"{fix.effective_date}")
    if fix.before_qty is not None and abs(now - fix.before_qty) > QUANTITY_TOLERANCE:
        return Refused(f"contract service {service['id']} has {quantity_number(now)} units on {fix.effective_date}, "
                       f"not the {quantity_number(fix.before_qty)} the fix was proposed on: review it first")
    change = wanted - now
    if not float(change).is_integer():
        return Refused(f"Autotask adjusts whole units; {quantity_number(change)} is not one")
    return Writes((_adjustment(fix, contract, service, change, int(service["id"])),))


def _new_service(api: ApiClient, fix: Fix, contract: int) -> Step:
    service_id = numeric_id(fix.sku)
    if service_id is None:
        return Refused(f"{fix.sku} is not an Autotask service id")
    if not float(fix.after_qty or 0).is_integer():  # its units are set by an adjustment, in whole units
        return Refused(f"Autotask adjusts whole units; {quantity_number(float(fix.after_qty or 0))} is not one "
                       f"(a new line of service {service_id})")
    existing = _services(api, fix, contract)
    ours = _own(existing, fix)
    if ours:  # created by an earlier try: give it (that one) the fix's units unless it has them
        return _own_units(api, fix, contract, ours[0])
    if existing:
        return Refused(f"contract {contract} already has contract service {existing[0]['id']} of {fix.sku}: review "
                       "it instead of adding a line")
    body = {"contractID": contract, "serviceID": service_id, "unitPrice": wire_number(fix.unit_price, 4),
            "invoiceDescription": fix.sku, "internalDescription": fix.reference}
    units = _adjustment(fix, contract, {"serviceID": service_id}, float(fix.after_qty or 0),
                        "<the contract service id Autotask answers>")

    def then(answer: Any) -> Write:
        return _adjustment(fix, contract, {"serviceID": service_id}, float(fix.after_qty or 0), int(_item_id(answer)))

    def find(client: ApiClient) -> Any:
        return _found_item(_own(_services(client, fix, contract), fix))

    return Writes((Write("POST", f"Contracts/{contract}/Services", body, find=find, id_of=_item_id, then=then,
                         placeholder=units),))


def _own_units(api: ApiClient, fix: Fix, contract: int, service: Mapping[str, Any]) -> Step:
    """A new line's contract service that an earlier try created (it carries the fix's reference), whose units
    that try may not have set (its adjustment failed, or the run stopped between the two writes): the
    adjustment that gives it the fix's units from the fix's date, as the first try's would have. A service
    without a unit row yet has no units (Autotask makes its unit rows from adjustments), so it gets them all;
    one that has the fix's units already is done; one whose units changed since is brought to them."""
    now = units_on(api, int(service["id"]), _when(fix))
    wanted = float(fix.after_qty or 0)
    if now is not None and abs(now - wanted) <= QUANTITY_TOLERANCE:
        return Done(f"contract service {service['id']} (this fix's) already has {quantity_number(wanted)} units on "
                    f"{fix.effective_date}")
    change = wanted - (now or 0.0)
    if not float(change).is_integer():
        return Refused(f"Autotask adjusts whole units; {quantity_number(change)} is not one (contract service "
                       f"{service['id']}, this fix's, has {quantity_number(now or 0.0)} on {fix.effective_date})")
    return Writes((_adjustment(fix, contract, service, change, int(service["id"])),))


def _charges(api: ApiClient, fix: Fix, contract: int) -> list[dict[str, Any]]:
    return list(query(api, "ContractCharges", [{"field": "contractID", "op": "eq", "value": contract},
                                               {"field": "description", "op": "contains", "value": fix.reference}]))


def _charge(api: ApiClient, fix: Fix, contract: int, connection: Connection | None) -> Step:
    existing = _charges(api, fix, contract)
    if existing:
        return Done(f"contract charge {existing[0].get('id')} (this fix's) is already on contract {contract}")
    what = "charge" if (fix.amount or 0) > 0 else "credit"
    setting = connection.setting if connection is not None else (lambda key, default=None: default)
    # the name too carries the reference: Autotask's invoice shows a billed charge under its name (a billing
    # item's itemName, what the pull reads as the line's description), which is how the next run confirms it
    name = f"{f'{fix.sku} {what} {fix.period}'[:100 - len(fix.reference) - 1]} {fix.reference}"
    body = {"contractID": contract, "name": name,
            "description": f"{fix.description} {fix.reference}"[:2000],
            "chargeType": int(setting("charge_type", 1)), "status": int(setting("charge_status", 1)),
            "datePurchased": _when(fix), "unitQuantity": 1, "unitPrice": wire_number(fix.amount),
            "unitCost": 0, "isBillableToCompany": True}
    return Writes((Write("POST", f"Contracts/{contract}/Charges", body, id_of=_item_id,
                         find=lambda client: _found_item(_charges(client, fix, contract))),))


def _found_item(records: list[dict[str, Any]]) -> Any:
    return {"itemId": records[0]["id"]} if records else None


__all__ = ["REFUSALS", "apply", "client", "plan", "units_on"]
