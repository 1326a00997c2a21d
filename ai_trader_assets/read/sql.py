"""``ai-trader sql``: DuckDB over one view per dataset, named like the dataset, hot and cold.

Each view is the Delta table, scanned lazily as an Arrow dataset (DuckDB pushes filters and
projections into it, so statistics prune files and row groups; no DuckDB extension is needed), plus
the hot rows cold does not hold yet: rows newer than anything the table holds (bars, news; the
log's statistics say how new) and, for the few corporate actions, hot ids the table lacks. Every key
once. Only the datasets a query names are opened.
"""

import datetime as dt
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.datasets.news import NEWS_SYMBOLS_TABLE, NEWS_TABLE
from ai_trader_assets.read.requests import ReadError
from ai_trader_assets.read.sources import HotSource
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import from_database
from ai_trader_assets.storage.lake.layout import LAYOUTS
from ai_trader_assets.storage.lake.tables import LakeTables

VIEWS = tuple(SPECS)  # one view per dataset of the registry
MEMORY_LIMIT = "1GB"  # DuckDB spills larger sorts and joins to its temporary directory


def run_sql(query: str, database: MarketDatabase, tables: LakeTables) -> pa.Table:
    """The query's result; a bad query or an unknown table is a :class:`ReadError` (one line)."""
    try:
        named = duckdb.get_table_names(query)
    except duckdb.Error as exc:
        raise ReadError(f"invalid SQL: {_first_line(exc)}") from None
    known = {d.value: d for d in VIEWS}
    unknown = sorted(n for n in named if n.lower() not in known)
    if unknown:
        raise ReadError(f"unknown dataset {', '.join(unknown)}: the views are {', '.join(known)}")
    connection = duckdb.connect()
    try:
        connection.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        for name in sorted({n.lower() for n in named}):
            _create_view(connection, known[name], database, tables)
        relation = connection.sql(query)  # None for a statement without rows
        return relation.to_arrow_table() if relation is not None else pa.table({})
    except duckdb.Error as exc:
        raise ReadError(f"query failed: {_first_line(exc)}") from None
    finally:
        connection.close()


def _create_view(
    connection: duckdb.DuckDBPyConnection, dataset: Dataset, database: MarketDatabase, tables: LakeTables
) -> None:
    layout = LAYOUTS[dataset]
    columns = [*SPECS[dataset].columns, "session"]
    table = tables.open(dataset)
    cold = table.to_pyarrow_dataset() if table is not None else layout.schema.empty_table()
    hot = _hot_rows(dataset, database, tables, table is not None)
    hot_table = layout.to_arrow(hot, 0).select(columns) if len(hot) else layout.schema.empty_table()
    connection.register(f"cold_{dataset.value}", cold)
    connection.register(f"hot_{dataset.value}", hot_table.select(columns))
    selected = ", ".join(f'"{c}"' for c in columns)
    newer = f'SELECT {selected} FROM "hot_{dataset.value}"'
    if "id" in SPECS[dataset].key:  # news times in the log are cut to milliseconds: check the ids
        newer += f' WHERE id NOT IN (SELECT id FROM "cold_{dataset.value}")'
    rows = f'SELECT {selected} FROM "cold_{dataset.value}" UNION ALL {newer}'
    if dataset == Dataset.TICKS:  # a trade's ts to the nanosecond (UTC), as MarketData.ticks gives it
        rows = f"SELECT * REPLACE (make_timestamp_ns(sip_timestamp) AS ts) FROM ({rows})"
    connection.execute(f'CREATE VIEW "{dataset.value}" AS {rows}')


def _hot_rows(dataset: Dataset, database: MarketDatabase, tables: LakeTables, has_cold: bool) -> pd.DataFrame:
    """The hot rows the view takes: newer than the table's newest row (every corporate action)."""
    spec = SPECS[dataset]
    newest = _newest(tables, dataset) if has_cold else None
    if dataset == Dataset.NEWS:
        low = newest or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        high = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
        everyone = _news_symbols(database, low)
        if not everyone:
            return spec.empty()
        return HotSource(database).news(everyone, low, high, newest)
    table = spec.table
    query = sa.select(table)
    if dataset != Dataset.CORPORATE_ACTIONS and newest is not None:
        query = query.where(table.c[spec.time_column] > newest)
    with database.begin() as conn:
        found = pd.DataFrame(conn.execute(query).all(), columns=[c.name for c in table.columns])
    return from_database(found, dataset) if len(found) else spec.empty()


def _news_symbols(database: MarketDatabase, after: dt.datetime) -> list[str]:
    news, links = NEWS_TABLE, NEWS_SYMBOLS_TABLE
    with database.begin() as conn:
        rows = conn.execute(
            sa.select(links.c.symbol)
            .select_from(links.join(news, links.c.news_id == news.c.id))
            .where(news.c.published_utc > after)
            .distinct()
        )
        return sorted(str(r[0]) for r in rows)


def _newest(tables: LakeTables, dataset: Dataset) -> Any:
    """The newest time any file of the table holds, from the log's statistics (no data read)."""
    table = tables.open(dataset)
    column = f"max.{SPECS[dataset].time_column}"
    if table is None:
        return None
    actions = pa.table(table.get_add_actions(flatten=True))
    if column not in actions.column_names or actions.num_rows == 0:
        return None
    values = [v for v in actions[column].to_pylist() if v is not None]
    if not values:
        return None
    newest = max(values)
    if isinstance(newest, dt.datetime) and newest.tzinfo is None:
        newest = newest.replace(tzinfo=dt.UTC)
    return newest


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
