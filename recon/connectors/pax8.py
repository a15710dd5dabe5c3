"""Pax8 partner API v1: what the distributor billed the MSP, per client, as usage with cost.

What this follows (Pax8's published OpenAPI, "PARTNER ENDPOINTS" and "Authentication",
devx.pax8.com/openapi/partner-endpoints.json; the same operations as Pax8's own CLI):

- OAuth 2.0 client credentials: ``POST https://token-manager.pax8.com/oauth/token`` with a JSON body
  ``{client_id, client_secret, audience, grant_type: "client_credentials"}`` (audience
  ``https://api.pax8.com`` for the partner endpoints); the answer's ``access_token`` (valid 86,400 s) is
  sent as ``Authorization: Bearer``. ``token_url`` and ``audience`` in connections.toml override both;
- base URL ``https://api.pax8.com/v1``; lists are paged with ``page`` (from 0) and ``size`` (at most
  200), the body being ``{"content": [...], "page": {"size", "totalElements", "totalPages", "number"}}``;
- ``/companies`` (``id``, ``name``); ``/invoices`` filtered server-side with ``invoiceDateRangeStart`` /
  ``invoiceDateRangeEnd`` (``yyyy-MM-dd``, both inclusive); ``/invoices/{invoiceId}/items``, the InvoiceItem
  fields (``companyName``, ``sku``, ``productName``, ``vendorName``, ``quantity``, ``startPeriod``,
  ``endPeriod``, ``price``, ``cost``, ``costTotal``, ``subTotal``, ``total``, ``type``, ``term``,
  ``subscriptionId``, ``currencyCode``...);
- usage-based products: ``/subscriptions`` (``id``, ``companyId``, ``productId``, ``startDate``,
  ``endDate``...), ``/subscriptions/{subscriptionId}/usage-summaries`` (``id``, ``companyId``,
  ``productId``, ``resourceGroup``, ``vendorName``, ``currentCharges``, ``partnerTotal``, ``isTrial``...;
  404 for a subscription that has none), ``/usage-summaries/{usageSummaryId}/usage-lines?usageDate=``
  (``usageDate`` is required: one day's lines, ``usageDate``, ``productId``, ``productName``,
  ``unitOfMeasure``, ``quantity``, ``unitPrice``, ``currentCharges``, ``currentProfit``,
  ``partnerTotal``, ``isTrial``...) and ``/products/{productId}`` (its ``sku``).

Two usage sources come out, both with the vendor's own field names:

- **invoice items** of every invoice dated in the month (Pax8 invoices a month's subscriptions at its
  start and usage-based products in arrears), read with the ``pax8-invoice-items`` preset like an uploaded
  invoice export. An item without a ``companyName`` takes its company's name from ``/companies``;
- **usage lines** of the month's days for every subscription that was live in the month and has usage
  summaries (``usage_summaries = false`` in connections.toml skips them: one call per subscription, then
  one per summary and day). Each line keeps its fields plus the summary's ``companyId``,
  ``resourceGroup``, ``vendorName``, the subscription's id, the company's name and the product's ``sku``;
  its canonical fields are mapped here (client = companyName, sku, quantity, period = usageDate,
  vendor = vendorName, subscription_id, product_name) since no export preset exists for them.

What the rows mean (credits, terms, arrears) is read downstream, by the presets and the engine. A month's
usage lines and the next month's invoice item of term ``Arrears`` for the same subscription report the
same use (the lines while the month runs, the item once Pax8 bills it): where both are loaded (the next
month's pull kept in the store, or both pulls in one data directory) the item replaces the lines it covers
(``recon.keys``; docs/semantics.md, "Use billed in arrears").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from recon.connectors.config import Connection, where_secrets_go
from recon.connectors.frames import Pulled, text_frame
from recon.connectors.http import MAX_PAGES, ApiClient, ClientCredentials, Hints, RetryPolicy
from recon.connectors.period import Period
from recon.errors import ConnectorError

SERVICE = "Pax8"
BASE_URL = "https://api.pax8.com/v1"
TOKEN_URL = "https://token-manager.pax8.com/oauth/token"
AUDIENCE = "https://api.pax8.com"
PAGE_SIZE = 200

ITEM_COLUMNS = ("id", "companyName", "companyId", "sku", "productName", "vendorName", "quantity", "unitOfMeasure",
                "startPeriod", "endPeriod", "price", "cost", "costTotal", "subTotal", "total", "type", "term",
                "rateType", "chargeType", "subscriptionId", "productId", "currencyCode", "description", "details",
                "billingFee", "salesTax", "amountDue", "invoiceId")
USAGE_LINE_COLUMNS = ("usageSummaryId", "usageDate", "companyId", "companyName", "resourceGroup", "subscriptionId",
                      "productId", "sku", "productName", "vendorName", "unitOfMeasure", "quantity", "unitPrice",
                      "currentCharges", "currentProfit", "partnerTotal", "currencyCode", "isTrial")
USAGE_LINE_FIELDS = {"client": "companyName", "sku": "sku", "quantity": "quantity", "period_start": "usageDate",
                     "period_end": "usageDate", "vendor": "vendorName", "subscription_id": "subscriptionId",
                     "product_name": "productName"}
Progress = Callable[[str, float], None]


def client(connection: Connection) -> ApiClient:
    """An API client for ``connection`` that fetches (and refreshes) its own bearer token."""
    secret = connection.secret("client_secret")
    hints = Hints(
        credentials=(f"client_id in connections.toml and the client_secret "
                     f"({where_secrets_go(connection.name, 'client_secret')}) of a Pax8 developer application"),
        permissions="that the developer application is granted the Partner API scopes (companies, invoices, "
                    "subscriptions, usage)")
    api = ApiClient(service=SERVICE, connection=connection.name, base_url=connection.setting("base_url", BASE_URL),
                    hints=hints, secrets=(secret,), timeout=float(connection.setting("timeout_seconds", 30)),
                    retry=RetryPolicy(attempts=int(connection.setting("retry_attempts", 5)),
                                      base_seconds=float(connection.setting("retry_base_seconds", 0.5))))
    api.token = ClientCredentials(api, connection.setting("token_url", TOKEN_URL), {
        "client_id": str(connection.setting("client_id")), "client_secret": secret,
        "audience": connection.setting("audience", AUDIENCE), "grant_type": "client_credentials"}, as_json=True)
    return api


def pages(api: ApiClient, path: str, params: Mapping[str, Any] | None = None, size: int = PAGE_SIZE,
          missing_ok: bool = False) -> Iterator[dict[str, Any]]:
    """Every record of a paged list: pages 0 .. ``page.totalPages - 1`` (none when ``missing_ok`` and
    Pax8 answers 404)."""
    for number in range(MAX_PAGES):
        body, response = api.get_json(path, params={**(params or {}), "page": number, "size": size},
                                      accept=(404,) if missing_ok else ())
        if response.status_code == 404:
            return
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise api.error(f"answered {response.request.url.path} without a 'content' list")
        yield from body["content"]
        total_pages = int((body.get("page") or {}).get("totalPages") or 0)
        if number + 1 >= total_pages or not body["content"]:
            return
    raise api.error(f"kept paging {path} past {MAX_PAGES} pages")


# ---------------------------------------------------------------------------------------------- pulling

def fetch(connection: Connection, period: Period, progress: Progress | None = None) -> list[Pulled]:
    """The month's invoice items, and (unless ``usage_summaries = false``) its usage lines, as usage rows."""
    report = progress or (lambda step, fraction: None)
    size = int(connection.setting("page_size", PAGE_SIZE))
    with client(connection) as api:
        report("companies", 0.0)
        companies = {company["id"]: company.get("name") for company in pages(api, "companies", size=size)}
        report("invoices", 0.1)
        items = invoice_items(api, period, companies, size, lambda done: report("invoice items", 0.1 + 0.4 * done))
        pulled = [Pulled("usage", "invoice items", text_frame(items, ITEM_COLUMNS), preset="pax8-invoice-items")]
        if _wants_usage(connection):
            lines = usage_lines(api, period, companies, size, lambda done: report("usage lines", 0.5 + 0.5 * done))
            if lines:
                pulled.append(Pulled("usage", "usage lines", text_frame(lines, USAGE_LINE_COLUMNS),
                                     USAGE_LINE_FIELDS))
    report("done", 1.0)
    return pulled


