"""Users, their records and the access log, and managing them (add, change, reset, the first admin).

Pure functions over values; the only state is an ``AuthStorage`` passed in (the store in production,
``MemoryAuthStorage`` in tests), and the only clock is the ``now`` argument.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from recon.access.passwords import BCRYPT_ROUNDS, generate_password, hash_password, password_problems, verify_password
from recon.access.roles import ADMIN, ROLES, Principal, normalise_username
from recon.access.throttle import Counter
from recon.errors import AuthError

if TYPE_CHECKING:
    from recon.access.sessions import BrowserSession

# ---------------------------------------------------------------------------------------------- users

@dataclass(frozen=True)
class UserRecord:
    """A stored user. ``password_hash`` is ``None`` for someone who signs in through the identity
    provider only (their user name is then the e-mail address the provider reports)."""

    username: str
    role: str
    password_hash: str | None = None
    clients: tuple[str, ...] = ()
    manager_name: str = ""
    disabled: bool = False
    must_change_password: bool = False
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def principal(self) -> Principal:
        return Principal(self.username, self.role, frozenset(self.clients), self.manager_name)


@dataclass(frozen=True)
class AccessEvent:
    """One line of the access log: who did what to which thing, when, from where, and how it ended."""

    at: datetime
    user: str
    action: str
    target: str = ""
    detail: str = ""
    source: str = ""
    outcome: str = "ok"


ACCESS_LOG_COLUMNS = tuple(f.name for f in dataclasses.fields(AccessEvent))


CounterChange = Callable[[dict[str, Counter]], dict[str, Counter]]


class AuthStorage(Protocol):
    """Where users, sign-in counters, signed-in browsers and the access log live (the store implements it).

    ``update_counters`` reads the counters of ``keys`` (absent ones left out), passes them to ``change``
    and writes back what it returns, all in one transaction no other sign-in can interleave with; then
    it forgets counters untouched since ``forget_before`` and keeps at most ``keep`` (those with the fewest
    failures go first)."""

    def get_user(self, username: str) -> UserRecord | None: ...
    def list_users(self) -> list[UserRecord]: ...
    def add_user(self, user: UserRecord) -> bool: ...  # False when the name is taken
    def update_user(self, user: UserRecord) -> None: ...
    def update_counters(self, keys: Sequence[str], change: CounterChange, now: datetime,
                        forget_before: datetime, keep: int) -> None: ...
    def throttle_size(self) -> int: ...
    def save_session(self, session: BrowserSession, forget_before: datetime) -> None: ...
    def get_session(self, key_hash: str) -> BrowserSession | None: ...
    def end_session(self, key_hash: str) -> None: ...
    def record_access(self, event: AccessEvent) -> None: ...
    def access_log(self, limit: int = 1000) -> list[AccessEvent]: ...


class MemoryAuthStorage:
    """``AuthStorage`` in memory (tests, and a dashboard running without a database)."""

    def __init__(self) -> None:
        self._users: dict[str, UserRecord] = {}
        self._counters: dict[str, tuple[Counter, datetime]] = {}
        self._sessions: dict[str, BrowserSession] = {}
        self._events: list[AccessEvent] = []
        self._lock = threading.Lock()

    def get_user(self, username: str) -> UserRecord | None:
        return self._users.get(normalise_username(username))

    def list_users(self) -> list[UserRecord]:
        return sorted(self._users.values(), key=lambda user: user.username)

    def add_user(self, user: UserRecord) -> bool:
        with self._lock:
            if user.username in self._users:
                return False
            self._users[user.username] = user
            return True

    def update_user(self, user: UserRecord) -> None:
        with self._lock:
            if user.username not in self._users:
                raise AuthError(f"no user named {user.username!r}")
            self._users[user.username] = user

    def update_counters(self, keys: Sequence[str], change: CounterChange, now: datetime,
                        forget_before: datetime, keep: int) -> None:
        with self._lock:
            current = {key: self._counters[key][0] for key in keys if key in self._counters}
            self._counters.update({key: (counter, now) for key, counter in change(current).items()})
            for key in [key for key, (_, at) in self._counters.items() if at < forget_before]:
                del self._counters[key]
            ranked = sorted(self._counters, key=lambda key: (self._counters[key][0].failures, self._counters[key][1]))
            for key in ranked[:max(0, len(ranked) - keep)]:
                del self._counters[key]

    def throttle_size(self) -> int:
        return len(self._counters)

    def save_session(self, session: BrowserSession, forget_before: datetime) -> None:
        with self._lock:
            self._sessions = {key: kept for key, kept in self._sessions.items() if kept.started_at >= forget_before}
            self._sessions[session.key_hash] = session

    def get_session(self, key_hash: str) -> BrowserSession | None:
        return self._sessions.get(key_hash)

    def end_session(self, key_hash: str) -> None:
        with self._lock:
            self._sessions.pop(key_hash, None)

    def record_access(self, event: AccessEvent) -> None:
        with self._lock:
            self._events.append(event)

    def access_log(self, limit: int = 1000) -> list[AccessEvent]:
        return list(reversed(self._events))[:limit]


def access_log_frame(events: Sequence[AccessEvent]) -> pd.DataFrame:
    """The access log as a frame, newest first (columns ``ACCESS_LOG_COLUMNS``)."""
    rows = [dataclasses.astuple(event) for event in events]
    return pd.DataFrame(rows, columns=list(ACCESS_LOG_COLUMNS)).astype(
        {column: "string" for column in ACCESS_LOG_COLUMNS if column != "at"})


def access_log_for_display(log: pd.DataFrame) -> pd.DataFrame:
    """The access log with ``at`` as UTC text to the second (a table shows datetimes as dates) and each
    action in words (``export_audit_pack`` -> "export audit pack")."""
    return log.assign(at=pd.to_datetime(log["at"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S UTC")
                      .astype("string"), action=action_words(log["action"].astype("string")))


def action_words(actions: pd.Series) -> pd.Series:
    """Access-log actions as a person reads them: ``change_settings`` -> "change settings"."""
    return actions.str.replace("_", " ", regex=False)


def filter_access_log(log: pd.DataFrame, users: Iterable[str] = (), actions: Iterable[str] = ()) -> pd.DataFrame:
    """The access-log lines of ``users`` doing ``actions`` (empty: any)."""
    keep = pd.Series(True, index=log.index)
    users, actions = list(users), list(actions)
    if users:
        keep &= log["user"].isin(users)
    if actions:
        keep &= log["action"].isin(actions)
    return log[keep.to_numpy(bool)].reset_index(drop=True)


# ------------------------------------------------------------------------------------- managing users

FIRST_ADMIN = "admin"
USERNAME_PATTERN = re.compile(r"[\w.@+-]{1,100}")


def new_user(username: str, role: str, password: str | None, clients: Iterable[str] = (),
             manager_name: str = "", now: datetime | None = None, must_change_password: bool = False,
             rounds: int = BCRYPT_ROUNDS) -> UserRecord:
    """A validated ``UserRecord`` (the password hashed; ``None``: identity-provider login only).
    Raises ``AuthError`` naming every problem at once."""
    name = normalise_username(username)
    problems = [] if USERNAME_PATTERN.fullmatch(name) else [
        "a user name must be 1 to 100 letters, digits or . _ @ + - (an e-mail address is fine)"]
    if role not in ROLES:
        problems.append(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if password is not None:
        problems += password_problems(password, name)
    if problems:
        raise AuthError("; ".join(problems))
    return UserRecord(
        username=name, role=role, password_hash=hash_password(password, rounds) if password is not None else None,
        clients=tuple(sorted({client.strip() for client in clients if client.strip()})),
        manager_name=manager_name.strip(), must_change_password=must_change_password,
        created_at=now or datetime.now(UTC))


def add_user(storage: AuthStorage, user: UserRecord, by: str, now: datetime) -> None:
    """Store a new user and log who added it; raises ``AuthError`` when the name is taken."""
    if not storage.add_user(user):
        raise AuthError(f"a user named {user.username!r} already exists")
    storage.record_access(AccessEvent(now, by, "user_added", user.username, f"role {user.role}"))


def ensure_first_admin(storage: AuthStorage, now: datetime, rounds: int = BCRYPT_ROUNDS) -> str | None:
    """On a store with no users, create ``admin`` with a generated password and return that password
    (for the caller to show once; it must be changed at first login). ``None`` when users exist, or
    when another process created the admin first."""
    if storage.list_users():
        return None
    password = generate_password()
    user = new_user(FIRST_ADMIN, ADMIN, password, now=now, must_change_password=True, rounds=rounds)
    if not storage.add_user(user):
        return None
    storage.record_access(AccessEvent(now, "system", "user_added", FIRST_ADMIN, "first start: one-time password"))
    return password


def change_user(storage: AuthStorage, username: str, by: str, now: datetime, *, role: str | None = None,
                clients: Iterable[str] | None = None, manager_name: str | None = None,
                disabled: bool | None = None) -> UserRecord:
    """Change a user's role, clients, manager name or disabled flag (``None``: unchanged) and log who
    did it. Raises ``AuthError`` for an unknown user or role, and when an admin would lock themself out
    (no longer admin, or disabled)."""
    user = storage.get_user(username)
    if user is None:
        raise AuthError(f"no user named {normalise_username(username)!r}")
    if role is not None and role not in ROLES:
        raise AuthError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    changed = dataclasses.replace(
        user, role=role if role is not None else user.role,
        clients=tuple(sorted({c.strip() for c in clients if c.strip()})) if clients is not None else user.clients,
        manager_name=manager_name.strip() if manager_name is not None else user.manager_name,
        disabled=disabled if disabled is not None else user.disabled)
    if normalise_username(by) == user.username and (changed.role != ADMIN or changed.disabled) and user.role == ADMIN:
        raise AuthError("you cannot take away your own admin role or disable yourself; ask another admin")
    storage.update_user(changed)
    what = [f"{name} {getattr(user, name)!r} -> {getattr(changed, name)!r}"
            for name in ("role", "clients", "manager_name", "disabled")
            if getattr(user, name) != getattr(changed, name)]
    storage.record_access(AccessEvent(now, by, "user_changed", user.username, "; ".join(what)))
    return changed


def reset_password(storage: AuthStorage, username: str, by: str, now: datetime,
                   rounds: int = BCRYPT_ROUNDS) -> str:
    """Give a user a generated one-time password (to be changed at the next sign-in) and return it,
    to be shown once. Raises ``AuthError`` for an unknown user."""
    user = storage.get_user(username)
    if user is None:
        raise AuthError(f"no user named {normalise_username(username)!r}")
    password = generate_password()
    storage.update_user(dataclasses.replace(user, password_hash=hash_password(password, rounds),
                                            must_change_password=True))
    storage.record_access(AccessEvent(now, by, "password_reset", user.username))
    return password


def users_frame(users: Sequence[UserRecord]) -> pd.DataFrame:
    """Users for display: name, role, how they sign in, status, manager name, extra clients (never a hash)."""
    rows = [(user.username, user.role.replace("_", " "), "password" if user.password_hash else "identity provider",
             "disabled" if user.disabled else "must change password" if user.must_change_password else "active",
             user.manager_name, ", ".join(user.clients), user.created_at) for user in users]
    return pd.DataFrame(rows, columns=["user", "role", "sign_in", "status", "manager_name", "clients", "created_at"])


def first_admin_banner(password: str) -> str:
    """What the terminal that started the app shows, once, after ``ensure_first_admin`` created it."""
    line = "=" * 72
    return (f"{line}\n  First start: created the user '{FIRST_ADMIN}' with this one-time password\n\n"
            f"      {password}\n\n  It is shown only now. Sign in and choose your own password.\n"
            f"  Lost it? recon user reset-password {FIRST_ADMIN}\n{line}")


def change_password(storage: AuthStorage, username: str, current: str, new: str, now: datetime,
                    rounds: int = BCRYPT_ROUNDS) -> None:
    """Replace a user's password after checking the current one; raises ``AuthError`` (wrong current
    password, weak or unchanged new one)."""
    user = storage.get_user(username)
    if user is None or user.password_hash is None or not verify_password(current, user.password_hash):
        raise AuthError("the current password is wrong")
    problems = password_problems(new, user.username)
    if current == new:
        problems.append("the new password must differ from the current one")
    if problems:
        raise AuthError("; ".join(problems))
    storage.update_user(dataclasses.replace(user, password_hash=hash_password(new, rounds), must_change_password=False))
    storage.record_access(AccessEvent(now, user.username, "password_changed", user.username))


