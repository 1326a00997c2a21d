"""The Benzinga provider: news only, from Benzinga's own REST API (``GET /api/v2/news``).

Benzinga serves the same articles Alpaca resells (same ids), so rows use the same id form,
``benzinga:<id>``: an article is one row whichever of the two served it. Bars and corporate actions
raise :class:`NotServedError` (failover moves on to the next provider).

Traps handled:

* The key travels only in the ``Authorization: token <key>`` header (kept a :class:`Secret`), never
  as the ``token=`` query parameter Benzinga also accepts: URLs end up in logs. ``Accept:
  application/json`` is sent, or Benzinga answers XML. A refused key is HTTP 401 with a JSON *array*
  body (``["Access denied for user 0 \\"anonymous\\""]``); the transport classifies it by status
  before reading the body and raises :class:`AuthenticationError` naming ``BENZINGA_API_KEY``.
* ``created`` is an RFC-2822 string with an offset (``Wed, 26 Jun 2024 13:06:30 -0400``). The docs
  say Eastern time, yet show ``-0400`` in January: the offset written is parsed, never assumed.
* ``dateFrom``/``dateTo`` are whole days (read in Eastern time), so the request covers the
  Eastern date of ``start`` to the UTC date of ``end`` and articles are then kept by ``created``
  in [start, end).
* Pagination is by page number: pages are read until one holds fewer than ``pageSize`` items
  (``sort=created:asc``, so articles published while paging land at the end, not between pages).
  Benzinga caps ``pageSize`` at 100: a larger configured size would make every full page look like
  the last one, so the size sent is capped. A page that is not a JSON list is an error; a page
  repeating the previous one (the page number ignored) or more than ``max_pages`` pages raise
  :class:`PaginationError` — never a silent short or endless result. A cut-off (undecodable) page
  is retried by the transport like any transient failure.
* ``tickers`` takes at most 50 symbols: larger requests are chunked, and an article naming symbols
  of several chunks is kept once, with a link per symbol it names.
* ``teaser`` and ``body`` are HTML with entities and often empty: the description is the teaser as
  plain text, or the start of the body when the teaser is empty.
* Items without an id, a parseable ``created`` or a title become rejects with a reason and the raw
  record; nothing is dropped silently.
"""

import datetime as dt
import email.utils
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pandas as pd

from ai_trader_assets.calendar import NEW_YORK
from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.news import NEWS_COLUMNS, NEWS_SYMBOL_COLUMNS
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN as SYMBOL
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, rejects_frame
from ai_trader_assets.providers.base import (
    NotServedError,
    PaginationError,
    ProviderCall,
    ProviderError,
    ProviderResult,
)
from ai_trader_assets.providers.http import MAX_PAGES, JsonTransport, RequestGovernor
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.providers.text import html_to_text, plain_title
from ai_trader_assets.settings import Secret

SOURCE = "benzinga"
PUBLISHER = "Benzinga"
NEWS = "/api/v2/news"
KEY_VARIABLE = "BENZINGA_API_KEY"
MAX_TICKERS = 50  # per request, Benzinga's limit
MAX_PAGE_SIZE = 100  # Benzinga serves at most 100 items per page
DESCRIPTION_CHARS = 500  # of the body, when the teaser is empty

