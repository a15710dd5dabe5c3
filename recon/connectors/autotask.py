"""Autotask PSA REST API (v1.0): contracts with their units, invoices, time entries and services.

What this follows (Autotask developer help: "Making basic query calls to the REST API", "Advanced query
features of the REST API", "Finding resource and child access URLs of REST API entities", "Autotask API
zones", the ContractServiceUnits / ContractServices entity articles; the entities' fields as Autotask's
Swagger models define them, as in public clients such as Anteris-Dev/autotask-client):

- base URL: the zone of the API user, ``https://webservices<N>.autotask.net/atservicesrest/v1.0``
  (``base_url``); without one it is asked once from ``GET https://webservices.autotask.net/atservicesrest/
  v1.0/zoneInformation?user=<username>`` (``{"url": ".../atservicesrest/"}``; no credentials are sent);
- authentication: three headers on every call, ``ApiIntegrationCode`` (the API user's tracking
  identifier), ``UserName`` and ``Secret``;
- queries: ``POST /{Entity}/query`` with ``{"filter": [{"field", "op", "value"}...], "MaxRecords": 500}``
  (``query_method = "get"`` sends the same JSON as ``GET /{Entity}/query?search=...``); operators eq,
  noteq, gt, gte, lt, lte, in, notIn, exist, notExist, beginsWith, endsWith, contains; at most 500
  records a page. The answer is ``{"items": [...], "pageDetails": {"count", "requestCount",
  "prevPageUrl", "nextPageUrl"}}``; the next page is a ``GET`` of ``nextPageUrl`` (with the same headers,
  and only on the connection's own host) until it is null. Errors come as ``{"errors": ["..."]}``;
- ``GET|POST /{Entity}/query/count`` answers ``{"queryCount": n}`` (the connection test).

What a month pulls:

- **contracts**: the ContractServiceUnits whose date range overlaps the month (Autotask writes one per
  billing period and a new one from the effective date of a unit adjustment, so the month's rows and the
  ones running into it), each with its fields (id, contractID, contractServiceID, serviceID, startDate,
  endDate, units, price, cost, internalCurrencyPrice, approveAndPostDate...) plus the contract's company
  (Contracts.companyID -> Companies.companyName, so no ``client_lookup`` is needed), contractName,
  contractNumber, the service's name (Services) and the contract service's invoiceDescription
  (ContractServices). Read with the ``autotask-contract-units`` preset;
- **invoices**: the BillingItems of the invoices dated in the month (Invoices.invoiceDateTime; voided
  invoices left out), each with its invoice's invoiceNumber, invoiceDateTime, dueDate and the company's
  name. A billing item carries no product code: ``sku`` is its serviceID (the contract units' service id)
  and, for an item of no service (labour, a charge), its itemName;
- **time entries**: the TimeEntries worked in the month (dateWorked), with the company of their ticket
  (Tickets), project task (Tasks -> Projects) or contract, the resource's name (Resources), the ticket
  number, the invoice number of the billing item that invoiced the entry (BillingItems.timeEntryID ->
  Invoices) and ``billable``, the opposite of Autotask's isNonBillable;
- **catalog**: the Services (id, name, unitPrice, unitCost; ``vendor_sku_udf`` names a user-defined field
  holding the vendor SKU(s) the service resells, for vendor usage to map onto it).

Rows keep Autotask's field names; canonical fields are mapped where no export preset exists. What the
rows mean (effective-dated units replacing one another, proration) is read downstream.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from recon.connectors.config import Connection, where_secrets_go
from recon.connectors.frames import Pulled, text_frame
from recon.connectors.http import MAX_PAGES, ApiClient, Hints, RetryPolicy
from recon.connectors.period import Period
from recon.errors import ConnectorError

SERVICE = "Autotask PSA"
ZONE_URL = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"
MAX_RECORDS = 500  # Autotask's ceiling for MaxRecords
QUERY_METHODS = ("post", "get")

UNIT_FIELDS = ("id", "contractID", "contractServiceID", "serviceID", "startDate", "endDate", "units", "price",
               "cost", "internalCurrencyPrice", "approveAndPostDate", "organizationalLevelAssociationID",
               "vendorCompanyID")
UNIT_COLUMNS = (*UNIT_FIELDS, "companyID", "companyName", "contractName", "contractNumber", "serviceName",
                "invoiceDescription")
ITEM_FIELDS = ("id", "invoiceID", "companyID", "contractID", "contractServiceID", "serviceID", "serviceBundleID",
               "billingItemType", "subType", "itemDate", "itemName", "description", "quantity", "rate",
               "extendedPrice", "taxDollars", "totalAmount", "ourCost", "timeEntryID", "ticketID", "projectID",
               "postedDate")
ITEM_COLUMNS = (*ITEM_FIELDS, "sku", "invoiceNumber", "invoiceDateTime", "dueDate", "companyName")
ITEM_CANONICAL = {"invoice_number": "invoiceNumber", "invoice_date": "invoiceDateTime", "client": "companyName",
                  "sku": "sku", "quantity": "quantity", "unit_price": "rate", "amount": "extendedPrice",
                  "due_date": "dueDate", "description": "itemName", "tax": "taxDollars", "line_id": "id"}
ENTRY_FIELDS = ("id", "dateWorked", "startDateTime", "endDateTime", "hoursWorked", "hoursToBill", "isNonBillable",
                "showOnInvoice", "resourceID", "roleID", "billingCodeID", "contractID", "ticketID", "taskID",
                "summaryNotes")
ENTRY_COLUMNS = (*ENTRY_FIELDS, "companyName", "resourceName", "ticketNumber", "invoiceNumber", "billable")
ENTRY_CANONICAL = {"date": "dateWorked", "client": "companyName", "hours": "hoursWorked", "billable": "billable",
                   "invoice_number": "invoiceNumber", "entry_id": "id", "technician": "resourceName",
                   "ticket": "ticketNumber"}
SERVICE_FIELDS = ("id", "name", "description", "invoiceDescription", "unitPrice", "unitCost", "periodType",
                  "isActive", "vendorCompanyID")
SERVICE_COLUMNS = (*SERVICE_FIELDS, "vendorSku")
SERVICE_CANONICAL = {"sku": "id", "description": "name", "list_price": "unitPrice", "unit_cost": "unitCost",
                     "vendor_sku": "vendorSku"}
Progress = Callable[[str, float], None]
Record = dict[str, Any]


# ------------------------------------------------------------------------------------------------ client

def _retry(connection: Connection) -> RetryPolicy:
    return RetryPolicy(attempts=int(connection.setting("retry_attempts", 5)),
                       base_seconds=float(connection.setting("retry_base_seconds", 0.5)))


def _hints(connection: Connection) -> Hints:
    return Hints(
        credentials=(f"username and integration_code (the API user's tracking identifier) in connections.toml, "
                     f"and the secret ({where_secrets_go(connection.name, 'secret')})"),
        permissions=("the API user's security level: view access to Contracts, Billing (invoices), Time entries, "
                     "Tickets, Projects, Resources, Companies and Services"))


def base_url(connection: Connection) -> str:
    """The zone's REST base URL: ``base_url`` in connections.toml, else asked from Autotask's zone lookup."""
    configured = connection.setting("base_url")
    if configured:
        return str(configured).rstrip("/")
    lookup = httpx.URL(str(connection.setting("zone_url", ZONE_URL)))
    origin = f"{lookup.scheme}://{lookup.netloc.decode('ascii')}"
    with ApiClient(service=SERVICE, connection=connection.name, base_url=origin, hints=_hints(connection),
                   timeout=float(connection.setting("timeout_seconds", 30)), retry=_retry(connection)) as zone:
        body, _ = zone.get_json(lookup.path, params={"user": str(connection.setting("username"))})
    if not isinstance(body, dict) or not body.get("url"):
        raise ConnectorError(f"{connection.label}: Autotask's zone lookup did not know the user "
                             f"{connection.setting('username')!r}; set base_url to the zone's REST URL "
                             "(https://webservices<N>.autotask.net/atservicesrest/v1.0)")
    return str(body["url"]).rstrip("/") + "/v1.0"


def client(connection: Connection, url: str | None = None) -> ApiClient:
    """An API client for ``connection`` sending the three Autotask headers on every call."""
    secret = connection.secret("secret")
    code = str(connection.setting("integration_code"))
    headers = {"ApiIntegrationCode": code, "UserName": str(connection.setting("username")), "Secret": secret,
               "Content-Type": "application/json"}
    return ApiClient(service=SERVICE, connection=connection.name, base_url=url or base_url(connection),
                     hints=_hints(connection), secrets=(secret, code), headers=headers,
                     timeout=float(connection.setting("timeout_seconds", 30)), retry=_retry(connection))


# ------------------------------------------------------------------------------------------------- query

def query(api: ApiClient, entity: str, filters: Sequence[Mapping[str, Any]], size: int = MAX_RECORDS,
          method: str = "post") -> Iterator[Record]:
    """Every record of ``entity`` matching ``filters`` (ANDed), ``size`` a page, following
    ``pageDetails.nextPageUrl``."""
    search = {"filter": list(filters), "MaxRecords": size}
    if method == "get":
        body, _ = api.get_json(f"{entity}/query", params={"search": json.dumps(search)})
    else:
        body, _ = api.request_json("POST", f"{entity}/query", json=search)
    for _ in range(MAX_PAGES):
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise api.error(f"answered the {entity} query without an 'items' list")
        yield from body["items"]
        following = (body.get("pageDetails") or {}).get("nextPageUrl")
        if not following or not body["items"]:
            return
        body, _ = api.get_json(str(httpx.URL(api.base_url + "/").join(str(following))))
    raise api.error(f"kept paging the {entity} query past {MAX_PAGES} pages")


def by_ids(api: ApiClient, entity: str, field: str, ids: Iterable[Any], size: int = MAX_RECORDS,
           method: str = "post") -> list[Record]:
    """The records of ``entity`` whose ``field`` is one of ``ids`` (queried ``size`` ids at a time)."""
    wanted = sorted({int(value) for value in ids if value is not None})
    found: list[Record] = []
    for start in range(0, len(wanted), size):
        found += query(api, entity, [{"field": field, "op": "in", "value": wanted[start:start + size]}], size,
                       method)
    return found


def within(field: str, period: Period) -> list[dict[str, Any]]:
    """``field`` inside the month (timestamps; exclusive end)."""
    return [{"field": field, "op": "gte", "value": f"{period.start.isoformat()}T00:00:00"},
            {"field": field, "op": "lt", "value": f"{period.next_start.isoformat()}T00:00:00"}]


def overlapping(period: Period) -> list[dict[str, Any]]:
    """A ``startDate`` .. ``endDate`` range that shares at least a day with the month."""
    return [{"field": "startDate", "op": "lt", "value": f"{period.next_start.isoformat()}T00:00:00"},
            {"field": "endDate", "op": "gte", "value": f"{period.start.isoformat()}T00:00:00"}]


# ---------------------------------------------------------------------------------------------- pulling

class Month:
    """What one month's pull reads, entity by entity, keeping the looked-up records by id."""

    def __init__(self, api: ApiClient, connection: Connection, period: Period) -> None:
        self.api, self.period = api, period
        self.size = min(int(connection.setting("page_size", MAX_RECORDS)), MAX_RECORDS)
        self.method = str(connection.setting("query_method", "post")).casefold()
        if self.method not in QUERY_METHODS:
            raise ConnectorError(f"{connection.label}: query_method must be post or get (got {self.method!r})")
        self.records: dict[str, dict[int, Record]] = {}
        self.entry_invoices: dict[int, Any] = {}  # time entry id -> the invoice that billed it

    def query(self, entity: str, filters: Sequence[Mapping[str, Any]]) -> list[Record]:
        found = list(query(self.api, entity, filters, self.size, self.method))
        self.keep(entity, found)
        return found

    def lookup(self, entity: str, ids: Iterable[Any]) -> dict[int, Record]:
        """``entity`` records by id, fetching those of ``ids`` not looked up yet."""
        known = self.records.setdefault(entity, {})
        missing = {int(value) for value in ids if value is not None} - set(known)
        self.keep(entity, by_ids(self.api, entity, "id", missing, self.size, self.method))
        return known

    def keep(self, entity: str, records: Iterable[Record]) -> None:
        self.records.setdefault(entity, {}).update({int(record["id"]): record for record in records})

    def name(self, entity: str, record_id: Any, field: str) -> Any:
        return (self.records.get(entity, {}).get(int(record_id)) or {}).get(field) if record_id is not None else None


