"""A local HTTP server speaking Alpaca's market-data API (the paths ``alpaca-py`` requests), for tests.

Serves ``/v2/stocks/bars``, ``/v2/stocks/trades``, ``/v1beta1/news`` and ``/v1/corporate-actions``
with Alpaca's body shapes (as in ``../shared/fixtures/alpaca``, including the keys the SDK's models
require: bars' ``n`` and ``vw``; news' ``source``, ``content``, ``summary``, ``author``, ``url``;
corporate actions' ``id`` and ``cusip``) and ``next_page_token`` pagination (``limit`` per page,
optionally capped by ``page_size``; opaque tokens). Data are generated deterministically from the
demo provider for any symbol and date, so bars equal the Polygon test server's; daily bars are
stamped at midnight New York in UTC, as Alpaca does. Trades are those a test registers
(:meth:`AlpacaServer.add_trades`), else :func:`generated_trades` for every symbol and session asked
for; pages hold several symbols, sorted by symbol then time, ``limit`` counting across symbols,
``start`` and ``end`` inclusive. Auth checks both key headers: a wrong key gets 403
``{"message": "forbidden."}``, missing headers 401. Failures, canned bodies and recorded requests
come from :class:`FakeApi`.
"""

import base64
import datetime as dt
import hashlib
import html
import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.companies import read_companies_csv
from ai_trader_assets.providers.demo import DEMO_UNIVERSE, DemoProvider
from ai_trader_assets.providers.demo_bars import session_bars
from ai_trader_assets_tests.support.fake_api import FakeApi, RecordedRequest, fixture_json

TIMEFRAME_TO_DATASET = {
    "1Day": Dataset.BARS_1DAY,
    "1Hour": Dataset.BARS_1HOUR,
    "5Min": Dataset.BARS_5MIN,
    "1Min": Dataset.BARS_1MIN,
}
# The API's own page maxima (the SDK sends these when no page size is configured).
MAX_LIMIT = {"bars": 10_000, "trades": 10_000, "news": 50, "corporate_actions": 1000}
DEFAULT_LIMIT = {"bars": 1000, "trades": 1000, "news": 10, "corporate_actions": 100}
ALPACA_EXCHANGES = {"XNYS": "NYSE", "XNAS": "NASDAQ", "XASE": "AMEX", "ARCX": "ARCA", "BATS": "BATS"}
NAMESPACE = uuid.UUID("6f1d7c0e-2b1a-4c55-9a38-1f6a0c1d2e3f")
__all__ = ["AlpacaServer", "RecordedRequest", "bars_json", "fixture", "generated_trades"]


def fixture(name: str) -> Any:
    return fixture_json("alpaca", name)


def _rfc3339(value: pd.Timestamp | dt.datetime) -> str:
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float) -> float | int:
    """Alpaca sends whole volumes as integers."""
    return int(value) if float(value).is_integer() else float(value)


