"""ConnectWise PSA against its stand-in: frames, paging, conditions, retries, clear refusals."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import pytest

from recon.connectors import check, pull
from recon.errors import ConnectorError
from recon.money import from_decimal
from tests.recon.connectors import vendors
from tests.recon.connectors.conftest import SECRETS_TOML, connection, connections_toml
from tests.recon.connectors.standin import Reply, StandIn

PREFIX = vendors.CW_PREFIX


def test_pull_returns_canonical_contracts_invoices_time_and_catalog(tmp_path: Path,
                                                                     connectwise_server: StandIn) -> None:
    cw = connection(tmp_path, "cw", connections_toml(connectwise=connectwise_server.url))
    result = pull(cw, vendors.MONTH)
    sources = result.sources()
    counts = result.counts().set_index("source")
    assert counts.loc["contracts", "rows_in"] == 4 and counts.loc["contracts", "rows_quarantined"] == 0
    contracts = sources["contracts"].sort_values(["client", "sku"])
    assert list(contracts["sku"]) == ["HELPDESK", "M365-BP", "MANAGED-WS", "M365-BP"]
    assert list(contracts["billable"]) == [False, True, True, True]
    assert set(contracts["agreement_id"]) == {"11", "12"}  # the agreement's id, not its name
    acme_ws = contracts[contracts["sku"] == "MANAGED-WS"].iloc[0]
    assert acme_ws["start_date"] == pd.Timestamp("2025-01-01")  # no effective date: the agreement's start
    assert acme_ws["unit_price"] == from_decimal("45") and acme_ws["billing_frequency"] == "monthly"

    invoices = sources["invoices"].sort_values(["invoice_number", "sku"])
    assert list(invoices["invoice_number"]) == ["INV-1001", "INV-1002"]  # January's stays out
    # the agreement invoice is its total (the API gives no lines for it), never lines rebuilt from additions
    assert list(invoices["sku"]) == ["AGREEMENT-11", "M365-BP"]
    assert list(invoices["line_type"]) == ["agreement_total", "item"]
    assert list(invoices["amount"]) == [from_decimal("1000"), from_decimal("200")]
    assert invoices["agreement_id"].iloc[0] == "11"

    time_entries = sources["time_entries"].sort_values("entry_id")
    assert list(time_entries["entry_id"]) == ["7001", "7002", "7003"]
    assert list(time_entries["billable"]) == [True, False, True]
    assert list(time_entries["invoice_number"].fillna("")) == ["", "", "INV-1002"]
    assert time_entries.iloc[0]["ticket"] == "4321" and time_entries.iloc[0]["technician"] == "Jane Doe"
    assert set(sources["catalog"]["vendor_sku"].dropna()) == {"MS-OFF-BUS-PREM;CFQ7TTC0LCHC"}
    assert all(len(record.sha256) == 64 for record in result.imports)


def test_pages_follow_the_link_header_and_send_the_period_conditions(tmp_path: Path,
                                                                      connectwise_server: StandIn) -> None:
    pull(connection(tmp_path, "cw", connections_toml(connectwise=connectwise_server.url)), vendors.MONTH)
    companies = connectwise_server.hits(f"{PREFIX}/company/companies")
    assert [request.query.get("page") for request in companies] == ["1", "2"]  # 3 companies, 2 per page
    assert all(request.query["pageSize"] == "2" for request in companies)
    time_query = connectwise_server.hits(f"{PREFIX}/time/entries")[0].query["conditions"]
    assert time_query == "timeStart >= [2026-02-01T00:00:00Z] and timeStart < [2026-03-01T00:00:00Z]"
    products = connectwise_server.hits(f"{PREFIX}/procurement/products")[0].query["conditions"]
    assert products == "invoice/id in (501,502)"


def test_same_data_same_hash(tmp_path: Path, connectwise_server: StandIn) -> None:
    cw = connection(tmp_path, "cw", connections_toml(connectwise=connectwise_server.url))
    first, second = pull(cw, vendors.MONTH), pull(cw, vendors.MONTH)
    assert [r.sha256 for r in first.imports] == [r.sha256 for r in second.imports]
    assert len({r.sha256 for r in first.imports}) == len(first.imports)


def test_rate_limit_is_honoured_then_the_pull_succeeds(tmp_path: Path, connectwise_server: StandIn) -> None:
    connectwise_server.fail(f"{PREFIX}/finance/agreements",
                            Reply(429, {"code": "TooManyRequests", "message": "Rate limit exceeded"},
                                  {"Retry-After": "1"}))
    connectwise_server.fail(f"{PREFIX}/time/entries", Reply(503, {"message": "Service Unavailable"}),
                            Reply(502, None))
    started = time.monotonic()
    result = pull(connection(tmp_path, "cw", connections_toml(connectwise=connectwise_server.url)), vendors.MONTH)
    assert time.monotonic() - started >= 1.0  # waited as Retry-After asked
    assert len(connectwise_server.hits(f"{PREFIX}/finance/agreements")) == 2
    assert len(connectwise_server.hits(f"{PREFIX}/time/entries")) == 2 + 2  # two failures, then two pages
    assert len(result.sources()["time_entries"]) == 3


def test_a_service_that_stays_down_fails_clearly(tmp_path: Path, connectwise_server: StandIn) -> None:
    connectwise_server.fail(f"{PREFIX}/company/companies", *[Reply(503, {"message": "down"})] * 4)
    with pytest.raises(ConnectorError) as error:
        pull(connection(tmp_path, "cw", connections_toml(connectwise=connectwise_server.url)), vendors.MONTH)
    assert str(error.value) == (
        "ConnectWise PSA connection 'cw' is unavailable (HTTP 503 on /v4_6_release/apis/3.0/company/companies) "
        "after 4 attempts; try again later. The service said: down")


def test_wrong_private_key_names_what_to_check_and_never_the_secret(tmp_path: Path, connectwise_server: StandIn,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    wrong = SECRETS_TOML.replace(vendors.CW_PRIVATE, "not-the-right-private-key")
    cw = connection(tmp_path, "cw", connections_toml(connectwise=connectwise_server.url), wrong)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectorError) as error:
        check(cw)
    message = str(error.value)
    assert message.startswith("ConnectWise PSA connection 'cw' refused the credentials (HTTP 401 on "
                              "/v4_6_release/apis/3.0/system/info). Check company, public_key and client_id")
    assert "RECON_CONN_CW_PRIVATE_KEY" in message and "Authentication failed" in message
    for secret in ("not-the-right-private-key", vendors.CW_PRIVATE):
        assert secret not in message and secret not in caplog.text


def test_forbidden_endpoint_names_the_security_role(tmp_path: Path) -> None:
    app = vendors.ConnectWise(forbidden=frozenset({"time/entries"}))
    with StandIn(app) as server:
        app.base = server.url
        cw = connection(tmp_path, "cw", connections_toml(connectwise=server.url))
        with pytest.raises(ConnectorError) as error:
            pull(cw, vendors.MONTH)
    assert "does not allow reading /v4_6_release/apis/3.0/time/entries (HTTP 403)" in str(error.value)
    assert "security role" in str(error.value) and vendors.CW_PRIVATE not in str(error.value)


def test_check_reports_the_version(tmp_path: Path, connectwise_server: StandIn) -> None:
    cw = connection(tmp_path, "cw", connections_toml(connectwise=connectwise_server.url))
    assert check(cw).startswith("ConnectWise PSA v2025.1.12345 answered at http://127.0.0.1:")
    sent = connectwise_server.hits(f"{PREFIX}/system/info")[0].headers
    assert sent["clientid"] == vendors.CW_CLIENT_ID and sent["authorization"].startswith("Basic ")


def test_unreachable_server_fails_after_bounded_retries(tmp_path: Path) -> None:
    with StandIn(vendors.ConnectWise()) as server:
        url = server.url  # closed below: nothing listens there any more
    cw = connection(tmp_path, "cw", connections_toml(connectwise=url))
    with pytest.raises(ConnectorError, match=r"did not answer .*/system/info after 4 attempts"):
        check(cw)


def test_a_next_page_link_to_another_host_never_receives_the_private_key(tmp_path: Path) -> None:
    """Issue 23 item 8: ConnectWise's ``Link: rel="next"`` pointing elsewhere (a compromised or spoofed
    answer) is refused before anything is sent there: the credentials only go to the connection's host."""
    app = vendors.ConnectWise(forbidden=frozenset())
    with StandIn(app) as server, StandIn(lambda request: Reply(200, [])) as elsewhere:
        app.base = elsewhere.url.replace("127.0.0.1", "localhost")  # every next link points to the other host
        cw = connection(tmp_path, "cw", connections_toml(connectwise=server.url))
        with pytest.raises(ConnectorError, match=r"another host \(localhost\)"):
            pull(cw, vendors.MONTH)
        assert elsewhere.requests == []
