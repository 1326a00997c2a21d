"""A slice of many small partitions (daily bars) is validated as one frame, yet a bad row is still
quarantined under its own partition and its neighbours are stored whole: in the lake, in hot
storage and in coverage, on both engines."""

import datetime as dt
from pathlib import Path

import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.partitions import PartitionData
from ai_trader_assets.datasets.validation import EMPTY_REJECTS
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.writer import PartitionWriter, WriteTotals
from ai_trader_assets_tests.storage.test_hot import daily_bars

DAY = Dataset.BARS_1DAY
SESSIONS = calendar.sessions(dt.date(2026, 11, 16), dt.date(2026, 11, 20))
TODAY = dt.date(2026, 11, 20)


def partitions(frame: pd.DataFrame) -> list[PartitionData]:
    sessions = frame["ts"].dt.tz_convert(calendar.NEW_YORK).dt.date
    return [
        PartitionData(
            DAY, session, 1, rows.reset_index(drop=True), dict.fromkeys(["AAA", "BBB"], 1), EMPTY_REJECTS
        )
        for session in SESSIONS
        if len(rows := frame[(sessions == session).to_numpy()])
    ]


def test_a_bad_row_is_quarantined_under_its_own_partition(market_db: MarketDatabase, tmp_path: Path) -> None:
    writer = PartitionWriter(market_db, Lake(str(tmp_path / "lake")), load_config(), TODAY, "test")
    clean = daily_bars(["AAA", "BBB"], 10.0)
    writer.write(partitions(clean), totals := WriteTotals())
    assert (totals.rows_cold, totals.rows_hot, totals.rows_quarantined) == (10, 10, 0)

    broken = daily_bars(["AAA", "BBB"], 12.0)
    broken.loc[3, "high"] = 1.0  # AAA's 2026-11-19 (AAA's five sessions, then BBB's)
    repeated = pd.concat([broken, broken.iloc[[9]]], ignore_index=True)  # BBB's 2026-11-20, twice
    writer.write(partitions(repeated), totals := WriteTotals())
    assert (totals.rows_cold, totals.rows_quarantined) == (9, 2)

    quarantined = Ledger(market_db).quarantined(DAY).sort_values("partition_key")
    assert quarantined["partition_key"].tolist() == ["2026-11-19|1", "2026-11-20|1"]
    assert "high below max(open, close)" in quarantined["reason"].iloc[0]
    assert "duplicate (symbol, ts)" in quarantined["reason"].iloc[1]
    hot = HotStore(market_db).read(DAY)
    days = hot["ts"].dt.tz_convert(calendar.NEW_YORK).dt.date
    closes = {(m, d): c for m, d, c in zip(hot["symbol"], days, hot["close"], strict=True)}
    assert closes[("AAA", dt.date(2026, 11, 19))] == 10.0  # the bad row replaced nothing
    assert closes[("BBB", dt.date(2026, 11, 20))] == 12.0  # the first of the repeated key was stored
    assert sum(close == 12.0 for close in closes.values()) == 9
