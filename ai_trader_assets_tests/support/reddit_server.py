"""A local HTTP server speaking Reddit's OAuth API (what PRAW requests), for tests and end-to-end runs.

Shapes follow ``../shared/fixtures/reddit`` (bodies and ``RESPONSE_META.json`` headers):

- ``POST /api/v1/access_token``: HTTP Basic ``client_id:client_secret``, form
  ``grant_type=client_credentials`` -> ``{"access_token", "token_type": "bearer", "expires_in", "scope"}``.
  Wrong credentials: 401 ``{"message": "Unauthorized", "error": 401}``; another grant: a 200 carrying
  ``{"error": "unsupported_grant_type"}`` (Reddit answers errors with 200 there).
- ``GET /r/{sub}/new?limit&after``: a Listing of the subreddit's posts, newest first (ties by id),
  ``limit`` capped at 100, ``after`` = the last child's fullname while more follow, else null. Only the
  newest ``listing_cap`` posts are reachable (Reddit serves about 1,000). A subreddit in
  ``private_subreddits`` answers 403 ``{"reason": "private", ...}``.
- ``GET /comments/{id}?limit&depth&sort``: ``[post Listing, comment Listing]``; top-level comments
  sorted (``top``/``confidence``: score; ``new``: time), at most ``limit`` of them followed by a
  ``more`` stub holding the rest's ids; replies nested in ``replies`` while ``depth`` allows. An
  unknown post: 404.
- API requests need ``Authorization: bearer <token>`` with a token this server issued, unexpired;
  else 401 ``{"error": 401}`` with Reddit's ``www-authenticate`` header.
- Every token and API answer carries generous ``x-ratelimit-*`` headers (``ratelimit_headers``).
  ``created`` is ``created_utc`` + 8 h (a local offset, as in the 2016 fixtures): readers must use
  ``created_utc``.

Posts are given as dicts (see :class:`RedditServer`). Requests are recorded (``requests``: path, query,
headers; ``token_forms``: the token requests' forms); failures are scripted through :class:`FakeApi`
(``fail``) or the switches below.
"""

import base64
import datetime as dt
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from ai_trader_assets_tests.support.fake_api import FIXTURES, FakeApi, RecordedRequest, fixture_json

