"""The charge history (PRODUCT.md 4a): the usage rows of every stored import, and which imports a run
drew on from it.

Revision ID: 0005_charge_history
Revises: 0004_sign_in
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_charge_history"
down_revision: str | None = "0004_sign_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Money: NUMERIC(18, 4) in PostgreSQL; exact integer units of 1/10,000 in SQLite (as in 0001).
MONEY = sa.Numeric(18, 4).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "usage_charge",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("import_id", sa.Integer(), sa.ForeignKey("import_file.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("vendor", sa.Text(), nullable=True),
        sa.Column("unit_cost", MONEY, nullable=True),
        sa.Column("subscription_id", sa.Text(), nullable=True),
        sa.Column("product_name", sa.Text(), nullable=True),
        sa.Column("row_type", sa.String(20), nullable=False),
        sa.Column("subscription_start", sa.Date(), nullable=True),
        sa.Column("subscription_end", sa.Date(), nullable=True),
        sa.Column("cost_amount", MONEY, nullable=True),
    )
    for column in ("import_id", "period_start", "period_end"):
        op.create_index(f"ix_usage_charge_{column}", "usage_charge", [column])
    with op.batch_alter_table("run_import") as batch:
        batch.add_column(sa.Column("from_history", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("run_import") as batch:
        batch.drop_column("from_history")
    op.drop_table("usage_charge")
