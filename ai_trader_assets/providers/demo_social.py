"""The demo's social source: deterministic Reddit-like posts and comments, no network, so the
quickstart shows sentiment for its layer-2 and layer-3 symbols without any account.

Each UTC hour has its own posts, a pure function of (hour, index): the same window gives the same items
in any process. A post names one demo symbol (the higher its layer in ``demo_universe.csv``, the more
it is talked about), mostly as a cashtag, sometimes as a bare word; its tone follows the symbol's mood
of the day, so a symbol reads bullish or bearish for a whole session. Some comments add a second
symbol, an upper-case word that is not a mention ("IT", "ALL IN") or a removed body.
"""

import datetime as dt
import functools
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ai_trader_assets.datasets.companies import read_companies_csv
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.datasets.sentiment import SOCIAL_ITEM_COLUMNS
from ai_trader_assets.providers.base import ProviderCall
from ai_trader_assets.providers.demo import DEMO_UNIVERSE
from ai_trader_assets.providers.demo_random import unit
from ai_trader_assets.providers.social import SocialFetch

SOURCE = "demo"
SUBREDDITS = ("wallstreetbets", "stocks", "investing", "options", "StockMarket")
POSTS_PER_HOUR = 12
# How often a symbol is talked about, by its layer: the catalyst and active layers are the talk.
LAYER_WEIGHT = {0: 0.05, 1: 0.3, 2: 3.0, 3: 6.0}
BULLISH = (
    "{tag} to the moon, loading calls",
    "{tag} earnings beat, great quarter",
    "Bought more {tag} today, very bullish",
    "{tag} short squeeze incoming, love it",
)
BEARISH = (
    "{tag} is going to tank, buying puts",
    "Sold all my {tag}, terrible guidance",
    "{tag} bagholder here, this hurts",
    "{tag} downgraded again, bearish",
)
NEUTRAL = (
    "What do you think of {tag}?",
    "{tag} reports next week",
    "Anyone holding {tag} through the split?",
)
COMMENTS = (
    "Agreed, {tag} looks strong",
    "No way, {tag} is overvalued and will crash",
    "IT sector is ALL IN on this, {tag} included",
    "[removed]",
    "Holding {tag} and {other}, both good",
)


@functools.cache
def _talked_about() -> tuple[tuple[str, ...], np.ndarray]:
    """The demo symbols and the cumulative share of posts each gets."""
    rows = read_companies_csv(DEMO_UNIVERSE)
    symbols = tuple(str(r["symbol"]) for r in rows)
    weights = np.array([LAYER_WEIGHT.get(int(r.get("layer") or 0), 0.05) for r in rows], dtype="float64")
    return symbols, np.cumsum(weights) / weights.sum()


def _pick(symbols: Sequence[str], cumulative: np.ndarray, u: float) -> str:
    return symbols[min(int(np.searchsorted(cumulative, u)), len(symbols) - 1)]


class DemoSocialSource:
    """Deterministic posts of the demo symbols (``SocialSource``)."""

    name = SOURCE

    def items(self, start: dt.datetime, end: dt.datetime) -> SocialFetch:
        started = time.perf_counter()
        symbols, cumulative = _talked_about()
        rows: list[dict[str, Any]] = []
        hour = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        while hour < end:
            for index in range(POSTS_PER_HOUR):
                created = hour + dt.timedelta(seconds=int(3600 * unit("post", hour.isoformat(), index)))
                if start <= created < end:
                    rows.extend(_post(hour, index, created, symbols, cumulative))
            hour += dt.timedelta(hours=1)
        frame = pd.DataFrame(rows, columns=list(SOCIAL_ITEM_COLUMNS))
        frame["created_utc"] = pd.to_datetime(frame["created_utc"], utc=True)
        call = ProviderCall(
            endpoint="demo:social",
            status=200,
            latency_ms=(time.perf_counter() - started) * 1000,
            rows=len(frame),
            provider=SOURCE,
        )
        return SocialFetch(frame=conform(frame, SOCIAL_ITEM_COLUMNS), calls=(call,))


def _post(
    hour: dt.datetime, index: int, created: dt.datetime, symbols: Sequence[str], cumulative: np.ndarray
) -> list[dict[str, Any]]:
    """One post and its comments."""
    key = (hour.isoformat(), index)
    symbol = _pick(symbols, cumulative, unit("symbol", *key))
    # Cashtags mostly; a bare word sometimes (it counts: a demo symbol of two or more letters).
    tag = f"${symbol}" if unit("cashtag", *key) < 0.8 or len(symbol) < 2 else symbol
    mood = unit("mood", symbol, created.date())  # one tone per symbol and day
    roll = unit("tone", *key)
    templates = BULLISH if roll < mood * 0.8 else BEARISH if roll > 0.2 + mood * 0.8 else NEUTRAL
    title = templates[int(len(templates) * unit("title", *key))].format(tag=tag)
    post_id = f"t3_d{_id(*key)}"
    comment_count = int(4 * unit("comments", *key))
    post = {
        "id": post_id,
        "kind": "post",
        "subreddit": SUBREDDITS[int(len(SUBREDDITS) * unit("sub", *key))],
        "created_utc": created,
        "title": title,
        "body": "" if unit("selftext", *key) < 0.5 else f"My position in {tag} is small.",
        "score": int(500 * unit("score", *key) ** 3),
        "num_comments": comment_count,
        "permalink": f"/r/demo/comments/{post_id[3:]}/",
        "parent_id": None,
        "author": f"demo_user_{int(40 * unit('author', *key))}",
        "source": SOURCE,
    }
    items = [post]
    for number in range(comment_count):
        ckey = (*key, number)
        other = _pick(symbols, cumulative, unit("other", *ckey))
        text = COMMENTS[int(len(COMMENTS) * unit("comment", *ckey))].format(tag=tag, other=f"${other}")
        comment_id = f"t1_d{_id(*ckey)}"
        items.append(
            {
                "id": comment_id,
                "kind": "comment",
                "subreddit": post["subreddit"],
                "created_utc": created + dt.timedelta(seconds=int(1800 * unit("delay", *ckey))),
                "title": None,
                "body": text,
                "score": int(50 * unit("cscore", *ckey) ** 2),
                "num_comments": None,
                "permalink": f"{post['permalink']}{comment_id[3:]}/",
                "parent_id": post_id,
                "author": None if text == "[removed]" else f"demo_user_{int(40 * unit('cauthor', *ckey))}",
                "source": SOURCE,
            }
        )
    return items


def _id(*parts: object) -> str:
    """A short base-36 id, a pure function of its parts (Reddit's ids look like this)."""
    value = int(unit("id", *parts) * 36**9)
    digits = ""
    while value:
        value, rest = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    return digits or "0"