TOKEN_PATH = "/api/v1/access_token"
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
LOCAL_OFFSET_SECONDS = 8 * 3600  # what ``created`` adds to ``created_utc`` here
INVALID_TOKEN = {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'}
GENEROUS_RATELIMIT = {"x-ratelimit-remaining": "598.0", "x-ratelimit-used": "2", "x-ratelimit-reset": "420"}
__all__ = ["RecordedRequest", "RedditServer", "html_429", "spaced_posts"]


def html_429() -> bytes:
    """Reddit's HTML 429 page ("whoa there, pardner!")."""
    return (FIXTURES / "reddit" / "error_429_html_with_retry_after.html").read_bytes()


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def _short(item_id: str, kind: str) -> str:
    return item_id.removeprefix(f"{kind}_")


def spaced_posts(
    subreddit: str,
    newest: dt.datetime,
    count: int,
    every: dt.timedelta = dt.timedelta(minutes=10),
    *,
    comments: int = 0,
    prefix: str = "p",
) -> list[dict[str, Any]]:
    """``count`` posts of ``subreddit``, the newest at ``newest`` and each ``every`` older, with
    ``comments`` comments each (a minute apart, scores descending): input for :class:`RedditServer`."""
    posts = []
    for n in range(count):
        created = newest - n * every
        post_id = f"{prefix}{subreddit.lower()[:4]}{n}"
        posts.append(
            {
                "id": post_id,
                "subreddit": subreddit,
                "created_utc": created.timestamp(),
                "title": f"$AAPL post {n} of r/{subreddit}",
                "selftext": "" if n % 3 else f"Body of post {n}: buying calls",
                "author": None if n % 5 == 4 else f"user{n % 7}",
                "score": 10 * n,
                "comments": [
                    {
                        "id": f"{post_id}c{k}",
                        "created_utc": (created + dt.timedelta(minutes=k + 1)).timestamp(),
                        "body": "[removed]" if k == 2 else f"comment {k} on {post_id}",
                        "author": None if k == 2 else f"commenter{k}",
                        "score": 100 - k,
                    }
                    for k in range(comments)
                ],
            }
        )
    return posts


class RedditServer(FakeApi):
    """Start with ``with RedditServer(client_id, client_secret, posts) as server:``; point
    REDDIT_AUTH_URL and REDDIT_OAUTH_URL at ``server.url``.

    Args:
        client_id, client_secret: The credentials the token endpoint accepts (HTTP Basic).
        posts: Dicts with ``id`` (``abc`` or ``t3_abc``), ``subreddit``, ``created_utc`` (epoch
            seconds or an aware datetime), ``title``, ``selftext``, ``author`` (None: ``[deleted]``),
            ``score``, ``num_comments`` (default: the number of comments, replies included) and
            ``comments``: dicts with ``id``, ``created_utc``, ``body``, ``author``, ``score`` and
            optionally ``replies`` (comments again). :func:`spaced_posts` makes such lists.
        expires_in: The tokens' lifetime in seconds (also enforced: an older token gets a 401).
        listing_cap: How many of a subreddit's newest posts ``/new`` reaches.

    Switches (attributes and methods):
        refuse_credentials: Every token request gets 401 (bad credentials).
        refuse_tokens: Every API request gets 401, whatever its token (a suspended app).
        token_error_in_200: Token requests get the fixture's 200 carrying ``{"error": ...}``.
        private_subreddits: Subreddits whose listing answers 403 (lower case).
        ratelimit_headers: The ``x-ratelimit-*`` headers of every answer (None: none).
        :meth:`storm_429`, :meth:`expire_token_after`, :meth:`exhaust_ratelimit`; and FakeApi's
        ``fail`` (scripted statuses) and ``respond`` (canned bodies, after the token check).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        posts: Iterable[Mapping[str, Any]] = (),
        *,
        expires_in: int = 3600,
        listing_cap: int = 1000,
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.expires_in, self.listing_cap = expires_in, listing_cap
        self.posts: dict[str, dict[str, Any]] = {}
        self.add_posts(posts)
        self.refuse_credentials = False
        self.refuse_tokens = False
        self.token_error_in_200 = False
        self.private_subreddits: set[str] = set()
        self.ratelimit_headers: dict[str, str] | None = dict(GENEROUS_RATELIMIT)
        self.issued_tokens: list[str] = []
        self.token_forms: list[dict[str, list[str]]] = []
        self._issued_at: dict[str, float] = {}
        self._expired: set[str] = set()
        self._expire_after: int | None = None
        self._spent_answers: list[str] = []  # the resets of the next answers reporting a spent window
        self._state = threading.Lock()

    # ----------------------------------------------------------------- knobs

    def add_posts(self, posts: Iterable[Mapping[str, Any]]) -> None:
        for post in posts:
            short = _short(str(post["id"]), "t3")
            self.posts[short] = {**post, "id": short}

    def storm_429(
        self, times: int, path_contains: str = "/r/", retry_after: str = "0", *, json_first: bool = False
    ) -> None:
        """The next ``times`` requests whose path contains ``path_contains`` get 429, alternating
        Reddit's two forms: the HTML page with ``retry-after`` and ``{"message", "error": 429}``
        without it (first, with ``json_first``)."""
        for n in range(times):
            if n % 2 == int(json_first):
                headers = {"Content-Type": "text/html; charset=UTF-8", "retry-after": retry_after}
                self.fail(path_contains, 429, headers=headers, body=html_429())
            else:
                self.fail(
                    path_contains, 429, body=fixture_json("reddit", "error_429_json_on_access_token.json")
                )

    def expire_token_after(self, calls: int) -> None:
        """After ``calls`` more answered API calls, every token issued so far is expired: API calls
        get 401 ``{"error": 401}`` until a new token is fetched."""
        with self._state:
            self._expire_after = calls

    def exhaust_ratelimit(self, reset_seconds: int, times: int = 1) -> None:
        """The next ``times`` answered API calls report a spent window (remaining 0, reset as given)."""
        with self._state:
            self._spent_answers.extend([str(reset_seconds)] * times)

    def token_requests(self) -> list[RecordedRequest]:
        return self.requests_to(TOKEN_PATH)

    def api_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path != TOKEN_PATH]

    # --------------------------------------------------------------- serving

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        base: Any = super()._handler_class()

        class Handler(base):  # type: ignore[misc]
            def do_POST(self) -> None:  # the token endpoint: read the form, then answer as a GET does
                length = int(self.headers.get("Content-Length") or 0)
                self.form = parse_qs(self.rfile.read(length).decode()) if length else {}
                self.do_GET()

        return Handler  # type: ignore[no-any-return]

    def _respond(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], Any, float]:
        parsed = urlparse(handler.path)
        query = parse_qs(parsed.query)
        headers = dict(handler.headers.items())
        with self._lock:
            self.requests.append(RecordedRequest(time.time(), parsed.path, query, headers))
            if handler.command == "POST":
                self.token_forms.append(getattr(handler, "form", {}))
            for index, scripted in enumerate(self._scripted):
                if scripted.path_contains in parsed.path:
                    del self._scripted[index]
                    return scripted.status, scripted.headers, scripted.body, scripted.delay_seconds
        if parsed.path == TOKEN_PATH and handler.command == "POST":
            status, body = self._token(headers, getattr(handler, "form", {}))
            return status, self._rate_headers(api=False), body, 0.0
        if not self._bearer_ok(headers):
            return 401, INVALID_TOKEN, fixture_json("reddit", "error_401_invalid_token.json"), 0.0
        with self._lock:
            canned = next((b for p, b in self._canned.items() if p in parsed.path and b), None)
            body = canned.popleft() if canned is not None else None
        status, body = (200, body) if canned is not None else self.generate(parsed.path, query)
        self._answered()
        return status, self._rate_headers(api=True), body, 0.0

    def _token(self, headers: Mapping[str, str], form: Mapping[str, list[str]]) -> tuple[int, Any]:
        if self.refuse_credentials or not self._basic_ok(headers):
            return 401, {"message": "Unauthorized", "error": 401}
        if self.token_error_in_200:
            return 200, fixture_json("reddit", "access_token_error_returned_with_http_200.json")
        if form.get("grant_type") != ["client_credentials"]:
            return 200, {"error": "unsupported_grant_type"}
        with self._state:
            token = f"{len(self.issued_tokens) + 1}-{secrets.token_urlsafe(18)}"
            self.issued_tokens.append(token)
            self._issued_at[token] = time.time()
        return 200, {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": "*",
        }

    def _basic_ok(self, headers: Mapping[str, str]) -> bool:
        scheme, _, encoded = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            pair = base64.b64decode(encoded).decode()
        except ValueError:
            return False
        return pair == f"{self.client_id}:{self.client_secret}"

    def _bearer_ok(self, headers: Mapping[str, str]) -> bool:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        with self._state:
            issued = self._issued_at.get(token)
            return (
                not self.refuse_tokens
                and scheme.lower() == "bearer"
                and issued is not None
                and token not in self._expired
                and time.time() < issued + self.expires_in
            )

    def _answered(self) -> None:
        with self._state:
            if self._expire_after is None:
                return
            self._expire_after -= 1
            if self._expire_after <= 0:
                self._expired.update(self.issued_tokens)
                self._expire_after = None

    def _rate_headers(self, *, api: bool) -> dict[str, str]:
        with self._state:
            if api and self._spent_answers:
                reset = self._spent_answers.pop(0)
                return {"x-ratelimit-remaining": "0.0", "x-ratelimit-used": "600", "x-ratelimit-reset": reset}
        return dict(self.ratelimit_headers or {})

    # ------------------------------------------------------------------ data

    def generate(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        parts = path.rstrip("/").split("/")
        if len(parts) == 4 and parts[1] == "r" and parts[3] == "new":
            return self._listing(parts[2], query)
        if len(parts) == 3 and parts[1] == "comments":
            return self._comments(parts[2], query)
        return 404, {"message": "Not Found", "error": 404}

    def _listing(self, subreddit: str, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        if subreddit.lower() in self.private_subreddits:
            return 403, {"reason": "private", "message": "Forbidden", "error": 403}
        posts = sorted(
            (p for p in self.posts.values() if str(p["subreddit"]).lower() == subreddit.lower()),
            key=lambda p: (-_epoch(p["created_utc"]), p["id"]),
        )[: self.listing_cap]
        limit = min(int(query.get("limit", [str(DEFAULT_LIMIT)])[0]), MAX_LIMIT)
        after = query.get("after", [None])[0]
        names = [f"t3_{p['id']}" for p in posts]
        first = names.index(after) + 1 if after in names else (len(names) if after else 0)
        page = posts[first : first + limit]
        more = first + limit < len(posts)
        return 200, _listing([self._post_child(p) for p in page], f"t3_{page[-1]['id']}" if more else None)

    def _comments(self, short_id: str, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        post = self.posts.get(short_id)
        if post is None:
            return 404, {"message": "Not Found", "error": 404}
        limit = int(query.get("limit", ["200"])[0])
        depth = int(query.get("depth", ["10"])[0])
        sort = query.get("sort", ["confidence"])[0]
        top = post.get("comments") or []
        children = self._comment_children(post, top, f"t3_{post['id']}", (limit, depth, sort), 0)
        return 200, [_listing([self._post_child(post)], None), _listing(children, None)]

    def _comment_children(
        self,
        post: Mapping[str, Any],
        comments: Sequence[Mapping[str, Any]],
        parent: str,
        asked: tuple[int, int, str],
        level: int,
    ) -> list[dict[str, Any]]:
        """``asked``: the request's (limit, depth, sort)."""
        limit, _, sort = asked
        if sort == "new":
            ordered = sorted(comments, key=lambda c: -_epoch(c["created_utc"]))
        else:  # top, confidence, best: by score here
            ordered = sorted(comments, key=lambda c: -(c.get("score") or 0))
        shown, rest = ordered[:limit], ordered[limit:]
        children = [self._comment_child(post, c, parent, asked, level) for c in shown]
        if rest:
            ids = [_short(str(c["id"]), "t1") for c in rest]
            children.append(
                {
                    "kind": "more",
                    "data": {
                        "count": len(rest),
                        "name": f"t1_{ids[0]}",
                        "id": ids[0],
                        "parent_id": parent,
                        "depth": level,
                        "children": ids,
                    },
                }
            )
        return children

    def _post_child(self, post: Mapping[str, Any]) -> dict[str, Any]:
        sub, short = str(post["subreddit"]), str(post["id"])
        created = _epoch(post["created_utc"])
        permalink = f"/r/{sub}/comments/{short}/post_{short}/"
        return {
            "kind": "t3",
            "data": {
                "id": short,
                "name": f"t3_{short}",
                "subreddit": sub,
                "subreddit_name_prefixed": f"r/{sub}",
                "subreddit_id": "t5_2qh1i",
                "title": post.get("title", ""),
                "selftext": post.get("selftext", ""),
                "selftext_html": None,
                "author": post.get("author") or "[deleted]",
                "created_utc": created,
                "created": created + LOCAL_OFFSET_SECONDS,
                "score": post.get("score", 1),
                "ups": post.get("score", 1),
                "upvote_ratio": 0.9,
                "num_comments": post.get("num_comments", _count(post.get("comments") or [])),
                "permalink": permalink,
                "url": f"https://www.reddit.com{permalink}",
                "is_self": True,
                "domain": f"self.{sub}",
                "over_18": False,
                "stickied": False,
                "locked": False,
                "edited": False,
            },
        }

    def _comment_child(
        self,
        post: Mapping[str, Any],
        comment: Mapping[str, Any],
        parent: str,
        asked: tuple[int, int, str],
        level: int,
    ) -> dict[str, Any]:
        sub, short = str(post["subreddit"]), _short(str(comment["id"]), "t1")
        created = _epoch(comment["created_utc"])
        replies: Any = ""
        if comment.get("replies") and level + 1 < asked[1]:
            nested = self._comment_children(post, comment["replies"], f"t1_{short}", asked, level + 1)
            replies = _listing(nested, None)
        return {
            "kind": "t1",
            "data": {
                "id": short,
                "name": f"t1_{short}",
                "parent_id": parent,
                "link_id": f"t3_{post['id']}",
                "subreddit": sub,
                "body": comment.get("body", ""),
                "author": comment.get("author") or "[deleted]",
                "created_utc": created,
                "created": created + LOCAL_OFFSET_SECONDS,
                "score": comment.get("score", 1),
                "ups": comment.get("score", 1),
                "depth": level,
                "permalink": f"/r/{sub}/comments/{post['id']}/post_{post['id']}/{short}/",
                "replies": replies,
                "stickied": False,
                "is_submitter": False,
            },
        }


def _count(comments: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 + _count(c.get("replies") or []) for c in comments)


def _listing(children: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            "modhash": "",
            "geo_filter": "",
            "children": children,
            "before": None,
        },
    }
