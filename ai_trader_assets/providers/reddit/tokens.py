"""The application-only OAuth token (client credentials) and the request auth that carries it.

prawcore 4 would refresh a token only after it expired (its deadline is ``expires_in + 10`` s, past
the expiry) and answer a 401 with two retries after random ``time.sleep`` calls. :class:`TokenKeeper`
refreshes before expiry on a tz-aware UTC clock, and stops after three tokens in a row that no
request could use: a loop of refused tokens is a configuration error, named as such.

Secrets stay :class:`Secret` until a request is prepared (the auth objects' reprs hide them).
"""

import datetime as dt
import logging
from collections.abc import Callable

import requests

from ai_trader_assets.providers.reddit.responses import (
    APPS_PAGE,
    KEY_VARIABLES,
    PROVIDER,
    TOKEN_PATH,
    RedditAuthenticationError,
)
from ai_trader_assets.settings import Secret

logger = logging.getLogger(__name__)

# Tokens fetched in a row without a request succeeding: the third refused one ends the run.
MAX_TOKEN_ATTEMPTS = 3
# A token is replaced this long before it expires (at most half its lifetime), so that no request
# carries a token that expires in flight.
REFRESH_MARGIN = dt.timedelta(minutes=5)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ClientCredentials(requests.auth.AuthBase):
    """HTTP Basic with the app's id and secret (the token request), revealed only while the
    request is prepared."""

    def __init__(self, client_id: Secret, client_secret: Secret) -> None:
        self._pair = (client_id, client_secret)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return requests.auth.HTTPBasicAuth(self._pair[0].reveal(), self._pair[1].reveal())(request)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(********)"


class Bearer(requests.auth.AuthBase):
    """The access token on an API request, set while the request is prepared."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"bearer {self._token.reveal()}"
        return request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(********)"


class TokenKeeper:
    """The current access token: fetched when missing, refreshed before it expires, dropped when
    the API refuses it.

    Args:
        fetch: One token request: (token, lifetime in seconds).
        clock: Now, tz-aware (tests move it).
    """

    def __init__(self, fetch: Callable[[], tuple[Secret, float]], clock: Callable[[], dt.datetime]) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: Secret | None = None
        self._margin = REFRESH_MARGIN
        self._unconfirmed = 0  # tokens fetched since a request last succeeded
        self.expires_at: dt.datetime | None = None

    def _now(self) -> dt.datetime:
        now = self._clock()
        if now.utcoffset() is None:
            raise ValueError("the token clock must return tz-aware times")
        return now.astimezone(dt.UTC)

    def current(self) -> Secret:
        """The token to send; a new one when there is none or it expires within the margin.

        Raises:
            RedditAuthenticationError: the tokens of the last three fetches were all refused.
        """
        now = self._now()
        if self._token is not None and self.expires_at is not None:
            if now < self.expires_at - self._margin:
                return self._token
            logger.info("%s: the access token expires at %s; fetching a new one", PROVIDER, self.expires_at)
        if self._unconfirmed >= MAX_TOKEN_ATTEMPTS:
            raise RedditAuthenticationError(
                f"{PROVIDER} {TOKEN_PATH}: the API refused {MAX_TOKEN_ATTEMPTS} access tokens in a row "
                f"(HTTP 401); check {KEY_VARIABLES} ({APPS_PAGE}; the app may be suspended)"
            )
        self._unconfirmed += 1
        token, lifetime = self._fetch()
        # Counted from before the request: the token was issued after ``now``, so it lasts longer.
        self._token, self.expires_at = token, now + dt.timedelta(seconds=lifetime)
        self._margin = min(REFRESH_MARGIN, dt.timedelta(seconds=lifetime / 2))
        logger.info("%s: fetched an access token valid until %s", PROVIDER, self.expires_at)
        return token

    def refused(self) -> None:
        """The API answered 401 to the current token (expired early or revoked)."""
        self._token = None

    def confirmed(self) -> None:
        """A request succeeded with the current token."""
        self._unconfirmed = 0
