"""Hot writes of bars: a first fill is COPYed straight into the table on PostgreSQL; a key another run
wrote between the check and the COPY rolls the COPY back to its savepoint and the rows are upserted
instead; a second write replaces by key. Both engines end with the same rows."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import BAR_COLUMNS, BAR_TABLES
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import HotStore

SESSIONS = calendar.sessions(dt.date(2026, 11, 16), dt.date(2026, 11, 20))


def daily_bars(symbols: list[str], close: float) -> pd.DataFrame:
    rows = [(m, pd.Timestamp(calendar.session_midnight_utc(s))) for m in symbols for s in SESSIONS]
    closes = np.full(len(rows), close)
    frame = pd.DataFrame(
        {
            "symbol": [m for m, _ in rows],
            "ts": [t for _, t in rows],
            "open": closes,
            "high": closes + 1,
            "low": closes - 1,
            "close": closes,
            "volume": 1_000.0,
            "vwap": closes,
            "trade_count": 10,
            "source": "test",
            "ingested_at": pd.Timestamp("2026-11-20", tz="UTC"),
        }
    )
    return conform(frame, BAR_COLUMNS)


def stored(database: MarketDatabase) -> dict[str, float]:
    table = BAR_TABLES[Dataset.BARS_1DAY]
    with database.begin() as conn:
        rows = conn.execute(sa.select(table.c.symbol, table.c.close)).all()
    closes: dict[str, float] = {}
    for row in rows:
        closes.setdefault(row.symbol, float(row.close))
        assert closes[row.symbol] == float(row.close), row  # every session of a symbol alike here
    return closes


def count(database: MarketDatabase) -> int:
    with database.begin() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(BAR_TABLES[Dataset.BARS_1DAY])).scalar_one()
        )


def test_a_first_fill_then_a_rewrite_then_a_key_written_meanwhile(
    market_db: MarketDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    hot = HotStore(market_db)
    with market_db.begin() as conn:
        assert hot.upsert(conn, Dataset.BARS_1DAY, daily_bars(["AAA", "BBB"], 10.0)) == 10
    assert count(market_db) == 10 and stored(market_db) == {"AAA": 10.0, "BBB": 10.0}

    with market_db.begin() as conn:  # the same keys again: replaced, not doubled
        hot.upsert(conn, Dataset.BARS_1DAY, daily_bars(["AAA"], 11.0))
    assert count(market_db) == 10 and stored(market_db) == {"AAA": 11.0, "BBB": 10.0}

    # Another run stored BBB after this one looked: the check says "first fill", the COPY meets the
    # key, rolls back to its savepoint, and the rows are upserted in the same transaction.
    monkeypatch.setattr(HotStore, "_first_fill", staticmethod(lambda *_: True))
    with market_db.begin() as conn:
        hot.upsert(conn, Dataset.BARS_1DAY, daily_bars(["BBB", "CCC"], 12.0))
        conn.execute(sa.text("SELECT 1"))  # the transaction is still usable
    assert count(market_db) == 15 and stored(market_db) == {"AAA": 11.0, "BBB": 12.0, "CCC": 12.0}
