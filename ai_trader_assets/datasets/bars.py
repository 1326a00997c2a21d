"""OHLCV bars at 1day / 1hour / 5min / 1min: ``bars_1day`` ... ``bars_1min``.

- Rows: one per (symbol, ts); ``ts`` is the bar's start in UTC (a daily bar: the session's midnight
  in New York); prices raw (unadjusted: adjustment happens at read from the corporate actions).
- Session: the New York date of ``ts`` (the next session if that date is not one).
- Validation: the OHLC prices consistent and positive, volume non-negative, no duplicate key.
"""

import dataclasses
import datetime as dt
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.datasets.frames import UTC_TS, symbol_column
from ai_trader_assets.datasets.names import Dataset
from ai_trader_assets.datasets.spec import Bucket, DatasetSpec, LakeLayout
from ai_trader_assets.datasets.tables import UtcDateTime, metadata
from ai_trader_assets.datasets.validation import add_reason


@dataclasses.dataclass(frozen=True)
class BarInterval:
    """A bar dataset's interval: ``multiplier`` x ``unit`` (Polygon's aggregates vocabulary too)."""

    name: str  # what people ask for: ai-trader bars --interval 5min
    multiplier: int
    unit: Literal["minute", "hour", "day"]

    @property
    def length(self) -> dt.timedelta | None:
        """How long one bar lasts; None for a daily bar (it lasts the session)."""
        if self.unit == "day":
            return None
        return dt.timedelta(minutes=self.multiplier * (60 if self.unit == "hour" else 1))


INTERVALS: dict[Dataset, BarInterval] = {
    Dataset.BARS_1DAY: BarInterval("1day", 1, "day"),
    Dataset.BARS_1HOUR: BarInterval("1hour", 1, "hour"),
    Dataset.BARS_5MIN: BarInterval("5min", 5, "minute"),
    Dataset.BARS_1MIN: BarInterval("1min", 1, "minute"),
}
BAR_DATASETS: tuple[Dataset, ...] = tuple(INTERVALS)
# How long an intraday bar lasts: it is stored once it has ended.
BAR_LENGTHS: dict[Dataset, dt.timedelta] = {
    dataset: length for dataset, interval in INTERVALS.items() if (length := interval.length) is not None
}
# The bar datasets a trading session can be refreshed with while it trades (pipeline.yaml intraday).
INTRADAY_BARS: tuple[Dataset, ...] = (Dataset.BARS_1MIN, Dataset.BARS_5MIN, Dataset.BARS_1HOUR)

