"""The Yahoo provider: Yahoo Finance's chart endpoint, called directly (no ``yfinance``), no key.

Every request is ``GET {YAHOO_BASE_URL}/v8/finance/chart/{symbol}?period1=<unix>&period2=<unix>&
interval=<1d|5m|1m>&events=div,splits&includePrePost=false`` through our :class:`JsonTransport`
(shared rate limiter, classified retries, one :class:`ProviderCall` per request). Yahoo has no
grouped or multi-symbol endpoint and no pagination: one request per symbol (per window for 1-minute
bars). The endpoint is unofficial and meant for personal use; no cookie or crumb is sent, only an
honest User-Agent (Yahoo turns library default agents away with 429s).

What it serves:

* ``bars_1day`` (and ``grouped_daily_bars``: one request per symbol for that session), any range.
* ``bars_5min`` for sessions within the last 60 days, ``bars_1min`` within the last 30 days (at most
  8 days per request, so longer ranges become several requests), ``bars_1hour`` within the last 60
  days, **built by resampling 5-minute bars into clock hours** (Yahoo's own 60m bars start at :30;
  ours are clock hours in New York, the 9:00 bar covering 9:30-10:00). Outside a window the methods
  raise :class:`NotServedError` naming the window, before any request, so failover moves on.
  "Today" is New York's date (``today`` is injectable for tests).
* ``corporate_actions``: splits (``numerator``/``denominator`` -> ``split_to``/``split_from``) and
  cash dividends (``amount``, currency from ``meta.currency``) from the same endpoint's events; ids
  are synthesized (``yahoo-split-AAPL-2020-08-31``) since Yahoo has none. ``news`` is not served.

Prices are stored **raw** (as traded, like Polygon with ``adjusted=false``). Traps handled:

* Yahoo's open/high/low/close (intraday too) and dividend amounts are split-adjusted retroactively
  for every split up to today, while a response lists only the splits inside its own range. So daily
  and corporate-action requests run through today + 1 day, and intraday requests are preceded by one
  daily request per symbol from the first session through today + 1 day (a split probe); every split
  listed whose date is after a bar (or dividend) is undone: prices and amounts x ratio, volume / ratio.
  A split with an unusable ratio makes the bars (dividends) before it rejects, never guesses.
* Prices are float32 noise (75.0875015258789): after undoing splits they are rounded to 7
  significant digits (float32 carries ~7.2, so this recovers the decimal Yahoo stored, e.g. sub-penny
  prices above $100, which 6 digits would cut), volumes to whole shares.
* ``adjclose`` (split and dividend adjusted) is ignored; ``vwap`` is NaN and ``trade_count`` NA
  (Yahoo gives neither).
* Daily timestamps are the session open (14:30Z/13:30Z), sometimes the last trade time for a live
  bar: the session is the New York date, stored as ``session_midnight_utc(session)``.
* Rows outside the requested sessions (the extra history through today, a live partial bar past
  ``end``) are dropped as not asked for; inside the requested range, a row on a non-session date or
  (intraday) outside regular hours is a reject with its reason.
* Null rows (every price null, common on Yahoo) are not bars: rejects with a reason, never silently
  dropped. Rows failing :func:`bar_problems` (high < low, missing values, ...) become rejects keeping
  Yahoo's raw values.
* Empty ranges come without ``timestamp`` and with ``quote: [{}]``: an empty frame.
* ``chart.error`` in a body is a :class:`ProviderError` naming Yahoo's code and description, except
  "Not Found" (HTTP 404 "No data found, symbol may be delisted"): that symbol yields no rows and one
  reject saying so, and the other symbols go on. A 404 without Yahoo's error body (a wrong base URL)
  stays an error. Arrays of different lengths are an error, never a short result.
* 429 (``Retry-After`` honoured), 5xx, timeouts and cut-off bodies are retried by the governor;
  401/403 mean the endpoint refused this client (there is no key to check).
"""

import dataclasses
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload
from urllib.parse import quote

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import BAR_COLUMNS, bar_problems
from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTION_COLUMNS
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, rejects_frame, split_rejects
from ai_trader_assets.providers.base import (
    NotServedError,
    ProviderCall,
    ProviderError,
    ProviderResult,
    ingest_time,
)
from ai_trader_assets.providers.http import USER_AGENT, JsonTransport, RequestGovernor
from ai_trader_assets.providers.ratelimit import RequestLimiter

