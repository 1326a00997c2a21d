"""The Reddit social source (:class:`~ai_trader_assets.providers.social.SocialSource`) on PRAW.

What a read does, per configured subreddit (``sentiment.yaml``'s ``reddit``):

1. ``/r/{sub}/new``, newest first, ``limit=page_size``, paging with ``after`` until an item older than
   the window's start or the listing's end (``after`` null). Reddit serves about the newest 1,000
   items of a listing: when it ends before the window's start, ``reached[sub]`` holds the oldest
   creation time read and a note says so (older items could not be read).
2. For each post created in [start, end) with comments (and ``comments.per_post`` > 0): one
   ``/comments/{id}`` request (``limit=per_post``, ``depth``, ``sort=top``); comments come back as
   kind ``comment`` with ``parent_id`` the post's fullname; ``more`` stubs are not followed.

PRAW (``Reddit.request``, raw JSON: PRAW's models would fetch lazily on a missing attribute) builds
the requests; :mod:`.session` governs each one and holds the token. A subreddit or post Reddit refuses
(private, banned, gone) is skipped with a note; every other failure raises.
"""

import datetime as dt
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import praw
import prawcore

from ai_trader_assets.config.sentiment import RedditSpec
from ai_trader_assets.providers.base import PaginationError, ProviderError
from ai_trader_assets.providers.http import MAX_PAGES, RequestGovernor
from ai_trader_assets.providers.reddit import parse
from ai_trader_assets.providers.reddit.responses import LISTING, PROVIDER, TOKEN_PATH, RedditRefusedError
from ai_trader_assets.providers.reddit.session import PLACEHOLDER, Credentials, GovernedSession
from ai_trader_assets.providers.reddit.tokens import utc_now
from ai_trader_assets.providers.social import SocialFetch
from ai_trader_assets.settings import PROVIDER_ENDPOINTS, Secret

# Reddit's guidelines ask for "<platform>:<app ID>:<version> (by /u/<username>)"; PRAW refuses fewer
# than 7 characters.
MIN_USER_AGENT = 7


