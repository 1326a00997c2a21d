"""The Alpaca market-data provider, on the official ``alpaca-py`` SDK, behind our request governor.

Serves every dataset we ingest:

- bars at every stored interval (``/v2/stocks/bars``: 1Day, 1Hour, 5Min, 1Min), many symbols per
  request (chunks of :data:`SYMBOLS_PER_REQUEST`), unadjusted (``adjustment=raw``), on the feed of
  ``providers.yaml`` (``sip``: consolidated volume, comparable with Polygon and Yahoo);
- news (``/v1beta1/news``: Benzinga's articles, ids ``benzinga:<id>`` like the Benzinga provider's);
- corporate actions (``/v1/corporate-actions``: cash dividends, forward and reverse splits);
- the universe: active US equities from the trading API (``/v2/assets`` at ``ALPACA_TRADING_URL``,
  our JSON transport, the same key headers), and renames from name-change corporate actions.

Traps handled (see ``shared/fixtures/PROVIDER_NOTES.md``):

- Retries. The SDK retries 429 and 504 itself with fixed 3 s sleeps, blind to ``Retry-After``, and
  turns every other failure into an ``APIError`` holding the body. Our clients replace the SDK's
  single-request step (``RESTClient._one_request``) so each HTTP request runs inside
  :meth:`RequestGovernor.run` (one rate-limit slot per attempt, classified retries with backoff or
  ``Retry-After``, :class:`AuthenticationError` at once on 401/403) and the SDK's loop runs once
  (``_retry = 0``): the two retry policies never stack.
- Timeouts. The SDK sets none (a stalled socket would hang a run); every request gets
  ``(connect, read)`` from ``providers.yaml``; timeouts, dropped connections and a body that is not
  JSON (a page cut off in transit) are transient and retried, never a short result.
- ``limit`` is a *total* cap in the SDK, and ``CorporateActionsRequest.limit`` defaults to 1000, which
  would silently truncate: we always pass ``limit=None`` and set the *page* size (capped by the
  API's maximum) from ``providers.yaml``; every page is followed via ``next_page_token``, and a token
  seen twice (a loop the SDK would follow forever) raises :class:`PaginationError`.
- Daily bars are stamped at midnight New York in UTC (04:00Z/05:00Z); the session is derived from
  ``t`` in New York time and restamped with :func:`calendar.session_midnight_utc` explicitly, so the
  convention is ours, not a coincidence of Alpaca's.
- The corporate-actions ``start``/``end`` filter Alpaca's *process* date (a dividend is processed on
  its payable date, weeks after the ex-date; a large dividend's ex-date can follow its payable date),
  while our interface asks by ex-date: the request window is widened by :data:`PROCESS_LOOKBACK` /
  :data:`PROCESS_LOOKAHEAD` and the result kept by ex-date.
- News ``end`` is inclusive at Alpaca; ours is exclusive, so articles are kept in [start, end).
- Keys travel only in the ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers, read from
  :class:`Secret` at request time: the SDK clients hold placeholders, so no key sits in a plain
  attribute, a URL, a log line, an error message or a repr.
- Rows that fail validation (``high < low``, non-positive prices, missing fields, malformed symbols,
  non-positive ratios or amounts) become rejects with a reason and the raw record: nothing dropped
  silently.
"""

import contextlib
import contextvars
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
import requests
from alpaca.common.rest import RESTClient
from alpaca.data.enums import Adjustment, CorporateActionsType, DataFeed
from alpaca.data.historical.corporate_actions import CorporateActionsClient
from alpaca.data.historical.news import NewsClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import CorporateActionsRequest, NewsRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from ai_trader_assets.calendar import NEW_YORK, session_midnight_utc
from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTION_COLUMNS
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.news import NEWS_COLUMNS, NEWS_SYMBOL_COLUMNS
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN as SYMBOL
from ai_trader_assets.datasets.symbols import valid_symbols
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, add_reason, split_rejects
from ai_trader_assets.providers.base import (
    NotServedError,
    PaginationError,
    ProviderCall,
    ProviderError,
    ProviderResult,
    ingest_time,
)
from ai_trader_assets.providers.http import (
    MAX_PAGES,
    JsonTransport,
    RequestGovernor,
    TransientError,
    decode_json,
)
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.providers.text import html_to_text, plain_title
from ai_trader_assets.providers.validation import aggregate_bars, news_problems, numbers, parse_listing
from ai_trader_assets.settings import DEFAULT_ALPACA_TRADING_URL, Secret