log = logging.getLogger(__name__)

SOURCE = "yahoo"
CHART = "/v8/finance/chart/{symbol}"
CLIENT_USER_AGENT = f"Mozilla/5.0 (compatible; {USER_AGENT})"
SIGNIFICANT_DIGITS = 7
DAY = dt.timedelta(days=1)
PRICES = ("open", "high", "low", "close")
QUOTE_KEYS = (*PRICES, "volume")
# Yahoo's interval per dataset (bars_1hour is resampled from 5-minute bars).
INTERVALS = {
    Dataset.BARS_1DAY: "1d",
    Dataset.BARS_1HOUR: "5m",
    Dataset.BARS_5MIN: "5m",
    Dataset.BARS_1MIN: "1m",
}
# How far back Yahoo serves each intraday interval (calendar days, today included).
WINDOW_DAYS = {Dataset.BARS_1HOUR: 60, Dataset.BARS_5MIN: 60, Dataset.BARS_1MIN: 30}
# The longest span one request may cover, where Yahoo limits it.
MAX_REQUEST_SECONDS = {Dataset.BARS_1MIN: 8 * 86_400}
# The 404 Yahoo answers for a symbol it has no data for (classify_status quotes the body); another
# 404 (say, a wrong base URL answering {"finance": ...} or HTML) is not an unknown symbol.
NOT_FOUND = re.compile(r'HTTP 404: \s*\{\s*"chart"\s*:\s*\{.*"code"\s*:\s*"Not Found"', re.DOTALL)
NULL_ROW = "null row: Yahoo sent no prices for this timestamp"


class SymbolNotFoundError(ProviderError):
    """Yahoo has no data for the symbol ("No data found, symbol may be delisted")."""


def _unix(day: dt.date) -> int:
    """Midnight New York time of ``day`` as unix seconds (Yahoo's period1/period2)."""
    return int(calendar.session_midnight_utc(day).timestamp())


def yahoo_symbol(symbol: str) -> str:
    """Yahoo's ticker for one of ours: share classes take a hyphen (BRK.B -> BRK-B)."""
    return symbol.replace(".", "-")


class YahooTransport(JsonTransport):
    """:class:`JsonTransport` that reads Yahoo's ``chart.error`` and checks the body's shape."""

    def check_body(self, endpoint: str, body: Any) -> None:
        chart = body.get("chart") if isinstance(body, dict) else None
        if not isinstance(chart, dict):
            raise ProviderError(f"yahoo {endpoint}: unexpected body (no 'chart'): {str(body)[:200]}")
        error = chart.get("error")
        if error is not None:
            detail = error if isinstance(error, dict) else {"description": error}
            message = f"yahoo {endpoint}: {detail.get('code')}: {detail.get('description')}"
            if detail.get("code") == "Not Found":
                raise SymbolNotFoundError(message)
            raise ProviderError(message)
        result = chart.get("result")
        if not isinstance(result, list) or not result or not isinstance(result[0], dict):
            raise ProviderError(f"yahoo {endpoint}: no chart result and no error: {str(body)[:200]}")


def _rows_of(body: Any) -> int:
    try:
        return len(body["chart"]["result"][0].get("timestamp") or [])
    except (KeyError, IndexError, TypeError, AttributeError):
        return 0


# ------------------------------------------------------------------ parsing


def _floats(values: Any, length: int, what: str) -> np.ndarray:
    """A quote array as float64 (null -> NaN); missing entirely -> all NaN; wrong length -> error."""
    if values is None:
        return np.full(length, np.nan)
    if not isinstance(values, list) or len(values) != length:
        size = len(values) if isinstance(values, list) else type(values).__name__
        raise ProviderError(f"yahoo {what}: holds {size} values for {length} timestamps (malformed body)")
    try:
        return np.array(values, dtype="float64")
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(dtype="float64")


