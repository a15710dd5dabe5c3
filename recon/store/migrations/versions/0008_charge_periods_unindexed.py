"""The stored charges' period columns lose their indexes (issue 25): no query of the store uses them (the
charge history reads a window of 400 days and more, which SQLite and PostgreSQL scan in import order through
``ix_usage_charge_import_id``), and keeping them up to date is paid by every run that stores its charges:
at a million, PostgreSQL's ``COPY`` took 7.5 to 8.4 s without them against 9.2 to 11.7 s with them, SQLite's
insert 4.1 to 4.5 s against 5.4 to 5.7 s (bench/results.md).

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
