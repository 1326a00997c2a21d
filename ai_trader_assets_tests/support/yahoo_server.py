"""A local HTTP server speaking Yahoo Finance's chart endpoint (``/v8/finance/chart/{symbol}``).

Response shapes follow the recorded bodies in ``../shared/fixtures/yahoo``. The data comes from the
demo provider, so any symbol and date has bars (``session_bars``), splits and dividends
(``DemoProvider.corporate_actions``), and is then served the way Yahoo serves it:

* every price is split-adjusted for all splits after the bar up to the server's ``today`` (prices
  divided, volume multiplied by their ratios) and sent as float32 noise, while ``events.splits``
  lists only the splits inside [period1, period2); dividend amounts are split-adjusted too;
* ``adjclose`` is the close adjusted for splits and for the dividends up to ``today``;
* timestamps are the session open (daily) or the bar open (intraday), ``meta`` carries currency,
  ``exchangeTimezoneName`` and, for intraday intervals, ``tradingPeriods``;
* an empty range has no ``timestamp`` and ``quote: [{}]``;
* Yahoo's windows are enforced with its 422 answers: 1m within 30 days and at most 8 days per
  request, 5m and 60m within 60 days;
* an unknown symbol (:meth:`YahooServer.mark_unknown`) gets Yahoo's 404 "No data found" body.

Intervals: 1d, 5m, 1m and 60m (Yahoo's hour bars, starting at :30). Failures and canned bodies are
scripted with :meth:`FakeApi.fail` and :meth:`FakeApi.respond`; every request is recorded.
"""

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.demo_bars import session_bars, splits
from ai_trader_assets_tests.support.fake_api import FakeApi, RecordedRequest, fixture_json

__all__ = ["NOT_FOUND_BODY", "RecordedRequest", "YahooServer", "fixture"]

CHART_PREFIX = "/v8/finance/chart/"
NOT_FOUND_BODY = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}
INTERVALS = {"1d": Dataset.BARS_1DAY, "5m": Dataset.BARS_5MIN, "1m": Dataset.BARS_1MIN, "60m": None}
# interval -> (days back from now Yahoo serves, longest span of one request in days or None)
WINDOWS = {"1m": (30, 8), "5m": (60, None), "60m": (60, None)}
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
DAY_SECONDS = 86_400


def fixture(name: str) -> dict[str, Any]:
    return fixture_json("yahoo", name)  # type: ignore[no-any-return]


def _error(code: str, description: str) -> dict[str, Any]:
    return {"chart": {"result": None, "error": {"code": code, "description": description}}}


def _f32(values: np.ndarray) -> list[float]:
    """Prices as Yahoo sends them: float32 values written out as doubles (75.0875015258789)."""
    return [float(v) for v in np.asarray(values, dtype="float32")]


def _new_york_date(seconds: int) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, tz=calendar.NEW_YORK).date()


@functools.cache
def _raw_bars(symbol: str, session: dt.date, interval: str) -> pd.DataFrame:
    """The demo's raw bars of one session; 60m bars aggregate 12 five-minute bars from the open."""
    if interval != "60m":
        return session_bars([symbol], session, INTERVALS[interval] or Dataset.BARS_5MIN)
    five = session_bars([symbol], session, Dataset.BARS_5MIN)
    group = np.arange(len(five)) // 12
    return (
        five.groupby(group)
        .agg(
            ts=("ts", "first"),
            open=("open", "first"),
            high=("high", "max"),
            low=("low", "min"),
            close=("close", "last"),
            volume=("volume", "sum"),
        )
        .reset_index(drop=True)
    )


def _period(session: dt.date, start: dt.time, end: dt.time) -> dict[str, Any]:
    begin = dt.datetime.combine(session, start, calendar.NEW_YORK)
    offset = begin.utcoffset() or dt.timedelta()
    return {
        "timezone": begin.tzname(),
        "start": int(begin.timestamp()),
        "end": int(dt.datetime.combine(session, end, calendar.NEW_YORK).timestamp()),
        "gmtoffset": int(offset.total_seconds()),
    }


