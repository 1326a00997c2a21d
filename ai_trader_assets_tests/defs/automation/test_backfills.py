"""The internal-API module: a run request that launches a backfill of exactly the given partitions."""

import datetime as dt

import dagster as dg

from ai_trader_assets.defs.automation.backfills import backfill_run_request
from ai_trader_assets.defs.market_data.partitions import market_partitions


def test_backfill_run_request_carries_the_partitions_and_tags() -> None:
    partitions = market_partitions(dt.date(2026, 10, 1), dt.date(2026, 11, 20))
    keys = {"bars_1day": ["2026-11-19|2", "2026-11-20|2"], "news": ["2026-11-20|2"], "bars_1min": []}
    request = backfill_run_request(partitions, keys, {"ai_trader/backfill_request": "7"})
    assert request.requires_backfill_daemon()
    subset = request.asset_graph_subset
    assert subset is not None
    assert subset.asset_keys == {dg.AssetKey("bars_1day"), dg.AssetKey("news")}
    assert set(subset.get_partitions_subset(dg.AssetKey("bars_1day")).get_partition_keys()) == set(
        keys["bars_1day"]
    )
    assert request.tags == {"ai_trader/backfill_request": "7"}
