"""Microsoft Partner Center: billed invoice reconciliation line items (new commerce), as usage.

What this follows (Microsoft Learn, Partner Center REST reference: "Get invoice line items", "Get
invoices", "Partner Center authentication"):

- app-only authentication: ``POST https://login.microsoftonline.com/<tenant>/oauth2/token`` as a form
  ``grant_type=client_credentials, client_id, client_secret, resource=https://api.partnercenter.microsoft.com``;
  the ``access_token`` goes out as ``Authorization: Bearer``;
- ``GET /v1/invoices`` lists invoices (``{"totalCount", "items": [{"id", "invoiceDate",
  "billingPeriodStartDate", "billingPeriodEndDate", ...}], "links"}``);
- ``GET /v1/invoices/{id}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems&size=2000``
  returns ``{"totalCount", "items", "links": {"next": {"uri", "method", "headers": [{"key":
  "MS-ContinuationToken", "value"}]}}, "continuationToken"}``; the next page is the ``next`` link's
  (relative) URI sent with its headers, until a page has no ``next`` link;
- line item fields (``customerName``, ``customerDomainName``, ``productId``, ``skuId``, ``skuName``,
  ``productName``, ``chargeType``, ``unitPrice``, ``effectiveUnitPrice``, ``quantity``,
  ``billableQuantity``, ``subtotal``, ``taxTotal``, ``totalForCustomer``, ``currency``,
  ``subscriptionId``, ``chargeStartDate``, ``chargeEndDate``, ``termAndBillingCycle``,
  ``invoiceNumber``, ``publisherName``) are written under the column names of the downloadable
  reconciliation file (``CustomerName``, ``SkuId``, ``BillableQuantity``, ``ChargeStartDate``...) and
  read with the ``microsoft-nce-recon`` preset, like a downloaded reconciliation file.

Microsoft moves invoices from billing period February 2024 on to the asynchronous "billed invoice
reconciliation API v2" (Microsoft Graph export to a blob); this connector reads the v1 line items above.

The month's invoices are those whose billing period overlaps it (else whose invoice date falls in it),
or the ``invoice_ids`` listed in the connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from recon.connectors.config import Connection, where_secrets_go
from recon.connectors.frames import Pulled, text_frame
from recon.connectors.http import MAX_PAGES, ApiClient, ClientCredentials, Hints, RetryPolicy
from recon.connectors.period import Period

SERVICE = "Microsoft Partner Center"
BASE_URL = "https://api.partnercenter.microsoft.com/v1"
TOKEN_URL = "https://login.microsoftonline.com/{tenant_id}/oauth2/token"
RESOURCE = "https://api.partnercenter.microsoft.com"
PAGE_SIZE = 2000

# reconciliation-file column -> API field
FIELDS = {
    "CustomerName": "customerName", "CustomerDomainName": "customerDomainName", "CustomerId": "customerId",
    "ProductId": "productId", "SkuId": "skuId", "SkuName": "skuName", "ProductName": "productName",
    "PublisherName": "publisherName", "ChargeType": "chargeType", "UnitPrice": "unitPrice",
    "EffectiveUnitPrice": "effectiveUnitPrice", "Quantity": "quantity", "BillableQuantity": "billableQuantity",
    "Subtotal": "subtotal", "TaxTotal": "taxTotal", "Total": "totalForCustomer", "Currency": "currency",
    "SubscriptionId": "subscriptionId", "ChargeStartDate": "chargeStartDate", "ChargeEndDate": "chargeEndDate",
    "TermAndBillingCycle": "termAndBillingCycle", "InvoiceNumber": "invoiceNumber",
}
Progress = Callable[[str, float], None]


def client(connection: Connection) -> ApiClient:
    """An API client for ``connection`` with an app-only Microsoft identity platform token."""
    secret = connection.secret("client_secret")
    hints = Hints(
        credentials=(f"tenant_id and client_id (the Entra ID app registered in Partner Center) in "
                     f"connections.toml, and the client_secret ({where_secrets_go(connection.name, 'client_secret')})"),
        permissions=("that the app is registered in Partner Center (Account settings > App management) and "
                     "the partner account has a billing admin role"))
    api = ApiClient(service=SERVICE, connection=connection.name, base_url=connection.setting("base_url", BASE_URL),
                    hints=hints, secrets=(secret,), timeout=float(connection.setting("timeout_seconds", 60)),
                    retry=RetryPolicy(attempts=int(connection.setting("retry_attempts", 5)),
                                      base_seconds=float(connection.setting("retry_base_seconds", 0.5))))
    token_url = str(connection.setting("token_url", TOKEN_URL)).format(tenant_id=connection.setting("tenant_id"))
    api.token = ClientCredentials(api, token_url, {
        "grant_type": "client_credentials", "client_id": str(connection.setting("client_id")),
        "client_secret": secret, "resource": connection.setting("resource", RESOURCE)})
    return api


def follow_links(api: ApiClient, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every item of a Partner Center collection, following ``links.next`` (URI plus its headers)."""
    target, query, headers = path, params, None
    for _ in range(MAX_PAGES):
        body, response = api.get_json(target, params=query, headers=headers)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise api.error(f"answered {response.request.url.path} without an 'items' list")
        yield from body["items"]
        following = (body.get("links") or {}).get("next")
        if not following or not following.get("uri") or not body["items"]:
            return
        target, query = _relative(str(following["uri"]), api.base_url), None
        headers = {str(h["key"]): str(h["value"]) for h in following.get("headers") or [] if "key" in h}
    raise api.error(f"kept paging {path} past {MAX_PAGES} pages")