def fetch(connection: Connection, period: Period, progress: Progress | None = None) -> list[Pulled]:
    """Contract service units, the month's billing items and time entries, and the service catalog."""
    report = progress or (lambda step, fraction: None)
    with client(connection) as api:
        month = Month(api, connection, period)
        report("contract service units", 0.0)
        units = contract_units(month)
        report("invoices", 0.3)
        items = billing_items(month)
        report("time entries", 0.6)
        entries = time_entries(month)
        report("services", 0.85)
        services = catalog(month, connection.setting("vendor_sku_udf"))
        _company_names(month)
    report("done", 1.0)
    return [
        Pulled("contracts", "contract service units",
               text_frame([_unit_row(month, unit) for unit in units], UNIT_COLUMNS), {"client": "companyName"},
               preset="autotask-contract-units"),
        Pulled("invoices", "billing items", text_frame([_item_row(month, item) for item in items], ITEM_COLUMNS),
               ITEM_CANONICAL),
        Pulled("time_entries", "time entries",
               text_frame([_entry_row(month, entry) for entry in entries], ENTRY_COLUMNS), ENTRY_CANONICAL),
        Pulled("catalog", "services", text_frame(services, SERVICE_COLUMNS), SERVICE_CANONICAL),
    ]


def contract_units(month: Month) -> list[Record]:
    """The ContractServiceUnits overlapping the month, their contracts and contract services looked up."""
    units = month.query("ContractServiceUnits", overlapping(month.period))
    month.lookup("Contracts", (unit.get("contractID") for unit in units))
    month.lookup("ContractServices", (unit.get("contractServiceID") for unit in units))
    return units


