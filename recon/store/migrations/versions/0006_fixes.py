"""Proposed PSA fixes and their append-only history (issue 21: recon.fixes).

Revision ID: 0006_fixes
Revises: 0005_charge_history
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_fixes"
down_revision: str | None = "0005_charge_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(18, 4).with_variant(sa.BigInteger(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _run_id() -> sa.Column:
    return sa.Column("run_id", sa.Integer(), sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "fix",
        sa.Column("id", sa.Integer(), primary_key=True),
        _run_id(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("fix_key", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("finding_type", sa.String(40), nullable=False),
        sa.Column("variance", MONEY, nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        *[sa.Column(name, sa.Text(), nullable=True) for name in ("agreement_id", "line_id", "origin")],
        *[sa.Column(name, sa.Float(), nullable=True) for name in ("before_qty", "after_qty")],
        *[sa.Column(name, MONEY, nullable=True) for name in ("unit_price", "amount", "monthly_change")],
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("prorate", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.UniqueConstraint("run_id", "fix_key", name="uq_fix_run_key"),
    )
    for column in ("run_id", "fix_key", "fingerprint"):
        op.create_index(f"ix_fix_{column}", "fix", [column])
    op.create_table(
        "fix_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fix_key", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        _run_id(),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=True),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("connection", sa.Text(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("psa_id", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    for column in ("fix_key", "run_id"):
        op.create_index(f"ix_fix_event_{column}", "fix_event", [column])


def downgrade() -> None:
    op.drop_table("fix_event")
    op.drop_table("fix")
