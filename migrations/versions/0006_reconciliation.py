"""Where two providers disagree about a stored daily bar (the reconciliation check and job).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconciliation",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("session", sa.Date, nullable=False),
        sa.Column("symbol", sa.String(10), nullable=False),
        sa.Column("provider_a", sa.String(32), nullable=False),
        sa.Column("provider_b", sa.String(32), nullable=False),
        sa.Column("field", sa.String(16), nullable=False),
        sa.Column("value_a", sa.Float),
        sa.Column("value_b", sa.Float),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reconciliation_dataset_session", "reconciliation", ["dataset", "session", "symbol"])


def downgrade() -> None:
    op.drop_index("ix_reconciliation_dataset_session", table_name="reconciliation")
    op.drop_table("reconciliation")