def _host_root(url: str, variable: str) -> str:
    """A URL PRAW can join paths to: prawcore uses ``urljoin``, which drops any path prefix."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ProviderError(
            f"{variable}={url!r}: expected a scheme and host only, e.g. https://oauth.reddit.com"
        )
    return url.rstrip("/")


class RedditSource:
    """Posts and top comments of the configured subreddits (``SocialSource``).

    Args:
        spec: ``sentiment.yaml``'s ``reddit``: subreddits, page size, comments per post and depth.
        governor: Reddit's limits and retries (``providers.yaml``'s ``reddit``), shared by every request.
        client_id, client_secret: The app's credentials (``REDDIT_CLIENT_ID``, ``REDDIT_CLIENT_SECRET``).
        user_agent: ``REDDIT_USER_AGENT`` (at least 7 characters).
        auth_url: ``REDDIT_AUTH_URL``: where tokens come from (``/api/v1/access_token``).
        oauth_url: ``REDDIT_OAUTH_URL``: the API's host.
        clock: Now, tz-aware (the token's expiry; tests move it).
        sleep: Waits for a spent rate-limit window (tests record instead of waiting).
    """

    name = PROVIDER

    def __init__(
        self,
        spec: RedditSpec,
        governor: RequestGovernor,
        *,
        client_id: Secret,
        client_secret: Secret,
        user_agent: Secret,
        auth_url: str = PROVIDER_ENDPOINTS["REDDIT_AUTH_URL"],
        oauth_url: str = PROVIDER_ENDPOINTS["REDDIT_OAUTH_URL"],
        clock: Callable[[], dt.datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if len(user_agent.reveal().strip()) < MIN_USER_AGENT:
            raise ProviderError(
                f"REDDIT_USER_AGENT is shorter than {MIN_USER_AGENT} characters; Reddit asks for "
                "'<platform>:<app ID>:<version> (by /u/<username>)'"
            )
        self.spec = spec
        auth = _host_root(auth_url, "REDDIT_AUTH_URL")
        self._oauth_url = _host_root(oauth_url, "REDDIT_OAUTH_URL")
        self._session = GovernedSession(
            governor, Credentials(client_id, client_secret, auth + TOKEN_PATH), clock=clock, sleep=sleep
        )
        # The credentials PRAW holds are placeholders: the session answers PRAW's token request and
        # sets the real token on each request (session.py). site_name, username, password and
        # refresh_token are passed so that no praw.ini or praw_* variable can switch PRAW to another
        # flow or section.
        self._reddit = praw.Reddit(
            site_name="DEFAULT",
            client_id=PLACEHOLDER,
            client_secret=PLACEHOLDER,
            user_agent=user_agent.reveal().strip(),
            username=None,
            password=None,
            refresh_token=None,
            reddit_url=auth,
            oauth_url=self._oauth_url,
            check_for_updates=False,
            requestor_kwargs={"session": self._session},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._oauth_url}, {len(self.spec.subreddits)} subreddits)"

    def close(self) -> None:
        self._session.close()

    def items(self, start: dt.datetime, end: dt.datetime) -> SocialFetch:
        """Posts created in [start, end) of every configured subreddit, with their top comments."""
        if start.utcoffset() is None or end.utcoffset() is None:
            raise ValueError("start and end must be tz-aware")
        self._session.calls.clear()
        run = _Run(start.astimezone(dt.UTC), end.astimezone(dt.UTC))
        refused: list[str] = []
        for subreddit in self.spec.subreddits:
            try:
                posts = self._posts(subreddit, run)
            except RedditRefusedError as exc:
                refused.append(f"r/{subreddit}: {exc.reason}")
                run.notes.append(
                    f"r/{subreddit}: Reddit refused the listing (HTTP {exc.status}, {exc.reason}); skipped"
                )
                continue
            for post in posts:
                self._comments(post, run)
        if refused and len(refused) == len(self.spec.subreddits):
            raise ProviderError(
                f"{PROVIDER} {LISTING}: Reddit refused every configured subreddit ({'; '.join(refused)}); "
                "check sentiment.yaml's reddit.subreddits"
            )
        return SocialFetch(
            frame=parse.items_frame(run.rows),
            rejects=parse.rejects_of(run.rejects),
            calls=tuple(self._session.calls),
            reached=run.reached,
            notes=tuple(run.notes),
        )

    # ---------------------------------------------------------------- reading

    def _get(self, path: str, params: dict[str, str | int]) -> Any:
        """One GET through PRAW: the JSON body, checked by the session; our errors unwrapped from
        prawcore's ``RequestException`` (which wraps whatever the session raises)."""
        try:
            return self._reddit.request(method="GET", path=path, params=params)
        except prawcore.exceptions.RequestException as exc:
            if isinstance(exc.original_exception, ProviderError):
                raise exc.original_exception from None
            raise ProviderError(
                f"{PROVIDER}: {type(exc.original_exception).__name__}: {exc.original_exception}"
            ) from None
        except prawcore.exceptions.PrawcoreException as exc:
            raise ProviderError(f"{PROVIDER}: {type(exc).__name__}: {exc}") from None

    def _posts(self, subreddit: str, run: "_Run") -> list[parse.Row]:
        """The subreddit's posts created in the window, paging back from the newest."""
        in_window: list[parse.Row] = []
        after: str | None = None
        afters: set[str] = set()
        read, oldest = 0, None
        for _ in range(MAX_PAGES):
            params: dict[str, str | int] = {"limit": self.spec.page_size}
            if after is not None:
                params["after"] = after
            body = self._get(f"/r/{subreddit}/new", params)
            rows, rejects = parse.listing_rows(body, subreddit)
            run.rejects.extend(rejects)
            read += len(rows)
            for row in rows:
                oldest = row["created_utc"] if oldest is None else min(oldest, row["created_utc"])
                if run.start <= row["created_utc"] < run.end and run.first_time(row["id"]):
                    in_window.append(row)
            after = parse.listing_after(body)
            if oldest is not None and oldest < run.start:
                break  # the window's start is reached: older pages hold nothing of it
            if after is None:
                if oldest is not None:
                    run.listing_ended(subreddit, oldest, read)
                break
            if not parse.listing_children(body) or after in afters:
                problem = "repeats a page already read" if after in afters else "follows an empty page"
                raise PaginationError(f"{PROVIDER} {LISTING}: r/{subreddit}: 'after' {problem} (a loop)")
            afters.add(after)
        else:
            raise PaginationError(f"{PROVIDER} {LISTING}: r/{subreddit}: more than {MAX_PAGES} pages")
        run.rows.extend(in_window)
        return in_window

    def _comments(self, post: parse.Row, run: "_Run") -> None:
        """The post's top comments (one request), when it has any and comments are read at all."""
        per_post = self.spec.comments.per_post
        if per_post <= 0 or not post["num_comments"]:
            return
        short_id = post["id"].removeprefix("t3_")
        params: dict[str, str | int] = {"limit": per_post, "depth": self.spec.comments.depth, "sort": "top"}
        try:
            body = self._get(f"/comments/{short_id}", params)
        except RedditRefusedError as exc:
            run.notes.append(
                f"{post['id']}: Reddit refused its comments (HTTP {exc.status}, {exc.reason}); skipped"
            )
            return
        rows, rejects = parse.comment_rows(
            parse.listing_children(body[1]), post_id=post["id"], subreddit=post["subreddit"], limit=per_post
        )
        run.rejects.extend(rejects)
        run.rows.extend(row for row in rows if run.first_time(row["id"]))


class _Run:
    """What one read collects."""

    def __init__(self, start: dt.datetime, end: dt.datetime) -> None:
        self.start, self.end = start, end
        self.rows: list[parse.Row] = []
        self.rejects: list[parse.Reject] = []
        self.reached: dict[str, dt.datetime] = {}
        self.notes: list[str] = []
        self._seen: set[str] = set()

    def first_time(self, item_id: str) -> bool:
        """Whether the item is new to this read (a listing shifts as posts arrive: a page may repeat one)."""
        if item_id in self._seen:
            return False
        self._seen.add(item_id)
        return True

    def listing_ended(self, subreddit: str, oldest: dt.datetime, read: int) -> None:
        self.reached[subreddit] = oldest
        self.notes.append(
            f"r/{subreddit}: the listing ended at {oldest:%Y-%m-%d %H:%M} UTC after {read} items (Reddit "
            "serves about the newest 1,000 items); older items of the window could not be read"
        )
