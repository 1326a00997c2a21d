"""The Polygon (Massive) provider: REST responses parsed straight into the datasets' frames
(:mod:`.parse`) through :class:`PolygonTransport` (limits, retries, exhaustive pagination)."""

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ai_trader_assets.calendar import session_midnight_utc
from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import INTERVALS
from ai_trader_assets.datasets.frames import UTC_TS
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN as SYMBOL
from ai_trader_assets.datasets.ticks import session_bounds_ns
from ai_trader_assets.providers.base import ProviderCall, ProviderResult
from ai_trader_assets.providers.parsing import parse_listing
from ai_trader_assets.providers.polygon.parse import (
    SOURCE,
    parse_aggregates,
    parse_corporate_actions,
    parse_news,
)
from ai_trader_assets.providers.polygon.trades import TradeColumns, page_trades
from ai_trader_assets.providers.polygon.transport import PolygonTransport

# A delayed plan's aggregates (status "DELAYED") lag real time by this much.
POLYGON_DELAY_MINUTES = 15
GROUPED = "/v2/aggs/grouped/locale/us/market/stocks/{date}"
AGGREGATES = "/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}"
NEWS = "/v2/reference/news"
SPLITS = "/v3/reference/splits"
TICKERS = "/v3/reference/tickers"
TICKER_EVENTS = "/vX/reference/tickers/{id}/events"
DIVIDENDS = "/v3/reference/dividends"
TRADES = "/v3/trades/{ticker}"


