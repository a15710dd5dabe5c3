"""Pax8 against its stand-in: OAuth token, page.totalPages paging, usage frame as the invoice-items preset."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from recon.connectors import check, pull
from recon.errors import ConnectorError
from recon.money import from_decimal
from tests.recon.connectors import vendors
from tests.recon.connectors.conftest import SECRETS_TOML, connection, connections_toml
from tests.recon.connectors.standin import Reply, StandIn


def test_pull_returns_the_months_invoice_items_as_usage(tmp_path: Path, pax8_server: StandIn) -> None:
    result = pull(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)), vendors.MONTH)
    [record] = result.imports
    assert (record.source, record.rows_in, record.rows_loaded, record.rows_quarantined) == ("usage", 3, 2, 1)
    usage = result.sources()["usage"].sort_values("sku")
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
    assert len(pax8_server.hits("/oauth/token")) == 2 and len(result.sources()["usage"]) == 2


def test_rate_limited_then_flaky_then_fine(tmp_path: Path, pax8_server: StandIn) -> None:
    pax8_server.fail("/v1/companies", Reply(429, {"message": "Too Many Requests"}, {"Retry-After": "0"}),
                     Reply(503, None))
    result = pull(connection(tmp_path, "pax8", connections_toml(pax8=pax8_server.url)), vendors.MONTH)
    assert len(pax8_server.hits("/v1/companies")) == 3 and len(result.sources()["usage"]) == 2


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
