"""The current data, shared and sticky (issue 22, item 2): ``current_data`` (append-only: which run every new
session opens, the recipe to rebuild it, who made it current and when) and ``input_content`` (the bytes of
uploaded and pulled files by SHA-256, so any session can rebuild a run someone else uploaded).

Revision ID: 0007_current_data
Revises: 0006_fixes
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_current_data"
down_revision: str | None = "0006_fixes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "input_content",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "current_data",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("recipe", sa.JSON(), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_current_data_run_id", "current_data", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_current_data_run_id", table_name="current_data")
    op.drop_table("current_data")
    op.drop_table("input_content")
