"""The ConnectWise and Autotask stand-ins with the write endpoints fixes use, on their own copy of the data.

``WritableConnectWise`` adds, beside everything ``vendors.ConnectWise`` serves (and on the same data, so a
pull after a write sees it): ``GET|PATCH /finance/agreements/{id}/additions/{id}`` (a JSON Patch list of
``replace`` operations), ``POST /finance/agreements/{id}/additions``, ``GET|POST
/finance/agreements/{id}/adjustments``, and ``conditions`` of the forms ``field="text"``, ``field=null``,
``field=123`` and ``field like "%text%"`` joined by ``and`` (paths such as ``product/identifier``), the lists paged as
ConnectWise pages them (``page``, ``pageSize`` 25 unless asked, a ``Link`` rel="next" header). Refusals
are ConnectWise's: HTTP 400 ``{"code": "InvalidObject", "message", "errors": [{"code", "message",
"resource", "field"}]}``, 404 ``{"code": "NotFound", "message"}``.

``WritableAutotask`` adds ``POST /ContractServiceAdjustments`` (splitting the unit rows at the effective
date, as Autotask does: rows from that day on carry the changed units; answered ``{"itemId": n}``; the
entity cannot be queried), ``POST /Contracts/{id}/Services`` and ``POST /Contracts/{id}/Charges`` (queried
through ``/ContractServices/query`` and ``/ContractCharges/query``). Refusals are Autotask's: HTTP 500
``{"errors": ["..."]}``. ``invoice_charges(period)`` is Autotask's billing process for the one-time charges:
each contract charge purchased up to the month's end and not billed yet becomes a BillingItem on the
company's invoice of that month (made when it has none), under the charge's ``name`` (``itemName``) and
``description``, as the invoice shows them, and the charge is marked billed; ``invoice_adjustments(period)``
is ConnectWise's: each agreement adjustment effective up to the month's end and not closed is added to
the agreement's invoice of that month (``agreementAmount``, the only figure the API gives of an agreement
invoice) and closed (``closedFlag``), as ConnectWise closes an adjustment it has invoiced.

Every write is kept in ``writes`` (method, path, body) so a test can say what reached the PSA.
"""

from __future__ import annotations

import copy
import re
from datetime import date, timedelta
from typing import Any

from tests.recon.connectors import vendors
from tests.recon.connectors.standin import Reply, Request

# The billingItemType the stand-in gives a billed contract charge (3 is a recurring contract service's item;
# the connector reads neither: a billing item without a service is known by its itemName).
CHARGE_ITEM_TYPE = 6
_CONDITION = re.compile(r'([\w/]+)\s*(=|like)\s*("(?:[^"\\]|\\.)*"|null|-?\d+)', re.IGNORECASE)


def _conditions(text: str) -> list[tuple[str, str, Any]]:
    found = []
    for field, op, raw in _CONDITION.findall(text):
        value: Any = None if raw == "null" else int(raw) if raw.lstrip("-").isdigit() else \
            raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        found.append((field, op.lower(), value))
    return found


