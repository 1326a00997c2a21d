"""The qualification sensor on both engines: promotions become one backfill, the cursor neither loses
nor repeats events, the demotion guard stops a mass demotion until released, and promotions are
throttled."""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from ai_trader_assets.config import DEFAULT_CONFIG_DIR, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.defs.automation.schedules import automation_schedules
from ai_trader_assets.defs.automation.sensors import build_qualification_sensor
from ai_trader_assets.planning.qualification import Cursor, DemotionGuardError, release_guard
from ai_trader_assets.storage import backfill_requests
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets_tests.support.sensors import evaluate

AS_OF = dt.date(2026, 11, 20)
SENSOR = build_qualification_sensor(30)


def sql(database: MarketDatabase, statement: str, **params: object) -> None:
    with database.begin() as conn:
        conn.execute(sa.text(statement), params)


def tick(
    database: MarketDatabase, cursor: str | None, config_dir: Path = DEFAULT_CONFIG_DIR
) -> dg.SensorResult:
    return evaluate(SENSOR, database, cursor, AS_OF, config_dir)


def requests(result: dg.SensorResult) -> list[dg.RunRequest]:
    return list(result.run_requests or [])


@pytest.fixture
def universe(market_db: MarketDatabase, monkeypatch: pytest.MonkeyPatch) -> MarketDatabase:
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF.isoformat())
    CompaniesRepository(market_db).upsert(
        [{"symbol": f"L1S{i}", "layer": 1} for i in range(10)] + [{"symbol": "NVDA", "layer": 2}],
        source="test",
    )
    return market_db


def settle(database: MarketDatabase) -> str:
    """Consume the events of the initial import; returns the cursor."""
    result = tick(database, None)
    assert result.cursor is not None
    return result.cursor


def test_promoting_five_symbols_launches_exactly_one_backfill_of_those_symbols(
    universe: MarketDatabase,
) -> None:
    cursor = settle(universe)
    sql(
        universe,
        "UPDATE companies SET layer2_qualified = true WHERE symbol IN ('L1S0','L1S1','L1S2','L1S3','L1S4')",
    )
    result = tick(universe, cursor)
    assert len(requests(result)) == 1
    run = requests(result)[0]
    assert run.requires_backfill_daemon()
    assert run.tags["ai_trader/layer"] == "2" and run.tags["dagster/priority"] == "2"
    request = backfill_requests.get(universe, int(run.tags["ai_trader/backfill_request"]))
    assert request.symbols == ("L1S0", "L1S1", "L1S2", "L1S3", "L1S4") and request.layer == 2
    assert set(request.datasets) == {d.value for d in load_config().layers.layers[2].datasets}
    subset = run.asset_graph_subset
    assert subset is not None
    keys = subset.get_partitions_subset(dg.AssetKey("bars_1min")).get_partition_keys()
    window = load_config().window(2, Dataset.BARS_1MIN)
    assert window is not None
    assert all(k.endswith("|2") for k in keys) and max(keys) == f"{AS_OF}|2"
    assert (AS_OF - dt.date.fromisoformat(min(keys).split("|")[0])).days < window.cold_days
    again = tick(universe, result.cursor)  # the same events are not handled twice
    assert requests(again) == [] and "no backfill needed" in again.skip_reason.skip_message  # type: ignore[union-attr,operator]
    sql(universe, "UPDATE companies SET layer2_qualified = true WHERE symbol IN ('L1S0','L1S1')")  # no change
    assert requests(tick(universe, again.cursor)) == []


def test_demoting_half_a_layer_stops_until_released(universe: MarketDatabase) -> None:
    cursor = settle(universe)
    sql(
        universe,
        "UPDATE companies SET layer1_qualified = false WHERE symbol IN ('L1S0','L1S1','L1S2','L1S3','L1S4')",
    )
    with pytest.raises(DemotionGuardError, match=r"layer 1: 5 of 10 members \(50%\)") as info:
        tick(universe, cursor)
    assert "ai-trader sensor release" in str(info.value)
    release_guard(universe, released_by="test", note="scanner recalibration")
    released = tick(universe, cursor)
    assert requests(released) == []
    assert Cursor.from_json(released.cursor).release == 1
    # A later, small demotion passes without a new release.
    sql(universe, "UPDATE companies SET layer1_qualified = false WHERE symbol = 'L1S5'")
    assert requests(tick(universe, released.cursor)) == []


