"""Adjustment at read against independently computed expectations: a synthetic split and dividend, and
Apple's 2020 4:1 split and $0.205 dividend as Yahoo recorded them (raw storage, adjusted output)."""

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import BAR_COLUMNS
from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTION_COLUMNS
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.read import MarketData, ReadError
from ai_trader_assets.read.adjustment import REFERENCE_CLOSE_DAYS, closes_before
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.tables import lake_tables

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
YAHOO_AAPL = FIXTURES / "yahoo" / "chart_AAPL_1d_2020-08-31_2020-11-07_split_and_dividend.json"
TODAY = dt.date(2026, 11, 20)


def bars(symbol: str, sessions: list[dt.date], closes: list[float], volumes: list[float]) -> pd.DataFrame:
    closes_array = np.asarray(closes, dtype="float64")
    frame = pd.DataFrame(
        {
            "symbol": symbol,
            "ts": [pd.Timestamp(calendar.session_midnight_utc(s)) for s in sessions],
            "open": closes_array * 0.99,
            "high": closes_array * 1.01,
            "low": closes_array * 0.98,
            "close": closes_array,
            "volume": np.asarray(volumes, dtype="float64"),
            "vwap": closes_array,
            "trade_count": 1000,
            "source": "test",
            "ingested_at": pd.Timestamp("2026-11-20", tz="UTC"),
        }
    )
    return conform(frame, BAR_COLUMNS)


def action(symbol: str, kind: str, ex_date: dt.date, **values: float) -> dict[str, object]:
    return {
        "id": f"{symbol}-{kind}-{ex_date}",
        "symbol": symbol,
        "action_type": kind,
        "ex_date": ex_date,
        "split_from": values.get("split_from"),
        "split_to": values.get("split_to"),
        "cash_amount": values.get("cash_amount"),
        "currency": "USD",
        "declaration_date": None,
        "record_date": None,
        "pay_date": None,
        "source": "test",
        "ingested_at": pd.Timestamp("2026-11-20", tz="UTC"),
    }


def store(
    database: MarketDatabase, lake: Lake, daily: pd.DataFrame, actions: list[dict[str, object]]
) -> None:
    """Daily bars cold, actions half cold and half hot (a read must see both)."""
    tables = lake_tables(lake, load_config(), database)
    tables.store(Dataset.BARS_1DAY, daily, 3, Commit("test", "bars"))
    frame = conform(pd.DataFrame(actions), CORPORATE_ACTION_COLUMNS)
    tables.store(Dataset.CORPORATE_ACTIONS, frame.iloc[:1], 3, Commit("test", "actions"))
    with database.begin() as conn:
        HotStore(database).upsert(conn, Dataset.CORPORATE_ACTIONS, frame.iloc[1:])


SPLIT_DAY, DIVIDEND_DAY = dt.date(2026, 10, 15), dt.date(2026, 10, 22)
OCTOBER = calendar.sessions(dt.date(2026, 10, 1), dt.date(2026, 10, 30))


@pytest.fixture
def synthetic(market_db: MarketDatabase, tmp_path: Path) -> MarketData:
    CompaniesRepository(market_db).upsert([{"symbol": "XYZ", "layer": 3}], source="test")
    closes = [100.0 + i if s < SPLIT_DAY else 50.0 + i for i, s in enumerate(OCTOBER)]
    volumes = [1_000.0 if s < SPLIT_DAY else 2_000.0 for s in OCTOBER]
    lake = Lake(str(tmp_path / "lake"))
    store(
        market_db,
        lake,
        bars("XYZ", OCTOBER, closes, volumes),
        [
            action("XYZ", "split", SPLIT_DAY, split_from=1, split_to=2),
            action("XYZ", "dividend", DIVIDEND_DAY, cash_amount=0.5),
        ],
    )
    return MarketData(market_db, lake, today=TODAY)


