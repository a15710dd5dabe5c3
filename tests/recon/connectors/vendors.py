"""Stand-ins for ConnectWise PSA, Autotask PSA, Pax8 and Microsoft Partner Center / Graph (with Azure
Blob Storage for the export files), built from their public API docs, and one small MSP month (2026-02)
that they agree on.

Each stand-in checks authentication the way the real service does (Basic ``company+public:private`` and
``clientId`` for ConnectWise; the ``ApiIntegrationCode`` / ``UserName`` / ``Secret`` headers for
Autotask; OAuth client-credentials bearer tokens for Pax8, Partner Center and Graph; a SAS signature and no
bearer for the storage), pages the way it does (``Link`` rel="next"; ``pageDetails.nextPageUrl``;
``page.totalPages``; ``links.next`` with an ``MS-ContinuationToken`` header), answers Graph's export
asynchronously (202 + ``Location``, "running" then "succeeded" with a manifest) and refuses with the
status codes and error bodies it documents.

The month plants three findings: Acme uses 27 Microsoft 365 seats (Pax8) but its agreement says 25 and
its agreement invoice (ConnectWise gives only its total, agreementAmount 1,000.00 = 25 x 22.00 + 10 x
45.00) bills 25: the total is 44.00 short of the agreement's expected 1,044.00 (agreement_total_mismatch,
sku AGREEMENT-11, -44.00); Globex is invoiced 10 seats at 20.00 against a contract price of
22.00 (price_below_contract, -20.00); Acme has 2 billable hours nobody invoiced (unbilled_time, -300.00).
The Autotask data says the same of the same clients (and Acme's workstations go from 15 to 17 on the 15th).
"""
from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import re
from typing import Any
from urllib.parse import quote, urlencode

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
        self.data = CW_DATA  # what it serves (psa_writes.WritableConnectWise serves a copy it changes)
        expected = f"{CW_COMPANY}+{CW_PUBLIC}:{CW_PRIVATE}".encode()
        self.authorization = "Basic " + base64.b64encode(expected).decode()

    def __call__(self, request: Request) -> Reply:
        path = request.path.removeprefix(CW_PREFIX).strip("/")
        headers = request.headers
        if headers.get("authorization") != self.authorization or headers.get("clientid") != CW_CLIENT_ID:
            return Reply(401, {"code": "Unauthorized", "message": "Authentication failed: invalid credentials"})
        if path in self.forbidden:
            return Reply(403, {"code": "Forbidden", "message": "You do not have access to this record type"})
        if path not in self.data:
            return Reply(404, {"code": "NotFound", "message": f"no route {path}"})
        if isinstance(self.data[path], dict):
            return Reply(200, self.data[path])
        return self.paged(request, _filtered(self.data[path], request.query.get("conditions")))

    def paged(self, request: Request, records: list[Any]) -> Reply:
        """One page of ``records`` as ConnectWise pages a list (``page``, ``pageSize``: 25 unless asked), with a
        ``Link`` rel="next" header while more follow."""
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


PAX8_SUBSCRIPTIONS = [
    {"id": "sub-f1", "companyId": "c-acme", "productId": "prod-bp", "quantity": 27, "startDate": "2025-01-01T00:00:00Z",
     "status": "Active", "billingTerm": "Monthly", "productName": "Microsoft 365 Business Premium"},
    {"id": "sub-pp", "companyId": "c-glob", "productId": "prod-pp", "quantity": 1, "startDate": "2025-06-01T00:00:00Z",
     "status": "Active", "billingTerm": "Monthly", "productName": "Proofpoint Essentials - Professional"},
    {"id": "sub-old", "companyId": "c-glob", "productId": "prod-pp", "quantity": 1, "startDate": "2024-01-01T00:00:00Z",
     "endDate": "2025-05-31T00:00:00Z", "status": "Cancelled", "billingTerm": "Monthly",
     "productName": "Proofpoint Essentials - Professional"},
]
PAX8_PRODUCTS = {"prod-bp": {"id": "prod-bp", "name": "Microsoft 365 Business Premium", "vendorName": "Microsoft",
                             "sku": "MS-OFF-BUS-PREM", "vendorSku": "CFQ7TTC0LCHC:0002"},
                 "prod-pp": {"id": "prod-pp", "name": "Proofpoint Essentials - Professional",
                             "vendorName": "Proofpoint", "sku": "PP-ESS-PRO", "vendorSku": "ESS-PRO"}}
PAX8_USAGE_SUMMARIES = {"sub-pp": [{"id": "us-1", "companyId": "c-glob", "subscriptionId": "sub-pp",
                                    "productId": "prod-pp", "resourceGroup": "Globex LLC", "vendorName": "Proofpoint",
                                    "currentCharges": 42.64, "currencyCode": "USD", "partnerTotal": 27.68,
                                    "isTrial": False}]}


def _usage_line(day: str, quantity: int) -> dict[str, Any]:
    return {"usageSummaryId": "us-1", "usageDate": day, "productName": "Proofpoint Essentials - Professional",
            "productId": "prod-pp", "unitOfMeasure": "User", "quantity": quantity, "currentCharges": 5.33 * quantity,
            "currentProfit": 1.87 * quantity, "partnerTotal": 3.46 * quantity, "unitPrice": 5.33,
            "currencyCode": "USD", "isTrial": False}


# usage is recorded on the days it happens (the usage-lines endpoint answers one usageDate at a time)
PAX8_USAGE_LINES = {("us-1", "2026-01-31"): [_usage_line("2026-01-31", 4)],
                    ("us-1", "2026-02-14"): [_usage_line("2026-02-14", 4)],
                    ("us-1", "2026-02-15"): [_usage_line("2026-02-15", 3)]}


