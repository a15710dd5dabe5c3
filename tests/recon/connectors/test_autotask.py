"""Autotask PSA against its stand-in: the three auth headers, filter queries, MaxRecords and nextPageUrl
paging, contracts with their company, billing items, time entries, services; and a month reconciled from
Autotask and Pax8 pulls with no file uploaded."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from recon.connectors import Connection, check, pull, pull_sources
from recon.engine import reconcile
from recon.errors import ConnectorError
from recon.money import from_decimal
from tests.recon.connectors import vendors
from tests.recon.connectors.conftest import SECRETS_TOML, connection, connections_toml, write_project
from tests.recon.connectors.standin import Reply, StandIn

PREFIX = vendors.AT_PREFIX


def autotask(tmp_path: Path, server: StandIn, extra: str = "", secrets: str = SECRETS_TOML) -> Connection:
    return connection(tmp_path, "at", connections_toml(autotask=server.url) + extra, secrets)


def test_contracts_are_the_units_overlapping_the_month_with_their_company(tmp_path: Path,
                                                                          autotask_server: StandIn) -> None:
    result = pull(autotask(tmp_path, autotask_server), vendors.MONTH)
    counts = result.counts().set_index("origin")
    assert counts.loc["at@2026-02:contract service units", ["rows_in", "rows_quarantined"]].tolist() == [4, 0]
    contracts = result.sources()["contracts"].sort_values(["client", "sku", "start_date"])
    assert list(contracts["client"]) == ["Acme Corp", "Acme Corp", "Acme Corp", "Globex LLC"]  # no client_lookup
    assert list(contracts["sku"]) == ["301", "301", "302", "302"]
    assert list(contracts["quantity"]) == [15.0, 17.0, 25.0, 10.0]
    assert [str(day.date()) for day in contracts["start_date"]] == ["2026-02-01", "2026-02-15", "2026-02-01",
                                                                    "2026-02-01"]
    assert contracts["unit_price"].iloc[0] == from_decimal("45")


def test_the_contract_frame_keeps_autotasks_field_names(tmp_path: Path, autotask_server: StandIn) -> None:
    [contracts] = [file for file in pull(autotask(tmp_path, autotask_server), vendors.MONTH).files
                   if file.kind == "contracts"]
    header = contracts.content.decode().splitlines()[0].split(",")
    assert header[:13] == ["id", "contractID", "contractServiceID", "serviceID", "startDate", "endDate", "units",
                           "price", "cost", "internalCurrencyPrice", "approveAndPostDate",
                           "organizationalLevelAssociationID", "vendorCompanyID"]
    assert {"companyName", "contractName", "serviceName"} <= set(header)
    assert contracts.preset == "autotask-contract-units"


def test_invoices_are_the_billing_items_of_the_months_invoices(tmp_path: Path, autotask_server: StandIn) -> None:
    invoices = pull(autotask(tmp_path, autotask_server), vendors.MONTH).sources()["invoices"]
    invoices = invoices.sort_values(["invoice_number", "line_id"])
    assert list(invoices["invoice_number"]) == ["AT-901", "AT-901", "AT-901", "AT-902"]  # not January's, not void
    assert list(invoices["client"]) == ["Acme Corp", "Acme Corp", "Acme Corp", "Globex LLC"]
    assert list(invoices["sku"]) == ["301", "302", "Remote Support", "302"]
    assert list(invoices["quantity"]) == [15.0, 25.0, 1.5, 10.0]
    assert list(invoices["amount"]) == [from_decimal(v) for v in ("675", "550", "225", "200")]
    assert str(invoices["invoice_date"].iloc[0].date()) == "2026-02-28"


def test_time_entries_get_their_company_technician_and_invoice(tmp_path: Path, autotask_server: StandIn) -> None:
    entries = pull(autotask(tmp_path, autotask_server), vendors.MONTH).sources()["time_entries"]
    entries = entries.sort_values("entry_id")
    assert list(entries["entry_id"]) == ["40001", "40002", "40003", "40004"]  # not January's 39999
    assert list(entries["client"]) == ["Acme Corp", "Acme Corp", "Initech", "Globex LLC"]  # ticket, task, contract
    assert list(entries["billable"]) == [True, True, False, True]  # not isNonBillable
    assert list(entries["invoice_number"].fillna("")) == ["", "AT-901", "", ""]
    assert list(entries["technician"]) == ["Jane Doe", "Jane Doe", "Bob Smith", "Bob Smith"]
    assert entries["ticket"].iloc[0] == "T20260210.0001" and entries["hours"].iloc[0] == 2.0


def test_services_are_the_catalog_with_the_vendor_sku_field(tmp_path: Path, autotask_server: StandIn) -> None:
    catalog = pull(autotask(tmp_path, autotask_server), vendors.MONTH).sources()["catalog"].sort_values("sku")
    assert list(catalog["sku"]) == ["301", "302"]
    assert list(catalog["vendor_sku"].fillna("")) == ["", "MS-OFF-BUS-PREM"]
    assert catalog["list_price"].iloc[1] == from_decimal("22")


def test_queries_send_the_months_filters_and_max_records(tmp_path: Path, autotask_server: StandIn) -> None:
    pull(autotask(tmp_path, autotask_server), vendors.MONTH)
    [units] = autotask_server.hits(f"{PREFIX}/ContractServiceUnits/query")
    assert units.method == "POST" and units.json() == {"filter": [
        {"field": "startDate", "op": "lt", "value": "2026-03-01T00:00:00"},
        {"field": "endDate", "op": "gte", "value": "2026-02-01T00:00:00"}], "MaxRecords": 2}
    [entries] = autotask_server.hits(f"{PREFIX}/TimeEntries/query")
    assert entries.json()["filter"][:2] == [{"field": "dateWorked", "op": "gte", "value": "2026-02-01T00:00:00"},
                                            {"field": "dateWorked", "op": "lt", "value": "2026-03-01T00:00:00"}]


def test_pages_follow_next_page_url_with_the_three_headers(tmp_path: Path, autotask_server: StandIn) -> None:
    pull(autotask(tmp_path, autotask_server), vendors.MONTH)
    following = autotask_server.hits(f"{PREFIX}/ContractServiceUnits/query/next")
    assert [request.query["offset"] for request in following] == ["2"]  # 4 units in range, 2 a page
    assert all(request.method == "GET" for request in following)
    for request in autotask_server.requests:
        if "zoneinformation" not in request.path.casefold():
            assert (request.headers["apiintegrationcode"], request.headers["username"], request.headers["secret"]) == (
                vendors.AT_CODE, vendors.AT_USER, vendors.AT_SECRET)


def test_queries_can_go_as_get_with_search(tmp_path: Path, autotask_server: StandIn) -> None:
    result = pull(autotask(tmp_path, autotask_server, 'query_method = "get"\n'), vendors.MONTH)
    [units] = autotask_server.hits(f"{PREFIX}/ContractServiceUnits/query")
    assert units.method == "GET" and json.loads(units.query["search"])["MaxRecords"] == 2
    assert len(result.sources()["contracts"]) == 4


def test_a_next_page_on_another_host_is_refused(tmp_path: Path, autotask_server: StandIn) -> None:
    with StandIn(lambda request: Reply(200, {"items": [], "pageDetails": {}})) as elsewhere:
        app = autotask_server.app
        assert isinstance(app, vendors.Autotask)
        app.next_host = elsewhere.url.replace("127.0.0.1", "localhost")
        with pytest.raises(ConnectorError, match=r"Autotask PSA connection 'at' was sent to another host "
                                                 r"\(localhost\) .*refused to follow it"):
            pull(autotask(tmp_path, autotask_server), vendors.MONTH)
        assert not elsewhere.requests  # the three headers never left the connection's host


def test_the_zone_is_looked_up_without_credentials(tmp_path: Path, autotask_server: StandIn) -> None:
    toml = connections_toml(autotask=autotask_server.url).replace(
        f'base_url = "{autotask_server.url}{PREFIX}"\n',
        f'zone_url = "{autotask_server.url}{PREFIX}/zoneInformation"\n')
    result = pull(connection(tmp_path, "at", toml), vendors.MONTH)
    [zone] = autotask_server.hits(f"{PREFIX}/zoneInformation")
    assert zone.query == {"user": vendors.AT_USER} and "secret" not in zone.headers
    assert len(result.sources()["contracts"]) == 4


def test_a_wrong_secret_is_a_clear_error_without_the_secret(tmp_path: Path, autotask_server: StandIn,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    wrong = SECRETS_TOML.replace(vendors.AT_SECRET, "wrong-autotask-secret")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectorError) as error:
        check(autotask(tmp_path, autotask_server, secrets=wrong))
    message = str(error.value)
    assert message.startswith(f"Autotask PSA connection 'at' refused the credentials (HTTP 401 on {PREFIX}/"
                              "Companies/query/count). Check username and integration_code")
    assert "RECON_CONN_AT_SECRET" in message and "The service said: Unauthorized: the user name" in message
    assert "wrong-autotask-secret" not in message + caplog.text


def test_an_error_body_is_quoted(tmp_path: Path, autotask_server: StandIn) -> None:
    autotask_server.fail(f"{PREFIX}/Invoices/query",
                         Reply(500, {"errors": ["Unable to find isVoided in the Invoices Entity."]}),
                         *[Reply(500, {"errors": ["Unable to find isVoided in the Invoices Entity."]})] * 3)
    with pytest.raises(ConnectorError, match=r"is unavailable \(HTTP 500 on /atservicesrest/v1\.0/Invoices/query\) "
                                             r"after 4 attempts; try again later\. The service said: Unable to find "
                                             r"isVoided in the Invoices Entity\."):
        pull(autotask(tmp_path, autotask_server), vendors.MONTH)


def test_throttled_then_fine(tmp_path: Path, autotask_server: StandIn) -> None:
    autotask_server.fail(f"{PREFIX}/Contracts/query",
                         Reply(429, {"errors": ["Thread threshold exceeded"]}, {"Retry-After": "0"}))
    result = pull(autotask(tmp_path, autotask_server), vendors.MONTH)
    assert len(result.sources()["contracts"]) == 4


def test_check_counts_companies(tmp_path: Path, autotask_server: StandIn) -> None:
    assert check(autotask(tmp_path, autotask_server)).endswith(": 3 companies")


def test_unknown_query_method_is_refused(tmp_path: Path, autotask_server: StandIn) -> None:
    with pytest.raises(ConnectorError, match=r"query_method must be post or get \(got 'put'\)"):
        pull(autotask(tmp_path, autotask_server, 'query_method = "put"\n'), vendors.MONTH)


def test_a_month_reconciles_from_autotask_and_pax8_with_no_upload(tmp_path: Path, autotask_server: StandIn,
                                                                  pax8_server: StandIn,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where .streamlit/secrets.toml is
    definitions, _ = write_project(tmp_path, connections_toml(pax8=pax8_server.url, autotask=autotask_server.url))
    sources, results = pull_sources(["at", "pax8"], vendors.MONTH, definitions)
    assert {record.source for result in results for record in result.imports} == {
        "contracts", "invoices", "time_entries", "catalog", "usage"}
    found = reconcile(sources, periods=[vendors.MONTH]).discrepancies
    keyed = found.set_index(["client", "sku", "type"])["variance"]
    assert keyed[("Acme Corp", "302", "quantity_under_billed")] == from_decimal("-44")  # Pax8 27 vs billed 25
    assert keyed[("Globex LLC", "302", "price_below_contract")] == from_decimal("-20")  # 20.00 against 22.00
    assert ("Acme Corp", "LABOR", "unbilled_time") in keyed.index  # 2 h on the ticket, never invoiced
    # 15 workstations, then 17 from the 15th: 16 in effect (rows replace one another), never 32
    assert keyed[("Acme Corp", "301", "quantity_under_billed")] == from_decimal("-45")
    assert isinstance(found, pd.DataFrame)
