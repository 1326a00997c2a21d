"""A local HTTP server speaking the Polygon (Massive) REST API, for tests and benchmarks.

Response shapes follow the recorded bodies in ``../shared/fixtures/polygon``. By default the data
comes from the demo provider (so any symbol and session has realistic bars); tests script the rest:
canned bodies (the fixtures, malformed rows, loops), failures (429 with Retry-After, 5xx, 401, slow
responses), pages cut short (:meth:`PolygonServer.cut_short`), page sizes, and a holiday. Every request
is recorded with its arrival time and headers.

Trades (``/v3/trades/{ticker}``): a symbol's registered trades (:meth:`PolygonServer.add_trades`), else
``trades_per_session`` generated ones per session (:func:`generated_trades`, deterministic), filtered
to ``timestamp.gte/gt/lte/lt`` (ns), ordered by ``order`` (Polygon's default: desc), ``limit`` per page,
the rest behind a ``next_url`` whose opaque ``cursor`` carries the whole query (as Polygon's does).
"""

import base64
import datetime as dt
import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.ticks import session_bounds_ns
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.demo_bars import session_bars
from ai_trader_assets_tests.support.fake_api import FakeApi, RecordedRequest, fixture_json

SPAN_TO_DATASET = {
    ("1", "day"): Dataset.BARS_1DAY,
    ("1", "hour"): Dataset.BARS_1HOUR,
    ("5", "minute"): Dataset.BARS_5MIN,
    ("1", "minute"): Dataset.BARS_1MIN,
}
__all__ = ["PolygonServer", "RecordedRequest", "bars_json", "fixture", "generated_trades"]
TRADES_PATH = "/v3/trades/"
MAX_TRADES_LIMIT = 50_000


def fixture(name: str) -> dict[str, Any]:
    return fixture_json("polygon", name)  # type: ignore[no-any-return]


def bars_json(frame: pd.DataFrame, grouped: bool = False) -> list[dict[str, Any]]:
    ts_ms = frame["ts"].astype("int64") // 1000  # microseconds -> milliseconds
    rows = []
    for record, t in zip(frame.to_dict(orient="records"), ts_ms, strict=True):
        row = {
            "v": record["volume"],
            "vw": record["vwap"],
            "o": record["open"],
            "c": record["close"],
            "h": record["high"],
            "l": record["low"],
            "t": int(t),
            "n": int(record["trade_count"]),
        }
        if grouped:
            row["T"] = record["symbol"]
        rows.append(row)
    return rows


