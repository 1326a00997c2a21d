"""Table definitions of the market database, for queries (the DDL itself is in migrations/).

A test compares this metadata with the migrated database, so the two cannot drift apart.
"""

import sqlalchemy as sa

from ai_trader_assets.config import Dataset

metadata = sa.MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcDateTime = sa.DateTime(timezone=True)

# A symbol's layer: its highest qualified layer, 0 when merely active, NULL otherwise.
LAYER_EXPRESSION = (
    "CASE WHEN layer3_qualified THEN 3 WHEN layer2_qualified THEN 2 "
    "WHEN layer1_qualified THEN 1 WHEN is_active THEN 0 ELSE NULL END"
)

companies = sa.Table(
    "companies",
    metadata,
    sa.Column("symbol", sa.String(10), primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("exchange", sa.String(16)),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("layer1_qualified", sa.Boolean, nullable=False),
    sa.Column("layer2_qualified", sa.Boolean, nullable=False),
    sa.Column("layer3_qualified", sa.Boolean, nullable=False),
    sa.Column("liquidity_score", sa.Float),
    sa.Column("layer1_updated", UtcDateTime),
    sa.Column("layer2_updated", UtcDateTime),
    sa.Column("layer3_updated", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("layer", sa.SmallInteger, sa.Computed(LAYER_EXPRESSION, persisted=True)),
)

qualification_events = sa.Table(
    "qualification_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("symbol", sa.String(10), nullable=False),
    sa.Column("from_layer", sa.SmallInteger),
    sa.Column("to_layer", sa.SmallInteger),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
)


def _bars_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
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


bars: dict[Dataset, sa.Table] = {
    dataset: _bars_table(dataset.value)
    for dataset in (Dataset.BARS_1DAY, Dataset.BARS_1HOUR, Dataset.BARS_5MIN, Dataset.BARS_1MIN)
}

news = sa.Table(
    "news",
    metadata,
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

news_symbols = sa.Table(
    "news_symbols",
    metadata,
    sa.Column("news_id", sa.String(128), sa.ForeignKey("news.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("symbol", sa.String(10), primary_key=True),
)

corporate_actions = sa.Table(
    "corporate_actions",
    metadata,
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
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(32), nullable=False),
    sa.Column("partition_key", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("detected_at", UtcDateTime, nullable=False),
)

backfill_requests = sa.Table(
    "backfill_requests",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("layer", sa.SmallInteger, nullable=False),
    sa.Column("symbols", sa.JSON, nullable=False),
    sa.Column("datasets", sa.JSON, nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Indexes the queries need (bars are already keyed by (symbol, ts)).
sa.Index("ix_companies_layer", companies.c.layer)
sa.Index("ix_qualification_events_symbol", qualification_events.c.symbol, qualification_events.c.id)
for _table in bars.values():
    sa.Index(f"ix_{_table.name}_ts", _table.c.ts)
sa.Index("ix_news_published_utc", news.c.published_utc)
sa.Index("ix_news_symbols_symbol", news_symbols.c.symbol)
sa.Index("ix_corporate_actions_symbol_ex_date", corporate_actions.c.symbol, corporate_actions.c.ex_date)
sa.Index("ix_corporate_actions_ex_date", corporate_actions.c.ex_date)
sa.Index("ix_quarantine_dataset_partition", quarantine.c.dataset, quarantine.c.partition_key)

ingestion_coverage = sa.Table(
    "ingestion_coverage",
    metadata,
    sa.Column("dataset", sa.String(32), primary_key=True),
    sa.Column("session", sa.Date, primary_key=True),
    sa.Column("symbol", sa.String(10), primary_key=True),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("ingested_at", UtcDateTime, nullable=False),
    # NULL: the session was fetched whole (after its close). Else it was still trading: only what had
    # ended by this instant is stored, and the pair counts as not yet covered.
    sa.Column("through", UtcDateTime, nullable=True),
)
sa.Index("ix_ingestion_coverage_dataset_session", ingestion_coverage.c.dataset, ingestion_coverage.c.session)

sensor_guard_releases = sa.Table(
    "sensor_guard_releases",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("released_at", UtcDateTime, nullable=False),
    sa.Column("released_by", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
)

# Where two providers disagree about a stored daily bar: ``field`` is close, volume or session (a
# session one side has and the other lacks: its missing value is NULL).
reconciliation = sa.Table(
    "reconciliation",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(32), nullable=False),
    sa.Column("session", sa.Date, nullable=False),
    sa.Column("symbol", sa.String(10), nullable=False),
    sa.Column("provider_a", sa.String(32), nullable=False),
    sa.Column("provider_b", sa.String(32), nullable=False),
    sa.Column("field", sa.String(16), nullable=False),
    sa.Column("value_a", sa.Float),
    sa.Column("value_b", sa.Float),
    sa.Column("detected_at", UtcDateTime, nullable=False),
)
sa.Index(
    "ix_reconciliation_dataset_session",
    reconciliation.c.dataset,
    reconciliation.c.session,
    reconciliation.c.symbol,
)

# Active symbols missing from the latest universe syncs: how many consecutive ones (a symbol listed
# again is removed). At ``universe.delist_after_days`` the symbol is deactivated.
universe_absences = sa.Table(
    "universe_absences",
    metadata,
    sa.Column("symbol", sa.String(10), primary_key=True),
    sa.Column("missed_syncs", sa.Integer, nullable=False),
    sa.Column("first_missed_at", UtcDateTime, nullable=False),
)

# Ticker changes: ``old_symbol`` traded as ``new_symbol`` from ``effective_date`` (the first session
# under the new name). Reads of the new symbol include the old one's rows before that date.
symbol_changes = sa.Table(
    "symbol_changes",
    metadata,
    sa.Column("old_symbol", sa.String(10), primary_key=True),
    sa.Column("new_symbol", sa.String(10), primary_key=True),
    sa.Column("effective_date", sa.Date, primary_key=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
)
sa.Index("ix_symbol_changes_new_symbol", symbol_changes.c.new_symbol)
