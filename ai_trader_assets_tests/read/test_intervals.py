"""Bars built on read: which intervals are accepted, and which trades count (no storage needed)."""

import datetime as dt

import polars as pl
import pytest

from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.resample import bars_from_bars
from ai_trader_assets.read.intervals import bars_from_trades, parse_interval

SESSION = dt.date(2026, 11, 20)
OPEN = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)  # 09:30 New York


def test_intervals_are_clock_aligned_divisors_of_the_minute_or_the_hour() -> None:
    assert parse_interval("10s") == parse_interval("10 seconds")
    assert parse_interval("10s").source == Dataset.TICKS  # type: ignore[union-attr]
    assert parse_interval("15min").source == Dataset.BARS_1MIN  # type: ignore[union-attr]
    assert parse_interval("15min", Dataset.BARS_5MIN).seconds == 900  # type: ignore[union-attr]
    assert parse_interval("1week") is None
    for bad, why in [("7s", "divide a minute"), ("7min", "divide an hour"), ("2min", "multiple of 5")]:
        with pytest.raises(ValueError, match=why):
            parse_interval(bad, Dataset.BARS_5MIN)


def trade(
    second: float, price: float, size: float, conditions: str = "", correction: int | None = None
) -> dict:  # type: ignore[type-arg]
    ts = OPEN + dt.timedelta(seconds=second)
    return {
        "symbol": "AAPL",
        "ts": ts,
        "sip_timestamp": int(ts.timestamp() * 1e9),
        "price": price,
        "size": size,
        "conditions": conditions,
        "correction": correction,
        "regular_hours": True,
        "source": "test",
        "session": SESSION,
    }


def test_trades_count_by_their_conditions_and_corrections() -> None:
    trades = pl.DataFrame(
        [
            trade(0.5, 10.0, 100),
            trade(1.0, 12.0, 5, conditions="37"),  # odd lot: volume yes, prices no
            trade(2.0, 9.0, 100, correction=8),  # cancelled: nothing
            trade(3.0, 11.0, 50, conditions="14"),  # intermarket sweep: everything
            trade(4.0, 10.5, 30, conditions="12"),  # Form T: volume only
            trade(12.0, 10.8, 10),  # the next 10-second bar
        ]
    ).with_columns(pl.col("ts").dt.cast_time_unit("us"), pl.col("correction").cast(pl.Int64))
    bars = bars_from_trades(trades, 10)
    assert bars["ts"].to_list() == [OPEN, OPEN + dt.timedelta(seconds=10)]
    first = bars.row(0, named=True)
    assert (first["open"], first["high"], first["low"], first["close"]) == (10.0, 11.0, 10.0, 11.0)
    assert first["volume"] == 185 and first["trade_count"] == 4
    assert first["vwap"] == pytest.approx((10 * 100 + 12 * 5 + 11 * 50 + 10.5 * 30) / 185)
    # Only intervals that have ended are returned.
    assert bars_from_trades(trades, 10, now=OPEN + dt.timedelta(seconds=15)).height == 1


def test_minute_bars_aggregate_into_longer_ones() -> None:
    minutes = pl.DataFrame(
        {
            "symbol": ["AAPL"] * 3,
            "ts": [OPEN + dt.timedelta(minutes=m) for m in (0, 1, 2)],
            "open": [1.0, 2.0, 3.0],
            "high": [2.0, 5.0, 3.5],
            "low": [0.5, 1.5, 2.5],
            "close": [2.0, 3.0, 3.2],
            "volume": [10.0, 30.0, 20.0],
            "vwap": [1.5, 2.5, 3.0],
            "trade_count": [1, 3, 2],
            "source": ["test"] * 3,
            "session": [SESSION] * 3,
        }
    ).with_columns(pl.col("ts").dt.cast_time_unit("us"))
    bars = bars_from_bars(minutes, 120)
    assert bars["ts"].to_list() == [OPEN, OPEN + dt.timedelta(minutes=2)]
    assert bars.row(0, named=True) | {"session": None} == {
        "symbol": "AAPL", "ts": OPEN, "open": 1.0, "high": 5.0, "low": 0.5, "close": 3.0, "volume": 40.0,
        "vwap": (1.5 * 10 + 2.5 * 30) / 40, "trade_count": 4, "source": "test", "session": None,
    }  # fmt: skip


def test_a_bar_built_from_bars_without_vwap_has_no_vwap_rather_than_a_partial_one() -> None:
    minutes = pl.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "AAPL"],
            "ts": [OPEN, OPEN + dt.timedelta(minutes=1), OPEN + dt.timedelta(minutes=2)],
            "open": [1.0, 2.0, 3.0],
            "high": [2.0, 5.0, 3.5],
            "low": [0.5, 1.5, 2.5],
            "close": [2.0, 3.0, 3.2],
            "volume": [10.0, 30.0, 0.0],
            "vwap": [1.5, None, None],  # Massive's flat files carry no VWAP at all
            "trade_count": [1, 3, 0],
            "source": ["test"] * 3,
            "session": [SESSION] * 3,
        }
    ).with_columns(pl.col("ts").dt.cast_time_unit("us"))
    bars = bars_from_bars(minutes, 120)
    # The first bar's second minute had volume but no VWAP: its VWAP is unknown; the second bar's
    # only minute had no volume, so no VWAP either way.
    assert bars["vwap"].to_list() == [None, None]
    assert bars["volume"].to_list() == [40.0, 0.0]
