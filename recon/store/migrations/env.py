"""Alembic environment for the store.

``recon.store.Store`` runs the migrations on a connection it already holds inside a transaction (and a
lock, so two processes starting at once do not both create the schema); it passes that connection in
``config.attributes["connection"]``. For a developer generating a new revision, the URL comes from
``RECON_DATABASE_URL`` (see ``recon.store.database_url``):

    RECON_DATABASE_URL=sqlite:///dev.db \\
        alembic -c recon/store/migrations/alembic.ini revision --autogenerate -m "..."
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from recon.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from recon.store.database import database_url

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(database_url())
    with engine.begin() as own_connection:
        _run(own_connection)
    engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run them against a database")
run_migrations_online()
