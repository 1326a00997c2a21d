"""Hot storage: the recent rows of every dataset in the market database, upserted in bulk
(:mod:`.bulk`; on PostgreSQL a first fill is COPYed straight into the table). Writing the same rows
twice leaves the table as it was.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ai_trader_assets.datasets import BAR_DATASETS, SPECS, Dataset
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.datasets.news import NEWS_SYMBOLS_TABLE
from ai_trader_assets.storage.bulk import BulkUpsert
from ai_trader_assets.storage.database import MarketDatabase


class HotStore:
    """Bulk upserts, reads and deletes of hot rows.

    Args:
        database: The market database.
    """

    def __init__(self, database: MarketDatabase) -> None:
        self.database = database
        self.bulk = BulkUpsert()

    def upsert(self, conn: Connection, dataset: Dataset, frame: pd.DataFrame) -> int:
        """Insert or replace rows by key inside the caller's transaction; returns rows written."""
        if frame.empty:
            return 0
        spec = SPECS[dataset]
        columns = [c.name for c in spec.table.columns]
        rows = frame.drop(columns=["symbols"]) if dataset == Dataset.NEWS else frame
        # A first fill of these symbols' time range (a backfill, a new session) has nothing to replace:
        # COPY straight into the table. News also fill their symbol links, so they always upsert.
        direct = spec.bulk or dataset in BAR_DATASETS
        first = direct and conn.dialect.name == "postgresql" and self._first_fill(conn, dataset, rows)
        if first and self.bulk.copy(conn, spec.table.name, rows, columns):
            return len(rows)
        self.bulk.upsert(conn, spec.table, rows, columns, spec.key)
        if dataset == Dataset.NEWS:
            links = frame[["id", "symbols"]].explode("symbols").dropna()
            links = links.rename(columns={"id": "news_id", "symbols": "symbol"}).drop_duplicates()
            self.bulk.upsert(conn, NEWS_SYMBOLS_TABLE, links, ["news_id", "symbol"], ("news_id", "symbol"))
        return len(rows)

    @staticmethod
    def _first_fill(conn: Connection, dataset: Dataset, rows: pd.DataFrame) -> bool:
        """Whether hot storage holds no row of these symbols in the rows' time range (a first fill:
        nothing to replace)."""
        spec = SPECS[dataset]
        table, time = spec.table, spec.table.c[spec.time_column]
        symbols = sorted(set(rows["symbol"].astype(object)))
        low, high = rows[spec.time_column].min().to_pydatetime(), rows[spec.time_column].max().to_pydatetime()
        probe = (
            sa.select(sa.literal(1)).where(table.c.symbol.in_(symbols), time >= low, time <= high).limit(1)
        )
        return conn.execute(probe).first() is None

    def read(
        self,
        dataset: Dataset,
        *,
        symbols: Sequence[str] | None = None,
        start: dt.datetime | dt.date | None = None,
        end: dt.datetime | dt.date | None = None,
    ) -> pd.DataFrame:
        """Hot rows in the dataset's frame schema, time in [start, end), optionally for some symbols."""
        spec = SPECS[dataset]
        table = spec.table
        time = table.c[spec.time_column]
        query = sa.select(table)
        if symbols is not None and dataset != Dataset.NEWS:
            query = query.where(table.c.symbol.in_(list(symbols)))
        if start is not None:
            query = query.where(time >= _bound(start, dataset))
        if end is not None:
            query = query.where(time < _bound(end, dataset))
        with self.database.begin() as conn:
            rows = conn.execute(query).mappings().all()
            frame = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in table.columns])
            if dataset == Dataset.NEWS:
                links = conn.execute(
                    sa.select(NEWS_SYMBOLS_TABLE).where(
                        NEWS_SYMBOLS_TABLE.c.news_id.in_(frame["id"].tolist())
                    )
                ).all()
                named: dict[str, list[str]] = {}
                for link in links:
                    named.setdefault(str(link[0]), []).append(str(link[1]))
                frame["symbols"] = [sorted(named.get(i, [])) for i in frame["id"]]
                if symbols is not None:
                    wanted = set(symbols)
                    frame = frame[[bool(wanted & set(s)) for s in frame["symbols"]]]
        return from_database(frame, dataset)

    def symbols_before(self, dataset: Dataset, end: dt.date) -> list[str]:
        """The symbols with hot rows before ``end``."""
        spec = SPECS[dataset]
        table = spec.table
        query = sa.select(table.c.symbol).where(table.c[spec.time_column] < _bound(end, dataset)).distinct()
        with self.database.begin() as conn:
            found: list[Any] = list(conn.execute(query).scalars().all())
        return sorted(str(symbol) for symbol in found)

    def delete_sessions(self, conn: Connection, dataset: Dataset, rows: pd.DataFrame) -> int:
        """Delete whole symbol-sessions (every row of ``rows``' symbol-sessions), each by its time
        range; inside the caller's transaction. Raises when a range holds other rows than ``rows``
        (written since they were read): the transaction then rolls back and nothing is deleted."""
        spec = SPECS[dataset]
        table, time = spec.table, spec.table.c[spec.time_column]
        sessions = spec.sessions_of(rows)
        deleted = 0
        for (symbol, _), group in rows.groupby([rows["symbol"].astype(object), sessions], sort=True):
            low, high = group[spec.time_column].min(), group[spec.time_column].max()
            bounds = [_python_value(v, conn.dialect.name) for v in (low, high)]
            result = conn.execute(
                table.delete().where(table.c.symbol == symbol, time >= bounds[0], time <= bounds[1])
            )
            if result.rowcount != len(group):
                raise RuntimeError(
                    f"{dataset.value} {symbol}: {result.rowcount} hot rows in the range of {len(group)} "
                    "read for deletion (written meanwhile); nothing deleted"
                )
            deleted += int(result.rowcount)
        return deleted

    def delete_keys(self, conn: Connection, dataset: Dataset, keys: pd.DataFrame) -> int:
        """Delete rows by key (the dataset's key columns) inside the caller's transaction."""
        if keys.empty:
            return 0
        spec = SPECS[dataset]
        table = spec.table
        condition = sa.and_(*(table.c[k] == sa.bindparam(f"k_{k}") for k in spec.key))
        values = [
            {f"k_{k}": _python_value(row[k], conn.dialect.name) for k in spec.key}
            for row in keys[list(spec.key)].to_dict(orient="records")
        ]
        if dataset == Dataset.NEWS:
            conn.execute(
                NEWS_SYMBOLS_TABLE.delete().where(NEWS_SYMBOLS_TABLE.c.news_id == sa.bindparam("k_id")),
                values,
            )
        result = conn.execute(table.delete().where(condition), values)
        return int(result.rowcount)


