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

Frames carry the API's own field names, flattened with dots (``agreement.company.name``,
``member.identifier``, ``invoice.agreementAmount``), and name the file preset that reads them
(``connectwise-additions-api``, ``connectwise-time-api``, ``connectwise-invoice-lines-api``;
``recon/ingest/presets.py``): what a record *means* (billable quantity = quantity - lessIncluded, an
addition ending with its agreement, a credit memo's lines counting negative, a product line's amount
less its discount) is read there, so a pull and a file of the same records are read alike. An addition
row carries its agreement's fields under ``agreement.``; an invoice line its invoice's under
``invoice.``. The catalog comes with the canonical column names.

The billed side is what was invoiced, never rebuilt from the additions it is compared with: a
standard invoice's lines are its procurement products; an agreement invoice has no lines in the API,
only its ``agreementAmount``, which becomes one row without a product (the preset reads it as the
agreement's total, ``line_type`` agreement_total, compared with the agreement's additions by the rule
``agreement_total_mismatch``).
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

ADDITION_COLUMNS = (
    "id", "agreementId", "product.id", "product.identifier", "description", "invoiceDescription",
    "quantity", "lessIncluded", "unitPrice", "unitCost", "billCustomer", "effectiveDate", "cancelledDate",
    "billedQuantity", "extPrice", "prorateCurrentPeriodFlag", "proratePrice", "agreementStatus",
    "agreement.id", "agreement.name", "agreement.type.name", "agreement.company.id",
    "agreement.company.identifier", "agreement.company.name", "agreement.billingCycle.name",
    "agreement.startDate", "agreement.endDate", "agreement.noEndingDateFlag", "agreement.cancelledFlag",
    "agreement.dateCancelled", "agreement.agreementStatus",
)
INVOICE_LINE_COLUMNS = (
    "id", "catalogItem.identifier", "description", "quantity", "price", "discount", "billableOption",
    "invoice.id", "invoice.invoiceNumber", "invoice.type", "invoice.date", "invoice.dueDate",
    "invoice.status.name", "invoice.company.name", "invoice.agreement.id", "invoice.agreement.name",
    "invoice.agreementAmount", "invoice.total",
)
CATALOG_COLUMNS = ("sku", "description", "list_price", "unit_cost", "vendor", "vendor_sku")
TIME_COLUMNS = ("id", "company.id", "company.identifier", "company.name", "chargeToId", "chargeToType",
                "member.id", "member.identifier", "member.name", "workType.name", "timeStart", "timeEnd",
                "actualHours", "billableOption", "hourlyRate", "invoice.id", "invoice.identifier", "ticket.id",
                "notes")
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
        invoices = _invoice_lines(api, period, companies, size)
        report("time entries", 0.8)
        entries = list(pages(api, "time/entries", {"conditions": conditions_between("timeStart", period)}, size))
        report("product catalog", 0.9)
        catalog = [_catalog_row(item) for item in pages(api, "procurement/catalog", page_size=size)]
    report("done", 1.0)
    return [
        Pulled("contracts", "agreement additions", text_frame(_addition_rows(agreements, additions, companies),
                                                              ADDITION_COLUMNS), preset="connectwise-additions-api"),
        Pulled("invoices", "invoice lines", text_frame(invoices, INVOICE_LINE_COLUMNS),
               preset="connectwise-invoice-lines-api"),
        Pulled("time_entries", "time entries", text_frame([_time_row(e, companies) for e in entries], TIME_COLUMNS),
               preset="connectwise-time-api"),
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


def flattened(record: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """A JSON record flattened the usual way: nested objects' fields as ``parent.child`` keys."""
    out: dict[str, Any] = {}
    for name, value in (record or {}).items():
        if isinstance(value, Mapping):
            out |= flattened(value, f"{prefix}{name}.")
        else:
            out[f"{prefix}{name}"] = value
    return out


def _with_company_name(record: Mapping[str, Any], key: str, companies: Mapping[Any, Any]) -> dict[str, Any]:
    """``record`` (flattened) with ``<key>.name`` filled from the company list where the reference lacks it."""
    out = dict(record)
    if not out.get(f"{key}.name"):
        out[f"{key}.name"] = companies.get(out.get(f"{key}.id")) or out.get(f"{key}.identifier")
    return out


def _addition_rows(agreements: list[dict[str, Any]], additions: Mapping[Any, list[dict[str, Any]]],
                   companies: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """Each addition flattened, with its agreement's fields under ``agreement.``."""
    rows = []
    for agreement in agreements:
        parent = _with_company_name(flattened(agreement, "agreement."), "agreement.company", companies)
        rows += [{**parent, **flattened(addition)} for addition in additions.get(agreement["id"], [])]
    return rows


def _invoice_lines(api: ApiClient, period: Period, companies: Mapping[Any, Any], size: int) -> list[dict[str, Any]]:
    """The month's invoices as the API has them: each procurement product line flattened with its invoice
    under ``invoice.``; an invoice with an ``agreementAmount`` also as one row without a product (its
    agreement part, which the API gives as a total only)."""
    invoices = list(pages(api, "finance/invoices", {"conditions": conditions_between("date", period)}, size))
    products = _products_of(api, [invoice["id"] for invoice in invoices], size)
    rows: list[dict[str, Any]] = []
    for invoice in invoices:
        header = _with_company_name(flattened(invoice, "invoice."), "invoice.company", companies)
        rows += [{**header, **flattened({name: value for name, value in product.items() if name != "invoice"})}
                 for product in products.get(invoice["id"], [])]
        if invoice.get("agreementAmount"):
            rows.append(header)
    return rows


def _products_of(api: ApiClient, invoice_ids: list[int], size: int) -> dict[Any, list[dict[str, Any]]]:
    """Procurement product lines of the given invoices, fetched ``ID_BATCH`` invoices at a time."""
    found: dict[Any, list[dict[str, Any]]] = {}
    for start in range(0, len(invoice_ids), ID_BATCH):
        batch = ",".join(str(i) for i in invoice_ids[start:start + ID_BATCH])
        for product in pages(api, "procurement/products", {"conditions": f"invoice/id in ({batch})"}, size):
            found.setdefault((product.get("invoice") or {}).get("id"), []).append(product)
    return found


def _catalog_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """A catalog item: its ``vendorSku`` is how vendor usage (Pax8, Microsoft) maps onto the PSA product."""
    return {"sku": item.get("identifier"), "description": item.get("description"), "list_price": item.get("price"),
            "unit_cost": item.get("cost"), "vendor": (item.get("vendor") or {}).get("name"),
            "vendor_sku": item.get("vendorSku")}


def _time_row(entry: Mapping[str, Any], companies: Mapping[Any, Any]) -> dict[str, Any]:
    """A time entry flattened (``company.name`` filled from the company list where missing)."""
    return _with_company_name(flattened(entry), "company", companies)


__all__ = ["check", "client", "conditions_between", "fetch", "flattened", "pages"]
