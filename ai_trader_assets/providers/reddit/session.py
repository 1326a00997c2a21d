"""The HTTP session PRAW sends its requests through (``requestor_kwargs={"session": ...}``): each
request runs inside our :class:`RequestGovernor`, and the OAuth token is held here, never by PRAW.

Why the session does what prawcore would (prawcore 4, read in its source):

- 429. prawcore raises ``TooManyRequests`` at once; its own retries (408/5xx, dropped connections)
  sleep on a schedule of their own. Here each attempt takes a slot of the shared cross-process
  limiter, and 429 (HTML or JSON body; ``retry-after`` honoured), 5xx, timeouts, dropped connections
  and cut-off bodies are retried by the governor with backoff. prawcore only ever sees a 200 or the
  final error, so its retry paths never run and the two policies never stack.
- Rate-limit headers. prawcore's limiter sleeps from ``x-ratelimit-*`` with ``time.sleep``. The
  session reads them instead (when ``remaining`` reaches 0, the next request waits ``reset``
  seconds through an injected sleep) and takes them off the response prawcore reads, so the wait
  never happens twice.
- The token (:mod:`.tokens`). PRAW is given placeholder credentials; its token request is answered
  here with a placeholder token, and the real one is set on each request. On a 401 the session
  fetches a new token and sends the request again. So no secret or token lives in PRAW's objects,
  logs or exceptions.
- Errors inside a 200 (``{"error": ...}``, a body that is not the endpoint's shape) raise, naming
  the endpoint (:mod:`.responses`): never an empty answer.
"""

import dataclasses
import datetime as dt
import functools
import logging
import math
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson
import requests

from ai_trader_assets.providers.base import ProviderCall
from ai_trader_assets.providers.http import RequestGovernor, TransientError
from ai_trader_assets.providers.reddit.responses import (
    PROVIDER,
    TOKEN_PATH,
    check_body,
    endpoint_of,
    raise_for_status,
    token_of,
)
from ai_trader_assets.providers.reddit.tokens import Bearer, ClientCredentials, TokenKeeper, utc_now
from ai_trader_assets.settings import Secret

logger = logging.getLogger(__name__)

# Reddit's rate-limit window: a ``reset`` beyond it is not believed.
WINDOW_SECONDS = 600.0
# What PRAW holds instead of the credentials and the token.
PLACEHOLDER = "held-by-the-session"
PLACEHOLDER_LIFETIME = 365 * 24 * 3600


@dataclasses.dataclass(frozen=True)
class Credentials:
    client_id: Secret
    client_secret: Secret
    token_url: str  # REDDIT_AUTH_URL + /api/v1/access_token