DESCRIPTIONS = {
    Dataset.BARS_1DAY: "Daily OHLCV bars (raw, unadjusted) of the layer's symbols for one NYSE session.",
    Dataset.BARS_1HOUR: "Hourly OHLCV bars (clock hours, New York) of the layer's symbols for one session.",
    Dataset.BARS_5MIN: "5-minute OHLCV bars of the layer's symbols for one session.",
    Dataset.BARS_1MIN: "1-minute OHLCV bars of the layer's symbols for one session.",
}
BAR_COLUMNS: dict[str, Any] = {
    "symbol": "string",
    "ts": UTC_TS,
    "open": "float64",
    "high": "float64",
    "low": "float64",
    "close": "float64",
    "volume": "float64",
    "vwap": "float64",
    "trade_count": "Int64",
    "source": "string",
    "ingested_at": UTC_TS,
}
READ_COLUMNS = ("symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "trade_count", "source")
PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_REQUIRED = ("symbol", "ts", *PRICE_COLUMNS, "volume")


def _bars_table(name: str) -> sa.Table:
    table = sa.Table(
        name,
        metadata,
        sa.Column("symbol", sa.String(10), primary_key=True),
        sa.Column("ts", UtcDateTime, primary_key=True),
        sa.Column("open", sa.Float(53), nullable=False),
        sa.Column("high", sa.Float(53), nullable=False),
        sa.Column("low", sa.Float(53), nullable=False),
        sa.Column("close", sa.Float(53), nullable=False),
        sa.Column("volume", sa.Float(53), nullable=False),
        sa.Column("vwap", sa.Float(53)),
        sa.Column("trade_count", sa.BigInteger),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ingested_at", UtcDateTime, nullable=False),
    )
    sa.Index(f"ix_{name}_ts", table.c.ts)  # already keyed by (symbol, ts)
    return table


BAR_TABLES: dict[Dataset, sa.Table] = {dataset: _bars_table(dataset.value) for dataset in BAR_DATASETS}


def bar_problems(frame: pd.DataFrame) -> np.ndarray:
    """Per row, why it is not a valid bar ('' when it is). Vectorised: bad rows are rare."""
    reasons = np.full(len(frame), "", dtype=object)
    if frame.empty:
        return reasons
    missing = {column: frame[column].isna().to_numpy() for column in BAR_REQUIRED}
    for column, mask in missing.items():
        add_reason(reasons, mask, f"missing {column}")
    prices = frame[list(PRICE_COLUMNS)].to_numpy(dtype="float64", na_value=np.nan)
    present = ~np.isnan(prices)
    bad_price = present & (~np.isfinite(prices) | (prices <= 0))
    add_reason(reasons, bad_price.any(axis=1), "non-finite or non-positive price")
    with np.errstate(invalid="ignore"):
        open_, high, low, close = prices.T
        add_reason(reasons, high < np.maximum(open_, close), "high below max(open, close)")
        add_reason(reasons, low > np.minimum(open_, close), "low above min(open, close)")
        volume = frame["volume"].to_numpy(dtype="float64", na_value=np.nan)
        add_reason(
            reasons,
            ~np.isnan(volume) & (~np.isfinite(volume) | (volume < 0)),
            "negative or non-finite volume",
        )
    duplicated = frame.duplicated(subset=["symbol", "ts"], keep="first").to_numpy() & ~(
        missing["symbol"] | missing["ts"]
    )
    add_reason(reasons, duplicated, "duplicate (symbol, ts): an earlier row has the same key")
    return reasons


def bar_sessions(frame: pd.DataFrame) -> np.ndarray:
    """The session of each bar: the New York date of its start (the next session if not one)."""
    if frame.empty:
        return np.array([], dtype="datetime64[D]")
    local = frame["ts"].dt.tz_convert(calendar.NEW_YORK).dt.tz_localize(None)
    return calendar.sessions_on_or_after(local.to_numpy().astype("datetime64[D]"))


def bars_in_session(dataset: Dataset, session: dt.date, through: dt.datetime | None = None) -> int:
    """Regular-session bars per symbol for an interval (390/78/7/1 on a full day, fewer on early
    closes); with ``through`` (a session still trading), those starting before it."""
    open_utc, close_utc = calendar.session_open_close(session)
    if through is not None:
        close_utc = max(open_utc, min(close_utc, through))
    minutes = int((close_utc - open_utc).total_seconds() // 60)
    if dataset == Dataset.BARS_1MIN:
        return minutes
    if dataset == Dataset.BARS_5MIN:
        return minutes // 5
    if dataset == Dataset.BARS_1HOUR:
        if minutes == 0:
            return 0
        return len(pd.date_range(open_utc.replace(minute=0), close_utc - dt.timedelta(minutes=1), freq="1h"))
    return 1


def _spec(dataset: Dataset) -> DatasetSpec:
    # 1-minute and 5-minute bars are bucketed by month (a year of a layer's minutes is large),
    # coarser ones by year; files sorted and clustered by (symbol, ts) for one-symbol reads.
    bucket: Bucket = "month" if dataset in (Dataset.BARS_1MIN, Dataset.BARS_5MIN) else "year"
    return DatasetSpec(
        dataset=dataset,
        label=f"{INTERVALS[dataset].name} bars",
        description=DESCRIPTIONS[dataset],
        columns=BAR_COLUMNS,
        key=("symbol", "ts"),
        time_column="ts",
        table=BAR_TABLES[dataset],
        lake=LakeLayout(
            bucket=bucket, slice_column="symbol", cluster_by=("symbol",), sort_by=("symbol", "ts")
        ),
        read_columns=READ_COLUMNS,
        read_order=("symbol", "ts"),
        sessions_of=bar_sessions,
        symbols_of=symbol_column,
        problems=bar_problems,
        # A run's checks read back only what bar_problems looks at (~40 % of a bar's bytes).
        checked_columns=BAR_REQUIRED,
    )


SPECS: dict[Dataset, DatasetSpec] = {dataset: _spec(dataset) for dataset in BAR_DATASETS}
