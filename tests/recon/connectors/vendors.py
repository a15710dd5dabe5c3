"""Stand-ins for ConnectWise PSA, Pax8 and Microsoft Partner Center, built from their public API docs,
and one small MSP month (2026-02) that all three agree on.

Each stand-in checks authentication the way the real service does (Basic ``company+public:private`` and
``clientId`` for ConnectWise; OAuth client-credentials bearer tokens for Pax8 and Partner Center),
pages the way it does (``Link`` rel="next"; ``page.totalPages``; ``links.next`` with an
``MS-ContinuationToken`` header) and refuses with the status codes and error bodies it documents.

The month plants three findings: Acme uses 27 Microsoft 365 seats (Pax8) but its agreement says 25 and
its agreement invoice (ConnectWise gives only its total, agreementAmount 1,000.00 = 25 x 22.00 + 10 x
45.00) bills 25: the total is 44.00 short of the agreement's expected 1,044.00 (agreement_total_mismatch,
sku AGREEMENT-11, -44.00); Globex is invoiced 10 seats at 20.00 against a contract price of
22.00 (price_below_contract, -20.00); Acme has 2 billable hours nobody invoiced (unbilled_time, -300.00).
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import urlencode

from tests.recon.connectors.standin import Reply, Request, page_of

MONTH = "2026-02"

CW_PREFIX = "/v4_6_release/apis/3.0"
CW_COMPANY, CW_PUBLIC, CW_PRIVATE, CW_CLIENT_ID = "msptest", "pubKEY123", "cw-private-SECRET-9f8e7d", "client-guid-1"
PAX8_CLIENT_ID, PAX8_SECRET = "pax8-app", "pax8-client-SECRET-5a4b3c"
PC_TENANT, PC_CLIENT_ID, PC_SECRET = "tenant-guid", "pc-app", "pc-client-SECRET-1z2y3x"

ACME = {"id": 1, "identifier": "AcmeCorp", "name": "Acme Corp"}
GLOBEX = {"id": 2, "identifier": "Globex", "name": "Globex LLC"}
INITECH = {"id": 3, "identifier": "Initech", "name": "Initech"}

CW_DATA: dict[str, Any] = {
    "company/companies": [ACME, GLOBEX, INITECH],
    "finance/agreements": [
        {"id": 11, "name": "Acme MSA", "company": ACME, "billingCycle": {"id": 1, "name": "Monthly"},
         "startDate": "2025-01-01T00:00:00Z"},
        {"id": 12, "name": "Globex MSA", "company": GLOBEX, "billingCycle": {"id": 1, "name": "Monthly"},
         "startDate": "2025-06-01T00:00:00Z"},
    ],
    "finance/agreements/11/additions": [
        {"id": 101, "product": {"id": 1, "identifier": "M365-BP"}, "quantity": 25, "lessIncluded": 0,
         "unitPrice": 22.0, "unitCost": 19.8, "billCustomer": "Billable", "effectiveDate": "2025-01-01T00:00:00Z",
         "cancelledDate": None, "agreementId": 11, "description": "Microsoft 365 Business Premium"},
        {"id": 102, "product": {"id": 2, "identifier": "MANAGED-WS"}, "quantity": 10, "lessIncluded": 0,
         "unitPrice": 45.0, "billCustomer": "Billable", "agreementId": 11, "description": "Managed workstation"},
        {"id": 103, "product": {"id": 3, "identifier": "HELPDESK"}, "quantity": 1, "unitPrice": 300.0,
         "billCustomer": "DoNotBill", "effectiveDate": "2025-01-01T00:00:00Z", "agreementId": 11},
    ],
    "finance/agreements/12/additions": [
        {"id": 201, "product": {"id": 1, "identifier": "M365-BP"}, "quantity": 10, "unitPrice": 22.0,
         "unitCost": 19.8, "billCustomer": "Billable", "effectiveDate": "2025-06-01T00:00:00Z", "agreementId": 12},
    ],
    "finance/invoices": [
        {"id": 499, "invoiceNumber": "INV-0999", "type": "Standard", "date": "2026-01-01T00:00:00Z",
         "company": GLOBEX, "status": {"id": 1, "name": "Paid"}},
        {"id": 501, "invoiceNumber": "INV-1001", "type": "Agreement", "date": "2026-02-01T00:00:00Z",
         "dueDate": "2026-03-03T00:00:00Z", "company": ACME, "status": {"id": 2, "name": "Sent"},
         "agreement": {"id": 11, "name": "Acme MSA"}, "agreementAmount": 1000.0, "subtotal": 1000.0,
         "total": 1000.0},
        {"id": 502, "invoiceNumber": "INV-1002", "type": "Standard", "date": "2026-02-01T00:00:00Z",
         "dueDate": "2026-03-03T00:00:00Z", "company": GLOBEX, "status": {"id": 2, "name": "Sent"}},
    ],
    "procurement/products": [
        {"id": 900, "catalogItem": {"identifier": "M365-BP"}, "quantity": 10, "price": 22.0, "extPrice": 220.0,
         "invoice": {"id": 499, "identifier": "INV-0999"}},
        {"id": 901, "catalogItem": {"identifier": "M365-BP"}, "description": "Microsoft 365 Business Premium",
         "quantity": 10, "price": 20.0, "extPrice": 200.0, "invoice": {"id": 502, "identifier": "INV-1002"}},
    ],
    "time/entries": [
        {"id": 7001, "company": ACME, "member": {"identifier": "jdoe", "name": "Jane Doe"},
         "timeStart": "2026-02-10T14:00:00Z", "actualHours": 2.0, "billableOption": "Billable",
         "hourlyRate": 150.0, "workType": {"name": "Remote Support"}, "chargeToType": "ServiceTicket",
         "chargeToId": 4321},
        {"id": 7002, "company": ACME, "member": {"identifier": "jdoe"}, "timeStart": "2026-02-11T09:00:00Z",
         "actualHours": 1.5, "billableOption": "NoCharge", "hourlyRate": 150.0},
        {"id": 7003, "company": GLOBEX, "member": {"identifier": "bsmith"}, "timeStart": "2026-02-12T09:00:00Z",
         "actualHours": 1.0, "billableOption": "Billable", "hourlyRate": 150.0,
         "invoice": {"id": 502, "identifier": "INV-1002"}},
        {"id": 6999, "company": ACME, "timeStart": "2026-01-30T09:00:00Z", "actualHours": 3.0,
         "billableOption": "Billable", "hourlyRate": 150.0},
    ],
    "procurement/catalog": [
        {"id": 1, "identifier": "M365-BP", "description": "Microsoft 365 Business Premium", "price": 22.0,
         "cost": 19.8, "vendor": {"name": "Pax8"}, "vendorSku": "MS-OFF-BUS-PREM;CFQ7TTC0LCHC"},
        {"id": 2, "identifier": "MANAGED-WS", "description": "Managed workstation", "price": 45.0},
        {"id": 3, "identifier": "HELPDESK", "description": "Helpdesk", "price": 300.0},
    ],
    "system/info": {"version": "v2025.1.12345", "isCloud": True, "serverTimeZone": "Eastern Standard Time"},
}


def _filtered(records: list[dict[str, Any]], conditions: str | None) -> list[dict[str, Any]]:
    """The two ``conditions`` forms the connector sends: a date range, and ``invoice/id in (...)``."""
    if not conditions:
        return records
    between = re.fullmatch(r"(\w+) >= \[(.+?)\] and \1 < \[(.+?)\]", conditions)
    if between:
        field, low, high = between.groups()
        return [r for r in records if low <= str(r.get(field) or "") < high]
    ids = re.fullmatch(r"invoice/id in \(([\d,]+)\)", conditions)
    if ids:
        wanted = {int(i) for i in ids.group(1).split(",")}
        return [r for r in records if (r.get("invoice") or {}).get("id") in wanted]
    raise AssertionError(f"unexpected conditions {conditions!r}")


class ConnectWise:
    """ConnectWise PSA REST v4_6 stand-in: Basic auth + clientId, ``Link`` header paging."""

    def __init__(self, forbidden: frozenset[str] = frozenset()) -> None:
        self.base = ""
        self.forbidden = forbidden
        expected = f"{CW_COMPANY}+{CW_PUBLIC}:{CW_PRIVATE}".encode()
        self.authorization = "Basic " + base64.b64encode(expected).decode()

    def __call__(self, request: Request) -> Reply:
        path = request.path.removeprefix(CW_PREFIX).strip("/")
        headers = request.headers
        if headers.get("authorization") != self.authorization or headers.get("clientid") != CW_CLIENT_ID:
            return Reply(401, {"code": "Unauthorized", "message": "Authentication failed: invalid credentials"})
        if path in self.forbidden:
            return Reply(403, {"code": "Forbidden", "message": "You do not have access to this record type"})
        if path not in CW_DATA:
            return Reply(404, {"code": "NotFound", "message": f"no route {path}"})
        if isinstance(CW_DATA[path], dict):
            return Reply(200, CW_DATA[path])
        records = _filtered(CW_DATA[path], request.query.get("conditions"))
        page, size = int(request.query.get("page", 1)), int(request.query.get("pageSize", 25))
        body = page_of(records, page - 1, size)
        links = []
        if page * size < len(records):
            query = {**request.query, "page": page + 1}
            links.append(f'<{self.base}{request.path}?{urlencode(query)}>; rel="next"')
        return Reply(200, body, {"Link": ", ".join(links)} if links else {})


PAX8_COMPANIES = [{"id": "c-acme", "name": "ACME Corp."}, {"id": "c-glob", "name": "Globex LLC"}]
PAX8_INVOICES = [
    {"id": "inv-jan", "invoiceDate": "2026-01-01", "dueDate": "2026-01-31", "status": "Paid", "total": 594.0},
    {"id": "inv-feb", "invoiceDate": "2026-02-01", "dueDate": "2026-03-03", "status": "Unpaid", "total": 661.8},
]


def _pax8_item(item_id: str, company_id: str, company_name: str | None, sku: str, name: str,
               quantity: float | None, price: float, cost: float) -> dict[str, Any]:
    return {"id": item_id, "type": "subscription", "companyId": company_id, "companyName": company_name,
            "sku": sku, "productName": name, "vendorName": "Microsoft", "quantity": quantity,
            "startPeriod": "2026-02-01", "endPeriod": "2026-02-28", "price": price, "cost": cost,
            "costTotal": round(cost * (quantity or 0), 2), "subTotal": round(price * (quantity or 0), 2),
            "total": round(price * (quantity or 0), 2), "term": "Monthly", "subscriptionId": f"sub-{item_id}",
            "currencyCode": "USD"}


PAX8_ITEMS = {
    "inv-jan": [_pax8_item("j1", "c-acme", "ACME Corp.", "MS-OFF-BUS-PREM", "Microsoft 365 Business Premium",
                           25, 22.0, 19.8)],
    "inv-feb": [
        _pax8_item("f1", "c-acme", "ACME Corp.", "MS-OFF-BUS-PREM", "Microsoft 365 Business Premium", 27, 22.0, 19.8),
        _pax8_item("f2", "c-acme", None, "DATTO-SAAS-PROT", "Datto SaaS Protection", 27, 3.5, 2.45),
        _pax8_item("f3", "c-glob", "Globex LLC", "MS-EXO-P1", "Exchange Online (Plan 1)", None, 4.0, 3.6),
    ],
}


class Pax8:
    """Pax8 partner API stand-in: JSON client-credentials token, ``page``/``size`` with ``page.totalPages``."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self, request: Request) -> Reply:
        if request.path == "/oauth/token":
            return self._token(request)
        if request.headers.get("authorization", "") not in {f"Bearer {token}" for token in self.issued}:
            return Reply(401, {"type": "about:blank", "status": 401, "message": "Full authentication is required"})
        route = request.path.removeprefix("/v1/")
        items = re.fullmatch(r"invoices/([\w-]+)/items", route)
        records = (PAX8_COMPANIES if route == "companies" else PAX8_INVOICES if route == "invoices"
                   else PAX8_ITEMS.get(items.group(1), []) if items else None)
        if records is None:
            return Reply(404, {"status": 404, "message": f"No route {route}"})
        page, size = int(request.query.get("page", 0)), int(request.query.get("size", 10))
        total_pages = -(-len(records) // size)
        return Reply(200, {"content": page_of(records, page, size),
                           "page": {"size": size, "totalElements": len(records), "totalPages": total_pages,
                                    "number": page}})

    def _token(self, request: Request) -> Reply:
        body = request.json()
        if (body.get("client_id"), body.get("client_secret"), body.get("grant_type")) != (
                PAX8_CLIENT_ID, PAX8_SECRET, "client_credentials") or body.get("audience") != "https://api.pax8.com":
            return Reply(401, {"error": "access_denied", "error_description": "Unauthorized"})
        token = f"pax8-token-{len(self.issued) + 1}"
        self.issued.append(token)
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 86400})


