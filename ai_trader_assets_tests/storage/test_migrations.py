"""Migrations on both engines: the schema, change capture, and the legacy scanner merge."""

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.schema import metadata

TABLES = {
    "companies",
    "qualification_events",
    "bars_1day",
    "bars_1hour",
    "bars_5min",
    "bars_1min",
    "news",
    "news_symbols",
    "corporate_actions",
    "quarantine",
    "backfill_requests",
    "ingestion_coverage",
    "sensor_guard_releases",
    "reconciliation",
    "universe_absences",
    "symbol_changes",
    "ticks",
    "social_posts",
    "social_mentions",
    "social_salt",
    "social_sentiment",
    "provider_stats",
    "alert_incidents",
}


def tables(database: MarketDatabase) -> set[str]:
    return set(sa.inspect(database.engine).get_table_names()) - {"alembic_version"}


def events(database: MarketDatabase) -> list[tuple]:  # type: ignore[type-arg]
    with database.begin() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.text(
                    "SELECT symbol, from_layer, to_layer, kind, source FROM qualification_events ORDER BY id"
                )
            )
        ]


def sql(database: MarketDatabase, statement: str, **params: object) -> None:
    with database.begin() as conn:
        conn.execute(sa.text(statement), params)


def test_upgrade_creates_every_table_and_index(empty_db: MarketDatabase) -> None:
    assert tables(empty_db) == set()
    migrations.upgrade(empty_db)
    assert tables(empty_db) == TABLES
    assert migrations.current_revision(empty_db) == migrations.head_revision()
    inspector = sa.inspect(empty_db.engine)
    assert {"ix_companies_layer"} <= {ix["name"] for ix in inspector.get_indexes("companies")}
    assert inspector.get_pk_constraint("bars_1min")["constrained_columns"] == ["symbol", "ts"]
    assert inspector.get_pk_constraint("ticks")["constrained_columns"] == [
        "symbol", "sip_timestamp", "exchange", "trade_id"
    ]  # fmt: skip
    key = inspector.get_pk_constraint("social_sentiment")["constrained_columns"]
    assert key == ["symbol", "ts", "source"]
    with empty_db.begin() as conn:  # one salt per installation, made by the migration
        salts: list[str] = list(conn.execute(sa.text("SELECT salt FROM social_salt")).scalars())
    (salt,) = salts
    assert len(salt) == 64


def test_the_schema_check_agrees_with_alembic(empty_db: MarketDatabase) -> None:
    """The revision check every command runs reads the version table and the migration files itself
    (no Alembic import): it must name the same head and current revision as Alembic does."""
    config = Config()
    config.set_main_option("script_location", str(migrations.MIGRATIONS_DIR))
    assert migrations.head_revision() == ScriptDirectory.from_config(config).get_current_head()
    assert migrations.current_revision(empty_db) is None
    migrations.upgrade(empty_db, "0004")
    with empty_db.engine.connect() as conn:
        assert (
            migrations.current_revision(empty_db) == MigrationContext.configure(conn).get_current_revision()
        )
    assert migrations.current_revision(empty_db) == "0004"


def test_migrations_match_the_code_schema(empty_db: MarketDatabase) -> None:
    """The tables the code queries (storage/schema.py) are exactly what the migrations build."""
    migrations.upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_upgrade_downgrade_upgrade(empty_db: MarketDatabase) -> None:
    migrations.upgrade(empty_db)
    sql(empty_db, "INSERT INTO companies (symbol) VALUES ('AAPL')")
    migrations.downgrade(empty_db, "base")
    assert tables(empty_db) == set()
    migrations.upgrade(empty_db)
    assert tables(empty_db) == TABLES
    # The trigger is back too.
    sql(empty_db, "INSERT INTO companies (symbol) VALUES ('AAPL')")
    assert events(empty_db) == [("AAPL", None, 0, "qualified", "sql")]


def test_plain_sql_promotion_writes_exactly_one_event(market_db: MarketDatabase) -> None:
    sql(market_db, "INSERT INTO companies (symbol, name) VALUES ('X', 'X Corp')")
    sql(market_db, "UPDATE companies SET layer2_qualified = true WHERE symbol = 'X'")
    assert events(market_db) == [
        ("X", None, 0, "qualified", "sql"),
        ("X", 0, 2, "promoted", "sql"),
    ]


