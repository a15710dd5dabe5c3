"""Pax8 against its stand-in: OAuth token, page.totalPages paging, usage frame as the invoice-items preset."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from recon.connectors import check, pax8, pull
from recon.engine import reconcile
from recon.errors import ConnectorError
from recon.ingest.files import load_file
from recon.money import from_decimal
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES
from recon.sources import combine
from tests.recon.connectors import vendors
from tests.recon.connectors.conftest import SECRETS_TOML, connection, connections_toml
from tests.recon.connectors.standin import Reply, StandIn


def test_pull_returns_the_months_invoice_items_as_usage(tmp_path: Path, pax8_server: StandIn) -> None:
    result = pull(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)), vendors.MONTH)
    record = result.imports[0]
    assert record.file == "pax8@2026-02:invoice items"
    assert (record.source, record.rows_in, record.rows_loaded, record.rows_quarantined) == ("usage", 3, 2, 1)
    usage = result.sources()["usage"]
    usage = usage[usage["source_file"] == record.file].sort_values("sku")
    assert list(usage["client"]) == ["ACME Corp.", "ACME Corp."]  # the missing companyName from /companies
    assert list(usage["sku"]) == ["DATTO-SAAS-PROT", "MS-OFF-BUS-PREM"]
    assert list(usage["quantity"]) == [27.0, 27.0]
    assert list(usage["unit_cost"]) == [from_decimal("2.45"), from_decimal("19.8")]  # exact, not float
    assert str(usage["period_end"].iloc[0].date()) == "2026-02-28"
    [issue] = result.issues.itertuples()
    assert issue.reason.startswith("quantity: required value is empty") and issue.file == "pax8@2026-02:invoice items"


def test_token_once_and_pages_by_total_pages(tmp_path: Path, pax8_server: StandIn) -> None:
    pull(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)), vendors.MONTH)
    assert len(pax8_server.hits("/oauth/token")) == 1
    token_request = pax8_server.hits("/oauth/token")[0].json()
    assert token_request["audience"] == "https://api.pax8.com" and token_request["grant_type"] == "client_credentials"
    items = pax8_server.hits("/v1/invoices/inv-feb/items")
    assert [(r.query["page"], r.query["size"]) for r in items] == [("0", "2"), ("1", "2")]
    assert not pax8_server.hits("/v1/invoices/inv-jan/items")  # January's invoice is not pulled
    assert all(r.headers["authorization"] == "Bearer pax8-token-1" for r in items)


def test_expired_token_is_refreshed_once(tmp_path: Path, pax8_server: StandIn) -> None:
    pax8_server.fail("/v1/invoices", Reply(401, {"status": 401, "message": "Token expired"}))
    result = pull(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)), vendors.MONTH)
    assert len(pax8_server.hits("/oauth/token")) == 2 and len(result.sources()["usage"]) == 2 + 2


def test_rate_limited_then_flaky_then_fine(tmp_path: Path, pax8_server: StandIn) -> None:
    pax8_server.fail("/v1/companies", Reply(429, {"message": "Too Many Requests"}, {"Retry-After": "0"}),
                     Reply(503, None))
    result = pull(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)), vendors.MONTH)
    assert len(pax8_server.hits("/v1/companies")) == 3 and len(result.sources()["usage"]) == 2 + 2


def test_wrong_client_secret_is_a_clear_error_without_the_secret(tmp_path: Path, pax8_server: StandIn,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    wrong = SECRETS_TOML.replace(vendors.PAX8_SECRET, "wrong-pax8-secret-value")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectorError) as error:
        check(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url), wrong))
    message = str(error.value)
    assert message.startswith("Pax8 connection 'pax8' refused the credentials (HTTP 401 on /oauth/token). "
                              "Check client_id in connections.toml and the client_secret")
    assert "RECON_CONN_PAX8_CLIENT_SECRET" in message and "The service said: Unauthorized" in message
    assert "wrong-pax8-secret-value" not in message + caplog.text


def test_forbidden_scope(tmp_path: Path, pax8_server: StandIn) -> None:
    pax8_server.fail("/v1/companies", Reply(403, {"status": 403, "message": "Insufficient scope"}))
    with pytest.raises(ConnectorError, match=r"does not allow reading /v1/companies \(HTTP 403\). Check that the "
                                             r"developer application .*Insufficient scope"):
        check(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)))


def test_check_counts_companies(tmp_path: Path, pax8_server: StandIn) -> None:
    answer = check(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)))
    assert answer.endswith(": 2 companies")


def test_the_months_invoices_are_asked_for_by_date_range(tmp_path: Path, pax8_server: StandIn) -> None:
    pull(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)), vendors.MONTH)
    [listing] = pax8_server.hits("/v1/invoices")
    assert (listing.query["invoiceDateRangeStart"], listing.query["invoiceDateRangeEnd"]) == ("2026-02-01",
                                                                                              "2026-02-28")


def test_the_token_url_is_the_current_specs_unless_overridden(tmp_path: Path, pax8_server: StandIn) -> None:
    assert pax8.TOKEN_URL == "https://token-manager.pax8.com/oauth/token"  # Pax8's Authentication OpenAPI
    toml = connections_toml(pax8=pax8_server.url)
    assert f'token_url = "{pax8_server.url}/oauth/token"' in toml  # overridden, as a user can
    pull(connection(tmp_path, "pax8", toml), vendors.MONTH)
    assert len(pax8_server.hits("/oauth/token")) == 1


def test_usage_based_products_come_from_usage_summaries(tmp_path: Path, pax8_server: StandIn) -> None:
    result = pull(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)), vendors.MONTH)
    by_file = {record.file: record for record in result.imports}
    lines = by_file["pax8@2026-02:usage lines"]
    assert (lines.source, lines.rows_in, lines.rows_loaded, lines.rows_quarantined) == ("usage", 2, 2, 0)
    usage = result.sources()["usage"]
    proofpoint = usage[usage["sku"] == "PP-ESS-PRO"].sort_values("period_start")
    assert list(proofpoint["client"]) == ["Globex LLC", "Globex LLC"]
    assert list(proofpoint["quantity"]) == [4.0, 3.0]
    assert [str(day.date()) for day in proofpoint["period_start"]] == ["2026-02-14", "2026-02-15"]
    assert list(proofpoint["period_end"]) == list(proofpoint["period_start"])
    assert set(proofpoint["vendor"]) == {"Proofpoint"} and set(proofpoint["subscription_id"]) == {"sub-pp"}


def test_usage_lines_are_asked_day_by_day_of_live_subscriptions_only(tmp_path: Path, pax8_server: StandIn) -> None:
    pull(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)), vendors.MONTH)
    asked = [request.query["usageDate"] for request in pax8_server.hits("/v1/usage-summaries/us-1/usage-lines")]
    assert asked == [f"2026-02-{day:02d}" for day in range(1, 29)]
    assert pax8_server.hits("/v1/subscriptions/sub-f1/usage-summaries")  # asked, has none
    assert not pax8_server.hits("/v1/subscriptions/sub-old/usage-summaries")  # ended before February
    assert len(pax8_server.hits("/v1/products/prod-pp")) == 1  # the product's SKU, asked once


def test_usage_summaries_can_be_left_out(tmp_path: Path, pax8_server: StandIn) -> None:
    toml = connections_toml(pax8=pax8_server.url) + "usage_summaries = false\n"
    result = pull(connection(tmp_path, "pax8", toml), vendors.MONTH)
    assert [record.file for record in result.imports] == ["pax8@2026-02:invoice items"]
    assert not pax8_server.hits("/v1/subscriptions")


def test_a_subscription_pax8_does_not_know_has_no_usage(tmp_path: Path, pax8_server: StandIn) -> None:
    pax8_server.fail("/v1/subscriptions/sub-f1/usage-summaries",
                     Reply(404, {"status": 404, "message": "Invalid subscriptionId or companyId"}))
    result = pull(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)), vendors.MONTH)
    assert len(result.imports) == 2


def test_a_months_usage_lines_and_the_next_invoices_arrears_item_count_the_use_once(
        tmp_path: Path, pax8_server: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pax8 invoices usage-based products in arrears: the invoice of 3/4 bills February's Proofpoint
    users (term Arrears, the latest total the vendor posted: 3), the same use February's usage lines
    reported while the month ran. February reconciled with both pulls counts it once."""
    arrears = {**vendors.PAX8_ITEMS["inv-feb"][0], "id": "m1", "companyId": "c-glob", "companyName": "Globex LLC",
               "sku": "PP-ESS-PRO", "productName": "Proofpoint Essentials - Professional", "vendorName": "Proofpoint",
               "quantity": 3, "price": 5.33, "cost": 3.46, "costTotal": 10.38, "subTotal": 15.99, "total": 15.99,
               "startPeriod": "2026-02-01", "endPeriod": "2026-03-01", "term": "Arrears", "subscriptionId": "sub-pp"}
    monkeypatch.setattr(vendors, "PAX8_INVOICES", [*vendors.PAX8_INVOICES, {
        "id": "inv-mar", "invoiceDate": "2026-03-04", "dueDate": "2026-04-03", "status": "Unpaid", "total": 15.99}])
    monkeypatch.setitem(vendors.PAX8_ITEMS, "inv-mar", [arrears])
    pax8_connection = connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url))
    pulls = [pull(pax8_connection, month) for month in (vendors.MONTH, "2026-03")]
    psa = [load_file(b"sku,description,list_price,unit_cost,vendor,vendor_sku\n"
                     b"EMAIL-SEC,Email security,5.33,3.46,Proofpoint,PP-ESS-PRO\n", "catalog.csv", "catalog"),
           load_file(b"client,sku,unit_price,quantity,start_date,end_date\n"
                     b"Globex LLC,EMAIL-SEC,5.33,,2025-06-01,\n", "contracts.csv", "contracts"),
           load_file(b"invoice_number,invoice_date,client,sku,quantity,unit_price,amount,period_start,period_end\n"
                     b"G-1,2026-02-28,Globex LLC,EMAIL-SEC,3,5.33,15.99,2026-02-01,2026-02-28\n",
                     "invoices.csv", "invoices")]
    sources = combine([*(loaded for result in pulls for loaded in result.loaded), *psa],
                      (*REQUIRED_SOURCES, *OPTIONAL_SOURCES))
    result = reconcile(sources, None, [vendors.MONTH])
    key = result.keys[result.keys["sku"].astype(str) == "EMAIL-SEC"].iloc[0]
    assert key["usage_qty"] == 3.0 and key["vendor_cost_amount"] == from_decimal("10.38")
    assert result.discrepancies.empty, result.discrepancies[["client", "sku", "type", "variance"]]
