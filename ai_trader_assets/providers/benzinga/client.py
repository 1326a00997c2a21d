"""The Benzinga news provider: ``/api/v2/news`` through :class:`JsonTransport`, paged by ``page``
and ``pageSize``, parsed by :mod:`.parse`."""

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from ai_trader_assets.calendar import NEW_YORK
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.base import (
    NotServedError,
    PaginationError,
    ProviderCall,
    ProviderError,
    ProviderResult,
)
from ai_trader_assets.providers.benzinga.parse import NEWS, SOURCE, as_utc, item_id, parse_news
from ai_trader_assets.providers.http import MAX_PAGES, JsonTransport, RequestGovernor
from ai_trader_assets.settings import Secret

KEY_VARIABLE = "BENZINGA_API_KEY"
MAX_TICKERS = 50  # per request, Benzinga's limit
MAX_PAGE_SIZE = 100  # Benzinga serves at most 100 items per page

log = logging.getLogger(__name__)


class BenzingaProvider:
    """News from Benzinga's REST API through :class:`JsonTransport`.

    Args:
        api_key: The ``BENZINGA_API_KEY`` value (sent only in the ``Authorization`` header).
        base_url: Scheme and host (``BENZINGA_BASE_URL``, e.g. ``https://api.benzinga.com``).
        governor: Limits and retries; its spec holds the timeouts and the news page size.
        max_pages: Pages read per ticker chunk before giving up with :class:`PaginationError`.
    """

    name = SOURCE
    grouped_daily = False

    def __init__(
        self, api_key: Secret, base_url: str, governor: RequestGovernor, *, max_pages: int = MAX_PAGES
    ) -> None:
        self._spec = governor.spec
        self._max_pages = max_pages
        self._transport = JsonTransport(
            base_url,
            governor,
            headers={
                "Authorization": Secret(f"token {api_key.reveal()}"),
                "Accept": "application/json",
            },
            key_variables=KEY_VARIABLE,
        )

    def __repr__(self) -> str:
        return f"BenzingaProvider({self._transport!r})"

    # ------------------------------------------------------------ not served

    def grouped_daily_bars(self, session: dt.date, symbols: Sequence[str]) -> ProviderResult:
        raise NotServedError("benzinga serves news only")

    def bars(
        self,
        symbols: Sequence[str],
        dataset: Dataset,
        start: dt.date,
        end: dt.date,
        since: dt.datetime | None = None,
    ) -> ProviderResult:
        raise NotServedError("benzinga serves news only")

    def corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> ProviderResult:
        raise NotServedError("benzinga serves news only")

    def trades(
        self, symbols: Sequence[str], session: dt.date, since: dt.datetime | None = None
    ) -> ProviderResult:
        raise NotServedError("benzinga serves news only")

    # ------------------------------------------------------------------ news

    def news(self, symbols: Sequence[str], start: dt.datetime, end: dt.datetime) -> ProviderResult:
        """Articles naming ``symbols`` created in [start, end); each article once, linked to every
        well-formed symbol it names.

        Raises:
            AuthenticationError: the key was refused (401/403).
            ProviderUnavailableError: retries exhausted (429s, 5xx, timeouts, cut-off pages).
            PaginationError: paging did not end (a repeated page, more than ``max_pages``).
            ProviderError: a page that is not a JSON list, or another HTTP error.
        """
        start, end = as_utc(start), as_utc(end)
        wanted = list(dict.fromkeys(symbols))
        if not wanted or start >= end:
            return parse_news([], start, end, [])
        items: list[Any] = []
        seen: set[str] = set()
        calls: list[ProviderCall] = []
        for offset in range(0, len(wanted), MAX_TICKERS):
            for page, call in self._pages(wanted[offset : offset + MAX_TICKERS], start, end):
                calls.append(call)
                for item in page:
                    key = item_id(item.get("id")) if isinstance(item, dict) else None
                    if key is None:
                        items.append(item)  # no key to deduplicate on: a reject, kept as is
                    elif key not in seen:
                        seen.add(key)
                        items.append(item)
        return parse_news(items, start, end, calls)

    def _pages(
        self, tickers: list[str], start: dt.datetime, end: dt.datetime
    ) -> Iterator[tuple[list[Any], ProviderCall]]:
        """Every page of one ticker chunk, until a page holds fewer than ``pageSize`` items."""
        page_size = min(self._spec.page_size(SOURCE, "news"), MAX_PAGE_SIZE)
        params: dict[str, Any] = {
            "tickers": ",".join(tickers),
            # Whole days, read by Benzinga in Eastern time: from the Eastern date of the first
            # instant to the UTC date of the last (the later of the two) covers [start, end).
            "dateFrom": start.astimezone(NEW_YORK).date().isoformat(),
            "dateTo": (end - dt.timedelta(microseconds=1)).date().isoformat(),
            "displayOutput": "full",
            "sort": "created:asc",
            "pageSize": page_size,
        }
        previous: list[str] | None = None
        for number in range(self._max_pages):
            page = self._transport.get(NEWS, NEWS, {**params, "page": number})
            body = page.body
            if not isinstance(body, list):
                raise ProviderError(f"benzinga {NEWS}: page {number} is not a JSON list: {str(body)[:200]}")
            log.debug("benzinga %s: page %d of %d tickers: %d items", NEWS, number, len(tickers), len(body))
            yield body, page.call
            if len(body) < page_size:
                return
            ids = [str(item.get("id")) if isinstance(item, dict) else repr(item) for item in body]
            if ids == previous:
                raise PaginationError(
                    f"benzinga {NEWS}: page {number} repeats page {number - 1} (the page number is ignored)"
                )
            previous = ids
        raise PaginationError(
            f"benzinga {NEWS}: more than {self._max_pages} pages of {page_size} for {len(tickers)} tickers "
            f"{start.isoformat()}..{end.isoformat()}; refusing to continue (narrow the range)"
        )
