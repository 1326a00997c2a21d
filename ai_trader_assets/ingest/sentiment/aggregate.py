"""Per symbol and session, the tone of what was written about it: the ``social_sentiment`` rows of one
source from the items that name each symbol (one row per item and symbol)."""

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.datasets.sentiment import BEARISH, BULLISH, SENTIMENT_COLUMNS, TOP_ITEMS
from ai_trader_assets.providers.base import ingest_time

# What :func:`aggregate` reads: the item, the symbol it names, and the item's kind, time, author hash,
# compound score (NaN: not scored) and rank (the higher, the earlier in ``top_ids``).
ITEM_COLUMNS = ("id", "symbol", "kind", "created_utc", "author_hash", "compound", "rank")


def item_sessions(created_utc: pd.Series) -> np.ndarray:
    """The session of each item: the first whose close is at or after its creation (as news)."""
    if created_utc.empty:
        return np.array([], dtype="datetime64[D]")
    micros = created_utc.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    return calendar.sessions_closing_at_or_after(micros.astype("int64"))


def aggregate(items: pd.DataFrame, source: str) -> pd.DataFrame:
    """The sentiment rows of ``source``: one per (symbol, session) with at least one item.

    Args:
        items: ``ITEM_COLUMNS``; an item naming two symbols appears once per symbol.
    """
    if items.empty:
        return conform(pd.DataFrame({c: [] for c in SENTIMENT_COLUMNS}), SENTIMENT_COLUMNS)
    items = items.drop_duplicates(subset=["id", "symbol"]).assign(session=item_sessions(items["created_utc"]))
    items["compound"] = items["compound"].astype("float64")
    scored = items["compound"].notna()
    items = items.assign(
        is_post=(items["kind"] == "post").astype("int64"),
        is_scored=scored.astype("int64"),
        bullish=(scored & (items["compound"] >= BULLISH)).astype("int64"),
        bearish=(scored & (items["compound"] <= BEARISH)).astype("int64"),
    )
    groups = items.groupby(["symbol", "session"], sort=True)
    rows = groups.agg(
        mentions=("id", "size"),
        unique_authors=("author_hash", "nunique"),
        posts=("is_post", "sum"),
        scored=("is_scored", "sum"),
        mean_compound=("compound", "mean"),
        median_compound=("compound", "median"),
        bullish=("bullish", "sum"),
        bearish=("bearish", "sum"),
    )
    rows["comments"] = rows["mentions"] - rows["posts"]
    with np.errstate(invalid="ignore", divide="ignore"):
        rows["bullish_share"] = np.where(rows["scored"] > 0, rows["bullish"] / rows["scored"], np.nan)
        rows["bearish_share"] = np.where(rows["scored"] > 0, rows["bearish"] / rows["scored"], np.nan)
    ranked = items.sort_values(["rank", "id"], ascending=[False, True], kind="stable")
    top = ranked.groupby(["symbol", "session"], sort=True)["id"].agg(
        lambda ids: ",".join(ids.iloc[:TOP_ITEMS])
    )
    rows = rows.join(top.rename("top_ids")).reset_index()
    sessions = [calendar.session_midnight_utc(pd.Timestamp(s).date()) for s in rows["session"]]
    rows["ts"] = pd.to_datetime(sessions, utc=True)
    rows["source"] = source
    rows["ingested_at"] = ingest_time()
    return conform(rows, SENTIMENT_COLUMNS)
