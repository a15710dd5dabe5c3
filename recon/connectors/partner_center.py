"""Microsoft Partner Center: billed invoice reconciliation line items (new commerce), as usage.

Which invoices a month has (Partner Center REST, "Get a collection of invoices", "Invoice resources"):
``GET https://api.partnercenter.microsoft.com/v1/invoices`` answers ``{"totalCount", "items": [{"id",
"invoiceDate", "billingPeriodStartDate", "billingPeriodEndDate", "invoiceType" ("Recurring" | "OneTime"),
"documentType", ...}], "links": {"next": ...}}``. The month's invoices are the new-commerce ones
(``invoiceType`` OneTime, or not given) whose billing period overlaps it (else whose invoice date falls in
it), or the ``invoice_ids`` the connection lists. Partner Center calls use an app-only token:
``POST https://login.microsoftonline.com/<tenant>/oauth2/token`` as a form (``grant_type=client_credentials``,
``client_id``, ``client_secret``, ``resource=https://api.partnercenter.microsoft.com``).

Each invoice's line items come from one of two APIs ("Get invoice line items", key migration dates: billing
periods before February 2024 are served by v1 only; from February 2024 v2 is the API, v1 being retired for
them). By default an invoice whose billing period starts in or after ``v2_from`` (``2024-02``) is read with
v2, an earlier one with v1; ``api = "v1"`` or ``"v2"`` in connections.toml forces one.

API v1 (Partner Center): ``GET /v1/invoices/{id}/lineitems?provider=onetime&invoicelineitemtype=
billinglineitems&size=2000`` returns ``{"totalCount", "items", "links": {"next": {"uri", "method",
"headers": [{"key": "MS-ContinuationToken", "value"}]}}}``; the next page is the ``next`` link's (relative)
URI sent with its headers, until a page has no ``next`` link.

API v2 ("Billed invoice reconciliation API v2 (GA)", learn.microsoft.com/partner-center/developer/
billed-invoice-reconciliation; Microsoft Graph v1.0 reference: billedReconciliation: export, Get operation,
manifest, blob, attributeSet; microsoft/Partner-Center-Billing-Recon-Samples MSGraphSample):

1. token: ``POST https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`` as a form
   (``grant_type=client_credentials``, ``client_id``, ``client_secret``,
   ``scope=https://graph.microsoft.com/.default``); the app needs the Graph application permission
   ``PartnerBilling.Read.All`` (admin-consented), which ``check`` reads from the token's ``roles``;
2. ``POST https://graph.microsoft.com/v1.0/reports/partners/billing/reconciliation/billed/export`` with
   ``{"invoiceId": "G...", "attributeSet": "full"}`` answers ``202 Accepted`` and a ``Location``
   (``.../reports/partners/billing/operations/{id}``);
3. ``GET`` that location until the operation is no longer running: ``{"status": "running"}`` (wait as its
   ``Retry-After`` says, else ``poll_seconds``; at most ``max_poll_minutes`` in all), ``{"status":
   "succeeded"}`` (the documented enum also says ``completed``) with the manifest as ``resourceLocation``
   (Microsoft's sample) or as a ``resourceLocation@odata.navigationLink`` to ``GET``, or ``{"status":
   "failed", "error": {"code", "message"}}``. 429s and 5xx are retried by the HTTP client (Retry-After
   honoured);
4. the manifest (``id, schemaVersion, dataFormat`` "compressedJSONLines", ``createdDateTime, eTag,
   partnerTenantId, rootDirectory, sasToken, partitionType, blobCount, blobs[{name, partitionValue}]``)
   names the files: each is ``GET {rootDirectory}/{name}?{sasToken}`` from Azure Blob Storage, with the SAS
   token only (no bearer token is sent there), a gzip file of JSON lines, one line item per line.

A URL the service answers with (an operation's ``Location``, a manifest link, a next page) is followed only
on the host it came from, so a token never goes to another host; the SAS token is a secret like the others
(redacted from every message).

Rows keep the vendor's field names: v2's attributes (PartnerId, CustomerName, ProductId, SkuId, ChargeType,
BillableQuantity, ChargeStartDate, ProductQualifiers...; the ``full`` attribute set, the same names as the
downloadable reconciliation file's columns except ``Tier2MpnId`` for the file's ``ResellerMpnId``) and v1's
line item fields (``customerName``, ``billableQuantity``, ``totalForCustomer``...) written under the file's
column names (``CustomerName``, ``BillableQuantity``, ``Total``...). The ``microsoft-nce-recon`` preset
reads them exactly as it reads a downloaded reconciliation file: what a row means (credits, cycles,
trials) is the preset's business, not this module's. Each API version pulled gives its own source.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import httpx

from recon.connectors.config import Connection, where_secrets_go
from recon.connectors.frames import Pulled, text_frame
from recon.connectors.http import (
    MAX_PAGES,
    ApiClient,
    ClientCredentials,
    Hints,
    RetryPolicy,
    retry_after_seconds,
)
from recon.connectors.period import Period
from recon.errors import ConnectorError

SERVICE = "Microsoft Partner Center"
BASE_URL = "https://api.partnercenter.microsoft.com/v1"
TOKEN_URL = "https://login.microsoftonline.com/{tenant_id}/oauth2/token"
RESOURCE = "https://api.partnercenter.microsoft.com"
GRAPH_URL = "https://graph.microsoft.com/v1.0"
GRAPH_TOKEN_URL = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PERMISSION = "PartnerBilling.Read.All"
EXPORT_PATH = "reports/partners/billing/reconciliation/billed/export"
V2_FROM = "2024-02"  # the first billing period Microsoft serves through API v2
API_CHOICES = ("auto", "v1", "v2")
PAGE_SIZE = 2000
POLL_SECONDS = 30.0  # between polls when the operation gives no Retry-After
MAX_POLL_MINUTES = 60.0
MAX_POLLS = 1000
SUCCEEDED = frozenset({"succeeded", "completed"})
GZIP_MAGIC = b"\x1f\x8b"

# Graph attributeSet "full" for billedReconciliation: export, in Microsoft's order
V2_ATTRIBUTES = (
    "PartnerId", "CustomerId", "CustomerName", "CustomerDomainName", "CustomerCountry", "InvoiceNumber", "MpnId",
    "Tier2MpnId", "OrderId", "OrderDate", "ProductId", "SkuId", "AvailabilityId", "SkuName", "ProductName",
    "ChargeType", "UnitPrice", "Quantity", "Subtotal", "TaxTotal", "Total", "Currency", "PriceAdjustmentDescription",
    "PublisherName", "PublisherId", "SubscriptionDescription", "SubscriptionId", "ChargeStartDate", "ChargeEndDate",
    "TermAndBillingCycle", "EffectiveUnitPrice", "UnitType", "AlternateId", "BillableQuantity", "BillingFrequency",
    "PricingCurrency", "PCToBCExchangeRate", "PCToBCExchangeRateDate", "MeterDescription", "ReservationOrderId",
    "CreditReasonCode", "SubscriptionStartDate", "SubscriptionEndDate", "ReferenceId", "ProductQualifiers",
    "PromotionId", "ProductCategory",
)
# the downloadable reconciliation file's columns ("Learn how to read new commerce invoice reconciliation
# files"): v2's attributes but ResellerMpnId; v1's camelCase fields are written under these names
FILE_COLUMNS = tuple("ResellerMpnId" if name == "Tier2MpnId" else name for name in V2_ATTRIBUTES)
V1_RENAMED = {"totalForCustomer": "Total"}  # the one v1 field whose file column has another name
PRESET = "microsoft-nce-recon"
Progress = Callable[[str, float], None]


# ------------------------------------------------------------------------------------------------ clients

def _retry(connection: Connection) -> RetryPolicy:
    return RetryPolicy(attempts=int(connection.setting("retry_attempts", 5)),
                       base_seconds=float(connection.setting("retry_base_seconds", 0.5)))


def _app_client(connection: Connection, base_url: str, token_url: str, audience: Mapping[str, str],
                permissions: str) -> ApiClient:
    """A client with an app-only Microsoft identity platform token (client credentials, as a form);
    ``audience`` is the form's ``resource`` (token v1) or ``scope`` (token v2)."""
    secret = connection.secret("client_secret")
    hints = Hints(credentials=(f"tenant_id and client_id (the Entra ID app registered in Partner Center) in "
                               f"connections.toml, and the client_secret "
                               f"({where_secrets_go(connection.name, 'client_secret')})"), permissions=permissions)
    api = ApiClient(service=SERVICE, connection=connection.name, base_url=base_url, hints=hints, secrets=(secret,),
                    timeout=float(connection.setting("timeout_seconds", 60)), retry=_retry(connection))
    api.token = ClientCredentials(api, token_url.format(tenant_id=connection.setting("tenant_id")), {
        "grant_type": "client_credentials", "client_id": str(connection.setting("client_id")),
        "client_secret": secret, **audience})
    return api