SOURCE = "alpaca"
ASSETS = "/v2/assets"
BARS = "/v2/stocks/bars"
NEWS = "/v1beta1/news"
CORPORATE_ACTIONS = "/v1/corporate-actions"
KEY_VARIABLES = "ALPACA_API_KEY and ALPACA_SECRET_KEY"
# Symbols per request: keeps the query string short; pages hold bars of several symbols anyway.
SYMBOLS_PER_REQUEST = 100
TIMEFRAMES: dict[Dataset, TimeFrame] = {
    Dataset.BARS_1DAY: TimeFrame(1, TimeFrameUnit.Day),
    Dataset.BARS_1HOUR: TimeFrame(1, TimeFrameUnit.Hour),
    Dataset.BARS_5MIN: TimeFrame(5, TimeFrameUnit.Minute),
    Dataset.BARS_1MIN: TimeFrame(1, TimeFrameUnit.Minute),
}
ACTION_TYPES = [
    CorporateActionsType.CASH_DIVIDEND,
    CorporateActionsType.FORWARD_SPLIT,
    CorporateActionsType.REVERSE_SPLIT,
]
# Alpaca's exchange names as MIC codes (pipeline.yaml universe.exchanges); others pass as they are.
EXCHANGES = {"NYSE": "XNYS", "NASDAQ": "XNAS", "AMEX": "XASE", "ARCA": "ARCX", "NYSEARCA": "ARCX"}
# /v2/assets does not say what kind of equity an asset is (stock, ETF, ...): its entries carry this type.
EQUITY_TYPE = "us_equity"
# How far back a new listing's rename is looked for (a rename shows in the first sync after it).
RENAME_LOOKBACK = dt.timedelta(days=30)
SPLIT_KINDS = ("forward_splits", "reverse_splits")
DIVIDEND_KINDS = ("cash_dividends",)
# Free plans may not query the consolidated (SIP) feed's last 15 minutes: the window ends before them.
SIP_DELAY = dt.timedelta(minutes=16)
# 403 "subscription does not permit querying recent SIP data" (docs FAQ), or 422 "... data from the
# past 15 minutes".
RECENT_DATA_REFUSAL = "subscription does not permit querying"
# Process-date window around the ex-date window asked for: splits are processed on their ex-date,
# dividends on their payable date (usually weeks, at most a few months after the ex-date; a dividend
# of 25% or more has its ex-date the day after the payable date).
PROCESS_LOOKBACK = dt.timedelta(days=10)
PROCESS_LOOKAHEAD = dt.timedelta(days=120)
# The SDK insists on non-empty keys; ours stay in Secret and are put in the headers per request.
_PLACEHOLDER = "held-in-Secret"
# Per endpoint, the key holding the data and its JSON type.
_DATA_KEYS: dict[str, tuple[str, type]] = {
    BARS: ("bars", dict),
    NEWS: ("news", list),
    CORPORATE_ACTIONS: ("corporate_actions", dict),
}


# ------------------------------------------------------------------ the SDK, governed


@dataclasses.dataclass
class _Listing:
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


_LISTING: contextvars.ContextVar[_Listing | None] = contextvars.ContextVar("alpaca_listing", default=None)


@contextlib.contextmanager
def _listing(calls: list[ProviderCall]) -> Iterator[None]:
    """Scope one SDK call: its pages are checked for loops and its requests recorded in ``calls``."""
    token = _LISTING.set(_Listing(calls))
    try:
        yield
    finally:
        _LISTING.reset(token)


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
        listing = _LISTING.get()
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


class _StockClient(_Governed, StockHistoricalDataClient):
    """``StockHistoricalDataClient`` (``/v2/stocks/bars``), governed."""


class _NewsClient(_Governed, NewsClient):
    """``NewsClient`` (``/v1beta1/news``), governed."""


class _CorporateActionsClient(_Governed, CorporateActionsClient):
    """``CorporateActionsClient`` (``/v1/corporate-actions``), governed."""


# ------------------------------------------------------------------------- parsing


def _timestamps(values: Sequence[Any]) -> pd.Series:
    """RFC 3339 strings as UTC timestamps (missing or unparseable -> NaT)."""
    strings = pd.Series([v if isinstance(v, str) else None for v in values], dtype="object")
    return pd.to_datetime(strings, utc=True, errors="coerce", format="ISO8601").dt.as_unit("us")