def test_every_kind_of_layer_change(market_db: MarketDatabase) -> None:
    sql(market_db, "INSERT INTO companies (symbol, layer3_qualified) VALUES ('X', true)")
    sql(market_db, "UPDATE companies SET layer1_qualified = true WHERE symbol = 'X'")  # still 3
    sql(market_db, "UPDATE companies SET liquidity_score = 0.7 WHERE symbol = 'X'")  # no layer change
    sql(market_db, "UPDATE companies SET layer3_qualified = false WHERE symbol = 'X'")  # 3 -> 1
    sql(market_db, "UPDATE companies SET layer1_qualified = false, is_active = false WHERE symbol = 'X'")
    sql(market_db, "UPDATE companies SET is_active = true WHERE symbol = 'X'")
    sql(market_db, "DELETE FROM companies WHERE symbol = 'X'")
    assert events(market_db) == [
        ("X", None, 3, "qualified", "sql"),
        ("X", 3, 1, "demoted", "sql"),
        ("X", 1, None, "deactivated", "sql"),
        ("X", None, 0, "qualified", "sql"),
        ("X", 0, None, "deactivated", "sql"),
    ]


def test_multi_row_update_writes_one_event_per_changed_symbol(market_db: MarketDatabase) -> None:
    sql(market_db, "INSERT INTO companies (symbol) VALUES ('A'), ('B'), ('C')")
    sql(market_db, "UPDATE companies SET layer2_qualified = true WHERE symbol IN ('A', 'B')")
    promoted = [e for e in events(market_db) if e[3] == "promoted"]
    assert sorted(promoted) == [("A", 0, 2, "promoted", "sql"), ("B", 0, 2, "promoted", "sql")]


def test_database_refuses_malformed_symbols_from_any_writer(market_db: MarketDatabase) -> None:
    for bad in ("aapl", "1ABC", "AB$", "TOOLONGSYMBOL", ""):
        # PostgreSQL reports an over-long value as a DataError, everything else as IntegrityError.
        with pytest.raises((sa.exc.IntegrityError, sa.exc.DataError)):
            sql(market_db, "INSERT INTO companies (symbol) VALUES (:s)", s=bad)
    sql(market_db, "INSERT INTO companies (symbol) VALUES ('BRK.B'), ('BF-B')")
    assert len(events(market_db)) == 2


# ------------------------------------------------------------ legacy merge

LEGACY_DDL = (
    "CREATE TABLE scanner_qualifications (symbol VARCHAR(16), layer_qualified INTEGER, "
    "liquidity_score FLOAT, last_updated TIMESTAMP, scanner_version VARCHAR(8))"
)
# The legacy table stores naive timestamps (TIMESTAMP without time zone), as the old pipeline did.
OLD = dt.datetime(2024, 1, 1, 12)  # noqa: DTZ001
NEW = dt.datetime(2030, 1, 1, 12)  # noqa: DTZ001


def layers(database: MarketDatabase) -> dict[str, int | None]:
    with database.begin() as conn:
        return dict(conn.execute(sa.text("SELECT symbol, layer FROM companies")).all())  # type: ignore[arg-type]