class YahooServer(FakeApi):
    """Start with ``with YahooServer(today=...) as server:``; point YAHOO_BASE_URL at ``server.url``.

    Args:
        today: The server's "today" (New York): the last session it has data for, and the horizon
            of the split adjustment.
        unknown: Symbols answered with Yahoo's 404 "No data found, symbol may be delisted".
    """

    def __init__(self, today: dt.date | None = None, unknown: Iterable[str] = ()) -> None:
        super().__init__()
        self.today = today or calendar.new_york_today()
        self.unknown: set[str] = set(unknown)
        self._shifts: dict[tuple[str, dt.date], float] = {}
        self._demo = DemoProvider()

    # ----------------------------------------------------------------- knobs

    def mark_unknown(self, *symbols: str) -> None:
        """These symbols get Yahoo's 404 "No data found" answer."""
        self.unknown.update(symbols)

    def shift_close(self, symbol: str, session: dt.date, factor: float) -> None:
        """Multiply ``symbol``'s daily close of ``session`` by ``factor`` (high/low widened to keep it)."""
        self._shifts[(symbol, session)] = factor

    def chart_requests(self, symbol: str | None = None, interval: str | None = None) -> list[RecordedRequest]:
        """The chart requests received, optionally for one symbol and interval."""
        path = CHART_PREFIX + (symbol or "")
        return [
            r
            for r in self.requests_to(path)
            if (symbol is None or r.path == path)
            and (interval is None or r.query.get("interval") == [interval])
        ]

    # ---------------------------------------------------------------- FakeApi

    def error_body(self, status: int) -> Any:
        return _error("Internal Server Error" if status >= 500 else str(status), f"HTTP {status}")

    def unauthorized(self) -> tuple[int, Any]:
        return 401, _error("Unauthorized", "User is unable to access this feature")

    def generate(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if not path.startswith(CHART_PREFIX) or path.count("/") != 4:
            return 404, {
                "finance": {"result": None, "error": {"code": "Not Found", "description": "HTTP 404"}}
            }
        symbol = path.removeprefix(CHART_PREFIX)
        if symbol in self.unknown:
            return 404, NOT_FOUND_BODY
        interval = query.get("interval", ["1d"])[0]
        if interval not in INTERVALS:
            return 422, _error(
                "Unprocessable Entity", f"Invalid input - interval={interval} is not supported."
            )
        try:
            period1, period2 = int(query["period1"][0]), int(query["period2"][0])
        except (KeyError, ValueError):
            return 400, _error("Bad Request", "period1 and period2 are required unix times")
        refusal = self._refusal(interval, period1, period2)
        if refusal:
            return 422, _error("Unprocessable Entity", refusal)
        events = query.get("events", [""])[0]
        return 200, self._chart(symbol, interval, period1, period2, events)

    # ------------------------------------------------------------- generation

    def _now(self) -> int:
        """The server's clock: 16:00 New York on ``today``."""
        return int(dt.datetime.combine(self.today, dt.time(16), calendar.NEW_YORK).timestamp())

    def _refusal(self, interval: str, period1: int, period2: int) -> str | None:
        if interval not in WINDOWS:
            return None
        back, span = WINDOWS[interval]
        if span is not None and period2 - period1 > span * DAY_SECONDS:
            return (
                f"{interval} data not available for startTime={period1} and endTime={period2}. Only {span} "
                f"days worth of {interval} granularity data are allowed to be fetched per request."
            )
        if period1 < self._now() - back * DAY_SECONDS:
            return (
                f"{interval} data not available for startTime={period1} and endTime={period2}. "
                f"The requested range must be within the last {back} days."
            )
        return None

    def _factor(self, symbol: str, day: dt.date) -> float:
        """Product of the ratios of the splits after ``day`` up to today (Yahoo price = raw / factor)."""
        return float(np.prod([ratio for when, ratio in splits(symbol, self.today) if when > day]))

    def _sessions(self, period1: int, period2: int) -> list[dt.date]:
        first = _new_york_date(period1)
        last = min(_new_york_date(period2 - 1), self.today)
        return calendar.sessions(first, last) if first <= last else []

    def _bars(
        self, symbol: str, interval: str, sessions: list[dt.date], period1: int, period2: int
    ) -> pd.DataFrame:
        frames = []
        for session in sessions:
            raw = _raw_bars(symbol, session, interval).copy()
            if interval == "1d":
                open_, _ = calendar.session_open_close(session)
                raw["t"] = int(open_.timestamp())
                factor = self._shifts.get((symbol, session))
                if factor is not None:
                    close = raw["close"] * factor
                    raw["high"] = np.maximum(raw["high"], close)
                    raw["low"] = np.minimum(raw["low"], close)
                    raw["close"] = close
            else:
                raw["t"] = raw["ts"].astype("int64") // 1_000_000
            raw["factor"] = self._factor(symbol, session)
            raw["session"] = session
            frames.append(raw)
        if not frames:
            return pd.DataFrame()
        bars = pd.concat(frames, ignore_index=True)
        return bars[(bars["t"] >= period1) & (bars["t"] < period2)].reset_index(drop=True)

    def _events(self, symbol: str, period1: int, period2: int) -> dict[str, Any]:
        in_range = [day for day in self._sessions(period1, period2)]
        if not in_range:
            return {}
        first, last = in_range[0], in_range[-1]
        listed: dict[str, Any] = {}
        for day, ratio in splits(symbol, last):
            stamp = int(calendar.session_open_close(day)[0].timestamp())
            if day >= first and period1 <= stamp < period2:
                listed.setdefault("splits", {})[str(stamp)] = {
                    "date": stamp,
                    "numerator": ratio,
                    "denominator": 1,
                    "splitRatio": f"{ratio}:1",
                }
        actions = self._demo.corporate_actions([symbol], first, last).frame
        for row in actions[actions["action_type"] == "dividend"].to_dict(orient="records"):
            stamp = int(calendar.session_open_close(row["ex_date"])[0].timestamp())
            if period1 <= stamp < period2:
                listed.setdefault("dividends", {})[str(stamp)] = {
                    "amount": row["cash_amount"] / self._factor(symbol, row["ex_date"]),
                    "date": stamp,
                }
        return listed

    def _dividend_multipliers(self, symbol: str, after: dt.date) -> list[tuple[dt.date, float]]:
        """(ex-date, 1 - dividend / previous close) of each dividend after ``after`` up to today."""
        if after >= self.today:
            return []
        actions = self._demo.corporate_actions([symbol], after + dt.timedelta(days=1), self.today).frame
        found = []
        for row in actions[actions["action_type"] == "dividend"].to_dict(orient="records"):
            previous = calendar.previous_session(row["ex_date"])
            close = float(_raw_bars(symbol, previous, "1d")["close"].iloc[0])
            found.append((row["ex_date"], 1.0 - row["cash_amount"] / close))
        return found

    def _meta(
        self, symbol: str, interval: str, sessions: list[dt.date], first_open: float | None
    ) -> dict[str, Any]:
        latest = calendar.session_on_or_before(self.today)
        today_open = _period(latest, dt.time(9, 30), dt.time(16))
        meta: dict[str, Any] = {
            "currency": "USD",
            "symbol": symbol,
            "exchangeName": "NMS",
            "fullExchangeName": "NasdaqGS",
            "instrumentType": "EQUITY",
            "firstTradeDate": 345479400,
            "regularMarketTime": today_open["end"],
            "hasPrePostMarketData": True,
            "gmtoffset": today_open["gmtoffset"],
            "timezone": today_open["timezone"],
            "exchangeTimezoneName": "America/New_York",
            "regularMarketPrice": float(np.float32(_raw_bars(symbol, latest, "1d")["close"].iloc[0])),
            "chartPreviousClose": first_open,
            "priceHint": 2,
            "currentTradingPeriod": {
                "pre": _period(latest, dt.time(4), dt.time(9, 30)),
                "regular": today_open,
                "post": _period(latest, dt.time(16), dt.time(20)),
            },
            "dataGranularity": interval,
            "range": "",
            "validRanges": VALID_RANGES,
        }
        if interval != "1d":
            meta["tradingPeriods"] = {
                "pre": [[_period(s, dt.time(4), dt.time(9, 30))] for s in sessions],
                "regular": [
                    [
                        _period(
                            s,
                            dt.time(9, 30),
                            calendar.session_open_close(s)[1].astimezone(calendar.NEW_YORK).time(),
                        )
                    ]
                    for s in sessions
                ],
                "post": [[_period(s, dt.time(16), dt.time(20))] for s in sessions],
            }
        return meta

    def _chart(self, symbol: str, interval: str, period1: int, period2: int, events: str) -> dict[str, Any]:
        sessions = self._sessions(period1, period2)
        bars = self._bars(symbol, interval, sessions, period1, period2)
        result: dict[str, Any] = {
            "meta": self._meta(symbol, interval, sessions, None),
            "indicators": {"quote": [{}]},
        }
        if not bars.empty:
            factor = bars["factor"].to_numpy()
            prices = {key: bars[key].to_numpy() / factor for key in ("open", "high", "low", "close")}
            quote = {key: _f32(values) for key, values in prices.items()}
            quote["volume"] = [int(v) for v in np.round(bars["volume"].to_numpy() * factor)]
            result["timestamp"] = [int(t) for t in bars["t"]]
            result["indicators"] = {"quote": [quote]}
            result["meta"]["chartPreviousClose"] = quote["open"][0]
            if interval == "1d":
                adjusted = prices["close"].copy()
                days = bars["session"].to_numpy()
                for ex_date, multiplier in self._dividend_multipliers(
                    symbol, sessions[0] - dt.timedelta(days=1)
                ):
                    adjusted[days < ex_date] *= multiplier
                result["indicators"]["adjclose"] = [{"adjclose": _f32(adjusted)}]
        listed = self._events(symbol, period1, period2) if events else {}
        wanted = {"splits": "split" in events, "dividends": "div" in events}
        listed = {kind: items for kind, items in listed.items() if wanted[kind]}
        if listed:
            result["events"] = listed
        return {"chart": {"result": [result], "error": None}}
