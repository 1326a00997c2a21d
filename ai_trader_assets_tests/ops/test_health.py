"""``ai-trader health``: each check's verdict, the worst one as the exit code, the JSON shape.

The Dagster side reads a real instance on a temporary DAGSTER_HOME, into which the tests write
daemon heartbeats, sensor and schedule states and ticks with chosen timestamps (no daemon runs).
"""

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from croniter import croniter
from dagster._core.remote_origin import (
    GrpcServerCodeLocationOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    ScheduleInstigatorData,
    SensorInstigatorData,
    TickData,
    TickStatus,
)
from dagster._daemon.types import DaemonHeartbeat
from dagster_shared.error import SerializableErrorInfo
from typer.testing import CliRunner

from ai_trader_assets import calendar
from ai_trader_assets.cli import app
from ai_trader_assets.config import PlatformConfig, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.ops.health import HealthReport, Status, check_health
from ai_trader_assets.ops.health_dagster import dagster_checks
from ai_trader_assets.ops.health_data import expected_session
from ai_trader_assets.ops.health_lake import lake_checks
from ai_trader_assets.ops.health_providers import provider_checks
from ai_trader_assets.planning.intraday import freshness
from ai_trader_assets.settings import Settings, load_settings
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.maintenance import maintain_table
from ai_trader_assets.storage.lake.tables import lake_tables
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.provider_stats import read_provider_stats
from ai_trader_assets_tests.support.lake import demo_frame
from ai_trader_assets_tests.support.polygon_server import PolygonServer

# 19:00 New York on Friday 2026-11-20: that session closed three hours ago, two hours is the grace.
AS_OF = "2026-11-20T19:00"
SESSION = dt.date(2026, 11, 20)
PREVIOUS = dt.date(2026, 11, 19)
LOCATION = GrpcServerCodeLocationOrigin(host="localhost", port=4266, location_name="ai_trader_assets")
REPOSITORY = RemoteRepositoryOrigin(LOCATION, "__repository__")


def config_for_tests(**health: Any) -> PlatformConfig:
    """The shipped configuration; the disk thresholds off (the test machine's disk is not the point)."""
    config = load_config()
    spec = config.pipeline.health.model_copy(
        update={"disk_min_free_gib": 0, "disk_min_free_share": 0, **health}
    )
    return config.model_copy(update={"pipeline": config.pipeline.model_copy(update={"health": spec})})


@pytest.fixture(scope="module")
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dagster_home")


@pytest.fixture(scope="module")
def module_instance(dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        yield instance


@pytest.fixture
def instance(module_instance: dg.DagsterInstance) -> dg.DagsterInstance:
    """The module's instance, without heartbeats, sensors, schedules or ticks."""
    module_instance.wipe_daemon_heartbeats()
    module_instance.wipe_all_schedules()
    return module_instance


@pytest.fixture
def settings(market_db: MarketDatabase, monkeypatch: pytest.MonkeyPatch, dagster_home: Path) -> Settings:
    """The environment of a platform whose layer 0 holds AAPL and MSFT, both stored through the
    expected session."""
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", market_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    CompaniesRepository(market_db).upsert(
        [{"symbol": "AAPL", "layer": 0}, {"symbol": "MSFT", "layer": 0}], source="test"
    )
    store(market_db, Dataset.BARS_1DAY, [PREVIOUS, SESSION], ["AAPL", "MSFT"])
    store(market_db, Dataset.CORPORATE_ACTIONS, [PREVIOUS, SESSION], ["AAPL", "MSFT"])
    return load_settings()


def store(database: MarketDatabase, dataset: Dataset, sessions: list[dt.date], symbols: list[str]) -> None:
    with database.begin() as conn:
        for session in sessions:
            Ledger(database).record(conn, dataset, session, dict.fromkeys(symbols, 1))


def beat(instance: dg.DagsterInstance, age_seconds: float, kinds: list[str] | None = None) -> None:
    """A heartbeat of every required daemon thread (or of ``kinds``), ``age_seconds`` old."""
    for kind in kinds or instance.get_required_daemon_types():
        instance.add_daemon_heartbeat(DaemonHeartbeat(time.time() - age_seconds, kind, "test-daemon"))


