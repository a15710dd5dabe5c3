"""Microsoft Partner Center against its stand-in: app-only token, continuation-token paging, NCE columns."""

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

LINES = "/v1/invoices/G000000201/lineitems"
NEXT = "/v1/invoices/G000000201/lineitems/OneTime/BillingLineItems"


def test_pull_returns_the_billed_line_items_as_usage(tmp_path: Path, partner_center_server: StandIn) -> None:
    result = pull(connection(tmp_path, "msft", connections_toml(partner_center=partner_center_server.url)),
                  vendors.MONTH)
    [record] = result.imports
    assert (record.source, record.rows_in, record.rows_loaded, record.rows_quarantined) == ("usage", 3, 3, 0)
    usage = result.sources()["usage"].sort_values(["client", "sku"])
    assert list(usage["client"]) == ["Globex LLC", "Globex LLC", "Initech"]
    assert list(usage["sku"]) == ["CFQ7TTC0LCHC", "CFQ7TTC0QW5P", "CFQ7TTC0LCHC"]
    assert list(usage["quantity"]) == [10.0, 5.0, 3.0]
    assert usage["unit_cost"].iloc[0] == from_decimal("19.8")
    assert str(usage["period_start"].iloc[0].date()) == "2026-02-01"
    assert usage["vendor"].iloc[0] == "Microsoft"  # the microsoft-nce-recon preset's constant


def test_follows_the_continuation_link_with_its_header(tmp_path: Path, partner_center_server: StandIn) -> None:
    pull(connection(tmp_path, "msft", connections_toml(partner_center=partner_center_server.url)), vendors.MONTH)
    [first] = partner_center_server.hits(LINES)
    assert first.query == {"provider": "onetime", "invoicelineitemtype": "billinglineitems", "size": "2"}
    [following] = partner_center_server.hits(NEXT)
    assert following.query == {"seekOperation": "Next"} and following.headers["ms-continuationtoken"] == "2:2"
    assert not partner_center_server.hits("/v1/invoices/G000000101/lineitems")  # January's invoice
    token = partner_center_server.hits(f"/{vendors.PC_TENANT}/oauth2/token")[0].form()
    assert token["resource"] == "https://api.partnercenter.microsoft.com"


def test_throttled_then_server_error_then_fine(tmp_path: Path, partner_center_server: StandIn) -> None:
    partner_center_server.fail(NEXT, Reply(429, {"code": 429, "description": "Rate limit"}, {"Retry-After": "0"}),
                               Reply(500, {"code": 500, "description": "Internal error"}))
    result = pull(connection(tmp_path, "msft", connections_toml(partner_center=partner_center_server.url)),
                  vendors.MONTH)
    assert len(partner_center_server.hits(NEXT)) == 3 and len(result.sources()["usage"]) == 3


def test_invalid_client_secret(tmp_path: Path, partner_center_server: StandIn,
                               caplog: pytest.LogCaptureFixture) -> None:
    wrong = SECRETS_TOML.replace(vendors.PC_SECRET, "wrong-pc-secret-value")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectorError) as error:
        check(connection(tmp_path, "msft", connections_toml(partner_center=partner_center_server.url), wrong))
    message = str(error.value)
    assert message.startswith("Microsoft Partner Center connection 'msft' refused the credentials (HTTP 401 on "
                              f"/{vendors.PC_TENANT}/oauth2/token). Check tenant_id and client_id")
    assert "AADSTS7000215" in message and "wrong-pc-secret-value" not in message + caplog.text


def test_forbidden_invoices(tmp_path: Path, partner_center_server: StandIn) -> None:
    partner_center_server.fail("/v1/invoices", Reply(403, {"code": 403, "description": "Forbidden"}))
    with pytest.raises(ConnectorError, match=r"does not allow reading /v1/invoices \(HTTP 403\). Check that the app "
                                             r"is registered in Partner Center"):
        pull(connection(tmp_path, "msft", connections_toml(partner_center=partner_center_server.url)), vendors.MONTH)


def test_listed_invoice_ids_skip_the_invoice_list(tmp_path: Path, partner_center_server: StandIn) -> None:
    toml = connections_toml(partner_center=partner_center_server.url) + 'invoice_ids = ["G000000101"]\n'
    result = pull(connection(tmp_path, "msft", toml), vendors.MONTH)
    assert not partner_center_server.hits("/v1/invoices") and len(result.sources()["usage"]) == 1