def billing_items(month: Month) -> list[Record]:
    """The billing items of the month's invoices (voided invoices left out)."""
    invoices = month.query("Invoices", [*within("invoiceDateTime", month.period),
                                        {"field": "isVoided", "op": "noteq", "value": True}])
    items = by_ids(month.api, "BillingItems", "invoiceID", (invoice["id"] for invoice in invoices), month.size,
                   month.method)
    month.keep("BillingItems", items)
    return items


def time_entries(month: Month) -> list[Record]:
    """The month's time entries, with what gives each one its company, technician and invoice."""
    entries = month.query("TimeEntries", within("dateWorked", month.period))
    month.lookup("Tickets", (entry.get("ticketID") for entry in entries))
    tasks = month.lookup("Tasks", (entry.get("taskID") for entry in entries))
    month.lookup("Projects", (task.get("projectID") for task in tasks.values()))
    month.lookup("Contracts", (entry.get("contractID") for entry in entries))
    month.lookup("Resources", (entry.get("resourceID") for entry in entries))
    invoiced = by_ids(month.api, "BillingItems", "timeEntryID", (entry["id"] for entry in entries), month.size,
                      month.method)
    month.entry_invoices = {int(item["timeEntryID"]): item["invoiceID"] for item in invoiced if item.get("invoiceID")}
    month.lookup("Invoices", month.entry_invoices.values())
    return entries


