"""Social sentiment: ``social_sentiment`` (one row per symbol, session and source), and the raw items it
is computed from: ``social_posts`` (Reddit posts and comments) and ``social_mentions`` (which symbols
each item names).

- Rows: one per (symbol, ts, source); ``ts`` is the session's midnight in New York (as a daily bar's);
  ``source`` is ``reddit`` (posts and comments) or ``news`` (the stored articles, scored the same way).
- Session: the New York date of ``ts``. An item belongs to the session whose window (previous close,
  this close] holds its creation time, like a news article.
- Validation: a key present and unique; counts non-negative; scores within VADER's [-1, 1]; shares
  within [0, 1].
- Raw items are hot only (kept as long as the longest sentiment window); authors only as a salted
  hash: no user name is stored.
"""

from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ai_trader_assets.datasets.bars import bar_sessions
from ai_trader_assets.datasets.frames import UTC_TS, symbol_column
from ai_trader_assets.datasets.names import Dataset
from ai_trader_assets.datasets.spec import DatasetSpec, LakeLayout
from ai_trader_assets.datasets.tables import UtcDateTime, metadata
from ai_trader_assets.datasets.validation import add_reason, key_problems

SOURCES = ("reddit", "news")
# A body Reddit replaced: kept as such (the item existed), never scored.
GONE_BODIES = frozenset(("[deleted]", "[removed]"))

# What a social source returns: one row per post or comment (``author`` is the user name; it is
# replaced by ``author_hash`` before anything is stored).
SOCIAL_ITEM_COLUMNS: dict[str, Any] = {
    "id": "string",  # Reddit's fullname: t3_... (post), t1_... (comment)
    "kind": "string",  # post | comment
    "subreddit": "string",
    "created_utc": UTC_TS,
    "title": "string",  # posts only
    "body": "string",  # selftext or comment text; "[deleted]" / "[removed]" kept as such
    "score": "Int64",
    "num_comments": "Int64",  # posts only
    "permalink": "string",
    "parent_id": "string",  # comments: the post's fullname
    "author": "string",  # NA when deleted
    "source": "string",  # reddit | demo
}
# What is stored: the author as a salted hash, the text's compound score (NA: not scored).
SOCIAL_POST_COLUMNS: dict[str, Any] = {
    **{k: v for k, v in SOCIAL_ITEM_COLUMNS.items() if k != "author"},
    "author_hash": "string",
    "compound": "float64",
    "ingested_at": UTC_TS,
}

SENTIMENT_COLUMNS: dict[str, Any] = {
    "symbol": "string",
    "ts": UTC_TS,
    "source": "string",
    "mentions": "Int64",  # items naming the symbol (one per item)
    "unique_authors": "Int64",
    "posts": "Int64",
    "comments": "Int64",
    "scored": "Int64",  # items with a score (deleted and removed bodies are not scored)
    "mean_compound": "float64",
    "median_compound": "float64",
    "bullish_share": "float64",  # share of scored items with compound >= 0.05
    "bearish_share": "float64",  # share of scored items with compound <= -0.05
    # The highest-scored items' ids, comma-separated (news: the strongest-toned articles first).
    "top_ids": "string",
    "ingested_at": UTC_TS,
}
READ_COLUMNS = (
    "symbol",
    "ts",
    "source",
    "mentions",
    "unique_authors",
    "posts",
    "comments",
    "scored",
    "mean_compound",
    "median_compound",
    "bullish_share",
    "bearish_share",
    "top_ids",
)
BULLISH, BEARISH = 0.05, -0.05  # VADER's own thresholds for positive and negative text
TOP_ITEMS = 5