class PolygonProvider:
    """Market data from Polygon (Massive) through :class:`PolygonTransport`."""

    name = SOURCE
    grouped_daily = True

    def __init__(self, transport: PolygonTransport, spec: ProviderSpec) -> None:
        self._transport = transport
        self._spec = spec

    def __repr__(self) -> str:
        return f"PolygonProvider({self._transport!r})"

    # ---------------------------------------------------------------- bars

    def grouped_daily_bars(self, session: dt.date, symbols: Sequence[str]) -> ProviderResult:
        """One request for the whole market's daily bars of ``session``, kept for ``symbols``.

        The grouped endpoint's ``t`` marks the bar's end (and in places another day entirely), so
        the bar start is derived from the requested session, like per-symbol daily bars.
        """
        page = self._transport.get(
            GROUPED, GROUPED.format(date=session.isoformat()), {"adjusted": "false", "include_otc": "false"}
        )
        wanted = set(symbols)
        results = [r for r in page.body.get("results") or [] if r.get("T") in wanted]
        frame, rejects = parse_aggregates(results, symbols=None)
        frame["ts"] = pd.Series(session_midnight_utc(session), index=frame.index).astype(UTC_TS)
        return ProviderResult(
            frame=frame, rejects=rejects, calls=(page.call,), served_until=self._served_until()
        )

    def bars(
        self,
        symbols: Sequence[str],
        dataset: Dataset,
        start: dt.date,
        end: dt.date,
        since: dt.datetime | None = None,
    ) -> ProviderResult:
        """Per-symbol aggregates over the whole range, every page (unadjusted, ascending).

        With ``since`` the range starts there: ``from`` as a Unix millisecond timestamp."""
        interval = INTERVALS[dataset]  # (multiplier, unit) is Polygon's own vocabulary
        multiplier, timespan = interval.multiplier, interval.unit
        first = str(int(since.timestamp() * 1000)) if since is not None else start.isoformat()
        results: list[dict[str, Any]] = []
        tickers: list[str] = []
        calls: list[ProviderCall] = []
        delayed = False
        for symbol in symbols:
            path = AGGREGATES.format(
                ticker=symbol,
                multiplier=multiplier,
                timespan=timespan,
                **{"from": first, "to": end.isoformat()},
            )
            params = {"adjusted": "false", "sort": "asc", "limit": self._spec.page_size(SOURCE, "aggregates")}
            for page in self._transport.paginate(AGGREGATES, path, params):
                rows = page.body.get("results") or []
                results.extend(rows)
                tickers.extend([symbol] * len(rows))
                calls.append(page.call)
                delayed |= page.body.get("status") == "DELAYED"
        frame, rejects = parse_aggregates(results, tickers)
        return ProviderResult(
            frame=frame, rejects=rejects, calls=tuple(calls), served_until=self._served_until(delayed)
        )

    def _served_until(self, delayed: bool = False) -> dt.datetime | None:
        """On a delayed plan (``delay_minutes``, or a response whose status says ``DELAYED``: 15
        minutes on Polygon's plans), the latest minutes are not served yet (see ProviderResult)."""
        minutes = max(self._spec.delay_minutes, POLYGON_DELAY_MINUTES if delayed else 0)
        if not minutes:
            return None
        return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)

    # -------------------------------------------------------------- trades

    def trades(
        self, symbols: Sequence[str], session: dt.date, since: dt.datetime | None = None
    ) -> ProviderResult:
        """Every trade of each symbol in the session's New York day, oldest first, every page.

        ``timestamp.gte``/``timestamp.lt`` are nanosecond integers: the day's bounds, the start raised
        to ``since`` when given (a naive ``since`` is taken as UTC). A page without ``results``, with a
        status other than OK, or a ``next_url`` loop raises (see :func:`.trades.page_trades` and
        :meth:`PolygonTransport.paginate`); 429 and 5xx are retried by the transport.
        """
        first, end = session_bounds_ns(session)
        if since is not None:
            first = max(first, int(pd.Timestamp(since).as_unit("ns").value))
        columns = TradeColumns()
        calls: list[ProviderCall] = []
        delayed = False
        page_size = self._spec.page_size(SOURCE, "trades")
        for symbol in symbols if first < end else ():
            params = {
                "timestamp.gte": first,
                "timestamp.lt": end,
                "order": "asc",
                "sort": "timestamp",
                "limit": page_size,
            }
            for page in self._transport.paginate(TRADES, TRADES.format(ticker=symbol), params):
                calls.append(page.call)
                columns.add(symbol, page_trades(TRADES, page.body))
                delayed |= page.body.get("status") == "DELAYED"
        frame, rejects = columns.result()
        return ProviderResult(
            frame=frame, rejects=rejects, calls=tuple(calls), served_until=self._served_until(delayed)
        )

    # ---------------------------------------------------------------- news

    def news(self, symbols: Sequence[str], start: dt.datetime, end: dt.datetime) -> ProviderResult:
        """Articles per symbol published in [start, end); an article naming several symbols once."""
        records: dict[str, dict[str, Any]] = {}
        calls: list[ProviderCall] = []
        for symbol in symbols:
            params = {
                "ticker": symbol,
                "published_utc.gte": start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "published_utc.lt": end.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "order": "asc",
                "sort": "published_utc",
                "limit": self._spec.page_size(SOURCE, "news"),
            }
            for page in self._transport.paginate(NEWS, NEWS, params):
                calls.append(page.call)
                for record in page.body.get("results") or []:
                    records.setdefault(str(record.get("id")), record)
        return parse_news(list(records.values()), calls)

    # ------------------------------------------------------------ universe

    def listed_stocks(self) -> ProviderResult:
        """Every active US stock ticker, all pages (``/v3/reference/tickers``; a truncated page is a
        :class:`PaginationError`, never a short list)."""
        params = {
            "market": "stocks",
            "active": "true",
            "order": "asc",
            "sort": "ticker",
            "limit": self._spec.page_size(SOURCE, "tickers"),
        }
        records: list[dict[str, Any]] = []
        calls: list[ProviderCall] = []
        for page in self._transport.paginate(TICKERS, TICKERS, params):
            calls.append(page.call)
            records.extend(page.body.get("results") or [])
        return parse_listing(records, "ticker", "primary_exchange", "type", calls)

    def ticker_changes(self, symbol: str) -> list[tuple[str, str, dt.date]]:
        """The company's ticker changes (``old, new, first session under new``) from its ticker
        events: each ``ticker_change`` event names the ticker used from its date on."""
        page = self._transport.get(TICKER_EVENTS, TICKER_EVENTS.format(id=symbol), {"types": "ticker_change"})
        results = page.body.get("results")
        events = results.get("events") if isinstance(results, dict) else None
        named: list[tuple[dt.date, str]] = []
        for event in events or []:
            change = event.get("ticker_change") if isinstance(event, dict) else None
            ticker = change.get("ticker") if isinstance(change, dict) else None
            try:
                day = dt.date.fromisoformat(str(event.get("date")))
            except ValueError:
                continue  # an undated event cannot place a rename
            if isinstance(ticker, str) and SYMBOL.match(ticker):
                named.append((day, ticker))
        named.sort()
        return [(old, new, day) for (_, old), (day, new) in itertools.pairwise(named) if old != new]

    # ------------------------------------------------------ corporate actions

    def corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> ProviderResult:
        """Splits (by execution date) and dividends (by ex-dividend date) of each symbol."""
        splits: list[dict[str, Any]] = []
        dividends: list[dict[str, Any]] = []
        calls: list[ProviderCall] = []
        for symbol in symbols:
            for endpoint, date_key, sink, page_size in (
                (SPLITS, "execution_date", splits, self._spec.page_size(SOURCE, "splits")),
                (DIVIDENDS, "ex_dividend_date", dividends, self._spec.page_size(SOURCE, "dividends")),
            ):
                params = {
                    "ticker": symbol,
                    f"{date_key}.gte": start.isoformat(),
                    f"{date_key}.lte": end.isoformat(),
                    "order": "asc",
                    "sort": date_key,
                    "limit": page_size,
                }
                for page in self._transport.paginate(endpoint, endpoint, params):
                    calls.append(page.call)
                    sink.extend(page.body.get("results") or [])
        return parse_corporate_actions(splits, dividends, calls)
