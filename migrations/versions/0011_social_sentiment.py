"""Social sentiment: the raw Reddit items (``social_posts``), the symbols each names
(``social_mentions``), the installation's author salt (``social_salt``) and the per-symbol, per-session
aggregate (``social_sentiment``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "social_posts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subreddit", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("body", sa.Text),
        sa.Column("score", sa.BigInteger),
        sa.Column("num_comments", sa.BigInteger),
        sa.Column("permalink", sa.Text),
        sa.Column("parent_id", sa.String(32)),
        sa.Column("author_hash", sa.String(32)),
        sa.Column("compound", sa.Float(53)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_social_posts_created_utc", "social_posts", ["created_utc"])
    op.create_table(
        "social_mentions",
        sa.Column(
            "item_id", sa.String(32), sa.ForeignKey("social_posts.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("symbol", sa.String(10), primary_key=True),
    )
    op.create_index("ix_social_mentions_symbol", "social_mentions", ["symbol"])
    salt = op.create_table(
        "social_salt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("salt", sa.String(64), nullable=False),
    )
    # One random salt per installation: authors hash the same across runs, and no table of hashes can
    # be matched against user names without it.
    op.bulk_insert(salt, [{"id": 1, "salt": secrets.token_hex(32)}])
    op.create_table(
        "social_sentiment",
        sa.Column("symbol", sa.String(10), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), primary_key=True),
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
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_social_sentiment_ts", "social_sentiment", ["ts"])


def downgrade() -> None:
    op.drop_index("ix_social_sentiment_ts", table_name="social_sentiment")
    op.drop_table("social_sentiment")
    op.drop_table("social_salt")
    op.drop_index("ix_social_mentions_symbol", table_name="social_mentions")
    op.drop_table("social_mentions")
    op.drop_index("ix_social_posts_created_utc", table_name="social_posts")
    op.drop_table("social_posts")