def _new_york_dates(seconds: np.ndarray) -> np.ndarray:
    """The New York date of unix instants, as datetime64[D]."""
    local = pd.to_datetime(seconds, unit="s", utc=True).tz_convert(calendar.NEW_YORK).tz_localize(None)
    return np.asarray(local.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"))


@dataclasses.dataclass(frozen=True)
class Event:
    """One split or dividend as Yahoo listed it (``raw`` kept for rejects)."""

    day: dt.date | None  # the ex-date in New York
    value: float  # the split ratio (numerator / denominator) or the dividend amount; NaN if unusable
    raw: dict[str, Any]


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return number if np.isfinite(number) else float("nan")


def _events(symbol: str, events: Any, kind: str) -> list[Event]:
    listed = events.get(kind) if isinstance(events, dict) else None
    if not isinstance(listed, dict):
        return []
    found = []
    for key, item in listed.items():
        raw = item if isinstance(item, dict) else {"value": item}
        stamp = _number(raw.get("date", key))
        day = None if np.isnan(stamp) else _new_york_dates(np.array([int(stamp)]))[0].astype(dt.date)
        if kind == "splits":
            numerator, denominator = _number(raw.get("numerator")), _number(raw.get("denominator"))
            value = numerator / denominator if numerator > 0 and denominator > 0 else float("nan")
        else:
            amount = _number(raw.get("amount"))
            value = amount if amount > 0 else float("nan")
        found.append(Event(day, value, {"symbol": symbol, "key": key, **raw}))
    return sorted(found, key=lambda e: (e.day or dt.date.min, e.raw["key"]))


@dataclasses.dataclass(frozen=True)
class Chart:
    """One chart response, parsed: unix timestamps, quote arrays (float64), events, currency."""

    symbol: str
    timestamps: np.ndarray
    quote: dict[str, np.ndarray]
    raw_quote: dict[str, list[Any] | None]
    splits: list[Event]
    dividends: list[Event]
    currency: str

    @classmethod
    def parse(cls, symbol: str, body: dict[str, Any]) -> "Chart":
        result = body["chart"]["result"][0]
        stamps = result.get("timestamp") or []
        what = f"chart {symbol}"
        try:
            timestamps = np.array(stamps, dtype="int64")
        except (TypeError, ValueError):
            raise ProviderError(f"yahoo {what}: unparseable timestamps") from None
        indicators = result.get("indicators") or {}
        quotes = indicators.get("quote") or [{}]
        quote_body = quotes[0] if isinstance(quotes[0], dict) else {}
        raw_quote = {key: quote_body.get(key) for key in QUOTE_KEYS}
        quote = {key: _floats(raw_quote[key], len(timestamps), f"{what} {key}") for key in QUOTE_KEYS}
        meta = result.get("meta") or {}
        events = result.get("events")
        return cls(
            symbol=symbol,
            timestamps=timestamps,
            quote=quote,
            raw_quote=raw_quote,
            splits=_events(symbol, events, "splits"),
            dividends=_events(symbol, events, "dividends"),
            currency=str(meta.get("currency") or "USD"),
        )

    def raw_record(self, index: int) -> dict[str, Any]:
        record: dict[str, Any] = {"symbol": self.symbol, "timestamp": int(self.timestamps[index])}
        for key, values in self.raw_quote.items():
            record[key] = values[index] if isinstance(values, list) else None
        return record


def _split_factors(
    splits: Sequence[Event], dates: np.ndarray
) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
    """Per row, the product of the ratios of the splits after its date (raw = Yahoo x factor), and
    the rows a split with an unusable ratio leaves unrecoverable (with the reason)."""
    factor = np.ones(len(dates))
    problems = []
    for split in splits:
        if split.day is None:
            problems.append(
                (np.ones(len(dates), dtype=bool), f"cannot undo a split without a date: {split.raw}")
            )
            continue
        before = dates < np.datetime64(split.day, "D")
        if np.isnan(split.value):
            problems.append((before, f"cannot undo the split of {split.day}: unusable ratio"))
        else:
            factor[before] *= split.value
    return factor, problems


def round_significant(values: np.ndarray, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (NaN and 0 kept)."""
    result = np.array(values, dtype="float64")
    finite = np.isfinite(result) & (result != 0)
    if not finite.any():
        return result
    x = result[finite]
    decimals = digits - 1 - np.floor(np.log10(np.abs(x))).astype("int64")
    up = decimals >= 0
    scaled = np.empty_like(x)
    # Dividing a whole number by an exact power of ten gives the double nearest the decimal.
    scaled[up] = np.round(x[up] * 10.0 ** decimals[up]) / 10.0 ** decimals[up]
    scaled[~up] = np.round(x[~up] / 10.0 ** -decimals[~up]) * 10.0 ** -decimals[~up]
    result[finite] = scaled
    return result


class _Records(Sequence[dict[str, Any]]):
    """Raw records built on demand (only rejected rows are ever looked at)."""

    def __init__(self, make: Callable[[int], dict[str, Any]], length: int) -> None:
        self._make = make
        self._length = length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._make(i) for i in range(self._length)[index]]
        return self._make(range(self._length)[index])


def _join(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.array(
        [f"{a}; {b}" if a and b else a or b for a, b in zip(first, second, strict=True)], dtype=object
    )


def _chart_rows(
    chart: Chart, splits: Sequence[Event], start: dt.date, end: dt.date, daily: bool
) -> dict[str, np.ndarray] | None:
    """The rows of one chart dated in [start, end], splits undone, with their own reasons."""
    dates = _new_york_dates(chart.timestamps)
    keep = np.flatnonzero((dates >= np.datetime64(start, "D")) & (dates <= np.datetime64(end, "D")))
    if len(keep) == 0:
        return None
    dates = dates[keep]
    seconds = chart.timestamps[keep]
    reasons = np.full(len(keep), "", dtype=object)
    days = np.unique(dates)
    day_list: list[dt.date] = [d.astype(dt.date) for d in days]
    position = np.searchsorted(days, dates)
    is_session = np.array([calendar.is_session(d) for d in day_list])[position]
    reasons[~is_session] = "not an NYSE session"
    if daily:
        stamps = np.array([_unix(d) for d in day_list], dtype="int64")[position]
    else:
        stamps = seconds
        hours = [calendar.session_open_close(d) if calendar.is_session(d) else None for d in day_list]
        opens = np.array([h[0].timestamp() if h else 0 for h in hours])[position]
        closes = np.array([h[1].timestamp() if h else 0 for h in hours])[position]
        outside = is_session & ~((seconds >= opens) & (seconds < closes))
        reasons[outside] = "outside the regular session (pre- or post-market)"
    factor, problems = _split_factors(splits, dates)
    for mask, reason in problems:
        reasons[mask & (reasons == "")] = reason
    prices = {key: round_significant(chart.quote[key][keep] * factor) for key in PRICES}
    null = np.all([np.isnan(chart.quote[key][keep]) for key in PRICES], axis=0)
    reasons[null] = NULL_ROW
    return {
        "ts": stamps,
        **prices,
        "volume": np.round(chart.quote["volume"][keep] / factor),
        "reasons": reasons,
        "row": keep,
    }


def parse_bars(
    charts: Sequence[tuple[Chart, Sequence[Event]]], start: dt.date, end: dt.date, daily: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bars of the charts dated in [start, end] (each with the splits to undo) plus rejects."""
    pieces = []
    owners: list[Chart] = []
    for chart, splits in charts:
        rows = _chart_rows(chart, splits, start, end, daily)
        if rows is not None:
            rows["owner"] = np.full(len(rows["ts"]), len(owners))
            owners.append(chart)
            pieces.append(rows)
    if not pieces:
        return empty_frame(BAR_COLUMNS), EMPTY_REJECTS
    columns = {key: np.concatenate([piece[key] for piece in pieces]) for key in pieces[0]}
    frame = pd.DataFrame(
        {
            "symbol": pd.array(
                np.concatenate([[owners[i].symbol] * len(p["ts"]) for i, p in enumerate(pieces)]),
                dtype="string",
            ),
            "ts": pd.to_datetime(columns["ts"], unit="s", utc=True).as_unit("us"),
            **{key: columns[key] for key in (*PRICES, "volume")},
            "vwap": np.nan,
            "trade_count": pd.array([pd.NA] * len(columns["ts"]), dtype="Int64"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    own = columns["reasons"]
    problems = bar_problems(frame)
    # A null row is one fact, not four missing prices.
    problems[own == NULL_ROW] = ""
    reasons = _join(own, problems)
    records = _Records(
        lambda i: owners[int(columns["owner"][i])].raw_record(int(columns["row"][i])), len(frame)
    )
    valid, rejects = split_rejects(frame, reasons, records)
    return conform(valid, BAR_COLUMNS), rejects


def resample_to_clock_hours(frame: pd.DataFrame) -> pd.DataFrame:
    """5-minute bars to clock-hour bars (New York and UTC hours coincide): the 9:00 bar is 9:30-10:00."""
    if frame.empty:
        return frame
    ordered = frame.sort_values(["symbol", "ts"], kind="stable")
    hours = ordered.assign(hour=ordered["ts"].dt.floor("1h")).groupby(["symbol", "hour"], sort=False)
    bars = hours.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
    ).reset_index()
    bars = bars.rename(columns={"hour": "ts"}).assign(
        vwap=np.nan,
        trade_count=pd.array([pd.NA] * len(bars), dtype="Int64"),
        source=SOURCE,
        ingested_at=ingest_time(),
    )
    return conform(bars, BAR_COLUMNS)


def _window_requests(wanted: Sequence[dt.date], max_seconds: int | None) -> list[tuple[int, int]]:
    """(period1, period2) pairs covering the sessions, each at most ``max_seconds`` long."""
    windows: list[tuple[int, int]] = []
    first = wanted[0]
    last = wanted[0]
    for session in wanted[1:]:
        if max_seconds is not None and _unix(session + DAY) - _unix(first) > max_seconds:
            windows.append((_unix(first), _unix(last + DAY)))
            first = session
        last = session
    windows.append((_unix(first), _unix(last + DAY)))
    return windows


def _unknown_reject(symbol: str, error: ProviderError) -> tuple[dict[str, Any], str]:
    return (
        {"symbol": symbol, "error": str(error)[:300]},
        "yahoo has no data for this symbol (unknown or delisted): no rows",
    )


# ------------------------------------------------------------------ provider


class YahooProvider:
    """Daily and (recent) intraday bars and corporate actions from Yahoo's chart endpoint, raw prices.

    Args:
        base_url: ``YAHOO_BASE_URL`` (``https://query2.finance.yahoo.com`` by default).
        spec: Limits, timeouts and retries from ``providers.yaml``.
        limiter: The shared request limiter.
        sleep: Retry waits (injected by tests).
        today: New York's today, for the intraday windows and the split look-ahead (tests pin it).
    """

    name = SOURCE
    grouped_daily = False

    def __init__(
        self,
        base_url: str,
        spec: ProviderSpec,
        limiter: RequestLimiter,
        sleep: Callable[[float], None] = time.sleep,
        *,
        today: Callable[[], dt.date] = calendar.new_york_today,
    ) -> None:
        self._spec = spec
        self._today = today
        self._transport = YahooTransport(
            SOURCE,
            base_url,
            spec,
            RequestGovernor(SOURCE, spec, limiter, sleep),
            headers={"User-Agent": CLIENT_USER_AGENT},
            key_variables=None,  # no key: a 401/403 is Yahoo turning the client away (unavailable)
            rows_of=_rows_of,
        )

    def __repr__(self) -> str:
        return f"YahooProvider({self._transport!r})"

    # ---------------------------------------------------------------- requests

    def _chart(self, symbol: str, interval: str, period1: int, period2: int) -> tuple[Chart, ProviderCall]:
        params = {
            "period1": period1,
            "period2": period2,
            "interval": interval,
            "events": "div,splits",
            "includePrePost": "false",
        }
        try:
            # Yahoo spells share classes with a hyphen (BRK-B); rows keep our symbol (BRK.B).
            page = self._transport.get(
                CHART, CHART.format(symbol=quote(yahoo_symbol(symbol), safe="")), params
            )
        except SymbolNotFoundError:
            raise
        except ProviderError as exc:
            # classify_status raises a plain ProviderError for a 404; Yahoo's own "Not Found" body
            # marks an unknown symbol (a 404 without it, e.g. a wrong base URL, stays an error).
            if type(exc) is ProviderError and NOT_FOUND.search(str(exc)):
                raise SymbolNotFoundError(str(exc)) from None
            raise
        return Chart.parse(symbol, page.body), page.call

    def _charts(
        self, symbols: Sequence[str], interval: str, windows: Callable[[str], Iterator[tuple[int, int]]]
    ) -> tuple[dict[str, list[Chart]], list[ProviderCall], list[tuple[dict[str, Any], str]]]:
        """Per symbol, the charts of its windows; a symbol Yahoo does not know becomes a reject."""
        charts: dict[str, list[Chart]] = {}
        calls: list[ProviderCall] = []
        unknown: list[tuple[dict[str, Any], str]] = []
        for symbol in dict.fromkeys(symbols):
            try:
                for period1, period2 in windows(symbol):
                    chart, call = self._chart(symbol, interval, period1, period2)
                    calls.append(call)
                    charts.setdefault(symbol, []).append(chart)
            except SymbolNotFoundError as exc:
                log.warning("yahoo has no data for %s: %s", symbol, exc)
                calls.append(ProviderCall(CHART, 404, 0.0, 0, SOURCE))
                charts.pop(symbol, None)
                unknown.append(_unknown_reject(symbol, exc))
        return charts, calls, unknown

    # -------------------------------------------------------------------- bars

    def grouped_daily_bars(self, session: dt.date, symbols: Sequence[str]) -> ProviderResult:
        """Daily bars of one session: one chart request per symbol (Yahoo has no grouped endpoint)."""
        return self._daily(symbols, session, session)

    def bars(
        self,
        symbols: Sequence[str],
        dataset: Dataset,
        start: dt.date,
        end: dt.date,
        since: dt.datetime | None = None,
    ) -> ProviderResult:
        """Bars of ``dataset`` over the sessions ``start``..``end``, raw prices (see the module).

        ``since`` is not narrowed: a chart request is one per symbol and window either way.

        Raises:
            NotServedError: intraday bars starting before the interval's window (nothing requested).
        """
        dataset = Dataset(dataset)
        if dataset == Dataset.BARS_1DAY:
            return self._daily(symbols, start, end)
        if dataset not in WINDOW_DAYS:
            raise NotServedError(f"yahoo does not serve {dataset.value}")
        return self._intraday(symbols, dataset, start, end)

    def _daily(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> ProviderResult:
        wanted = calendar.sessions(start, end)
        if not wanted or not symbols:
            return ProviderResult(frame=empty_frame(BAR_COLUMNS))
        # Through today: Yahoo's prices carry every later split, and only a range reaching today
        # lists them all.
        period = (_unix(wanted[0]), _unix(max(wanted[-1], self._today()) + DAY))
        charts, calls, unknown = self._charts(symbols, "1d", lambda _: iter([period]))
        pairs = [(chart, chart.splits) for found in charts.values() for chart in found]
        frame, rejects = parse_bars(pairs, start, end, daily=True)
        return self._result(frame, rejects, calls, unknown)

    def _intraday(
        self, symbols: Sequence[str], dataset: Dataset, start: dt.date, end: dt.date
    ) -> ProviderResult:
        today = self._today()
        window = WINDOW_DAYS[dataset]
        earliest = today - dt.timedelta(days=window - 1)
        if start < earliest:
            raise NotServedError(
                f"yahoo serves {dataset.value} only within the last {window} days "
                f"(from {earliest}, today {today} in New York); requested from {start}"
            )
        wanted = calendar.sessions(start, min(end, today))
        if not wanted or not symbols:
            return ProviderResult(frame=empty_frame(BAR_COLUMNS))
        probe = (_unix(wanted[0]), _unix(today + DAY))
        # The split probe: a daily range through today lists every split the intraday prices carry.
        probes, calls, unknown = self._charts(symbols, "1d", lambda _: iter([probe]))
        windows = _window_requests(wanted, MAX_REQUEST_SECONDS.get(dataset))
        charts, intraday_calls, missing = self._charts(
            list(probes), INTERVALS[dataset], lambda _: iter(windows)
        )
        pairs: list[tuple[Chart, Sequence[Event]]] = []
        for symbol, found in charts.items():
            splits = {e.day: e for chart in (*probes[symbol], *found) for e in chart.splits}
            pairs.extend((chart, list(splits.values())) for chart in found)
        frame, rejects = parse_bars(pairs, start, end, daily=False)
        if dataset == Dataset.BARS_1HOUR:
            frame = resample_to_clock_hours(frame)
            rejects = rejects.assign(reason="5-minute bar (for bars_1hour): " + rejects["reason"])
        return self._result(frame, rejects, [*calls, *intraday_calls], [*unknown, *missing])

    @staticmethod
    def _result(
        frame: pd.DataFrame,
        rejects: pd.DataFrame,
        calls: list[ProviderCall],
        unknown: list[tuple[dict[str, Any], str]],
    ) -> ProviderResult:
        if unknown:
            records, reasons = zip(*unknown, strict=True)
            rejects = pd.concat([rejects_frame(records, reasons), rejects], ignore_index=True)
        return ProviderResult(frame=frame, rejects=rejects, calls=tuple(calls))

    # -------------------------------------------------------------------- news

    def news(self, symbols: Sequence[str], start: dt.datetime, end: dt.datetime) -> ProviderResult:
        raise NotServedError("yahoo does not serve news")

    # ------------------------------------------------------- corporate actions

    def corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> ProviderResult:
        """Splits and dividends with an ex-date in ``start``..``end`` from the chart's events.

        Requested through today so that every later split is known: Yahoo's dividend amounts are
        split-adjusted like its prices, and are stored raw (amount x ratios of the later splits).
        """
        today = self._today()
        if not symbols or start > end or start > today:
            return ProviderResult(frame=empty_frame(CORPORATE_ACTION_COLUMNS))
        period = (_unix(start), _unix(max(end, today) + DAY))
        charts, calls, unknown = self._charts(symbols, "1d", lambda _: iter([period]))
        rows: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        reasons: list[str] = []
        for found in charts.values():
            for chart in found:
                for row, record, reason in _actions(chart, start, end):
                    if reason:
                        records.append(record)
                        reasons.append(reason)
                    else:
                        rows.append(row)
        frame = pd.DataFrame(rows, columns=list(CORPORATE_ACTION_COLUMNS)[:-2]).assign(
            source=SOURCE, ingested_at=ingest_time()
        )
        frame = frame.sort_values(["symbol", "ex_date", "action_type"], kind="stable")
        return self._result(
            conform(frame, CORPORATE_ACTION_COLUMNS), rejects_frame(records, reasons), calls, unknown
        )


def _actions(
    chart: Chart, start: dt.date, end: dt.date
) -> Iterator[tuple[dict[str, Any], dict[str, Any], str]]:
    """(row, raw record, reject reason or '') of each event of ``chart`` dated in [start, end]."""
    base = {"symbol": chart.symbol, "declaration_date": None, "record_date": None, "pay_date": None}
    for kind, events in (("split", chart.splits), ("dividend", chart.dividends)):
        for event in events:
            if event.day is not None and not start <= event.day <= end:
                continue
            reasons = []
            if event.day is None:
                reasons.append("missing or unparseable date")
            if np.isnan(event.value):
                reasons.append(
                    "numerator/denominator must be positive" if kind == "split" else "amount must be positive"
                )
            row: dict[str, Any] = {
                **base,
                "action_type": kind,
                "ex_date": event.day,
                "id": f"yahoo-{kind}-{chart.symbol}-{event.day}",
            }
            if kind == "split":
                row |= {
                    "split_from": _number(event.raw.get("denominator")),
                    "split_to": _number(event.raw.get("numerator")),
                    "cash_amount": np.nan,
                    "currency": None,
                }
            else:
                factor = 1.0
                for split in chart.splits:
                    if event.day is not None and (split.day is None or split.day > event.day):
                        if np.isnan(split.value):
                            reasons.append(f"cannot undo the split of {split.day}: unusable ratio")
                        factor *= split.value
                amount = float(round_significant(np.array([event.value * factor]))[0])
                row |= {
                    "split_from": np.nan,
                    "split_to": np.nan,
                    "cash_amount": amount,
                    "currency": chart.currency,
                }
            yield row, event.raw, "; ".join(reasons)