def client(connection: Connection) -> ApiClient:
    """A Partner Center API client for ``connection`` (invoices, API v1)."""
    return _app_client(connection, connection.setting("base_url", BASE_URL), connection.setting("token_url", TOKEN_URL),
                       {"resource": connection.setting("resource", RESOURCE)},
                       "that the app is registered in Partner Center (Account settings > App management) and the "
                       "partner account has a billing admin role")


def graph_client(connection: Connection) -> ApiClient:
    """A Microsoft Graph client for ``connection`` (API v2)."""
    return _app_client(connection, connection.setting("graph_url", GRAPH_URL),
                       connection.setting("graph_token_url", GRAPH_TOKEN_URL),
                       {"scope": connection.setting("graph_scope", GRAPH_SCOPE)},
                       f"that the Entra app has the Microsoft Graph application permission {PERMISSION} with admin "
                       "consent (Entra admin center > App registrations > API permissions)")


def blob_client(connection: Connection, root_directory: str, sas_token: str) -> ApiClient:
    """A client for the manifest's storage account: no credentials but the SAS token in each URL."""
    root = httpx.URL(root_directory)
    origin = f"{root.scheme}://{root.netloc.decode('ascii')}"
    hints = Hints(credentials="that the export is recent (its SAS token expires); pull again for a fresh one",
                  permissions="that the export is recent (its SAS token expires); pull again for a fresh one")
    return ApiClient(service=SERVICE, connection=connection.name, base_url=origin, hints=hints,
                     secrets=(sas_token, *_sas_signatures(sas_token)), headers={"Accept": "*/*"},
                     timeout=float(connection.setting("timeout_seconds", 60)), retry=_retry(connection))


