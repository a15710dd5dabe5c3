"""``recon.access``'s storage in the store's database: users, login attempts and the access log.

``StoreAuthStorage(store)`` implements ``recon.access.AuthStorage`` over the tables of migration 0002
(``user_account``, ``login_attempt``, ``access_log``), with SQLAlchemy Core statements and bound
parameters only. Adding a user is an ``INSERT ... ON CONFLICT DO NOTHING``, so two processes creating
the first admin at once cannot both succeed. Database errors become one ``StoreError`` line with any
password in a URL masked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from recon.access.roles import normalise_username
from recon.access.users import AccessEvent, LoginAttempt, UserRecord
from recon.errors import AuthError, StoreError
from recon.exports.safe import redact
from recon.store import Store, tables

_USER = tables.table(tables.UserAccount)
_ATTEMPT = tables.table(tables.LoginAttempt)
_ACCESS = tables.table(tables.AccessLog)


class StoreAuthStorage:
    """``AuthStorage`` in the store's database (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

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
        dialect_insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
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

    # --------------------------------------------------------------------------------- login attempts

    def record_login_attempt(self, attempt: LoginAttempt) -> None:
        with self._connection(write=True) as connection:
            connection.execute(sa.insert(_ATTEMPT).values(
                username=attempt.username[:200], source=attempt.source[:100], at=attempt.at,
                succeeded=attempt.succeeded))

    def login_attempts(self, username: str, source: str, since: datetime) -> list[LoginAttempt]:
        query = (sa.select(_ATTEMPT.c.username, _ATTEMPT.c.source, _ATTEMPT.c.at, _ATTEMPT.c.succeeded)
                 .where(_ATTEMPT.c.at >= since)
                 .where(sa.or_(_ATTEMPT.c.username == username[:200], _ATTEMPT.c.source == source[:100]))
                 .order_by(_ATTEMPT.c.at, _ATTEMPT.c.id))
        with self._connection() as connection:
            return [LoginAttempt(*row) for row in connection.execute(query)]

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
