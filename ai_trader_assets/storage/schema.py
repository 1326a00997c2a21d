"""Table definitions of the market database, for queries (the DDL itself is in migrations/).

The datasets' hot tables are declared with their datasets (:mod:`ai_trader_assets.datasets`) on the
same metadata; the platform's own tables (companies, events, quarantine, coverage, ...) are here. A
test compares this metadata with the migrated database, so the two cannot drift apart.
"""

import sqlalchemy as sa

from ai_trader_assets.datasets import SPECS, tables
from ai_trader_assets.datasets.tables import UtcDateTime

# One metadata: the datasets' hot tables and the platform's own.
metadata = tables.metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

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
sa.Index("ix_quarantine_dataset_partition", quarantine.c.dataset, quarantine.c.partition_key)
# Every dataset's hot table is on this metadata too (declared in its dataset module).
DATASET_TABLES = tuple(spec.table for spec in SPECS.values())

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

# Alert incidents (ops/alerts): one row per incident key, opened once and resolved once.
alert_incidents = sa.Table(
    "alert_incidents",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("link", sa.Text),
    # What the incident is about (assets, partition, check...), for the code that resolves it.
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("resolved_at", UtcDateTime),
    sa.Column("times_opened", sa.Integer, nullable=False),
)
sa.Index("ix_alert_incidents_kind_resolved_at", alert_incidents.c.kind, alert_incidents.c.resolved_at)

# Provider requests per provider, endpoint template and outcome (providers' RequestGovernor, for metrics).
provider_stats = sa.Table(
    "provider_stats",
    metadata,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("endpoint", sa.String(200), primary_key=True),
    sa.Column("outcome", sa.String(16), primary_key=True),
    sa.Column("requests", sa.BigInteger, nullable=False),
    sa.Column("seconds", sa.Float(53), nullable=False),
    sa.Column("first_recorded_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
