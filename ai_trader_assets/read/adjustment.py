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

import numpy as np
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


def relevant_actions(actions: pl.DataFrame, adjust: Adjust, as_of: dt.date) -> pl.DataFrame:
    """The actions an adjustment applies: known by ``as_of``, of the kinds asked for, one per
    (symbol, kind, ex-date)."""
    kinds = {"splits": ["split"], "all": ["split", "dividend"]}.get(adjust, [])
    chosen = actions.filter(
        pl.col("action_type").is_in(kinds)
        & (pl.col("ex_date") <= as_of)
        & ((pl.col("action_type") != "dividend") | (pl.col("cash_amount").fill_null(0) > 0))
    )
    return chosen.sort("symbol", "ex_date", "action_type", "id").unique(
        subset=["symbol", "action_type", "ex_date"], keep="first", maintain_order=True
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
    joined = actions.join(closes, on=["symbol", "ex_date"], how="left")
    split = pl.col("action_type") == "split"
    ratio = pl.col("split_to") / pl.col("split_from")
    table = joined.with_columns(
        value=pl.when(split).then(ratio).otherwise(pl.col("cash_amount")),
        reference_close=pl.when(split).then(None).otherwise(pl.col("reference_close")),
    ).with_columns(
        price_factor=pl.when(split)
        .then(1.0 / pl.col("value"))
        .otherwise(1.0 - pl.col("value") / pl.col("reference_close")),
        volume_factor=pl.when(split).then(pl.col("value")).otherwise(1.0),
    )
    _check(table)
    return table.select(list(FACTOR_SCHEMA)).cast(FACTOR_SCHEMA)  # type: ignore[arg-type]


def _check(table: pl.DataFrame) -> None:
    split = pl.col("action_type") == "split"
    usable = (pl.col("split_from").fill_null(0) > 0) & (pl.col("split_to").fill_null(0) > 0)
    bad_split = table.filter(split & ~usable)
    if bad_split.height:
        row = bad_split.row(0, named=True)
        raise ReadError(
            f"cannot adjust {row['symbol']} for the split ex {row['ex_date']}: its ratio "
            f"{row['split_to']}:{row['split_from']} is not usable (action {row['id']})"
        )
    missing = table.filter(~split & pl.col("reference_close").is_null())
    if missing.height:
        row = missing.row(0, named=True)
        raise ReadError(
            f"cannot adjust {row['symbol']} for the {row['cash_amount']} dividend ex {row['ex_date']}: no "
            "daily bar before the ex-date is stored (fetch bars_1day for that session first)"
        )
    too_large = table.filter(~split & (pl.col("cash_amount") >= pl.col("reference_close")))
    if too_large.height:
        row = too_large.row(0, named=True)
        raise ReadError(
            f"cannot adjust {row['symbol']} for the {row['cash_amount']} dividend ex {row['ex_date']}: it is "
            f"not smaller than the previous close {row['reference_close']} (action {row['id']})"
        )


def multipliers(
    symbols: np.ndarray, sessions: np.ndarray, table: pl.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """(price, volume) multipliers per bar: the product of the factors of every action whose ex-date
    is after the bar's session (``symbols`` sorted, ``sessions``: datetime64[D] per row)."""
    prices = np.ones(len(symbols))
    volumes = np.ones(len(symbols))
    if len(symbols) == 0 or table.is_empty():
        return prices, volumes
    # Bars come sorted by symbol: each symbol's rows are one run, found by its first row.
    changes = np.flatnonzero(symbols[1:] != symbols[:-1]) + 1
    starts = np.concatenate([[0], changes])
    ends = np.concatenate([changes, [len(symbols)]])
    runs = {symbols[start]: (start, end) for start, end in zip(starts, ends, strict=True)}
    ordered = table.sort("symbol", "ex_date")
    action_symbols = ordered["symbol"].to_numpy()
    ex_dates = ordered["ex_date"].to_numpy().astype("datetime64[D]")
    price_factors = ordered["price_factor"].to_numpy()
    volume_factors = ordered["volume_factor"].to_numpy()
    bounds = np.flatnonzero(action_symbols[1:] != action_symbols[:-1]) + 1
    for first, last in zip(
        np.concatenate([[0], bounds]), np.concatenate([bounds, [len(ordered)]]), strict=True
    ):
        run = runs.get(action_symbols[first])
        if run is None:
            continue
        start, end = run
        # Cumulative from the latest action back: a bar before ex-date j gets every factor from j on.
        price_after = np.append(np.cumprod(price_factors[first:last][::-1])[::-1], 1.0)
        volume_after = np.append(np.cumprod(volume_factors[first:last][::-1])[::-1], 1.0)
        first_later = np.searchsorted(ex_dates[first:last], sessions[start:end], side="right")
        prices[start:end] = price_after[first_later]
        volumes[start:end] = volume_after[first_later]
    return prices, volumes


def to_pandas(table: pl.DataFrame) -> pd.DataFrame:
    return table.to_arrow().to_pandas(date_as_object=True)
