"""The social-source interface: posts and comments of a time window, in the
:data:`~ai_trader_assets.datasets.sentiment.SOCIAL_ITEM_COLUMNS` schema. Reddit (PRAW) serves it when
its variables are set; the demo provider serves deterministic Reddit-like posts."""

import dataclasses
import datetime as dt
from typing import Protocol

import pandas as pd

from ai_trader_assets.datasets.validation import EMPTY_REJECTS
from ai_trader_assets.providers.base import ProviderCall


@dataclasses.dataclass(frozen=True)
class SocialFetch:
    """What one read of a social source returns.

    Attributes:
        frame: The posts created in the window and their comments (``SOCIAL_ITEM_COLUMNS``).
        rejects: Items that could not be read (columns ``reason``, ``record``).
        calls: The requests made (no token, no secret).
        reached: Per subreddit whose listing ended before the window's start (Reddit serves about the
            newest 1,000 items of a listing), the oldest creation time it reached: items before it
            could not be read.
        notes: One line per thing the run should say (a listing cap hit, how far back it reached).
    """

    frame: pd.DataFrame
    rejects: pd.DataFrame = dataclasses.field(default_factory=EMPTY_REJECTS.copy)
    calls: tuple[ProviderCall, ...] = ()
    reached: dict[str, dt.datetime] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()


class SocialSource(Protocol):
    name: str  # reddit | demo

    def items(self, start: dt.datetime, end: dt.datetime) -> SocialFetch:
        """Posts created in [start, end) in the configured subreddits, newest first until the window's
        start (or the listing's end), with their top comments; tz-aware UTC bounds."""
        ...