def catalog(month: Month, vendor_sku_udf: str | None) -> list[Record]:
    """Every service, with the vendor SKU from the user-defined field ``vendor_sku_udf`` when named."""
    services = month.query("Services", [{"field": "id", "op": "gte", "value": 0}])
    return [{**service, "vendorSku": _udf(service, vendor_sku_udf)} for service in services]


def check(connection: Connection) -> str:
    """``Companies/query/count``: proves the zone, the three headers and read access in one call."""
    with client(connection) as api:
        body, _ = api.request_json("POST", "Companies/query/count",
                                   json={"filter": [{"field": "id", "op": "gte", "value": 0}]})
    count = body.get("queryCount", "?") if isinstance(body, dict) else "?"
    return f"{SERVICE} answered at {api.base_url}: {count} companies"


# -------------------------------------------------------------------------------------------------- rows

def _company_names(month: Month) -> None:
    """Look up every company the pulled records name (contracts, invoices and their items, tickets, projects)."""
    ids = [record.get("companyID") for entity in ("Contracts", "Invoices", "BillingItems", "Tickets", "Projects")
           for record in month.records.get(entity, {}).values()]
    month.lookup("Companies", ids)


def _scalars(record: Mapping[str, Any]) -> Record:
    return {key: value for key, value in record.items() if not isinstance(value, dict | list)}


