"""Who may see what: users, roles, passwords, login throttling, sessions and client scope (issue 7).

Pure functions over values; the only state is an ``AuthStorage`` passed in (the store in production,
``MemoryAuthStorage`` in tests), and the only clock is the ``now`` argument, so every rule here can be
tested without a browser or a database.

- **Roles** (``ROLES``) grant **actions** (``PERMISSIONS``, checked by ``can`` / ``require``).
- A role also fixes a **scope**: everybody sees every client except an ``account_manager``, who sees the
  clients whose latest contract line names them as account manager, plus any clients granted by name.
  ``apply_scope`` cuts a whole ``Reconciliation`` down to that scope (frames *and* figures), so a page
  that only ever reads the scoped result cannot show another client, whatever it renders.
- **Passwords**: bcrypt with a per-password salt, over a SHA-256 pre-hash (bcrypt reads only 72 bytes).
  There is no default password anywhere: the first admin gets a generated one, shown once.
- **Throttling**: failed logins per user and per source lock out for exponentially growing delays;
  ``locked_until`` is a pure function of the recorded attempts.
- **Sessions** expire after idle time and after an absolute lifetime (``session_expired``).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import re
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import bcrypt
import pandas as pd

from recon import metrics
from recon.engine import Reconciliation
from recon.errors import ReconError
from recon.keys import account_managers

# --------------------------------------------------------------------------------------- roles, actions

ADMIN, FINANCE, ACCOUNT_MANAGER, AUDITOR = "admin", "finance", "account_manager", "auditor"
ROLES = (ADMIN, FINANCE, ACCOUNT_MANAGER, AUDITOR)

VIEW, VIEW_RUNS, UPLOAD, RUN, RESOLVE, MAP = "view", "view_runs", "upload", "run", "resolve", "map"
EXPORT, EXPORT_AUDIT_PACK = "export", "export_audit_pack"
CHANGE_SETTINGS, MANAGE_USERS, VIEW_ACCESS_LOG = "change_settings", "manage_users", "view_access_log"
ACTIONS = (VIEW, VIEW_RUNS, UPLOAD, RUN, RESOLVE, MAP, EXPORT, EXPORT_AUDIT_PACK, CHANGE_SETTINGS, MANAGE_USERS,
           VIEW_ACCESS_LOG)

# Who may do what. Finance runs the billing close; admin also owns settings and users; an account
# manager works their own clients' discrepancies and shares their statements (stored runs cover the
# whole book, so they are not theirs to browse); an auditor reads everything and changes nothing.
PERMISSIONS: Mapping[str, frozenset[str]] = {
    ADMIN: frozenset(ACTIONS),
    FINANCE: frozenset({VIEW, VIEW_RUNS, UPLOAD, RUN, RESOLVE, MAP, EXPORT, EXPORT_AUDIT_PACK}),
    ACCOUNT_MANAGER: frozenset({VIEW, RESOLVE, EXPORT}),
    AUDITOR: frozenset({VIEW, VIEW_RUNS, EXPORT, EXPORT_AUDIT_PACK}),
}
SCOPED_ROLES = frozenset({ACCOUNT_MANAGER})


class AuthError(ReconError):
    """A user or role request that cannot be honoured (unknown role, weak password, taken name)."""


class AccessDeniedError(ReconError):
    """The principal may not do this; the message says what was refused (never why a login failed)."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: the user name, the role, and the client names granted explicitly.

    ``manager_name`` is the name contracts use in ``account_manager`` for this person (it decides an
    account manager's clients; empty means the user name)."""

    user: str
    role: str
    clients: frozenset[str] = frozenset()
    manager_name: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise AuthError(f"unknown role {self.role!r}; expected one of {', '.join(ROLES)}")


def can(principal: Principal | None, action: str) -> bool:
    """Whether ``principal`` may perform ``action`` (one of ``ACTIONS``); nobody may do anything unknown."""
    if action not in ACTIONS:
        raise AuthError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    return principal is not None and action in PERMISSIONS[principal.role]


def require(principal: Principal | None, action: str) -> Principal:
    """``principal`` when it may perform ``action``; raises ``AccessDeniedError`` otherwise."""
    if not can(principal, action):
        who = f"{principal.user} ({principal.role})" if principal else "an anonymous visitor"
        raise AccessDeniedError(f"{who} may not {action.replace('_', ' ')}")
    assert principal is not None  # for the type checker: can() is False for None
    return principal


# ------------------------------------------------------------------------------------------------ scope

def fold_name(name: object) -> str:
    """A person's or client's name for comparison: case, surrounding and repeated spaces ignored."""
    return " ".join(str(name).split()).casefold()


@dataclass(frozen=True)
class Scope:
    """Which clients a principal may see. ``all_clients`` or: clients named in ``clients`` plus the
    clients whose account manager (latest contract line) is one of ``managers`` (folded names)."""

    all_clients: bool
    clients: frozenset[str] = frozenset()
    managers: frozenset[str] = frozenset()

    def clients_in(self, contracts: pd.DataFrame) -> frozenset[str] | None:
        """The visible client names given the (resolved) contract lines; ``None`` means every client."""
        if self.all_clients:
            return None
        named = account_managers(contracts) if len(contracts) else pd.DataFrame(columns=["client", "account_manager"])
        mine = named[named["account_manager"].map(fold_name).isin(self.managers)]["client"]
        return frozenset(str(client) for client in mine) | self.clients


def scope_for(principal: Principal) -> Scope:
    """The scope of a role: every client, except account managers (their clients, by contract)."""
    if principal.role not in SCOPED_ROLES:
        return Scope(all_clients=True)
    manager = fold_name(principal.manager_name or principal.user)
    return Scope(all_clients=False, clients=principal.clients, managers=frozenset({manager}))


def restrict(frame: pd.DataFrame, visible: frozenset[str] | None, column: str = "client") -> pd.DataFrame:
    """The rows of ``frame`` whose ``column`` is a visible client (all rows when ``visible`` is None).
    A row without a client is not visible to a scoped principal. Returns a new frame."""
    if visible is None:
        return frame
    keep = frame[column].astype("string").isin(visible).fillna(False).to_numpy(bool)
    kept = frame[keep].reset_index(drop=True)
    # A categorical keeps all its categories after a cut: other clients' names would travel with it.
    labels = [name for name, dtype in kept.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)]
    return kept.assign(**{name: kept[name].cat.remove_unused_categories() for name in labels})


