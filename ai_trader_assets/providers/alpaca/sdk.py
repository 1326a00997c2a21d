"""Alpaca's ``alpaca-py`` clients, governed: every single HTTP request of the SDK's pagination runs
inside our :class:`RequestGovernor` (limits, classified retries, timeouts), with keys from
:class:`Secret` and page sizes from ``providers.yaml``; a page token seen twice is a loop, not more data."""

import contextlib
import contextvars
import dataclasses
import time
from collections.abc import Iterator
from typing import Any, cast

import requests
from alpaca.common.rest import RESTClient
from alpaca.data.historical.corporate_actions import CorporateActionsClient
from alpaca.data.historical.news import NewsClient
from alpaca.data.historical.stock import StockHistoricalDataClient

from ai_trader_assets.providers.base import NotServedError, PaginationError, ProviderCall, ProviderError
from ai_trader_assets.providers.http import MAX_PAGES, RequestGovernor, TransientError, decode_json
from ai_trader_assets.settings import Secret

SOURCE = "alpaca"
BARS = "/v2/stocks/bars"
TRADES = "/v2/stocks/trades"
NEWS = "/v1beta1/news"
CORPORATE_ACTIONS = "/v1/corporate-actions"
KEY_VARIABLES = "ALPACA_API_KEY and ALPACA_SECRET_KEY"
# 403 "subscription does not permit querying recent SIP data" (docs FAQ), or 422 "... data from the
# past 15 minutes".
RECENT_DATA_REFUSAL = "subscription does not permit querying"
# The SDK insists on non-empty keys; ours stay in Secret and are put in the headers per request.
PLACEHOLDER_KEY = "held-in-Secret"
# Per endpoint, the key holding the data and its JSON type.
_DATA_KEYS: dict[str, tuple[str, type]] = {
    BARS: ("bars", dict),
    TRADES: ("trades", dict),
    NEWS: ("news", list),
    CORPORATE_ACTIONS: ("corporate_actions", dict),
}


@dataclasses.dataclass
class Listing:
    """One paginated SDK call: the pages requested so far and the calls made (for the result)."""

    calls: list[ProviderCall]
    tokens: set[str] = dataclasses.field(default_factory=set)
    pages: int = 0

    def next_page(self, endpoint: str, token: str | None) -> None:
        """Refuse a page token seen before (the SDK would loop forever) or too many pages."""
        self.pages += 1
        if self.pages > MAX_PAGES:
            raise PaginationError(f"{SOURCE} {endpoint}: more than {MAX_PAGES} pages; refusing to continue")
        if token is not None:
            if token in self.tokens:
                raise PaginationError(
                    f"{SOURCE} {endpoint}: next_page_token repeats a page already read (a loop)"
                )
            self.tokens.add(token)


LISTING: contextvars.ContextVar[Listing | None] = contextvars.ContextVar("alpaca_listing", default=None)


@contextlib.contextmanager
def listing(calls: list[ProviderCall]) -> Iterator[None]:
    """Scope one SDK call: its pages are checked for loops and its requests recorded in ``calls``."""
    token = LISTING.set(Listing(calls))
    try:
        yield
    finally:
        LISTING.reset(token)


def _check_body(endpoint: str, body: Any) -> int:
    """Raise for a 200 whose body is not the endpoint's shape; normalise nulls; return the row count.

    The SDK would otherwise fail with a bare ``ValueError`` (no data key) or ``AttributeError``
    (``"bars": null``), and loop on an empty-string ``next_page_token``.
    """
    if endpoint not in _DATA_KEYS:
        return 0
    key, kind = _DATA_KEYS[endpoint]
    if not isinstance(body, dict) or key not in body:
        raise ProviderError(f"{SOURCE} {endpoint}: response without {key!r}: {str(body)[:200]}")
    data = body[key]
    if data is None:
        body[key] = data = kind()
    if not isinstance(data, kind):
        raise ProviderError(f"{SOURCE} {endpoint}: {key!r} is not a JSON {kind.__name__}")
    if not body.get("next_page_token"):
        body["next_page_token"] = None
    if isinstance(data, list):
        return len(data)
    groups = cast(dict[str, Any], data)
    rows = 0
    for name in list(groups):
        if groups[name] is None:
            groups[name] = []
        if not isinstance(groups[name], list):
            raise ProviderError(f"{SOURCE} {endpoint}: {key}.{name} is not a list")
        rows += len(groups[name])
    return rows


