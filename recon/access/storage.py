"""``recon.access``'s storage in the store's database: users, sign-in counters, signed-in browsers and the
access log.

``StoreAuthStorage(store)`` implements ``recon.access.AuthStorage`` over the tables of migrations 0002 and
0003 (``user_account``, ``login_throttle``, ``browser_session``, ``access_log``), with SQLAlchemy Core
statements and bound
parameters only. Adding a user is an ``INSERT ... ON CONFLICT DO NOTHING``, so two processes creating
the first admin at once cannot both succeed. Database errors become one ``StoreError`` line with any
password in a URL masked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from recon.access.roles import normalise_username
from recon.access.sessions import BrowserSession
from recon.access.throttle import Counter
from recon.access.users import AccessEvent, CounterChange, UserRecord
from recon.errors import AuthError, StoreError
from recon.redaction import redact
from recon.store import Store, tables

_USER = tables.table(tables.UserAccount)
_THROTTLE = tables.table(tables.LoginThrottle)
_SESSION = tables.table(tables.BrowserSession)
_ACCESS = tables.table(tables.AccessLog)


class StoreAuthStorage:
    """``AuthStorage`` in the store's database (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self._postgresql = self.engine.dialect.name == "postgresql"

    @contextmanager
    def _connection(self, write: bool = False) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                if write:
                    connection.execution_options(recon_write=True)  # SQLite: BEGIN IMMEDIATE (see store)
                with connection.begin():
                    yield connection
        except SQLAlchemyError as error:
            first = (str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__])[0]
            raise StoreError(f"user database {'write' if write else 'read'} failed: {redact(first)[:300]}") from None

    # ------------------------------------------------------------------------------------------ users

    def get_user(self, username: str) -> UserRecord | None:
        with self._connection() as connection:
            row = connection.execute(sa.select(_USER).where(_USER.c.username == normalise_username(username))
                                     ).mappings().first()
        return _user(row) if row else None

    def list_users(self) -> list[UserRecord]:
        with self._connection() as connection:
            rows = connection.execute(sa.select(_USER).order_by(_USER.c.username)).mappings().all()
        return [_user(row) for row in rows]

    def add_user(self, user: UserRecord) -> bool:
        values = _user_values(user) | {"created_at": user.created_at, "updated_at": user.created_at}
        dialect_insert = postgresql.insert if self._postgresql else sqlite.insert
        statement = (dialect_insert(_USER).values(values).on_conflict_do_nothing(index_elements=["username"])
                     .returning(_USER.c.id))
        with self._connection(write=True) as connection:
            return connection.execute(statement).scalar() is not None

    def update_user(self, user: UserRecord) -> None:
        with self._connection(write=True) as connection:
            changed = connection.execute(sa.update(_USER).where(_USER.c.username == user.username)
                                         .values(_user_values(user) | {"updated_at": tables.utc_now()})).rowcount
        if not changed:
            raise AuthError(f"no user named {user.username!r}")

    # ------------------------------------------------------------------------------- sign-in counters

    def update_counters(self, keys: Sequence[str], change: CounterChange, now: datetime,
                        forget_before: datetime, keep: int) -> None:
        """One transaction: on SQLite a write transaction (``BEGIN IMMEDIATE``) excludes every other writer;
        on PostgreSQL the keys' rows are created if missing and locked (``FOR UPDATE``, in key order) before
        they are read. Then old and surplus counters are forgotten (apart, skipping rows others hold)."""
        ordered = sorted(set(keys))
        with self._connection(write=True) as connection:
            if self._postgresql:
                connection.execute(postgresql.insert(_THROTTLE).values(
                    [{"key": key, "failures": 0, "refused": 0, "updated_at": now} for key in ordered]
                ).on_conflict_do_nothing(index_elements=["key"]))
            query = sa.select(_THROTTLE).where(_THROTTLE.c.key.in_(ordered)).order_by(_THROTTLE.c.key)
            rows = connection.execute(query.with_for_update() if self._postgresql else query).mappings()
            current = {row["key"]: Counter(row["key"], row["failures"], row["last_failure_at"], row["refused"])
                       for row in rows}
            changed = change(current)
            if changed:
                values = [{"key": counter.key[:300], "failures": counter.failures,
                           "last_failure_at": counter.last_failure_at, "refused": counter.refused, "updated_at": now}
                          for counter in changed.values()]
                insert = (postgresql.insert if self._postgresql else sqlite.insert)(_THROTTLE).values(values)
                connection.execute(insert.on_conflict_do_update(index_elements=["key"], set_={
                    name: insert.excluded[name] for name in ("failures", "last_failure_at", "refused", "updated_at")}))
        self._forget_counters(forget_before, keep)

    def _forget_counters(self, forget_before: datetime, keep: int) -> None:
        with self._connection(write=True) as connection:
            stale = sa.select(_THROTTLE.c.key).where(_THROTTLE.c.updated_at < forget_before)
            connection.execute(sa.delete(_THROTTLE).where(_THROTTLE.c.key.in_(self._skip_locked(stale))))
            surplus = connection.execute(sa.select(sa.func.count()).select_from(_THROTTLE)).scalar_one() - keep
            if surplus > 0:
                fewest = (sa.select(_THROTTLE.c.key).order_by(_THROTTLE.c.failures, _THROTTLE.c.updated_at)
                          .limit(surplus))
                connection.execute(sa.delete(_THROTTLE).where(_THROTTLE.c.key.in_(self._skip_locked(fewest))))

    def _skip_locked(self, query: sa.Select[tuple[str]]) -> sa.ScalarSelect[str]:
        return (query.with_for_update(skip_locked=True) if self._postgresql else query).scalar_subquery()

    def throttle_size(self) -> int:
        with self._connection() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(_THROTTLE)).scalar_one())

    # ---------------------------------------------------------------------------------------- sessions

    def save_session(self, session: BrowserSession, forget_before: datetime) -> None:
        values = {"key_hash": session.key_hash, "username": session.username[:200], "method": session.method[:20],
                  "started_at": session.started_at, "last_seen_at": session.last_seen_at}
        insert = (postgresql.insert if self._postgresql else sqlite.insert)(_SESSION).values(values)
        with self._connection(write=True) as connection:
            connection.execute(sa.delete(_SESSION).where(_SESSION.c.started_at < forget_before))
            connection.execute(insert.on_conflict_do_update(index_elements=["key_hash"], set_={
                name: insert.excluded[name] for name in ("username", "method", "started_at", "last_seen_at")}))

    def get_session(self, key_hash: str) -> BrowserSession | None:
        with self._connection() as connection:
            row = connection.execute(sa.select(_SESSION).where(_SESSION.c.key_hash == key_hash)).mappings().first()
        return BrowserSession(row["key_hash"], row["username"], row["method"], row["started_at"],
                              row["last_seen_at"]) if row else None

    def end_session(self, key_hash: str) -> None:
        with self._connection(write=True) as connection:
            connection.execute(sa.delete(_SESSION).where(_SESSION.c.key_hash == key_hash))

    # ------------------------------------------------------------------------------------- access log

    def record_access(self, event: AccessEvent) -> None:
        with self._connection(write=True) as connection:
            connection.execute(sa.insert(_ACCESS).values(
                at=event.at, username=event.user[:200], action=event.action[:40], target=event.target,
                detail=event.detail, source=event.source[:100], outcome=event.outcome[:20]))

    def access_log(self, limit: int = 1000) -> list[AccessEvent]:
        query = (sa.select(_ACCESS.c.at, _ACCESS.c.username, _ACCESS.c.action, _ACCESS.c.target, _ACCESS.c.detail,
                           _ACCESS.c.source, _ACCESS.c.outcome)
                 .order_by(_ACCESS.c.id.desc()).limit(limit))
        with self._connection() as connection:
            return [AccessEvent(*row) for row in connection.execute(query)]


def _user(row: sa.RowMapping) -> UserRecord:
    return UserRecord(
        username=row["username"], role=row["role"], password_hash=row["password_hash"],
        clients=tuple(row["clients"] or ()), manager_name=row["manager_name"], disabled=bool(row["disabled"]),
        must_change_password=bool(row["must_change_password"]), created_at=row["created_at"])


def _user_values(user: UserRecord) -> dict[str, object]:
    return {"username": user.username, "role": user.role, "password_hash": user.password_hash,
            "clients": list(user.clients), "manager_name": user.manager_name, "disabled": user.disabled,
            "must_change_password": user.must_change_password}


__all__ = ["StoreAuthStorage"]