def _bound(value: dt.datetime | dt.date, dataset: Dataset) -> Any:
    if dataset == Dataset.CORPORATE_ACTIONS:
        return value.date() if isinstance(value, dt.datetime) else value
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), dt.UTC)
    return value


def _python_value(value: Any, dialect: str) -> Any:
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and dialect == "sqlite":
        return value.astimezone(dt.UTC).replace(tzinfo=None)  # SQLite stores naive UTC text
    return value


def from_database(frame: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """Rows read back from SQL in the dataset's frame schema (SQLite hands back naive UTC)."""
    spec = SPECS[dataset]
    frame = frame.copy()
    for name, dtype in spec.columns.items():
        if isinstance(dtype, pd.DatetimeTZDtype) and name in frame:
            values = pd.to_datetime(frame[name])
            frame[name] = (values.dt.tz_localize("UTC") if values.dt.tz is None else values).astype(dtype)
        elif dtype == "object" and name in frame and name != "symbols":
            frame[name] = [
                v if v is None or isinstance(v, dt.date) else dt.date.fromisoformat(str(v))
                for v in frame[name]
            ]
    if "ingested_at" not in frame:
        frame["ingested_at"] = pd.NaT
    return conform(frame, spec.columns)


def from_naive_utc(values: pd.Series) -> pd.Series:
    """Times read back from SQL as tz-aware UTC (SQLite hands back naive UTC, PostgreSQL aware)."""
    times = pd.to_datetime(values)
    return (times.dt.tz_localize("UTC") if times.dt.tz is None else times.dt.tz_convert("UTC")).astype(
        pd.DatetimeTZDtype("us", "UTC")
    )
