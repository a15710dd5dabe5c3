"""A fix keeps its line's product as the PSA export named it: ``fix.line_sku`` (the addition's product
identifier, the contract service's service id) before the SKU mapping (the catalog's ``vendor_sku`` lists,
saved SKU mappings) made it the fix's ``sku``. Write-back compares the line a fix names by id with it: an
addition whose identifier maps to the fix's sku only through the mapping is the line the fix means, not a
misaligned id. Fixes stored before hold NULL, and are compared with their ``sku`` as before.

Revision ID: 0010_fix_line_sku
Revises: 0009_charge_pairs
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_fix_line_sku"
down_revision: str | None = "0009_charge_pairs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fix") as fix:
        fix.add_column(sa.Column("line_sku", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fix") as fix:
        fix.drop_column("line_sku")