SOCIAL_POSTS_TABLE = sa.Table(
    "social_posts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("subreddit", sa.String(64), nullable=False),
    sa.Column("created_utc", UtcDateTime, nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("body", sa.Text),
    sa.Column("score", sa.BigInteger),
    sa.Column("num_comments", sa.BigInteger),
    sa.Column("permalink", sa.Text),
    sa.Column("parent_id", sa.String(32)),
    sa.Column("author_hash", sa.String(32)),
    sa.Column("compound", sa.Float(53)),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("ingested_at", UtcDateTime, nullable=False),
)
SOCIAL_MENTIONS_TABLE = sa.Table(
    "social_mentions",
    metadata,
    sa.Column(
        "item_id", sa.String(32), sa.ForeignKey("social_posts.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("symbol", sa.String(10), primary_key=True),
)
# The salt authors are hashed with: one random value per installation, made by the migration.
SOCIAL_SALT_TABLE = sa.Table(
    "social_salt",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("salt", sa.String(64), nullable=False),
)
sa.Index("ix_social_posts_created_utc", SOCIAL_POSTS_TABLE.c.created_utc)
sa.Index("ix_social_mentions_symbol", SOCIAL_MENTIONS_TABLE.c.symbol)

SENTIMENT_TABLE = sa.Table(
    "social_sentiment",
    metadata,
    sa.Column("symbol", sa.String(10), primary_key=True),
    sa.Column("ts", UtcDateTime, primary_key=True),
    sa.Column("source", sa.String(16), primary_key=True),
    sa.Column("mentions", sa.BigInteger, nullable=False),
    sa.Column("unique_authors", sa.BigInteger, nullable=False),
    sa.Column("posts", sa.BigInteger, nullable=False),
    sa.Column("comments", sa.BigInteger, nullable=False),
    sa.Column("scored", sa.BigInteger, nullable=False),
    sa.Column("mean_compound", sa.Float(53)),
    sa.Column("median_compound", sa.Float(53)),
    sa.Column("bullish_share", sa.Float(53)),
    sa.Column("bearish_share", sa.Float(53)),
    sa.Column("top_ids", sa.Text, nullable=False),
    sa.Column("ingested_at", UtcDateTime, nullable=False),
)
sa.Index("ix_social_sentiment_ts", SENTIMENT_TABLE.c.ts)


def sentiment_problems(frame: pd.DataFrame) -> np.ndarray:
    reasons = key_problems(frame, ("symbol", "ts", "source"))
    add_reason(
        reasons, ~frame["source"].isin(SOURCES).fillna(False).to_numpy(), f"source not one of {SOURCES}"
    )
    counts = frame[["mentions", "unique_authors", "posts", "comments", "scored"]]
    add_reason(reasons, (counts.fillna(-1) < 0).any(axis=1).to_numpy(), "missing or negative count")
    with np.errstate(invalid="ignore"):
        scores = frame[["mean_compound", "median_compound"]].to_numpy(dtype="float64", na_value=np.nan)
        add_reason(reasons, (np.abs(scores) > 1).any(axis=1), "compound score outside [-1, 1]")
        shares = frame[["bullish_share", "bearish_share"]].to_numpy(dtype="float64", na_value=np.nan)
        add_reason(reasons, ((shares < 0) | (shares > 1)).any(axis=1), "share outside [0, 1]")
    return reasons


SPEC = DatasetSpec(
    dataset=Dataset.SOCIAL_SENTIMENT,
    label="social sentiment",
    description=(
        "Per symbol and session: mentions, unique authors and VADER tone of the Reddit posts and comments "
        "(when Reddit is configured) and of the stored news, one row per source."
    ),
    columns=SENTIMENT_COLUMNS,
    key=("symbol", "ts", "source"),
    time_column="ts",
    table=SENTIMENT_TABLE,
    # A few rows per symbol-session: a year per file bucket, sorted for one-symbol reads.
    lake=LakeLayout(bucket="year", slice_column="symbol", cluster_by=("symbol",), sort_by=("symbol", "ts")),
    read_columns=READ_COLUMNS,
    read_order=("symbol", "ts", "source"),
    sessions_of=bar_sessions,
    symbols_of=symbol_column,
    problems=sentiment_problems,
    reads=Dataset.NEWS,  # the stored news of a session are scored with the Reddit posts
)
