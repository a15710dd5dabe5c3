"""Roles, scope, passwords, throttling and sessions, without a browser (issue 7)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from recon import access
from recon.access.roles import ACCOUNT_MANAGER, ACTIONS, ADMIN, AUDITOR, FINANCE, Principal
from recon.access.sessions import SessionPolicy
from recon.access.throttle import Counter, LockoutPolicy, locked_until
from recon.access.users import MemoryAuthStorage
from recon.engine import Reconciliation, evidence, reconcile
from recon.errors import AccessDeniedError, AuthError
from tests.scenarios import scenario_sources

FAST = 4  # bcrypt rounds for tests (production: access.BCRYPT_ROUNDS)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

# Dana manages Acme; Sam manages Beta; Gamma was Dana's but its latest contract line names Sam.
SECTIONS = {
    "contracts": """client,sku,unit_price,quantity,start_date,account_manager,description
Acme Corp,M365-BP,22.00,10,2025-01-01,Dana Lee,Acme seats
Beta LLC,M365-BP,21.00,5,2025-01-01,Sam Ortiz,Beta seats
Gamma Ltd,M365-BP,20.00,4,2024-01-01,dana lee,Gamma seats
Gamma Ltd,MANAGED-WS,45.00,3,2025-06-01,Sam Ortiz,Gamma workstations
""",
    "usage": """client,sku,quantity,period_start,vendor,unit_cost
Acme Corp,MS-OFF-BUS-PREM,12,2026-02-01,Pax8,19.80
Beta LLC,MS-OFF-BUS-PREM,5,2026-02-01,Pax8,19.80
Gamma Ltd,MS-OFF-BUS-PREM,6,2026-02-01,Pax8,19.80
Delta Unknown,MS-OFF-BUS-PREM,1,2026-02-01,Pax8,19.80
""",
    "invoices": """invoice_number,invoice_date,client,sku,quantity,unit_price,description
INV-1,2026-02-01,Acme Corp,M365-BP,10,22.00,Acme February
INV-2,2026-02-01,Beta LLC,M365-BP,5,19.00,Beta February
INV-3,2026-02-01,Gamma Ltd,M365-BP,4,20.00,Gamma February
""",
    "payments": """invoice_number,payment_date,amount