def test_legacy_scanner_table_is_merged_without_lowering_anything(empty_db: MarketDatabase) -> None:
    migrations.upgrade(empty_db, "0002")
    sql(empty_db, LEGACY_DDL)
    # companies: HIGH already ranks above the scanner, LOW below it, GONE is inactive.
    sql(
        empty_db,
        "INSERT INTO companies (symbol, is_active, layer3_qualified, layer1_qualified, liquidity_score, "
        "updated_at) "
        "VALUES ('HIGH', true, true, false, 0.9, :old), ('LOW', true, false, true, 0.1, :old), "
        "('GONE', false, false, false, NULL, :old), ('KEEP', true, false, false, 0.5, :new)",
        old=OLD,
        new=NEW,
    )
    legacy = [
        ("HIGH", 1, 0.2, OLD),  # lower than companies: stays 3
        ("LOW", 2, 0.8, NEW),  # higher: raised to 2, newer score taken
        ("GONE", 0, 0.3, OLD),  # inactive in companies, universe in scanner: active again
        ("KEEP", 0, 0.01, OLD),  # same layer, older scanner row: score kept
        ("NEWCO", 3, 0.95, NEW),  # missing in companies: inserted at 3
        ("NEWCO", 1, 0.5, OLD),  # an older, lower duplicate row: ignored
        ("bad sym", 2, 0.5, NEW),  # malformed: reported, left in the legacy table
        ("ODD", 7, 0.5, NEW),  # impossible layer: reported
    ]
    for symbol, layer, score, updated in legacy:
        sql(
            empty_db,
            "INSERT INTO scanner_qualifications VALUES (:s, :l, :q, :u, 'v1')",
            s=symbol,
            l=layer,
            q=score,
            u=updated,
        )
    before = layers(empty_db)
    events_before = len(events(empty_db))

    migrations.upgrade(empty_db)

    after = layers(empty_db)
    assert after == {"HIGH": 3, "LOW": 2, "GONE": 0, "KEEP": 0, "NEWCO": 3}
    for symbol, layer_before in before.items():  # nobody lost a layer
        layer_after = after[symbol]
        assert layer_before is None or (layer_after is not None and layer_after >= layer_before)
    for symbol, scanner_layer, _, _ in legacy:  # nobody ranks below the scanner either
        if symbol in after:
            assert after[symbol] >= scanner_layer  # type: ignore[operator]
    with empty_db.begin() as conn:
        scores: dict[str, float] = dict(
            conn.execute(sa.text("SELECT symbol, liquidity_score FROM companies")).all()
        )
        remaining: int = conn.execute(sa.text("SELECT COUNT(*) FROM scanner_qualifications")).scalar_one()
    assert scores["LOW"] == pytest.approx(0.8) and scores["KEEP"] == pytest.approx(0.5)
    assert remaining == len(legacy)
    merged_events = events(empty_db)[events_before:]
    assert sorted(merged_events) == [
        ("GONE", None, 0, "qualified", "legacy-merge"),
        ("LOW", 1, 2, "promoted", "legacy-merge"),
        ("NEWCO", None, 3, "qualified", "legacy-merge"),
    ]


def test_merge_reports_counts_per_layer(empty_db: MarketDatabase, caplog: pytest.LogCaptureFixture) -> None:
    migrations.upgrade(empty_db, "0002")
    sql(empty_db, LEGACY_DDL)
    sql(empty_db, "INSERT INTO scanner_qualifications VALUES ('AAA', 2, 0.5, :u, 'v1')", u=NEW)
    caplog.set_level("INFO", logger="ai_trader_assets.migrations")
    migrations.upgrade(empty_db)
    assert "merged 1 legacy symbols" in caplog.text
    assert "before {}" in caplog.text and "after {'2': 1}" in caplog.text


def test_without_a_legacy_table_the_merge_does_nothing(empty_db: MarketDatabase) -> None:
    migrations.upgrade(empty_db)
    assert layers(empty_db) == {} and events(empty_db) == []


def test_the_head_follows_merges_and_refuses_branches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    for name, revision, down in [
        ("0001_a.py", '"0001"', "None"),
        ("0002_b.py", '"0002"', '"0001"'),
        ("0003_c.py", '"0003"', '"0001"'),
    ]:
        (versions / name).write_text(f"revision: str = {revision}\ndown_revision: str | None = {down}\n")
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path)
    with pytest.raises(migrations.SchemaError, match=r"several heads \['0002', '0003'\]"):
        migrations.head_revision()
    (versions / "0004_merge.py").write_text('revision = "0004"\ndown_revision = ("0002", "0003")\n')
    assert migrations.head_revision() == "0004"
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path / "elsewhere")
    with pytest.raises(migrations.SchemaError, match="is missing"):
        migrations.head_revision()


def test_a_database_at_two_revisions_is_named_not_taken_for_empty(empty_db: MarketDatabase) -> None:
    migrations.upgrade(empty_db)
    sql(empty_db, "INSERT INTO alembic_version (version_num) VALUES ('0001')")
    with pytest.raises(migrations.SchemaError, match="several revisions"):
        migrations.current_revision(empty_db)
