"""Reddit posts and comments for social sentiment, through PRAW (application-only OAuth).

- :mod:`.client`: :class:`RedditSource`, the ``SocialSource``: listings paged back to the window's
  start, the top comments of each post, the listing cap reported.
- :mod:`.session`: the ``requests`` session PRAW sends through: each request governed (shared limiter,
  429/5xx retries, ``x-ratelimit-*``), a new token on a 401.
- :mod:`.tokens`: the application-only token, refreshed before expiry; :mod:`.responses`: answers
  classified (transient, refused credentials, a refused subreddit, an error inside a 200).
- :mod:`.parse`: listing children as rows of ``SOCIAL_ITEM_COLUMNS``, malformed ones as rejects.

Imported only by :func:`ai_trader_assets.providers.factory.build_reddit`, so PRAW loads only when
Reddit is configured.
"""

from ai_trader_assets.providers.reddit.client import RedditSource
from ai_trader_assets.providers.reddit.responses import RedditAuthenticationError, RedditRefusedError

__all__ = ["RedditAuthenticationError", "RedditRefusedError", "RedditSource"]
