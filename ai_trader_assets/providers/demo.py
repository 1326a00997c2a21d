"""The ``demo`` provider: deterministic synthetic market data, no network.

The same symbol and session give the same rows in any process: all randomness comes from a
counter-based hash (splitmix64) of (symbol, session, stream, index), never from global state.
Every interval derives from one set of 1-minute bars per session, so 5-minute, hourly and daily
bars aggregate them exactly. Prices follow a smooth symbol-specific path with daily noise, splits
divide raw prices (the matching jump), some symbols pay quarterly dividends, volume is U-shaped
within the day, early closes have fewer bars and holidays none.
"""

import datetime as dt
import functools
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.config import DEFAULT_CONFIG_DIR
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import BAR_COLUMNS
from ai_trader_assets.datasets.companies import read_companies_csv
from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTION_COLUMNS
from ai_trader_assets.datasets.frames import conform, empty_frame, repeated_strings
from ai_trader_assets.datasets.news import NEWS_COLUMNS, NEWS_SYMBOL_COLUMNS
from ai_trader_assets.datasets.ticks import TICK_COLUMNS, session_bounds_ns
from ai_trader_assets.providers.base import ProviderCall, ProviderResult
from ai_trader_assets.providers.demo_bars import (
    SHARES_PER_TRADE,
    adjusted_close,
    bar_frame,
    raw_price,
    session_bars,
    session_columns,
    splits,
)
from ai_trader_assets.providers.demo_random import key as _key
from ai_trader_assets.providers.demo_random import uniform as _uniform
from ai_trader_assets.providers.demo_random import unit as _unit
from ai_trader_assets.providers.demo_trades import symbol_trades

DEMO_UNIVERSE = DEFAULT_CONFIG_DIR / "demo_universe.csv"
SOURCE = "demo"
HEADLINES = (
    "beats quarterly estimates",
    "announces share buyback",
    "shares slide after guidance cut",
    "names new chief financial officer",
    "wins multi-year supply contract",
    "faces regulatory inquiry",
)
PUBLISHERS = ("Demo Wire", "Synthetic Street Journal", "Example Markets Daily")