def _sas_signatures(sas_token: str) -> list[str]:
    """The ``sig`` value of a SAS query, as written and URL-decoded, for redaction."""
    signatures = [part.split("=", 1)[1] for part in sas_token.lstrip("?").split("&") if part.startswith("sig=")]
    return [*signatures, *(unquote(signature) for signature in signatures)]


# ---------------------------------------------------------------------------------------------- invoices

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


def month_invoices(api: ApiClient, connection: Connection, period: Period) -> list[dict[str, Any]]:
    """The invoices whose line items make the month: the listed ``invoice_ids``, else the new-commerce
    invoices whose billing period overlaps it."""
    listed = connection.setting("invoice_ids", [])
    if listed:
        return [{"id": str(invoice_id)} for invoice_id in listed]
    return [invoice for invoice in follow_links(api, "invoices") if _new_commerce(invoice) and _covers(invoice, period)]


def api_version(invoice: Mapping[str, Any], period: Period, connection: Connection) -> str:
    """``"v1"`` or ``"v2"``: the connection's ``api`` when it forces one, else by the invoice's billing
    period (the pulled month for a listed invoice) against ``v2_from``."""
    chosen = str(connection.setting("api", "auto")).casefold()
    if chosen not in API_CHOICES:
        raise ConnectorError(f"{connection.label}: api must be one of {', '.join(API_CHOICES)} (got {chosen!r})")
    if chosen != "auto":
        return chosen
    starts = str(invoice.get("billingPeriodStartDate") or "")[:7] or period.label
    return "v2" if starts >= str(connection.setting("v2_from", V2_FROM)) else "v1"


# ------------------------------------------------------------------------------------------------- v1 API

def v1_lines(api: ApiClient, invoice_id: str, size: int) -> list[dict[str, Any]]:
    """An invoice's one-time (new commerce) billing line items, through API v1."""
    return list(follow_links(api, f"invoices/{quote(invoice_id)}/lineitems", {
        "provider": "onetime", "invoicelineitemtype": "billinglineitems", "size": size}))


# ------------------------------------------------------------------------------------------------- v2 API

def v2_lines(graph: ApiClient, connection: Connection, invoice_id: str) -> list[dict[str, Any]]:
    """An invoice's billed reconciliation line items, through API v2: export, wait, download."""
    location = start_export(graph, invoice_id)
    manifest = await_manifest(graph, location, connection, invoice_id)
    return read_blobs(connection, manifest, invoice_id)


def start_export(graph: ApiClient, invoice_id: str) -> str:
    """Ask for the invoice's export; the URL of the operation to poll (the answer's ``Location``)."""
    response = graph.request("POST", EXPORT_PATH, json={"invoiceId": invoice_id, "attributeSet": "full"})
    location = response.headers.get("Location")
    if response.status_code != 202 or not location:
        raise graph.error(f"answered the export of invoice {invoice_id} with HTTP {response.status_code} "
                          "and no operation Location to poll")
    return location