def month_invoices(api: ApiClient, period: Period, size: int) -> list[dict[str, Any]]:
    """The invoices dated in ``period``, filtered by Pax8 (``invoiceDateRangeStart`` / ``End``)."""
    window = {"invoiceDateRangeStart": period.start.isoformat(), "invoiceDateRangeEnd": period.end.isoformat()}
    return [invoice for invoice in pages(api, "invoices", window, size) if _dated_in(invoice, period)]


def invoice_items(api: ApiClient, period: Period, companies: Mapping[Any, Any], size: int,
                  report: Callable[[float], None]) -> list[dict[str, Any]]:
    """Every item of every invoice dated in the month."""
    invoices, items = month_invoices(api, period, size), []
    for index, invoice in enumerate(invoices):
        items += [_item_row(item, invoice, companies)
                  for item in pages(api, f"invoices/{quote(str(invoice['id']))}/items", size=size)]
        report((index + 1) / len(invoices))
    return items


def usage_lines(api: ApiClient, period: Period, companies: Mapping[Any, Any], size: int,
                report: Callable[[float], None]) -> list[dict[str, Any]]:
    """The month's daily usage lines of every subscription live in it that has usage summaries."""
    live = [item for item in pages(api, "subscriptions", size=size) if _live_in(item, period)]
    skus: dict[Any, Any] = {}
    lines: list[dict[str, Any]] = []
    for index, subscription in enumerate(live):
        for summary in usage_summaries(api, str(subscription["id"]), size):
            context = _summary_context(summary, subscription, companies)
            for day in _days(period):
                lines += [_line_row(line, context, skus, api)
                          for line in pages(api, f"usage-summaries/{quote(str(summary['id']))}/usage-lines",
                                            {"usageDate": day.isoformat()}, size)]
        report((index + 1) / len(live))
    return lines


