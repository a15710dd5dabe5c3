"""The stored charges' period columns lose their indexes (issue 25): no query of the store uses them (the
charge history reads a window of 400 days and more, which SQLite and PostgreSQL scan in import order through
``ix_usage_charge_import_id``), and keeping them up to date cost 1.2 to 2 s of every run that stores a
million charges.

Revision ID: 0008_charge_periods_unindexed
Revises: 0007_current_data
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_charge_periods_unindexed"
down_revision: str | None = "0007_current_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERIOD_COLUMNS = ("period_start", "period_end")


def upgrade() -> None:
    for column in PERIOD_COLUMNS:
        op.drop_index(f"ix_usage_charge_{column}", table_name="usage_charge")


def downgrade() -> None:
    for column in PERIOD_COLUMNS:
        op.create_index(f"ix_usage_charge_{column}", "usage_charge", [column])
