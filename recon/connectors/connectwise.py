"""ConnectWise PSA (Manage) REST API, v4_6 release (API 3.0): contracts, invoices and time entries.

What this follows (ConnectWise's developer guide and the OpenAPI models published with public SDKs):

- base URL ``https://<site>/v4_6_release/apis/3.0`` (e.g. ``api-na.myconnectwise.net``);
- authentication: HTTP Basic with ``<company>+<publicKey>`` as user and ``<privateKey>`` as password,
  plus the ``clientId`` header of a registered integration;
- lists are paged with ``page`` (from 1) and ``pageSize`` (at most 1000); a ``Link`` header with
  ``rel="next"`` points to the next page and is absent on the last; ``conditions`` filters server-side
  with dates written ``[2026-02-01T00:00:00Z]``;
- ``/company/companies`` (``id``, ``identifier``, ``name``), ``/finance/agreements`` (``company``,
  ``billingCycle``, ``startDate``), ``/finance/agreements/{id}/additions`` (``product.identifier``,
  ``quantity``, ``lessIncluded``, ``unitPrice``, ``unitCost``, ``billCustomer``, ``effectiveDate``,
  ``cancelledDate``), ``/finance/invoices`` (``invoiceNumber``, ``type``, ``date``, ``dueDate``,
  ``status.name``, ``company``, ``agreement``), ``/procurement/products`` (product lines of an invoice:
  ``invoice.id``, ``catalogItem.identifier``, ``quantity``, ``price``, ``extPrice``) and ``/time/entries``
  (``timeStart``, ``actualHours``, ``billableOption``, ``hourlyRate``, ``invoice.identifier``) and
  ``/procurement/catalog`` (``identifier``, ``description``, ``price``, ``cost``, ``vendorSku``: the
  vendor SKU through which Pax8 and Microsoft usage maps onto the PSA product);
- ``/system/info`` for the connection test.

Frames use the column names of ConnectWise's own exports where a file preset exists (agreement
additions: ``Company``, ``Agreement``, ``Product ID``, ``Bill Customer``..., read with the
``connectwise-additions`` preset; time entries: ``Member``, ``Actual Hours``, ``Billable Option``...,
read with ``connectwise-time``), so a pull and an uploaded export are read the same way. Invoice lines
and the catalog have no export preset and come with the canonical column names (an invoice line's
``line_id`` is its product line id, or ``addition-<id>`` for an agreement line).

An agreement invoice bills the agreement's additions rather than carrying product lines of its own, so
its lines are the billable additions active in the invoiced month (quantity less the included quantity,
at the addition's price); a standard invoice's lines are its procurement products.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from recon.connectors.config import Connection, where_secrets_go
from recon.connectors.frames import Pulled, text_frame
from recon.connectors.http import MAX_PAGES, ApiClient, Hints, RetryPolicy
from recon.connectors.period import Period

SERVICE = "ConnectWise PSA"
PAGE_SIZE = 1000
ID_BATCH = 100

ADDITION_COLUMNS = ("Company", "Agreement", "Agreement ID", "Product ID", "Description", "Quantity",
                    "Less Included", "Unit Price", "Unit Cost", "Effective Date", "Cancelled Date",
                    "Bill Customer", "Billing Cycle")
INVOICE_COLUMNS = ("invoice_number", "line_id", "invoice_date", "due_date", "status", "client", "sku",
                   "description", "quantity", "unit_price", "amount", "period_start", "period_end")
CATALOG_COLUMNS = ("sku", "description", "list_price", "unit_cost", "vendor", "vendor_sku")
TIME_COLUMNS = ("Entry ID", "Company", "Member", "Date", "Actual Hours", "Billable Option", "Hourly Rate",
                "Invoice", "Work Type", "Ticket")
Progress = Callable[[str, float], None]


def client(connection: Connection) -> ApiClient:
    """An API client for ``connection``: Basic auth ``company+publicKey:privateKey`` and ``clientId``."""
    user = f"{connection.setting('company')}+{connection.setting('public_key')}"
    private_key = connection.secret("private_key")
    encoded = base64.b64encode(f"{user}:{private_key}".encode()).decode()
    hints = Hints(
        credentials=("company, public_key and client_id in connections.toml, and the private_key "
                     f"({where_secrets_go(connection.name, 'private_key')}); API keys of a deactivated "
                     "member are refused"),
        permissions=("the API member's security role: Inquire level 'All' on Companies, Finance "
                     "(Agreements, Invoicing), Procurement (Product Catalog) and Time & Expense"))
    return ApiClient(service=SERVICE, connection=connection.name, base_url=str(connection.setting("base_url")),
                     hints=hints, secrets=(private_key, encoded), auth=httpx.BasicAuth(user, private_key),
                     headers={"clientId": str(connection.setting("client_id"))},
                     timeout=float(connection.setting("timeout_seconds", 30)), retry=_retry(connection))


def _retry(connection: Connection) -> RetryPolicy:
    return RetryPolicy(attempts=int(connection.setting("retry_attempts", 5)),
                       base_seconds=float(connection.setting("retry_base_seconds", 0.5)))


def pages(api: ApiClient, path: str, params: Mapping[str, Any] | None = None,
          page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
    """Every record of a list endpoint, following ``Link: <...>; rel="next"`` from page 1."""
    target: str | None = path
    query: Mapping[str, Any] | None = {**(params or {}), "page": 1, "pageSize": page_size}
    for _ in range(MAX_PAGES):
        assert target is not None
        body, response = api.get_json(target, params=query)
        if not isinstance(body, list):
            raise api.error(f"answered {response.request.url.path} with {type(body).__name__}, expected a list")
        yield from body
        target, query = response.links.get("next", {}).get("url"), None  # the next link carries the query
        if not target or not body:
            return
    raise api.error(f"kept paging {path} past {MAX_PAGES} pages; narrow the period or raise pageSize")


def conditions_between(field: str, period: Period) -> str:
    """ConnectWise ``conditions`` for ``field`` inside the month (timestamps, exclusive end)."""
    return (f"{field} >= [{period.start.isoformat()}T00:00:00Z] and "
            f"{field} < [{period.next_start.isoformat()}T00:00:00Z]")


# ---------------------------------------------------------------------------------------------- pulling

def fetch(connection: Connection, period: Period, progress: Progress | None = None) -> list[Pulled]:
    """Contracts (all agreement additions), the month's invoice lines and time entries, and the catalog."""
    report = progress or (lambda step, fraction: None)
    size = int(connection.setting("page_size", PAGE_SIZE))
    with client(connection) as api:
        report("companies", 0.0)
        companies = {c["id"]: c.get("name") for c in pages(api, "company/companies", page_size=size)}
        report("agreements", 0.1)
        agreements = list(pages(api, "finance/agreements", page_size=size))
        additions = _additions(api, agreements, size, lambda done: report("agreement additions", 0.1 + 0.5 * done))
        report("invoices", 0.6)
        invoices = _invoice_lines(api, period, companies, agreements, additions, size)
        report("time entries", 0.8)
        entries = list(pages(api, "time/entries", {"conditions": conditions_between("timeStart", period)}, size))
        report("product catalog", 0.9)
        catalog = [_catalog_row(item) for item in pages(api, "procurement/catalog", page_size=size)]
    report("done", 1.0)
    return [
        Pulled("contracts", "agreement additions", text_frame(_addition_rows(agreements, additions, companies),
                                                              ADDITION_COLUMNS), preset="connectwise-additions"),
        Pulled("invoices", "invoices", text_frame(invoices, INVOICE_COLUMNS)),
        Pulled("time_entries", "time entries", text_frame([_time_row(e, companies) for e in entries], TIME_COLUMNS),
               {"entry_id": "Entry ID"}, preset="connectwise-time"),
        Pulled("catalog", "product catalog", text_frame(catalog, CATALOG_COLUMNS)),
    ]


