"""The shipped Dagster instance files: production on PostgreSQL, embedded on SQLite."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresRunStorage

from ai_trader_assets.config import REPO_ROOT
from ai_trader_assets_tests.support.postgres import DatabaseFactory


@dg.asset
def heartbeat() -> int:
    return 1


def instance_home(tmp_path: Path, file: str) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / file, home / "dagster.yaml")
    return home


def test_production_instance_stores_runs_in_postgres(
    postgres_databases: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_databases.create()
    monkeypatch.setenv("DAGSTER_PG_HOST", url.host or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(url.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_USER", url.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
    monkeypatch.setenv("DAGSTER_PG_DB", url.database or "")
    with dg.DagsterInstance.from_config(str(instance_home(tmp_path, "dagster.yaml"))) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.run_coordinator.dequeue_interval_seconds == 1  # a promotion's runs wait less
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config is not None
        assert concurrency.run_queue_config.max_concurrent_runs == 8
        assert [limit["key"] for limit in concurrency.run_queue_config.tag_concurrency_limits] == [
            "ai_trader/layer"
        ]
        assert concurrency.pool_config.default_pool_limit == 4
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        result = dg.materialize([heartbeat], instance=instance)
        assert result.success
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT COUNT(*) FROM runs WHERE run_id = :id"), {"id": result.run_id})
        assert stored.scalar_one() == 1
    engine.dispose()


def test_embedded_instance_needs_no_postgres(tmp_path: Path) -> None:
    home = instance_home(tmp_path, "dagster.embedded.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert "Sqlite" in type(instance.run_storage).__name__
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.run_coordinator.dequeue_interval_seconds == 1
        assert instance.run_retries_enabled
        assert dg.materialize([heartbeat], instance=instance).success
