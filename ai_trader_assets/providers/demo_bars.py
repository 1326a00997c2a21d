"""The demo's bars: a smooth, symbol-specific price path with daily noise, forward splits that divide
raw prices, and each session's 1-minute bars, from which every coarser interval aggregates exactly
(see :mod:`.demo`)."""

import datetime as dt
import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.frames import repeated_strings
from ai_trader_assets.providers.demo_random import key as _key
from ai_trader_assets.providers.demo_random import normal as _normal
from ai_trader_assets.providers.demo_random import uniform as _uniform
from ai_trader_assets.providers.demo_random import unit as _unit
from ai_trader_assets.providers.demo_trades import minute_vwap

FIRST_YEAR = 2000
EPOCH_ORDINAL = dt.date(2020, 1, 1).toordinal()
# One demo trade per this many shares: ~3,000 trades per symbol-session, so the quickstart's week of
# layer-3 ticks stays small (providers.yaml demo.shares_per_trade; benchmarks.ticks uses ~5).
SHARES_PER_TRADE = 800


@functools.cache
def _path_parameters(symbol: str) -> tuple[float, float, float, float]:
    """(log base price, phase 1, phase 2, yearly drift) of a symbol's price path."""
    base = 20.0 + 480.0 * _unit(symbol, "base")
    return (
        float(np.log(base)),
        6.283 * _unit(symbol, "p1"),
        6.283 * _unit(symbol, "p2"),
        0.12 * (_unit(symbol, "drift") - 0.35),
    )


def adjusted_close(symbol: str, day: dt.date) -> float:
    """A smooth, symbol-specific, split-free price path with daily noise."""
    return float(adjusted_closes([symbol], day)[0])


def adjusted_closes(symbols: Sequence[str], day: dt.date) -> np.ndarray:
    """:func:`adjusted_close` of each symbol, computed as arrays (the same operations in the same
    order, so the same numbers)."""
    log_base, phase1, phase2, drift = np.array([_path_parameters(s) for s in symbols]).reshape(-1, 4).T
    x = day.toordinal()
    noise = np.array([_unit(symbol, "noise", x) for symbol in symbols])
    log_price = (
        log_base
        + 0.25 * np.sin(2 * np.pi * x / 911 + phase1)
        + 0.08 * np.sin(2 * np.pi * x / 97 + phase2)
        + drift * (x - EPOCH_ORDINAL) / 365.0
        + 0.012 * (noise - 0.5)
    )
    return np.exp(log_price)


@functools.cache
def _all_splits(symbol: str) -> tuple[tuple[dt.date, int], ...]:
    found = []
    last = calendar.last_session()
    for year in range(FIRST_YEAR, last.year + 1):
        if _unit(symbol, "split", year) < 0.06:
            month = 1 + int(12 * _unit(symbol, "split-month", year))
            day = calendar.session_on_or_after(min(dt.date(year, month, 10), last))
            found.append((day, (2, 3, 4)[int(3 * _unit(symbol, "ratio", year))]))
    return tuple(found)


def splits(symbol: str, until: dt.date) -> list[tuple[dt.date, int]]:
    """(execution session, split_to) of each forward split (split_from = 1) up to ``until``."""
    return [(day, ratio) for day, ratio in _all_splits(symbol) if day <= until]


def _split_factor(symbol: str, day: dt.date) -> float:
    """How many shares one original share has become by ``day`` (raw price = adjusted / factor)."""
    return float(np.prod([ratio for _, ratio in splits(symbol, day)]))


def raw_price(symbol: str, day: dt.date, adjusted: float) -> float:
    return adjusted / _split_factor(symbol, day)


def _bucket_starts(dataset: Dataset, open_utc: dt.datetime, minutes: int) -> np.ndarray:
    """Index of the first minute of each bar of ``dataset`` within a session's minutes."""
    if dataset == Dataset.BARS_1MIN:
        return np.arange(minutes)
    if dataset == Dataset.BARS_5MIN:
        return np.arange(0, minutes, 5)
    if dataset == Dataset.BARS_1HOUR:
        # Clock hours (New York and UTC hours coincide): 09:30 opens a half-hour first bar.
        clock = (open_utc.hour * 60 + open_utc.minute + np.arange(minutes)) // 60
        return np.flatnonzero(np.r_[True, clock[1:] != clock[:-1]])
    return np.array([0])


def session_bars(
    symbols: Sequence[str], session: dt.date, dataset: Dataset, shares_per_trade: int = SHARES_PER_TRADE
) -> pd.DataFrame:
    """Bars of one session for ``symbols``, aggregated from that session's 1-minute bars."""
    return bar_frame(symbols, [session_columns(symbols, session, dataset, shares_per_trade)])


