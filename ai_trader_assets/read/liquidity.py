"""Daily liquidity: per symbol and session, the average volume and dollar volume of the last 20
sessions, from split-adjusted daily bars (so a split does not look like a jump in liquidity)."""

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl

from ai_trader_assets import calendar

WINDOW_SESSIONS = 20
COLUMNS = {
    "symbol": pl.String,
    "session": pl.Date,
    "avg_volume_20": pl.Float64,
    "avg_dollar_volume_20": pl.Float64,
    "sessions_counted": pl.Int64,
}


def daily_liquidity(bars: pd.DataFrame, sessions: Sequence[dt.date]) -> pd.DataFrame:
    """Liquidity of each symbol on each of ``sessions`` it has a bar for.

    Args:
        bars: Daily bars (``symbol``, ``session``, ``close``, ``volume``), split-adjusted, covering
            the ``WINDOW_SESSIONS - 1`` sessions before the first of ``sessions`` as well.
        sessions: The sessions to report.

    Returns:
        ``symbol, session, avg_volume_20, avg_dollar_volume_20, sessions_counted``: means over the
        bars among the last 20 NYSE sessions up to and including the session (a missing bar is
        not counted, so ``sessions_counted`` may be below 20).
    """
    if bars.empty or not sessions:
        return pl.DataFrame(schema=COLUMNS).to_arrow().to_pandas(date_as_object=True)
    frame = pl.from_pandas(bars[["symbol", "session", "close", "volume"]])
    first = min([*bars["session"], *sessions])
    calendar_sessions = calendar.sessions(first, max(sessions))
    ordinal = pl.DataFrame(
        {"session": calendar_sessions, "ordinal": np.arange(len(calendar_sessions), dtype=np.int64)},
        schema={"session": pl.Date, "ordinal": pl.Int64},
    )
    rolled = (
        frame.join(ordinal, on="session", how="inner")
        .with_columns(dollar_volume=pl.col("close") * pl.col("volume"))
        .sort("symbol", "ordinal")
        .rolling(index_column="ordinal", period=f"{WINDOW_SESSIONS}i", group_by="symbol")
        .agg(
            pl.col("session").last(),
            pl.col("volume").mean().alias("avg_volume_20"),
            pl.col("dollar_volume").mean().alias("avg_dollar_volume_20"),
            pl.len().cast(pl.Int64).alias("sessions_counted"),
        )
    )
    wanted = rolled.filter(pl.col("session").is_in(list(sessions)))
    ordered = wanted.select(list(COLUMNS)).sort("symbol", "session")
    return ordered.to_arrow().to_pandas(date_as_object=True)
