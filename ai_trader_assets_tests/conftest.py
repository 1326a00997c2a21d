"""Real-database fixtures: every market-database test runs on PostgreSQL and on SQLite.

The session gets its own fresh PostgreSQL database (see ``support/postgres.py`` for where the
server comes from) and a SQLite file, both migrated once; each test starts from empty tables.
Tests that exercise the migrations themselves take ``empty_db``: a brand-new, unmigrated database.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.schema import metadata
from ai_trader_assets_tests.support.postgres import DatabaseFactory, postgres_server

ENGINES = ["postgresql", "sqlite"]
ENVIRONMENT_PREFIXES = (
    "AI_TRADER_",
    "POLYGON_",
    "MASSIVE_",
    "ALPACA_",
    "YAHOO_",
    "BENZINGA_",
    "AWS_",
    "DAGSTER_",
)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Tests never see the developer's variables; AI_TRADER_HOME is a fresh folder."""
    for name in list(os.environ):
        if name.startswith(ENVIRONMENT_PREFIXES) and name != "AI_TRADER_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    home = tmp_path / "ai_trader_home"
    monkeypatch.setenv("AI_TRADER_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[DatabaseFactory]:
    with postgres_server() as admin_url:
        factory = DatabaseFactory(admin_url)
        try:
            yield factory
        finally:
            factory.drop_all()


def _new_database_url(engine: str, factory: DatabaseFactory, folder: Path) -> URL:
    if engine == "postgresql":
        return factory.create()
    return sa.make_url(f"sqlite:///{folder / 'market.db'}")


@pytest.fixture(scope="session")
def migrated_database_urls(
    postgres_databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, URL]:
    urls = {}
    for engine in ENGINES:
        url = _new_database_url(engine, postgres_databases, tmp_path_factory.mktemp(engine))
        database = MarketDatabase(url)
        migrations.upgrade(database)
        database.dispose()
        urls[engine] = url
    return urls


def _empty_tables(database: MarketDatabase) -> None:
    names = [table.name for table in reversed(metadata.sorted_tables)]
    with database.begin() as conn:
        if database.dialect == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            # Emptying companies fires the change-capture trigger, so the event log goes last.
            for name in [*[n for n in names if n != "qualification_events"], "qualification_events"]:
                conn.execute(sa.text(f"DELETE FROM {name}"))


@pytest.fixture(params=ENGINES)
def market_db(
    request: pytest.FixtureRequest, migrated_database_urls: dict[str, URL]
) -> Iterator[MarketDatabase]:
    """The migrated market database (both engines), emptied before the test."""
    database = MarketDatabase(migrated_database_urls[request.param])
    _empty_tables(database)
    yield database
    database.dispose()


@pytest.fixture(params=ENGINES)
def empty_db(
    request: pytest.FixtureRequest, postgres_databases: DatabaseFactory, tmp_path: Path
) -> Iterator[MarketDatabase]:
    """A brand-new database with no tables (both engines)."""
    database = MarketDatabase(_new_database_url(request.param, postgres_databases, tmp_path))
    yield database
    database.dispose()
