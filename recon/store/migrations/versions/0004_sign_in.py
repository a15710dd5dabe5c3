"""Sign-in hardening (issue 23): failed sign-ins as one counter per user or address (``login_throttle``,
changed atomically, bounded) instead of a row per attempt (``login_attempt``, dropped: it only served
throttling), and signed-in browsers (``browser_session``: the SHA-256 of the session cookie).

Revision ID: 0004_sign_in
Revises: 0003_run_key
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_sign_in"
down_revision: str | None = "0003_run_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", TIMESTAMP, nullable=True),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_login_throttle_updated_at", "login_throttle", ["updated_at"])
    op.create_table(
        "browser_session",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_browser_session_username", "browser_session", ["username"])
    op.drop_table("login_attempt")


def downgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
    )
    for column in ("username", "source", "at"):
        op.create_index(f"ix_login_attempt_{column}", "login_attempt", [column])
    op.drop_table("browser_session")
    op.drop_table("login_throttle")
