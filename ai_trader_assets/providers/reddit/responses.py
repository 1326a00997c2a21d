"""Reddit's answers classified: which are transient (retried), which refuse the credentials, which
refuse one subreddit or post (skipped with a note), and which 200s are errors in disguise.

Every message names the endpoint as a path template (``/r/{subreddit}/new``), never a token or key.
"""

from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from ai_trader_assets.providers.base import AuthenticationError, ProviderError
from ai_trader_assets.providers.http import TransientError, retry_after_seconds

PROVIDER = "reddit"
TOKEN_PATH = "/api/v1/access_token"  # noqa: S105 (a path, not a password)
LISTING = "/r/{subreddit}/new"
COMMENTS = "/comments/{id}"
KEY_VARIABLES = "REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET"
APPS_PAGE = "an app of type 'script' or 'web' at https://www.reddit.com/prefs/apps"
# Private (403), banned or gone (404), blocked in a country (451): that resource only, not the run.
REFUSED_STATUSES = {HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.UNAVAILABLE_FOR_LEGAL_REASONS}


class RedditAuthenticationError(AuthenticationError):
    """Reddit refused the app's credentials or every token it issued; the message names
    ``REDDIT_CLIENT_ID`` and ``REDDIT_CLIENT_SECRET``, never their values."""


class RedditRefusedError(ProviderError):
    """Reddit will not serve one subreddit or post (private, banned, quarantined, gone): the run
    goes on without it, with a note."""

    def __init__(self, message: str, status: int, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def endpoint_of(url: str) -> str:
    """The path template of a request (what call records and messages name: never a value)."""
    path = urlsplit(url).path.rstrip("/")
    parts = path.split("/")
    if path == TOKEN_PATH:
        return TOKEN_PATH
    if len(parts) == 4 and parts[1] == "r" and parts[3] == "new":
        return LISTING
    if len(parts) == 3 and parts[1] == "comments":
        return COMMENTS
    return path


def _is_listing(body: Any) -> bool:
    data = body.get("data") if isinstance(body, dict) else None
    return (
        isinstance(body, dict)
        and body.get("kind") == "Listing"
        and isinstance(data, dict)
        and isinstance(data.get("children"), list)
    )


def check_body(endpoint: str, body: Any) -> int:
    """Raise for a 200 whose body is an error or not the endpoint's shape; return its item count."""
    if isinstance(body, dict) and "error" in body:
        said = body.get("message") or body.get("error_description") or body.get("reason") or ""
        raise ProviderError(f"{PROVIDER} {endpoint}: HTTP 200 carrying error {body['error']!r} {said!s:.200}")
    if endpoint == LISTING:
        if not _is_listing(body):
            raise ProviderError(f"{PROVIDER} {endpoint}: expected a Listing, got {str(body)[:200]}")
        return len(body["data"]["children"])
    if endpoint == COMMENTS:
        if not (isinstance(body, list) and len(body) == 2 and all(_is_listing(part) for part in body)):
            raise ProviderError(
                f"{PROVIDER} {endpoint}: expected [post Listing, comment Listing], got {str(body)[:200]}"
            )
        return sum(1 for c in body[1]["data"]["children"] if isinstance(c, dict) and c.get("kind") == "t1")
    return 0


def token_of(body: Any) -> tuple[str, float]:
    """(access_token, expires_in) of a token endpoint's 200; an ``{"error": ...}`` in it (Reddit's
    answer to a wrong grant or app type) refuses the credentials."""
    if isinstance(body, dict) and "error" in body:
        said = body.get("error_description") or ""
        raise RedditAuthenticationError(
            f"{PROVIDER} {TOKEN_PATH}: HTTP 200 carrying error {body['error']!r} {said!s:.200}; "
            f"check {KEY_VARIABLES} ({APPS_PAGE})"
        )
    token = body.get("access_token") if isinstance(body, dict) else None
    lifetime = body.get("expires_in") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token or not isinstance(lifetime, int | float) or lifetime <= 0:
        raise ProviderError(
            f"{PROVIDER} {TOKEN_PATH}: a 200 without an access_token and a positive expires_in"
        )
    return token, float(lifetime)


def raise_for_status(endpoint: str, response: requests.Response) -> None:
    """Raise for a non-200: transient (429, 5xx), refused credentials, a refused resource, or other."""
    status = response.status_code
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        raise TransientError(
            "HTTP 429 rate limited", retry_after_seconds(response.headers.get("retry-after"))
        )
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise TransientError(f"HTTP {status}")
    if endpoint == TOKEN_PATH and status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
        raise RedditAuthenticationError(
            f"{PROVIDER} {TOKEN_PATH}: HTTP {status}: Reddit refused the app's credentials; "
            f"check {KEY_VARIABLES} ({APPS_PAGE})"
        )
    if endpoint != TOKEN_PATH and (status in REFUSED_STATUSES or 300 <= status < 400):
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        reason = str(body.get("reason") or "") if isinstance(body, dict) else ""
        if 300 <= status < 400:
            reason = reason or "redirected: no such subreddit"
        raise RedditRefusedError(
            f"{PROVIDER} {endpoint}: HTTP {status} ({reason or 'refused'})", status, reason or "refused"
        )
    raise ProviderError(f"{PROVIDER} {endpoint}: HTTP {status}: {response.text[:200]}")
