"""The hot table of trade ticks (``ticks``): keyed by (symbol, sip_timestamp, exchange, trade_id).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticks",
        sa.Column("symbol", sa.String(10), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sip_timestamp", sa.BigInteger, primary_key=True),
        sa.Column("participant_timestamp", sa.BigInteger),
        sa.Column("price", sa.Float(53), nullable=False),
        sa.Column("size", sa.Float(53), nullable=False),
        sa.Column("exchange", sa.SmallInteger, primary_key=True),
        sa.Column("conditions", sa.String(64), nullable=False),
        sa.Column("tape", sa.SmallInteger),
        sa.Column("sequence_number", sa.BigInteger),
        sa.Column("trade_id", sa.String(40), primary_key=True),
        sa.Column("correction", sa.SmallInteger),
        sa.Column("trf_id", sa.SmallInteger),
        sa.Column("regular_hours", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ticks_ts", "ticks", ["ts"])


def downgrade() -> None:
    op.drop_index("ix_ticks_ts", table_name="ticks")
    op.drop_table("ticks")