def await_manifest(graph: ApiClient, location: str, connection: Connection, invoice_id: str) -> dict[str, Any]:
    """Poll the export operation until it succeeds (its manifest) or fails (``ConnectorError``), waiting as
    each answer's ``Retry-After`` says (else ``poll_seconds``), ``max_poll_minutes`` of waiting at most."""
    default_wait = float(connection.setting("poll_seconds", POLL_SECONDS))
    budget = float(connection.setting("max_poll_minutes", MAX_POLL_MINUTES)) * 60
    waited = 0.0
    for _ in range(MAX_POLLS):
        operation, response = graph.get_json(location)
        status = str((operation or {}).get("status", "")).casefold() if isinstance(operation, dict) else ""
        if status in SUCCEEDED:
            return _manifest_of(graph, operation)
        if status == "failed":
            raise graph.error(f"could not export invoice {invoice_id}: {_failure(operation)}")
        asked = retry_after_seconds(response.headers.get("Retry-After"))
        wait = min(default_wait if asked is None else asked, graph.retry.max_retry_after)
        if waited + wait > budget:
            break
        graph.sleep(wait)
        waited += wait
    raise graph.error(f"was still preparing the export of invoice {invoice_id} after {waited:.0f} seconds "
                      "of waiting; pull again later (or raise max_poll_minutes)")


def _manifest_of(graph: ApiClient, operation: Mapping[str, Any]) -> dict[str, Any]:
    inline = operation.get("resourceLocation")
    if isinstance(inline, dict):
        return inline
    link = operation.get("resourceLocation@odata.navigationLink") or (inline if isinstance(inline, str) else None)
    if not link:
        raise graph.error("reported the export succeeded but named no manifest (resourceLocation)")
    manifest, response = graph.get_json(str(link))
    if not isinstance(manifest, dict):
        raise graph.error(f"answered {response.request.url.path} without a manifest")
    return manifest


def _failure(operation: Mapping[str, Any]) -> str:
    error = operation.get("error") or {}
    message = str(error.get("message") or "no reason given") if isinstance(error, dict) else str(error)
    code = error.get("code") if isinstance(error, dict) else None
    return f"{message} (code {code})" if code else message


def read_blobs(connection: Connection, manifest: Mapping[str, Any], invoice_id: str) -> list[dict[str, Any]]:
    """Every line item of a manifest's files (gzip JSON lines), downloaded with its SAS token only."""
    root, sas, blobs = manifest.get("rootDirectory"), manifest.get("sasToken"), manifest.get("blobs")
    if not isinstance(root, str) or not isinstance(sas, str) or not isinstance(blobs, list):
        raise ConnectorError(f"{SERVICE} connection {connection.name!r}: the manifest of invoice {invoice_id} "
                             "lacks rootDirectory, sasToken or blobs")
    if manifest.get("blobCount") is not None and int(manifest["blobCount"]) != len(blobs):
        raise ConnectorError(f"{SERVICE} connection {connection.name!r}: the manifest of invoice {invoice_id} "
                             f"announces {manifest['blobCount']} files but lists {len(blobs)}")
    rows: list[dict[str, Any]] = []
    with blob_client(connection, root, sas) as storage:
        for blob in blobs:
            name = str(blob.get("name") or "")
            content = storage.get_bytes(f"{root.rstrip('/')}/{quote(name)}?{sas.lstrip('?')}")
            rows += json_lines(content, name, storage)
    return rows