class DemoProvider:
    """Deterministic synthetic data behind the provider interface.

    Like a live feed, it knows nothing after ``clock()`` (the platform's now: AI_TRADER_AS_OF when
    it carries a time): a trading session's bars run up to the one still forming, whose values are
    the finished bar's (so only a caller that drops it stays right); its daily bar and its later news
    do not exist yet.
    """

    name = SOURCE
    grouped_daily = True

    def __init__(
        self, clock: Callable[[], dt.datetime] | None = None, shares_per_trade: int = SHARES_PER_TRADE
    ) -> None:
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.shares_per_trade = shares_per_trade

    def __repr__(self) -> str:
        return "DemoProvider()"

    def grouped_daily_bars(self, session: dt.date, symbols: Sequence[str]) -> ProviderResult:
        return self._bars(
            symbols, Dataset.BARS_1DAY, [session] if calendar.is_session(session) else [], "demo:grouped"
        )

    def bars(
        self,
        symbols: Sequence[str],
        dataset: Dataset,
        start: dt.date,
        end: dt.date,
        since: dt.datetime | None = None,
    ) -> ProviderResult:
        return self._bars(symbols, Dataset(dataset), calendar.sessions(start, end), "demo:aggregates", since)

    def _bars(
        self,
        symbols: Sequence[str],
        dataset: Dataset,
        sessions: list[dt.date],
        endpoint: str,
        since: dt.datetime | None = None,
    ) -> ProviderResult:
        started = time.perf_counter()
        now = self._clock()
        parts = []
        for session in sessions if symbols else []:
            opened, closed = calendar.session_open_close(session)
            if opened > now or (dataset == Dataset.BARS_1DAY and closed > now):
                continue  # not traded yet, or the day's bar is not over
            part = session_columns(symbols, session, dataset, self.shares_per_trade)
            if closed > now:
                formed = part["ts"] <= np.datetime64(now.astimezone(dt.UTC).replace(tzinfo=None), "us")
                part = {name: values[formed] for name, values in part.items()}
            parts.append(part)
        frame = bar_frame(symbols, parts) if parts else empty_frame(BAR_COLUMNS)
        if since is not None:
            frame = frame[frame["ts"] >= since].reset_index(drop=True)
        frame["source"] = repeated_strings([SOURCE], np.zeros(len(frame), dtype=np.int64))
        frame["ingested_at"] = pd.Timestamp.now(tz="UTC").as_unit("us")
        frame = conform(frame, BAR_COLUMNS)
        return ProviderResult(frame=frame, calls=(_call(endpoint, started, len(frame)),))

    def trades(
        self, symbols: Sequence[str], session: dt.date, since: dt.datetime | None = None
    ) -> ProviderResult:
        """The session's trades (:mod:`.demo_trades`), up to the platform's now, from ``since``."""
        started = time.perf_counter()
        frames = []
        now_ns = int(pd.Timestamp(self._clock()).as_unit("ns").value)
        start_ns = session_bounds_ns(session)[0]
        if since is not None:
            start_ns = max(start_ns, int(pd.Timestamp(since).as_unit("ns").value))
        if (
            calendar.is_session(session)
            and calendar.session_open_close(session)[0].timestamp() * 1e9 <= now_ns
        ):
            bars = session_bars(list(symbols), session, Dataset.BARS_1MIN, self.shares_per_trade)
            for symbol, rows in bars.groupby("symbol", sort=False):
                key = _key(symbol, session, "trades")
                random = functools.partial(_keyed_uniform, key)
                trades = symbol_trades(rows.reset_index(drop=True), str(symbol), session, random, SOURCE)
                sip = trades["sip_timestamp"].to_numpy()
                frames.append(trades[(sip >= start_ns) & (sip <= now_ns)])
        frame = pd.concat(frames, ignore_index=True) if frames else empty_frame(TICK_COLUMNS)
        return ProviderResult(frame=frame, calls=(_call("demo:trades", started, len(frame)),))

    def news(self, symbols: Sequence[str], start: dt.datetime, end: dt.datetime) -> ProviderResult:
        started = time.perf_counter()
        now = self._clock()
        rows, links = [], []
        day = start.astimezone(dt.UTC).date()
        while dt.datetime.combine(day, dt.time(), dt.UTC) < end:
            for symbol in symbols:
                for index in range((0, 0, 1, 2)[int(4 * _unit(symbol, "news", day))]):
                    published = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(
                        seconds=int(86_400 * _unit(symbol, "published", day, index))
                    )
                    if not start <= published < min(end, now):
                        continue
                    news_id = f"demo-{symbol}-{day.isoformat()}-{index}"
                    headline = HEADLINES[int(len(HEADLINES) * _unit(symbol, "headline", day, index))]
                    rows.append(
                        {
                            "id": news_id,
                            "published_utc": published,
                            "title": f"{symbol} {headline}",
                            "author": "Demo Desk",
                            "article_url": f"https://news.example.com/{news_id}",
                            "publisher": PUBLISHERS[index % len(PUBLISHERS)],
                            "description": f"Synthetic article about {symbol}.",
                        }
                    )
                    links.append({"news_id": news_id, "symbol": symbol})
            day += dt.timedelta(days=1)
        ingested = pd.Timestamp.now(tz="UTC").as_unit("us")
        frame = pd.DataFrame(rows, columns=list(NEWS_COLUMNS)[:7]).assign(source=SOURCE, ingested_at=ingested)
        frame["published_utc"] = pd.to_datetime(frame["published_utc"], utc=True)
        link_frame = pd.DataFrame(links, columns=list(NEWS_SYMBOL_COLUMNS))
        return ProviderResult(
            frame=conform(frame, NEWS_COLUMNS),
            calls=(_call("demo:news", started, len(frame)),),
            links=conform(link_frame, NEWS_SYMBOL_COLUMNS),
        )

    def listed_stocks(self) -> ProviderResult:
        """The demo universe (``config/demo_universe.csv``, the quickstart's companies) as listed
        common stocks: the same list every day, so a sync changes names and exchanges at most."""
        started = time.perf_counter()
        rows = read_companies_csv(DEMO_UNIVERSE)
        frame = pd.DataFrame(
            {
                "symbol": pd.array([r["symbol"] for r in rows], dtype="string"),
                "name": pd.array([r.get("name") or None for r in rows], dtype="string"),
                "exchange": pd.array([r.get("exchange") or None for r in rows], dtype="string"),
                "type": pd.array(["CS"] * len(rows), dtype="string"),
            }
        )
        return ProviderResult(frame=frame, calls=(_call("universe", started, len(frame)),))

    def ticker_changes(self, symbol: str) -> list[tuple[str, str, dt.date]]:
        """The demo universe has no renames."""
        return []

    def corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> ProviderResult:
        started = time.perf_counter()
        rows = []
        for symbol in symbols:
            for ex_date, ratio in splits(symbol, end):
                if ex_date >= start:
                    rows.append(_action(symbol, "split", ex_date, split_from=1.0, split_to=float(ratio)))
            if _unit(symbol, "pays-dividends") < 0.4:
                rows.extend(_dividends(symbol, start, end))
        frame = pd.DataFrame(rows, columns=list(CORPORATE_ACTION_COLUMNS)[:-2]).assign(
            source=SOURCE, ingested_at=pd.Timestamp.now(tz="UTC").as_unit("us")
        )
        return ProviderResult(
            frame=conform(frame, CORPORATE_ACTION_COLUMNS),
            calls=(_call("demo:corporate_actions", started, len(frame)),),
        )


def _dividends(symbol: str, start: dt.date, end: dt.date) -> list[dict[str, object]]:
    rows = []
    annual_yield = 0.01 + 0.03 * _unit(symbol, "yield")
    offset = int(15 * _unit(symbol, "dividend-day"))
    for year in range(start.year, end.year + 1):
        for month in (2, 5, 8, 11):
            ex_date = calendar.session_on_or_after(dt.date(year, month, 1 + offset))
            if start <= ex_date <= end:
                price = raw_price(symbol, ex_date, adjusted_close(symbol, ex_date))
                rows.append(
                    _action(
                        symbol,
                        "dividend",
                        ex_date,
                        cash_amount=round(price * annual_yield / 4, 4),
                        currency="USD",
                        declaration_date=ex_date - dt.timedelta(days=21),
                        record_date=ex_date + dt.timedelta(days=1),
                        pay_date=ex_date + dt.timedelta(days=14),
                    )
                )
    return rows


def _action(symbol: str, action_type: str, ex_date: dt.date, **values: object) -> dict[str, object]:
    return {
        "id": f"demo-{action_type}-{symbol}-{ex_date.isoformat()}",
        "symbol": symbol,
        "action_type": action_type,
        "ex_date": ex_date,
        "split_from": np.nan,
        "split_to": np.nan,
        "cash_amount": np.nan,
        "currency": None,
        "declaration_date": None,
        "record_date": None,
        "pay_date": None,
    } | values


def _keyed_uniform(key: int, count: int, stream: int) -> np.ndarray:
    return _uniform(np.array([key], dtype=np.uint64), count, stream)[0]


def _call(endpoint: str, started: float, rows: int) -> ProviderCall:
    return ProviderCall(
        endpoint=endpoint, status=200, latency_ms=(time.perf_counter() - started) * 1000, rows=rows
    )
