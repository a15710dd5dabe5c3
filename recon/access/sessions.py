"""Signing in (password or identity provider) and sessions, which expire after idle time and after an
absolute lifetime (``session_expired``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from recon.access.passwords import decoy_hash, verify_password
from recon.access.roles import Principal, normalise_username
from recon.access.throttle import LockoutPolicy, locked_until
from recon.access.users import AccessEvent, AuthStorage, LoginAttempt

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
                 policy: LockoutPolicy = LockoutPolicy()) -> LoginResult:
    """Check a local login, record the attempt and an access-log line, and return the outcome.
    Locked-out attempts are refused without checking the password (and do not extend the lock)."""
    name = normalise_username(username)[:200]
    attempts = storage.login_attempts(name, source, now - policy.window)
    retry_at = locked_until(attempts, name, source, now, policy)
    if retry_at is not None:
        storage.record_access(AccessEvent(now, name, "login", detail="locked out", source=source, outcome="refused"))
        minutes = max(1, -(-int((retry_at - now).total_seconds()) // 60))
        return LoginResult(None, f"Too many failed logins. Try again in {minutes} minute(s).", retry_at=retry_at)
    user = storage.get_user(name)
    known_hash = user.password_hash if user is not None and not user.disabled else None
    matches = verify_password(password, known_hash or decoy_hash()) and known_hash is not None
    storage.record_login_attempt(LoginAttempt(name, source, now, matches))
    if not matches or user is None:
        storage.record_access(AccessEvent(now, name, "login", source=source, outcome="failed"))
        return LoginResult(None, WRONG_CREDENTIALS)
    storage.record_access(AccessEvent(now, name, "login", detail="password", source=source))
    return LoginResult(user.principal(), "Signed in.", must_change_password=user.must_change_password)


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
    """A signed-in session: who, since when, last seen when."""

    principal: Principal
    started_at: datetime
    last_seen: datetime
    method: str = "password"


def start_session(principal: Principal, now: datetime, method: str = "password") -> Session:
    return Session(principal, now, now, method)


def session_expired(session: Session, now: datetime, policy: SessionPolicy = SessionPolicy()) -> bool:
    """Whether ``session`` has ended (idle too long, or past its lifetime) at ``now``."""
    return now - session.last_seen > policy.idle or now - session.started_at > policy.lifetime


def touch(session: Session, now: datetime) -> Session:
    """``session`` seen again at ``now``."""
    return dataclasses.replace(session, last_seen=now)


def describe(principal: Principal) -> dict[str, Any]:
    """A principal as plain values (for display and logs)."""
    return {"user": principal.user, "role": principal.role, "clients": sorted(principal.clients),
            "manager_name": principal.manager_name}


