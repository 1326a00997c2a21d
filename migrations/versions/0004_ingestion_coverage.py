"""Ingestion coverage: which (dataset, session, symbol) have been fetched, so runs fetch only gaps.

News and corporate actions are sparse (most sessions have none), so "no rows stored" cannot tell
"fetched, nothing there" from "never fetched"; this log can. Retention deletes coverage together
with the data it purges, so a later promotion fetches that history again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingestion_coverage",
        sa.Column("dataset", sa.String(32), primary_key=True),
        sa.Column("session", sa.Date, primary_key=True),
        sa.Column("symbol", sa.String(10), primary_key=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Freshness and completeness look up the latest covered session per dataset.
    op.create_index("ix_ingestion_coverage_dataset_session", "ingestion_coverage", ["dataset", "session"])


def downgrade() -> None:
    op.drop_table("ingestion_coverage")
