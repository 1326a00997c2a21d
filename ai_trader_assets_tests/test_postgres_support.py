"""The fallback the fixtures rely on where no server runs: a private cluster from the local binaries."""

import sqlalchemy as sa

from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets_tests.support.postgres import DatabaseFactory, can_connect, throwaway_cluster


def test_throwaway_cluster_serves_a_migrated_market_database() -> None:
    with throwaway_cluster() as admin_url:
        assert admin_url.port != 5432
        factory = DatabaseFactory(admin_url)
        database = MarketDatabase(factory.create())
        try:
            migrations.upgrade(database)
            with database.begin() as conn:
                conn.execute(
                    sa.text("INSERT INTO companies (symbol, layer1_qualified) VALUES ('AAPL', true)")
                )
                kinds = conn.execute(sa.text("SELECT kind, to_layer FROM qualification_events")).all()
            assert [tuple(k) for k in kinds] == [("qualified", 1)]
        finally:
            database.dispose()
            factory.drop_all()
    assert not can_connect(admin_url, timeout_seconds=1)