def fetch(connection: Connection, period: Period, progress: Progress | None = None) -> list[Pulled]:
    """The billed one-time/new-commerce line items of the month's invoices, as usage rows."""
    report = progress or (lambda step, fraction: None)
    size = int(connection.setting("page_size", PAGE_SIZE))
    with client(connection) as api:
        report("invoices", 0.0)
        chosen = [str(i) for i in connection.setting("invoice_ids", [])] or \
            [str(invoice["id"]) for invoice in follow_links(api, "invoices") if _covers(invoice, period)]
        lines = []
        for index, invoice_id in enumerate(chosen):
            report(f"line items of {invoice_id} ({index + 1} of {len(chosen)})", 0.1 + 0.9 * index / len(chosen))
            lines += list(follow_links(api, f"invoices/{invoice_id}/lineitems", {
                "provider": "onetime", "invoicelineitemtype": "billinglineitems", "size": size}))
    report("done", 1.0)
    rows = [{column: line.get(field) for column, field in FIELDS.items()} for line in lines]
    frame = text_frame(rows, list(FIELDS))
    return [Pulled("usage", "billed reconciliation line items", frame, preset="microsoft-nce-recon")]


def check(connection: Connection) -> str:
    """Fetch a token and the invoice list."""
    with client(connection) as api:
        body, _ = api.get_json("invoices")
    count = body.get("totalCount", "?") if isinstance(body, dict) else "?"
    return f"{SERVICE} answered at {api.base_url}: {count} invoices"


def _relative(uri: str, base_url: str) -> str:
    """A ``links.next`` URI relative to the API root; some answers repeat the ``/v1`` prefix."""
    version = "/" + base_url.rstrip("/").rsplit("/", 1)[-1] + "/"
    return uri[len(version) - 1:] if uri.startswith(version) else uri


def _covers(invoice: Mapping[str, Any], period: Period) -> bool:
    starts = str(invoice.get("billingPeriodStartDate") or "")[:10]
    ends = str(invoice.get("billingPeriodEndDate") or "")[:10]
    if starts and ends:
        return starts <= period.end.isoformat() and ends >= period.start.isoformat()
    dated = str(invoice.get("invoiceDate") or "")[:10]
    return period.start.isoformat() <= dated <= period.end.isoformat()


__all__ = ["check", "client", "fetch", "follow_links"]