def bar_frame(symbols: Sequence[str], parts: Sequence[dict[str, np.ndarray]]) -> pd.DataFrame:
    """One frame of sessions' bar columns, each column concatenated once as an array (not a frame
    per session joined by ``pd.concat``, which re-plans each frame's blocks)."""
    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    return pd.DataFrame(
        columns
        | {
            "symbol": repeated_strings(symbols, columns["symbol"]),
            "ts": pd.DatetimeIndex(columns["ts"]).tz_localize("UTC"),
        },
        copy=False,
    )


def session_columns(
    symbols: Sequence[str], session: dt.date, dataset: Dataset, shares_per_trade: int
) -> dict[str, np.ndarray]:
    """The columns of :func:`session_bars` (``symbol`` as positions in ``symbols``, ``ts`` naive UTC).

    The 1-minute bars are the single source; coarser bars take the first open, last close, max high,
    min low, summed volume and trades, and volume-weighted VWAP of their minutes. A minute has one
    trade per ``shares_per_trade`` shares (at least 4), and the VWAP of the trades the demo prints
    for it (:mod:`.demo_trades`).
    """
    open_utc, _ = calendar.session_open_close(session)
    minutes = calendar.session_minutes(session)
    previous = calendar.previous_session(session)
    keys = np.array([_key(s, session) for s in symbols], dtype=np.uint64)
    factor = np.array([_split_factor(s, session) for s in symbols])
    gap = np.exp(0.004 * _normal(keys, 1, 1)[:, 0])
    day_open = adjusted_closes(symbols, previous) * gap / factor
    day_close = adjusted_closes(symbols, session) / factor
    sigma = 0.015 / np.sqrt(minutes)
    # A Brownian bridge in log price from the session's open to its close.
    walk = np.cumsum(sigma * _normal(keys, minutes, 2), axis=1)
    steps = np.arange(1, minutes + 1) / minutes
    log_path = (
        np.log(day_open)[:, None]
        + steps * np.log(day_close / day_open)[:, None]
        + walk
        - steps * walk[:, -1:]
    )
    path = np.round(np.exp(np.concatenate([np.log(day_open)[:, None], log_path], axis=1)), 4)
    opens, closes = path[:, :-1], path[:, 1:]
    wiggle = np.exp(sigma * np.abs(_normal(keys, minutes, 3)))
    highs = np.maximum(np.round(np.maximum(opens, closes) * wiggle, 4), np.maximum(opens, closes))
    lows = np.minimum(np.round(np.minimum(opens, closes) / wiggle, 4), np.minimum(opens, closes))
    position = (np.arange(minutes) + 0.5) / minutes
    shape = 1.0 + 3.0 * (2.0 * position - 1.0) ** 2  # U-shaped: busy open and close
    volumes = np.maximum(1.0, np.round((2e5 + 5e6 * _uniform(keys, 1, 4)) * shape / shape.sum()))
    trades = np.clip(np.round(volumes / shares_per_trade), 4.0, volumes)
    notional = (
        minute_vwap(opens=opens, highs=highs, lows=lows, closes=closes, volumes=volumes, counts=trades)
        * volumes
    )

    starts = _bucket_starts(dataset, open_utc, minutes)
    ends = np.r_[starts[1:], minutes] - 1
    volume = np.add.reduceat(volumes, starts, axis=1)
    if dataset == Dataset.BARS_1DAY:
        stamps = pd.DatetimeIndex([calendar.session_midnight_utc(session)])
    else:
        stamps = pd.date_range(open_utc, periods=minutes, freq="1min")[starts]
        if dataset == Dataset.BARS_1HOUR:
            stamps = stamps.floor("1h")  # Polygon stamps hour bars at the clock hour
    return {
        "symbol": np.repeat(np.arange(len(symbols)), len(starts)),
        "ts": np.tile(stamps.tz_convert(None).as_unit("us").to_numpy(), len(symbols)),
        "open": opens[:, starts].ravel(),
        "high": np.maximum.reduceat(highs, starts, axis=1).ravel(),
        "low": np.minimum.reduceat(lows, starts, axis=1).ravel(),
        "close": closes[:, ends].ravel(),
        "volume": volume.ravel(),
        "vwap": (np.add.reduceat(notional, starts, axis=1) / volume).ravel(),
        "trade_count": np.add.reduceat(trades, starts, axis=1).ravel().astype("int64"),
    }
