"""What stored charges say beyond the days they cover (issue 25): ``usage_charge_pair`` holds each import's
distinct (client, sku, vendor, product, span) outside subscriptions' series, so that a run reads back only
the charges covering its months and its look-back's series rows, not a year of usage rows, and a
(client, sku) a stored import reported stays vendor-tracked (docs/semantics.md, "Charge history"). The
pairs of the charges stored before are filled in from them, one per distinct span (a store writes the spans
of a pair that touch joined into one: the same charges read either way).

Revision ID: 0009_charge_pairs
Revises: 0008_charge_periods_unindexed
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_charge_pairs"
down_revision: str | None = "0008_charge_periods_unindexed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAIR_COLUMNS = ("import_id", "client", "sku", "vendor", "product_name", "period_start", "period_end")
SERIES_KINDS = ("adjustment", "credit", "recurring")  # recon.keys.SERIES_KINDS when this was written


def upgrade() -> None:
    op.create_table(
        "usage_charge_pair",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("import_id", sa.Integer(), sa.ForeignKey("import_file.id", ondelete="CASCADE"), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("vendor", sa.Text(), nullable=True),
        sa.Column("product_name", sa.Text(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
    )
    op.create_index("ix_usage_charge_pair_import_id", "usage_charge_pair", ["import_id"])
    charge = sa.table("usage_charge", *[sa.column(name) for name in (*PAIR_COLUMNS, "row_type", "subscription_id")])
    pair = sa.table("usage_charge_pair", *[sa.column(name) for name in PAIR_COLUMNS])
    outside_series = sa.or_(charge.c.row_type.not_in(SERIES_KINDS), charge.c.subscription_id.is_(None))
    distinct = sa.select(*[charge.c[name] for name in PAIR_COLUMNS]).where(outside_series).distinct()
    op.execute(pair.insert().from_select(list(PAIR_COLUMNS), distinct))


def downgrade() -> None:
    op.drop_table("usage_charge_pair")