def _pc_line(customer: str, product_id: str, sku_name: str, quantity: int, unit: float, effective: float,
             start: str = "2026-02-01", end: str = "2026-02-28") -> dict[str, Any]:
    return {"partnerId": "partner-1", "customerId": f"cust-{customer[:3].lower()}", "customerName": customer,
            "customerDomainName": f"{customer.split()[0].lower()}.onmicrosoft.com", "invoiceNumber": "G000000201",
            "productId": product_id, "skuId": "0002", "availabilityId": "CFQ7TTC0K8P5", "skuName": sku_name,
            "productName": sku_name, "publisherName": "Microsoft Corporation", "chargeType": "cycleCharge",
            "unitPrice": unit, "effectiveUnitPrice": effective, "unitType": "Licenses", "quantity": quantity,
            "billableQuantity": quantity, "subtotal": round(effective * quantity, 2), "taxTotal": 0,
            "totalForCustomer": round(effective * quantity, 2), "currency": "USD",
            "subscriptionId": f"sub-{product_id}", "chargeStartDate": f"{start}T00:00:00Z",
            "chargeEndDate": f"{end}T00:00:00Z", "termAndBillingCycle": "1 Month Subscription",
            "attributes": {"objectType": "OneTimeInvoiceLineItem"}}


PC_INVOICES = [
    {"id": "G000000101", "invoiceDate": "2026-01-06T00:00:00Z", "billingPeriodStartDate": "2026-01-01T00:00:00Z",
     "billingPeriodEndDate": "2026-01-31T00:00:00Z", "totalCharges": 198.0, "currencyCode": "USD"},
    {"id": "G000000201", "invoiceDate": "2026-02-06T00:00:00Z", "billingPeriodStartDate": "2026-02-01T00:00:00Z",
     "billingPeriodEndDate": "2026-02-28T00:00:00Z", "totalCharges": 248.0, "currencyCode": "USD"},
]
PC_LINES = {
    "G000000101": [_pc_line("Globex LLC", "CFQ7TTC0LCHC", "Microsoft 365 Business Premium", 10, 22.0, 19.8,
                            "2026-01-01", "2026-01-31")],
    "G000000201": [
        _pc_line("Globex LLC", "CFQ7TTC0LCHC", "Microsoft 365 Business Premium", 10, 22.0, 19.8),
        _pc_line("Globex LLC", "CFQ7TTC0QW5P", "Microsoft Teams Essentials", 5, 4.0, 3.6),
        _pc_line("Initech", "CFQ7TTC0LCHC", "Microsoft 365 Business Premium", 3, 22.0, 19.8),
    ],
}


