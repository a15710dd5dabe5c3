"""Microsoft Partner Center against its stand-ins: API v1 (continuation-token paging) for billing periods
before February 2024, API v2 (Graph export, polling, manifest, SAS blobs of gzip JSON lines) from then on."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from recon.connectors import Connection, check, pull
from recon.connectors.frames import ALL_KINDS
from recon.engine import reconcile
from recon.errors import ConnectorError
from recon.exports.formatting import export_frame
from recon.ingest.directory import inspect_directory
from recon.money import from_decimal
from recon.schema import DISCREPANCY_COLUMNS
from recon.sources import Sources, combine
from tests.recon.connectors import vendors
from tests.recon.connectors.conftest import SECRETS_TOML, connection, connections_toml
from tests.recon.connectors.standin import Reply, StandIn

LINES = "/v1/invoices/G000000051/lineitems"
NEXT = "/v1/invoices/G000000051/lineitems/OneTime/BillingLineItems"
EXPORT = "/v1.0/reports/partners/billing/reconciliation/billed/export"
OPERATIONS = "/v1.0/reports/partners/billing/operations/"
GRAPH_TOKEN = f"/{vendors.PC_TENANT}/oauth2/v2.0/token"


def msft(tmp_path: Path, server: StandIn, extra: str = "", secrets: str = SECRETS_TOML) -> Connection:
    return connection(tmp_path, "msft", connections_toml(partner_center=server.url) + extra, secrets)


def hits_under(server: StandIn, prefix: str) -> list[str]:
    return [request.path for request in server.requests if request.path.startswith(prefix)]


# ------------------------------------------------------------------------------------------------ API v2

def test_a_month_from_february_2024_is_exported_through_graph(tmp_path: Path, partner_center_server: StandIn,
                                                              blob_server: StandIn) -> None:
    result = pull(msft(tmp_path, partner_center_server), vendors.MONTH)
    [record] = result.imports
    assert (record.source, record.rows_in, record.rows_loaded, record.rows_quarantined) == ("usage", 3, 3, 0)
    assert record.file == "msft@2026-02:billed invoice reconciliation (API v2)"
    usage = result.sources()["usage"].sort_values(["client", "product_name"])
    assert list(usage["client"]) == ["Globex LLC", "Globex LLC", "Initech"]
    assert list(usage["quantity"]) == [10.0, 5.0, 3.0]
    assert str(usage["period_start"].iloc[0].date()) == "2026-02-01"
    assert not hits_under(partner_center_server, "/v1/invoices/G0000002")  # no v1 line items for a v2 month


def test_the_export_is_asked_polled_and_downloaded_as_documented(tmp_path: Path, partner_center_server: StandIn,
                                                                 blob_server: StandIn) -> None:
    pull(msft(tmp_path, partner_center_server), vendors.MONTH)
    [export] = partner_center_server.hits(EXPORT)
    assert export.method == "POST" and export.json() == {"invoiceId": "G000000201", "attributeSet": "full"}
    polls = hits_under(partner_center_server, OPERATIONS)
    assert len(polls) == 3 and len(set(polls)) == 1  # "running" twice, then "succeeded"
    token = partner_center_server.hits(GRAPH_TOKEN)[0].form()
    assert token["scope"] == "https://graph.microsoft.com/.default" and token["grant_type"] == "client_credentials"
    files = [request for request in blob_server.requests if request.path.endswith(".json.gz")]
    assert len(files) == 2 and all("authorization" not in request.headers for request in files)
    assert all(request.query["sp"] == "rl" and request.query["sv"] == "2021-08-06" for request in files)


def test_legacy_and_other_months_invoices_are_not_exported(tmp_path: Path, partner_center_server: StandIn,
                                                           blob_server: StandIn) -> None:
    pull(msft(tmp_path, partner_center_server), vendors.MONTH)
    asked = [request.json()["invoiceId"] for request in partner_center_server.hits(EXPORT)]
    assert asked == ["G000000201"]  # not January's G000000101, not the legacy (Recurring) D040000201


def test_running_waits_as_retry_after_says(tmp_path: Path, partner_center_server: StandIn,
                                           blob_server: StandIn) -> None:
    app = partner_center_server.app
    assert isinstance(app, vendors.PartnerCenter)
    app.retry_after = "1"
    started = time.monotonic()
    result = pull(msft(tmp_path, partner_center_server), vendors.MONTH)
    assert time.monotonic() - started >= 2.0  # two "running" answers, each asking for one second
    assert len(result.sources()["usage"]) == 3


def test_a_throttled_poll_is_retried_after_its_retry_after(tmp_path: Path, partner_center_server: StandIn,
                                                           blob_server: StandIn) -> None:
    operation = f"{OPERATIONS}00000001-0000-4000-8000-000000000000"
    partner_center_server.fail(operation, Reply(429, {"error": {"code": "TooManyRequests", "message": "Throttled"}},
                                                {"Retry-After": "0"}))
    partner_center_server.fail(EXPORT, Reply(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}))
    result = pull(msft(tmp_path, partner_center_server), vendors.MONTH)
    assert len(partner_center_server.hits(EXPORT)) == 2 and len(partner_center_server.hits(operation)) == 4
    assert len(result.sources()["usage"]) == 3


def test_a_manifest_given_as_a_link_is_fetched(tmp_path: Path, partner_center_server: StandIn,
                                               blob_server: StandIn) -> None:
    app = partner_center_server.app
    assert isinstance(app, vendors.PartnerCenter)
    app.inline_manifest = False
    result = pull(msft(tmp_path, partner_center_server), vendors.MONTH)
    assert len(hits_under(partner_center_server, "/v1.0/reports/partners/billing/manifests/")) == 1
    assert len(result.sources()["usage"]) == 3


def test_a_failed_export_names_the_invoice_and_microsofts_reason(tmp_path: Path, partner_center_server: StandIn,
                                                                 blob_server: StandIn) -> None:
    toml_extra = f'invoice_ids = ["{vendors.MS_LEGACY}"]\n'
    with pytest.raises(ConnectorError, match=r"could not export invoice D040000201: No reconciliation data "
                                             r"available currently for Invoice D040000201\. Please try again "
                                             r"later\. \(code 5000\)"):
        pull(msft(tmp_path, partner_center_server, toml_extra), vendors.MONTH)


def test_an_export_that_never_finishes_stops_at_the_budget(tmp_path: Path, partner_center_server: StandIn,
                                                           blob_server: StandIn) -> None:
    app = partner_center_server.app
    assert isinstance(app, vendors.PartnerCenter)
    app.running_polls, app.retry_after = 10_000, "1"
    with pytest.raises(ConnectorError, match=r"still preparing the export of invoice G000000201 after 2 seconds of "
                                             r"waiting; pull again later \(or raise max_poll_minutes\)"):
        pull(msft(tmp_path, partner_center_server, "max_poll_minutes = 0.04\n"), vendors.MONTH)


def test_the_sas_token_is_never_in_a_message(tmp_path: Path, partner_center_server: StandIn, blob_server: StandIn,
                                             caplog: pytest.LogCaptureFixture) -> None:
    storage = blob_server.app
    assert isinstance(storage, vendors.BlobStorage)
    signature = storage.signature
    storage.expired = True  # the manifest's SAS no longer opens the files
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectorError) as error:
        pull(msft(tmp_path, partner_center_server), vendors.MONTH)
    assert "does not allow reading /billedusagefastpath/" in str(error.value)
    assert "pull again for a fresh one" in str(error.value)
    for text in (str(error.value), caplog.text):
        assert signature not in text and "skoid=" not in text


def test_the_sas_token_is_never_logged_when_every_record_is_redacted(tmp_path: Path, partner_center_server: StandIn,
                                                                    blob_server: StandIn,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """With the dashboard's log redaction installed (a record factory that renders each message before the
    loggers' filters run), httpx's request lines still lose the SAS query (it failed in the full suite)."""
    from recon.redaction import install_log_redaction

    install_log_redaction()
    storage = blob_server.app
    assert isinstance(storage, vendors.BlobStorage)
    storage.expired = True
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectorError):
        pull(msft(tmp_path, partner_center_server), vendors.MONTH)
    assert "HTTP Request: GET" in caplog.text
    assert storage.signature not in caplog.text and "skoid=" not in caplog.text


def test_a_location_on_another_host_is_not_polled_with_the_token(tmp_path: Path, partner_center_server: StandIn,
                                                                 blob_server: StandIn) -> None:
    partner_center_server.fail(EXPORT, Reply(202, None, {"Location": f"{blob_server.url}/operations/1"}))
    with pytest.raises(ConnectorError, match=r"sent to another host .*refused to follow it"):
        pull(msft(tmp_path, partner_center_server), vendors.MONTH)
    assert not [request for request in blob_server.requests if request.path == "/operations/1"]


def test_check_reads_the_graph_permission_from_the_token(tmp_path: Path, partner_center_server: StandIn) -> None:
    assert check(msft(tmp_path, partner_center_server)).endswith("Microsoft Graph (API v2) token granted")
    app = partner_center_server.app
    assert isinstance(app, vendors.PartnerCenter)
    app.graph_roles = ["User.Read.All"]
    with pytest.raises(ConnectorError, match=r"without the PartnerBilling\.Read\.All permission \(roles: User\.Read"
                                             r"\.All\)\. Check that the Entra app has the Microsoft Graph application"):
        check(msft(tmp_path, partner_center_server))


def test_graph_refusing_the_permission_is_explained(tmp_path: Path, partner_center_server: StandIn,
                                                    blob_server: StandIn) -> None:
    app = partner_center_server.app
    assert isinstance(app, vendors.PartnerCenter)
    app.graph_roles = []
    with pytest.raises(ConnectorError, match=r"does not allow reading /v1\.0/reports/partners/billing/reconciliation"
                                             r"/billed/export \(HTTP 403\)\. Check that the Entra app has the Microsoft"
                                             r" Graph application permission PartnerBilling\.Read\.All"):
        pull(msft(tmp_path, partner_center_server), vendors.MONTH)


# ------------------------------------------------------------------------------------------------ API v1

def test_a_month_before_february_2024_is_read_through_api_v1(tmp_path: Path, partner_center_server: StandIn) -> None:
    result = pull(msft(tmp_path, partner_center_server), vendors.V1_MONTH)
    [record] = result.imports
    assert (record.source, record.rows_in, record.rows_loaded, record.rows_quarantined) == ("usage", 3, 3, 0)
    assert record.file == "msft@2024-01:billed reconciliation line items (API v1)"
    usage = result.sources()["usage"].sort_values(["client", "sku"])
    assert list(usage["client"]) == ["Globex LLC", "Globex LLC", "Initech"]
    assert list(usage["quantity"]) == [10.0, 5.0, 3.0]
    assert usage["unit_cost"].iloc[0] == from_decimal("19.8")
    assert str(usage["period_start"].iloc[0].date()) == "2024-01-01"
    assert not partner_center_server.hits(EXPORT) and not partner_center_server.hits(GRAPH_TOKEN)


def test_v1_follows_the_continuation_link_with_its_header(tmp_path: Path, partner_center_server: StandIn) -> None:
    pull(msft(tmp_path, partner_center_server), vendors.V1_MONTH)
    [first] = partner_center_server.hits(LINES)
    assert first.query == {"provider": "onetime", "invoicelineitemtype": "billinglineitems", "size": "2"}
    [following] = partner_center_server.hits(NEXT)
    assert following.query == {"seekOperation": "Next"} and following.headers["ms-continuationtoken"] == "2:2"
    token = partner_center_server.hits(f"/{vendors.PC_TENANT}/oauth2/token")[0].form()
    assert token["resource"] == "https://api.partnercenter.microsoft.com"


def test_api_v1_can_be_forced(tmp_path: Path, partner_center_server: StandIn) -> None:
    pull(msft(tmp_path, partner_center_server, 'api = "v1"\n'), vendors.MONTH)
    assert partner_center_server.hits("/v1/invoices/G000000201/lineitems") and not partner_center_server.hits(EXPORT)


def test_an_unknown_api_choice_is_refused(tmp_path: Path, partner_center_server: StandIn) -> None:
    with pytest.raises(ConnectorError, match=r"api must be one of auto, v1, v2 \(got 'v3'\)"):
        pull(msft(tmp_path, partner_center_server, 'api = "v3"\n'), vendors.MONTH)


def test_throttled_then_server_error_then_fine(tmp_path: Path, partner_center_server: StandIn) -> None:
    partner_center_server.fail(NEXT, Reply(429, {"code": 429, "description": "Rate limit"}, {"Retry-After": "0"}),
                               Reply(500, {"code": 500, "description": "Internal error"}))
    result = pull(msft(tmp_path, partner_center_server), vendors.V1_MONTH)
    assert len(partner_center_server.hits(NEXT)) == 3 and len(result.sources()["usage"]) == 3


def test_invalid_client_secret(tmp_path: Path, partner_center_server: StandIn,
                               caplog: pytest.LogCaptureFixture) -> None:
    wrong = SECRETS_TOML.replace(vendors.PC_SECRET, "wrong-pc-secret-value")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectorError) as error:
        check(msft(tmp_path, partner_center_server, secrets=wrong))
    message = str(error.value)
    assert message.startswith("Microsoft Partner Center connection 'msft' refused the credentials (HTTP 401 on "
                              f"/{vendors.PC_TENANT}/oauth2/token). Check tenant_id and client_id")
    assert "AADSTS7000215" in message and "wrong-pc-secret-value" not in message + caplog.text


def test_forbidden_invoices(tmp_path: Path, partner_center_server: StandIn) -> None:
    partner_center_server.fail("/v1/invoices", Reply(403, {"code": 403, "description": "Forbidden"}))
    with pytest.raises(ConnectorError, match=r"does not allow reading /v1/invoices \(HTTP 403\). Check that the app "
                                             r"is registered in Partner Center"):
        pull(msft(tmp_path, partner_center_server), vendors.MONTH)


def test_listed_invoice_ids_skip_the_invoice_list(tmp_path: Path, partner_center_server: StandIn,
                                                  blob_server: StandIn) -> None:
    result = pull(msft(tmp_path, partner_center_server, 'invoice_ids = ["G000000101"]\n'), vendors.MONTH)
    assert not partner_center_server.hits("/v1/invoices") and len(result.sources()["usage"]) == 1


# ------------------------------------------------------------------------ pulled = the same file uploaded

PSA = {
    "contracts.csv": "client,sku,unit_price,quantity,start_date\nGlobex LLC,M365-BP,22.00,10,2025-02-20\n"
                     "Initech,EXO-P1,5.00,4,2025-01-01\nInitech,MDB,3.00,0,2025-01-01\n"
                     "Hooli Inc,M365-BP,22.00,4,2026-03-01\n",
    "invoices.csv": "invoice_number,invoice_date,client,sku,quantity,unit_price\n"
                    "INV-3001,2026-03-01,Globex LLC,M365-BP,10,22.00\nINV-3002,2026-03-01,Initech,EXO-P1,4,5.00\n"
                    "INV-3003,2026-03-01,Hooli Inc,M365-BP,4,22.00\n",
    "catalog.csv": "sku,description,vendor_sku\nM365-BP,Microsoft 365 Business Premium,CFQ7TTC0LCHC\n"
                   "EXO-P1,Exchange Online (Plan 1),CFQ7TTC0LH16\nMDB,Microsoft Defender for Business,CFQ7TTC0J1FV\n",
}
CANONICAL_USAGE = ["client", "sku", "quantity", "period_start", "period_end", "vendor", "unit_cost",
                   "subscription_id", "product_name"]


def test_a_month_pulled_through_v2_gives_the_findings_of_the_same_month_uploaded(
        tmp_path: Path, partner_center_server: StandIn, blob_server: StandIn) -> None:
    """Issue 17, done when: the month uploaded as Partner Center's reconciliation CSV and the month pulled
    through API v2 are read into the same usage rows and reconcile to the same findings."""
    lines = [line for blob in vendors.V2_BLOBS["G000000301"] for line in blob]
    upload_dir, pull_dir = tmp_path / "upload", tmp_path / "pull"
    for folder in (upload_dir, pull_dir):
        folder.mkdir()
        for name, text in PSA.items():
            (folder / name).write_text(text)
    (upload_dir / "Reconciliation_G000000301.csv").write_bytes(vendors.recon_csv(lines))
    uploaded = inspect_directory(upload_dir)
    [upload_usage] = [item for item in uploaded.loaded if item.record.source == "usage"]
    assert "(microsoft-nce-recon)" in upload_usage.report.read_as  # recognised as the reconciliation file

    result = pull(msft(tmp_path, partner_center_server), "2026-03")
    pulled = combine([*inspect_directory(pull_dir).loaded, *result.loaded], ALL_KINDS)
    from_upload = combine(list(uploaded.loaded), ALL_KINDS)

    def usage_rows(sources: Sources) -> pd.DataFrame:
        frame = sources["usage"][CANONICAL_USAGE]
        return frame.sort_values(CANONICAL_USAGE, ignore_index=True, na_position="first")

    assert len(result.sources()["usage"]) == len(lines) - upload_usage.record.rows_quarantined
    pd.testing.assert_frame_equal(usage_rows(pulled), usage_rows(from_upload))
    findings = [reconcile(sources, periods=["2026-03"]).discrepancies[list(DISCREPANCY_COLUMNS)]
                for sources in (pulled, from_upload)]
    assert len(findings[0]) > 0
    pd.testing.assert_frame_equal(*(frame.sort_values(["client", "sku", "type"], ignore_index=True)
                                    for frame in findings))


# ------------------------------------------------------- the real month of issue 17, pulled through API v2

REAL_MONTH = Path(__file__).resolve().parents[2] / "fixtures" / "real_month"
FINDING = ["period", "client", "sku", "type"]
JSON_NUMBERS = {"UnitPrice", "Quantity", "Subtotal", "TaxTotal", "Total", "EffectiveUnitPrice", "BillableQuantity",
                "PCToBCExchangeRate"}
JSON_DATES = {"OrderDate", "ChargeStartDate", "ChargeEndDate", "PCToBCExchangeRateDate", "SubscriptionStartDate",
              "SubscriptionEndDate"}


def v2_records(recon_file: Path) -> list[dict[str, object]]:
    """A downloaded reconciliation file's rows as API v2 serves them (``vendors.recon_csv`` the other way
    round): ``Tier2MpnId`` for ``ResellerMpnId``, numbers as JSON numbers, dates as ISO date-times,
    ``ProductQualifiers`` as a JSON array."""
    def value(column: str, cell: str) -> object:
        if column in JSON_NUMBERS and cell:
            number = float(cell)
            return int(number) if number.is_integer() else number
        if column in JSON_DATES and "/" in cell:
            month, day, year = cell.split("/")
            return f"{year}-{int(month):02d}-{int(day):02d}T00:00:00"
        if column in JSON_DATES and cell:
            return f"{cell}T00:00:00"
        if column == "ProductQualifiers":
            return json.loads(cell or "[]")
        return cell

    with recon_file.open(encoding="utf-8-sig", newline="") as handle:
        return [{("Tier2MpnId" if column == "ResellerMpnId" else column): value(column, cell)
                 for column, cell in row.items()} for row in csv.DictReader(handle)]


def test_the_real_month_pulled_through_v2_reconciles_to_its_true_findings_only(
        tmp_path: Path, partner_center_server: StandIn, blob_server: StandIn,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17, done when: ``tests/fixtures/real_month`` (the month of the issue's false findings) with its
    Microsoft files pulled through the API v2 stand-in (export, a 429 and "running" twice while polling,
    manifest, SAS blobs of gzip JSON lines) instead of uploaded reconciles to the same findings as the
    directory: the true ones only."""
    monkeypatch.setitem(vendors.V2_BLOBS, "G000000201", [v2_records(REAL_MONTH / "microsoft-recon-2026-02.csv")])
    monkeypatch.setitem(vendors.V2_BLOBS, "G000000301", [v2_records(REAL_MONTH / "microsoft-recon-2026-03.csv")])
    rest = tmp_path / "rest"
    rest.mkdir()
    for path in REAL_MONTH.iterdir():
        if not path.name.startswith("microsoft-recon-"):
            shutil.copy(path, rest / path.name)
    march_poll = f"{OPERATIONS}00000002-0000-4000-8000-000000000000"  # the second export: March's
    partner_center_server.fail(march_poll, Reply(429, {"error": {"code": "TooManyRequests", "message": "Throttled"}},
                                                 {"Retry-After": "0"}))
    microsoft = msft(tmp_path, partner_center_server)
    pulls = [pull(microsoft, month) for month in ("2026-02", "2026-03")]  # February's cycle runs into March
    assert [record.file for result in pulls for record in result.imports] == [
        "msft@2026-02:billed invoice reconciliation (API v2)", "msft@2026-03:billed invoice reconciliation (API v2)"]
    assert all(record.rows_quarantined == 0 for result in pulls for record in result.imports)
    assert [request.json()["invoiceId"] for request in partner_center_server.hits(EXPORT)] == [
        "G000000201", "G000000301"]
    assert len(partner_center_server.hits(march_poll)) == 4  # throttled, "running" twice, then succeeded

    pulled = reconcile(combine([*inspect_directory(rest).loaded, *(item for result in pulls for item in result.loaded)],
                               ALL_KINDS), periods=["2026-03"])
    uploaded = reconcile(combine(list(inspect_directory(REAL_MONTH).loaded), ALL_KINDS), periods=["2026-03"])
    pd.testing.assert_frame_equal(pulled.discrepancies.reset_index(drop=True),
                                  uploaded.discrepancies.reset_index(drop=True))
    found = export_frame(pulled.discrepancies)[[*FINDING, "variance"]].astype(str)
    expected = pd.read_csv(REAL_MONTH / "expected.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(found.sort_values(FINDING, ignore_index=True),
                                  expected.sort_values(FINDING, ignore_index=True))
    absent = pd.read_csv(REAL_MONTH / "absent.csv", dtype=str, keep_default_na=False)
    assert pulled.discrepancies[FINDING].astype(str).merge(absent, on=FINDING).empty
    keys = pulled.keys.set_index(["client", "sku"])
    assert keys.loc[("Contoso Dental", "M365-E3"), "usage_qty"] == 10.0  # cycles 2/20-3/19 and 3/20-4/19
    assert keys.loc[("Contoso Dental", "M365-E3"), "carried_days"] == 0
    assert pulled.quarantine.empty and pulled.unmatched_credits.empty