def check(connection: Connection) -> str:
    """``/system/info``: proves the keys, the client id and the base URL in one call."""
    with client(connection) as api:
        info, _ = api.get_json("system/info")
    version = info.get("version", "unknown version") if isinstance(info, dict) else "unknown version"
    return f"{SERVICE} {version} answered at {api.base_url}"


def _additions(api: ApiClient, agreements: list[dict[str, Any]], size: int,
               report: Callable[[float], None]) -> dict[Any, list[dict[str, Any]]]:
    found = {}
    for index, agreement in enumerate(agreements):
        found[agreement["id"]] = list(pages(api, f"finance/agreements/{agreement['id']}/additions", page_size=size))
        report((index + 1) / max(len(agreements), 1))
    return found


def _company(reference: Mapping[str, Any] | None, companies: Mapping[Any, Any]) -> Any:
    reference = reference or {}
    return companies.get(reference.get("id")) or reference.get("name") or reference.get("identifier")


def _addition_rows(agreements: list[dict[str, Any]], additions: Mapping[Any, list[dict[str, Any]]],
                   companies: Mapping[Any, Any]) -> list[dict[str, Any]]:
    return [_addition_row(agreement, addition, companies)
            for agreement in agreements for addition in additions.get(agreement["id"], [])]


def _addition_row(agreement: Mapping[str, Any], addition: Mapping[str, Any],
                  companies: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "Company": _company(agreement.get("company"), companies), "Agreement": agreement.get("name"),
        "Agreement ID": agreement["id"], "Product ID": (addition.get("product") or {}).get("identifier"),
        "Description": addition.get("description") or addition.get("invoiceDescription"),
        "Quantity": addition.get("quantity"), "Less Included": addition.get("lessIncluded"),
        "Unit Price": addition.get("unitPrice"), "Unit Cost": addition.get("unitCost"),
        # an addition without an effective date runs from the agreement's start
        "Effective Date": addition.get("effectiveDate") or agreement.get("startDate"),
        "Cancelled Date": addition.get("cancelledDate"), "Bill Customer": addition.get("billCustomer"),
        "Billing Cycle": (agreement.get("billingCycle") or {}).get("name"),
    }


