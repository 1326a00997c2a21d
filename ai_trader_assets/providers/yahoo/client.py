"""The Yahoo provider: one chart request per symbol (per window for 1-minute bars) through
:class:`YahooTransport`, parsed by :mod:`.chart`."""

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import BAR_COLUMNS
from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTION_COLUMNS
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.validation import rejects_frame
from ai_trader_assets.providers.base import (
    NotServedError,
    ProviderCall,
    ProviderError,
    ProviderResult,
    ingest_time,
)
from ai_trader_assets.providers.http import USER_AGENT, JsonTransport, RequestGovernor
from ai_trader_assets.providers.yahoo.chart import (
    SOURCE,
    Chart,
    Event,
    number,
    parse_bars,
    resample_to_clock_hours,
    round_significant,
    unix_seconds,
)

log = logging.getLogger(__name__)
CHART = "/v8/finance/chart/{symbol}"
CLIENT_USER_AGENT = f"Mozilla/5.0 (compatible; {USER_AGENT})"
DAY = dt.timedelta(days=1)
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


class SymbolNotFoundError(ProviderError):
    """Yahoo has no data for the symbol ("No data found, symbol may be delisted")."""


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


def _window_requests(wanted: Sequence[dt.date], max_seconds: int | None) -> list[tuple[int, int]]:
    """(period1, period2) pairs covering the sessions, each at most ``max_seconds`` long."""
    windows: list[tuple[int, int]] = []
    first = wanted[0]
    last = wanted[0]
    for session in wanted[1:]:
        if max_seconds is not None and unix_seconds(session + DAY) - unix_seconds(first) > max_seconds:
            windows.append((unix_seconds(first), unix_seconds(last + DAY)))
            first = session
        last = session
    windows.append((unix_seconds(first), unix_seconds(last + DAY)))
    return windows


def _unknown_reject(symbol: str, error: ProviderError) -> tuple[dict[str, Any], str]:
    return (
        {"symbol": symbol, "error": str(error)[:300]},
        "yahoo has no data for this symbol (unknown or delisted): no rows",
    )


class YahooProvider:
    """Daily and (recent) intraday bars and corporate actions from Yahoo's chart endpoint, raw prices.

    Args:
        base_url: ``YAHOO_BASE_URL`` (``https://query2.finance.yahoo.com`` by default).
        governor: Limits, retries and timeouts (``providers.yaml``).
        today: New York's today, for the intraday windows and the split look-ahead (tests pin it).
    """

    name = SOURCE
    grouped_daily = False

    def __init__(
        self,
        base_url: str,
        governor: RequestGovernor,
        *,
        today: Callable[[], dt.date] = calendar.new_york_today,
    ) -> None:
        self._spec = governor.spec
        self._today = today
        self._transport = YahooTransport(
            base_url,
            governor,
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
        period = (unix_seconds(wanted[0]), unix_seconds(max(wanted[-1], self._today()) + DAY))
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
        probe = (unix_seconds(wanted[0]), unix_seconds(today + DAY))
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

    def trades(
        self, symbols: Sequence[str], session: dt.date, since: dt.datetime | None = None
    ) -> ProviderResult:
        raise NotServedError("yahoo does not serve trades")

    # ------------------------------------------------------- corporate actions

    def corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> ProviderResult:
        """Splits and dividends with an ex-date in ``start``..``end`` from the chart's events.

        Requested through today so that every later split is known: Yahoo's dividend amounts are
        split-adjusted like its prices, and are stored raw (amount x ratios of the later splits).
        """
        today = self._today()
        if not symbols or start > end or start > today:
            return ProviderResult(frame=empty_frame(CORPORATE_ACTION_COLUMNS))
        period = (unix_seconds(start), unix_seconds(max(end, today) + DAY))
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
                    "split_from": number(event.raw.get("denominator")),
                    "split_to": number(event.raw.get("numerator")),
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
