"""The ticks_match_bars comparison: exact trades pass, a bar the trades do not support fails."""

import datetime as dt

import polars as pl

from ai_trader_assets.ops.ticks_vs_bars import MinuteMatch

OPEN = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)


def trades(minutes: int) -> pl.DataFrame:
    rows = [
        {
            "symbol": "AAPL",
            "ts": OPEN + dt.timedelta(minutes=m, seconds=s),
            "sip_timestamp": int((OPEN + dt.timedelta(minutes=m, seconds=s)).timestamp() * 1e9),
            "price": 10.0 + m + s / 100,
            "size": 100.0,
            "conditions": "",
            "correction": None,
            "regular_hours": True,
            "source": "test",
            "session": OPEN.date(),
        }
        for m in range(minutes)
        for s in (1, 30, 59)
    ]
    return pl.DataFrame(rows).with_columns(
        pl.col("ts").dt.cast_time_unit("us"), pl.col("correction").cast(pl.Int64)
    )


def bars(minutes: int, close_shift: float = 0.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "symbol": ["AAPL"] * minutes,
            "ts": [OPEN + dt.timedelta(minutes=m) for m in range(minutes)],
            "open": [10.0 + m + 0.01 for m in range(minutes)],
            "high": [10.0 + m + 0.59 for m in range(minutes)],
            "low": [10.0 + m + 0.01 for m in range(minutes)],
            "close": [10.0 + m + 0.59 + (close_shift if m == 0 else 0.0) for m in range(minutes)],
            "volume": [300.0] * minutes,
        }
    ).with_columns(pl.col("ts").dt.cast_time_unit("us"))


def test_trades_that_build_the_bars_pass_and_a_bar_off_by_more_than_the_tolerance_fails() -> None:
    exact = MinuteMatch()
    exact.add(trades(60), bars(60))
    assert exact.passed and exact.compared == 60 and exact.mismatched == 0 and exact.max_price_diff < 1e-12
    off = MinuteMatch()
    off.add(trades(10), bars(10, close_shift=1.0))  # one minute in ten: over the 2 % allowed
    assert not off.passed and off.mismatched == 1 and "AAPL" in off.metadata()["worst minutes"]  # type: ignore[operator]
    missing = MinuteMatch()
    missing.add(trades(10), bars(9))  # a minute traded with no stored bar
    assert not missing.passed and missing.only_trades == 1