def _session_stamps(ts: pd.Series) -> pd.Series:
    """Daily bar stamps restamped as ``session_midnight_utc`` of their New York date."""
    local = ts.dt.tz_convert(NEW_YORK)
    dates = [None if pd.isna(t) else t.date() for t in local]
    midnight = {d: session_midnight_utc(d) for d in set(dates) if d is not None}
    return pd.to_datetime(
        pd.Series([midnight[d] if d is not None else None for d in dates], dtype="object"), utc=True
    ).dt.as_unit("us")


def parse_bars(
    records: Sequence[dict[str, Any]], symbols: Sequence[str], daily: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alpaca bars (t o h l c v n vw) to the bars schema plus rejects, column by column.

    Args:
        records: The bars of every page and symbol, concatenated.
        symbols: The symbol of each record (Alpaca groups bars by symbol; the bar has none).
        daily: Restamp at the session's midnight (:func:`_session_stamps`).
    """
    ts = _timestamps([record.get("t") for record in records])
    if daily:
        ts = _session_stamps(ts)
    # The rejects keep Alpaca's record, with the symbol it was listed under.
    return aggregate_bars(
        records,
        symbols,
        ts,
        SOURCE,
        lambda: [{"symbol": s, **r} for s, r in zip(symbols, records, strict=True)],
    )


def parse_news(
    records: Sequence[dict[str, Any]], start: dt.datetime, end: dt.datetime
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Alpaca (Benzinga) articles to (news rows, rejects, news_symbols links), kept in [start, end)."""
    if not records:
        return empty_frame(NEWS_COLUMNS), EMPTY_REJECTS, empty_frame(NEWS_SYMBOL_COLUMNS)
    published = _timestamps([r.get("created_at") for r in records])
    in_window = ((published >= start) & (published < end)).to_numpy(dtype=bool)
    # Out of the window is out of scope (Alpaca's end is inclusive), not a reject; unparseable stays.
    keep = in_window | published.isna().to_numpy()
    records = [r for r, k in zip(records, keep, strict=True) if k]
    published = published[keep].reset_index(drop=True)

    def text(key: str) -> pd.Series:
        values = [r.get(key) for r in records]
        return pd.Series([v if isinstance(v, str) and v.strip() else None for v in values], dtype="string")

    ids = [r.get("id") for r in records]
    frame = pd.DataFrame(
        {
            "id": pd.Series(
                [f"benzinga:{i}" if i is not None and str(i).strip() else None for i in ids], dtype="string"
            ),
            "published_utc": published,
            "title": pd.Series([plain_title(r.get("headline")) for r in records], dtype="string"),
            "author": text("author"),
            "article_url": text("url"),
            "publisher": text("source"),
            "description": pd.Series([html_to_text(r.get("summary")) for r in records], dtype="string"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    reasons = news_problems(frame, "created_at", "headline")
    valid, rejects = split_rejects(frame, reasons, records)
    kept = ~(reasons != "")
    links = [
        {"news_id": news_id, "symbol": symbol}
        for record, news_id, ok in zip(records, frame["id"], kept, strict=True)
        if ok
        for symbol in dict.fromkeys(record.get("symbols") or [])
        if isinstance(symbol, str) and SYMBOL.match(symbol)
    ]
    links_frame = pd.DataFrame(links) if links else empty_frame(NEWS_SYMBOL_COLUMNS)
    return conform(valid, NEWS_COLUMNS), rejects, conform(links_frame, NEWS_SYMBOL_COLUMNS)


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _action_id(record: Mapping[str, Any], action_type: str, ex_date: dt.date | None) -> str:
    """Alpaca's id (a UUID) when sent (older responses lack it), else a key from what identifies it."""
    if record.get("id"):
        return str(record["id"])
    if action_type == "split":
        detail = f"{record.get('old_rate')}-{record.get('new_rate')}"
    else:
        detail = f"{record.get('rate')}"
    return f"{SOURCE}-{action_type}-{record.get('symbol')}-{ex_date}-{detail}"


def parse_corporate_actions(
    splits: Sequence[dict[str, Any]], dividends: Sequence[dict[str, Any]], start: dt.date, end: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alpaca splits and cash dividends to corporate_actions rows plus rejects, kept by ex-date."""
    records = [*splits, *dividends]
    if not records:
        return empty_frame(CORPORATE_ACTION_COLUMNS), EMPTY_REJECTS
    types = ["split"] * len(splits) + ["dividend"] * len(dividends)
    ex_dates = [_date(r.get("ex_date")) for r in records]
    # Fetched by process date around the window: keep those whose ex-date is in it (or is missing,
    # which is a reject).
    keep = [d is None or start <= d <= end for d in ex_dates]
    records = [r for r, k in zip(records, keep, strict=True) if k]
    types = [t for t, k in zip(types, keep, strict=True) if k]
    ex_dates = [d for d, k in zip(ex_dates, keep, strict=True) if k]
    if not records:
        return empty_frame(CORPORATE_ACTION_COLUMNS), EMPTY_REJECTS
    is_split = np.array([t == "split" for t in types], dtype=bool)
    old_rate, new_rate, rate = (
        numbers(records, "old_rate"),
        numbers(records, "new_rate"),
        numbers(records, "rate"),
    )

    def dividend_dates(key: str) -> list[dt.date | None]:
        return [None if split else _date(r.get(key)) for r, split in zip(records, is_split, strict=True)]

    frame = pd.DataFrame(
        {
            "id": pd.Series(
                [_action_id(r, t, d) for r, t, d in zip(records, types, ex_dates, strict=True)],
                dtype="string",
            ),
            "symbol": pd.array([r.get("symbol") for r in records], dtype="string"),
            "action_type": pd.Series(types, dtype="string"),
            "ex_date": pd.Series(ex_dates, dtype="object"),
            "split_from": np.where(is_split, old_rate, np.nan),
            "split_to": np.where(is_split, new_rate, np.nan),
            "cash_amount": np.where(is_split, np.nan, rate),
            "currency": pd.Series([None if s else "USD" for s in is_split], dtype="string"),
            "declaration_date": pd.Series(dividend_dates("declaration_date"), dtype="object"),
            "record_date": pd.Series(dividend_dates("record_date"), dtype="object"),
            "pay_date": pd.Series(dividend_dates("payable_date"), dtype="object"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    reasons = np.full(len(frame), "", dtype=object)
    add_reason(reasons, ~valid_symbols(frame["symbol"]), "malformed symbol")
    add_reason(reasons, frame["ex_date"].isna().to_numpy(), "missing or unparseable ex_date")
    ratio = np.column_stack([old_rate, new_rate])
    add_reason(
        reasons,
        is_split & ~(np.isfinite(ratio) & (ratio > 0)).all(axis=1),
        "old_rate/new_rate must be positive",
    )
    add_reason(reasons, ~is_split & ~(np.isfinite(rate) & (rate > 0)), "rate must be positive")
    add_reason(
        reasons,
        frame.duplicated(subset=["id"], keep="first").to_numpy(),
        "duplicate id: an earlier action has the same id",
    )
    valid, rejects = split_rejects(frame, reasons, records)
    return conform(valid, CORPORATE_ACTION_COLUMNS), rejects


# ------------------------------------------------------------------------ provider


def _chunks(symbols: Sequence[str], size: int) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(symbols))
    for offset in range(0, len(unique), size):
        yield unique[offset : offset + size]


def _utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime (naive values are taken as UTC, like the SDK does)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class AlpacaProvider:
    """Market data from Alpaca through the ``alpaca-py`` clients, every request governed.

    Args:
        api_key: ``ALPACA_API_KEY``, sent in the ``APCA-API-KEY-ID`` header.
        secret_key: ``ALPACA_SECRET_KEY``, sent in the ``APCA-API-SECRET-KEY`` header.
        base_url: ``ALPACA_DATA_URL`` (scheme and host; the SDK appends ``/<version>/<path>``).
        trading_url: ``ALPACA_TRADING_URL`` (the trading API: ``/v2/assets`` for the universe).
        spec: Limits, timeouts, retries, page sizes and the bar feed from ``providers.yaml``.
        limiter: The shared request limiter (one slot per attempt).
        sleep: Injected for tests of the retry timing.
    """

    name = SOURCE
    grouped_daily = False

    def __init__(  # noqa: PLR0917 (the signature every caller uses: see providers.build_single)
        self,
        api_key: Secret,
        secret_key: Secret,
        base_url: str,
        spec: ProviderSpec,
        limiter: RequestLimiter,
        sleep: Callable[[float], None] = time.sleep,
        trading_url: str = DEFAULT_ALPACA_TRADING_URL,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._spec = spec
        self._feed = DataFeed(spec.feed) if spec.feed else None
        governor = RequestGovernor(SOURCE, spec, limiter, sleep)
        self._trading = JsonTransport(
            SOURCE,
            trading_url,
            spec,
            governor,
            headers={"APCA-API-KEY-ID": api_key, "APCA-API-SECRET-KEY": secret_key},
            key_variables=KEY_VARIABLES,
        )
        keys = (api_key, secret_key)
        timeout = (spec.timeouts.connect_seconds, spec.timeouts.read_seconds)
        session = requests.Session()  # one connection pool for the three clients
        self._stocks = _StockClient(
            api_key=_PLACEHOLDER, secret_key=_PLACEHOLDER, raw_data=True, url_override=self._base_url
        )
        self._stocks._govern(governor, keys, timeout, spec.page_size(SOURCE, "aggregates"), session)
        self._news = _NewsClient(
            api_key=_PLACEHOLDER, secret_key=_PLACEHOLDER, raw_data=True, url_override=self._base_url
        )
        self._news._govern(governor, keys, timeout, spec.page_size(SOURCE, "news"), session)
        self._actions = _CorporateActionsClient(
            api_key=_PLACEHOLDER, secret_key=_PLACEHOLDER, raw_data=True, url_override=self._base_url
        )
        self._actions._govern(governor, keys, timeout, spec.page_size(SOURCE, "corporate_actions"), session)

    def __repr__(self) -> str:
        return f"AlpacaProvider({self._base_url})"

    # ---------------------------------------------------------------- bars

    def grouped_daily_bars(self, session: dt.date, symbols: Sequence[str]) -> ProviderResult:
        """Daily bars of one session: multi-symbol requests (Alpaca has no whole-market endpoint)."""
        return self.bars(symbols, Dataset.BARS_1DAY, session, session)

    def bars(
        self,
        symbols: Sequence[str],
        dataset: Dataset,
        start: dt.date,
        end: dt.date,
        since: dt.datetime | None = None,
    ) -> ProviderResult:
        """Unadjusted bars of ``symbols`` for the sessions ``start``..``end``, every page.

        The window runs from midnight New York of ``start`` (or ``since``, when later) to the last
        second of ``end`` (Alpaca's ``end`` is inclusive; the next day's daily bar starts at its
        midnight).
        """
        dataset = Dataset(dataset)
        if dataset not in TIMEFRAMES:
            raise NotServedError(f"{SOURCE} serves no {dataset.value} bars")
        calls: list[ProviderCall] = []
        records: list[dict[str, Any]] = []
        tickers: list[str] = []
        served_until: dt.datetime | None = None
        if end >= start:
            window_start = dt.datetime.combine(start, dt.time(), NEW_YORK).astimezone(dt.UTC)
            if since is not None:
                window_start = max(window_start, since.astimezone(dt.UTC))
            window_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), NEW_YORK).astimezone(
                dt.UTC
            ) - dt.timedelta(seconds=1)
            delayed = dt.datetime.now(dt.UTC) - SIP_DELAY
            if self._feed in (DataFeed.SIP, DataFeed.DELAYED_SIP) and delayed < window_end:
                # The last 15 minutes of SIP data are not on every plan: asked for again later.
                window_end = served_until = delayed
            for chunk in _chunks(symbols, SYMBOLS_PER_REQUEST) if window_end > window_start else []:
                request = StockBarsRequest(
                    symbol_or_symbols=chunk,
                    timeframe=TIMEFRAMES[dataset],
                    start=window_start,
                    end=window_end,
                    limit=None,  # a total cap in the SDK: the page size is set per client
                    adjustment=Adjustment.RAW,
                    feed=self._feed,
                )
                with _listing(calls):
                    merged = cast(dict[str, list[dict[str, Any]]], self._stocks.get_stock_bars(request))
                for symbol, rows in merged.items():
                    records.extend(rows)
                    tickers.extend([symbol] * len(rows))
        frame, rejects = parse_bars(records, tickers, daily=dataset == Dataset.BARS_1DAY)
        return ProviderResult(frame=frame, rejects=rejects, calls=tuple(calls), served_until=served_until)

    # ---------------------------------------------------------------- universe

    def listed_stocks(self) -> ProviderResult:
        """Active, tradable US equities (``/v2/assets``: one response, no paging), exchanges as MIC
        codes; the type is :data:`EQUITY_TYPE` (Alpaca does not tell stocks from ETFs)."""
        page = self._trading.get(ASSETS, ASSETS, {"status": "active", "asset_class": "us_equity"})
        if not isinstance(page.body, list):
            raise ProviderError(f"{SOURCE} {ASSETS}: expected a list of assets, got {str(page.body)[:200]}")
        records = [
            {**r, "exchange": EXCHANGES.get(str(r.get("exchange")), r.get("exchange")), "type": EQUITY_TYPE}
            for r in page.body
            if isinstance(r, dict) and r.get("tradable") is True and r.get("status") == "active"
        ]
        return parse_listing(records, "symbol", "exchange", "type", [page.call])

    def ticker_changes(self, symbol: str) -> list[tuple[str, str, dt.date]]:
        """Renames into or out of ``symbol`` (``old, new, effective date``) from the name-change
        corporate actions processed in the last :data:`RENAME_LOOKBACK`."""
        today = dt.datetime.now(NEW_YORK).date()
        request = CorporateActionsRequest(
            symbols=[symbol],
            types=[CorporateActionsType.NAME_CHANGE],
            start=today - RENAME_LOOKBACK,
            end=today,
            limit=None,
        )
        calls: list[ProviderCall] = []
        with _listing(calls):
            merged = cast(dict[str, list[dict[str, Any]]], self._actions.get_corporate_actions(request))
        changes = []
        for record in merged.get("name_changes") or []:
            old, new, day = (
                record.get("old_symbol"),
                record.get("new_symbol"),
                _date(record.get("process_date")),
            )
            valid = all(isinstance(s, str) and SYMBOL.match(s) for s in (old, new))
            if valid and day is not None and symbol in (old, new) and old != new:
                changes.append((str(old), str(new), day))
        return sorted(set(changes), key=lambda change: change[2])

    # ---------------------------------------------------------------- news

    def news(self, symbols: Sequence[str], start: dt.datetime, end: dt.datetime) -> ProviderResult:
        """Articles naming ``symbols`` published in [start, end); an article seen twice kept once."""
        start, end = _utc(start), _utc(end)
        calls: list[ProviderCall] = []
        records: dict[str, dict[str, Any]] = {}
        if end > start:
            for chunk in _chunks(symbols, SYMBOLS_PER_REQUEST):
                request = NewsRequest(symbols=",".join(chunk), start=start, end=end, sort="asc", limit=None)
                with _listing(calls):
                    merged = cast(dict[str, list[dict[str, Any]]], self._news.get_news(request))
                for item in merged.get("news") or []:
                    key = str(item["id"]) if item.get("id") is not None else f"no-id-{len(records)}"
                    records.setdefault(key, item)
        frame, rejects, links = parse_news(list(records.values()), start, end)
        return ProviderResult(frame=frame, rejects=rejects, calls=tuple(calls), links=links)

    # ------------------------------------------------------ corporate actions

    def corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> ProviderResult:
        """Cash dividends and forward/reverse splits of ``symbols`` with an ex-date in ``start``..``end``.

        Alpaca filters by process date, so the request covers ``start - PROCESS_LOOKBACK`` to
        ``end + PROCESS_LOOKAHEAD`` and the actions are kept by ex-date.
        """
        calls: list[ProviderCall] = []
        splits: list[dict[str, Any]] = []
        dividends: list[dict[str, Any]] = []
        if end >= start:
            for chunk in _chunks(symbols, SYMBOLS_PER_REQUEST):
                request = CorporateActionsRequest(
                    symbols=chunk,
                    types=ACTION_TYPES,
                    start=start - PROCESS_LOOKBACK,
                    end=end + PROCESS_LOOKAHEAD,
                    limit=None,  # the SDK's default of 1000 is a total cap: silent truncation
                )
                with _listing(calls):
                    merged = cast(
                        dict[str, list[dict[str, Any]]], self._actions.get_corporate_actions(request)
                    )
                for kind in SPLIT_KINDS:
                    splits.extend(merged.get(kind) or [])
                for kind in DIVIDEND_KINDS:
                    dividends.extend(merged.get(kind) or [])
        frame, rejects = parse_corporate_actions(splits, dividends, start, end)
        return ProviderResult(frame=frame, rejects=rejects, calls=tuple(calls))


__all__ = ["AlpacaProvider", "parse_bars", "parse_corporate_actions", "parse_news"]
