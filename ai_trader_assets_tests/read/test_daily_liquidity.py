"""``daily_liquidity``: a downstream asset that reads ``bars_1day`` through the IO manager
(MarketData, split-adjusted, with a 19-session lookback) and is stored through it."""

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.defs.analytics.assets import daily_liquidity_asset
from ai_trader_assets.defs.platform.definitions import resources
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.derived import DerivedTable
from ai_trader_assets_tests.support.lake import demo_frame
from ai_trader_assets_tests.support.platform import Platform

AS_OF = dt.date(2026, 11, 20)
SYMBOLS = ["AAPL", "MSFT"]


@pytest.fixture
def platform(market_db: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", market_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_LAKE_URL", str(tmp_path / "lake"))
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF.isoformat())
    CompaniesRepository(market_db).upsert([{"symbol": s, "layer": 3} for s in SYMBOLS], source="test")
    return Platform(market_db, Lake(str(tmp_path / "lake")), AS_OF)


def test_daily_liquidity_averages_twenty_sessions_of_bars_read_through_the_io_manager(
    platform: Platform,
) -> None:
    sessions = calendar.sessions(AS_OF - dt.timedelta(days=60), AS_OF)
    first, reported = sessions[-25], sessions[-3:]
    assert platform.materialize(Dataset.BARS_1DAY, f"{first}|3", f"{AS_OF}|3").success
    upstream = platform.asset(Dataset.BARS_1DAY)
    definitions = dg.Definitions(assets=[upstream, daily_liquidity_asset], resources=resources().resources)
    job = definitions.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey("daily_liquidity")],
            tags={
                "dagster/asset_partition_range_start": f"{reported[0]}|3",
                "dagster/asset_partition_range_end": f"{reported[-1]}|3",
            },
        )
    assert result.success
    stored = DerivedTable(platform.lake, "daily_liquidity").read(reported, [3])
    assert sorted(zip(stored["symbol"], stored["session"], strict=True)) == [
        (s, d) for s in SYMBOLS for d in reported
    ]

    # Independently: the demo provider's raw bars (no split in this window), 20-session means.
    actions = demo_frame(Dataset.CORPORATE_ACTIONS, SYMBOLS, first, AS_OF)
    assert not (actions["action_type"] == "split").any()
    bars = demo_frame(Dataset.BARS_1DAY, SYMBOLS, first, AS_OF)
    bars["session"] = bars["ts"].dt.tz_convert("America/New_York").dt.date
    for row in stored.itertuples(index=False):
        window = [s for s in sessions if s <= row.session][-20:]
        mine = bars[(bars["symbol"] == row.symbol) & bars["session"].isin(window)]
        assert row.sessions_counted == 20
        np.testing.assert_allclose(row.avg_volume_20, mine["volume"].mean(), rtol=1e-12)
        np.testing.assert_allclose(
            row.avg_dollar_volume_20, (mine["close"] * mine["volume"]).mean(), rtol=1e-12
        )


def test_daily_liquidity_is_in_the_code_locations_lineage() -> None:
    from ai_trader_assets.definitions import defs

    graph = defs().resolve_asset_graph()
    upstream = graph.get(dg.AssetKey("daily_liquidity")).parent_keys
    assert upstream == {dg.AssetKey("bars_1day")}