class Pax8:
    """Pax8 partner API stand-in (its published OpenAPI): JSON client-credentials token, ``page``/``size``
    with ``page.totalPages``, invoices filtered by ``invoiceDateRangeStart`` / ``End`` (inclusive),
    subscriptions, usage summaries (404 for an unknown subscription) and usage lines (``usageDate``
    required, 422 without), products."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self, request: Request) -> Reply:
        if request.path == "/oauth/token":
            return self._token(request)
        if request.headers.get("authorization", "") not in {f"Bearer {token}" for token in self.issued}:
            return Reply(401, {"type": "about:blank", "status": 401, "message": "Full authentication is required"})
        route = request.path.removeprefix("/v1/")
        product = re.fullmatch(r"products/([\w-]+)", route)
        if product:
            found = PAX8_PRODUCTS.get(product.group(1))
            return Reply(200, found) if found else Reply(404, {"status": 404, "message": "Invalid productId"})
        if re.fullmatch(r"usage-summaries/[\w-]+/usage-lines", route) and not request.query.get("usageDate"):
            return Reply(422, {"type": "validation", "status": 422, "message": "usageDate is required",
                               "instance": request.path})
        records = self._records(route, request.query)
        if records is None:
            return Reply(404, {"status": 404, "message": f"Invalid id or no route: {route}", "instance": request.path})
        page, size = int(request.query.get("page", 0)), int(request.query.get("size", 10))
        total_pages = -(-len(records) // size)
        return Reply(200, {"content": page_of(records, page, size),
                           "page": {"size": size, "totalElements": len(records), "totalPages": total_pages,
                                    "number": page}})

    def _records(self, route: str, query: dict[str, str]) -> list[dict[str, Any]] | None:
        items = re.fullmatch(r"invoices/([\w-]+)/items", route)
        summaries = re.fullmatch(r"subscriptions/([\w-]+)/usage-summaries", route)
        lines = re.fullmatch(r"usage-summaries/([\w-]+)/usage-lines", route)
        known = {subscription["id"] for subscription in PAX8_SUBSCRIPTIONS}
        if route == "invoices":
            low, high = query.get("invoiceDateRangeStart", ""), query.get("invoiceDateRangeEnd", "9999")
            return [invoice for invoice in PAX8_INVOICES if low <= invoice["invoiceDate"] <= high]
        if summaries:
            return PAX8_USAGE_SUMMARIES.get(summaries.group(1), []) if summaries.group(1) in known else None
        if lines:
            return PAX8_USAGE_LINES.get((lines.group(1), query["usageDate"]), [])
        tables: dict[str, list[dict[str, Any]]] = {"companies": PAX8_COMPANIES, "subscriptions": PAX8_SUBSCRIPTIONS}
        return PAX8_ITEMS.get(items.group(1), []) if items else tables.get(route)

    def _token(self, request: Request) -> Reply:
        body = request.json()
        if (body.get("client_id"), body.get("client_secret"), body.get("grant_type")) != (
                PAX8_CLIENT_ID, PAX8_SECRET, "client_credentials") or body.get("audience") != "https://api.pax8.com":
            return Reply(401, {"error": "access_denied", "error_description": "Unauthorized"})
        token = f"pax8-token-{len(self.issued) + 1}"
        self.issued.append(token)
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 86400})


# ----------------------------------------------------------------------------------- Microsoft Partner Center

V1_MONTH = "2024-01"  # a billing period Microsoft serves through API v1 only (before February 2024)
MS_LEGACY = "D040000201"  # a legacy license-based invoice: no reconciliation line items in either API


def _pc_line(customer: str, product_id: str, sku_name: str, quantity: int, unit: float, effective: float,
             start: str, end: str, invoice: str) -> dict[str, Any]:
    """A v1 one-time billing line item ("Get invoice line items" response example's fields; the pricing currency
    and its rate to the billing currency as the OneTimeInvoiceLineItem model has them: PricingCurrency,
    PCToBCExchangeRate, PCToBCExchangeRateDate)."""
    return {"partnerId": "partner-1", "customerId": f"cust-{customer[:3].lower()}", "customerName": customer,
            "customerDomainName": f"{customer.split()[0].lower()}.onmicrosoft.com", "invoiceNumber": invoice,
            "productId": product_id, "skuId": "0002", "availabilityId": "CFQ7TTC0K8P5", "skuName": sku_name,
            "productName": sku_name, "publisherName": "Microsoft Corporation", "chargeType": "cycleCharge",
            "unitPrice": unit, "effectiveUnitPrice": effective, "unitType": "Licenses", "quantity": quantity,
            "billableQuantity": quantity, "subtotal": round(effective * quantity, 2), "taxTotal": 0,
            "totalForCustomer": round(effective * quantity, 2), "currency": "USD", "pricingCurrency": "USD",
            "pcToBCExchangeRate": 1, "pcToBCExchangeRateDate": f"{start}T00:00:00Z",
            "subscriptionId": f"sub-{product_id}", "chargeStartDate": f"{start}T00:00:00Z",
            "chargeEndDate": f"{end}T00:00:00Z", "termAndBillingCycle": "1 Month Subscription",
            "productQualifiers": [], "attributes": {"objectType": "OneTimeInvoiceLineItem"}}


def ms_line(customer: str, product_id: str, sku_name: str, quantity: int, unit: str, effective: str,
            start: str, end: str, invoice: str, **fields: Any) -> dict[str, Any]:
    """A v2 billed reconciliation line: the ``full`` attribute set (Microsoft Graph, attributeSet), JSON-typed
    the way the JSON lines carry it. ``fields`` override (ChargeType, ProductQualifiers, Subtotal...)."""
    subtotal = str(round(float(effective) * quantity, 2))
    line: dict[str, Any] = {
        "PartnerId": "3b33e682-00c3-41ee-9dd2-a548adf56438", "CustomerId": f"cust-{customer[:3].lower()}",
        "CustomerName": customer, "CustomerDomainName": f"{customer.split()[0].lower()}.onmicrosoft.com",
        "CustomerCountry": "US", "InvoiceNumber": invoice, "MpnId": "4391507", "Tier2MpnId": "",
        "OrderId": f"order-{product_id[-4:].lower()}", "OrderDate": "2025-02-20T08:30:00", "ProductId": product_id,
        "SkuId": "0002", "AvailabilityId": "CFQ7TTC0K8P5", "SkuName": sku_name, "ProductName": sku_name,
        "ChargeType": "cycleCharge", "UnitPrice": float(unit), "Quantity": quantity, "Subtotal": float(subtotal),
        "TaxTotal": 0, "Total": float(subtotal), "Currency": "USD", "PriceAdjustmentDescription": "",
        "PublisherName": "Microsoft Corporation", "PublisherId": "", "SubscriptionDescription": sku_name,
        "SubscriptionId": f"sub-{customer[:3].lower()}-{product_id[-4:].lower()}",
        "ChargeStartDate": f"{start}T00:00:00", "ChargeEndDate": f"{end}T00:00:00",
        "TermAndBillingCycle": "One-Year commitment for monthly/yearly billing",
        "EffectiveUnitPrice": float(effective), "UnitType": "Licenses", "AlternateId": "alt-1",
        "BillableQuantity": quantity, "BillingFrequency": "Monthly", "PricingCurrency": "USD",
        "PCToBCExchangeRate": 1, "PCToBCExchangeRateDate": "2026-01-31T00:00:00", "MeterDescription": "",
        "ReservationOrderId": "", "CreditReasonCode": "", "SubscriptionStartDate": "2025-02-20T00:00:00",
        "SubscriptionEndDate": "2027-02-19T00:00:00", "ReferenceId": "", "ProductQualifiers": [],
        "PromotionId": "", "ProductCategory": "License"}
    return {**line, **fields}


MS_INVOICES = [
    {"id": "G000000051", "invoiceDate": "2024-02-08T00:00:00Z", "billingPeriodStartDate": "2024-01-01T00:00:00Z",
     "billingPeriodEndDate": "2024-01-31T00:00:00Z", "totalCharges": 248.0, "currencyCode": "USD",
     "invoiceType": "OneTime", "documentType": "invoice"},
    {"id": "G000000101", "invoiceDate": "2026-02-06T00:00:00Z", "billingPeriodStartDate": "2026-01-01T00:00:00Z",
     "billingPeriodEndDate": "2026-01-31T00:00:00Z", "totalCharges": 198.0, "currencyCode": "USD",
     "invoiceType": "OneTime", "documentType": "invoice"},
    {"id": "G000000201", "invoiceDate": "2026-03-06T00:00:00Z", "billingPeriodStartDate": "2026-02-01T00:00:00Z",
     "billingPeriodEndDate": "2026-02-28T00:00:00Z", "totalCharges": 248.0, "currencyCode": "USD",
     "invoiceType": "OneTime", "documentType": "invoice"},
    {"id": MS_LEGACY, "invoiceDate": "2026-02-21T00:00:00Z", "billingPeriodStartDate": "2026-02-01T00:00:00Z",
     "billingPeriodEndDate": "2026-02-28T00:00:00Z", "totalCharges": 60.0, "currencyCode": "USD",
     "invoiceType": "Recurring", "documentType": "invoice"},
    {"id": "G000000301", "invoiceDate": "2026-04-06T00:00:00Z", "billingPeriodStartDate": "2026-03-01T00:00:00Z",
     "billingPeriodEndDate": "2026-03-31T00:00:00Z", "totalCharges": 396.0, "currencyCode": "USD",
     "invoiceType": "OneTime", "documentType": "invoice"},
]
V1_LINES = {
    "G000000051": [
        _pc_line("Globex LLC", "CFQ7TTC0LCHC", "Microsoft 365 Business Premium", 10, 22.0, 19.8, "2024-01-01",
                 "2024-01-31", "G000000051"),
        _pc_line("Globex LLC", "CFQ7TTC0QW5P", "Microsoft Teams Essentials", 5, 4.0, 3.6, "2024-01-01",
                 "2024-01-31", "G000000051"),
        _pc_line("Initech", "CFQ7TTC0LCHC", "Microsoft 365 Business Premium", 3, 22.0, 19.8, "2024-01-01",
                 "2024-01-31", "G000000051"),
    ],
}
BP, TEAMS, EXO, DEFENDER = ("CFQ7TTC0LCHC", "Microsoft 365 Business Premium"), ("CFQ7TTC0QW5P",
    "Microsoft Teams Essentials"), ("CFQ7TTC0LH16", "Exchange Online (Plan 1)"), ("CFQ7TTC0J1FV",
    "Microsoft Defender for Business")
# each invoice's files (blobs) of JSON lines
V2_BLOBS: dict[str, list[list[dict[str, Any]]]] = {
    "G000000101": [[ms_line("Globex LLC", *BP, 10, "22.00", "19.80", "2026-01-01", "2026-01-31", "G000000101")]],
    "G000000201": [
        [ms_line("Globex LLC", *BP, 10, "22.00", "19.80", "2026-02-01", "2026-02-28", "G000000201"),
         ms_line("Globex LLC", *TEAMS, 5, "4.00", "3.60", "2026-02-01", "2026-02-28", "G000000201")],
        [ms_line("Initech", *BP, 3, "22.00", "19.80", "2026-02-01", "2026-02-28", "G000000201")],
    ],
    # March 2026 with what real months hold: anniversary cycles, a seat added mid-cycle, a cancellation
    # refund, a trial, and a yearly-billed subscription
    "G000000301": [
        [ms_line("Globex LLC", *BP, 10, "22.00", "19.80", "2026-02-20", "2026-03-19", "G000000301"),
         ms_line("Globex LLC", *BP, 10, "22.00", "19.80", "2026-03-20", "2026-04-19", "G000000301"),
         ms_line("Globex LLC", *BP, 2, "22.00", "6.39", "2026-03-10", "2026-03-19", "G000000301",
                 ChargeType="addQuantity")],
        [ms_line("Initech", *EXO, 4, "4.00", "3.60", "2026-03-01", "2026-03-31", "G000000301"),
         ms_line("Initech", *EXO, 1, "4.00", "-3.60", "2026-03-01", "2026-03-31", "G000000301",
                 ChargeType="cancelImmediate", Subtotal=-3.6, Total=-3.6, CreditReasonCode="Cancel"),
         ms_line("Initech", *DEFENDER, 5, "0.00", "0.00", "2026-03-05", "2026-04-04", "G000000301",
                 ChargeType="new", ProductQualifiers=["Trial"]),
         ms_line("Hooli Inc", *BP, 4, "264.00", "237.60", "2026-03-01", "2027-02-28", "G000000301",
                 BillingFrequency="Annual", TermAndBillingCycle="One-Year commitment for yearly billing")],
    ],
}


def _jwt(claims: dict[str, Any]) -> str:
    """An unsigned token shaped like Microsoft's JWTs (header.claims.signature), for the ``roles`` claim."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


