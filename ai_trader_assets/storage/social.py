"""The raw social items in the market database: ``social_posts`` (upserted by id: scores and comment
counts change, a body may be removed later) and ``social_mentions`` (the symbols each item names,
replaced with the item). Authors arrive here already hashed; the salt is the installation's own
(``social_salt``, made by the migration)."""

import datetime as dt
import secrets
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.datasets.sentiment import (
    SOCIAL_MENTIONS_TABLE,
    SOCIAL_POST_COLUMNS,
    SOCIAL_POSTS_TABLE,
    SOCIAL_SALT_TABLE,
)
from ai_trader_assets.storage.bulk import BulkUpsert
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import from_naive_utc

# One item named by one symbol, with what the aggregate needs of the item.
MENTIONED_ITEM_COLUMNS = ("id", "symbol", "kind", "created_utc", "score", "author_hash", "compound")
_CHUNK = 5_000


class SocialStore:
    def __init__(self, database: MarketDatabase) -> None:
        self.database = database

    def salt(self) -> str:
        """The installation's author salt (made by the migration; made again if the row was deleted,
        in which case authors hash differently from then on)."""
        table = SOCIAL_SALT_TABLE
        with self.database.begin() as conn:
            salt = conn.execute(sa.select(table.c.salt).where(table.c.id == 1)).scalar()
            if salt:
                return str(salt)
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            conn.execute(insert(table).values(id=1, salt=secrets.token_hex(32)).on_conflict_do_nothing())
            return str(conn.execute(sa.select(table.c.salt).where(table.c.id == 1)).scalar_one())

    def store(self, items: pd.DataFrame, mentions: pd.DataFrame) -> int:
        """Upsert items (``SOCIAL_POST_COLUMNS``) and replace the mentions of those items (``item_id``,
        ``symbol``) in one transaction; returns the items written."""
        if items.empty:
            return 0
        items = conform(items, SOCIAL_POST_COLUMNS)
        columns = [c.name for c in SOCIAL_POSTS_TABLE.columns]
        bulk = BulkUpsert()
        with self.database.begin() as conn:
            bulk.upsert(conn, SOCIAL_POSTS_TABLE, items, columns, ("id",))
            ids = items["id"].astype(object).tolist()
            for start in range(0, len(ids), _CHUNK):
                conn.execute(
                    SOCIAL_MENTIONS_TABLE.delete().where(
                        SOCIAL_MENTIONS_TABLE.c.item_id.in_(ids[start : start + _CHUNK])
                    )
                )
            if not mentions.empty:
                links = mentions[["item_id", "symbol"]].astype("string").drop_duplicates()
                bulk.upsert(conn, SOCIAL_MENTIONS_TABLE, links, ["item_id", "symbol"], ("item_id", "symbol"))
        return len(items)

    def mentioned(self, symbols: Sequence[str], start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
        """Items created in (start, end] naming any of ``symbols``: one row per (item, symbol)."""
        posts, links = SOCIAL_POSTS_TABLE, SOCIAL_MENTIONS_TABLE
        frames = []
        with self.database.begin() as conn:
            for first in range(0, len(symbols), _CHUNK):
                query = (
                    sa.select(
                        posts.c.id,
                        links.c.symbol,
                        posts.c.kind,
                        posts.c.created_utc,
                        posts.c.score,
                        posts.c.author_hash,
                        posts.c.compound,
                    )
                    .join(links, links.c.item_id == posts.c.id)
                    .where(
                        links.c.symbol.in_(list(symbols[first : first + _CHUNK])),
                        posts.c.created_utc > start,
                        posts.c.created_utc <= end,
                    )
                )
                frames.append(pd.DataFrame(conn.execute(query).all(), columns=list(MENTIONED_ITEM_COLUMNS)))
        frame = (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=MENTIONED_ITEM_COLUMNS)
        )
        frame["created_utc"] = from_naive_utc(frame["created_utc"])
        frame["score"] = frame["score"].astype("Int64")
        frame["compound"] = frame["compound"].astype("float64")
        return frame

    def older_than(self, before: dt.datetime) -> int:
        """How many items were created before ``before`` (what :meth:`prune` would delete)."""
        with self.database.begin() as conn:
            query = sa.select(sa.func.count()).where(SOCIAL_POSTS_TABLE.c.created_utc < before)
            return int(conn.execute(query).scalar() or 0)

    def prune(self, before: dt.datetime) -> int:
        """Delete items created before ``before`` (and their mentions); returns the items deleted."""
        with self.database.begin() as conn:
            old = sa.select(SOCIAL_POSTS_TABLE.c.id).where(SOCIAL_POSTS_TABLE.c.created_utc < before)
            conn.execute(SOCIAL_MENTIONS_TABLE.delete().where(SOCIAL_MENTIONS_TABLE.c.item_id.in_(old)))
            result = conn.execute(
                SOCIAL_POSTS_TABLE.delete().where(SOCIAL_POSTS_TABLE.c.created_utc < before)
            )
        return int(result.rowcount or 0)