class GovernedSession(requests.Session):
    """What PRAW's requestor sends through.

    Args:
        governor: Reddit's limits and retries (and its timeouts).
        credentials: The app's id and secret, and the token endpoint.
        clock: Now, tz-aware, for the token's expiry.
        sleep: Waits for a spent rate-limit window (tests record instead of waiting).

    Attributes:
        calls: One record per HTTP response (the source clears it per read).
        tokens: The access token's keeper.
    """

    def __init__(
        self,
        governor: RequestGovernor,
        credentials: Credentials,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self._governor = governor
        self._credentials = credentials
        self._sleep = sleep
        timeouts = governor.spec.timeouts
        self._timeout = (timeouts.connect_seconds, timeouts.read_seconds)
        self._resume_at: float | None = None  # monotonic; set when x-ratelimit-remaining hits 0
        self.calls: list[ProviderCall] = []
        self.tokens = TokenKeeper(self._fetch_token, clock)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({PROVIDER}, {self._credentials.token_url})"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """One request of PRAW's: its token request answered here, an API request governed."""
        if args:
            raise TypeError("pass request options by keyword (as prawcore does)")
        verb = (method.decode() if isinstance(method, bytes) else method).upper()
        target = url.decode() if isinstance(url, bytes) else url
        if verb == "POST" and endpoint_of(target) == TOKEN_PATH:
            return self._placeholder_token(target)
        return self._api(verb, target, kwargs)

    def _placeholder_token(self, url: str) -> requests.Response:
        """PRAW's token request, answered without the network: the real token is ours alone."""
        response = requests.Response()
        response.status_code = HTTPStatus.OK
        response.url = url
        response.headers["Content-Type"] = "application/json"
        response._content = orjson.dumps(
            {
                "access_token": PLACEHOLDER,
                "token_type": "bearer",
                "expires_in": PLACEHOLDER_LIFETIME,
                "scope": "*",
            }
        )
        return response

    def _fetch_token(self) -> tuple[Secret, float]:
        """One client-credentials token request (governed: a 429 or 5xx is retried)."""
        options = {
            "auth": ClientCredentials(self._credentials.client_id, self._credentials.client_secret),
            "data": {"grant_type": "client_credentials"},
            "headers": {"Accept": "application/json"},
        }
        send = functools.partial(self._send, "POST", self._credentials.token_url, TOKEN_PATH, options)
        _, body = self._governor.run(TOKEN_PATH, send)
        token, lifetime = token_of(body)
        return Secret(token), lifetime

    def _api(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        """An API request with the current token; on a 401 a new token, and the request again (the
        keeper ends the loop after three refused tokens)."""
        endpoint = endpoint_of(url)
        options = {k: v for k, v in kwargs.items() if k not in ("timeout", "allow_redirects", "auth")}
        # PRAW's Authorization header carries its placeholder token; Bearer sets ours.
        headers = options.get("headers") or {}
        options["headers"] = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        while True:
            options["auth"] = Bearer(self.tokens.current())
            send = functools.partial(self._send, method, url, endpoint, dict(options))
            response, _ = self._governor.run(endpoint, send)
            if response.status_code != HTTPStatus.UNAUTHORIZED:
                self.tokens.confirmed()
                return response
            logger.info(
                "%s %s: HTTP 401: the access token was refused; fetching a new one", PROVIDER, endpoint
            )
            self.tokens.refused()

    def _send(
        self, method: str, url: str, endpoint: str, options: dict[str, Any]
    ) -> tuple[requests.Response, Any]:
        """One attempt: (response, decoded body) of a 200 or, from the API, a 401; raises otherwise."""
        self._pause_if_spent()
        started = time.perf_counter()
        try:
            response = super().request(method, url, timeout=self._timeout, allow_redirects=False, **options)
        except requests.exceptions.Timeout as exc:
            raise TransientError(f"{type(exc).__name__} (timeout)") from None
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise TransientError(f"{type(exc).__name__} (dropped connection)") from None
        latency_ms = (time.perf_counter() - started) * 1000
        self._read_rate_headers(response)
        status, rows, body = response.status_code, 0, None
        try:
            if status == HTTPStatus.OK:
                try:
                    body = orjson.loads(response.content)
                except orjson.JSONDecodeError as exc:  # cut off in transit: retried, never empty
                    raise TransientError(
                        f"undecodable JSON body ({len(response.content)} bytes): {exc}"
                    ) from None
                rows = 0 if endpoint == TOKEN_PATH else check_body(endpoint, body)
            elif status != HTTPStatus.UNAUTHORIZED or endpoint == TOKEN_PATH:
                raise_for_status(endpoint, response)
        finally:
            self.calls.append(ProviderCall(endpoint, status, latency_ms, rows, PROVIDER))
        return response, body

    def _read_rate_headers(self, response: requests.Response) -> None:
        """Note a spent window (``x-ratelimit-remaining`` <= 0: wait ``reset`` seconds), and take the
        headers off the response so that prawcore's own limiter does not sleep as well."""
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        for name in [n for n in response.headers if n.lower().startswith("x-ratelimit-")]:
            del response.headers[name]
        try:
            left, seconds = float(remaining or "nan"), float(reset or "nan")
        except ValueError:
            return
        if left <= 0 and not math.isnan(seconds):
            self._resume_at = time.monotonic() + min(max(seconds, 1.0), WINDOW_SECONDS)

    def _pause_if_spent(self) -> None:
        if self._resume_at is None:
            return
        wait, self._resume_at = self._resume_at - time.monotonic(), None
        if wait > 0:
            logger.info("%s: the rate-limit window is spent; waiting %.0f s for it to reset", PROVIDER, wait)
            self._sleep(wait)