class BlobStorage:
    """Azure Blob Storage stand-in for the export files: a GET with the manifest's SAS signature and no
    Authorization header answers the gzip JSON-lines bytes; anything else is refused as Azure does."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.signature = "sig-SECRET-4Q%2Fw"
        self.expired = False  # every SAS refused, as when it has expired

    def publish(self, path: str, records: list[dict[str, Any]]) -> None:
        self.files[path] = gzip.compress("".join(json.dumps(record) + "\n" for record in records).encode())

    def __call__(self, request: Request) -> Reply:
        if "authorization" in request.headers:
            return Reply(400, {"error": "InvalidAuthenticationInfo: a bearer token was sent with a SAS URL"})
        if self.expired or quote(request.query.get("sig", ""), safe="") != self.signature or \
                request.query.get("sp") != "rl":
            return Reply(403, b"<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed"
                              b" to authenticate the request.</Message></Error>")
        if request.path not in self.files:
            return Reply(404, b"<?xml version=\"1.0\"?><Error><Code>BlobNotFound</Code></Error>")
        return Reply(200, self.files[request.path])


class PartnerCenter:
    """Partner Center and Microsoft Graph stand-in, on one host.

    Partner Center (API v1): form token at ``/<tenant>/oauth2/token`` (resource), invoices, line items paged
    with ``links.next`` and an ``MS-ContinuationToken`` header. Graph (API v2): form token at
    ``/<tenant>/oauth2/v2.0/token`` (scope; a JWT-shaped token with ``roles``), ``POST .../billed/export``
    -> 202 + ``Location``, operations that answer ``running`` ``running_polls`` times (``Retry-After``)
    then ``succeeded`` with the manifest inline (or, ``inline_manifest = False``, as a navigation link),
    failed operations for unknown and legacy invoices; the files are on the ``storage`` stand-in."""

    def __init__(self, storage: BlobStorage, storage_url: str) -> None:
        self.base = ""
        self.storage, self.storage_url = storage, storage_url
        self.issued: list[str] = []
        self.graph_issued: list[str] = []
        self.graph_roles = ["PartnerBilling.Read.All"]
        self.running_polls, self.retry_after, self.inline_manifest = 2, "0", True
        self.operations: dict[str, dict[str, Any]] = {}

    def __call__(self, request: Request) -> Reply:
        if request.path == f"/{PC_TENANT}/oauth2/token":
            return self._token(request)
        if request.path == f"/{PC_TENANT}/oauth2/v2.0/token":
            return self._graph_token(request)
        if request.path.startswith("/v1.0/"):
            return self._graph(request)
        if request.headers.get("authorization", "") not in {f"Bearer {token}" for token in self.issued}:
            return Reply(401, {"code": 401, "description": "Authorization failed: token expired or invalid",
                               "errorName": "Unauthorized"})
        route = request.path.removeprefix("/v1/")
        if route == "invoices":
            return Reply(200, {"totalCount": len(MS_INVOICES), "items": MS_INVOICES,
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

    # --------------------------------------------------------------------------------------- API v1

    def _lines(self, invoice_id: str, offset: int, size: int) -> Reply:
        lines = V1_LINES.get(invoice_id, [])
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
            return _invalid_client()
        token = f"pc-token-{len(self.issued) + 1}"
        self.issued.append(token)
        return Reply(200, {"token_type": "Bearer", "expires_in": "3599", "access_token": token})

    # --------------------------------------------------------------------------------------- API v2

    def _graph_token(self, request: Request) -> Reply:
        form = request.form()
        if (form.get("client_id"), form.get("client_secret"), form.get("grant_type")) != (
                PC_CLIENT_ID, PC_SECRET, "client_credentials") or form.get("scope") != (
                "https://graph.microsoft.com/.default"):
            return _invalid_client()
        token = _jwt({"aud": "https://graph.microsoft.com", "tid": PC_TENANT, "roles": self.graph_roles,
                      "n": len(self.graph_issued) + 1})
        self.graph_issued.append(token)
        return Reply(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})

    def _graph(self, request: Request) -> Reply:
        if request.headers.get("authorization", "") not in {f"Bearer {token}" for token in self.graph_issued}:
            return Reply(401, {"error": {"code": "InvalidAuthenticationToken",
                                         "message": "Access token validation failure. Invalid audience."}})
        if "PartnerBilling.Read.All" not in self.graph_roles:
            return Reply(403, {"error": {"code": "Forbidden", "message": "Missing role permissions on the request."}})
        route = request.path.removeprefix("/v1.0/reports/partners/billing/")
        if route == "reconciliation/billed/export" and request.method == "POST":
            return self._export(request.json())
        operation = re.fullmatch(r"operations/([\w-]+)", route)
        if operation and operation.group(1) in self.operations:
            return self._poll(self.operations[operation.group(1)])
        manifest = re.fullmatch(r"manifests/([\w-]+)", route)
        if manifest and manifest.group(1) in self.operations:
            return Reply(200, self.operations[manifest.group(1)]["manifest"])
        return Reply(404, {"error": {"code": "ResourceNotFound", "message": f"no route {route}"}})

    def _export(self, body: dict[str, Any]) -> Reply:
        if body.get("attributeSet") not in ("full", "basic") or not body.get("invoiceId"):
            return Reply(400, {"error": {"code": "BadRequest", "message": "invoiceId and attributeSet are required"}})
        number = f"{len(self.operations) + 1:08d}-0000-4000-8000-000000000000"
        self.operations[number] = {"id": number, "invoice": body["invoiceId"], "polls": 0,
                                   "manifest": self._manifest(number, str(body["invoiceId"]))}
        location = f"{self.base}/v1.0/reports/partners/billing/operations/{number}"
        return Reply(202, None, {"Location": location, "Retry-After": self.retry_after})

    def _poll(self, operation: dict[str, Any]) -> Reply:
        operation["polls"] += 1
        stamps = {"id": operation["id"], "createdDateTime": "2026-03-09T08:12:53",
                  "lastActionDateTime": "2026-03-09T08:37:48.5046691Z"}
        if operation["polls"] <= self.running_polls:
            return Reply(200, {"@odata.type": "#microsoft.graph.partners.billing.runningOperation", **stamps,
                               "status": "running"}, {"Retry-After": self.retry_after})
        if operation["manifest"] is None:
            invoice = operation["invoice"]
            message = (f"No reconciliation data available currently for Invoice {invoice}. Please try again later."
                       if invoice == MS_LEGACY else "No data available")
            return Reply(200, {"@odata.type": "#microsoft.graph.partners.billing.failedOperation", **stamps,
                               "status": "failed", "error": {"message": message, "code": "5000"}})
        done = {"@odata.type": "#microsoft.graph.partners.billing.exportSuccessOperation", **stamps,
                "status": "succeeded"}
        if self.inline_manifest:
            return Reply(200, {**done, "resourceLocation": operation["manifest"]})
        link = f"{self.base}/v1.0/reports/partners/billing/manifests/{operation['id']}"
        return Reply(200, {**done, "resourceLocation@odata.navigationLink": link})

    def _manifest(self, number: str, invoice_id: str) -> dict[str, Any] | None:
        """The export's manifest, its files published on the storage stand-in (None: nothing to export)."""
        if invoice_id not in V2_BLOBS:
            return None
        root = (f"/billedusagefastpath/v1/PartnerTenantId={PC_TENANT}/BillingMonth=202602/InvoiceId={invoice_id}"
                f"/InvoiceVersion=1/Fragment=full/PartitionType=default")
        names = [f"part-{index:05d}-{number[:8]}.c000.json.gz" for index in range(len(V2_BLOBS[invoice_id]))]
        for name, records in zip(names, V2_BLOBS[invoice_id], strict=True):
            self.storage.publish(f"{root}/{name}", records)
        return {"id": number, "schemaVersion": "2", "dataFormat": "compressedJSONLines",
                "createdDateTime": "2026-03-09T06:34:34.87Z", "eTag": "WYjLro78HdMg6vUWR",
                "partnerTenantId": PC_TENANT, "rootDirectory": self.storage_url + root,
                "sasToken": f"skoid=0c414a25&sktid=975f013f&skt=2026-03-09T00%3A37%3A17Z&sv=2021-08-06&sr=d&sp=rl"
                            f"&sdd=7&sig={self.storage.signature}",
                "partitionType": "Default", "blobCount": len(names),
                "blobs": [{"name": name, "partitionValue": "default"} for name in names]}