def bars_json(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Demo bars as Alpaca's ``{"SYM": [{"t","o","h","l","c","v","n","vw"}]}``, sorted by symbol, time."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in frame.sort_values(["symbol", "ts"], kind="stable").to_dict(orient="records"):
        grouped.setdefault(record["symbol"], []).append(
            {
                "t": _rfc3339(record["ts"]),
                "o": record["open"],
                "h": record["high"],
                "l": record["low"],
                "c": record["close"],
                "v": _number(record["volume"]),
                "n": int(record["trade_count"]),
                "vw": record["vwap"],
            }
        )
    return grouped


def generated_trades(symbol: str, session: dt.date, count: int = 40) -> list[dict[str, Any]]:
    """``count`` deterministic trades of ``symbol`` over ``session``'s New York day, 04:00 to 20:00
    (pre- and post-market included), in Alpaca's shape: nanosecond times, exchange letters, SIP
    condition letters (``T`` outside regular hours, ``I`` for odd lots), ids 1..count, sorted by time."""
    seed = hashlib.blake2b(f"{symbol}|{session}".encode(), digest_size=8).digest()
    midnight = int(pd.Timestamp(dt.datetime.combine(session, dt.time(), calendar.NEW_YORK)).value)
    opened, closed = (int(pd.Timestamp(t).value) for t in calendar.session_open_close(session))
    first, step = midnight + 4 * 3600 * 10**9, 16 * 3600 * 10**9 // max(count, 1)
    trades = []
    for n in range(count):
        draw = int.from_bytes(hashlib.blake2b(seed + n.to_bytes(4), digest_size=8).digest())
        ns, size = first + n * step + draw % step, 1 + (draw >> 20) % 300
        regular = opened <= ns < closed
        codes = ["@" if regular else " ", *([] if regular else ["T"]), *(["I"] if size < 100 else [])]
        seconds, fraction = divmod(ns, 10**9)
        text = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        trades.append(
            {
                "t": (f"{text}.{fraction:09d}".rstrip("0") if fraction else text) + "Z",
                "x": "DKNPQVZ"[draw % 7],
                "p": round(20 + seed[0] + (draw >> 8) % 1000 / 100, 2),
                "s": size,
                "c": codes,
                "i": n + 1,
                "z": "ABC"[seed[1] % 3],
            }
        )
    return trades


def demo_assets() -> list[dict[str, Any]]:
    """The demo universe in ``/v2/assets``' shape, plus an OTC stock and an untradable listing."""
    rows = read_companies_csv(DEMO_UNIVERSE)
    listed = [(r["symbol"], r["name"], ALPACA_EXCHANGES.get(r["exchange"], "?"), True) for r in rows]
    listed += [("GBTC", "Grayscale Bitcoin Trust", "OTC", True), ("ZVZZT", "Test Stock", "NASDAQ", False)]
    return [
        {
            "id": str(uuid.uuid5(NAMESPACE, symbol)),
            "class": "us_equity",
            "exchange": exchange,
            "symbol": symbol,
            "name": name,
            "status": "active",
            "tradable": tradable,
            "marginable": tradable,
            "shortable": tradable,
            "easy_to_borrow": tradable,
            "fractionable": tradable,
            "attributes": [],
        }
        for symbol, name, exchange, tradable in listed
    ]


def _cusip(symbol: str) -> str:
    return hashlib.blake2b(symbol.encode(), digest_size=5).hexdigest().upper()[:9]


def _news_id(demo_id: str) -> int:
    """Benzinga ids are integers: a stable one per demo article."""
    return 10_000_000 + int.from_bytes(hashlib.blake2b(demo_id.encode(), digest_size=4).digest()) % 90_000_000


def _token(offset: int) -> str:
    return base64.b64encode(f"offset|{offset}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    return int(base64.b64decode(token).decode().split("|")[1])


def _first(query: Mapping[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


class AlpacaServer(FakeApi):
    """Start with ``with AlpacaServer(key, secret) as server:``; point ALPACA_DATA_URL at ``server.url``.

    Args:
        api_key: The expected ``APCA-API-KEY-ID``.
        secret_key: The expected ``APCA-API-SECRET-KEY``.
        page_size: At most this many records per page, whatever ``limit`` the client asks for.
    """

    def __init__(self, api_key: str, secret_key: str, page_size: int | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.secret_key = secret_key
        self.page_size = page_size
        self._demo = DemoProvider()
        self._shifts: dict[tuple[str, dt.date], float] = {}
        self._missing_headers = False
        # The trading API's /v2/assets: the demo universe as Alpaca lists it, an OTC stock and an
        # untradable one (both must be left out); tests change it freely.
        self.assets: list[dict[str, Any]] = demo_assets()
        # Name changes served as corporate actions of type name_change.
        self.name_changes: list[dict[str, Any]] = []
        # Trades by symbol (Alpaca's records, any session) registered by tests (add_trades); other
        # symbols get this many generated_trades per session.
        self.trades: dict[str, list[dict[str, Any]]] = {}
        self.trades_per_session = 40
        # Generated listings by query (without page_token), so later pages cost no regeneration.
        self._listings: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[str, dict[str, Any]]]] = {}

    # --------------------------------------------------------------- knobs

    def shift_close(self, symbol: str, session: dt.date, factor: float) -> None:
        """Multiply ``symbol``'s daily close of ``session`` by ``factor`` (high/low kept consistent)."""
        self._shifts[(symbol, session)] = factor
        self._listings.clear()

    def add_trades(self, symbol: str, trades: list[dict[str, Any]]) -> None:
        """Serve these trades of ``symbol`` (``{t, x, p, s, c, i, z, u?}``) instead of generated ones."""
        self.trades.setdefault(symbol, []).extend(trades)
        self._listings.clear()

    # ------------------------------------------------------------ FakeApi

    def authorized(self, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        key, secret = headers.get("APCA-API-KEY-ID"), headers.get("APCA-API-SECRET-KEY")
        self._missing_headers = not key or not secret
        return key == self.api_key and secret == self.secret_key

    def unauthorized(self) -> tuple[int, Any]:
        if self._missing_headers:
            return 401, {"code": 40110000, "message": "request is not authorized"}
        return 403, fixture("error_403_forbidden_as_quoted_in_issue.json")

    def error_body(self, status: int) -> Any:
        return {"message": f"HTTP {status}"}

    def generate(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path == "/v2/assets":  # the trading API: one list, no paging
            return 200, [a for a in self.assets if a["status"] == (_first(query, "status") or "active")]
        kinds = {
            "/v2/stocks/bars": "bars",
            "/v2/stocks/trades": "trades",
            "/v1beta1/news": "news",
            "/v1/corporate-actions": "corporate_actions",
        }
        kind = kinds.get(path)
        if kind is None:
            return 404, {"message": "Not Found"}
        key = (path, tuple(sorted((k, v[0]) for k, v in query.items() if k not in ("page_token", "limit"))))
        if key not in self._listings:
            generators = {
                "bars": self._bars,
                "trades": self._trades,
                "news": self._news,
                "corporate_actions": self._actions,
            }
            self._listings[key] = generators[kind](query)
        return 200, self._page(kind, self._listings[key], query)

    # ------------------------------------------------------------ paging

    def _page(
        self, kind: str, items: list[tuple[str, dict[str, Any]]], query: Mapping[str, list[str]]
    ) -> dict[str, Any]:
        """One page of ``(group, record)`` items in Alpaca's shape, ``next_page_token`` if more follow."""
        limit = min(int(_first(query, "limit") or DEFAULT_LIMIT[kind]), MAX_LIMIT[kind])
        size = min(limit, self.page_size) if self.page_size else limit
        offset = _offset(_first(query, "page_token"))
        page = items[offset : offset + size]
        data: Any
        if kind == "news":
            data = [record for _, record in page]
        else:
            data = {}
            for group, record in page:
                data.setdefault(group, []).append(record)
        more = offset + size < len(items)
        return {kind: data, "next_page_token": _token(offset + size) if more else None}

    # ---------------------------------------------------------- generators

    def _bars(self, query: Mapping[str, list[str]]) -> list[tuple[str, dict[str, Any]]]:
        symbols = sorted(set((_first(query, "symbols") or "").split(",")) - {""})
        dataset = TIMEFRAME_TO_DATASET[_first(query, "timeframe") or "1Day"]
        start = pd.Timestamp(_first(query, "start") or "2026-01-01T00:00:00Z")
        end = pd.Timestamp(_first(query, "end") or pd.Timestamp.now(tz="UTC"))
        days = calendar.sessions(
            start.tz_convert(calendar.NEW_YORK).date(), end.tz_convert(calendar.NEW_YORK).date()
        )
        frames = [session_bars(symbols, day, dataset) for day in days if symbols]
        if not frames:
            return []
        frame = pd.concat(frames, ignore_index=True)
        frame = frame[(frame["ts"] >= start) & (frame["ts"] <= end)].reset_index(drop=True)
        if dataset == Dataset.BARS_1DAY:
            frame = self._shifted(frame)
        return [(symbol, bar) for symbol, bars in bars_json(frame).items() for bar in bars]

    def _trades(self, query: Mapping[str, list[str]]) -> list[tuple[str, dict[str, Any]]]:
        symbols = sorted(set((_first(query, "symbols") or "").split(",")) - {""})
        start = pd.Timestamp(_first(query, "start") or "2026-01-01T00:00:00Z")
        end = pd.Timestamp(_first(query, "end") or pd.Timestamp.now(tz="UTC"))
        days = calendar.sessions(
            start.tz_convert(calendar.NEW_YORK).date(), end.tz_convert(calendar.NEW_YORK).date()
        )
        items: list[tuple[str, dict[str, Any]]] = []
        for symbol in symbols:
            trades = self.trades.get(symbol) or [
                t for day in days for t in generated_trades(symbol, day, self.trades_per_session)
            ]
            timed = sorted(((pd.Timestamp(t["t"]), t) for t in trades), key=lambda item: item[0])
            if _first(query, "sort") == "desc":
                timed.reverse()
            items.extend((symbol, t) for ts, t in timed if start <= ts <= end)
        return items

    def _shifted(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        for (symbol, session), factor in self._shifts.items():
            rows = (frame["symbol"] == symbol) & (frame["ts"] == calendar.session_midnight_utc(session))
            frame.loc[rows, "close"] = frame.loc[rows, "close"] * factor
            frame.loc[rows, "high"] = frame.loc[rows, ["high", "close"]].max(axis=1)
            frame.loc[rows, "low"] = frame.loc[rows, ["low", "close"]].min(axis=1)
        return frame

    def _news(self, query: Mapping[str, list[str]]) -> list[tuple[str, dict[str, Any]]]:
        symbols = sorted(set((_first(query, "symbols") or "").split(",")) - {""})
        start = pd.Timestamp(_first(query, "start") or "2026-01-01T00:00:00Z").to_pydatetime()
        # Alpaca's end is inclusive; the demo's exclusive: one microsecond more.
        end = pd.Timestamp(_first(query, "end") or pd.Timestamp.now(tz="UTC")).to_pydatetime()
        result = self._demo.news(symbols, start, end + dt.timedelta(microseconds=1))
        assert result.links is not None
        tickers = result.links.groupby("news_id")["symbol"].apply(list).to_dict()
        items = []
        for row in result.frame.sort_values(["published_utc", "id"]).to_dict(orient="records"):
            created = _rfc3339(row["published_utc"])
            items.append(
                (
                    "news",
                    {
                        "author": row["author"],
                        "content": "",
                        "created_at": created,
                        "headline": row["title"],
                        "id": _news_id(row["id"]),
                        "images": [],
                        "source": "benzinga",
                        "summary": f"<p>{html.escape(row['description'])}</p>",
                        "symbols": tickers.get(row["id"], []),
                        "updated_at": created,
                        "url": row["article_url"],
                    },
                )
            )
        if _first(query, "sort") != "asc":  # Alpaca's default order is newest first
            items.reverse()
        return items

    def _actions(self, query: Mapping[str, list[str]]) -> list[tuple[str, dict[str, Any]]]:
        """Alpaca filters by process date: a split's ex-date, a dividend's payable date."""
        symbols = sorted(set((_first(query, "symbols") or "").split(",")) - {""})
        types = set((_first(query, "types") or "cash_dividend,forward_split,reverse_split").split(","))
        start = dt.date.fromisoformat(_first(query, "start") or "2026-01-01")
        end = dt.date.fromisoformat(_first(query, "end") or "2026-12-31")
        frame = self._demo.corporate_actions(symbols, start - dt.timedelta(days=60), end).frame
        items: list[tuple[dt.date, str, dict[str, Any]]] = []
        if "name_change" in types:
            items.extend(
                (dt.date.fromisoformat(change["process_date"]), "name_changes", change)
                for change in self.name_changes
                if {change["old_symbol"], change["new_symbol"]} & set(symbols)
            )
        for row in frame.to_dict(orient="records"):
            base = {
                "id": str(uuid.uuid5(NAMESPACE, row["id"])),
                "symbol": row["symbol"],
                "cusip": _cusip(row["symbol"]),
                "ex_date": row["ex_date"].isoformat(),
            }
            if row["action_type"] == "split" and "forward_split" in types:
                process = row["ex_date"]
                record = base | {
                    "new_rate": _number(row["split_to"]),
                    "old_rate": _number(row["split_from"]),
                    "process_date": process.isoformat(),
                    "record_date": (process - dt.timedelta(days=7)).isoformat(),
                    "payable_date": (process - dt.timedelta(days=1)).isoformat(),
                    "due_bill_redemption_date": (process + dt.timedelta(days=1)).isoformat(),
                }
                items.append((process, "forward_splits", record))
            elif row["action_type"] == "dividend" and "cash_dividend" in types:
                process = row["pay_date"]
                record = base | {
                    "rate": row["cash_amount"],
                    "special": False,
                    "foreign": False,
                    "process_date": process.isoformat(),
                    "record_date": row["record_date"].isoformat(),
                    "payable_date": row["pay_date"].isoformat(),
                }
                items.append((process, "cash_dividends", record))
        kept = [item for item in items if start <= item[0] <= end]
        kept.sort(key=lambda item: (item[0], item[2].get("symbol") or item[2]["new_symbol"], item[1]))
        return [(group, record) for _, group, record in kept]
