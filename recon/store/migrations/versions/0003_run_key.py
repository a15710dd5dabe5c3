"""A run's identity as a column (issue 19): ``run.run_key``, what the run was computed from.

The dashboard used to find the stored run of its inputs by a suffix of the label ("... · run key
<first 12 characters>"). The suffix moves into the column (the 12 characters are kept: they still name
the run, and the dashboard looks a run up by its whole key or that prefix) and leaves the label as the
person wrote it.

Revision ID: 0003_run_key
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_run_key"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LABEL_TAG = " · run key "


def upgrade() -> None:
    with op.batch_alter_table("run") as run:
        run.add_column(sa.Column("run_key", sa.String(64), nullable=True))
        run.create_index("ix_run_run_key", ["run_key"])
    table = sa.table("run", sa.column("id", sa.Integer()), sa.column("label", sa.Text()),
                     sa.column("run_key", sa.String(64)))
    connection = op.get_bind()
    tagged = connection.execute(sa.select(table.c.id, table.c.label).where(table.c.label.contains(LABEL_TAG)))
    for run_id, label in tagged.all():
        kept, _, key = str(label).rpartition(LABEL_TAG)
        connection.execute(sa.update(table).where(table.c.id == run_id).values(label=kept.strip(), run_key=key.strip()))


def downgrade() -> None:
    with op.batch_alter_table("run") as run:
        run.drop_index("ix_run_run_key")
        run.drop_column("run_key")
