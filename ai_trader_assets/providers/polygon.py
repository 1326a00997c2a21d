"""The Polygon (Massive) provider: REST responses parsed straight into hot-table frames."""

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ai_trader_assets.calendar import session_midnight_utc
from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import INTERVALS
from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTION_COLUMNS
from ai_trader_assets.datasets.frames import UTC_TS, conform, empty_frame
from ai_trader_assets.datasets.news import NEWS_COLUMNS, NEWS_SYMBOL_COLUMNS
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN as SYMBOL
from ai_trader_assets.datasets.symbols import valid_symbols
from ai_trader_assets.datasets.validation import add_reason, rejects_frame, split_rejects
from ai_trader_assets.providers.base import ProviderCall, ProviderResult, ingest_time
from ai_trader_assets.providers.http import PolygonTransport
from ai_trader_assets.providers.validation import aggregate_bars, news_problems, numbers, parse_listing

# A delayed plan's aggregates (status "DELAYED") lag real time by this much.
POLYGON_DELAY_MINUTES = 15
SOURCE = "polygon"
GROUPED = "/v2/aggs/grouped/locale/us/market/stocks/{date}"
AGGREGATES = "/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}"
NEWS = "/v2/reference/news"
SPLITS = "/v3/reference/splits"
TICKERS = "/v3/reference/tickers"
TICKER_EVENTS = "/vX/reference/tickers/{id}/events"
DIVIDENDS = "/v3/reference/dividends"


def parse_aggregates(
    results: list[dict[str, Any]], symbols: Sequence[str] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aggregate rows (o h l c v vw n t[, T]) to one bars frame plus rejects, column by column.

    Args:
        results: The ``results`` of every page, of every symbol, concatenated (parsed in one go:
            per-request frames would cost more than the parsing itself).
        symbols: The ticker of each row; None for grouped results, which carry ``T`` per row.
    """
    tickers = [row.get("T") for row in results] if symbols is None else symbols
    ts = pd.to_datetime(numbers(results, "t"), unit="ms", utc=True).as_unit("us")
    return aggregate_bars(results, tickers, ts, SOURCE)


def _dates(raw: pd.DataFrame, key: str) -> pd.Series:
    if key not in raw:
        return pd.Series([None] * len(raw), index=raw.index, dtype="object")
    parsed = pd.to_datetime(raw[key], errors="coerce", format="%Y-%m-%d")
    return pd.Series([d.date() if not pd.isna(d) else None for d in parsed], index=raw.index, dtype="object")


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
        return _parse_news(list(records.values()), calls)

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
        return _parse_corporate_actions(splits, dividends, calls)


def _parse_news(records: list[dict[str, Any]], calls: list[ProviderCall]) -> ProviderResult:
    if not records:
        return ProviderResult(
            frame=empty_frame(NEWS_COLUMNS), calls=tuple(calls), links=empty_frame(NEWS_SYMBOL_COLUMNS)
        )
    raw = pd.DataFrame.from_records(records)

    def text(key: str) -> pd.Series:
        return raw[key].astype("string") if key in raw else pd.Series(pd.NA, index=raw.index, dtype="string")

    publisher = raw["publisher"] if "publisher" in raw else pd.Series([None] * len(raw))
    frame = pd.DataFrame(
        {
            "id": text("id"),
            "published_utc": pd.to_datetime(
                text("published_utc"), errors="coerce", utc=True, format="ISO8601"
            ),
            "title": text("title"),
            "author": text("author"),
            "article_url": text("article_url"),
            "publisher": pd.Series(
                [p.get("name") if isinstance(p, dict) else p for p in publisher],
                index=raw.index,
                dtype="string",
            ),
            "description": text("description"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    reasons = news_problems(frame, "published_utc", "title")
    valid, rejects = split_rejects(frame, reasons, records)
    kept_ids = set(valid["id"].tolist())
    links = [
        {"news_id": str(record["id"]), "symbol": ticker}
        for record in records
        if str(record.get("id")) in kept_ids
        for ticker in dict.fromkeys(record.get("tickers") or [])
        if isinstance(ticker, str) and SYMBOL.match(ticker)
    ]
    links_frame = pd.DataFrame(links) if links else empty_frame(NEWS_SYMBOL_COLUMNS)
    return ProviderResult(
        frame=conform(valid, NEWS_COLUMNS),
        rejects=rejects,
        calls=tuple(calls),
        links=conform(links_frame, NEWS_SYMBOL_COLUMNS),
    )


def _action_id(record: dict[str, Any], action_type: str, symbol: object, ex_date: object) -> str:
    """The provider's id when it sends one, else a key from what identifies the action."""
    if record.get("id"):
        return str(record["id"])
    if action_type == "split":
        detail = f"{record.get('split_from')}-{record.get('split_to')}"
    else:
        detail = f"{record.get('cash_amount')}-{record.get('dividend_type')}"
    return f"{action_type}-{symbol}-{ex_date}-{detail}"


def _parse_actions(
    records: list[dict[str, Any]], action_type: str, date_key: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits (keyed by execution date) or dividends (by ex-dividend date) to corporate_actions rows."""
    raw = pd.DataFrame.from_records(records)
    ex_date = _dates(raw, date_key)
    symbols = [record.get("ticker") for record in records]
    is_split = action_type == "split"
    frame = pd.DataFrame(
        {
            "id": [
                _action_id(r, action_type, s, d) for r, s, d in zip(records, symbols, ex_date, strict=True)
            ],
            "symbol": pd.array(symbols, dtype="string"),
            "action_type": action_type,
            "ex_date": ex_date,
            "split_from": numbers(records, "split_from") if is_split else np.nan,
            "split_to": numbers(records, "split_to") if is_split else np.nan,
            "cash_amount": np.nan if is_split else numbers(records, "cash_amount"),
            "currency": None if is_split else [r.get("currency") or "USD" for r in records],
            "declaration_date": _dates(raw, "declaration_date"),
            "record_date": _dates(raw, "record_date"),
            "pay_date": _dates(raw, "pay_date"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    reasons = np.full(len(frame), "", dtype=object)
    add_reason(reasons, ~valid_symbols(frame["symbol"]), "malformed symbol")
    add_reason(reasons, frame["ex_date"].isna().to_numpy(), f"missing or unparseable {date_key}")
    if is_split:
        ratio = frame[["split_from", "split_to"]].to_numpy(dtype="float64")
        add_reason(
            reasons, ~(np.isfinite(ratio) & (ratio > 0)).all(axis=1), "split_from/split_to must be positive"
        )
    else:
        cash = frame["cash_amount"].to_numpy(dtype="float64")
        add_reason(reasons, ~(np.isfinite(cash) & (cash > 0)), "cash_amount must be positive")
    return split_rejects(frame, reasons, records)


def _parse_corporate_actions(
    splits: list[dict[str, Any]], dividends: list[dict[str, Any]], calls: list[ProviderCall]
) -> ProviderResult:
    frames, rejects = [], []
    for records, action_type, date_key in (
        (splits, "split", "execution_date"),
        (dividends, "dividend", "ex_dividend_date"),
    ):
        if records:
            valid, rejected = _parse_actions(records, action_type, date_key)
            frames.append(valid)
            rejects.append(rejected)
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame(CORPORATE_ACTION_COLUMNS)
    rejected = pd.concat(rejects, ignore_index=True) if rejects else rejects_frame([], [])
    return ProviderResult(
        frame=conform(frame, CORPORATE_ACTION_COLUMNS), rejects=rejected, calls=tuple(calls)
    )
