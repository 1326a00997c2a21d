"""Consecutive universe syncs each active symbol has been missing from (delisting after N of them).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "universe_absences",
        sa.Column("symbol", sa.String(10), primary_key=True),
        sa.Column("missed_syncs", sa.Integer, nullable=False),
        sa.Column("first_missed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("universe_absences")
