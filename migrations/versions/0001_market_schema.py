"""Market database schema: companies, events, hot bar tables, news, corporate actions, quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcDateTime = sa.DateTime(timezone=True)
BAR_TABLES = ("bars_1day", "bars_1hour", "bars_5min", "bars_1min")
LAYER_EXPRESSION = (
    "CASE WHEN layer3_qualified THEN 3 WHEN layer2_qualified THEN 2 "
    "WHEN layer1_qualified THEN 1 WHEN is_active THEN 0 ELSE NULL END"
)


def _symbol_check() -> sa.CheckConstraint:
    """The database itself refuses malformed symbols (^[A-Z][A-Z0-9.-]{0,9}$), whoever writes."""
    if op.get_bind().dialect.name == "postgresql":
        return sa.CheckConstraint(r"symbol ~ '^[A-Z][A-Z0-9.\-]{0,9}$'", name="ck_companies_symbol")
    # SQLite has no regular expressions; GLOB classes express the same pattern.
    return sa.CheckConstraint(
        "length(symbol) BETWEEN 1 AND 10 AND symbol GLOB '[A-Z]*' AND NOT symbol GLOB '*[^A-Z0-9.-]*'",
        name="ck_companies_symbol",
    )


def upgrade() -> None:
    false = sa.false()
    op.create_table(
        "companies",
        sa.Column("symbol", sa.String(10), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("exchange", sa.String(16)),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("layer1_qualified", sa.Boolean, nullable=False, server_default=false),
        sa.Column("layer2_qualified", sa.Boolean, nullable=False, server_default=false),
        sa.Column("layer3_qualified", sa.Boolean, nullable=False, server_default=false),
        sa.Column("liquidity_score", sa.Float),
        sa.Column("layer1_updated", UtcDateTime),
        sa.Column("layer2_updated", UtcDateTime),
        sa.Column("layer3_updated", UtcDateTime),
        sa.Column("updated_at", UtcDateTime, nullable=False, server_default=sa.func.now()),
        # Derived by the database so every reader and the change-capture trigger agree.
        sa.Column("layer", sa.SmallInteger, sa.Computed(LAYER_EXPRESSION, persisted=True)),
        _symbol_check(),
    )
    op.create_index("ix_companies_layer", "companies", ["layer"])

    op.create_table(
        "qualification_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(10), nullable=False),
        sa.Column("from_layer", sa.SmallInteger),
        sa.Column("to_layer", sa.SmallInteger),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.CheckConstraint(
            "kind IN ('qualified', 'promoted', 'demoted', 'deactivated')",
            name="ck_qualification_events_kind",
        ),
    )
    op.create_index("ix_qualification_events_symbol", "qualification_events", ["symbol", "id"])

    for table in BAR_TABLES:
        op.create_table(
            table,
            sa.Column("symbol", sa.String(10), primary_key=True),
            sa.Column("ts", UtcDateTime, primary_key=True),
            sa.Column("open", sa.Float(53), nullable=False),
            sa.Column("high", sa.Float(53), nullable=False),
            sa.Column("low", sa.Float(53), nullable=False),
            sa.Column("close", sa.Float(53), nullable=False),
            sa.Column("volume", sa.Float(53), nullable=False),
            sa.Column("vwap", sa.Float(53)),
            sa.Column("trade_count", sa.BigInteger),
            sa.Column("source", sa.String(32), nullable=False),
            sa.Column("ingested_at", UtcDateTime, nullable=False),
        )
        # Retention and completeness scan by time across symbols.
        op.create_index(f"ix_{table}_ts", table, ["ts"])

    op.create_table(
        "news",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("published_utc", UtcDateTime, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("author", sa.Text),
        sa.Column("article_url", sa.Text),
        sa.Column("publisher", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ingested_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_news_published_utc", "news", ["published_utc"])
    op.create_table(
        "news_symbols",
        sa.Column(
            "news_id",
            sa.String(128),
            sa.ForeignKey("news.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("symbol", sa.String(10), primary_key=True),
    )
    op.create_index("ix_news_symbols_symbol", "news_symbols", ["symbol"])

    op.create_table(
        "corporate_actions",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("symbol", sa.String(10), nullable=False),
        sa.Column("action_type", sa.String(16), nullable=False),
        sa.Column("ex_date", sa.Date, nullable=False),
        sa.Column("split_from", sa.Float(53)),
        sa.Column("split_to", sa.Float(53)),
        sa.Column("cash_amount", sa.Float(53)),
        sa.Column("currency", sa.String(8)),
        sa.Column("declaration_date", sa.Date),
        sa.Column("record_date", sa.Date),
        sa.Column("pay_date", sa.Date),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ingested_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("action_type IN ('split', 'dividend')", name="ck_corporate_actions_action_type"),
    )
    op.create_index("ix_corporate_actions_symbol_ex_date", "corporate_actions", ["symbol", "ex_date"])
    op.create_index("ix_corporate_actions_ex_date", "corporate_actions", ["ex_date"])

    op.create_table(
        "quarantine",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("partition_key", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("detected_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_quarantine_dataset_partition", "quarantine", ["dataset", "partition_key"])

    op.create_table(
        "backfill_requests",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("layer", sa.SmallInteger, nullable=False),
        sa.Column("symbols", sa.JSON, nullable=False),
        sa.Column("datasets", sa.JSON, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("layer BETWEEN 0 AND 3", name="ck_backfill_requests_layer"),
    )


def downgrade() -> None:
    for table in (
        "backfill_requests",
        "quarantine",
        "corporate_actions",
        "news_symbols",
        "news",
        *BAR_TABLES,
        "qualification_events",
        "companies",
    ):
        op.drop_table(table)