INV-1,2026-02-10,220.00
INV-2,2026-02-11,95.00
""",
}
OTHERS_OF_DANA = ("Beta", "Gamma", "Delta")


@pytest.fixture(scope="module")
def result() -> Reconciliation:
    return reconcile(scenario_sources(SECTIONS))


def dana(clients: frozenset[str] = frozenset()) -> Principal:
    return Principal("dana", ACCOUNT_MANAGER, clients, manager_name="Dana  LEE")


def every_text(scoped: Reconciliation) -> str:
    """Everything a page could render from a result: every frame and every figure, as text."""
    frames = [scoped.discrepancies, scoped.keys, scoped.unmapped, scoped.client_matches, scoped.quarantine,
              scoped.receivables, *scoped.resolved.values()]
    parts = [frame.to_csv() for frame in frames]
    parts.append(json.dumps(scoped.metrics.to_dict(), default=str))
    parts.append(json.dumps(scoped.to_dict(), default=str))
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------- roles

@pytest.mark.parametrize(("role", "allowed"), [
    (ADMIN, set(ACTIONS)),
    (FINANCE, {"view", "view_runs", "upload", "run", "resolve", "map", "export", "export_audit_pack"}),
    (ACCOUNT_MANAGER, {"view", "resolve", "export"}),
    (AUDITOR, {"view", "view_runs", "export", "export_audit_pack"}),
])
def test_each_role_may_do_exactly_its_actions(role: str, allowed: set[str]) -> None:
    principal = Principal("someone", role)
    assert {action for action in ACTIONS if access.can(principal, action)} == allowed


def test_nobody_and_unknown_things_are_refused() -> None:
    assert not any(access.can(None, action) for action in ACTIONS)
    with pytest.raises(AccessDeniedError, match="anonymous visitor may not change settings"):
        access.require(None, "change_settings")
    with pytest.raises(AccessDeniedError, match=r"ann \(auditor\) may not resolve"):
        access.require(Principal("ann", AUDITOR), "resolve")
    with pytest.raises(AuthError, match="unknown action 'delete_everything'"):
        access.can(Principal("root", ADMIN), "delete_everything")
    with pytest.raises(AuthError, match="unknown role 'superuser'"):
        Principal("root", "superuser")


def test_only_account_managers_are_scoped() -> None:
    for role in (ADMIN, FINANCE, AUDITOR):
        assert access.scope_for(Principal("x", role)).all_clients
    scope = access.scope_for(dana())
    assert not scope.all_clients and scope.managers == frozenset({"dana lee"})
    assert access.scope_for(Principal("sam", ACCOUNT_MANAGER)).managers == frozenset({"sam"})


# ---------------------------------------------------------------------------------------------- scope

def test_an_account_manager_sees_only_their_clients_in_every_frame_and_figure(result: Reconciliation) -> None:
    scoped = access.apply_scope(result, access.scope_for(dana()))
    assert access.visible_clients(result, dana()) == frozenset({"Acme Corp"})
    text = every_text(scoped)
    assert "Acme" in text
    for other in OTHERS_OF_DANA:
        assert other not in text, other
    assert set(scoped.discrepancies["client"]) == {"Acme Corp"}
    assert set(scoped.metrics.by_client["client"]) == {"Acme Corp"}
    assert list(scoped.resolved["payments"]["invoice_number"]) == ["INV-1"]
    assert scoped.quarantine.empty and scoped.imports == ()


def test_scoped_figures_are_the_clients_own_figures(result: Reconciliation) -> None:
    scoped = access.apply_scope(result, access.scope_for(dana()))
    acme = result.metrics.by_client.set_index("client").loc["Acme Corp"]
    overall = scoped.metrics.overall
    assert overall.leakage == int(acme["leakage"])
    assert overall.billed_revenue == int(acme["billed_revenue"])
    assert overall.discrepancies == int(acme["discrepancies"])
    assert overall.ar_balance == 0  # INV-1 is paid; Beta's short payment is not Dana's


def test_the_latest_contract_line_names_the_account_manager(result: Reconciliation) -> None:
    sam = Principal("sam", ACCOUNT_MANAGER, manager_name="Sam Ortiz")
    assert access.visible_clients(result, sam) == frozenset({"Beta LLC", "Gamma Ltd"})


def test_explicit_clients_add_to_the_managed_ones(result: Reconciliation) -> None:
    principal = dana(frozenset({"Beta LLC"}))
    scoped = access.apply_scope(result, access.scope_for(principal))
    assert set(scoped.keys["client"]) == {"Acme Corp", "Beta LLC"}


def test_an_account_manager_of_nobody_sees_nothing(result: Reconciliation) -> None:
    nobody = Principal("newbie", ACCOUNT_MANAGER)
    scoped = access.apply_scope(result, access.scope_for(nobody))
    assert scoped.keys.empty and scoped.discrepancies.empty and scoped.receivables.empty
    assert scoped.metrics.overall.billed_revenue == 0
    for name in ("Acme", *OTHERS_OF_DANA):
        assert name not in every_text(scoped)


def test_evidence_from_a_scoped_result_cannot_reach_another_client(result: Reconciliation) -> None:
    scoped = access.apply_scope(result, access.scope_for(dana()))
    assert len(evidence(scoped, "2026-02", "Acme Corp", "M365-BP")["invoice"]) == 1
    assert all(frame.empty for frame in evidence(scoped, "2026-02", "Beta LLC", "M365-BP").values())


def test_full_scope_returns_the_result_itself(result: Reconciliation) -> None:
    assert access.apply_scope(result, access.scope_for(Principal("f", FINANCE))) is result


def test_restrict_drops_rows_without_a_client() -> None:
    frame = pd.DataFrame({"client": pd.Series(["Acme Corp", None, "Beta LLC"], dtype="string"), "n": [1, 2, 3]})
    assert access.restrict(frame, frozenset({"Acme Corp"}))["n"].tolist() == [1]
    assert access.restrict(frame, None) is frame


# ------------------------------------------------------------------------------------------ passwords

def test_passwords_are_salted_and_every_byte_counts() -> None:
    first = access.hash_password("correct horse battery", FAST)
    second = access.hash_password("correct horse battery", FAST)
    assert first != second and first.startswith("$2b$04$")
    assert access.verify_password("correct horse battery", first)
    assert not access.verify_password("correct horse batterY", first)
    long_password = "x" * 100
    hashed = access.hash_password(long_password, FAST)
    assert not access.verify_password("x" * 99 + "y", hashed)  # plain bcrypt would stop at 72 bytes
    assert not access.verify_password("anything", "not a hash")


def test_new_user_names_every_problem_at_once() -> None:
    with pytest.raises(AuthError) as error:
        access.new_user("  ", "root", "short")
    message = str(error.value)
    assert "user name must be 1 to 100 letters" in message and "unknown role 'root'" in message
    assert "at least 12 characters" in message
    with pytest.raises(AuthError, match="user name must be"):
        access.new_user("[click](http://evil.example)", FINANCE, None)
    with pytest.raises(AuthError, match="must not be the user name"):
        access.new_user("Finance-Lead-1", FINANCE, "finance-lead-1", rounds=FAST)
    user = access.new_user(" Dana ", ACCOUNT_MANAGER, None, clients=[" Beta LLC", ""], manager_name=" Dana Lee ")
    assert (user.username, user.password_hash, user.clients, user.manager_name) == ("dana", None, ("Beta LLC",),
                                                                                    "Dana Lee")


@pytest.mark.parametrize(("password", "reason"), [
    ("aaaaaaaaaaaa", "repeated"), ("abcabcabcabc", "repeated"), ("121212121212", "repeated"),
    ("password1234", "common"), ("Password2026!", "common"), ("P@ssw0rd-2026", "common"), ("2026Welcome!!", "common"),
    ("iloveyou1234", "common"), ("changeme1234", "common"),
    ("123456789012", "run"), ("abcdefghijkl", "run"), ("qwertyuiopas", "run"), ("lkjhgfdsapoi", "run"),
    ("1qaz2wsx3edc", "common"),
    ("fin-fin-fin-fin", "repeated"), ("short", "at least 12 characters"),
])
def test_weak_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    """Issue 23 item 4: length, and no repeated, sequential or common password (with digits and symbols
    around it, or letters written as digits: still common)."""
    problems = " ".join(access.password_problems(password, "fin"))
    assert reason in problems, (password, problems)
    with pytest.raises(AuthError, match=reason):
        access.new_user("newcomer", FINANCE, password, rounds=FAST)


@pytest.mark.parametrize("password", ["finance-password", "correct horse battery", "dana-password-1",
                                      "e2e-admin-password", "Tr0ub4dor&3-staple", "first-start-password-2026"])
def test_ordinary_strong_passwords_pass(password: str) -> None:
    assert access.password_problems(password, "fin") == []


def test_the_first_admin_gets_a_one_time_password_once() -> None:
    storage = MemoryAuthStorage()
    password = access.ensure_first_admin(storage, T0, rounds=FAST)
    assert password and len(password) >= 16
    assert access.ensure_first_admin(storage, T0, rounds=FAST) is None
    admin = storage.get_user("admin")
    assert admin is not None and admin.role == ADMIN and admin.must_change_password
    assert password not in repr(storage.access_log()) and password not in repr(admin)
    outcome = access.authenticate(storage, "ADMIN", password, "10.0.0.1", T0)
    assert outcome.principal == Principal("admin", ADMIN) and outcome.must_change_password


def test_changing_the_password_checks_the_current_one() -> None:
    storage = MemoryAuthStorage()
    password = access.ensure_first_admin(storage, T0, rounds=FAST)
    assert password
    with pytest.raises(AuthError, match="current password is wrong"):
        access.change_password(storage, "admin", "guess-guess-guess", "a-new-long-password", T0, rounds=FAST)
    with pytest.raises(AuthError, match="must differ"):
        access.change_password(storage, "admin", password, password, T0, rounds=FAST)
    access.change_password(storage, "admin", password, "a-new-long-password", T0, rounds=FAST)
    assert access.authenticate(storage, "admin", password, "s", T0).principal is None
    outcome = access.authenticate(storage, "admin", "a-new-long-password", "s", T0)
    assert outcome.principal is not None and not outcome.must_change_password


# ---------------------------------------------------------------------------------------- logging in

def storage_with(*users: access.UserRecord) -> MemoryAuthStorage:
    storage = MemoryAuthStorage()
    for user in users:
        access.add_user(storage, user, "test", T0)
    return storage


def test_a_wrong_name_and_a_wrong_password_read_the_same() -> None:
    storage = storage_with(access.new_user("fin", FINANCE, "finance-password", rounds=FAST))
    wrong_password = access.authenticate(storage, "fin", "nope-nope-nope", "s", T0)
    unknown_user = access.authenticate(storage, "nobody", "finance-password", "s", T0)
    assert wrong_password.principal is None and unknown_user.principal is None
    assert wrong_password.message == unknown_user.message == access.WRONG_CREDENTIALS
    log = access.access_log_frame(storage.access_log())
    assert list(log["outcome"][:2]) == ["failed", "failed"]
    assert "finance-password" not in log.to_csv()


def test_disabled_and_identity_provider_users_cannot_use_a_password() -> None:
    fin = access.new_user("fin", FINANCE, "finance-password", rounds=FAST)
    storage = storage_with(replace(fin, disabled=True), access.new_user("oidc@msp.example", AUDITOR, None))
    assert access.authenticate(storage, "fin", "finance-password", "s", T0).principal is None
    assert access.authenticate(storage, "oidc@msp.example", "", "s", T0).principal is None


def fail_login(storage: MemoryAuthStorage, user: str, source: str, at: datetime) -> access.LoginResult:
    return access.authenticate(storage, user, "wrong-password!", source, at)


def test_failed_logins_lock_out_for_growing_delays_and_a_success_resets() -> None:
    storage = storage_with(access.new_user("fin", FINANCE, "finance-password", rounds=FAST))
    for second in range(5):
        assert fail_login(storage, "fin", "s1", T0 + timedelta(seconds=second)).retry_at is None
    # The 5th failure (at +4 s) reached the free allowance: locked for 30 s, even with the right password.
    locked = access.authenticate(storage, "fin", "finance-password", "s2", T0 + timedelta(seconds=10))
    assert locked.principal is None and locked.retry_at == T0 + timedelta(seconds=34)
    assert "Too many failed logins" in locked.message
    # After the lock, one more failure doubles it.
    fail_login(storage, "fin", "s1", T0 + timedelta(seconds=40))
    again = access.authenticate(storage, "fin", "finance-password", "s1", T0 + timedelta(seconds=41))
    assert again.retry_at == T0 + timedelta(seconds=100)
    ok = access.authenticate(storage, "fin", "finance-password", "s1", T0 + timedelta(seconds=101))
    assert ok.principal is not None
    assert fail_login(storage, "fin", "s1", T0 + timedelta(seconds=102)).retry_at is None


def test_one_source_trying_many_users_is_locked_out() -> None:
    storage = storage_with(access.new_user("fin", FINANCE, "finance-password", rounds=FAST))
    for attempt in range(20):
        fail_login(storage, f"user{attempt}", "203.0.113.9", T0 + timedelta(seconds=attempt))
    from_there = access.authenticate(storage, "fin", "finance-password", "203.0.113.9", T0 + timedelta(seconds=25))
    elsewhere = access.authenticate(storage, "fin", "finance-password", "198.51.100.1", T0 + timedelta(seconds=25))
    assert from_there.principal is None and from_there.retry_at is not None
    assert elsewhere.principal is not None


def test_a_shared_address_never_locks_everyone_out() -> None:
    """Issue 23 item 4: behind a proxy the settings do not trust, every user arrives from one address;
    failures from it lock each user out, never the address."""
    storage = storage_with(access.new_user("fin", FINANCE, "finance-password", rounds=FAST))
    for attempt in range(25):
        access.authenticate(storage, f"user{attempt}", "wrong-password!", "10.0.0.1", T0 + timedelta(seconds=attempt),
                            source_lockable=False)
    assert access.authenticate(storage, "fin", "finance-password", "10.0.0.1", T0 + timedelta(seconds=30),
                               source_lockable=False).principal is not None


def counter(*failures_at: float, refused: int = 0) -> Counter:
    last = T0 + timedelta(minutes=failures_at[-1]) if failures_at else None
    return Counter("user:u", failures=len(failures_at), last_failure_at=last, refused=refused)


@pytest.mark.parametrize(("failures", "now_min", "expected_min"), [
    ((0, 1, 2, 3), 4, None),                      # four failures: free
    ((0, 1, 2, 3, 4), 4, 4.5),                    # fifth: 30 s
    ((0, 1, 2, 3, 4, 5, 6), 6, 8),                # seventh: 2 min
    ((0, 1, 2, 3, 4, 5, 6), 9, None),             # lock over
    (tuple(range(20)), 19, 79),                   # capped at one hour
    ((0, 1, 2, 3, 4), 60 * 25, None),             # older than the window: forgotten
])
def test_the_lock_is_a_pure_function_of_the_counter(failures: tuple[int, ...], now_min: int,
                                                    expected_min: float | None) -> None:
    now = T0 + timedelta(minutes=now_min)
    until = locked_until({"user:u": counter(*failures)}, now, LockoutPolicy())
    assert until == (None if expected_min is None else T0 + timedelta(minutes=expected_min))


def test_the_identity_provider_proves_who_a_user_only_grants_access() -> None:
    storage = storage_with(access.new_user("Ann@MSP.example", AUDITOR, None))
    assert access.principal_for_identity(storage, "ann@msp.example", T0) == Principal("ann@msp.example", AUDITOR)
    assert access.principal_for_identity(storage, "eve@elsewhere.example", T0) is None
    assert access.principal_for_identity(storage, None, T0) is None
    outcomes = [event.outcome for event in storage.access_log()]
    assert outcomes[:3] == ["refused", "refused", "ok"]


def test_a_role_change_or_disabling_takes_effect_in_open_sessions() -> None:
    fin = access.new_user("fin", FINANCE, None)
    storage = storage_with(fin)
    principal = fin.principal()
    storage.update_user(replace(fin, role=AUDITOR))
    assert access.current_principal(storage, principal) == Principal("fin", AUDITOR)
    storage.update_user(replace(fin, disabled=True))
    assert access.current_principal(storage, principal) is None


# ------------------------------------------------------------------------------------------- sessions

def test_sessions_expire_when_idle_and_after_their_lifetime() -> None:
    policy = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))
    session = access.start_session(Principal("fin", FINANCE), T0)
    assert not access.session_expired(session, T0 + timedelta(minutes=30), policy)
    assert access.session_expired(session, T0 + timedelta(minutes=31), policy)
    busy = session
    for step in range(1, 12 * 4 + 2):
        busy = access.touch(busy, T0 + timedelta(minutes=15 * step))
    assert access.session_expired(busy, busy.last_seen, policy)  # active all day, still ends at 12 h


def test_exports_and_resolutions_are_logged_with_who_and_when() -> None:
    storage = MemoryAuthStorage()
    access.record(storage, Principal("fin", FINANCE), "export", T0, target="discrepancies.csv", detail="42 rows")
    event = storage.access_log()[0]
    assert (event.user, event.action, event.target, event.at) == ("fin", "export", "discrepancies.csv", T0)


def test_on_the_sample_msp_each_account_manager_sees_exactly_their_clients() -> None:
    from pathlib import Path

    from recon.ingest.directory import load_directory

    result = reconcile(load_directory(Path(__file__).parents[3] / "sample_data"))
    managers = result.keys.dropna(subset=["account_manager"]).groupby("account_manager")["client"].apply(set)
    assert len(managers) >= 2
    everyone = set(result.keys["client"])
    for manager, clients in managers.items():
        principal = Principal(manager.split()[0].lower(), ACCOUNT_MANAGER, manager_name=str(manager))
        scoped = access.apply_scope(result, access.scope_for(principal))
        assert set(scoped.keys["client"]) == clients
        text = every_text(scoped)
        hidden = {name for name in everyone - clients if not any(name in mine for mine in clients)}
        assert hidden and not [name for name in hidden if name in text], manager


def test_the_access_log_reads_to_the_second_and_filters() -> None:
    storage = MemoryAuthStorage()
    access.record(storage, Principal("fin", FINANCE), "export", T0 + timedelta(seconds=7), target="a.csv")
    access.record(storage, Principal("ann", AUDITOR), "export_audit_pack", T0, target="run 1")
    log = access.access_log_frame(storage.access_log())
    assert list(access.access_log_for_display(log)["at"]) == ["2026-03-01 09:00:00 UTC", "2026-03-01 09:00:07 UTC"]
    assert list(access.filter_access_log(log, users=["ann"])["action"]) == ["export_audit_pack"]
    assert len(access.filter_access_log(log)) == 2
