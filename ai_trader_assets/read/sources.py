"""The two places a row can be: cold (the lake's Delta tables) and hot (the market database).

Every write stores cold first, then hot (:mod:`ai_trader_assets.storage.writer`), retention deletes a
hot row only once its cold copy is verified, and the hot window is warmed *from* cold: so cold holds
every stored row up to its newest one per symbol, and the only rows hot can hold that cold does not
are newer ones (a write whose hot part landed before its cold copy could be read, or a writer that
fills hot first). A read therefore takes a range from cold, pruned by symbol, layer and time, and
from hot only each symbol's *tail*: rows newer than the newest cold row of that symbol, found by one
index seek per symbol. Every key comes from exactly one of them.
"""

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTIONS_TABLE
from ai_trader_assets.datasets.news import NEWS_SYMBOLS_TABLE, NEWS_TABLE
from ai_trader_assets.datasets.registry import sessions_of
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import from_database
from ai_trader_assets.storage.lake.tables import LakeTables

IN_CHUNK = 500


def time_bounds(dataset: Dataset, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A UTC range ``[low, high)`` holding every row of sessions ``start``..``end`` (bars: exactly
    those; news: a little more, filtered by session afterwards)."""
    try:
        before = calendar.previous_session(start) + dt.timedelta(days=1)
    except calendar.CalendarError:
        before = start - dt.timedelta(days=7)
    if dataset == Dataset.NEWS:
        before -= dt.timedelta(days=1)  # after the previous close: that evening, New York time
    low = dt.datetime.combine(before, dt.time(), calendar.NEW_YORK).astimezone(dt.UTC)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), calendar.NEW_YORK).astimezone(dt.UTC)
    return low, high


class ColdSource:
    """Range reads of the Delta tables (latest, or pinned to a version or a time)."""

    def __init__(self, tables: LakeTables) -> None:
        self.tables = tables

    def read(
        self,
        dataset: Dataset,
        symbols: Sequence[str],
        start: dt.date,
        end: dt.date,
        *,
        layers: Sequence[int] | None,
        version: int | None = None,
        timestamp: dt.datetime | None = None,
    ) -> tuple[pl.DataFrame, int | None]:
        """The rows of sessions ``start``..``end`` naming the symbols (data columns plus ``session``),
        and the table version they were read from (None: the table was never written). The table is
        opened once: the version reported is the one read, even while writers commit."""
        table = self.tables.open(dataset, version=version, timestamp=timestamp)
        columns = [*SPECS[dataset].columns, "session"]
        rows = self.tables.scan_table(
            dataset, table, start=start, end=end, symbols=symbols, layers=layers, columns=columns
        )
        return rows, None if table is None else table.version()


class HotSource:
    """Reads of the market database's hot tables: per-symbol newest rows and tails."""

    def __init__(self, database: MarketDatabase) -> None:
        self.database = database

    def newest(
        self, dataset: Dataset, symbols: Sequence[str], low: dt.datetime, high: dt.datetime
    ) -> dict[str, pd.Timestamp]:
        """Each symbol's newest hot bar time in ``[low, high)`` (symbols without one are absent): one
        index seek per symbol on the ``(symbol, ts)`` key (a correlated ``MAX``; a ``GROUP BY`` would
        scan every row in range). Plain driver SQL: compiling a 500-row VALUES list through
        SQLAlchemy costs more than running it."""
        table = SPECS[dataset].table.name  # from our own specs: a whitelisted identifier
        sqlite = self.database.dialect == "sqlite"
        mark = self.database.placeholder
        bounds = [_driver_time(low, sqlite=sqlite), _driver_time(high, sqlite=sqlite)]
        found: dict[str, Any] = {}
        with self.database.begin() as conn:
            for start in range(0, len(symbols), IN_CHUNK):
                chunk = list(symbols[start : start + IN_CHUNK])
                values = ", ".join([f"({mark})"] * len(chunk))
                statement = (
                    f"WITH wanted(symbol) AS (VALUES {values}) "
                    f'SELECT wanted.symbol, (SELECT MAX(ts) FROM "{table}" AS bars '
                    f"WHERE bars.symbol = wanted.symbol AND bars.ts >= {mark} AND bars.ts < {mark}) "
                    "FROM wanted"
                )
                rows = conn.exec_driver_sql(statement, tuple([*chunk, *bounds])).fetchall()
                found.update({str(symbol): ts for symbol, ts in rows if ts is not None})
        if not found:
            return {}
        times = pd.to_datetime(pd.Series(list(found.values())), utc=True)  # SQLite: naive UTC text
        return dict(zip(found, times, strict=True))

    def newest_overall(self, dataset: Dataset, low: dt.datetime, high: dt.datetime) -> pd.Timestamp | None:
        """The newest hot bar time in ``[low, high)`` of any symbol (one seek on the ``ts`` index)."""
        table = SPECS[dataset].table.name  # from our own specs: a whitelisted identifier
        sqlite = self.database.dialect == "sqlite"
        mark = self.database.placeholder
        bounds = (_driver_time(low, sqlite=sqlite), _driver_time(high, sqlite=sqlite))
        statement = f'SELECT MAX(ts) FROM "{table}" WHERE ts >= {mark} AND ts < {mark}'
        with self.database.begin() as conn:
            newest = conn.exec_driver_sql(statement, bounds).scalar_one_or_none()
        return None if newest is None else _utc(newest)

    def closes_before(self, dividends: Sequence[tuple[str, dt.date]]) -> list[tuple[str, dt.date, float]]:
        """``(symbol, ex_date, close)`` of each (symbol, ex-date) whose symbol has a hot daily bar on
        the session before the ex-date: point lookups on the ``(symbol, ts)`` key."""
        sqlite = self.database.dialect == "sqlite"
        mark = self.database.placeholder
        wanted: dict[tuple[str, Any], dt.date] = {}
        for symbol, ex_date in dividends:
            try:
                before = calendar.previous_session(ex_date)
            except calendar.CalendarError:
                continue
            wanted[(symbol, _driver_time(calendar.session_midnight_utc(before), sqlite=sqlite))] = ex_date
        found = []
        pairs = list(wanted)
        with self.database.begin() as conn:
            for start in range(0, len(pairs), IN_CHUNK):
                chunk = pairs[start : start + IN_CHUNK]
                condition = " OR ".join([f"(symbol = {mark} AND ts = {mark})"] * len(chunk))
                statement = f"SELECT symbol, ts, close FROM bars_1day WHERE {condition}"
                rows = conn.exec_driver_sql(statement, tuple(v for pair in chunk for v in pair)).fetchall()
                by_symbol_time = {(str(r[0]), _utc(r[1])): float(r[2]) for r in rows}
                for symbol, moment in chunk:
                    close = by_symbol_time.get((symbol, _utc(moment)))
                    if close is not None:
                        found.append((symbol, wanted[(symbol, moment)], close))
        return found

    def bars_after(
        self,
        dataset: Dataset,
        after: Mapping[str, pd.Timestamp | None],
        high: dt.datetime,
        low: dt.datetime,
    ) -> pd.DataFrame:
        """Hot bars of each symbol newer than its ``after`` time (None: from ``low``), before ``high``."""
        table = SPECS[dataset].table
        by_bound: dict[Any, list[str]] = {}
        for symbol, bound in after.items():
            by_bound.setdefault(bound, []).append(symbol)
        frames = []
        with self.database.begin() as conn:
            for bound, symbols in by_bound.items():
                for start in range(0, len(symbols), IN_CHUNK):
                    query = sa.select(table).where(
                        table.c.symbol.in_(symbols[start : start + IN_CHUNK]),
                        table.c.ts > bound.to_pydatetime() if bound is not None else table.c.ts >= low,
                        table.c.ts < high,
                    )
                    frames.append(_frame(conn.execute(query), table))
        return _combined(frames, dataset)

    def news(
        self, symbols: Sequence[str], low: dt.datetime, high: dt.datetime, after: pd.Timestamp | None
    ) -> pd.DataFrame:
        """Hot articles naming any of the symbols, published in ``[low, high)`` and after ``after``."""
        news, links = NEWS_TABLE, NEWS_SYMBOLS_TABLE
        frames = []
        with self.database.begin() as conn:
            for start in range(0, len(symbols), IN_CHUNK):
                ids = (
                    sa.select(links.c.news_id)
                    .where(links.c.symbol.in_(list(symbols[start : start + IN_CHUNK])))
                    .scalar_subquery()
                )
                query = sa.select(news).where(
                    news.c.id.in_(ids),
                    news.c.published_utc > after.to_pydatetime() if after is not None else sa.true(),
                    news.c.published_utc >= low,
                    news.c.published_utc < high,
                )
                frames.append(_frame(conn.execute(query), news))
            frame = pd.concat(frames, ignore_index=True).drop_duplicates("id")
            named: dict[str, list[str]] = {}
            ids_found = frame["id"].tolist()
            for start in range(0, len(ids_found), IN_CHUNK):
                rows = conn.execute(
                    sa.select(links.c.news_id, links.c.symbol).where(
                        links.c.news_id.in_(ids_found[start : start + IN_CHUNK])
                    )
                )
                for news_id, symbol in rows:
                    named.setdefault(str(news_id), []).append(str(symbol))
        frame["symbols"] = [sorted(named.get(i, [])) for i in frame["id"]]
        return from_database(frame, Dataset.NEWS)

    def corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """Hot corporate actions of the symbols with an ex-date in ``start``..``end`` (plain driver
        SQL, as :meth:`newest`: every adjusted read asks, mostly for a layer's symbols)."""
        names = [c.name for c in CORPORATE_ACTIONS_TABLE.columns]  # our own table: whitelisted
        sqlite = self.database.dialect == "sqlite"
        mark = self.database.placeholder
        # SQLite keeps dates as ISO text; its driver's own date adapter is deprecated.
        bounds = (start.isoformat(), end.isoformat()) if sqlite else (start, end)
        found: list[Any] = []
        with self.database.begin() as conn:
            for first in range(0, len(symbols), IN_CHUNK):
                chunk = tuple(symbols[first : first + IN_CHUNK])
                marks = ", ".join([mark] * len(chunk))
                statement = (
                    f"SELECT {', '.join(names)} FROM {CORPORATE_ACTIONS_TABLE.name} "
                    f"WHERE symbol IN ({marks}) AND ex_date BETWEEN {mark} AND {mark}"
                )
                found.extend(conn.exec_driver_sql(statement, (*chunk, *bounds)).fetchall())
        if not found:
            return _empty(Dataset.CORPORATE_ACTIONS).copy()
        return from_database(pd.DataFrame(found, columns=names), Dataset.CORPORATE_ACTIONS)


def _driver_time(moment: dt.datetime, *, sqlite: bool) -> Any:
    """A UTC time as the driver binds it: SQLite keeps SQLAlchemy's naive UTC text."""
    if sqlite:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def _frame(result: sa.CursorResult[Any], table: sa.Table) -> pd.DataFrame:
    return pd.DataFrame(result.all(), columns=[c.name for c in table.columns])


@functools.cache
def _empty(dataset: Dataset) -> pd.DataFrame:
    return SPECS[dataset].empty()


def _combined(frames: list[pd.DataFrame], dataset: Dataset) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _empty(dataset).copy()  # building an empty typed frame costs ~5 ms
    return from_database(pd.concat(frames, ignore_index=True), dataset)


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)  # SQLite hands back naive UTC text or datetimes
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def in_sessions(dataset: Dataset, frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The rows whose session lies in ``start``..``end``."""
    if frame.empty:
        return frame
    sessions = sessions_of(dataset, frame)
    keep = (sessions >= np.datetime64(start, "D")) & (sessions <= np.datetime64(end, "D"))
    return frame[keep].reset_index(drop=True)


def newest_per_symbol(rows: pl.DataFrame, symbols: Sequence[str]) -> dict[str, pd.Timestamp]:
    """The newest bar time of each of ``symbols`` in cold rows."""
    if rows.is_empty():
        return {}
    if len(symbols) == 1:
        newest = rows.filter(pl.col("symbol") == symbols[0])["ts"].max()
        return {} if newest is None else {symbols[0]: pd.Timestamp(newest)}
    grouped = rows.filter(pl.col("symbol").is_in(list(symbols))).group_by("symbol").agg(pl.col("ts").max())
    return {str(symbol): pd.Timestamp(ts) for symbol, ts in grouped.iter_rows()}
