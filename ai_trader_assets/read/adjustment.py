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
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ai_trader_assets.read.requests import Adjust, ReadError

PRICE_COLUMNS = ("open", "high", "low", "close", "vwap")
FACTOR_COLUMNS = {
    "symbol": "string",
    "ex_date": "object",
    "action_type": "string",
    "value": "float64",
    "reference_close": "float64",
    "price_factor": "float64",
    "volume_factor": "float64",
}


def relevant_actions(actions: pd.DataFrame, adjust: Adjust, as_of: dt.date) -> pd.DataFrame:
    """The actions an adjustment applies: known by ``as_of``, of the kinds asked for, one per
    (symbol, kind, ex-date)."""
    kinds = {"splits": ["split"], "all": ["split", "dividend"]}.get(adjust, [])
    chosen = actions[actions["action_type"].isin(kinds) & (actions["ex_date"] <= as_of)]
    chosen = chosen[(chosen["action_type"] != "dividend") | (chosen["cash_amount"].fillna(0) > 0)]
    chosen = chosen.sort_values(["symbol", "ex_date", "action_type", "id"])
    return chosen.drop_duplicates(["symbol", "action_type", "ex_date"]).reset_index(drop=True)


def factors(actions: pd.DataFrame, reference_closes: Mapping[tuple[str, dt.date], float]) -> pd.DataFrame:
    """One row per action: its price and volume factors.

    Args:
        actions: From :func:`relevant_actions`.
        reference_closes: (symbol, ex-date) -> raw close of the last session before the ex-date;
            needed for every dividend.

    Raises:
        ReadError: a split without a usable ratio, or a dividend without a reference close or
            larger than it.
    """
    rows = []
    for action in actions.itertuples(index=False):
        if action.action_type == "split":
            ratio = _split_ratio(action.split_from, action.split_to)
            if ratio is None:
                raise ReadError(
                    f"cannot adjust {action.symbol} for the split ex {action.ex_date}: its ratio "
                    f"{action.split_to}:{action.split_from} is not usable (action {action.id})"
                )
            rows.append((action.symbol, action.ex_date, "split", ratio, np.nan, 1.0 / ratio, ratio))
            continue
        amount = float(action.cash_amount)
        close = reference_closes.get((action.symbol, action.ex_date))
        if close is None or not np.isfinite(close):
            raise ReadError(
                f"cannot adjust {action.symbol} for the {amount} dividend ex {action.ex_date}: no daily "
                "bar before the ex-date is stored (fetch bars_1day for that session first)"
            )
        if amount >= close:
            raise ReadError(
                f"cannot adjust {action.symbol} for the {amount} dividend ex {action.ex_date}: it is not "
                f"smaller than the previous close {close} (action {action.id})"
            )
        rows.append((action.symbol, action.ex_date, "dividend", amount, close, 1.0 - amount / close, 1.0))
    frame = pd.DataFrame(rows, columns=list(FACTOR_COLUMNS))
    return frame.astype(FACTOR_COLUMNS)


def _split_ratio(split_from: float, split_to: float) -> float | None:
    if split_from is None or split_to is None or pd.isna(split_from) or pd.isna(split_to):
        return None
    if split_from <= 0 or split_to <= 0:
        return None
    return float(split_to) / float(split_from)


def multipliers(
    symbols: np.ndarray, sessions: np.ndarray, table: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """(price, volume) multipliers per bar: the product of the factors of every action whose ex-date
    is after the bar's session (``sessions``: datetime64[D] per row)."""
    prices = np.ones(len(symbols))
    volumes = np.ones(len(symbols))
    for symbol, actions in table.groupby("symbol", sort=False):
        rows = np.flatnonzero(symbols == symbol)
        if len(rows) == 0:
            continue
        ex_dates = np.array(list(actions["ex_date"]), dtype="datetime64[D]")
        order = np.argsort(ex_dates, kind="stable")
        ex_dates = ex_dates[order]
        # Cumulative from the latest action back: a bar before ex-date j gets every factor from j on.
        price_after = np.append(np.cumprod(actions["price_factor"].to_numpy()[order][::-1])[::-1], 1.0)
        volume_after = np.append(np.cumprod(actions["volume_factor"].to_numpy()[order][::-1])[::-1], 1.0)
        first_later = np.searchsorted(ex_dates, sessions[rows], side="right")
        prices[rows] = price_after[first_later]
        volumes[rows] = volume_after[first_later]
    return prices, volumes
