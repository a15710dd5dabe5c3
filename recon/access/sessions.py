"""Signing in (password or identity provider) and sessions, which expire after idle time and after an
absolute lifetime (``session_expired``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from recon.access.passwords import decoy_hash, verify_password
from recon.access.roles import Principal, normalise_username
from recon.access.throttle import LOG_KEY, Claim, Counter, LockoutPolicy, claim, keys_for, log_budget, settle
from recon.access.users import USERNAME_PATTERN, AccessEvent, AuthStorage

# -------------------------------------------------------------------------------------------- logging in

@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login: the principal (``None`` when refused), whether the password must be
    changed first, and a message fit to show (it never says which of name or password was wrong)."""

    principal: Principal | None
    message: str
    must_change_password: bool = False
    retry_at: datetime | None = None


WRONG_CREDENTIALS = "Wrong user name or password."


def authenticate(storage: AuthStorage, username: str, password: str, source: str, now: datetime,
                 policy: LockoutPolicy = LockoutPolicy(), *, source_lockable: bool = True) -> LoginResult:
    """Check a local login and return the outcome, counting it against the user and (when
    ``source_lockable``: an address the app can attribute to one client) the address first, in one
    transaction: a locked-out attempt is refused without checking the password (and does not extend the
    lock), any other is counted as a failure until the password proves right (``recon.access.throttle``).
    Writes access-log lines within the throttle's bounds."""
    name = normalise_username(username)[:200]
    keys = keys_for(name, source, source_lockable)
    decided = _count(storage, keys, now, policy, lambda counters: claim(keys, counters, now, policy))
    shown = logged_name(name)
    if decided.locked_until is not None:
        if decided.first_refusal:
            _log_failure(storage, AccessEvent(now, shown, "login", detail="locked out", source=source,
                                              outcome="refused"), policy)
        minutes = max(1, -(-int((decided.locked_until - now).total_seconds()) // 60))
        return LoginResult(None, f"Too many failed logins. Try again in {minutes} minute(s).",
                           retry_at=decided.locked_until)
    user = storage.get_user(name)
    known_hash = user.password_hash if user is not None and not user.disabled else None
    matches = verify_password(password, known_hash or decoy_hash()) and known_hash is not None
    if not matches or user is None:
        _log_failure(storage, AccessEvent(now, shown, "login", source=source, outcome="failed"), policy)
        return LoginResult(None, WRONG_CREDENTIALS)
    _count(storage, keys, now, policy, lambda counters: (Claim(None), settle(keys, counters, succeeded=True)))
    storage.record_access(AccessEvent(now, name, "login", detail="password", source=source))
    return LoginResult(user.principal(), "Signed in.", must_change_password=user.must_change_password)


def _count(storage: AuthStorage, keys: tuple[str, ...], now: datetime, policy: LockoutPolicy,
           decide: Callable[[dict[str, Counter]], tuple[Claim, dict[str, Counter]]]) -> Claim:
    """Run ``decide`` on the stored counters of ``keys`` in one storage transaction; its claim."""
    decided: list[Claim] = []

    def change(counters: dict[str, Counter]) -> dict[str, Counter]:
        claimed, changed = decide(counters)
        decided.append(claimed)
        return changed

    storage.update_counters(keys, change, now, now - policy.window, policy.max_counters)
    return decided[0]


def _log_failure(storage: AuthStorage, event: AccessEvent, policy: LockoutPolicy) -> None:
    """Write a failed sign-in's line when this minute's budget allows, and (once) how many went unwritten."""
    budget: list[tuple[bool, int]] = []

    def change(counters: dict[str, Counter]) -> dict[str, Counter]:
        allowed, unlogged, counter = log_budget(counters.get(LOG_KEY), event.at, policy)
        budget.append((allowed, unlogged))
        return {LOG_KEY: counter}

    storage.update_counters((LOG_KEY,), change, event.at, event.at - policy.window, policy.max_counters + 1)
    allowed, unlogged = budget[0]
    if unlogged:
        storage.record_access(AccessEvent(event.at, "(several)", "login", outcome="failed", detail=(
            f"{unlogged} more failed sign-in(s) in the minute before, not logged one by one")))
    if allowed:
        storage.record_access(event)


def logged_name(name: str) -> str:
    """A typed user name as the access log keeps it: as typed when it could be one (letters, digits and
    ``. _ @ + -``), else a placeholder; never a line break, a control character or a password typed
    into the wrong box with spaces or symbols."""
    return name if USERNAME_PATTERN.fullmatch(name) else "(not a user name)"


def principal_for_identity(storage: AuthStorage, email: str | None, now: datetime,
                           source: str = "") -> Principal | None:
    """The principal of someone the identity provider signed in (by e-mail), or ``None`` when no enabled
    user has that name: signing in proves who someone is, only a user record grants access."""
    name = normalise_username(email or "")
    user = storage.get_user(name) if name else None
    if user is None or user.disabled:
        storage.record_access(AccessEvent(now, name or "(no e-mail)", "login", detail="identity provider",
                                          source=source, outcome="refused"))
        return None
    storage.record_access(AccessEvent(now, name, "login", detail="identity provider", source=source))
    return user.principal()


def current_principal(storage: AuthStorage, principal: Principal) -> Principal | None:
    """``principal`` as the store has it now (role or clients may have changed); ``None`` when the user
    was removed or disabled since signing in."""
    user = storage.get_user(principal.user)
    return None if user is None or user.disabled else user.principal()


def record(storage: AuthStorage, principal: Principal, action: str, now: datetime, target: str = "",
           detail: str = "", source: str = "") -> None:
    """Write one access-log line for something ``principal`` did (an export, a resolution, ...)."""
    storage.record_access(AccessEvent(now, principal.user, action, target, detail, source))


# ---------------------------------------------------------------------------------------------- sessions

@dataclass(frozen=True)
class SessionPolicy:
    """A session ends after ``idle`` without activity, or ``lifetime`` after it began, whichever first."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    """A signed-in session: who, since when, last seen when, how, and whether a one-time password must
    be replaced before anything else."""

    principal: Principal
    started_at: datetime
    last_seen: datetime
    method: str = "password"
    must_change_password: bool = False


def start_session(principal: Principal, now: datetime, method: str = "password") -> Session:
    return Session(principal, now, now, method)


def session_expired(session: Session, now: datetime, policy: SessionPolicy = SessionPolicy()) -> bool:
    """Whether ``session`` has ended (idle too long, or past its lifetime) at ``now``."""
    return now - session.last_seen > policy.idle or now - session.started_at > policy.lifetime


def touch(session: Session, now: datetime) -> Session:
    """``session`` seen again at ``now``."""
    return dataclasses.replace(session, last_seen=now)


# ------------------------------------------------------------------------------------ signed-in browsers

TOUCH_EVERY = timedelta(minutes=1)  # how stale last_seen_at may get before a rerun writes it again
NO_BROWSER = "none"  # the digest of a connection without a (well-formed) session cookie
_BROWSER_KEY = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 random bytes, URL-safe base64


def browser_digest(cookie_value: str | None) -> str:
    """What is kept of a browser's session cookie: its SHA-256 in hex (the cookie itself is never
    stored); ``NO_BROWSER`` for a missing or malformed one."""
    if not cookie_value or not _BROWSER_KEY.fullmatch(cookie_value):
        return NO_BROWSER
    return hashlib.sha256(cookie_value.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class BrowserSession:
    """A signed-in browser as the store keeps it: the SHA-256 of its session cookie (the cookie itself
    is never stored), who signed in there and how, when, and when the browser was last seen."""

    key_hash: str
    username: str
    method: str
    started_at: datetime
    last_seen_at: datetime


def open_browser_session(storage: AuthStorage, key_hash: str, principal: Principal, method: str, now: datetime,
                         policy: SessionPolicy = SessionPolicy()) -> Session:
    """Sign the browser ``key_hash`` in as ``principal`` (replacing whoever was signed in there)."""
    storage.save_session(BrowserSession(key_hash, principal.user, method, now, now), now - policy.lifetime)
    return start_session(principal, now, method)


def browser_session(storage: AuthStorage, key_hash: str, now: datetime, policy: SessionPolicy = SessionPolicy(),
                    touch_it: bool = True, source: str = "") -> tuple[Session | None, str]:
    """The session of the browser ``key_hash`` at ``now`` and why there is none: ``""`` (signed in),
    ``"none"`` (never signed in, or signed out), ``"expired"`` or ``"inactive"`` (the user was disabled or
    removed); an expired or inactive session is ended (an expired one logged as a logout from
    ``source``). With ``touch_it``, marks the browser as seen (at most once per ``TOUCH_EVERY``)."""
    stored = storage.get_session(key_hash)
    if stored is None:
        return None, "none"
    user = storage.get_user(stored.username)
    session = Session(user.principal(), stored.started_at, stored.last_seen_at, stored.method,
                      user.must_change_password) if user else None
    if session is None or user is None or user.disabled:
        storage.end_session(key_hash)
        return None, "inactive"
    if session_expired(session, now, policy):
        storage.end_session(key_hash)
        storage.record_access(AccessEvent(now, stored.username, "logout", detail="session expired", source=source))
        return None, "expired"
    if touch_it and now - stored.last_seen_at >= TOUCH_EVERY:
        storage.save_session(dataclasses.replace(stored, last_seen_at=now), now - policy.lifetime)
    return session, ""


def end_browser_session(storage: AuthStorage, key_hash: str) -> None:
    """Sign the browser ``key_hash`` out (every tab of it, at its next rerun)."""
    storage.end_session(key_hash)


def describe(principal: Principal) -> dict[str, Any]:
    """A principal as plain values (for display and logs)."""
    return {"user": principal.user, "role": principal.role, "clients": sorted(principal.clients),
            "manager_name": principal.manager_name}


