"""Fixes written back to the ConnectWise and Autotask stand-ins (issue 21, item 3), with the connections
defined as a user defines them: a dry run shows the exact requests and sends none; applying sends them;
applying again changes nothing; the PSA's refusal comes back with its message; a write whose answer is lost
is found again instead of written twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from recon.connectors import writeback
from recon.connectors.config import Connection
from recon.fixes import Fix
from tests.recon.connectors import psa_writes, vendors
from tests.recon.connectors.conftest import connection, connections_toml
from tests.recon.connectors.standin import StandIn


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
    # contract service 5002 belongs to another contract: Autotask says so
    [outcome] = writeback.apply([at_fix("change_quantity", line="5002", agreement="29684002", before=None)],
                                target, send=True)
    assert (outcome.event, outcome.message) == (
        "refused", "HTTP 500: ContractServiceID 5002 does not belong to ContractID 29684002.")
    assert at.app.writes == []


def test_a_fix_from_an_unconfigured_source_is_routed_to_no_connection(tmp_path: Path, cw: StandIn) -> None:
    target = cw_connection(tmp_path, cw)
    pulled = fix("change_quantity")
    uploaded = Fix(**{**pulled.__dict__, "fix_key": "f9", "origin": "uploads/contracts.csv"})
    routed, unrouted = writeback.route([pulled, uploaded], {"cw": target})
    assert {name: [item.fix_key for item in items] for name, items in routed.items()} == {"cw": ["f1"]}
    assert [item.fix_key for item in unrouted] == ["f9"]