log = logging.getLogger(__name__)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def parse_created(value: object) -> dt.datetime | None:
    """An RFC-2822 date with its own offset, in UTC; None when missing or unparseable.

    ``-0000`` (RFC 2822: UTC, local offset unknown) parses to a naive datetime, read as UTC.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return _utc(parsed)


def _description(item: dict[str, Any]) -> str | None:
    """The teaser as plain text, or the start of the body (cut at a word) when the teaser is empty."""
    teaser = html_to_text(item.get("teaser"))
    if teaser:
        return teaser
    body = html_to_text(item.get("body"))
    if body is None or len(body) <= DESCRIPTION_CHARS:
        return body
    cut = body[:DESCRIPTION_CHARS]
    head, space, _ = cut.rpartition(" ")
    return (head if space and head else cut).rstrip() + "…"


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _item_id(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return _text(value)
    return None


def _symbols(item: dict[str, Any]) -> list[str]:
    """The well-formed ``stocks[].name`` of an item, each once, in order."""
    stocks = item.get("stocks")
    names = [s.get("name") for s in stocks if isinstance(s, dict)] if isinstance(stocks, list) else []
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and SYMBOL.match(n)))


class BenzingaProvider:
    """News from Benzinga's REST API through :class:`JsonTransport`.

    Args:
        api_key: The ``BENZINGA_API_KEY`` value (sent only in the ``Authorization`` header).
        base_url: Scheme and host (``BENZINGA_BASE_URL``, e.g. ``https://api.benzinga.com``).
        spec: Limits, timeouts, retries and the news page size from ``providers.yaml``.
        limiter: The shared request limiter.
        sleep: Injected for tests of the retry timing.
        max_pages: Pages read per ticker chunk before giving up with :class:`PaginationError`.
    """

    name = SOURCE
    grouped_daily = False

    def __init__(
        self,
        api_key: Secret,
        base_url: str,
        spec: ProviderSpec,
        limiter: RequestLimiter,
        sleep: Callable[[float], None] = time.sleep,
        *,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self._spec = spec
        self._max_pages = max_pages
        self._transport = JsonTransport(
            SOURCE,
            base_url,
            spec,
            RequestGovernor(SOURCE, spec, limiter, sleep),
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
        start, end = _utc(start), _utc(end)
        wanted = list(dict.fromkeys(symbols))
        if not wanted or start >= end:
            return _parse_news([], start, end, [])
        items: list[Any] = []
        seen: set[str] = set()
        calls: list[ProviderCall] = []
        for offset in range(0, len(wanted), MAX_TICKERS):
            for page, call in self._pages(wanted[offset : offset + MAX_TICKERS], start, end):
                calls.append(call)
                for item in page:
                    item_id = _item_id(item.get("id")) if isinstance(item, dict) else None
                    if item_id is None:
                        items.append(item)  # no key to deduplicate on: a reject, kept as is
                    elif item_id not in seen:
                        seen.add(item_id)
                        items.append(item)
        return _parse_news(items, start, end, calls)

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


def _parse_news(
    items: list[Any], start: dt.datetime, end: dt.datetime, calls: list[ProviderCall]
) -> ProviderResult:
    """Items to NEWS_COLUMNS rows, ``news_symbols`` links and rejects; items created outside
    [start, end) (the request covers whole days) are left out: they were not asked for."""
    rows: list[dict[str, Any]] = []
    links: list[dict[str, str]] = []
    rejected: list[dict[str, Any]] = []
    reasons: list[str] = []
    outside = 0
    for item in items:
        if not isinstance(item, dict):
            rejected.append({"item": item})
            reasons.append("not a JSON object")
            continue
        news_id = _item_id(item.get("id"))
        created = parse_created(item.get("created"))
        title = plain_title(item.get("title"))
        if created is not None and not start <= created < end:
            outside += 1
            continue
        problems = [
            reason
            for reason, bad in (
                ("missing id", news_id is None),
                ("missing or unparseable created", created is None),
                ("missing title", title is None),
            )
            if bad
        ]
        if problems:
            rejected.append(item)
            reasons.append("; ".join(problems))
            continue
        row_id = f"{SOURCE}:{news_id}"
        rows.append(
            {
                "id": row_id,
                "published_utc": created,
                "title": title,
                "author": _text(item.get("author")),
                "article_url": _text(item.get("url")),
                "publisher": PUBLISHER,
                "description": _description(item),
            }
        )
        links.extend({"news_id": row_id, "symbol": symbol} for symbol in _symbols(item))
    if outside:
        log.debug("benzinga %s: %d item(s) created outside the requested window left out", NEWS, outside)
    now = pd.Timestamp.now(tz="UTC").as_unit("us")
    if rows:
        frame = pd.DataFrame(rows).assign(source=SOURCE, ingested_at=now)
        frame["published_utc"] = pd.to_datetime(frame["published_utc"], utc=True)
        frame = conform(frame, NEWS_COLUMNS)
    else:
        frame = empty_frame(NEWS_COLUMNS)
    link_frame = (
        conform(pd.DataFrame(links), NEWS_SYMBOL_COLUMNS) if links else empty_frame(NEWS_SYMBOL_COLUMNS)
    )
    return ProviderResult(
        frame=frame,
        rejects=rejects_frame(rejected, reasons) if rejected else EMPTY_REJECTS,
        calls=tuple(calls),
        links=link_frame,
    )
