"""The policy grid sensor on a real Dagster instance: after it runs, a dataset's Missing count (the grid's
keys minus those materialized, as the UI counts) is exactly the sessions the policy wants and lacks;
the marks say why, are made once, within a per-tick limit, and follow the window as days pass."""

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from ai_trader_assets import calendar
from ai_trader_assets.config import DEFAULT_CONFIG_DIR, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.partitions import parse_partition_key, partition_key
from ai_trader_assets.defs.automation.policy_grid import build_policy_grid_sensor
from ai_trader_assets.defs.market_data.partitions import market_partitions
from ai_trader_assets.defs.platform.resources import MarketDatabaseResource, PlatformConfigResource
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.ledger import Ledger

AS_OF = dt.date(2026, 11, 20)
START = dt.date(2026, 9, 21)  # two months of grid: layer 0 keeps daily bars 30 days of them
UNIVERSE = {"AAPL": 3, "NVDA": 2, "IBM": 1, "F": 0, "GE": 0}
DAILY = Dataset.BARS_1DAY


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    pipeline = yaml.safe_load((folder / "pipeline.yaml").read_text())
    pipeline["partitions"]["start_date"] = START
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    return folder


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def tick(
    instance: dg.DagsterInstance,
    database: MarketDatabase,
    config_dir: Path,
    cursor: str | None,
    as_of: dt.date,
) -> dg.SensorResult:
    """One evaluation, its events stored the way the daemon stores them."""
    resources = {
        "platform": PlatformConfigResource(config_dir=str(config_dir), as_of=as_of.isoformat()),
        "market_db": MarketDatabaseResource(
            url=database.url.render_as_string(hide_password=False), config_dir=str(config_dir)
        ),
    }
    sensor = build_policy_grid_sensor(300, max_cells_per_tick=40)
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        data = sensor.evaluate_tick(context)
    for event in data.asset_events:
        instance.report_runless_asset_event(event)
    return dg.SensorResult(
        asset_events=list(data.asset_events), cursor=data.cursor, skip_reason=data.skip_message
    )


def missing(instance: dg.DagsterInstance, config_dir: Path, dataset: Dataset, as_of: dt.date) -> int:
    """What the partitions view counts as missing: the grid's keys not materialized."""
    config = load_config(config_dir)
    keys = set(market_partitions(config.partitions_start(as_of), as_of).get_partition_keys())
    return len(keys - instance.get_materialized_partitions(dg.AssetKey(dataset.value)))


def test_missing_is_what_the_policy_wants_and_lacks(
    instance: dg.DagsterInstance, market_db: MarketDatabase, config_dir: Path
) -> None:
    CompaniesRepository(market_db).upsert(
        [{"symbol": s, "layer": n} for s, n in UNIVERSE.items()], source="test"
    )
    config = load_config(config_dir)
    stored = calendar.sessions(dt.date(2026, 11, 16), AS_OF)
    # Runs stored the last week's daily bars of layers 0 and 3 (F but not GE: layer 0's are not whole).
    with market_db.begin() as conn:
        for session in stored:
            Ledger(market_db).record(conn, DAILY, session, {"AAPL": 1, "F": 1})
    for session in stored:
        for layer in (0, 3):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(DAILY.value, partition=f"{session}|{layer}")
            )
    grid = calendar.sessions(START, AS_OF)
    layer0 = calendar.sessions(AS_OF - dt.timedelta(days=29), AS_OF)  # layer 0 keeps daily bars 30 days
    assert config.partitions_start(AS_OF) == START  # the floor: the longest window reaches further back

    first = tick(instance, market_db, config_dir, None, AS_OF)
    marks = [e for e in first.asset_events if isinstance(e, dg.AssetMaterialization)]
    assert len(marks) == 40  # the per-tick limit; the rest follow
    cursor, events = first.cursor, list(first.asset_events)
    while (result := tick(instance, market_db, config_dir, cursor, AS_OF)).asset_events:
        cursor = result.cursor
        events += result.asset_events
    assert result.skip_reason and "every cell the policy does not want is marked" in str(
        result.skip_reason.skip_message
    )

    unwanted = len(grid) - len(layer0)
    # Daily bars: layer 0's older sessions are marked; every other cell is wanted.
    daily_marked = instance.get_materialized_partitions(dg.AssetKey(DAILY.value))
    assert {partition_key(s, 0) for s in grid if s not in layer0} <= daily_marked
    wanted_lacking = (len(layer0) - len(stored)) + 2 * len(grid) + (len(grid) - len(stored))
    # Layer 0's stored week counts as stored in the grid but not in the ledger (GE has none): the
    # view is honest about cells, the counts about members.
    assert missing(instance, config_dir, DAILY, AS_OF) == wanted_lacking
    observation = next(
        e
        for e in first.asset_events
        if isinstance(e, dg.AssetObservation) and e.asset_key.path == [DAILY.value]
    )
    counts = {k: v.value for k, v in observation.metadata.items()}
    assert counts["layer 0 sessions wanted"] == len(layer0) and counts["layer 0 sessions stored"] == 0
    assert counts["layer 3 sessions wanted"] == len(grid) and counts["layer 3 sessions stored"] == len(stored)
    assert counts["sessions missing"] == wanted_lacking + len(stored)  # GE lacks layer 0's stored week
    assert len(grid) - len(layer0) == unwanted > 0

    # Ticks: only layer 3 ingests them; the other layers' cells are all marked, with the reason.
    ticks = calendar.sessions(AS_OF - dt.timedelta(days=6), AS_OF)  # layer 3 keeps ticks 7 days
    assert missing(instance, config_dir, Dataset.TICKS, AS_OF) == len(ticks)  # layer 3's, none stored
    ticks_marks = [
        e
        for e in events
        if isinstance(e, dg.AssetMaterialization) and e.asset_key.path == [Dataset.TICKS.value]
    ]
    assert all(m.metadata["policy"].value == "not wanted" for m in ticks_marks)
    reasons = {
        (parse_partition_key(str(m.partition))[1], str(m.metadata["reason"].value)) for m in ticks_marks
    }
    assert len(ticks_marks) == 3 * len(grid) + len(grid) - len(ticks)  # layers 0-2 whole, layer 3's old
    assert reasons == {
        *((layer, f"layer {layer} does not ingest ticks (layers.yaml)") for layer in (0, 1, 2)),
        (3, "layer 3 keeps ticks 7 days (retention.yaml)"),
    }

    # A day later one more layer-0 session leaves the 30-day window, and tomorrow's cells of the
    # layers that do not ingest a dataset are marked: nothing else.
    tomorrow = calendar.session_on_or_after(AS_OF + dt.timedelta(days=1))
    later = tick(instance, market_db, config_dir, cursor, tomorrow)
    new_marks = {
        (e.asset_key.path[-1], e.partition)
        for e in later.asset_events
        if isinstance(e, dg.AssetMaterialization)
    }
    leaving = calendar.sessions(layer0[0], tomorrow - dt.timedelta(days=31))  # layer 0's 30-day window moved
    assert {p for a, p in new_marks if a == DAILY.value} == {partition_key(s, 0) for s in leaving}
    # Ticks: tomorrow's cells of layers 0-2, and the session leaving layer 3's 7-day window.
    assert {p for a, p in new_marks if a == Dataset.TICKS.value} == {
        *(partition_key(tomorrow, layer) for layer in (0, 1, 2)),
        partition_key(ticks[0], 3),
    }
    assert not any(p == partition_key(tomorrow, 3) for _, p in new_marks)