def generated_trades(symbol: str, session: dt.date, count: int) -> list[dict[str, Any]]:
    """``count`` deterministic trades of ``symbol`` over ``session``'s 04:00-20:00 New York, oldest
    first, in Polygon's v3 shape: exact 19-digit ns times, ``decimal_size`` on some (the fractional
    ones' ``size`` truncated), conditions absent on some, TRF fields on exchange 4, a few corrections."""
    if not calendar.is_session(session):
        return []
    rng = np.random.default_rng(zlib.crc32(f"{symbol}|{session}".encode()))
    crc = zlib.crc32(symbol.encode())
    start = session_bounds_ns(session)[0] + 4 * 3600 * 10**9
    sips = sorted((start + rng.integers(0, 16 * 3600 * 10**9, count)).tolist())
    sizes = rng.choice([100.0, 200.0, 1.0, 37.0, 0.5, 12.25], count).tolist()
    exchanges = rng.choice([4, 8, 10, 11, 12, 19], count).tolist()
    lags, moves = rng.integers(1, 3_000_000, count).tolist(), rng.uniform(-0.02, 0.02, count).tolist()
    rows: list[dict[str, Any]] = []
    for index, (sip, size, exchange, lag, move) in enumerate(
        zip(sips, sizes, exchanges, lags, moves, strict=True)
    ):
        row: dict[str, Any] = {
            "exchange": exchange,
            "id": str(52983525000000 + index * 7 + exchange),
            "participant_timestamp": sip - lag,
            "price": round((20 + crc % 480) * (1 + move), 2),
            "sequence_number": 4000 + 3 * index,
            "sip_timestamp": sip,
            "size": int(size),
            "tape": 3 if crc % 2 else 1,
        }
        if size < 100 or index % 3 == 0:
            row["conditions"] = [12, 37] if size < 100 else [12]
        if size % 1 or index % 4 == 0:
            row["decimal_size"] = f"{size:.6f}"
        if exchange == 4:
            row |= {"trf_id": 1 + index % 3, "trf_timestamp": sip - lag // 2}
        if index % 11 == 5:
            row["correction"] = 1
        rows.append(row)
    return rows


def _ns_bound(value: str) -> int:
    """A ``timestamp`` bound: ns since the epoch, or a date (its New York midnight)."""
    return int(value) if value.lstrip("-").isdigit() else session_bounds_ns(dt.date.fromisoformat(value))[0]


def _ny_day(ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(ns // 10**9, calendar.NEW_YORK).date()


def _sip(row: dict[str, Any]) -> int:
    value = row.get("sip_timestamp")
    return value if type(value) is int else 0  # a malformed registered trade: first, always served


def _day_or_instant(value: str) -> tuple[dt.date, dt.datetime | None]:
    if value.isdigit():
        instant = dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)
        return instant.astimezone(calendar.NEW_YORK).date(), instant
    return dt.date.fromisoformat(value), None


class PolygonServer(FakeApi):
    """Start with ``with PolygonServer(api_key) as server:``; point POLYGON_BASE_URL at ``server.url``."""

    def __init__(
        self,
        api_key: str,
        market: list[str] | None = None,
        page_size: int | None = None,
        cache_responses: bool = False,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        # Benchmarks measure the client, so generated bodies can be kept and replayed.
        self._cache: dict[str, bytes] | None = {} if cache_responses else None
        self.market = market or ["AAPL", "MSFT", "NVDA"]
        self.page_size = page_size
        self.extra_tickers: list[dict[str, Any]] = []
        # ticker -> [(first day, ticker used from then)], as /vX/reference/tickers/{id}/events lists them
        self.ticker_history: dict[str, list[tuple[str, str]]] = {}
        # The server's "now" (None: the real one): like Polygon, bars that started by then are served,
        # the one still forming included, later ones do not exist yet.
        self.clock: dt.datetime | None = None
        self.trades_per_session = 40  # generated trades per symbol and session (none registered)
        self._trades: dict[str, list[dict[str, Any]]] = {}
        self._cuts: list[tuple[str, str | None]] = []  # (path part, how to cut; None: let through)
        self._demo = DemoProvider(clock=lambda: self.clock or dt.datetime.now(dt.UTC))

    def authorized(self, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        return headers.get("Authorization") == f"Bearer {self.api_key}"

    def unauthorized(self) -> tuple[int, Any]:
        return 401, {"status": "ERROR", "request_id": "x", "error": "Unknown API Key"}

    def error_body(self, status: int) -> Any:
        return {"status": "ERROR", "error": f"HTTP {status}"}

    # ------------------------------------------------------------ trades

    def add_trades(self, symbol: str, trades: Iterable[dict[str, Any]]) -> None:
        """Serve these trades (Polygon's v3 records) for ``symbol`` instead of generated ones, each
        request those inside its ``timestamp`` bounds (a record without an int sip_timestamp always)."""
        self._trades.setdefault(symbol, []).extend(dict(t) for t in trades)

    def session_trades(self, symbol: str, session: dt.date) -> list[dict[str, Any]]:
        """What the server holds of ``symbol`` in ``session``'s New York day, oldest first."""
        return self._trades_between(symbol, *session_bounds_ns(session))

    def _trades_between(self, symbol: str, low: int | None, high: int | None) -> list[dict[str, Any]]:
        rows = self._trades.get(symbol)
        if rows is None:  # generated for the window's New York days (none without a window)
            days = [] if low is None or high is None else pd.date_range(_ny_day(low), _ny_day(high - 1))
            rows = [
                t for day in days[:31] for t in generated_trades(symbol, day.date(), self.trades_per_session)
            ]
        inside = [
            r
            for r in rows
            if type(r.get("sip_timestamp")) is not int
            or ((low is None or _sip(r) >= low) and (high is None or _sip(r) < high))
        ]
        return sorted(inside, key=lambda r: (_sip(r), r.get("sequence_number") or 0))

    def _trades_page(self, ticker: str, query: dict[str, list[str]]) -> dict[str, Any]:
        asked = {k: v[0] for k, v in query.items()}
        if "cursor" in asked:  # the cursor alone carries the query (as Polygon's next_url does)
            asked = dict(parse_qsl(base64.urlsafe_b64decode(asked["cursor"] + "==").decode()))
        offset = int(asked.pop("offset", "0"))
        low = high = None
        for key, value in asked.items():
            op = key.removeprefix("timestamp.")
            if op in ("gte", "gt", "lt", "lte"):
                bound = _ns_bound(value) + (op in ("gt", "lte"))
                low, high = (bound, high) if op in ("gte", "gt") else (low, bound)
        rows = self._trades_between(ticker, low, high)
        if asked.get("order", "desc") == "desc":  # Polygon's default
            rows.reverse()
        limit = min(int(asked.get("limit", "1000")), MAX_TRADES_LIMIT, self.page_size or MAX_TRADES_LIMIT)
        page = rows[offset : offset + limit]
        body: dict[str, Any] = {"results": page, "status": "OK", "request_id": "local"}
        if offset + limit < len(rows):
            state = urlencode({**asked, "offset": offset + limit}).encode()
            cursor = base64.urlsafe_b64encode(state).decode().rstrip("=")
            body["next_url"] = f"https://api.massive.com{TRADES_PATH}{ticker}?cursor={cursor}"
        return body

    # ------------------------------------------------------------ answers

    def cut_short(
        self, path_contains: str, *, skip: int = 0, times: int = 1, drop_results: bool = False
    ) -> None:
        """After ``skip`` generated answers to paths containing ``path_contains``, cut the next
        ``times`` short: the body stops halfway (invalid JSON: a connection dropped mid-page), or with
        ``drop_results`` it arrives whole but without its ``results``."""
        how = "drop_results" if drop_results else "truncate"
        with self._lock:
            self._cuts.extend([(path_contains, None)] * skip + [(path_contains, how)] * times)

    def generate(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        body = self._cached(path, query)
        with self._lock:
            index = next((n for n, (part, _) in enumerate(self._cuts) if part in path), None)
            how = None if index is None else self._cuts.pop(index)[1]
        if how == "drop_results":
            whole = json.loads(body) if isinstance(body, bytes) else body
            return 200, {k: v for k, v in whole.items() if k != "results"}
        if how == "truncate":
            encoded = body if isinstance(body, bytes) else json.dumps(body).encode()
            return 200, encoded[: len(encoded) // 2]
        return 200, body

    def _cached(self, path: str, query: dict[str, list[str]]) -> Any:
        if self._cache is None:
            return self._generate(path, query)
        key = path + "?" + urlencode(sorted((k, v[0]) for k, v in query.items()))
        if key not in self._cache:
            self._cache[key] = json.dumps(self._generate(path, query)).encode()
        return self._cache[key]

    def _generate(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        if path.startswith(TRADES_PATH):
            return self._trades_page(parts[2], query)
        if path.startswith("/v2/aggs/grouped/"):
            return self._grouped(dt.date.fromisoformat(parts[-1]))
        if path.startswith("/v2/aggs/ticker/"):
            ticker, multiplier, timespan, start, end = parts[3], parts[5], parts[6], parts[7], parts[8]
            dataset = SPAN_TO_DATASET[(multiplier, timespan)]
            # ``from``/``to`` are dates or Unix millisecond timestamps.
            first, since = _day_or_instant(start)
            frame = self._demo.bars([ticker], dataset, first, _day_or_instant(end)[0], since=since).frame
            rows = bars_json(frame) if len(frame) else []
            return self._page(path, query, rows, {"ticker": ticker, "adjusted": False})
        listings = {
            "/v2/reference/news": lambda: self._news(query),
            "/v3/reference/splits": lambda: self._actions(query, "split"),
            "/v3/reference/dividends": lambda: self._actions(query, "dividend"),
            "/v3/reference/tickers": self.tickers,
        }
        if path in listings:
            return self._page(path, query, listings[path](), {})
        if path.startswith("/vX/reference/tickers/") and path.endswith("/events"):
            return self._ticker_events(parts[3])
        return {"status": "NOT_FOUND", "results": []}

    def _page(
        self, path: str, query: dict[str, list[str]], rows: list[dict[str, Any]], extra: dict[str, Any]
    ) -> dict[str, Any]:
        """One page of ``rows``; with a page size, the rest follows a ``next_url`` with a cursor."""
        offset = int(query.get("cursor", ["0"])[0])
        size = self.page_size or len(rows) or 1
        page = rows[offset : offset + size]
        body: dict[str, Any] = {
            **extra,
            "status": "OK",
            "request_id": "local",
            "queryCount": len(rows),
            "resultsCount": len(page),
            "count": len(page),
            "results": page,
        }
        if offset + size < len(rows):
            rest = {k: v[0] for k, v in query.items() if k != "cursor"} | {"cursor": str(offset + size)}
            body["next_url"] = f"https://api.massive.com{path}?{urlencode(rest)}"
        return body

    def _grouped(self, day: dt.date) -> dict[str, Any]:
        if not calendar.is_session(day):  # what Polygon answers for a holiday or weekend
            return {
                "queryCount": 0,
                "resultsCount": 0,
                "adjusted": False,
                "status": "OK",
                "request_id": "local",
            }
        frame = session_bars(self.market, day, Dataset.BARS_1DAY)
        _, close = calendar.session_open_close(day)
        rows = bars_json(frame, grouped=True)
        for row in rows:
            row["t"] = int(close.timestamp() * 1000)  # grouped bars are stamped at their end
        return {
            "queryCount": len(rows),
            "resultsCount": len(rows),
            "adjusted": False,
            "status": "OK",
            "request_id": "local",
            "count": len(rows),
            "results": rows,
        }

    def _news(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        start = pd.Timestamp(query["published_utc.gte"][0]).to_pydatetime()
        end = pd.Timestamp(query["published_utc.lt"][0]).to_pydatetime()
        result = self._demo.news(query["ticker"], start, end)
        return [
            {
                "id": r["id"],
                "publisher": {"name": r["publisher"]},
                "title": r["title"],
                "author": r["author"],
                "published_utc": r["published_utc"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                "article_url": r["article_url"],
                "tickers": query["ticker"],
                "description": r["description"],
            }
            for r in result.frame.to_dict(orient="records")
        ]

    def _actions(self, query: dict[str, list[str]], action_type: str) -> list[dict[str, Any]]:
        key = "execution_date" if action_type == "split" else "ex_dividend_date"
        start, end = (
            dt.date.fromisoformat(query[f"{key}.gte"][0]),
            dt.date.fromisoformat(query[f"{key}.lte"][0]),
        )
        frame = self._demo.corporate_actions(query["ticker"], start, end).frame
        rows = []
        for r in frame[frame["action_type"] == action_type].to_dict(orient="records"):
            if action_type == "split":
                rows.append(
                    {
                        "id": r["id"],
                        "execution_date": r["ex_date"].isoformat(),
                        "split_from": r["split_from"],
                        "split_to": r["split_to"],
                        "ticker": r["symbol"],
                    }
                )
            else:
                rows.append(
                    {
                        "id": r["id"],
                        "cash_amount": r["cash_amount"],
                        "declaration_date": r["declaration_date"].isoformat(),
                        "dividend_type": "CD",
                        "ex_dividend_date": r["ex_date"].isoformat(),
                        "frequency": 4,
                        "pay_date": r["pay_date"].isoformat(),
                        "record_date": r["record_date"].isoformat(),
                        "ticker": r["symbol"],
                        "currency": "USD",
                    }
                )
        return rows

    def tickers(self) -> list[dict[str, Any]]:
        """The reference list (``/v3/reference/tickers``): the market as common stocks, plus
        ``extra_tickers`` (other types and exchanges, as Polygon lists them too)."""
        rows = [
            {
                "ticker": symbol,
                "name": f"{symbol} Holdings Inc.",
                "market": "stocks",
                "locale": "us",
                "primary_exchange": "XNAS" if sum(map(ord, symbol)) % 2 else "XNYS",
                "type": "CS",
                "active": True,
                "currency_name": "usd",
            }
            for symbol in sorted(self.market)
        ]
        return rows + list(self.extra_tickers)

    def _ticker_events(self, ticker: str) -> dict[str, Any]:
        events = [
            {"ticker_change": {"ticker": name}, "type": "ticker_change", "date": day}
            for day, name in sorted(self.ticker_history.get(ticker, [("2010-01-04", ticker)]), reverse=True)
        ]
        return {
            "results": {"name": f"{ticker} Holdings Inc.", "composite_figi": "BBG000LOCAL", "events": events},
            "status": "OK",
            "request_id": "local",
        }