def _field(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _matches(record: dict[str, Any], conditions: list[tuple[str, str, Any]]) -> bool:
    for field, op, value in conditions:
        actual = _field(record, field)
        if op == "like":
            pattern = "^" + ".*".join(re.escape(part) for part in str(value).split("%")) + "$"
            if not re.match(pattern, str(actual or ""), re.IGNORECASE | re.DOTALL):
                return False
        elif value is None:
            if actual not in (None, ""):
                return False
        elif str(actual) != str(value):
            return False
    return True


def _invalid(resource: str, field: str, message: str) -> Reply:
    return Reply(400, {"code": "InvalidObject", "message": f"{resource} object is invalid",
                       "errors": [{"code": "InvalidField", "message": message, "resource": resource, "field": field}]})


class WritableConnectWise(vendors.ConnectWise):
    """ConnectWise with additions and adjustments that can be written (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(forbidden=frozenset())
        self.data = copy.deepcopy(vendors.CW_DATA)
        self.writes: list[tuple[str, str, Any]] = []
        self.next_id = 5000
        self.lose_answers = 0  # the next N writes are done, but answered 502 (the answer lost on the way)

    def __call__(self, request: Request) -> Reply:
        path = request.path.removeprefix(vendors.CW_PREFIX).strip("/")
        if request.headers.get("authorization") != self.authorization or \
                request.headers.get("clientid") != vendors.CW_CLIENT_ID:
            return super().__call__(request)
        one = re.fullmatch(r"finance/agreements/(\d+)/additions/(\d+)", path)
        if one:
            return self._addition(request, int(one.group(1)), int(one.group(2)))
        listed = re.fullmatch(r"finance/agreements/(\d+)/(additions|adjustments)", path)
        conditions = request.query.get("conditions")
        if listed and (request.method == "POST" or listed.group(2) == "adjustments" or conditions):
            return self._lost(request, self._list(request, int(listed.group(1)), listed.group(2), conditions))
        if path == "finance/agreements" and conditions:
            return Reply(200, [item for item in self.data[path] if _matches(item, _conditions(conditions))])
        return super().__call__(request)

    def _lost(self, request: Request, reply: Reply) -> Reply:
        if request.method != "GET" and reply.status < 300 and self.lose_answers:
            self.lose_answers -= 1
            return Reply(502, {"code": "BadGateway", "message": "upstream connection reset"})
        return reply

    def _agreement(self, agreement: int) -> dict[str, Any] | None:
        return next((item for item in self.data["finance/agreements"] if item["id"] == agreement), None)

    def _addition(self, request: Request, agreement: int, addition: int) -> Reply:
        found = next((item for item in self.data.get(f"finance/agreements/{agreement}/additions", [])
                      if item["id"] == addition), None)
        if found is None:
            return Reply(404, {"code": "NotFound", "message": "Agreement Addition not found"})
        if request.method == "GET":
            return Reply(200, found)
        if request.method != "PATCH":
            return Reply(405, {"code": "MethodNotAllowed", "message": f"{request.method} not allowed"})
        operations = request.json()
        if not isinstance(operations, list):
            return Reply(400, {"code": "InvalidObject", "message": "a JSON Patch list of operations is expected"})
        changed = dict(found)
        for operation in operations:
            field = str(operation.get("path", "")).strip("/")
            if operation.get("op") != "replace" or (field not in changed and field != "cancelledDate"):
                return _invalid("agreementAddition", field, f"Cannot {operation.get('op')} {field!r}")
            value = operation.get("value")
            if field == "quantity" and (not isinstance(value, int | float) or value < 0):
                return _invalid("agreementAddition", "quantity", "Quantity must be greater than or equal to 0")
            changed[field] = value
        self.writes.append(("PATCH", request.path, operations))
        found.update(changed)
        return Reply(200, found)

    def _list(self, request: Request, agreement: int, kind: str, conditions: str | None) -> Reply:
        if self._agreement(agreement) is None:
            return Reply(404, {"code": "NotFound", "message": "Agreement not found"})
        records = self.data.setdefault(f"finance/agreements/{agreement}/{kind}", [])
        if request.method == "GET":  # paged as every ConnectWise list is (``page``, ``pageSize``: 25 unless asked)
            return self.paged(request, [item for item in records if _matches(item, _conditions(conditions or ""))])
        body = request.json() or {}
        refusal = self._check_addition(body) if kind == "additions" else self._check_adjustment(body)
        if refusal is not None:
            return refusal
        self.next_id += 1
        created = {**body, "id": self.next_id, "agreementId": agreement}
        if kind == "additions":
            created.update(lessIncluded=0, cancelledDate=None, agreementId=agreement)
        records.append(created)
        self.writes.append(("POST", request.path, body))
        return Reply(201, created)

    def invoice_adjustments(self, period: str) -> list[dict[str, Any]]:
        """Bill the open agreement adjustments effective up to the end of ``period`` (``YYYY-MM``) on each
        agreement's invoice of that month (made when there is none): their amounts are added to its
        ``agreementAmount`` and they are closed. Returns the invoices changed."""
        end = _month_end(period)
        changed: dict[int, dict[str, Any]] = {}
        for key, adjustments in list(self.data.items()):
            found = re.fullmatch(r"finance/agreements/(\d+)/adjustments", key)
            if not found:
                continue
            agreement = self._agreement(int(found.group(1))) or {}
            for adjustment in adjustments:
                if adjustment.get("closedFlag") or _day(adjustment.get("effectiveDate") or "9999-12-31") > end:
                    continue
                invoice = self._agreement_invoice(agreement, period)
                invoice["agreementAmount"] = round(float(invoice.get("agreementAmount") or 0)
                                                   + float(adjustment["amount"]), 2)
                invoice["total"] = round(float(invoice.get("total") or 0) + float(adjustment["amount"]), 2)
                adjustment.update(closedFlag=True, closedDate=_stamp(end) + "Z")
                changed[invoice["id"]] = invoice
        return list(changed.values())

    def _agreement_invoice(self, agreement: dict[str, Any], period: str) -> dict[str, Any]:
        invoices = self.data["finance/invoices"]
        found = next((item for item in invoices if (item.get("agreement") or {}).get("id") == agreement.get("id")
                      and str(item.get("date", ""))[:7] == period), None)
        if found is None:
            self.next_id += 1
            found = {"id": self.next_id, "invoiceNumber": f"INV-{self.next_id}", "type": "Agreement",
                     "date": f"{period}-01T00:00:00Z", "company": agreement.get("company"),
                     "agreement": {"id": agreement.get("id"), "name": agreement.get("name")},
                     "status": {"id": 1, "name": "New"}, "agreementAmount": 0.0, "total": 0.0}
            invoices.append(found)
        return found

    def _check_addition(self, body: dict[str, Any]) -> Reply | None:
        catalog = {item["identifier"] for item in self.data["procurement/catalog"]}
        if (body.get("product") or {}).get("identifier") not in catalog:
            return _invalid("agreementAddition", "product", "Product not found")
        if body.get("billCustomer") not in ("Billable", "DoNotBill", "NoCharge"):
            return _invalid("agreementAddition", "billCustomer", "Bill Customer is required")
        return None

    def _check_adjustment(self, body: dict[str, Any]) -> Reply | None:
        if not isinstance(body.get("amount"), int | float) or body.get("amount") == 0:
            return _invalid("agreementAdjustment", "amount", "Amount is required")
        if len(str(body.get("description") or "")) > 1000:
            return _invalid("agreementAdjustment", "description", "Description exceeds 1000 characters")
        return None


def _day(text: str) -> date:
    return date.fromisoformat(str(text)[:10])


def _month_end(period: str) -> date:
    first = date.fromisoformat(f"{period}-01")
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00"


class WritableAutotask(vendors.Autotask):
    """Autotask with contract service adjustments, contract services and charges that can be written."""

    def __init__(self) -> None:
        super().__init__()
        self.data = copy.deepcopy(vendors.AT_DATA)
        self.data.setdefault("ContractCharges", [])
        self.fields = {"ContractCharges": {"contractID", "description", "name"},
                       "ContractServices": {"internalDescription"}}
        self.writes: list[tuple[str, str, Any]] = []
        self.next_id = 90000
        self.lose_answers = 0  # the next N writes are done, but answered 502 (the answer lost on the way)

    def __call__(self, request: Request) -> Reply:
        path = request.path.removeprefix(vendors.AT_PREFIX).strip("/")
        headers = request.headers
        signed = (headers.get("apiintegrationcode"), headers.get("username"), headers.get("secret")) == (
            vendors.AT_CODE, vendors.AT_USER, vendors.AT_SECRET)
        if not signed or request.method != "POST" or path.endswith("/query") or "/query/" in path:
            return super().__call__(request)
        body = request.json() or {}
        child = re.fullmatch(r"Contracts/(\d+)/(Services|Charges)", path)
        if path == "ContractServiceAdjustments":
            reply = self._adjust(body)
        elif child:
            reply = self._create_child(int(child.group(1)), child.group(2), body)
        else:
            return Reply(404, {"errors": [f"No route /{path}"]})
        if reply.status < 300:
            self.writes.append(("POST", path, body))
            if self.lose_answers:
                self.lose_answers -= 1
                return Reply(502, {"errors": ["Bad gateway"]})
        return reply

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _adjust(self, body: dict[str, Any]) -> Reply:
        if not body.get("effectiveDate"):
            return Reply(500, {"errors": ["EffectiveDate is required."]})
        change = body.get("unitChange")
        if not isinstance(change, int):
            return Reply(500, {"errors": ["UnitChange must be a whole number."]})
        service = next((item for item in self.data["ContractServices"] if item["id"] == body.get("contractServiceID")),
                       None)
        if service is None or service["contractID"] != body.get("contractID"):
            return Reply(500, {"errors": [f"ContractServiceID {body.get('contractServiceID')} does not belong to "
                                          f"ContractID {body.get('contractID')}."]})
        self._split_units(service, _day(body["effectiveDate"]), change)
        return Reply(200, {"itemId": self._new_id()})

    def _split_units(self, service: dict[str, Any], effective: date, change: int) -> None:
        """Rows from ``effective`` on carry ``change`` more units; a row spanning the date is split there; a
        service with no row reaching the date gets one for the rest of that month."""
        rows = [row for row in self.data["ContractServiceUnits"] if row["contractServiceID"] == service["id"]]
        reached = False
        for row in list(rows):
            start, end = _day(row["startDate"]), _day(row["endDate"])
            if end < effective:
                continue
            reached = True
            if start < effective:
                later = {**row, "id": self._new_id(), "startDate": _stamp(effective), "units": row["units"] + change,
                         "approveAndPostDate": None}
                row["endDate"] = _stamp(effective - timedelta(days=1))
                self.data["ContractServiceUnits"].append(later)
            else:
                row["units"] = row["units"] + change
        if not reached:
            before = max(rows, key=lambda row: row["startDate"], default=None)
            month_end = (effective.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            self.data["ContractServiceUnits"].append({
                "id": self._new_id(), "contractID": service["contractID"], "contractServiceID": service["id"],
                "serviceID": service["serviceID"], "startDate": _stamp(effective), "endDate": _stamp(month_end),
                "units": (before["units"] if before else 0) + change, "price": service.get("unitPrice"),
                "cost": service.get("unitCost"), "internalCurrencyPrice": service.get("unitPrice"),
                "approveAndPostDate": None})

    def bill_month(self, period: str) -> list[dict[str, Any]]:
        """Autotask's month: each contract service with units in effect on the month's first day gets its unit
        row for the month (when it has none reaching into it) and a billing item of those units at its price
        on its company's invoice of the month; then the month's charges are billed (``invoice_charges``).
        Returns the billing items made."""
        first, end = date.fromisoformat(f"{period}-01"), _month_end(period)
        made = []
        for service in list(self.data["ContractServices"]):
            rows = [row for row in self.data["ContractServiceUnits"] if row["contractServiceID"] == service["id"]
                    and _day(row["startDate"]) <= first]
            if not rows:
                continue
            latest = max(rows, key=lambda row: row["startDate"])
            if _day(latest["endDate"]) < first:
                latest = {**latest, "id": self._new_id(), "startDate": _stamp(first), "endDate": _stamp(end),
                          "approveAndPostDate": None}
                self.data["ContractServiceUnits"].append(latest)
            if not latest["units"]:
                continue
            contract = next(item for item in self.data["Contracts"] if item["id"] == service["contractID"])
            invoice = self._invoice_of(contract["companyID"], end)
            name = next((item["name"] for item in self.data["Services"] if item["id"] == service["serviceID"]), "")
            quantity, rate = float(latest["units"]), float(latest.get("price") or service.get("unitPrice") or 0)
            item = {"id": self._new_id(), "invoiceID": invoice["id"], "companyID": contract["companyID"],
                    "contractID": contract["id"], "contractServiceID": service["id"], "serviceID": service["serviceID"],
                    "billingItemType": 3, "itemDate": _stamp(first), "itemName": name, "description": name,
                    "quantity": quantity, "rate": rate, "extendedPrice": round(quantity * rate, 2), "taxDollars": 0,
                    "totalAmount": round(quantity * rate, 2), "postedDate": _stamp(end)}
            self.data["BillingItems"].append(item)
            invoice["invoiceTotal"] = round(float(invoice.get("invoiceTotal") or 0) + item["totalAmount"], 2)
            made.append(item)
        return made + self.invoice_charges(period)

    def invoice_charges(self, period: str) -> list[dict[str, Any]]:
        """Bill the contract charges purchased up to the end of ``period`` (``YYYY-MM``) and not billed yet:
        each becomes a BillingItem (its ``itemName`` the charge's name, its ``description`` the charge's) on
        its company's invoice dated the month's end (made when there is none). Returns the items made."""
        end = _month_end(period)
        made = []
        for charge in self.data["ContractCharges"]:
            if charge.get("isBilled") or _day(charge["datePurchased"]) > end:
                continue
            contract = next(item for item in self.data["Contracts"] if item["id"] == charge["contractID"])
            invoice = self._invoice_of(contract["companyID"], end)
            quantity, rate = float(charge["unitQuantity"]), float(charge.get("unitPrice") or 0)
            item = {"id": self._new_id(), "invoiceID": invoice["id"], "companyID": contract["companyID"],
                    "contractID": contract["id"], "billingItemType": CHARGE_ITEM_TYPE, "itemDate": _stamp(end),
                    "itemName": charge["name"], "description": charge.get("description"), "quantity": quantity,
                    "rate": rate, "extendedPrice": round(quantity * rate, 2), "taxDollars": 0,
                    "totalAmount": round(quantity * rate, 2), "postedDate": _stamp(end)}
            self.data["BillingItems"].append(item)
            invoice["invoiceTotal"] = round(float(invoice.get("invoiceTotal") or 0) + item["totalAmount"], 2)
            charge["isBilled"] = True
            made.append(item)
        return made

    def _invoice_of(self, company: int, end: date) -> dict[str, Any]:
        invoices = self.data["Invoices"]
        found = next((item for item in invoices if item["companyID"] == company and not item.get("isVoided")
                      and str(item["invoiceDateTime"])[:7] == end.isoformat()[:7]), None)
        if found is None:
            found = {"id": self._new_id(), "companyID": company, "invoiceNumber": f"AT-{self.next_id}",
                     "invoiceDateTime": _stamp(end), "dueDate": _stamp(end + timedelta(days=30)),
                     "invoiceTotal": 0.0, "isVoided": False}
            invoices.append(found)
        return found

    def _create_child(self, contract: int, kind: str, body: dict[str, Any]) -> Reply:
        if not any(item["id"] == contract for item in self.data["Contracts"]):
            return Reply(404, {"errors": [f"Contract {contract} not found."]})
        if body.get("contractID") not in (None, contract):
            return Reply(500, {"errors": ["ContractID does not match the parent contract."]})
        if kind == "Services":
            if not any(item["id"] == body.get("serviceID") for item in self.data["Services"]):
                return Reply(500, {"errors": [f"ServiceID {body.get('serviceID')} is not a service."]})
            created = {"id": self._new_id(), "contractID": contract, "unitCost": None, **body}
            self.data["ContractServices"].append(created)
            return Reply(200, {"itemId": created["id"]})
        missing = [name for name in ("name", "datePurchased", "chargeType", "unitQuantity") if body.get(name) is None]
        if missing:
            return Reply(500, {"errors": [f"{name} is required." for name in missing]})
        created = {"id": self._new_id(), "contractID": contract, **body}
        self.data["ContractCharges"].append(created)
        return Reply(200, {"itemId": created["id"]})