def usage_summaries(api: ApiClient, subscription_id: str, size: int) -> list[dict[str, Any]]:
    """A subscription's usage summaries; none when Pax8 answers 404 (not a usage-based subscription)."""
    return list(pages(api, f"subscriptions/{quote(subscription_id)}/usage-summaries", size=size, missing_ok=True))


def check(connection: Connection) -> str:
    """Fetch a token and the first page of companies."""
    with client(connection) as api:
        body, _ = api.get_json("companies", params={"page": 0, "size": 1})
    total = (body.get("page") or {}).get("totalElements", "?") if isinstance(body, dict) else "?"
    return f"{SERVICE} answered at {api.base_url}: {total} companies"


# -------------------------------------------------------------------------------------------------- rows

def _wants_usage(connection: Connection) -> bool:
    value = connection.setting("usage_summaries", True)
    if not isinstance(value, bool):
        raise ConnectorError(f"{connection.label}: usage_summaries must be true or false (got {value!r})")
    return value


def _dated_in(invoice: Mapping[str, Any], period: Period) -> bool:
    dated = str(invoice.get("invoiceDate") or "")[:10]
    return period.start.isoformat() <= dated <= period.end.isoformat()


def _live_in(subscription: Mapping[str, Any], period: Period) -> bool:
    """Whether a subscription existed during ``period`` (no start date: assumed; no end date: open)."""
    starts = str(subscription.get("startDate") or "")[:10]
    ends = str(subscription.get("endDate") or "")[:10]
    return (not starts or starts <= period.end.isoformat()) and (not ends or ends >= period.start.isoformat())


def _days(period: Period) -> list[date]:
    return [period.start + timedelta(days=offset) for offset in range((period.next_start - period.start).days)]


def _item_row(item: Mapping[str, Any], invoice: Mapping[str, Any], companies: Mapping[Any, Any]) -> dict[str, Any]:
    row = dict(item)
    row["companyName"] = item.get("companyName") or companies.get(item.get("companyId"))
    row["invoiceId"] = item.get("invoiceId") or invoice.get("id")
    return row


def _summary_context(summary: Mapping[str, Any], subscription: Mapping[str, Any],
                     companies: Mapping[Any, Any]) -> dict[str, Any]:
    company = summary.get("companyId") or subscription.get("companyId")
    return {"usageSummaryId": summary.get("id"), "companyId": company, "companyName": companies.get(company),
            "resourceGroup": summary.get("resourceGroup"), "vendorName": summary.get("vendorName"),
            "subscriptionId": summary.get("subscriptionId") or subscription.get("id")}


def _line_row(line: Mapping[str, Any], context: Mapping[str, Any], skus: dict[Any, Any],
              api: ApiClient) -> dict[str, Any]:
    product = line.get("productId")
    if product and product not in skus:
        body, _ = api.get_json(f"products/{quote(str(product))}")
        skus[product] = body.get("sku") if isinstance(body, dict) else None
    return {**context, **line, "usageSummaryId": line.get("usageSummaryId") or context["usageSummaryId"],
            "sku": skus.get(product)}


__all__ = ["check", "client", "fetch", "invoice_items", "month_invoices", "pages", "usage_lines"]
