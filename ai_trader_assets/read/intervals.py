"""Bars at intervals the store does not hold, built on read: from trades below a minute, from
stored 1-minute (or 5-minute) bars for multiples of a minute (:mod:`ai_trader_assets.datasets.resample`).

Semantics (the same for every derived interval):
- Regular hours only (like the stored intraday bars): ``regular_hours`` trades, bars of the session.
- Which trades count (:mod:`ai_trader_assets.datasets.conditions`): trades cancelled or in error
  (correction 7-11) never; a trade sets open/close only when none of its conditions blocks the last
  price, high/low only when none blocks high/low, and counts in volume, VWAP and trade count only when
  none blocks volume (e.g. odd lots count in volume but do not set prices).
- A bar is labelled by the start of its interval, clock-aligned in UTC (New York's offset is whole
  hours, so a 15-minute bar starts at :00, :15, :30, :45); an interval with no price-setting trade
  (or no stored bar) is omitted, never filled.
- Only intervals that have ended by the read's "now" are returned.
"""

import dataclasses
import datetime as dt
import re

import polars as pl

from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import READ_COLUMNS
from ai_trader_assets.datasets.conditions import (
    EXCLUDED_CORRECTIONS,
    NO_HIGH_LOW,
    NO_OPEN_CLOSE,
    NO_VOLUME,
)
from ai_trader_assets.datasets.resample import ended

_PATTERN = re.compile(r"^(\d+)\s*(s|sec|secs|second|seconds|min|mins|minute|minutes)$")


@dataclasses.dataclass(frozen=True)
class DerivedInterval:
    """An interval built on read: ``seconds`` long, from ``source`` (ticks, bars_1min or bars_5min)."""

    name: str
    seconds: int
    source: Dataset


def parse_interval(text: str, minute_source: Dataset = Dataset.BARS_1MIN) -> DerivedInterval | None:
    """A derived interval from its name (``10s``, ``30s``, ``2min``, ``15min``), None when the text is
    no such name. Seconds must divide a minute and minutes an hour (bars stay clock-aligned);
    ``minute_source`` is the stored bars minutes are built from (``bars_5min``: multiples of 5)."""
    match = _PATTERN.match(str(text).strip().lower())
    if match is None:
        return None
    count, unit = int(match.group(1)), match.group(2)
    if unit.startswith("s"):
        if count < 1 or 60 % count:
            raise ValueError(f"{text!r}: a seconds interval must divide a minute (1, 2, 5, 10, 15, 20, 30 s)")
        if count == 60:
            return None
        return DerivedInterval(f"{count}s", count, Dataset.TICKS)
    if count < 1 or 60 % count:
        raise ValueError(f"{text!r}: a minutes interval must divide an hour (2, 3, 10, 15, 20, 30 min)")
    step = 5 if minute_source == Dataset.BARS_5MIN else 1
    if count % step:
        raise ValueError(f"{text!r}: built from 5-minute bars, it must be a multiple of 5 minutes")
    return DerivedInterval(f"{count}min", count * 60, minute_source)


def _blocked(codes: frozenset[int]) -> pl.Expr:
    """Whether any of a trade's conditions (comma-separated ids) is in ``codes``."""
    wanted = [str(c) for c in sorted(codes)]
    return pl.col("conditions").str.split(",").list.eval(pl.element().is_in(wanted)).list.any()


def bars_from_trades(trades: pl.DataFrame, seconds: int, now: dt.datetime | None = None) -> pl.DataFrame:
    """Bars of ``seconds`` from trades (columns of the ``ticks`` dataset plus ``session``), by the
    rules above; sorted by (symbol, ts), with ``session``."""
    every = f"{seconds}s"
    counted = (
        trades.lazy()
        .filter(
            pl.col("regular_hours") & ~pl.col("correction").fill_null(0).is_in(list(EXCLUDED_CORRECTIONS))
        )
        .sort("symbol", "sip_timestamp")
        .with_columns(
            pl.col("ts").dt.truncate(every).alias("bar"),
            (~_blocked(NO_OPEN_CLOSE)).alias("sets_last"),
            (~_blocked(NO_HIGH_LOW)).alias("sets_range"),
            (~_blocked(NO_VOLUME)).alias("sets_volume"),
        )
    )
    price, size = pl.col("price"), pl.col("size")
    bars = (
        counted.group_by("symbol", "bar", maintain_order=True)
        .agg(
            pl.col("session").first(),
            price.filter(pl.col("sets_last")).first().alias("open"),
            price.filter(pl.col("sets_range")).max().alias("high"),
            price.filter(pl.col("sets_range")).min().alias("low"),
            price.filter(pl.col("sets_last")).last().alias("close"),
            size.filter(pl.col("sets_volume")).sum().alias("volume"),
            (price * size).filter(pl.col("sets_volume")).sum().alias("notional"),
            pl.col("sets_volume").sum().cast(pl.Int64).alias("trade_count"),
            pl.col("source").first(),
        )
        .filter(pl.col("open").is_not_null() & pl.col("high").is_not_null())
        .with_columns(
            pl.when(pl.col("volume") > 0).then(pl.col("notional") / pl.col("volume")).alias("vwap"),
            pl.col("bar").alias("ts"),
        )
    )
    return ended(bars, seconds, now).select(*READ_COLUMNS, "session").sort("symbol", "ts").collect()
