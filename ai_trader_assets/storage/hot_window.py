"""Hot follows the window: when a symbol's hot window grows (a promotion, a longer ``hot_days``), the
rows cold storage already holds for the sessions the window now covers are copied into hot storage,
with no provider request.

Hot storage holds a symbol's most recent sessions, contiguous up to today (retention trims the old
end, ingestion adds the new one), so what a grown window lacks lies before the symbol's earliest hot
session: that is where :func:`ranges_to_warm` looks, and :func:`copy_to_hot` copies from.
"""

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.datasets.news import NEWS_SYMBOLS_TABLE, NEWS_TABLE
from ai_trader_assets.datasets.registry import sessions_of, symbols_of, to_date
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.lake.tables import LakeTables

IN_CHUNK = 500  # symbols per IN (...) list


@dataclasses.dataclass(frozen=True)
class WarmRange:
    """Sessions ``first``..``last`` of one symbol: inside its hot window, before its earliest hot row."""

    symbol: str
    first: dt.date
    last: dt.date


def earliest_hot_sessions(
    database: MarketDatabase, dataset: Dataset, symbols: Sequence[str]
) -> dict[str, dt.date]:
    """The session of each symbol's oldest hot row (symbols without hot rows are absent)."""
    spec = SPECS[dataset]
    found: dict[str, object] = {}
    with database.begin() as conn:
        for start in range(0, len(symbols), IN_CHUNK):
            chunk = list(symbols[start : start + IN_CHUNK])
            if dataset == Dataset.NEWS:
                links, news = NEWS_SYMBOLS_TABLE, NEWS_TABLE
                query = (
                    sa.select(links.c.symbol, sa.func.min(news.c.published_utc))
                    .select_from(links.join(news, links.c.news_id == news.c.id))
                    .where(links.c.symbol.in_(chunk))
                    .group_by(links.c.symbol)
                )
            else:
                time = spec.table.c[spec.time_column]
                query = (
                    sa.select(spec.table.c.symbol, sa.func.min(time))
                    .where(spec.table.c.symbol.in_(chunk))
                    .group_by(spec.table.c.symbol)
                )
            found.update({str(row[0]): row[1] for row in conn.execute(query)})
    if not found:
        return {}
    values = list(found.values())
    if dataset == Dataset.CORPORATE_ACTIONS:  # dates (text on SQLite)
        times: object = [v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)) for v in values]
    else:  # UTC times (naive on SQLite)
        parsed = pd.to_datetime(pd.Series(values))
        times = parsed.dt.tz_localize("UTC") if parsed.dt.tz is None else parsed.dt.tz_convert("UTC")
    frame = pd.DataFrame({spec.time_column: times, "symbol": list(found)})
    sessions = sessions_of(dataset, frame)
    return {symbol: to_date(session) for symbol, session in zip(found, sessions, strict=True)}


def ranges_to_warm(
    database: MarketDatabase, dataset: Dataset, windows: Mapping[str, tuple[dt.date, dt.date]]
) -> list[WarmRange]:
    """For each symbol's wanted hot sessions ``(first, last)``, the part before its earliest hot row."""
    earliest = earliest_hot_sessions(database, dataset, sorted(windows))
    ranges = []
    for symbol, (first, last) in sorted(windows.items()):
        oldest_hot = earliest.get(symbol)
        end = last if oldest_hot is None else min(last, calendar.previous_session(oldest_hot))
        if first <= end:
            ranges.append(WarmRange(symbol, first, end))
    return ranges


def copy_to_hot(
    database: MarketDatabase,
    tables: LakeTables,
    dataset: Dataset,
    ranges: Sequence[WarmRange],
    *,
    dry_run: bool = False,
) -> int:
    """Copy what cold holds for these ranges into hot storage (an idempotent upsert); returns the rows
    copied (a dry run only counts them)."""
    if not ranges:
        return 0
    first, last = min(r.first for r in ranges), max(r.last for r in ranges)
    by_symbol = {r.symbol: r for r in ranges}
    news = dataset == Dataset.NEWS
    rows = tables.frame(
        dataset, extra=["session"], start=first, end=last, symbols=None if news else sorted(by_symbol)
    )
    if rows.empty:
        return 0
    wanted = np.array(
        [
            any(
                (r := by_symbol.get(s)) is not None and r.first <= session <= r.last
                for s in (names if news else [names])
            )
            for names, session in zip(symbols_of(dataset, rows), rows["session"], strict=True)
        ],
        dtype=bool,
    )
    chosen = rows[wanted].drop(columns=["session"]).reset_index(drop=True)
    if chosen.empty or dry_run:
        return len(chosen)
    with database.begin() as conn:
        return HotStore(database).upsert(conn, dataset, chosen)