def test_mass_qualification_is_throttled(universe: MarketDatabase, tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config_dir)
    pipeline = yaml.safe_load((config_dir / "pipeline.yaml").read_text())
    pipeline["automation"]["max_promotions_per_tick"] = 3
    (config_dir / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    cursor = tick(universe, None, config_dir).cursor
    sql(universe, "UPDATE companies SET layer2_qualified = true WHERE symbol LIKE 'L1S%'")  # 10 symbols
    sizes = []
    for _ in range(5):
        result = tick(universe, cursor, config_dir)
        cursor = result.cursor
        sizes += [
            len(backfill_requests.get(universe, int(r.tags["ai_trader/backfill_request"])).symbols)
            for r in requests(result)
        ]
    assert sizes == [3, 3, 3, 1]  # a steady stream, every symbol exactly once


def test_backfills_follow_the_rows_a_promotion_implies(universe: MarketDatabase, tmp_path: Path) -> None:
    """A small first fill is one backfill of every dataset; with tight run budgets it is cut into parts
    by rows, each within budget, every session of every dataset exactly once."""
    cursor = settle(universe)
    sql(universe, "UPDATE companies SET layer3_qualified = true WHERE symbol IN ('L1S0','L1S1','L1S2')")
    result = tick(universe, cursor)
    datasets = {d.value for d in load_config().layers.layers[3].datasets}
    (run,) = requests(result)
    assert {k.path[-1] for k in run.asset_graph_subset.asset_keys} == datasets  # type: ignore[union-attr]
    ticks = run.asset_graph_subset.get_partitions_subset(dg.AssetKey("ticks")).get_partition_keys()  # type: ignore[union-attr]
    days = sorted({dt.date.fromisoformat(key.split("|")[0]) for key in ticks})
    assert days and (days[-1] - days[0]).days < 7  # ticks: layer 3's 7-day cold window, no more
    assert backfill_requests.get(universe, int(run.tags["ai_trader/backfill_request"])).symbols == (
        "L1S0",
        "L1S1",
        "L1S2",
    )

    config_dir = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config_dir)
    pipeline = yaml.safe_load((config_dir / "pipeline.yaml").read_text())
    pipeline["runs"]["datasets"]["bars_1min"]["rows_per_run"] = 100_000  # ~85 sessions of 3 symbols
    (config_dir / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    settled = tick(universe, None, config_dir).cursor
    sql(universe, "UPDATE companies SET layer3_qualified = true WHERE symbol IN ('L1S5','L1S6','L1S7')")
    parts = requests(tick(universe, settled, config_dir))
    minute = [
        sorted(p.asset_graph_subset.get_partitions_subset(dg.AssetKey("bars_1min")).get_partition_keys())  # type: ignore[union-attr]
        for p in parts
    ]
    window = load_config().window(3, Dataset.BARS_1MIN)
    assert window is not None and len(parts) > 1
    assert all(len(keys) * 3 * 390 <= 100_000 for keys in minute)
    flat = [k for keys in minute for k in keys]
    assert flat == sorted(flat) and len(flat) == len(set(flat))
    assert {k.path[-1] for k in parts[0].asset_graph_subset.asset_keys} == datasets  # type: ignore[union-attr]
    assert all({k.path[-1] for k in p.asset_graph_subset.asset_keys} == {"bars_1min"} for p in parts[1:])  # type: ignore[union-attr]


# SQLite serializes writers, so its ids always commit in order: this is a PostgreSQL case.
@pytest.mark.parametrize("market_db", ["postgresql"], indirect=True)
def test_events_committed_out_of_id_order_are_handled_once(universe: MarketDatabase) -> None:
    cursor = settle(universe)
    slow = universe.engine.connect()
    slow_tx = slow.begin()
    slow.execute(
        sa.text("UPDATE companies SET layer2_qualified = true WHERE symbol = 'L1S0'")
    )  # takes the lower id
    sql(universe, "UPDATE companies SET layer2_qualified = true WHERE symbol = 'L1S1'")  # commits first
    first = tick(universe, cursor)
    assert [
        backfill_requests.get(universe, int(r.tags["ai_trader/backfill_request"])).symbols
        for r in requests(first)
    ] == [("L1S1",)]
    assert Cursor.from_json(first.cursor).gaps  # the uncommitted id is remembered
    slow_tx.commit()
    slow.close()
    second = tick(universe, first.cursor)
    assert [
        backfill_requests.get(universe, int(r.tags["ai_trader/backfill_request"])).symbols
        for r in requests(second)
    ] == [("L1S0",)]
    assert not Cursor.from_json(second.cursor).gaps
    assert requests(tick(universe, second.cursor)) == []


def test_daily_schedule_requests_every_layer_on_sessions_only() -> None:
    schedule = automation_schedules().schedules[0]  # type: ignore[index]
    with dg.instance_for_test() as instance:
        on_session = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 20, 17, 30, tzinfo=dt.UTC)
        )
        requests = schedule(on_session)  # type: ignore[operator]
        holiday = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 26, 22, 30, tzinfo=dt.UTC)
        )
        skipped = schedule(holiday)  # type: ignore[operator]
    assert [r.partition_key for r in requests] == [f"2026-11-20|{layer}" for layer in range(4)]
    assert {k.path[-1] for k in requests[0].asset_selection} == {"bars_1day", "corporate_actions"}  # type: ignore[union-attr]
    assert isinstance(skipped, dg.SkipReason) and "not an NYSE session" in (skipped.skip_message or "")