def expected_factors(as_of: dt.date, dividends: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per October session: (price factor, volume factor), written out from the definitions."""
    reference = 50.0 + OCTOBER.index(calendar.previous_session(DIVIDEND_DAY))  # raw close before ex-date
    prices, volumes = [], []
    for session in OCTOBER:
        price, volume = 1.0, 1.0
        if session < SPLIT_DAY <= as_of:
            price, volume = price / 2, volume * 2
        if dividends and session < DIVIDEND_DAY <= as_of:
            price *= 1 - 0.5 / reference
        prices.append(price)
        volumes.append(volume)
    return np.array(prices), np.array(volumes)


@pytest.mark.parametrize(
    ("adjust", "as_of"),
    [
        ("splits", TODAY),
        ("all", TODAY),
        ("all", dt.date(2026, 10, 20)),  # after the split, before the dividend
        ("all", dt.date(2026, 10, 14)),  # before both: the raw series
    ],
)
def test_adjusted_prices_and_volumes_match_the_definitions(
    synthetic: MarketData, adjust: str, as_of: dt.date
) -> None:
    raw = synthetic.bars("XYZ", "1day", OCTOBER[0], OCTOBER[-1])
    adjusted = synthetic.bars("XYZ", "1day", OCTOBER[0], OCTOBER[-1], adjust=adjust, as_of=as_of)
    price, volume = expected_factors(as_of, dividends=adjust == "all")
    for column in ("open", "high", "low", "close", "vwap"):
        np.testing.assert_allclose(adjusted[column], raw[column] * price, rtol=1e-12)
    np.testing.assert_allclose(adjusted["volume"], raw["volume"] * volume, rtol=1e-12)
    assert adjusted["trade_count"].tolist() == raw["trade_count"].tolist()


def test_the_factors_are_listed_per_action(synthetic: MarketData) -> None:
    factors = synthetic.adjustment_factors("XYZ", OCTOBER[0], OCTOBER[-1])
    assert factors["action_type"].tolist() == ["split", "dividend"]
    assert factors["price_factor"].iloc[0] == 0.5 and factors["volume_factor"].iloc[0] == 2.0
    reference = 50.0 + OCTOBER.index(calendar.previous_session(DIVIDEND_DAY))
    assert factors["reference_close"].iloc[1] == reference
    assert factors["price_factor"].iloc[1] == pytest.approx(1 - 0.5 / reference, rel=1e-12)
    before_both = synthetic.adjustment_factors("XYZ", OCTOBER[0], OCTOBER[-1], as_of=dt.date(2026, 10, 14))
    assert before_both.empty


def test_a_dividend_without_a_close_before_it_cannot_be_adjusted(
    market_db: MarketDatabase, tmp_path: Path
) -> None:
    CompaniesRepository(market_db).upsert([{"symbol": "XYZ", "layer": 3}], source="test")
    late = OCTOBER[10:]
    lake = Lake(str(tmp_path / "lake"))
    store(
        market_db,
        lake,
        bars("XYZ", late, [50.0] * len(late), [1.0] * len(late)),
        [
            action("XYZ", "split", SPLIT_DAY, split_from=1, split_to=2),
            action("XYZ", "dividend", OCTOBER[10], cash_amount=0.5),
        ],
    )
    data = MarketData(market_db, lake, today=TODAY)
    with pytest.raises(ReadError, match=r"0.5 dividend ex 2026-10-15: no daily bar before the ex-date"):
        data.bars("XYZ", "1day", OCTOBER[0], OCTOBER[-1], adjust="all")


def yahoo_chart() -> pd.DataFrame:
    body = json.loads(YAHOO_AAPL.read_text())["chart"]["result"][0]
    quote, adjclose = body["indicators"]["quote"][0], body["indicators"]["adjclose"][0]["adjclose"]
    stamps = pd.to_datetime(body["timestamp"], unit="s", utc=True)
    return pd.DataFrame(
        {
            "session": stamps.tz_convert("America/New_York").date,
            **{k: np.asarray(quote[k], dtype="float64") for k in ("open", "high", "low", "close", "volume")},
            "adjclose": np.asarray(adjclose, dtype="float64"),
        }
    )


def test_apple_2020_matches_yahoo_adjusted_closes_up_to_a_constant(
    market_db: MarketDatabase, tmp_path: Path
) -> None:
    chart = yahoo_chart()
    split = dt.date(2020, 8, 31)
    # Yahoo's prices are split-adjusted: undo the split for sessions before it (none in this range,
    # which starts on the ex-date) to store raw prices.
    ratio = np.where(chart["session"] < split, 4.0, 1.0)
    raw = bars("AAPL", list(chart["session"]), list(chart["close"] * ratio), list(chart["volume"] / ratio))
    CompaniesRepository(market_db).upsert([{"symbol": "AAPL", "layer": 3}], source="test")
    lake = Lake(str(tmp_path / "lake"))
    store(
        market_db,
        lake,
        raw,
        [
            action("AAPL", "split", split, split_from=1, split_to=4),
            action("AAPL", "dividend", dt.date(2020, 11, 6), cash_amount=0.205),
        ],
    )
    data = MarketData(market_db, lake, today=TODAY)
    first, last = chart["session"].iloc[0], chart["session"].iloc[-1]
    adjusted = data.bars("AAPL", "1day", first, last, adjust="all")
    assert len(adjusted) == len(chart) == 49
    ratios = adjusted["close"].to_numpy() / chart["adjclose"].to_numpy()
    # Yahoo's adjusted close also holds the dividends paid after this range: one constant factor.
    assert np.ptp(ratios) / ratios.mean() < 1e-6
    assert not np.allclose(adjusted["close"], raw["close"])  # the dividend did change the early sessions

    unadjusted = data.bars("AAPL", "1day", first, last, adjust="all", as_of=dt.date(2020, 8, 28))
    np.testing.assert_array_equal(unadjusted["close"].to_numpy(), raw["close"].to_numpy())


def test_a_dividends_reference_close_is_the_last_daily_close_within_ten_days_before_its_ex_date() -> None:
    """``closes_before`` against a plain loop, over several symbols' daily bars in read order (sorted by
    symbol, then time, not by session overall), with gaps longer than the ten-day reach."""
    rng = np.random.default_rng(3)
    every = calendar.sessions(dt.date(2026, 1, 2), dt.date(2026, 6, 30))
    rows, dividends = [], []
    for symbol in ("AAA", "BBB", "CCC", "DDD"):
        kept = sorted(rng.choice(len(every), size=60, replace=False))  # gaps of up to weeks
        rows += [(symbol, every[i], float(rng.uniform(10, 500))) for i in kept]
        dividends += [(symbol, every[i]) for i in rng.choice(len(every), size=8, replace=False)]
    daily = pl.DataFrame(rows, schema=["symbol", "session", "close"], orient="row")
    wanted = pl.DataFrame(dividends, schema=["symbol", "ex_date"], orient="row")

    expected = {}
    for symbol, ex_date in dividends:
        before = [
            (session, close)
            for s, session, close in rows
            if s == symbol and ex_date - dt.timedelta(days=REFERENCE_CLOSE_DAYS + 1) <= session < ex_date
        ]
        if before:
            expected[(symbol, ex_date)] = max(before)[1]
    found = closes_before(wanted, daily)
    assert dict(
        zip(zip(found["symbol"], found["ex_date"], strict=True), found["reference_close"], strict=True)
    ) == (expected)
    assert 0 < len(expected) < len(dividends)  # some found, some too far from any bar
