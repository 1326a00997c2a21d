"""Adjustment at read: storage keeps raw prices; splits and dividends become factors applied to the
sessions before each ex-date (the convention of CRSP and of Yahoo's adjusted close, and zipline's
model: only actions known at the simulation date apply).

- split, ratio ``r = split_to / split_from`` at ex-date ``e``: prices of sessions before ``e`` are
  multiplied by ``1 / r``, volumes by ``r``;
- cash dividend ``D`` at ex-date ``e``: prices of sessions before ``e`` are multiplied by
  ``1 - D / C``, ``C`` being the raw close of the last session before ``e`` (volumes unchanged).

A bar's factor is the product of the factors of every action with an ex-date after its session and
on or before ``as_of``. The same action reported by two providers (two ids) counts once.
"""

import datetime as dt
from typing import NoReturn

import pandas as pd
import polars as pl

from ai_trader_assets.read.requests import Adjust, ReadError

PRICE_COLUMNS = ("open", "high", "low", "close", "vwap")
FACTOR_SCHEMA = {
    "symbol": pl.String,
    "ex_date": pl.Date,
    "action_type": pl.String,
    "value": pl.Float64,
    "reference_close": pl.Float64,
    "price_factor": pl.Float64,
    "volume_factor": pl.Float64,
}
CLOSE_SCHEMA = {"symbol": pl.String, "ex_date": pl.Date, "reference_close": pl.Float64}
REFERENCE_CLOSE_DAYS = 10  # a dividend's reference close: the last daily bar within this many days before


def relevant_actions(actions: pl.DataFrame, adjust: Adjust, as_of: dt.date) -> pl.DataFrame:
    """The actions an adjustment applies: known by ``as_of``, of the kinds asked for, one per
    (symbol, kind, ex-date)."""
    kinds = {"splits": ["split"], "all": ["split", "dividend"]}.get(adjust, [])
    return (
        actions.lazy()
        .filter(
            pl.col("action_type").is_in(kinds)
            & (pl.col("ex_date") <= as_of)
            & ((pl.col("action_type") != "dividend") | (pl.col("cash_amount").fill_null(0) > 0))
        )
        .sort("symbol", "ex_date", "action_type", "id")
        .unique(subset=["symbol", "action_type", "ex_date"], keep="first", maintain_order=True)
        .collect()
    )


def factors(actions: pl.DataFrame, closes: pl.DataFrame) -> pl.DataFrame:
    """One row per action: its price and volume factors (``FACTOR_SCHEMA``).

    Args:
        actions: From :func:`relevant_actions`.
        closes: ``symbol, ex_date, reference_close``: the raw close of the last session before each
            dividend's ex-date.

    Raises:
        ReadError: a split without a usable ratio, or a dividend without a reference close or not
            smaller than it.
    """
    if actions.is_empty():
        return pl.DataFrame(schema=FACTOR_SCHEMA)
    split = pl.col("action_type") == "split"
    usable = (pl.col("split_from").fill_null(0) > 0) & (pl.col("split_to").fill_null(0) > 0)
    close = pl.col("reference_close")
    table = (
        actions.lazy()
        .join(closes.lazy(), on=["symbol", "ex_date"], how="left", maintain_order="left")
        .with_columns(
            value=pl.when(split)
            .then(pl.col("split_to") / pl.col("split_from"))
            .otherwise(pl.col("cash_amount")),
            reference_close=pl.when(split).then(None).otherwise(close),
            problem=pl.when(split & ~usable)
            .then(pl.lit("split"))
            .when(~split & close.is_null())
            .then(pl.lit("no close"))
            .when(~split & (pl.col("cash_amount") >= close))
            .then(pl.lit("too large")),
        )
        .with_columns(
            price_factor=pl.when(split).then(1.0 / pl.col("value")).otherwise(1.0 - pl.col("value") / close),
            volume_factor=pl.when(split).then(pl.col("value")).otherwise(1.0),
        )
        .collect()
    )
    problems = table["problem"]
    if problems.null_count() < table.height:
        _refuse(table.row(int(problems.is_not_null().arg_true()[0]), named=True))
    return table.select(list(FACTOR_SCHEMA)).cast(FACTOR_SCHEMA)  # type: ignore[arg-type]


