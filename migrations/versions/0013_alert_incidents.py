"""Alert incidents (``alert_incidents``): one row per incident key, open while ``resolved_at`` is NULL,
so an alert is sent once when its incident opens and once when it resolves, whichever process looks.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_incidents",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("link", sa.Text),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("times_opened", sa.Integer, nullable=False),
    )
    op.create_index("ix_alert_incidents_kind_resolved_at", "alert_incidents", ["kind", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_incidents_kind_resolved_at", table_name="alert_incidents")
    op.drop_table("alert_incidents")