def json_lines(content: bytes, name: str, storage: ApiClient) -> list[dict[str, Any]]:
    """One downloaded file's records: gzip (as the manifest's ``compressedJSONLines`` says) of JSON lines."""
    try:
        text = (gzip.decompress(content) if content[:2] == GZIP_MAGIC else content).decode("utf-8-sig")
        records = [json.loads(line, parse_float=Decimal) for line in text.splitlines() if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise storage.error(f"sent the file {name} in a form that is not gzip JSON lines ({type(error).__name__})"
                            ) from None
    if not all(isinstance(record, dict) for record in records):
        raise storage.error(f"sent the file {name} with a line that is not a JSON object")
    return records


# ---------------------------------------------------------------------------------------------- pulling

def fetch(connection: Connection, period: Period, progress: Progress | None = None) -> list[Pulled]:
    """The billed line items of the month's invoices, as usage rows (one source per API version used)."""
    report = progress or (lambda step, fraction: None)
    size = int(connection.setting("page_size", PAGE_SIZE))
    lines: dict[str, list[dict[str, Any]]] = {"v1": [], "v2": []}
    with ExitStack() as stack:
        api = stack.enter_context(client(connection))
        report("invoices", 0.0)
        invoices = month_invoices(api, connection, period)
        graph: ApiClient | None = None
        for index, invoice in enumerate(invoices):
            invoice_id, version = str(invoice["id"]), api_version(invoice, period, connection)
            report(f"line items of {invoice_id} (API {version}, {index + 1} of {len(invoices)})",
                   0.1 + 0.9 * index / len(invoices))
            if version == "v1":
                lines["v1"] += v1_lines(api, invoice_id, size)
                continue
            graph = graph or stack.enter_context(graph_client(connection))
            lines["v2"] += v2_lines(graph, connection, invoice_id)
    report("done", 1.0)
    used = [version for version in ("v1", "v2") if lines[version]]
    return [_pulled(version, lines[version]) for version in used or [api_version({}, period, connection)]]


def _pulled(version: str, records: list[dict[str, Any]]) -> Pulled:
    if version == "v1":
        rows = [file_names(record) for record in records]
        return Pulled("usage", "billed reconciliation line items (API v1)",
                      text_frame(rows, columns_of(rows, FILE_COLUMNS)), preset=PRESET)
    return Pulled("usage", "billed invoice reconciliation (API v2)",
                  text_frame(records, columns_of(records, V2_ATTRIBUTES)), preset=PRESET)


def file_names(record: Mapping[str, Any]) -> dict[str, Any]:
    """A v1 line item under the reconciliation file's column names (``customerName`` -> ``CustomerName``,
    ``totalForCustomer`` -> ``Total``); a field the file has no column for keeps its own name."""
    by_folded = {column.casefold(): column for column in FILE_COLUMNS}
    return {V1_RENAMED.get(key) or by_folded.get(key.casefold(), key): value for key, value in record.items()}


def columns_of(records: Sequence[Mapping[str, Any]], documented: Sequence[str]) -> list[str]:
    """The documented fields in their order, then any other (non-object) field the records carry."""
    known = set(documented)
    extra = sorted({key for record in records for key, value in record.items()
                    if key not in known and not isinstance(value, dict)})
    return [*documented, *extra]


def check(connection: Connection) -> str:
    """Fetch a Partner Center token and the invoice list; unless ``api = "v1"``, a Graph token too, whose
    ``roles`` must grant PartnerBilling.Read.All."""
    with client(connection) as api:
        body, _ = api.get_json("invoices")
    count = body.get("totalCount", "?") if isinstance(body, dict) else "?"
    answer = f"{SERVICE} answered at {api.base_url}: {count} invoices"
    if str(connection.setting("api", "auto")).casefold() == "v1":
        return answer
    with graph_client(connection) as graph:
        assert graph.token is not None
        roles = token_roles(graph.token(False))
        if roles is not None and PERMISSION not in roles:
            raise graph.error(f"issued a Graph token without the {PERMISSION} permission (roles: "
                              f"{', '.join(roles) or 'none'}). Check {graph.hints.permissions}")
    return f"{answer}; Microsoft Graph (API v2) token granted"


def token_roles(token: str) -> list[str] | None:
    """The ``roles`` claim of a JWT access token (read, not verified: the service verifies it), or ``None``
    when the token is not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return [str(role) for role in roles] if isinstance(roles, list) else []


def _relative(uri: str, base_url: str) -> str:
    """A ``links.next`` URI relative to the API root; some answers repeat the ``/v1`` prefix."""
    version = "/" + base_url.rstrip("/").rsplit("/", 1)[-1] + "/"
    return uri[len(version) - 1:] if uri.startswith(version) else uri


def _new_commerce(invoice: Mapping[str, Any]) -> bool:
    """New-commerce (one-time billing provider) invoices: ``invoiceType`` OneTime, or not given. Legacy
    license-based ("Recurring") invoices have no reconciliation line items in either API."""
    kind = str(invoice.get("invoiceType") or "OneTime").casefold().replace("_", "").replace("-", "")
    return kind == "onetime"


def _covers(invoice: Mapping[str, Any], period: Period) -> bool:
    starts = str(invoice.get("billingPeriodStartDate") or "")[:10]
    ends = str(invoice.get("billingPeriodEndDate") or "")[:10]
    if starts and ends:
        return starts <= period.end.isoformat() and ends >= period.start.isoformat()
    dated = str(invoice.get("invoiceDate") or "")[:10]
    return period.start.isoformat() <= dated <= period.end.isoformat()


__all__ = ["api_version", "check", "client", "fetch", "follow_links", "graph_client", "month_invoices", "read_blobs"]