def _refuse(row: dict[str, object]) -> NoReturn:
    """The one-line error for an action that cannot be applied."""
    what = f"cannot adjust {row['symbol']}"
    if row["problem"] == "split":
        raise ReadError(
            f"{what} for the split ex {row['ex_date']}: its ratio {row['split_to']}:{row['split_from']} "
            f"is not usable (action {row['id']})"
        )
    dividend = f"{what} for the {row['cash_amount']} dividend ex {row['ex_date']}"
    if row["problem"] == "no close":
        raise ReadError(
            f"{dividend}: no daily bar before the ex-date is stored (fetch bars_1day for that session first)"
        )
    raise ReadError(
        f"{dividend}: it is not smaller than the previous close {row['reference_close']} (action {row['id']})"
    )


def apply(rows: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """Bars (sorted by symbol, then time, with their ``session``) with prices and volumes multiplied
    by the factors of every action whose ex-date is after the bar's session."""
    if rows.is_empty() or table.is_empty():
        return rows
    # Per action, the product of its factor and every later one of the symbol's: what the bars
    # before its ex-date (and after the previous action's) are multiplied by.
    later = (
        table.lazy()
        .sort("symbol", "ex_date")
        .select(
            "symbol",
            pl.col("ex_date").alias("next_ex_date"),
            pl.col("price_factor").reverse().cum_prod().reverse().over("symbol").alias("price_after"),
            pl.col("volume_factor").reverse().cum_prod().reverse().over("symbol").alias("volume_after"),
        )
    )
    price = pl.col("price_after").fill_null(1.0)
    volume = pl.col("volume_after").fill_null(1.0)
    return (
        rows.lazy()
        .join_asof(
            later,
            left_on="session",
            right_on="next_ex_date",
            by="symbol",
            strategy="forward",
            allow_exact_matches=False,  # a bar on the ex-date is already after the action
            check_sortedness=False,  # sorted by symbol, then time: sessions ascend within each symbol
        )
        .with_columns(*(pl.col(c) * price for c in PRICE_COLUMNS), pl.col("volume") * volume)
        .select(rows.columns)
        .collect()
    )


def to_pandas(table: pl.DataFrame) -> pd.DataFrame:
    return table.to_arrow().to_pandas(date_as_object=True)


def closes_before(dividends: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """For each (symbol, ex_date): the close of the symbol's last daily bar before the ex-date.

    ``daily`` is sorted by symbol, then time (as every read returns it): an as-of join by symbol needs
    the sessions ascending within each symbol only, so the bars are not sorted again.
    """
    wanted = dividends.with_columns(before=pl.col("ex_date") - pl.duration(days=1)).sort("symbol", "before")
    # Only the bars of the days a reference close can come from take part in the join (a year of a
    # layer's daily bars is ~100x as many rows as its dividends' windows).
    days = wanted.select(
        pl.date_ranges(pl.col("before") - pl.duration(days=REFERENCE_CLOSE_DAYS), "before").explode().unique()
    ).to_series()
    closes = (
        daily.lazy()
        .filter(pl.col("session").is_in(days.implode()))
        .select("symbol", "session", pl.col("close").alias("reference_close"))
    )
    matched = wanted.lazy().join_asof(
        closes,
        left_on="before",
        right_on="session",
        by="symbol",
        strategy="backward",
        tolerance=dt.timedelta(days=REFERENCE_CLOSE_DAYS),
        check_sortedness=False,  # both sorted within each symbol
    )
    found = matched.collect().filter(pl.col("reference_close").is_not_null()).select(list(CLOSE_SCHEMA))
    return found.cast(CLOSE_SCHEMA)  # type: ignore[arg-type]
