"""A local HTTP server speaking the Polygon (Massive) REST API, for tests and benchmarks.

Response shapes follow the recorded bodies in ``../shared/fixtures/polygon``. By default the data
comes from the demo provider (so any symbol and session has realistic bars); tests script the rest:
canned bodies (the fixtures, malformed rows, loops), failures (429 with Retry-After, 5xx, 401, slow
responses), page sizes, and a holiday. Every request is recorded with its arrival time and headers.
"""

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.demo import DemoProvider, session_bars
from ai_trader_assets_tests.support.fake_api import FakeApi, RecordedRequest, fixture_json

SPAN_TO_DATASET = {
    ("1", "day"): Dataset.BARS_1DAY,
    ("1", "hour"): Dataset.BARS_1HOUR,
    ("5", "minute"): Dataset.BARS_5MIN,
    ("1", "minute"): Dataset.BARS_1MIN,
}
__all__ = ["PolygonServer", "RecordedRequest", "bars_json", "fixture"]


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
        self._demo = DemoProvider(clock=lambda: self.clock or dt.datetime.now(dt.UTC))

    def authorized(self, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        return headers.get("Authorization") == f"Bearer {self.api_key}"

    def unauthorized(self) -> tuple[int, Any]:
        return 401, {"status": "ERROR", "request_id": "x", "error": "Unknown API Key"}

    def error_body(self, status: int) -> Any:
        return {"status": "ERROR", "error": f"HTTP {status}"}

    def generate(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if self._cache is None:
            return 200, self._generate(path, query)
        key = path + "?" + urlencode(sorted((k, v[0]) for k, v in query.items()))
        if key not in self._cache:
            self._cache[key] = json.dumps(self._generate(path, query)).encode()
        return 200, self._cache[key]

    def _generate(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        parts = path.strip("/").split("/")
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
