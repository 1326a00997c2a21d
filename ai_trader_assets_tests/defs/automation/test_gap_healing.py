"""Gap healing: exactly the partitions whose members lack data are backfilled, once, within a limit."""

import datetime as dt

import dagster as dg
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.defs.automation.sensors import build_gap_healing_sensor
from ai_trader_assets.storage import backfill_requests
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets_tests.support.sensors import evaluate

AS_OF = dt.date(2026, 11, 20)
MEMBERS = ["AAA", "BBB", "CCC"]
SENSOR = build_gap_healing_sensor(3600)


def tick(database: MarketDatabase, cursor: str | None) -> dg.SensorResult:
    return evaluate(SENSOR, database, cursor, AS_OF)


def test_only_missing_partitions_are_healed_once(
    market_db: MarketDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF.isoformat())
    CompaniesRepository(market_db).upsert([{"symbol": s, "layer": 1} for s in MEMBERS], source="test")
    config = load_config()
    ledger = Ledger(market_db)
    gap_session = calendar.previous_session(calendar.previous_session(AS_OF))
    # Everything layer 1 keeps hot is stored, except one session of bars_1day for CCC.
    for dataset in config.layers.layers[1].datasets:
        window = config.window(1, dataset)
        assert window is not None
        for session in calendar.sessions(AS_OF - dt.timedelta(days=window.hot_days - 1), AS_OF):
            symbols = [
                s
                for s in MEMBERS
                if not (dataset.value == "bars_1day" and session == gap_session and s == "CCC")
            ]
            with market_db.begin() as conn:  # fetched, with no rows (hot has nothing to hold)
                ledger.record(conn, dataset, session, dict.fromkeys(symbols, 0))
    first = tick(market_db, None)
    requests = list(first.run_requests or [])
    assert len(requests) == 1
    subset = requests[0].asset_graph_subset
    assert subset is not None and subset.asset_keys == {dg.AssetKey("bars_1day")}
    assert list(subset.get_partitions_subset(dg.AssetKey("bars_1day")).get_partition_keys()) == [
        f"{gap_session}|1"
    ]
    request = backfill_requests.get(market_db, int(requests[0].tags["ai_trader/backfill_request"]))
    assert request.symbols == ("CCC",) and request.layer == 1
    second = tick(market_db, first.cursor)  # still missing (the backfill is in flight): not relaunched
    assert list(second.run_requests or []) == []
