"""News articles: ``news``, and the symbols each names (``news_symbols``).

- Rows: one per article (key ``id``; an article served by two providers under the same id is one
  row); a frame in storage carries ``symbols``, the list of symbols it names (hot storage keeps
  them in ``news_symbols``).
- Session: the session whose window (previous close, this close] holds ``published_utc``, so
  weekend and holiday articles belong to the next session.
- Validation: a key present and unique.
"""

from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.datasets.frames import UTC_TS
from ai_trader_assets.datasets.names import Dataset
from ai_trader_assets.datasets.spec import DatasetSpec, LakeLayout
from ai_trader_assets.datasets.tables import UtcDateTime, metadata
from ai_trader_assets.datasets.validation import key_problems

# What a provider returns: the articles, and their links to symbols (NEWS_SYMBOL_COLUMNS).
NEWS_COLUMNS: dict[str, Any] = {
    "id": "string",
    "published_utc": UTC_TS,
    "title": "string",
    "author": "string",
    "article_url": "string",
    "publisher": "string",
    "description": "string",
    "source": "string",
    "ingested_at": UTC_TS,
}
NEWS_SYMBOL_COLUMNS: dict[str, Any] = {"news_id": "string", "symbol": "string"}
# What is stored: each article with the symbols it names.
NEWS_FRAME_COLUMNS: dict[str, Any] = {**NEWS_COLUMNS, "symbols": "object"}
READ_COLUMNS = (
    "id",
    "published_utc",
    "symbols",
    "title",
    "author",
    "article_url",
    "publisher",
    "description",
    "source",
)

NEWS_TABLE = sa.Table(
    "news",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("published_utc", UtcDateTime, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("author", sa.Text),
    sa.Column("article_url", sa.Text),
    sa.Column("publisher", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", UtcDateTime, nullable=False),
)
NEWS_SYMBOLS_TABLE = sa.Table(
    "news_symbols",
    metadata,
    sa.Column("news_id", sa.String(128), sa.ForeignKey("news.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("symbol", sa.String(10), primary_key=True),
)
sa.Index("ix_news_published_utc", NEWS_TABLE.c.published_utc)
sa.Index("ix_news_symbols_symbol", NEWS_SYMBOLS_TABLE.c.symbol)


def _microseconds(series: pd.Series) -> np.ndarray:
    return (
        series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]").astype("int64")
    )


def news_sessions(frame: pd.DataFrame) -> np.ndarray:
    """The session of each article: the first whose close is at or after its publication."""
    if frame.empty:
        return np.array([], dtype="datetime64[D]")
    return calendar.sessions_closing_at_or_after(_microseconds(frame["published_utc"]))


def _named_symbols(frame: pd.DataFrame) -> pd.Series:
    return frame["symbols"]


SPEC = DatasetSpec(
    dataset=Dataset.NEWS,
    label="news",
    description="News naming the layer's symbols, published after the previous close up to this close.",
    columns=NEWS_FRAME_COLUMNS,
    key=("id",),
    time_column="published_utc",
    table=NEWS_TABLE,
    # An article may name several symbols: a write replaces articles by id; compacted, not clustered.
    lake=LakeLayout(bucket="year", slice_column="id", cluster_by=None, sort_by=("published_utc", "id")),
    read_columns=READ_COLUMNS,
    read_order=("published_utc", "id"),
    sessions_of=news_sessions,
    symbols_of=_named_symbols,
    problems=lambda frame: key_problems(frame, ("id",)),
    list_columns=frozenset({"symbols"}),
)