def sensor(
    instance: dg.DagsterInstance,
    name: str,
    *,
    interval: int,
    tick_age: float | None,
    status: TickStatus = TickStatus.SKIPPED,
    error: str | None = None,
) -> None:
    state = InstigatorState(
        RemoteInstigatorOrigin(REPOSITORY, name),
        InstigatorType.SENSOR,
        InstigatorStatus.DECLARED_IN_CODE,
        SensorInstigatorData(min_interval=interval, last_sensor_start_timestamp=time.time() - 86400),
    )
    instance.add_instigator_state(state)
    if tick_age is not None:
        tick(instance, state, time.time() - tick_age, status, error)


def schedule(instance: dg.DagsterInstance, name: str, cron: str, *, ticks_behind: int) -> float:
    """A schedule running for a month whose last tick was the latest due one (``ticks_behind=0``)
    or an earlier one; returns the due time of the latest tick (seconds since the epoch)."""
    state = InstigatorState(
        RemoteInstigatorOrigin(REPOSITORY, name),
        InstigatorType.SCHEDULE,
        InstigatorStatus.DECLARED_IN_CODE,
        ScheduleInstigatorData(cron, start_timestamp=time.time() - 30 * 86400),
    )
    instance.add_instigator_state(state)
    grace = load_config().pipeline.health.schedule_grace_seconds
    due = croniter(cron, dt.datetime.fromtimestamp(time.time() - grace, tz=calendar.NEW_YORK))
    times = [due.get_prev(dt.datetime).timestamp() for _ in range(ticks_behind + 1)]
    tick(instance, state, times[-1], TickStatus.SUCCESS)
    return times[0]


def tick(
    instance: dg.DagsterInstance,
    state: InstigatorState,
    timestamp: float,
    status: TickStatus,
    error: str | None = None,
) -> None:
    instance.create_tick(
        TickData(
            instigator_origin_id=state.instigator_origin_id,
            instigator_name=state.instigator_name,
            instigator_type=state.instigator_type,
            status=status,
            timestamp=timestamp,
            selector_id=state.selector_id,
            run_ids=["run-1"] if status == TickStatus.SUCCESS else [],
            error=SerializableErrorInfo(error, [], "SensorError") if error else None,
        )
    )


def a_healthy_daemon(instance: dg.DagsterInstance) -> None:
    beat(instance, 5)
    sensor(instance, "qualification_sensor", interval=10, tick_age=5)
    schedule(instance, "daily_ingest_schedule", "30 17 * * 1-5", ticks_behind=0)


def by_name(report: HealthReport) -> dict[str, Any]:
    return {c.name: c for c in report.checks}


def not_ok(report: HealthReport) -> dict[str, str]:
    return {c.name: f"{c.status.value}: {c.detail}" for c in report.checks if c.status != Status.OK}


def test_a_healthy_platform_exits_0(settings: Settings, instance: dg.DagsterInstance) -> None:
    a_healthy_daemon(instance)
    report = check_health(settings, config_for_tests(), instance=instance, intraday=freshness)
    assert not_ok(report) == {}
    assert report.status == Status.OK and report.exit_code == 0
    checks = by_name(report)
    assert checks["database"].detail.endswith(f"at the head revision {migrations.head_revision()}")
    assert checks["freshness:bars_1day:layer_0"].detail == f"{SESSION} stored for all 2 members"
    assert checks["freshness:bars_1min:layer_3"].detail == "no members"  # a layer without members is fine
    assert "intraday_freshness:bars_1min:layer_3" in checks  # outside the session: nothing expected
    assert checks["sensor:qualification_sensor"].value == pytest.approx(5, abs=3)
    assert checks["schedule:daily_ingest_schedule"].status == Status.OK
    assert checks["dagster_daemon"].value == pytest.approx(5, abs=3)
    assert checks["lake_table:bars_1day"].detail == "no table yet"
    assert checks["disk"].unit == "bytes" and checks["disk"].value > 0
    assert not any(c.kind == "provider" for c in report.checks)  # no network call without the flag


def test_a_stale_daemon_heartbeat_is_down_naming_the_daemon(
    settings: Settings, instance: dg.DagsterInstance
) -> None:
    a_healthy_daemon(instance)
    beat(instance, 120)  # every thread's newest heartbeat two minutes old: the daemon is gone
    report = check_health(settings, config_for_tests(), instance=instance)
    assert report.status == Status.DOWN and report.exit_code == 2
    daemon = by_name(report)["dagster_daemon"]
    assert daemon.status == Status.DOWN and daemon.value == pytest.approx(120, abs=3)
    assert "newest heartbeat is 2 min old (allowed 90 s)" in daemon.detail
    assert "dagster-daemon run" in daemon.detail