def _unit_row(month: Month, unit: Mapping[str, Any]) -> Record:
    contract = month.records.get("Contracts", {}).get(int(unit.get("contractID") or -1), {})
    return {**_scalars(unit), "companyID": contract.get("companyID"),
            "companyName": month.name("Companies", contract.get("companyID"), "companyName"),
            "contractName": contract.get("contractName"), "contractNumber": contract.get("contractNumber"),
            "serviceName": month.name("Services", unit.get("serviceID"), "name"),
            "invoiceDescription": month.name("ContractServices", unit.get("contractServiceID"), "invoiceDescription")}


def _item_row(month: Month, item: Mapping[str, Any]) -> Record:
    invoice = month.records.get("Invoices", {}).get(int(item.get("invoiceID") or -1), {})
    company = item.get("companyID") or invoice.get("companyID")
    return {**_scalars(item), "sku": item.get("serviceID") or item.get("itemName"),
            "invoiceNumber": invoice.get("invoiceNumber"), "invoiceDateTime": invoice.get("invoiceDateTime"),
            "dueDate": invoice.get("dueDate"), "companyName": month.name("Companies", company, "companyName")}


def _entry_row(month: Month, entry: Mapping[str, Any]) -> Record:
    resource = month.records.get("Resources", {}).get(int(entry.get("resourceID") or -1), {})
    invoice_id = month.entry_invoices.get(int(entry["id"]))
    name = " ".join(str(part) for part in (resource.get("firstName"), resource.get("lastName")) if part)
    return {**_scalars(entry), "companyName": month.name("Companies", _entry_company(month, entry), "companyName"),
            "resourceName": name or None, "ticketNumber": month.name("Tickets", entry.get("ticketID"), "ticketNumber"),
            "invoiceNumber": month.name("Invoices", invoice_id, "invoiceNumber"),
            "billable": not bool(entry.get("isNonBillable"))}


def _entry_company(month: Month, entry: Mapping[str, Any]) -> Any:
    """A time entry's company: its ticket's, else its task's project's, else its contract's."""
    ticket = month.name("Tickets", entry.get("ticketID"), "companyID")
    project = month.name("Tasks", entry.get("taskID"), "projectID")
    return (ticket or month.name("Projects", project, "companyID")
            or month.name("Contracts", entry.get("contractID"), "companyID"))


def _udf(record: Mapping[str, Any], name: str | None) -> Any:
    if not name:
        return None
    return next((field.get("value") for field in record.get("userDefinedFields") or []
                 if isinstance(field, dict) and field.get("name") == name), None)


__all__ = ["base_url", "by_ids", "check", "client", "fetch", "overlapping", "query", "within"]