def apply_scope(result: Reconciliation, scope: Scope, resolutions: pd.DataFrame | None = None) -> Reconciliation:
    """``result`` as seen within ``scope``: every frame cut to the visible clients and every figure
    recomputed from the cut frames (``resolutions`` feeds recovered / open exposure, as in
    ``reconcile``). Quarantined rows and import records cannot be attributed to a client, so a scoped
    result has none. The unscoped result is returned as is."""
    visible = scope.clients_in(result.resolved["contracts"])
    if visible is None:
        return result
    resolved = _restrict_resolved(result.resolved, visible)
    keys, found = restrict(result.keys, visible), restrict(result.discrepancies, visible)
    unmapped, book = restrict(result.unmapped, visible), restrict(result.receivables, visible)
    days = sum(pd.Period(period, "M").days_in_month for period in result.periods)
    figures = metrics.summarise(
        keys, found, usage_rows=len(resolved["usage"]) + len(unmapped), usage_rows_mapped=len(resolved["usage"]),
        book=book, invoices=resolved["invoices"], payments=resolved["payments"], resolutions=resolutions,
        days_in_run=days)
    return dataclasses.replace(
        result, discrepancies=found, keys=keys, unmapped=unmapped, receivables=book, metrics=figures,
        client_matches=restrict(result.client_matches, visible), quarantine=result.quarantine.iloc[0:0],
        resolved=resolved, imports=())


def _restrict_resolved(frames: Mapping[str, pd.DataFrame], visible: frozenset[str]) -> dict[str, pd.DataFrame]:
    """Client-bearing frames cut to ``visible``; payments follow their invoices; the catalog is shared."""
    out = {kind: restrict(frame, visible) if "client" in frame else frame for kind, frame in frames.items()}
    if "payments" in out and "invoices" in out:
        payments = out["payments"]
        out["payments"] = payments[payments["invoice_number"].isin(out["invoices"]["invoice_number"])]
    return out


def visible_clients(result: Reconciliation, principal: Principal) -> frozenset[str] | None:
    """The client names ``principal`` may see in ``result`` (``None``: all of them)."""
    return scope_for(principal).clients_in(result.resolved["contracts"])


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
class LoginAttempt:
    """One login attempt: for whom (folded user name), from where (an address or ``"local"``), when."""

    username: str
    source: str
    at: datetime
    succeeded: bool


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


class AuthStorage(Protocol):
    """Where users, login attempts and the access log live (the store implements it)."""

    def get_user(self, username: str) -> UserRecord | None: ...
    def list_users(self) -> list[UserRecord]: ...
    def add_user(self, user: UserRecord) -> bool: ...  # False when the name is taken
    def update_user(self, user: UserRecord) -> None: ...
    def record_login_attempt(self, attempt: LoginAttempt) -> None: ...
    def login_attempts(self, username: str, source: str, since: datetime) -> list[LoginAttempt]: ...
    def record_access(self, event: AccessEvent) -> None: ...
    def access_log(self, limit: int = 1000) -> list[AccessEvent]: ...