def _invoice_lines(api: ApiClient, period: Period, companies: Mapping[Any, Any], agreements: list[dict[str, Any]],
                   additions: Mapping[Any, list[dict[str, Any]]], size: int) -> list[dict[str, Any]]:
    invoices = list(pages(api, "finance/invoices", {"conditions": conditions_between("date", period)}, size))
    products = _products_of(api, [invoice["id"] for invoice in invoices], size)
    by_agreement = {agreement["id"]: agreement for agreement in agreements}
    rows: list[dict[str, Any]] = []
    for invoice in invoices:
        header = _invoice_header(invoice, companies)
        rows.extend({**header, "line_id": product.get("id"),
                     "sku": (product.get("catalogItem") or {}).get("identifier"),
                     "description": product.get("description"), "quantity": product.get("quantity"),
                     "unit_price": product.get("price"), "amount": product.get("extPrice")}
                    for product in products.get(invoice["id"], []))
        agreement_id = (invoice.get("agreement") or {}).get("id")
        if agreement_id in by_agreement and not products.get(invoice["id"]):
            rows.extend({**header, **line} for line in _agreement_lines(additions.get(agreement_id, []), period))
    return rows


def _invoice_header(invoice: Mapping[str, Any], companies: Mapping[Any, Any]) -> dict[str, Any]:
    return {"invoice_number": invoice.get("invoiceNumber"), "invoice_date": invoice.get("date"),
            "due_date": invoice.get("dueDate"), "status": (invoice.get("status") or {}).get("name"),
            "client": _company(invoice.get("company"), companies)}


def _products_of(api: ApiClient, invoice_ids: list[int], size: int) -> dict[Any, list[dict[str, Any]]]:
    """Procurement product lines of the given invoices, fetched ``ID_BATCH`` invoices at a time."""
    found: dict[Any, list[dict[str, Any]]] = {}
    for start in range(0, len(invoice_ids), ID_BATCH):
        batch = ",".join(str(i) for i in invoice_ids[start:start + ID_BATCH])
        for product in pages(api, "procurement/products", {"conditions": f"invoice/id in ({batch})"}, size):
            found.setdefault((product.get("invoice") or {}).get("id"), []).append(product)
    return found


def _agreement_lines(additions: list[dict[str, Any]], period: Period) -> list[dict[str, Any]]:
    """The billable additions active in ``period``, as the agreement invoice bills them."""
    lines = []
    for addition in additions:
        starts, ends = str(addition.get("effectiveDate") or "")[:10], str(addition.get("cancelledDate") or "")[:10]
        active = (not starts or starts <= period.end.isoformat()) and (not ends or ends >= period.start.isoformat())
        if not active or str(addition.get("billCustomer", "")).casefold() != "billable":
            continue
        quantity = (addition.get("quantity") or 0) - (addition.get("lessIncluded") or 0)
        lines.append({"line_id": f"addition-{addition.get('id')}",
                      "sku": (addition.get("product") or {}).get("identifier"), "quantity": quantity,
                      "description": addition.get("invoiceDescription") or addition.get("description"),
                      "unit_price": addition.get("unitPrice"), "period_start": period.start,
                      "period_end": period.end})
    return lines


def _catalog_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """A catalog item: its ``vendorSku`` is how vendor usage (Pax8, Microsoft) maps onto the PSA product."""
    return {"sku": item.get("identifier"), "description": item.get("description"), "list_price": item.get("price"),
            "unit_cost": item.get("cost"), "vendor": (item.get("vendor") or {}).get("name"),
            "vendor_sku": item.get("vendorSku")}


def _time_row(entry: Mapping[str, Any], companies: Mapping[Any, Any]) -> dict[str, Any]:
    ticket = (entry.get("ticket") or {}).get("id")
    if ticket is None and entry.get("chargeToType") == "ServiceTicket":
        ticket = entry.get("chargeToId")
    member = entry.get("member") or {}
    return {"Entry ID": entry.get("id"), "Company": _company(entry.get("company"), companies),
            "Member": member.get("name") or member.get("identifier"), "Date": entry.get("timeStart"),
            "Actual Hours": entry.get("actualHours"), "Billable Option": entry.get("billableOption"),
            "Hourly Rate": entry.get("hourlyRate"), "Invoice": (entry.get("invoice") or {}).get("identifier"),
            "Work Type": (entry.get("workType") or {}).get("name"), "Ticket": ticket}


__all__ = ["check", "client", "conditions_between", "fetch", "pages"]
