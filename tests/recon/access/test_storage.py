"""The same ``AuthStorage`` contract in memory and in the store's database (SQLite and PostgreSQL):
users, throttling across processes' records, the access log, and a first admin created once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recon import access
from recon.access.roles import ACCOUNT_MANAGER, FINANCE
from recon.access.storage import StoreAuthStorage
from recon.access.users import AccessEvent, AuthStorage, MemoryAuthStorage
from recon.errors import AuthError
from recon.store import Store

FAST = 4
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=[pytest.param("memory", id="memory"), pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthStorage]:
    if request.param == "memory":
        yield MemoryAuthStorage()
        return
    url = (f"sqlite:///{tmp_path / 'recon.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_schema_url"))
    opened = Store(url)
    yield StoreAuthStorage(opened)
    opened.close()


def test_users_round_trip(storage: AuthStorage) -> None:
    user = access.new_user("Dana", ACCOUNT_MANAGER, "dana-password-1", clients=["Beta LLC", "Acme Corp"],
                         manager_name="Dana Lee", now=T0, rounds=FAST)
    assert storage.add_user(user)
    assert not storage.add_user(replace(user, role=FINANCE))  # the name is taken
    loaded = storage.get_user(" DANA ")
    assert loaded == user
    assert loaded is not None and loaded.principal().clients == frozenset({"Acme Corp", "Beta LLC"})
    storage.update_user(replace(user, role=FINANCE, disabled=True))
    changed = storage.get_user("dana")
    assert changed is not None and (changed.role, changed.disabled) == (FINANCE, True)
    assert [u.username for u in storage.list_users()] == ["dana"]
    with pytest.raises(AuthError, match="no user named 'ghost'"):
        storage.update_user(replace(user, username="ghost"))


def test_throttling_counts_in_the_store(storage: AuthStorage) -> None:
    access.add_user(storage, access.new_user("fin", FINANCE, "finance-password", rounds=FAST), "test", T0)
    for second in range(5):
        access.authenticate(storage, "fin", "wrong-password!", "10.0.0.1", T0 + timedelta(seconds=second))
    locked = access.authenticate(storage, "fin", "finance-password", "10.0.0.2", T0 + timedelta(seconds=5))
    assert locked.principal is None and locked.retry_at == T0 + timedelta(seconds=34)
    assert access.authenticate(storage, "fin", "finance-password", "10.0.0.2", T0 + timedelta(seconds=35)).principal
    again = access.authenticate(storage, "fin", "wrong-password!", "10.0.0.2", T0 + timedelta(seconds=36))
    assert again.retry_at is None  # the success cleared the count


def test_thirty_parallel_wrong_passwords_check_at_most_the_free_five(storage: AuthStorage) -> None:
    """Issue 23 item 4: the attempt is counted in the store (one transaction) before its password is
    checked, so 30 guesses at once get 5 checks, not 30."""
    access.add_user(storage, access.new_user("victim", FINANCE, "victim-password-1", rounds=10), "test", T0)
    barrier, outcomes = threading.Barrier(30), []

    def guess(number: int) -> None:
        barrier.wait()
        outcomes.append(access.authenticate(storage, "victim", f"wrong-guess-{number}", f"10.0.0.{number}", T0))

    threads = [threading.Thread(target=guess, args=(number,)) for number in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked = [outcome for outcome in outcomes if outcome.message == access.WRONG_CREDENTIALS]
    assert len(outcomes) == 30 and len(checked) == 5
    assert all("Too many failed" in outcome.message for outcome in outcomes if outcome not in checked)


def test_failed_sign_ins_add_a_bounded_number_of_rows(storage: AuthStorage) -> None:
    """Issue 23 item 9: counters per user and address (forgotten after the window, at most
    ``max_counters``), and access-log lines only while not locked, at most ``logged_failures_per_minute``
    a minute, with one line saying how many were not written."""
    policy = access.LockoutPolicy(max_counters=20, logged_failures_per_minute=10)
    for number in range(30):
        name = f"user{number}"
        access.add_user(storage, access.new_user(name, FINANCE, f"{name}-pass-phrase", rounds=FAST), "test", T0)
        access.authenticate(storage, name, "wrong-password!", "local", T0 + timedelta(seconds=number), policy,
                            source_lockable=False)
    assert storage.throttle_size() <= 20
    for second in range(200):  # one user hammered from one address for minutes
        access.authenticate(storage, "user1", "wrong-password!", "10.0.0.7", T0 + timedelta(seconds=60 + second),
                            policy)
    failed = [event for event in storage.access_log(limit=100_000) if event.action == "login"]
    assert 10 < len(failed) <= 30, len(failed)
    assert any("not logged one by one" in event.detail for event in failed)


def test_the_access_log_is_newest_first_and_never_holds_a_password(storage: AuthStorage) -> None:
    assert access.ensure_first_admin(storage, T0, rounds=FAST)
    access.authenticate(storage, "admin", "not-the-password", "10.0.0.9", T0 + timedelta(seconds=1))
    storage.record_access(AccessEvent(T0 + timedelta(seconds=2), "admin", "export", "discrepancies.csv", "12 rows"))
    log = access.access_log_frame(storage.access_log())
    assert list(log["action"]) == ["export", "login", "user_added"]
    assert list(log["outcome"]) == ["ok", "failed", "ok"]
    assert log["at"].iloc[0] == T0 + timedelta(seconds=2)
    assert "not-the-password" not in log.to_csv()
    assert len(storage.access_log(limit=1)) == 1


def test_two_first_starts_at_once_create_one_admin(store: Store) -> None:
    passwords: list[str | None] = []
    barrier = threading.Barrier(4)

    def first_start() -> None:
        storage = StoreAuthStorage(store)
        barrier.wait()
        passwords.append(access.ensure_first_admin(storage, T0, rounds=FAST))

    workers = [threading.Thread(target=first_start) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    created = [password for password in passwords if password]
    assert len(created) == 1 and len(passwords) == 4
    assert access.authenticate(StoreAuthStorage(store), "admin", created[0], "s", T0).principal is not None


def test_a_signed_in_browser_is_kept_by_its_cookies_digest(storage: AuthStorage) -> None:
    """Issue 23 item 2: a session belongs to the browser whose cookie digest signed in; it ends when idle
    (logged), past its lifetime, when the user is disabled, or when signed out; reading it marks the
    browser seen at most once a minute."""
    fin = access.new_user("fin", FINANCE, "finance-password", rounds=FAST)
    access.add_user(storage, fin, "test", T0)
    digest = access.browser_digest("a" * 43)  # (a cookie is 43 URL-safe characters)
    assert digest != access.NO_BROWSER
    access.open_browser_session(storage, digest, fin.principal(), "password", T0)
    session, why = access.browser_session(storage, digest, T0 + timedelta(seconds=30))
    assert why == "" and session is not None and session.principal == fin.principal()
    assert storage.get_session(digest).last_seen_at == T0  # type: ignore[union-attr]  (under a minute: not written)
    assert access.browser_session(storage, "another browser", T0) == (None, "none")
    seen = T0 + timedelta(minutes=29)
    access.browser_session(storage, digest, seen)
    assert storage.get_session(digest).last_seen_at == seen  # type: ignore[union-attr]
    assert access.browser_session(storage, digest, seen + timedelta(minutes=31), source="10.0.0.5") == (None,
                                                                                                        "expired")
    assert storage.get_session(digest) is None
    logout = storage.access_log(limit=1)[0]
    assert (logout.user, logout.action, logout.detail) == ("fin", "logout", "session expired")
    assert logout.source == "10.0.0.5"

    access.open_browser_session(storage, digest, fin.principal(), "password", T0)
    storage.update_user(replace(fin, disabled=True))
    assert access.browser_session(storage, digest, T0 + timedelta(minutes=1)) == (None, "inactive")
    storage.update_user(fin)
    access.open_browser_session(storage, digest, fin.principal(), "password", T0)
    access.end_browser_session(storage, digest)
    assert access.browser_session(storage, digest, T0) == (None, "none")