def _invalid_client() -> Reply:
    return Reply(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret "
                       "provided. Ensure the secret being sent in the request is the client secret value, not the "
                       "client secret ID."})


def recon_csv(lines: list[dict[str, Any]]) -> bytes:
    """The same line items as the reconciliation file a partner downloads from Partner Center: its columns
    in its order (``ResellerMpnId`` for v2's ``Tier2MpnId``), dates M/D/YYYY, JSON arrays as text, a BOM."""
    columns = ["ResellerMpnId" if name == "Tier2MpnId" else name for name in MS_FILE_COLUMNS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for line in lines:
        writer.writerow([_file_cell(line.get("Tier2MpnId" if column == "ResellerMpnId" else column))
                         for column in columns])
    return out.getvalue().encode("utf-8-sig")


def _file_cell(value: Any) -> str:
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    text = "" if value is None else str(value)
    stamp = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T[\d:.]+Z?", text)
    return f"{int(stamp.group(2))}/{int(stamp.group(3))}/{stamp.group(1)}" if stamp else text


MS_FILE_COLUMNS = (
    "PartnerId", "CustomerId", "CustomerName", "CustomerDomainName", "CustomerCountry", "InvoiceNumber", "MpnId",
    "Tier2MpnId", "OrderId", "OrderDate", "ProductId", "SkuId", "AvailabilityId", "SkuName", "ProductName",
    "ChargeType", "UnitPrice", "Quantity", "Subtotal", "TaxTotal", "Total", "Currency", "PriceAdjustmentDescription",
    "PublisherName", "PublisherId", "SubscriptionDescription", "SubscriptionId", "ChargeStartDate", "ChargeEndDate",
    "TermAndBillingCycle", "EffectiveUnitPrice", "UnitType", "AlternateId", "BillableQuantity", "BillingFrequency",
    "PricingCurrency", "PCToBCExchangeRate", "PCToBCExchangeRateDate", "MeterDescription", "ReservationOrderId",
    "CreditReasonCode", "SubscriptionStartDate", "SubscriptionEndDate", "ReferenceId", "ProductQualifiers",
    "PromotionId", "ProductCategory",
)


# ------------------------------------------------------------------------------------------ Autotask PSA

AT_PREFIX = "/atservicesrest/v1.0"
AT_USER, AT_CODE, AT_SECRET = "recon-api@msp.example", "ABCDEFGH00100244MMEEE333", "at-SECRET-77c1d2"

AT_DATA: dict[str, list[dict[str, Any]]] = {
    "Companies": [{"id": 29683501, "companyName": "Acme Corp", "companyNumber": "A-1", "isActive": True},
                  {"id": 29683502, "companyName": "Globex LLC", "companyNumber": "G-1", "isActive": True},
                  {"id": 29683503, "companyName": "Initech", "companyNumber": "I-1", "isActive": True}],
    "Contracts": [
        {"id": 29684001, "companyID": 29683501, "contractName": "Acme Managed Services", "contractNumber": "C-100",
         "contractType": 7, "contractPeriodType": 1, "status": 1, "startDate": "2025-01-01T00:00:00",
         "endDate": "2026-12-31T00:00:00"},
        {"id": 29684002, "companyID": 29683502, "contractName": "Globex Recurring", "contractNumber": "C-200",
         "contractType": 7, "contractPeriodType": 1, "status": 1, "startDate": "2025-06-01T00:00:00",
         "endDate": "2026-05-31T00:00:00"},
    ],
    "Services": [
        {"id": 301, "name": "Managed Workstation", "description": "Per device", "invoiceDescription": "Workstation",
         "unitPrice": 45.0, "unitCost": 12.0, "periodType": 1, "isActive": True, "vendorCompanyID": None,
         "userDefinedFields": [{"name": "Vendor SKU", "value": None}]},
        {"id": 302, "name": "Microsoft 365 Business Premium", "description": "Per user",
         "invoiceDescription": "M365 BP", "unitPrice": 22.0, "unitCost": 19.8, "periodType": 1, "isActive": True,
         "vendorCompanyID": 29683599, "userDefinedFields": [{"name": "Vendor SKU", "value": "MS-OFF-BUS-PREM"}]},
    ],
    "ContractServices": [
        {"id": 5001, "contractID": 29684001, "serviceID": 301, "unitPrice": 45.0, "unitCost": 12.0,
         "invoiceDescription": "Managed workstations", "internalCurrencyUnitPrice": 45.0},
        {"id": 5002, "contractID": 29684001, "serviceID": 302, "unitPrice": 22.0, "unitCost": 19.8,
         "invoiceDescription": "Microsoft 365 Business Premium", "internalCurrencyUnitPrice": 22.0},
        {"id": 5003, "contractID": 29684002, "serviceID": 302, "unitPrice": 22.0, "unitCost": 19.8,
         "invoiceDescription": "Microsoft 365 Business Premium", "internalCurrencyUnitPrice": 22.0},
    ],
    # one row a billing period, and a new one from the effective date of an adjustment (15 -> 17 on the 15th)
    "ContractServiceUnits": [
        {"id": 7001, "contractID": 29684001, "contractServiceID": 5001, "serviceID": 301,
         "startDate": "2026-01-01T00:00:00", "endDate": "2026-01-31T00:00:00", "units": 15, "price": 45.0,
         "cost": 12.0, "internalCurrencyPrice": 45.0, "approveAndPostDate": "2026-01-01T00:00:00"},
        {"id": 7002, "contractID": 29684001, "contractServiceID": 5001, "serviceID": 301,
         "startDate": "2026-02-01T00:00:00", "endDate": "2026-02-14T00:00:00", "units": 15, "price": 45.0,
         "cost": 12.0, "internalCurrencyPrice": 45.0, "approveAndPostDate": "2026-02-01T00:00:00"},
        {"id": 7003, "contractID": 29684001, "contractServiceID": 5001, "serviceID": 301,
         "startDate": "2026-02-15T00:00:00", "endDate": "2026-02-28T00:00:00", "units": 17, "price": 45.0,
         "cost": 12.0, "internalCurrencyPrice": 45.0, "approveAndPostDate": None},
        {"id": 7004, "contractID": 29684001, "contractServiceID": 5002, "serviceID": 302,
         "startDate": "2026-02-01T00:00:00", "endDate": "2026-02-28T00:00:00", "units": 25, "price": 22.0,
         "cost": 19.8, "internalCurrencyPrice": 22.0, "approveAndPostDate": "2026-02-01T00:00:00"},
        {"id": 7005, "contractID": 29684002, "contractServiceID": 5003, "serviceID": 302,
         "startDate": "2026-02-01T00:00:00", "endDate": "2026-02-28T00:00:00", "units": 10, "price": 22.0,
         "cost": 19.8, "internalCurrencyPrice": 22.0, "approveAndPostDate": "2026-02-01T00:00:00"},
        {"id": 7006, "contractID": 29684002, "contractServiceID": 5003, "serviceID": 302,
         "startDate": "2026-03-01T00:00:00", "endDate": "2026-03-31T00:00:00", "units": 10, "price": 22.0,
         "cost": 19.8, "internalCurrencyPrice": 22.0, "approveAndPostDate": None},
    ],
    "Invoices": [
        {"id": 880, "companyID": 29683501, "invoiceNumber": "AT-880", "invoiceDateTime": "2026-01-31T00:00:00",
         "dueDate": "2026-03-02T00:00:00", "invoiceTotal": 675.0, "isVoided": False},
        {"id": 901, "companyID": 29683501, "invoiceNumber": "AT-901", "invoiceDateTime": "2026-02-28T00:00:00",
         "dueDate": "2026-03-30T00:00:00", "invoiceTotal": 1372.5, "isVoided": False},
        {"id": 902, "companyID": 29683502, "invoiceNumber": "AT-902", "invoiceDateTime": "2026-02-28T00:00:00",
         "dueDate": "2026-03-30T00:00:00", "invoiceTotal": 200.0, "isVoided": False},
        {"id": 903, "companyID": 29683502, "invoiceNumber": "AT-903", "invoiceDateTime": "2026-02-27T00:00:00",
         "dueDate": "2026-03-29T00:00:00", "invoiceTotal": 220.0, "isVoided": True},
    ],
    "BillingItems": [
        {"id": 11001, "invoiceID": 880, "companyID": 29683501, "contractID": 29684001, "contractServiceID": 5001,
         "serviceID": 301, "billingItemType": 3, "itemDate": "2026-01-01T00:00:00", "itemName": "Managed Workstation",
         "description": "Managed workstations", "quantity": 15, "rate": 45.0, "extendedPrice": 675.0,
         "taxDollars": 0, "totalAmount": 675.0, "ourCost": 180.0, "postedDate": "2026-01-31T00:00:00"},
        {"id": 11002, "invoiceID": 901, "companyID": 29683501, "contractID": 29684001, "contractServiceID": 5001,
         "serviceID": 301, "billingItemType": 3, "itemDate": "2026-02-01T00:00:00", "itemName": "Managed Workstation",
         "description": "Managed workstations", "quantity": 15, "rate": 45.0, "extendedPrice": 675.0,
         "taxDollars": 0, "totalAmount": 675.0, "ourCost": 180.0, "postedDate": "2026-02-28T00:00:00"},
        {"id": 11003, "invoiceID": 901, "companyID": 29683501, "contractID": 29684001, "contractServiceID": 5002,
         "serviceID": 302, "billingItemType": 3, "itemDate": "2026-02-01T00:00:00",
         "itemName": "Microsoft 365 Business Premium", "description": "Microsoft 365 Business Premium",
         "quantity": 25, "rate": 22.0, "extendedPrice": 550.0, "taxDollars": 0, "totalAmount": 550.0,
         "ourCost": 495.0, "postedDate": "2026-02-28T00:00:00"},
        {"id": 11004, "invoiceID": 901, "companyID": 29683501, "billingItemType": 1, "itemDate": "2026-02-10T00:00:00",
         "itemName": "Remote Support", "description": "Printer queue stuck", "quantity": 1.5, "rate": 150.0,
         "extendedPrice": 225.0, "taxDollars": 0, "totalAmount": 225.0, "timeEntryID": 40002, "ticketID": 61001,
         "postedDate": "2026-02-28T00:00:00"},
        {"id": 11005, "invoiceID": 902, "companyID": 29683502, "contractID": 29684002, "contractServiceID": 5003,
         "serviceID": 302, "billingItemType": 3, "itemDate": "2026-02-01T00:00:00",
         "itemName": "Microsoft 365 Business Premium", "description": "Microsoft 365 Business Premium",
         "quantity": 10, "rate": 20.0, "extendedPrice": 200.0, "taxDollars": 0, "totalAmount": 200.0,
         "ourCost": 198.0, "postedDate": "2026-02-28T00:00:00"},
        {"id": 11006, "invoiceID": 903, "companyID": 29683502, "contractID": 29684002, "contractServiceID": 5003,
         "serviceID": 302, "billingItemType": 3, "itemDate": "2026-02-01T00:00:00",
         "itemName": "Microsoft 365 Business Premium", "quantity": 10, "rate": 22.0, "extendedPrice": 220.0,
         "taxDollars": 0, "totalAmount": 220.0, "postedDate": "2026-02-27T00:00:00"},
    ],
    "TimeEntries": [
        {"id": 40001, "dateWorked": "2026-02-10T00:00:00", "startDateTime": "2026-02-10T14:00:00",
         "endDateTime": "2026-02-10T16:00:00", "hoursWorked": 2.0, "hoursToBill": 2.0, "isNonBillable": False,
         "showOnInvoice": True, "resourceID": 29682885, "roleID": 29683461, "billingCodeID": 29682801,
         "ticketID": 61001, "summaryNotes": "Replaced failing disk"},
        {"id": 40002, "dateWorked": "2026-02-10T00:00:00", "hoursWorked": 1.5, "hoursToBill": 1.5,
         "isNonBillable": False, "showOnInvoice": True, "resourceID": 29682885, "ticketID": 61001,
         "summaryNotes": "Printer queue stuck"},
        {"id": 40003, "dateWorked": "2026-02-12T00:00:00", "hoursWorked": 1.0, "hoursToBill": 0.0,
         "isNonBillable": True, "showOnInvoice": False, "resourceID": 29682886, "taskID": 71001,
         "summaryNotes": "Internal project sync"},
        {"id": 40004, "dateWorked": "2026-02-20T00:00:00", "hoursWorked": 0.5, "hoursToBill": 0.5,
         "isNonBillable": False, "showOnInvoice": True, "resourceID": 29682886, "contractID": 29684002,
         "summaryNotes": "Licence change"},
        {"id": 39999, "dateWorked": "2026-01-30T00:00:00", "hoursWorked": 3.0, "hoursToBill": 3.0,
         "isNonBillable": False, "resourceID": 29682885, "ticketID": 61001},
    ],
    "Tickets": [{"id": 61001, "ticketNumber": "T20260210.0001", "companyID": 29683501, "title": "Workstation issues"}],
    "Tasks": [{"id": 71001, "projectID": 81001, "title": "Migration sync"}],
    "Projects": [{"id": 81001, "companyID": 29683503, "projectName": "Initech migration"}],
    "Resources": [{"id": 29682885, "firstName": "Jane", "lastName": "Doe", "userName": "jdoe"},
                  {"id": 29682886, "firstName": "Bob", "lastName": "Smith", "userName": "bsmith"}],
}


def _matches(record: dict[str, Any], condition: dict[str, Any]) -> bool:
    """One Autotask filter expression (the operators the connector sends, and and/or groups)."""
    op = str(condition.get("op", "")).casefold()
    if op in ("and", "or"):
        found = [_matches(record, item) for item in condition.get("items", [])]
        return all(found) if op == "and" else any(found)
    field = str(condition["field"])
    value, actual = condition.get("value"), record.get(field)
    if op == "exist":
        return actual is not None
    if op == "notexist":
        return actual is None
    if op == "in":
        return actual in value
    if op == "eq":
        return actual == value
    if op == "noteq":
        return actual != value
    if actual is None:
        return False
    if op in ("contains", "beginswith", "endswith"):
        text, part = str(actual).casefold(), str(value).casefold()
        checks = {"contains": part in text, "beginswith": text.startswith(part), "endswith": text.endswith(part)}
        return checks[op]
    compared = {"gt": actual > value, "gte": actual >= value, "lt": actual < value, "lte": actual <= value}
    if op not in compared:
        raise AssertionError(f"operator {op!r} not served by the stand-in")
    return compared[op]


class Autotask:
    """Autotask REST v1.0 stand-in: the three auth headers, zone lookup, ``/{Entity}/query`` by POST body or
    ``GET ?search=``, ``MaxRecords`` (at most 500), ``pageDetails.nextPageUrl`` paging, ``query/count``,
    and ``{"errors": [...]}`` bodies for bad fields and refusals."""

    def __init__(self) -> None:
        self.base = ""
        self.next_host = ""  # when set, nextPageUrl points there (another host)
        self.data = AT_DATA  # what it serves (psa_writes.WritableAutotask serves a copy it changes)
        self.fields: dict[str, set[str]] = {}  # fields an entity has besides those its records show

    def __call__(self, request: Request) -> Reply:
        path = request.path.removeprefix(AT_PREFIX).strip("/")
        if path.casefold() == "zoneinformation":
            if request.query.get("user") != AT_USER:
                return Reply(500, {"errors": [f"Zone information could not be determined for user "
                                              f"{request.query.get('user')}"]})
            return Reply(200, {"zoneName": "Test zone", "url": f"{self.base}/atservicesrest/", "webUrl": self.base,
                               "ci": 1})
        headers = request.headers
        if (headers.get("apiintegrationcode"), headers.get("username"), headers.get("secret")) != (
                AT_CODE, AT_USER, AT_SECRET):
            return Reply(401, {"errors": ["Unauthorized: the user name, secret or integration code is invalid"]})
        parts = path.split("/")
        if len(parts) < 2 or parts[0] not in self.data or parts[1] != "query":
            return Reply(404, {"errors": [f"No route /{path}"]})
        search = request.json() if request.method == "POST" else json.loads(request.query.get("search", "{}"))
        if parts[2:] == ["count"]:
            return Reply(200, {"queryCount": len(self._select(parts[0], search))})
        return self._page(parts[0], search, int(request.query.get("offset", 0)))

    def _select(self, entity: str, search: dict[str, Any]) -> list[dict[str, Any]]:
        fields = set().union(*(record.keys() for record in self.data[entity])) | {"id"} | self.fields.get(entity, set())
        for condition in _flatten(search.get("filter", [])):
            if condition.get("field") is not None and condition["field"] not in fields:
                raise _BadFieldError(f"Unable to find {condition['field']} in the {entity} Entity.")
        return [record for record in self.data[entity] if all(_matches(record, c) for c in search.get("filter", []))]

    def _page(self, entity: str, search: dict[str, Any], offset: int) -> Reply:
        size = int(search.get("MaxRecords") or 500)
        if not 1 <= size <= 500:
            return Reply(500, {"errors": ["MaxRecords must be between 1 and 500."]})
        try:
            found = sorted(self._select(entity, search), key=lambda record: record["id"])
        except _BadFieldError as error:
            return Reply(500, {"errors": [str(error)]})
        items = found[offset:offset + size]
        following = None
        if offset + size < len(found):
            query = urlencode({"search": json.dumps(search), "offset": offset + size})
            following = f"{self.next_host or self.base}{AT_PREFIX}/{entity}/query/next?{query}"
        return Reply(200, {"items": items, "pageDetails": {"count": len(items), "requestCount": size,
                                                            "prevPageUrl": None, "nextPageUrl": following}})


class _BadFieldError(Exception):
    pass


def _flatten(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [leaf for condition in conditions
            for leaf in (_flatten(condition.get("items", [])) if "items" in condition else [condition])]
