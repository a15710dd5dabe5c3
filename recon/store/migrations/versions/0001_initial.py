"""The initial store schema: imports, runs, discrepancies, resolutions, mappings, settings, profiles.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Money: NUMERIC(18, 4) in PostgreSQL; exact integer units of 1/10,000 in SQLite (no decimal type there).
MONEY = sa.Numeric(18, 4).with_variant(sa.BigInteger(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _text(name: str) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=False)


def _append_only(name: str, *columns: sa.Column) -> None:
    """A table of append-only facts: id, the given columns, who and when."""
    op.create_table(name, sa.Column("id", sa.Integer(), primary_key=True), *columns, _text("by"),
                    sa.Column("at", TIMESTAMP, nullable=False))


def upgrade() -> None:
    op.create_table(
        "import_file",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(40), nullable=False),
        _text("file"),
        sa.Column("sha256", sa.String(64), nullable=True),
        *[sa.Column(name, sa.Integer(), nullable=False)
          for name in ("rows_in", "rows_loaded", "rows_quarantined", "blank_rows")],
        sa.Column("imported_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("sha256", name="uq_import_file_sha256"),
    )
    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        _text("by"), _text("label"),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("engine_version", sa.String(40), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        *[sa.Column(name, MONEY, nullable=True) for name in ("billed", "expected", "leakage", "overcharge")],
        sa.Column("discrepancies", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_run_complete", "run", ["complete"])
    op.create_table(
        "run_import",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("run.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("import_id", sa.Integer(), sa.ForeignKey("import_file.id"), nullable=False),
        _text("file"),
        *[sa.Column(name, sa.Integer(), nullable=False)
          for name in ("rows_in", "rows_loaded", "rows_quarantined", "blank_rows")],
    )
    op.create_index("ix_run_import_import_id", "run_import", ["import_id"])
    op.create_table(
        "discrepancy",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        _text("client"), _text("sku"),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        *[sa.Column(name, sa.Float(), nullable=True)
          for name in ("expected_qty", "billed_qty", "usage_qty", "contract_qty")],
        sa.Column("expected_unit_price", MONEY, nullable=True),
        sa.Column("billed_unit_price", MONEY, nullable=True),
        sa.Column("price_source", sa.String(40), nullable=True),
        *[sa.Column(name, MONEY, nullable=True) for name in ("expected_amount", "billed_amount", "variance")],
        sa.Column("detail", sa.Text(), nullable=True),
    )
    op.create_index("ix_discrepancy_run_id", "discrepancy", ["run_id"])
    op.create_index("ix_discrepancy_fingerprint", "discrepancy", ["fingerprint"])
    _append_only("resolution", sa.Column("fingerprint", sa.String(64), nullable=False),
                 sa.Column("status", sa.String(20), nullable=False), _text("note"))
    op.create_index("ix_resolution_fingerprint", "resolution", ["fingerprint"])
    _append_only("client_alias", _text("alias"), _text("client"))
    op.create_index("ix_client_alias_alias", "client_alias", ["alias"])
    _append_only("rejected_suggestion", _text("name"), _text("client"))
    op.create_index("ix_rejected_suggestion_name", "rejected_suggestion", ["name"])
    _append_only("sku_mapping", _text("vendor_sku"), _text("sku"))
    op.create_index("ix_sku_mapping_vendor_sku", "sku_mapping", ["vendor_sku"])
    _append_only("settings_version", sa.Column("data", sa.JSON(), nullable=False))
    _append_only("mapping_profile", _text("name"), _text("text"))
    op.create_index("ix_mapping_profile_name", "mapping_profile", ["name"])


def downgrade() -> None:
    for name in ("mapping_profile", "settings_version", "sku_mapping", "rejected_suggestion", "client_alias",
                 "resolution", "discrepancy", "run_import", "run", "import_file"):
        op.drop_table(name)
