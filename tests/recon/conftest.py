"""Fixtures for the store tests: the same tests run on SQLite and on a real PostgreSQL.

PostgreSQL comes from ``RECON_TEST_POSTGRES_URL`` (``scripts/start-postgres.sh`` starts one and prints
it). Without it the PostgreSQL cases are skipped with the reason, unless ``RECON_REQUIRE_POSTGRES=1``
(as in CI), which turns the skip into a failure. Each PostgreSQL case gets its own schema, dropped
afterwards, so concurrent test runs against one server do not meet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from recon.store import Store

POSTGRES_ENV = "RECON_TEST_POSTGRES_URL"
REQUIRE_ENV = "RECON_REQUIRE_POSTGRES"
BACKENDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _hermetic_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any code that opens the default store (``recon run``) uses a database of this test only."""
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'default.db'}")


def _postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        reason = (f"PostgreSQL backend not tested: set {POSTGRES_ENV} (scripts/start-postgres.sh starts a "
                  "server and prints the URL)")
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return url


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections use a fresh, empty schema (dropped at the end)."""
    admin_url = sa.make_url(_postgres_admin_url())
    if admin_url.drivername in ("postgresql", "postgres"):
        admin_url = admin_url.set(drivername="postgresql+psycopg")
    schema = f"recon_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        pytest.fail(f"{POSTGRES_ENV} is set but PostgreSQL is unreachable: {error.orig}", pytrace=False)
    try:
        yield admin_url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'recon.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store(store_url)
    yield opened
    opened.close()
