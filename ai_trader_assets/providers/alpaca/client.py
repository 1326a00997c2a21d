"""The Alpaca provider: bars, trades, news, corporate actions and the universe through the governed
SDK clients (:mod:`.sdk`; trades paged by :mod:`.trades`) and the trading API's ``/v2/assets``
through our JSON transport."""

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, cast

import requests
from alpaca.data.enums import Adjustment, CorporateActionsType, DataFeed
from alpaca.data.requests import CorporateActionsRequest, NewsRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from ai_trader_assets.calendar import NEW_YORK
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN as SYMBOL
from ai_trader_assets.providers.alpaca.parse import (
    parse_bars,
    parse_corporate_actions,
    parse_date,
    parse_news,
)
from ai_trader_assets.providers.alpaca.sdk import (
    KEY_VARIABLES,
    PLACEHOLDER_KEY,
    SOURCE,
    GovernedCorporateActionsClient,
    GovernedNewsClient,
    GovernedStockClient,
    listing,
)
from ai_trader_assets.providers.alpaca.trades import fetch_trades, trade_window
from ai_trader_assets.providers.base import NotServedError, ProviderCall, ProviderError, ProviderResult
from ai_trader_assets.providers.http import JsonTransport, RequestGovernor
from ai_trader_assets.providers.parsing import parse_listing
from ai_trader_assets.settings import PROVIDER_ENDPOINTS, Secret

ASSETS = "/v2/assets"
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
SIP_FEEDS = (DataFeed.SIP, DataFeed.DELAYED_SIP)
# Process-date window around the ex-date window asked for: splits are processed on their ex-date,
# dividends on their payable date (usually weeks, at most a few months after the ex-date; a dividend
# of 25% or more has its ex-date the day after the payable date).
PROCESS_LOOKBACK = dt.timedelta(days=10)
PROCESS_LOOKAHEAD = dt.timedelta(days=120)


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
        governor: Limits and retries (one rate-limit slot per attempt), shared by every request; its
            spec holds the timeouts, page sizes and bar feed of ``providers.yaml``.
    """

    name = SOURCE
    grouped_daily = False

    def __init__(
        self,
        api_key: Secret,
        secret_key: Secret,
        base_url: str,
        governor: RequestGovernor,
        trading_url: str = PROVIDER_ENDPOINTS["ALPACA_TRADING_URL"],
    ) -> None:
        self._base_url = base_url.rstrip("/")
        spec = self._spec = governor.spec
        self._feed = DataFeed(spec.feed) if spec.feed else None
        self._trading = JsonTransport(
            trading_url,
            governor,
            headers={"APCA-API-KEY-ID": api_key, "APCA-API-SECRET-KEY": secret_key},
            key_variables=KEY_VARIABLES,
        )
        keys = (api_key, secret_key)
        timeout = (spec.timeouts.connect_seconds, spec.timeouts.read_seconds)
        session = requests.Session()  # one connection pool for the three clients
        self._stocks = GovernedStockClient(
            api_key=PLACEHOLDER_KEY, secret_key=PLACEHOLDER_KEY, raw_data=True, url_override=self._base_url
        )
        self._stocks._govern(governor, keys, timeout, spec.page_size(SOURCE, "aggregates"), session)
        self._news = GovernedNewsClient(
            api_key=PLACEHOLDER_KEY, secret_key=PLACEHOLDER_KEY, raw_data=True, url_override=self._base_url
        )
        self._news._govern(governor, keys, timeout, spec.page_size(SOURCE, "news"), session)
        self._actions = GovernedCorporateActionsClient(
            api_key=PLACEHOLDER_KEY, secret_key=PLACEHOLDER_KEY, raw_data=True, url_override=self._base_url
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
            if self._feed in SIP_FEEDS and delayed < window_end:
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
                with listing(calls):
                    merged = cast(dict[str, list[dict[str, Any]]], self._stocks.get_stock_bars(request))
                for symbol, rows in merged.items():
                    records.extend(rows)
                    tickers.extend([symbol] * len(rows))
        frame, rejects = parse_bars(records, tickers, daily=dataset == Dataset.BARS_1DAY)
        return ProviderResult(frame=frame, rejects=rejects, calls=tuple(calls), served_until=served_until)

    # ---------------------------------------------------------------- trades

    def trades(
        self, symbols: Sequence[str], session: dt.date, since: dt.datetime | None = None
    ) -> ProviderResult:
        """Every trade of ``symbols`` in the session's New York day (pre- and post-market included),
        from ``since`` when later: ``/v2/stocks/trades``, many symbols per request, every page.

        The feed is ``providers.yaml``'s (``sip`` when unset); on a SIP feed the window ends
        :data:`SIP_DELAY` before now (``served_until``), as for the bars.
        """
        feed = DataFeed(self._spec.feed or DataFeed.SIP.value)
        horizon = dt.datetime.now(dt.UTC) - SIP_DELAY if feed in SIP_FEEDS else None
        return fetch_trades(
            self._stocks,
            _chunks(symbols, SYMBOLS_PER_REQUEST),
            trade_window(session, since, horizon),
            feed.value,
            self._spec.page_size(SOURCE, "trades"),
        )

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
        with listing(calls):
            merged = cast(dict[str, list[dict[str, Any]]], self._actions.get_corporate_actions(request))
        changes = []
        for record in merged.get("name_changes") or []:
            old, new, day = (
                record.get("old_symbol"),
                record.get("new_symbol"),
                parse_date(record.get("process_date")),
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
                with listing(calls):
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
                with listing(calls):
                    merged = cast(
                        dict[str, list[dict[str, Any]]], self._actions.get_corporate_actions(request)
                    )
                for kind in SPLIT_KINDS:
                    splits.extend(merged.get(kind) or [])
                for kind in DIVIDEND_KINDS:
                    dividends.extend(merged.get(kind) or [])
        frame, rejects = parse_corporate_actions(splits, dividends, start, end)
        return ProviderResult(frame=frame, rejects=rejects, calls=tuple(calls))