def test_the_daemon_without_heartbeats_or_instance_is_down_with_the_hint(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    config, now = config_for_tests(), dt.datetime.now(tz=dt.UTC)
    spec = config.pipeline.health
    [never] = dagster_checks(tmp_path, config, spec, now, instance)
    assert never.status == Status.DOWN and "no daemon has ever run" in never.detail
    assert "'dagster-daemon run'" in never.detail
    [missing] = dagster_checks(tmp_path / "nowhere", config, spec, now)
    assert missing.status == Status.DOWN
    assert f"no Dagster instance at {tmp_path / 'nowhere'} (DAGSTER_HOME)" in missing.detail
    assert not (tmp_path / "nowhere").exists()  # the check creates nothing

    # One thread silent while the others beat: the daemon runs, degraded.
    beat(instance, 5, [k for k in instance.get_required_daemon_types() if k != "BACKFILL"])
    beat(instance, 400, ["BACKFILL"])
    [stuck] = dagster_checks(tmp_path, config, spec, now, instance)
    assert stuck.status == Status.DEGRADED and "BACKFILL 7 min ago" in stuck.detail


def test_sensors_silent_for_several_intervals_or_failing_and_missed_schedules_are_degraded(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    beat(instance, 5)
    sensor(instance, "qualification_sensor", interval=10, tick_age=200)  # under the 300 s floor: fine
    sensor(instance, "gap_healing_sensor", interval=3600, tick_age=5 * 3600 + 60)  # five intervals missed
    sensor(instance, "broken_sensor", interval=30, tick_age=20, status=TickStatus.FAILURE, error="boom\nat x")
    sensor(instance, "never_sensor", interval=30, tick_age=None)
    schedule(instance, "retention_schedule", "0 3 * * *", ticks_behind=0)
    due = schedule(instance, "maintain_lake_schedule", "0 4 * * *", ticks_behind=1)
    config = config_for_tests()
    checks = {
        c.name: c
        for c in dagster_checks(
            tmp_path, config, config.pipeline.health, dt.datetime.now(tz=dt.UTC), instance
        )
    }
    assert {name: c.status for name, c in checks.items()} == {
        "dagster_daemon": Status.OK,
        "sensor:qualification_sensor": Status.OK,
        "sensor:gap_healing_sensor": Status.DEGRADED,
        "sensor:broken_sensor": Status.DEGRADED,
        "sensor:never_sensor": Status.DEGRADED,
        "schedule:retention_schedule": Status.OK,
        "schedule:maintain_lake_schedule": Status.DEGRADED,
    }
    gap = checks["sensor:gap_healing_sensor"]
    assert gap.detail.startswith("has not ticked for 5.0 h (every 3600 s expected")
    assert gap.value == pytest.approx(5 * 3600 + 60, abs=3) and gap.labels == {
        "instigator": "gap_healing_sensor"
    }
    assert checks["sensor:broken_sensor"].detail == "its last tick failed: boom"
    missed = dt.datetime.fromtimestamp(due, tz=calendar.NEW_YORK).strftime("%Y-%m-%d %H:%M")
    assert f"missed its tick due {missed}" in checks["schedule:maintain_lake_schedule"].detail


def test_a_member_without_the_expected_session_is_degraded_naming_dataset_layer_and_lag(
    settings: Settings, instance: dg.DagsterInstance, market_db: MarketDatabase
) -> None:
    a_healthy_daemon(instance)
    with market_db.begin() as conn:
        Ledger(market_db).forget(conn, Dataset.BARS_1DAY, SESSION, ["MSFT"])
    report = check_health(settings, config_for_tests(), instance=instance)
    assert report.status == Status.DEGRADED and report.exit_code == 1
    assert list(not_ok(report)) == ["freshness:bars_1day:layer_0"]
    stale = by_name(report)["freshness:bars_1day:layer_0"]
    assert stale.detail == (
        f"bars_1day layer 0: 1 of 2 members lack {SESSION} (MSFT); newest stored {PREVIOUS}: "
        "1 session(s) behind, 60 min overdue"
    )
    assert stale.value == 3600  # due at 18:00 New York (close + 2 h), now 19:00
    assert stale.labels == {"dataset": "bars_1day", "layer": "0"}
    assert stale.measures == {"members": 2, "members_behind": 1, "sessions_behind": 1}


def test_expected_session_waits_for_the_grace_after_the_close() -> None:
    grace = dt.timedelta(hours=2)
    at = dt.datetime(2026, 11, 20, 17, 59, tzinfo=calendar.NEW_YORK)
    assert expected_session(at, grace) == PREVIOUS
    assert expected_session(at + dt.timedelta(minutes=1), grace) == SESSION
    # Saturday: still Friday's; the day after Thanksgiving closes at 13:00 (early close), due at 15:00.
    assert expected_session(dt.datetime(2026, 11, 21, 12, tzinfo=calendar.NEW_YORK), grace) == SESSION
    assert expected_session(dt.datetime(2026, 11, 27, 15, tzinfo=calendar.NEW_YORK), grace) == dt.date(
        2026, 11, 27
    )


def test_a_database_behind_the_head_revision_is_degraded(
    settings: Settings, instance: dg.DagsterInstance, market_db: MarketDatabase
) -> None:
    a_healthy_daemon(instance)
    head = migrations.head_revision()
    behind = f"{int(str(head)) - 1:04d}"
    with market_db.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": behind})
    try:
        report = check_health(settings, config_for_tests(), instance=instance)
    finally:
        with market_db.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert report.exit_code == 1 and list(not_ok(report)) == ["database"]
    assert by_name(report)["database"].detail.endswith(
        f"is at revision {behind}, the code needs {head}: run 'ai-trader db upgrade'"
    )


def test_an_unreachable_database_is_down(
    monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    a_healthy_daemon(instance)
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/nothing")
    report = check_health(load_settings(), config_for_tests(), instance=instance)
    database = by_name(report)["database"]
    assert report.exit_code == 2 and database.status == Status.DOWN
    assert "is unreachable" in database.detail and "check AI_TRADER_DATABASE_URL" in database.detail
    assert "secret" not in database.detail
    assert not any(c.kind in ("freshness", "quarantine") for c in report.checks)  # nothing to read


def test_quarantined_rows_above_the_threshold_are_degraded(
    settings: Settings, instance: dg.DagsterInstance, market_db: MarketDatabase
) -> None:
    import pandas as pd

    a_healthy_daemon(instance)
    rejects = pd.DataFrame({"reason": ["high < low"] * 3, "record": ['{"symbol": "AAPL"}'] * 3})
    with market_db.begin() as conn:
        Ledger(market_db).quarantine(conn, Dataset.BARS_1DAY, f"{SESSION}|0", rejects)
    assert by_name(check_health(settings, config_for_tests(), instance=instance))["quarantine"].value == 3
    report = check_health(settings, config_for_tests(quarantine_max_rows=2), instance=instance)
    assert not_ok(report) == {
        "quarantine": "degraded: 3 rows quarantined in the last 24 h (bars_1day 3), over 2: "
        "see the quarantine table"
    }


def test_lake_tables_awaiting_maintenance_are_degraded_until_it_runs(tmp_path: Path) -> None:
    database = MarketDatabase(f"sqlite:///{tmp_path / 'locks.db'}")
    config = config_for_tests()
    spec = config.pipeline.health
    tables = lake_tables(Lake(str(tmp_path / "lake")), config, database)
    minute, today = Dataset.BARS_1MIN, dt.date(2026, 11, 20)
    for session in calendar.sessions(dt.date(2026, 10, 28), dt.date(2026, 10, 30)):  # a closed month
        tables.store(
            minute, demo_frame(minute, ["AAPL"], session, session), 2, Commit("ingest", f"r{session}")
        )
    now = dt.datetime.now(tz=dt.UTC)
    checks = {c.name: c for c in lake_checks(tables.lake, config, spec, today, now)}
    table = checks["lake_table:bars_1min"]
    assert table.status == Status.OK and "1 bucket(s) to cluster tonight" in table.detail
    assert table.value is None and table.measures["commits_since_checkpoint"] == 4  # versions 0..3

    three_days_later = now + dt.timedelta(days=3)
    late = {c.name: c for c in lake_checks(tables.lake, config, spec, today, three_days_later)}
    assert late["lake_table:bars_1min"].status == Status.DEGRADED
    assert late["lake_table:bars_1min"].detail.startswith("bucket(s) 2026-10 await clustering for 3.0 d")
    assert "no maintenance in its log" in late["lake_table:bars_1min"].detail

    maintain_table(tables, minute, today, run_id="night")
    after = {c.name: c for c in lake_checks(tables.lake, config, spec, today, three_days_later)}[
        "lake_table:bars_1min"
    ]
    assert after.status == Status.OK and after.value == pytest.approx(3 * 86400, abs=60)
    assert after.measures["commits_since_checkpoint"] == 0
    assert after.measures["checkpoint_age_seconds"] == pytest.approx(3 * 86400, abs=60)
    database.dispose()


def test_a_lake_that_cannot_be_listed_is_down(tmp_path: Path) -> None:
    root = tmp_path / "not-a-folder"
    root.write_text("")
    config = config_for_tests()
    [lake] = lake_checks(Lake(str(root)), config, config.pipeline.health, SESSION, dt.datetime.now(tz=dt.UTC))
    assert lake.status == Status.DOWN and lake.detail.startswith(f"cannot list the lake at {root}")


def test_the_json_output_and_exit_code_of_the_command(
    settings: Settings, module_instance: dg.DagsterInstance, instance: dg.DagsterInstance
) -> None:
    a_healthy_daemon(instance)
    result = CliRunner().invoke(app, ["health", "--format", "json"])
    document = json.loads(result.output)
    assert set(document) == {"status", "checks"}
    assert document["status"] in ("ok", "degraded", "down")
    assert result.exit_code == {"ok": 0, "degraded": 1, "down": 2}[document["status"]]
    first = document["checks"][0]
    assert set(first) == {"name", "kind", "status", "detail", "value", "unit", "labels", "measures"}
    assert first["name"] == "database" and first["status"] == "ok"
    names = {c["name"] for c in document["checks"]}
    assert {"dagster_daemon", "sensor:qualification_sensor", "lake", "quarantine"} <= names

    table = CliRunner().invoke(app, ["health"])
    assert table.exit_code == result.exit_code
    assert "freshness:bars_1day:layer_0" in table.output and f"{len(names)} checks" in table.output


def test_probing_providers_reports_a_refused_key_as_down_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, market_db: MarketDatabase
) -> None:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", market_db.url.render_as_string(hide_password=False))
    key = "pk_SENTINEL_health_7c1d"
    config = config_for_tests()
    now = dt.datetime(2026, 11, 20, 19, tzinfo=calendar.NEW_YORK)
    with PolygonServer(key, market=["AAPL"]) as server:
        monkeypatch.setenv("POLYGON_BASE_URL", server.url)
        monkeypatch.setenv("AI_TRADER_PROVIDER", "polygon")
        monkeypatch.setenv("POLYGON_API_KEY", key)
        [ok] = provider_checks(load_settings(), config, config.pipeline.health, now)
        monkeypatch.setenv("POLYGON_API_KEY", "pk_wrong_key_9a8b")
        [refused] = provider_checks(load_settings(), config, config.pipeline.health, now)
        monkeypatch.setenv("POLYGON_API_KEY", key)
        server.fail("/v2/aggs/", 200, delay_seconds=1.0)
        quick = config_for_tests(probe_timeout_seconds=0.2)
        [slow] = provider_checks(load_settings(), quick, quick.pipeline.health, now)
        assert len(server.requests_to("/v2/aggs/ticker/AAPL/range/1/day/")) == 3  # one request each
    assert ok.status == Status.OK and ok.name == "provider:polygon" and ok.unit == "milliseconds"
    assert ok.detail.startswith(f"AAPL's daily bar of {SESSION}: 1 row(s)")
    assert refused.status == Status.DOWN
    assert "HTTP 401" in refused.detail and "POLYGON_API_KEY" in refused.detail
    assert "pk_wrong_key_9a8b" not in json.dumps(refused.to_dict())
    assert slow.status == Status.DEGRADED and "gave up after 1 attempts" in slow.detail
    # The probes are provider requests like any other: the metrics' provider series count them.
    probes = [s for s in read_provider_stats(market_db) if s.provider == "polygon"]
    assert sum(s.requests for s in probes) == 3, probes