class _Governed(RESTClient):
    """What our SDK clients add: every single HTTP request through the governor, with timeouts, our
    error classification, keys from :class:`Secret`, page sizes from ``providers.yaml``."""

    _governor: RequestGovernor
    _keys: tuple[Secret, Secret]
    _timeout: tuple[float, float]
    _page_size: int

    def _govern(
        self,
        governor: RequestGovernor,
        keys: tuple[Secret, Secret],
        timeout: tuple[float, float],
        page_size: int,
        session: requests.Session,
    ) -> None:
        self._governor = governor
        self._keys = keys
        self._timeout = timeout
        self._page_size = page_size
        self._session = session
        # The SDK's loop runs each request once: retries are the governor's alone.
        self._retry = 0
        self._retry_wait = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._base_url})"

    def _get_auth_headers(self) -> dict[str, str]:
        return {"APCA-API-KEY-ID": self._keys[0].reveal(), "APCA-API-SECRET-KEY": self._keys[1].reveal()}

    def _get_marketdata(
        self,
        path: str,
        params: dict[str, Any],
        page_limit: int = 10_000,
        page_size: int | None = None,
        no_sub_key: bool = False,
    ) -> dict[str, list[Any]]:
        """The SDK's pagination with our page size (capped by the API maximum the SDK passes)."""
        size = min(page_limit, self._page_size)
        return super()._get_marketdata(
            path,
            params,
            page_limit=size,
            page_size=min(page_size, size) if page_size else None,
            no_sub_key=no_sub_key,
        )

    def _one_request(self, method: str, url: str, opts: dict[str, Any], retry: int) -> dict[str, Any]:
        """One request of the SDK's pagination, run (and retried) by the governor."""
        endpoint = url[len(str(self._base_url)) :]
        listing = LISTING.get()
        if listing is not None:
            listing.next_page(endpoint, (opts.get("params") or {}).get("page_token"))
        body, call = self._governor.run(endpoint, lambda: self._attempt(method, url, endpoint, opts))
        if listing is not None:
            listing.calls.append(call)
        return body

    def _attempt(
        self, method: str, url: str, endpoint: str, opts: dict[str, Any]
    ) -> tuple[dict[str, Any], ProviderCall]:
        started = time.perf_counter()
        try:
            response = self._session.request(method, url, timeout=self._timeout, **opts)
        except requests.exceptions.Timeout as exc:
            raise TransientError(f"{type(exc).__name__} (timeout)") from None
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise TransientError(f"{type(exc).__name__} (dropped connection)") from None
        latency_ms = (time.perf_counter() - started) * 1000
        if response.status_code in (403, 422) and RECENT_DATA_REFUSAL in response.text:
            # The plan's entitlement ends 15 minutes before now: not a key problem, and another
            # provider (or a later run) can serve the rest.
            raise NotServedError(
                f"{SOURCE} {endpoint}: HTTP {response.status_code}: the plan does not include the last "
                f"15 minutes of this feed: {response.text[:200]}"
            )
        # A cut-off page is a transport fault (retried), not the end of the listing.
        body = decode_json(
            SOURCE,
            endpoint,
            response.status_code,
            response.headers,
            response.content,
            key_variables=KEY_VARIABLES,
        )
        rows = _check_body(endpoint, body)
        call = ProviderCall(
            endpoint=endpoint, status=response.status_code, latency_ms=latency_ms, rows=rows, provider=SOURCE
        )
        return body, call


class GovernedStockClient(_Governed, StockHistoricalDataClient):
    """``StockHistoricalDataClient`` (``/v2/stocks/bars``; ``/v2/stocks/trades`` paged by
    :mod:`.trades` through its governed ``get``), governed."""


class GovernedNewsClient(_Governed, NewsClient):
    """``NewsClient`` (``/v1beta1/news``), governed."""


class GovernedCorporateActionsClient(_Governed, CorporateActionsClient):
    """``CorporateActionsClient`` (``/v1/corporate-actions``), governed."""