class MemoryAuthStorage:
    """``AuthStorage`` in memory (tests, and a dashboard running without a database)."""

    def __init__(self) -> None:
        self._users: dict[str, UserRecord] = {}
        self._attempts: list[LoginAttempt] = []
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

    def record_login_attempt(self, attempt: LoginAttempt) -> None:
        with self._lock:
            self._attempts.append(attempt)

    def login_attempts(self, username: str, source: str, since: datetime) -> list[LoginAttempt]:
        return [a for a in self._attempts if a.at >= since and (a.username == username or a.source == source)]

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
    """The access log with ``at`` as UTC text to the second (a table shows datetimes as dates)."""
    return log.assign(at=pd.to_datetime(log["at"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S UTC")
                      .astype("string"))


def filter_access_log(log: pd.DataFrame, users: Iterable[str] = (), actions: Iterable[str] = ()) -> pd.DataFrame:
    """The access-log lines of ``users`` doing ``actions`` (empty: any)."""
    keep = pd.Series(True, index=log.index)
    users, actions = list(users), list(actions)
    if users:
        keep &= log["user"].isin(users)
    if actions:
        keep &= log["action"].isin(actions)
    return log[keep.to_numpy(bool)].reset_index(drop=True)


def normalise_username(name: str) -> str:
    """User names compare without case or surrounding spaces (``"Dana "`` is ``"dana"``)."""
    return name.strip().casefold()


# ------------------------------------------------------------------------------------------ passwords

BCRYPT_ROUNDS = 12
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


def _prehash(password: str) -> bytes:
    """SHA-256, base64: bcrypt reads only the first 72 bytes and stops at NUL; this keeps every byte."""
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """A salted bcrypt hash of ``password`` (``$2b$...``, 60 characters)."""
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (constant time; a malformed hash never matches)."""
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


@functools.cache
def _decoy_hash() -> str:
    """Checked when the user does not exist, so a wrong name costs as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def password_problems(password: str, username: str = "") -> list[str]:
    """Why ``password`` is not acceptable (empty when it is): length, and not the user name."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    if username and normalise_username(password) == normalise_username(username):
        problems.append("a password must not be the user name")
    return problems


def generate_password() -> str:
    """A random password (about 120 bits) for a new account, shown once."""
    return secrets.token_urlsafe(15)


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
    rows = [(user.username, user.role, "password" if user.password_hash else "identity provider",
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


# ------------------------------------------------------------------------------------------ throttling

@dataclass(frozen=True)
class LockoutPolicy:
    """Failed-login throttling. After ``free_failures`` consecutive failures for a user (or
    ``source_free_failures`` from one source, across users) each further failure locks for
    ``base_delay`` doubled per extra failure, capped at ``max_delay``. A success resets the count;
    attempts older than ``window`` are forgotten."""

    free_failures: int = 5
    source_free_failures: int = 20
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    window: timedelta = timedelta(hours=24)


def _lock_end(attempts: list[LoginAttempt], free: int, policy: LockoutPolicy) -> datetime | None:
    """When the lock from these attempts (one user's, or one source's, oldest first) ends."""
    failures: list[datetime] = []
    for attempt in attempts:
        failures = [] if attempt.succeeded else [*failures, attempt.at]
    extra = len(failures) - free
    if extra < 0:
        return None
    delay = min(policy.base_delay * (2 ** min(extra, 32)), policy.max_delay)
    return failures[-1] + delay


def locked_until(attempts: Iterable[LoginAttempt], username: str, source: str, now: datetime,
                 policy: LockoutPolicy = LockoutPolicy()) -> datetime | None:
    """When logging in as ``username`` from ``source`` is allowed again; ``None`` when it is now."""
    recent = sorted((a for a in attempts if a.at >= now - policy.window), key=lambda a: a.at)
    ends = [
        _lock_end([a for a in recent if a.username == username], policy.free_failures, policy),
        _lock_end([a for a in recent if a.source == source], policy.source_free_failures, policy),
    ]
    latest = max((end for end in ends if end is not None), default=None)
    return latest if latest is not None and latest > now else None


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
    matches = verify_password(password, known_hash or _decoy_hash()) and known_hash is not None
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


__all__ = [
    "ACTIONS",
    "ROLES",
    "AccessDeniedError",
    "AccessEvent",
    "AuthError",
    "AuthStorage",
    "LockoutPolicy",
    "LoginAttempt",
    "LoginResult",
    "MemoryAuthStorage",
    "Principal",
    "Scope",
    "Session",
    "SessionPolicy",
    "UserRecord",
    "access_log_frame",
    "add_user",
    "apply_scope",
    "authenticate",
    "can",
    "change_password",
    "change_user",
    "current_principal",
    "ensure_first_admin",
    "first_admin_banner",
    "generate_password",
    "hash_password",
    "locked_until",
    "new_user",
    "principal_for_identity",
    "record",
    "require",
    "reset_password",
    "restrict",
    "scope_for",
    "session_expired",
    "start_session",
    "touch",
    "users_frame",
    "verify_password",
    "visible_clients",
]
