"""Ticker changes (renames), so a company's history reads as one under its current symbol.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "symbol_changes",
        sa.Column("old_symbol", sa.String(10), primary_key=True),
        sa.Column("new_symbol", sa.String(10), primary_key=True),
        sa.Column("effective_date", sa.Date, primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_symbol_changes_new_symbol", "symbol_changes", ["new_symbol"])


def downgrade() -> None:
    op.drop_index("ix_symbol_changes_new_symbol", table_name="symbol_changes")
    op.drop_table("symbol_changes")