class PartnerCenter:
    """Partner Center stand-in: form token at ``/<tenant>/oauth2/token``, ``links.next`` continuation paging."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self, request: Request) -> Reply:
        if request.path == f"/{PC_TENANT}/oauth2/token":
            return self._token(request)
        if request.headers.get("authorization", "") not in {f"Bearer {token}" for token in self.issued}:
            return Reply(401, {"code": 401, "description": "Authorization failed: token expired or invalid",
                               "errorName": "Unauthorized"})
        route = request.path.removeprefix("/v1/")
        if route == "invoices":
            return Reply(200, {"totalCount": len(PC_INVOICES), "items": PC_INVOICES,
                               "attributes": {"objectType": "Collection"}})
        first = re.fullmatch(r"invoices/(\w+)/lineitems", route)
        following = re.fullmatch(r"invoices/(\w+)/lineitems/OneTime/BillingLineItems", route)
        if first and (request.query.get("provider"), request.query.get("invoicelineitemtype")) == (
                "onetime", "billinglineitems"):
            return self._lines(first.group(1), 0, int(request.query.get("size", 2000)))
        if following and request.query.get("seekOperation") == "Next":
            offset, size = map(int, request.headers["ms-continuationtoken"].split(":"))
            return self._lines(following.group(1), offset, size)
        return Reply(404, {"code": 404, "description": f"Resource not found: {route}"})

    def _lines(self, invoice_id: str, offset: int, size: int) -> Reply:
        lines = PC_LINES.get(invoice_id, [])
        body: dict[str, Any] = {"totalCount": len(lines[offset:offset + size]), "items": lines[offset:offset + size],
                                "links": {"self": {"uri": f"/invoices/{invoice_id}/lineitems", "method": "GET",
                                                   "headers": []}},
                                "attributes": {"objectType": "Collection"}}
        if offset + size < len(lines):
            token = f"{offset + size}:{size}"
            body["continuationToken"] = token
            body["links"]["next"] = {"uri": f"/invoices/{invoice_id}/lineitems/OneTime/BillingLineItems"
                                            "?seekOperation=Next", "method": "GET",
                                     "headers": [{"key": "MS-ContinuationToken", "value": token}]}
        return Reply(200, body)

    def _token(self, request: Request) -> Reply:
        form = request.form()
        if (form.get("client_id"), form.get("client_secret"), form.get("grant_type")) != (
                PC_CLIENT_ID, PC_SECRET, "client_credentials") or form.get("resource") != (
                "https://api.partnercenter.microsoft.com"):
            return Reply(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client "
                               "secret provided. Ensure the secret being sent in the request is the client secret "
                               "value, not the client secret ID."})
        token = f"pc-token-{len(self.issued) + 1}"
        self.issued.append(token)
        return Reply(200, {"token_type": "Bearer", "expires_in": "3599", "access_token": token})
