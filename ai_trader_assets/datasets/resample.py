"""Bars of a longer interval from shorter stored ones (1-minute to 5-minute, hourly, 15-minute...),
one rule for everyone who builds them: the read side (``bars --interval 15min``) and providers whose
source only has 1-minute bars (Massive flat files).

- A bar is labelled by the start of its interval, clock-aligned in UTC (New York's offset is whole
  hours, so an hourly bar starts at :00 New York time and a session's first one covers 09:30-10:00);
  an interval with no shorter bar is omitted, never filled.
- First open, max high, min low, last close, summed volume and trades, volume-weighted VWAP: unknown
  (null) when a shorter bar with volume has no VWAP, never a figure computed from part of the volume.
- With ``now``, only intervals that have ended by then.
"""

import datetime as dt

import polars as pl

from ai_trader_assets.datasets.bars import READ_COLUMNS


def bars_from_bars(bars: pl.DataFrame, seconds: int, now: dt.datetime | None = None) -> pl.DataFrame:
    """Bars of ``seconds`` from shorter bars (the bar columns plus ``session``), sorted by (symbol, ts)."""
    every = f"{seconds}s"
    volume, vwap = pl.col("volume"), pl.col("vwap")
    grouped = (
        bars.lazy()
        .sort("symbol", "ts")
        .with_columns(pl.col("ts").dt.truncate(every).alias("bar"))
        .group_by("symbol", "bar", maintain_order=True)
        .agg(
            pl.col("session").first(),
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            volume.sum(),
            (vwap * volume).sum().alias("notional"),
            (vwap.is_null() & (volume > 0)).any().alias("vwap_unknown"),
            pl.col("trade_count").sum(),
            pl.col("source").first(),
        )
        .with_columns(
            pl.when((volume > 0) & ~pl.col("vwap_unknown")).then(pl.col("notional") / volume).alias("vwap"),
            pl.col("bar").alias("ts"),
        )
    )
    return ended(grouped, seconds, now).select(*READ_COLUMNS, "session").sort("symbol", "ts").collect()


def ended(bars: pl.LazyFrame, seconds: int, now: dt.datetime | None) -> pl.LazyFrame:
    """The bars (labelled ``bar``) whose interval of ``seconds`` has ended by ``now`` (all: None)."""
    if now is None:
        return bars
    return bars.filter(
        pl.col("bar") + pl.duration(seconds=seconds) <= pl.lit(now).cast(pl.Datetime("us", "UTC"))
    )
