"""Pax8 partner API v1: what the distributor billed the MSP, per client, as usage with cost.

What this follows (Pax8's partner API reference, devx.pax8.com, and the public client libraries that
wrap it):

- OAuth 2.0 client credentials: ``POST https://login.pax8.com/oauth/token`` with a JSON body
  ``{client_id, client_secret, audience, grant_type: "client_credentials"}`` (audience
  ``https://api.pax8.com``); the answer's ``access_token`` is sent as ``Authorization: Bearer``;
- base URL ``https://api.pax8.com/v1``; lists are paged with ``page`` (from 0) and ``size`` (at most
  200), the body being ``{"content": [...], "page": {"size", "totalElements", "totalPages", "number"}}``;
- ``/companies`` (``id``, ``name``), ``/invoices`` (``id``, ``invoiceDate``, ``status``...) and
  ``/invoices/{invoiceId}/items``, whose fields are the columns of Pax8's invoice export (``companyName``,
  ``sku``, ``productName``, ``vendorName``, ``quantity``, ``startPeriod``, ``endPeriod``, ``price``,
  ``cost``, ``costTotal``, ``subTotal``, ``total``, ``type``, ``term``, ``subscriptionId``,
  ``currencyCode``).

The usage frame keeps those column names and is read with the ``pax8-invoice-items`` preset, so a pull
and an uploaded invoice export land identically (credits, prorated lines and all). The month's items are
those of the invoices dated in it (Pax8 invoices a month's subscriptions at its start and usage-based
products in arrears). An item without a ``companyName`` takes its company's name from ``/companies``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from recon.connectors.config import Connection, where_secrets_go
from recon.connectors.frames import Pulled, text_frame
from recon.connectors.http import MAX_PAGES, ApiClient, ClientCredentials, Hints, RetryPolicy
from recon.connectors.period import Period

SERVICE = "Pax8"
BASE_URL = "https://api.pax8.com/v1"
TOKEN_URL = "https://login.pax8.com/oauth/token"
AUDIENCE = "https://api.pax8.com"
PAGE_SIZE = 200

ITEM_COLUMNS = ("companyName", "companyId", "sku", "productName", "vendorName", "quantity", "startPeriod",
                "endPeriod", "price", "cost", "costTotal", "subTotal", "total", "type", "term",
                "subscriptionId", "currencyCode", "invoiceId")
Progress = Callable[[str, float], None]


def client(connection: Connection) -> ApiClient:
    """An API client for ``connection`` that fetches (and refreshes) its own bearer token."""
    secret = connection.secret("client_secret")
    hints = Hints(
        credentials=(f"client_id in connections.toml and the client_secret "
                     f"({where_secrets_go(connection.name, 'client_secret')}) of a Pax8 developer application"),
        permissions="that the developer application is granted the Partner API scopes (companies, invoices)")
    api = ApiClient(service=SERVICE, connection=connection.name, base_url=connection.setting("base_url", BASE_URL),
                    hints=hints, secrets=(secret,), timeout=float(connection.setting("timeout_seconds", 30)),
                    retry=RetryPolicy(attempts=int(connection.setting("retry_attempts", 5)),
                                      base_seconds=float(connection.setting("retry_base_seconds", 0.5))))
    api.token = ClientCredentials(api, connection.setting("token_url", TOKEN_URL), {
        "client_id": str(connection.setting("client_id")), "client_secret": secret,
        "audience": connection.setting("audience", AUDIENCE), "grant_type": "client_credentials"}, as_json=True)
    return api


def pages(api: ApiClient, path: str, params: Mapping[str, Any] | None = None,
          size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
    """Every record of a paged list: pages 0 .. ``page.totalPages - 1``."""
    for number in range(MAX_PAGES):
        body, response = api.get_json(path, params={**(params or {}), "page": number, "size": size})
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise api.error(f"answered {response.request.url.path} without a 'content' list")
        yield from body["content"]
        total_pages = int((body.get("page") or {}).get("totalPages") or 0)
        if number + 1 >= total_pages or not body["content"]:
            return
    raise api.error(f"kept paging {path} past {MAX_PAGES} pages")


def fetch(connection: Connection, period: Period, progress: Progress | None = None) -> list[Pulled]:
    """The invoice items of every Pax8 invoice dated in ``period``, as usage rows."""
    report = progress or (lambda step, fraction: None)
    size = int(connection.setting("page_size", PAGE_SIZE))
    with client(connection) as api:
        report("companies", 0.0)
        companies = {company["id"]: company.get("name") for company in pages(api, "companies", size=size)}
        report("invoices", 0.2)
        invoices = [invoice for invoice in pages(api, "invoices", size=size) if _dated_in(invoice, period)]
        items = []
        for index, invoice in enumerate(invoices):
            report(f"invoice items ({index + 1} of {len(invoices)})", 0.3 + 0.7 * index / max(len(invoices), 1))
            items += [_item_row(item, invoice, companies) for item in pages(api, f"invoices/{invoice['id']}/items",
                                                                             size=size)]
    report("done", 1.0)
    frame = text_frame(items, ITEM_COLUMNS)
    return [Pulled("usage", "invoice items", frame, preset="pax8-invoice-items")]


def check(connection: Connection) -> str:
    """Fetch a token and the first page of companies."""
    with client(connection) as api:
        body, _ = api.get_json("companies", params={"page": 0, "size": 1})
    total = (body.get("page") or {}).get("totalElements", "?") if isinstance(body, dict) else "?"
    return f"{SERVICE} answered at {api.base_url}: {total} companies"


def _dated_in(invoice: Mapping[str, Any], period: Period) -> bool:
    dated = str(invoice.get("invoiceDate") or "")[:10]
    return period.start.isoformat() <= dated <= period.end.isoformat()


def _item_row(item: Mapping[str, Any], invoice: Mapping[str, Any], companies: Mapping[Any, Any]) -> dict[str, Any]:
    row = dict(item)
    row["companyName"] = item.get("companyName") or companies.get(item.get("companyId"))
    row["invoiceId"] = item.get("invoiceId") or invoice.get("id")
    return row


__all__ = ["check", "client", "fetch", "pages"]
