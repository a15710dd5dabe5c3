"""Fixes written back to the ConnectWise and Autotask stand-ins (issue 21, item 3), with the connections
defined as a user defines them: a dry run shows the exact requests and sends none; applying sends them;
applying again changes nothing; the PSA's refusal comes back with its message; a write whose answer is lost
is found again instead of written twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from recon.connectors import writeback
from recon.connectors.config import Connection
from recon.fixes import Fix
from tests.recon.connectors import psa_writes, vendors
from tests.recon.connectors.conftest import connection, connections_toml
from tests.recon.connectors.standin import Reply, StandIn


@pytest.fixture
def cw() -> Iterator[StandIn]:
    app = psa_writes.WritableConnectWise()
    with StandIn(app) as server:
        app.base = server.url
        yield server


@pytest.fixture
def at() -> Iterator[StandIn]:
    app = psa_writes.WritableAutotask()
    with StandIn(app) as server:
        app.base = server.url
        yield server


def cw_connection(tmp_path: Path, server: StandIn) -> Connection:
    return connection(tmp_path, "cw", connections_toml(connectwise=server.url))


def at_connection(tmp_path: Path, server: StandIn) -> Connection:
    return connection(tmp_path, "at", connections_toml(autotask=server.url))


def fix(kind: str, *, key: str = "f1", agreement: str = "11", line: str | None = "101", sku: str = "M365-BP",
        before: float | None = 25, after: float | None = 27, amount: int | None = None,
        effective: date = date(2026, 3, 1)) -> Fix:
    return Fix(fix_key=key, fingerprint="fp-" + key, kind=kind, client="Acme Corp", sku=sku, period="2026-02",
               agreement_id=agreement, line_id=line, origin="cw@2026-02:contracts", before_qty=before,
               after_qty=after, unit_price=220_000, amount=amount, effective_date=effective,
               description=f"{kind} of {sku}")


# ------------------------------------------------------------------------------------------- ConnectWise

def test_connectwise_dry_run_shows_the_json_patch_and_sends_nothing(tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    [outcome] = writeback.apply([fix("change_quantity")], target)
    assert outcome.event == "dry_run"
    assert list(outcome.requests) == [{
        "method": "PATCH", "url": f"{cw.url}{vendors.CW_PREFIX}/finance/agreements/11/additions/101",
        "body": [{"op": "replace", "path": "quantity", "value": 27}]}]
    assert cw.app.writes == []


def test_connectwise_applies_a_quantity_change_once(tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    [first] = writeback.apply([fix("change_quantity")], target, send=True)
    [again] = writeback.apply([fix("change_quantity")], target, send=True)
    assert (first.event, first.psa_id) == ("accepted", "101")
    assert (again.event, again.message) == ("skipped", "addition 101 already bills 27")
    assert cw.app.writes == [("PATCH", "/v4_6_release/apis/3.0/finance/agreements/11/additions/101",
                              [{"op": "replace", "path": "quantity", "value": 27}])]
    assert cw.app.data["finance/agreements/11/additions"][0]["quantity"] == 27


def test_connectwise_charge_is_an_adjustment_carrying_the_reference_sent_once(tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    charge = fix("charge", key="c1", line=None, before=None, after=None, amount=440_000)
    recorded: list[str] = []
    [first] = writeback.apply([charge], target, send=True, record=lambda outcome: recorded.append(outcome.event))
    [again] = writeback.apply([charge], target, send=True)
    assert first.event == "accepted" and first.psa_id
    assert again.event == "skipped"
    assert recorded == ["accepted"]
    [(method, path, body)] = cw.app.writes
    assert (method, path.rsplit("/", 1)[-1]) == ("POST", "adjustments")
    assert body["amount"] == 44.0 and body["effectiveDate"] == "2026-03-01T00:00:00Z"
    assert body["description"].endswith("[recon fix c1]")


def test_connectwise_write_whose_answer_is_lost_is_found_not_written_twice(tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    cw.app.lose_answers = 1  # the adjustment is made, the 201 never arrives (502)
    [outcome] = writeback.apply([fix("credit", key="c2", line=None, before=None, after=None, amount=-100_000)],
                                target, send=True)
    assert outcome.event == "accepted" and outcome.psa_id
    assert len(cw.app.writes) == 1
    assert len(cw.app.data["finance/agreements/11/adjustments"]) == 1


def test_connectwise_refusal_is_stored_with_its_message(tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    [outcome] = writeback.apply([fix("charge", key="c3", line=None, before=None, after=None, amount=None)],
                                target, send=True)
    assert outcome.event == "refused"
    assert outcome.message == "HTTP 400: Amount is required"
    assert outcome.response["errors"][0]["field"] == "amount"
    assert cw.app.writes == []


def test_a_line_changed_meanwhile_is_refused_before_anything_is_sent(tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    [outcome] = writeback.apply([fix("change_quantity", before=20)], target, send=True)
    assert outcome.event == "refused"
    assert outcome.message == "addition 101 bills 25, not the 20 the fix was proposed on: review it first"
    assert cw.app.writes == []


# ------------------------------------------------------------------------------------------- Autotask

def at_fix(kind: str, **kwargs: object) -> Fix:
    values: dict[str, object] = {"agreement": "29684002", "line": "5003", "sku": "302", "before": 10, "after": 12}
    values.update(kwargs)
    return fix(kind, **values)  # type: ignore[arg-type]


def test_autotask_dry_run_shows_the_adjustment_and_applying_it_twice_changes_units_once(tmp_path: Path,
                                                                                         at: StandIn) -> None:
    target = at_connection(tmp_path, at)
    [dry] = writeback.apply([at_fix("change_quantity")], target)
    assert dry.event == "dry_run"
    assert list(dry.requests) == [{
        "method": "POST", "url": f"{at.url}{vendors.AT_PREFIX}/ContractServiceAdjustments",
        "body": {"contractID": 29684002, "contractServiceID": 5003, "serviceID": 302,
                 "effectiveDate": "2026-03-01T00:00:00", "unitChange": 2}}]
    assert at.app.writes == []
    [sent] = writeback.apply([at_fix("change_quantity")], target, send=True)
    [again] = writeback.apply([at_fix("change_quantity")], target, send=True)
    assert sent.event == "accepted" and sent.psa_id
    assert (again.event, again.message) == ("skipped", "contract service 5003 already has 12 units on 2026-03-01")
    assert [write[1] for write in at.app.writes] == ["ContractServiceAdjustments"]


def test_autotask_charge_whose_answer_is_lost_is_one_charge(tmp_path: Path, at: StandIn) -> None:
    target = at_connection(tmp_path, at)
    at.app.lose_answers = 1
    charge = at_fix("charge", key="a1", line=None, before=None, after=None, amount=440_000)
    [outcome] = writeback.apply([charge], target, send=True)
    [again] = writeback.apply([charge], target, send=True)
    assert outcome.event == "accepted" and outcome.psa_id
    assert again.event == "skipped"
    [(method, path, body)] = at.app.writes
    assert (method, path) == ("POST", "Contracts/29684002/Charges")
    assert body["unitPrice"] == 44.0 and body["unitQuantity"] == 1
    assert body["description"].endswith("[recon fix a1]")


def test_autotask_refusal_comes_back_with_its_message(tmp_path: Path, at: StandIn) -> None:
    target = at_connection(tmp_path, at)
    # Autotask says no to the adjustment (a contract service of another contract is now refused before sending)
    at.fail(f"{vendors.AT_PREFIX}/ContractServiceAdjustments",
            Reply(500, {"errors": ["ContractServiceID 5003 does not belong to ContractID 29684002."]}), method="POST")
    [outcome] = writeback.apply([at_fix("change_quantity", before=None)], target, send=True)
    assert (outcome.event, outcome.message) == (
        "refused", "HTTP 500: ContractServiceID 5003 does not belong to ContractID 29684002.")
    assert at.app.writes == []


def test_a_fix_from_an_unconfigured_source_is_routed_to_no_connection(tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    pulled = fix("change_quantity")
    uploaded = Fix(**{**pulled.__dict__, "fix_key": "f9", "origin": "uploads/contracts.csv"})
    routed, unrouted = writeback.route([pulled, uploaded], {"cw": target})
    assert {name: [item.fix_key for item in items] for name, items in routed.items()} == {"cw": ["f1"]}
    assert [item.fix_key for item in unrouted] == ["f9"]


# ------------------------------------------------------------------------------------------- new lines and
# cancellations: what the stand-in stored, the outcome, twice changes nothing, 429 / 5xx retried

BUSY = (Reply(429, {"code": "TooManyRequests", "message": "Rate limit exceeded"}, {"Retry-After": "0"}),
        Reply(503, {"code": "ServiceUnavailable", "message": "try again"}))


def test_connectwise_new_line_is_one_addition_carrying_the_reference_after_429_and_503(tmp_path: Path,
                                                                                      cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    new = fix("add_line", key="n1", agreement="12", line=None, sku="MANAGED-WS", before=None, after=5)
    new = dataclasses.replace(new, unit_price=450_000)
    path = f"{vendors.CW_PREFIX}/finance/agreements/12/additions"
    [dry] = writeback.apply([new], target)
    assert [(request["method"], request["url"]) for request in dry.requests] == [("POST", f"{cw.url}{path}")]
    cw.fail(path, *BUSY, method="POST")
    [sent] = writeback.apply([new], target, send=True)
    [again] = writeback.apply([new], target, send=True)
    stored = [item for item in cw.app.data["finance/agreements/12/additions"] if item["id"] == int(sent.psa_id)]
    assert sent.event == "accepted" and len(stored) == 1
    assert {key: stored[0][key] for key in ("product", "quantity", "unitPrice", "billCustomer", "effectiveDate",
                                            "cancelledDate", "agreementId")} == {
        "product": {"identifier": "MANAGED-WS"}, "quantity": 5, "unitPrice": 45.0, "billCustomer": "Billable",
        "effectiveDate": "2026-03-01T00:00:00Z", "cancelledDate": None, "agreementId": 12}
    assert stored[0]["description"].endswith("[recon fix n1]")
    assert [request.method for request in cw.hits(path)].count("POST") == 3  # 429, 503, then written
    assert (again.event, again.message) == ("skipped", f"addition {sent.psa_id} (this fix's) is already on "
                                                       "agreement 12")
    assert len(cw.app.writes) == 1


def test_connectwise_new_line_of_a_product_it_does_not_sell_is_refused_with_its_message(tmp_path: Path,
                                                                                        cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    new = fix("add_line", key="n2", agreement="12", line=None, sku="NO-SUCH", before=None, after=5)
    [outcome] = writeback.apply([new], target, send=True)
    assert (outcome.event, outcome.message) == ("refused", "HTTP 400: Product not found")
    assert outcome.response["errors"][0]["field"] == "product"
    assert cw.app.writes == [] and len(cw.app.data["finance/agreements/12/additions"]) == 1


def test_connectwise_cancellation_patches_the_cancelled_date_once_after_a_503(tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    cancel = fix("cancel_line", key="x1", after=0)
    path = f"{vendors.CW_PREFIX}/finance/agreements/11/additions/101"
    [dry] = writeback.apply([cancel], target)
    assert list(dry.requests) == [{"method": "PATCH", "url": f"{cw.url}{path}", "body": [
        {"op": "replace", "path": "cancelledDate", "value": "2026-02-28T00:00:00Z"}]}]
    cw.fail(path, BUSY[1], method="PATCH")
    [sent] = writeback.apply([cancel], target, send=True)
    [again] = writeback.apply([cancel], target, send=True)
    assert (sent.event, sent.psa_id) == ("accepted", "101")
    assert cw.app.data["finance/agreements/11/additions"][0]["cancelledDate"] == "2026-02-28T00:00:00Z"
    assert cw.app.data["finance/agreements/11/additions"][0]["quantity"] == 25  # billed until the cancellation
    assert (again.event, again.message) == ("skipped", "addition 101 is already cancelled on 2026-02-28")
    assert [write[0] for write in cw.app.writes] == ["PATCH"]
    assert [request.method for request in cw.hits(path)].count("PATCH") == 2  # 503, then written


def test_autotask_new_line_is_a_contract_service_then_its_units_after_429_and_503(tmp_path: Path,
                                                                                 at: StandIn) -> None:
    target = at_connection(tmp_path, at)
    new = at_fix("add_line", key="n3", line=None, sku="301", before=None, after=5)
    new = dataclasses.replace(new, unit_price=450_000)
    [dry] = writeback.apply([new], target)
    assert [request["url"].rsplit("/", 2)[-2:] for request in dry.requests] == [
        ["29684002", "Services"], ["v1.0", "ContractServiceAdjustments"]]
    assert dry.requests[1]["body"]["contractServiceID"] == "<the contract service id Autotask answers>"
    at.fail(f"{vendors.AT_PREFIX}/Contracts/29684002/Services", *BUSY)
    at.fail(f"{vendors.AT_PREFIX}/ContractServiceAdjustments", BUSY[1])
    [sent] = writeback.apply([new], target, send=True)
    [again] = writeback.apply([new], target, send=True)
    [service] = [item for item in at.app.data["ContractServices"] if item["contractID"] == 29684002
                 and item["serviceID"] == 301]
    assert sent.event == "accepted" and sent.psa_id.split(",")[0] == str(service["id"])
    assert service["unitPrice"] == 45.0 and service["internalDescription"] == "[recon fix n3]"
    units = [row for row in at.app.data["ContractServiceUnits"] if row["contractServiceID"] == service["id"]]
    assert [(row["startDate"], row["units"]) for row in units] == [("2026-03-01T00:00:00", 5)]
    assert again.event == "skipped"
    assert [write[1] for write in at.app.writes] == ["Contracts/29684002/Services", "ContractServiceAdjustments"]
    assert at.app.writes[1][2]["unitChange"] == 5 and at.app.writes[1][2]["contractServiceID"] == service["id"]
    assert (len(at.hits(f"{vendors.AT_PREFIX}/Contracts/29684002/Services")),
            len(at.hits(f"{vendors.AT_PREFIX}/ContractServiceAdjustments"))) == (3, 2)


def test_autotask_new_line_retried_after_its_units_failed_gives_its_own_service_the_units(tmp_path: Path,
                                                                                        at: StandIn) -> None:
    """The first try created the contract service (carrying the fix's reference) but Autotask stayed unavailable
    for its adjustment, so the service has no unit row. A retry finds the service by the reference and sends the
    adjustment the first try could not: the fix is accepted, not "skipped" (which it was, as if the line's 5
    units had been set), and the service is not created twice."""
    target = at_connection(tmp_path, at)
    new = dataclasses.replace(at_fix("add_line", key="n6", line=None, sku="301", before=None, after=5),
                              unit_price=450_000)
    services = f"{vendors.AT_PREFIX}/Contracts/29684002/Services"
    at.fail(AT_SERVICE_ADJUSTMENTS, *(BUSY[1],) * 4, method="POST")  # every attempt (retry_attempts = 4)
    [first] = writeback.apply([new], target, send=True)
    [service] = [item for item in at.app.data["ContractServices"]
                 if item.get("internalDescription") == "[recon fix n6]"]
    assert first.event == "failed" and first.message.endswith(f"(done before it: {service['id']})")
    assert [row for row in at.app.data["ContractServiceUnits"] if row["contractServiceID"] == service["id"]] == []
    [retry] = writeback.apply([new], target, send=True)
    [again] = writeback.apply([new], target, send=True)
    assert (retry.event, retry.psa_id) == ("accepted", retry.psa_id) and retry.psa_id
    assert [request["url"].rsplit("/", 1)[-1] for request in retry.requests] == ["ContractServiceAdjustments"]
    assert at.app.writes == [
        ("POST", "Contracts/29684002/Services", {"contractID": 29684002, "serviceID": 301, "unitPrice": 45.0,
                                                 "invoiceDescription": "301", "internalDescription": "[recon fix n6]"}),
        ("POST", "ContractServiceAdjustments", {"contractID": 29684002, "contractServiceID": service["id"],
                                                "serviceID": 301, "effectiveDate": "2026-03-01T00:00:00",
                                                "unitChange": 5})]
    units = [row for row in at.app.data["ContractServiceUnits"] if row["contractServiceID"] == service["id"]]
    assert [(row["startDate"], row["units"]) for row in units] == [("2026-03-01T00:00:00", 5)]
    assert (again.event, again.message) == (
        "skipped", f"contract service {service['id']} (this fix's) already has 5 units on 2026-03-01")
    assert len(at.hits(services)) == 1 and len(at.hits(AT_SERVICE_ADJUSTMENTS)) == 4 + 1


def test_autotask_new_line_of_a_fractional_quantity_is_refused_and_nothing_sent(tmp_path: Path,
                                                                               at: StandIn) -> None:
    """Autotask adjusts whole units. A new line of 5.5 (a day-weighted quantity) used to create the contract
    service and send ``unitChange`` 5, the half unit silently lost; now it is refused before anything is sent,
    in the dry run too, as a quantity change of a fraction is."""
    target = at_connection(tmp_path, at)
    new = dataclasses.replace(at_fix("add_line", key="n7", line=None, sku="301", before=None, after=5.5),
                              unit_price=450_000)
    [dry] = writeback.apply([new], target)
    [sent] = writeback.apply([new], target, send=True)
    for outcome in (dry, sent):
        assert (outcome.event, outcome.message) == (
            "refused", "Autotask adjusts whole units; 5.5 is not one (a new line of service 301)")
        assert not outcome.requests
    assert at.app.writes == []


def test_autotask_new_line_of_an_unknown_service_is_refused_with_its_message(tmp_path: Path, at: StandIn) -> None:
    target = at_connection(tmp_path, at)
    new = at_fix("add_line", key="n4", line=None, sku="399", before=None, after=5)
    [outcome] = writeback.apply([new], target, send=True)
    assert (outcome.event, outcome.message) == ("refused", "HTTP 500: ServiceID 399 is not a service.")
    assert outcome.response == {"errors": ["ServiceID 399 is not a service."]}
    assert at.app.writes == []


def test_autotask_cancellation_adjusts_the_units_to_zero_from_the_date_once(tmp_path: Path, at: StandIn) -> None:
    target = at_connection(tmp_path, at)
    cancel = at_fix("cancel_line", key="x2", after=0)
    at.fail(f"{vendors.AT_PREFIX}/ContractServiceAdjustments", *BUSY)
    [sent] = writeback.apply([cancel], target, send=True)
    [again] = writeback.apply([cancel], target, send=True)
    assert sent.event == "accepted" and sent.psa_id
    [(method, path, body)] = at.app.writes
    assert (method, path, body["unitChange"], body["effectiveDate"]) == (
        "POST", "ContractServiceAdjustments", -10, "2026-03-01T00:00:00")
    units = {row["startDate"][:10]: row["units"] for row in at.app.data["ContractServiceUnits"]
             if row["contractServiceID"] == 5003}
    assert units == {"2026-02-01": 10, "2026-03-01": 0}  # February stays billed; from March none
    assert (again.event, again.message) == ("skipped", "contract service 5003 already has 0 units on 2026-03-01")
    assert len(at.hits(f"{vendors.AT_PREFIX}/ContractServiceAdjustments")) == 3  # 429, 503, then written


# ------------------------------------------------------------------------------------------- a fix without a
# line id: the line is chosen by product only when exactly one can be meant; with several nothing is sent

CW_ADDITIONS = "finance/agreements/11/additions"


def second_m365(cw: StandIn, **changes: object) -> None:
    """A second M365-BP line on agreement 11 (the same licence at another price), later than addition 101."""
    cw.app.data[CW_ADDITIONS].append({
        "id": 104, "product": {"id": 1, "identifier": "M365-BP"}, "quantity": 25, "lessIncluded": 0,
        "unitPrice": 20.0, "billCustomer": "Billable", "effectiveDate": "2025-09-01T00:00:00Z",
        "cancelledDate": None, "agreementId": 11, "description": "Microsoft 365 Business Premium (nonprofit)",
        **changes})


def patches(server: StandIn) -> list[str]:
    return [request.path for request in server.requests if request.method == "PATCH"]


def refused_and_nothing_sent(server: StandIn, target: Connection, unnamed: Fix, message: str) -> None:
    """A dry run of ``unnamed`` and sending it are both refused with ``message``; the dry run lists no request
    and the stand-in got none but reads (GETs, Autotask's ``POST .../query``)."""
    [dry] = writeback.apply([unnamed], target)
    [sent] = writeback.apply([unnamed], target, send=True)
    assert (dry.event, dry.message, dry.requests) == ("refused", message, ())
    assert (sent.event, sent.message) == ("refused", message)
    assert server.app.writes == []
    assert [(request.method, request.path) for request in server.requests
            if request.method != "GET" and not request.path.endswith("/query")] == []


@pytest.mark.parametrize(("kind", "verb"), [("change_quantity", "change"), ("cancel_line", "cancel")])
def test_connectwise_without_an_addition_id_two_active_additions_of_the_product_are_refused_and_none_patched(
        tmp_path: Path, cw: StandIn, kind: str, verb: str) -> None:
    second_m365(cw)
    refused_and_nothing_sent(cw, cw_connection(tmp_path, cw), fix(kind, line=None), (
        "ConnectWise agreement 11 has 2 additions of M365-BP billing on 2026-03-01 (ids 101, 104) and the fix "
        "does not say which: export the agreement's additions with their id column and reconcile again, or "
        f"{verb} the right one in ConnectWise by hand"))
    assert [(item["quantity"], item["cancelledDate"]) for item in cw.app.data[CW_ADDITIONS]
            if item["product"]["identifier"] == "M365-BP"] == [(25, None), (25, None)]


def test_connectwise_without_an_addition_id_the_one_active_addition_of_the_product_is_patched(tmp_path: Path,
                                                                                             cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    second_m365(cw, cancelledDate="2025-12-31T00:00:00Z")  # ended: not a line the fix can mean
    [sent] = writeback.apply([fix("change_quantity", line=None)], target, send=True)
    assert (sent.event, sent.psa_id) == ("accepted", "101")
    assert cw.app.writes == [("PATCH", f"{vendors.CW_PREFIX}/{CW_ADDITIONS}/101",
                              [{"op": "replace", "path": "quantity", "value": 27}])]


@pytest.mark.parametrize("kind", ["change_quantity", "cancel_line"])
def test_connectwise_a_numeric_addition_id_targets_that_addition_among_several_of_the_product(
        tmp_path: Path, cw: StandIn, kind: str) -> None:
    target = cw_connection(tmp_path, cw)
    second_m365(cw)
    [sent] = writeback.apply([fix(kind, line="101", after=27 if kind == "change_quantity" else 0)], target,
                             send=True)
    assert (sent.event, sent.psa_id) == ("accepted", "101")
    assert patches(cw) == [f"{vendors.CW_PREFIX}/{CW_ADDITIONS}/101"]
    assert cw.app.data[CW_ADDITIONS][-1] == {**cw.app.data[CW_ADDITIONS][-1], "quantity": 25, "cancelledDate": None}


# An export whose id column is misaligned (a row shifted) or stale (the ids of another agreement's lines) names
# addition 102, MANAGED-WS billing 10, for a fix of M365-BP proposed on 10 seats: nothing but the line's product
# tells it is not the line the fix means.
@pytest.mark.parametrize(("kind", "verb"), [("change_quantity", "change"), ("cancel_line", "cancel")])
def test_connectwise_an_addition_id_naming_a_line_of_another_product_is_refused_and_none_patched(
        tmp_path: Path, cw: StandIn, kind: str, verb: str) -> None:
    wrong = fix(kind, line="102", before=10, after=12 if kind == "change_quantity" else 0)
    refused_and_nothing_sent(cw, cw_connection(tmp_path, cw), wrong, (
        "ConnectWise agreement 11's addition 102 is of MANAGED-WS, not of M365-BP as the fix says (its id may be "
        "misaligned or out of date): export the agreement's additions with their id column and reconcile again, "
        f"or {verb} the right one in ConnectWise by hand"))
    assert patches(cw) == []
    assert {key: cw.app.data[CW_ADDITIONS][1].get(key) for key in ("quantity", "cancelledDate")} == {
        "quantity": 10, "cancelledDate": None}


def test_connectwise_an_addition_id_answered_as_another_agreements_addition_is_refused_and_none_patched(
        tmp_path: Path, cw: StandIn) -> None:
    cw.app.data[CW_ADDITIONS][0]["agreementId"] = 12  # (ConnectWise says which agreement an addition is of)
    refused_and_nothing_sent(cw, cw_connection(tmp_path, cw), fix("cancel_line", line="101", after=0), (
        "ConnectWise addition 101 is of agreement 12, not of agreement 11 as the fix says (its id may be misaligned "
        "or out of date): export the agreement's additions with their id column and reconcile again, or cancel the "
        "right one in ConnectWise by hand"))


def test_connectwise_an_addition_id_of_the_fixs_product_spelt_in_another_case_is_patched(
        tmp_path: Path, cw: StandIn) -> None:
    """The engine reads skus case-insensitively (the catalog's spelling wins): ``m365-bp`` in ConnectWise is the
    fix's M365-BP, and the one line the id names is changed as before."""
    cw.app.data[CW_ADDITIONS][0]["product"] = {"id": 1, "identifier": " m365-bp"}
    [sent] = writeback.apply([fix("change_quantity", line="101")], cw_connection(tmp_path, cw), send=True)
    assert (sent.event, sent.psa_id) == ("accepted", "101")
    assert cw.app.writes == [("PATCH", f"{vendors.CW_PREFIX}/{CW_ADDITIONS}/101",
                              [{"op": "replace", "path": "quantity", "value": 27}])]


# Acme's seats are, in ConnectWise, the product MS-OFF-BUS-PREM, which the catalog's vendorSku list (or a saved SKU
# mapping) makes the run's M365-BP: the fix is of M365-BP and keeps the product identifier the export named for
# its line (``line_sku``); the addition carrying that identifier is the fix's line, not a misaligned id.
def exported_as(identifier: str, kind: str = "change_quantity", **kwargs: object) -> Fix:
    return dataclasses.replace(fix(kind, **kwargs), line_sku=identifier)  # type: ignore[arg-type]


def renamed_101(cw: StandIn, identifier: str = "MS-OFF-BUS-PREM") -> None:
    cw.app.data[CW_ADDITIONS][0]["product"] = {"id": 1, "identifier": identifier}


# (by id, the identifier is compared but for case and blanks; without one, ConnectWise is asked for it as it is)
@pytest.mark.parametrize(("line", "exported"), [("101", " ms-off-bus-prem"), (None, "MS-OFF-BUS-PREM")])
def test_connectwise_an_addition_of_the_product_the_export_named_is_changed_though_the_fixs_sku_maps_to_it(
        tmp_path: Path, cw: StandIn, line: str | None, exported: str) -> None:
    renamed_101(cw)
    [sent] = writeback.apply([exported_as(exported, line=line)], cw_connection(tmp_path, cw), send=True)
    assert (sent.event, sent.psa_id) == ("accepted", "101")
    assert cw.app.writes == [("PATCH", f"{vendors.CW_PREFIX}/{CW_ADDITIONS}/101",
                              [{"op": "replace", "path": "quantity", "value": 27}])]


@pytest.mark.parametrize(("kind", "verb"), [("change_quantity", "change"), ("cancel_line", "cancel")])
def test_connectwise_an_addition_id_naming_another_product_than_the_export_named_is_still_refused(
        tmp_path: Path, cw: StandIn, kind: str, verb: str) -> None:
    renamed_101(cw)
    wrong = exported_as("MS-OFF-BUS-PREM", kind, line="102", before=10, after=12 if kind == "change_quantity" else 0)
    refused_and_nothing_sent(cw, cw_connection(tmp_path, cw), wrong, (
        "ConnectWise agreement 11's addition 102 is of MANAGED-WS, not of M365-BP (MS-OFF-BUS-PREM in the export) "
        "as the fix says (its id may be misaligned or out of date): export the agreement's additions with their id "
        f"column and reconcile again, or {verb} the right one in ConnectWise by hand"))
    assert patches(cw) == []


def test_connectwise_a_fix_stored_before_the_exports_product_was_kept_is_compared_with_its_sku(
        tmp_path: Path, cw: StandIn) -> None:
    """A fix stored before migration 0010 has no ``line_sku``: its line is compared with its sku, as then."""
    renamed_101(cw)
    refused_and_nothing_sent(cw, cw_connection(tmp_path, cw), fix("change_quantity", line="101"), (
        "ConnectWise agreement 11's addition 101 is of MS-OFF-BUS-PREM, not of M365-BP as the fix says (its id may "
        "be misaligned or out of date): export the agreement's additions with their id column and reconcile again, "
        "or change the right one in ConnectWise by hand"))


def test_connectwise_without_an_addition_id_the_additions_of_the_exports_product_and_of_the_sku_both_count(
        tmp_path: Path, cw: StandIn) -> None:
    """Both names are the fix's product: an addition of each, and which one is meant cannot be known."""
    renamed_101(cw)
    second_m365(cw)
    refused_and_nothing_sent(cw, cw_connection(tmp_path, cw), exported_as("MS-OFF-BUS-PREM", line=None), (
        "ConnectWise agreement 11 has 2 additions of M365-BP (MS-OFF-BUS-PREM in the export) billing on 2026-03-01 "
        "(ids 101, 104) and the fix does not say which: export the agreement's additions with their id column and "
        "reconcile again, or change the right one in ConnectWise by hand"))


def test_connectwise_cancellation_without_an_id_applied_again_is_skipped_beside_a_line_ended_before(
        tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    second_m365(cw, cancelledDate="2025-12-31T00:00:00Z")
    cancel = fix("cancel_line", key="x3", line=None, after=0)
    [sent] = writeback.apply([cancel], target, send=True)
    [again] = writeback.apply([cancel], target, send=True)  # no addition billing on the date: both ended
    assert (sent.event, sent.psa_id) == ("accepted", "101")
    assert (again.event, again.message) == (
        "skipped", "every addition of M365-BP on agreement 11 (ids 101, 104) is already cancelled by 2026-02-28")
    assert patches(cw) == [f"{vendors.CW_PREFIX}/{CW_ADDITIONS}/101"]


def test_connectwise_cancellation_without_an_id_of_two_lines_cancelled_later_is_refused_and_none_patched(
        tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    cw.app.data[CW_ADDITIONS][0]["cancelledDate"] = "2026-06-30T00:00:00Z"
    second_m365(cw, cancelledDate="2026-06-30T00:00:00Z")
    refused_and_nothing_sent(cw, target, fix("cancel_line", line=None, after=0), (
        "ConnectWise agreement 11 has 2 additions of M365-BP billing on 2026-03-01 (ids 101, 104) and the fix does "
        "not say which: export the agreement's additions with their id column and reconcile again, or cancel the "
        "right one in ConnectWise by hand"))


def test_connectwise_without_an_addition_id_a_line_cancelled_after_the_date_still_counts(
        tmp_path: Path, cw: StandIn) -> None:
    """A line whose cancellation is still to come bills on the fix's date: beside the open one, the fix could
    mean either, so nothing is changed; alone, it is the line the fix means."""
    second_m365(cw, cancelledDate="2026-06-30T00:00:00Z")
    refused_and_nothing_sent(cw, cw_connection(tmp_path, cw), fix("change_quantity", line=None), (
        "ConnectWise agreement 11 has 2 additions of M365-BP billing on 2026-03-01 (ids 101, 104) and the fix does "
        "not say which: export the agreement's additions with their id column and reconcile again, or change the "
        "right one in ConnectWise by hand"))
    cw.app.data[CW_ADDITIONS][0]["cancelledDate"] = "2025-12-31T00:00:00Z"  # 101 ended: 104 alone bills
    [sent] = writeback.apply([fix("change_quantity", line=None)], cw_connection(tmp_path, cw), send=True)
    assert (sent.event, sent.psa_id) == ("accepted", "104")
    assert cw.app.writes == [("PATCH", f"{vendors.CW_PREFIX}/{CW_ADDITIONS}/104",
                              [{"op": "replace", "path": "quantity", "value": 27}])]


def test_connectwise_cancellation_without_an_id_of_the_one_line_cancelled_later_moves_its_date(
        tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    cw.app.data[CW_ADDITIONS][0]["cancelledDate"] = "2026-06-30T00:00:00Z"
    [sent] = writeback.apply([fix("cancel_line", line=None, after=0)], target, send=True)
    assert (sent.event, sent.psa_id) == ("accepted", "101")
    assert cw.app.data[CW_ADDITIONS][0]["cancelledDate"] == "2026-02-28T00:00:00Z"


def more_m365(cw: StandIn, count: int, **changes: object) -> None:
    """``count`` more M365-BP lines on agreement 11 (a line per user, as some MSPs keep them), ids 301 on."""
    for number in range(count):
        second_m365(cw, id=301 + number, **changes)


def test_connectwise_without_an_addition_id_counts_the_additions_of_every_page(tmp_path: Path, cw: StandIn) -> None:
    """ConnectWise gives 25 records a page unless asked for more: 26 lines of the product are 26, not 25."""
    more_m365(cw, 25)
    [dry] = writeback.apply([fix("change_quantity", line=None)], cw_connection(tmp_path, cw))
    assert dry.event == "refused"
    assert dry.message.startswith("ConnectWise agreement 11 has 26 additions of M365-BP billing on 2026-03-01 (ids "
                                  "101, 301, 302, 303, 304, 305, 306, 307, 308, 309 and 16 more) and the fix does not "
                                  "say which")
    assert cw.app.writes == []


def test_connectwise_cancellation_without_an_id_finds_the_one_line_still_billing_on_a_later_page(
        tmp_path: Path, cw: StandIn) -> None:
    """25 lines of the product cancelled long ago fill the first page; the 26th, on the second, still bills
    after the date: it is the one line the cancellation can mean (read from the first page alone, every line
    looked ended and the cancellation was skipped as done)."""
    target = cw_connection(tmp_path, cw)
    cw.app.data[CW_ADDITIONS][0]["cancelledDate"] = "2025-12-31T00:00:00Z"
    more_m365(cw, 24, cancelledDate="2025-12-31T00:00:00Z")
    second_m365(cw, id=399, cancelledDate="2026-06-30T00:00:00Z")
    [sent] = writeback.apply([fix("cancel_line", line=None, after=0)], target, send=True)
    assert (sent.event, sent.psa_id) == ("accepted", "399")
    assert cw.app.writes == [("PATCH", f"{vendors.CW_PREFIX}/{CW_ADDITIONS}/399",
                              [{"op": "replace", "path": "cancelledDate", "value": "2026-02-28T00:00:00Z"}])]


AT_SERVICE_ADJUSTMENTS = f"{vendors.AT_PREFIX}/ContractServiceAdjustments"


def second_302(at: StandIn) -> None:
    """Another contract service of service 302 on contract 29684002 (a second site): 10 units, Feb-Mar."""
    at.app.data["ContractServices"].append({
        "id": 5004, "contractID": 29684002, "serviceID": 302, "unitPrice": 20.0, "unitCost": 19.8,
        "invoiceDescription": "Microsoft 365 Business Premium (branch)", "internalCurrencyUnitPrice": 20.0})
    at.app.data["ContractServiceUnits"].append({
        "id": 7007, "contractID": 29684002, "contractServiceID": 5004, "serviceID": 302,
        "startDate": "2026-02-01T00:00:00", "endDate": "2026-03-31T00:00:00", "units": 10, "price": 20.0,
        "cost": 19.8, "internalCurrencyPrice": 20.0, "approveAndPostDate": None})


# an export without contractServiceID names a line by contract and service ("29684002-302"): no id
@pytest.mark.parametrize(("kind", "verb"), [("change_quantity", "change"), ("cancel_line", "cancel")])
@pytest.mark.parametrize("line", [None, "29684002-302"])
def test_autotask_without_a_contract_service_id_two_services_of_the_product_are_refused_and_nothing_sent(
        tmp_path: Path, at: StandIn, kind: str, verb: str, line: str | None) -> None:
    second_302(at)
    refused_and_nothing_sent(at, at_connection(tmp_path, at), at_fix(kind, line=line), (
        "Autotask contract 29684002 has 2 contract services of service 302 (ids 5003, 5004) and the fix does not "
        "say which: export the contract service units with their contractServiceID column and reconcile again, "
        f"or {verb} the right one in Autotask by hand"))


def test_autotask_without_a_contract_service_id_the_one_service_of_the_product_is_adjusted(tmp_path: Path,
                                                                                          at: StandIn) -> None:
    target = at_connection(tmp_path, at)
    [sent] = writeback.apply([at_fix("change_quantity", line="29684002-302")], target, send=True)
    assert sent.event == "accepted"
    [(method, path, body)] = at.app.writes
    assert (method, path, body["contractServiceID"], body["unitChange"]) == (
        "POST", "ContractServiceAdjustments", 5003, 2)


# (a sku read from a spreadsheet's number cell says 302.0: the service 302 still)
@pytest.mark.parametrize(("line", "sku"), [("5003", "302"), ("5004", "302"), ("5004", "302.0")])
def test_autotask_a_numeric_contract_service_id_targets_that_service_among_several_of_the_product(
        tmp_path: Path, at: StandIn, line: str, sku: str) -> None:
    target = at_connection(tmp_path, at)
    second_302(at)
    [sent] = writeback.apply([at_fix("change_quantity", line=line, sku=sku)], target, send=True)
    assert sent.event == "accepted"
    [(method, path, body)] = at.app.writes
    assert (method, path, body["contractServiceID"], body["unitChange"]) == (
        "POST", "ContractServiceAdjustments", int(line), 2)
    assert len(at.hits(AT_SERVICE_ADJUSTMENTS)) == 1


# A contractServiceID column misaligned or stale: 5001 is service 301 (Managed Workstation, 17 units in effect)
# on the fix's contract; 5002 is the fix's service 302 on another contract (Acme's, 25 units).
@pytest.mark.parametrize(("kind", "verb"), [("change_quantity", "change"), ("cancel_line", "cancel")])
@pytest.mark.parametrize(("contract", "line", "units", "said"), [
    ("29684001", "5001", 17, "service 301 on contract 29684001, not of service 302 on contract 29684001"),
    ("29684002", "5002", 25, "service 302 on contract 29684001, not of service 302 on contract 29684002")])
def test_autotask_a_contract_service_id_naming_another_service_or_contract_is_refused_and_nothing_sent(
        tmp_path: Path, at: StandIn, kind: str, verb: str, contract: str, line: str, units: int, said: str) -> None:
    after = units + 2 if kind == "change_quantity" else 0
    wrong = at_fix(kind, agreement=contract, line=line, before=units, after=after)
    refused_and_nothing_sent(at, at_connection(tmp_path, at), wrong, (
        f"Autotask contract service {line} is of {said} as the fix says (its id may be misaligned or out of "
        "date): export the contract service units with their contractServiceID column and reconcile again, or "
        f"{verb} the right one in Autotask by hand"))
    assert at.hits(AT_SERVICE_ADJUSTMENTS) == []


# (a contractServiceID Autotask does not know: the refusal names it, as ConnectWise's names the addition)
def test_autotask_a_contract_service_id_autotask_does_not_know_is_refused_naming_it(tmp_path: Path,
                                                                                   at: StandIn) -> None:
    refused_and_nothing_sent(at, at_connection(tmp_path, at), at_fix("change_quantity", line="5999"),
                             "Autotask contract 29684002 has no contract service 5999")
    assert at.hits(AT_SERVICE_ADJUSTMENTS) == []


def test_autotask_cancellation_without_an_id_of_services_all_at_zero_units_is_skipped(tmp_path: Path,
                                                                                      at: StandIn) -> None:
    target = at_connection(tmp_path, at)
    second_302(at)
    for row in at.app.data["ContractServiceUnits"]:
        if row["contractServiceID"] in (5003, 5004) and row["startDate"] >= "2026-02":
            row["units"] = 0
    [sent] = writeback.apply([at_fix("cancel_line", line=None, before=None, after=0)], target, send=True)
    assert (sent.event, sent.message) == (
        "skipped", "every contract service of service 302 on contract 29684002 (ids 5003, 5004) already has 0 "
                   "units on 2026-03-01")
    assert at.app.writes == [] and at.hits(AT_SERVICE_ADJUSTMENTS) == []


def test_autotask_new_line_beside_its_own_service_and_another_of_the_product_gives_its_own_the_units(
        tmp_path: Path, at: StandIn) -> None:
    """A new line created before (carrying the reference) but whose units were never given, on a contract
    that has since got another service of the product: the units go to the fix's own service."""
    target = at_connection(tmp_path, at)
    second_302(at)
    at.app.data["ContractServices"].append({"id": 5005, "contractID": 29684002, "serviceID": 302, "unitPrice": 22.0,
                                            "internalDescription": "[recon fix n5]"})
    at.app.data["ContractServiceUnits"].append({"id": 7008, "contractID": 29684002, "contractServiceID": 5005,
                                                "serviceID": 302, "startDate": "2026-03-01T00:00:00",
                                                "endDate": "2026-03-31T00:00:00", "units": 0, "price": 22.0})
    new = at_fix("add_line", key="n5", line=None, before=None, after=5)
    [sent] = writeback.apply([new], target, send=True)
    assert sent.event == "accepted"
    [(method, path, body)] = at.app.writes
    assert (method, path, body["contractServiceID"], body["unitChange"]) == (
        "POST", "ContractServiceAdjustments", 5005, 5)


# Autotask names a line's product by its numeric service id, which the run's sku is unless the SKU mapping rewrites
# it: a saved SKU mapping (or a catalog vendor_sku list) naming "302" makes contract service 5003's sku M365-BP.
# The export named its service 302, and contract service 5003 is still the fix's line.
@pytest.mark.parametrize("line", ["5003", None])
def test_autotask_a_service_the_export_named_is_adjusted_though_the_fixs_sku_maps_to_it(
        tmp_path: Path, at: StandIn, line: str | None) -> None:
    mapped = dataclasses.replace(at_fix("change_quantity", line=line, sku="M365-BP"), line_sku="302")
    [sent] = writeback.apply([mapped], at_connection(tmp_path, at), send=True)
    assert sent.event == "accepted", sent.message
    [(method, path, body)] = at.app.writes
    assert (method, path, body["contractServiceID"], body["serviceID"], body["unitChange"]) == (
        "POST", "ContractServiceAdjustments", 5003, 302, 2)


def test_autotask_a_contract_service_id_naming_another_service_than_the_export_named_is_still_refused(
        tmp_path: Path, at: StandIn) -> None:
    wrong = dataclasses.replace(at_fix("change_quantity", agreement="29684001", line="5001", sku="M365-BP",
                                       before=17, after=19), line_sku="302")
    refused_and_nothing_sent(at, at_connection(tmp_path, at), wrong, (
        "Autotask contract service 5001 is of service 301 on contract 29684001, not of service M365-BP (302 in the "
        "export) on contract 29684001 as the fix says (its id may be misaligned or out of date): export the contract "
        "service units with their contractServiceID column and reconcile again, or change the right one in Autotask "
        "by hand"))
    assert at.hits(AT_SERVICE_ADJUSTMENTS) == []
