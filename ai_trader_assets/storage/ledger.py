"""Bookkeeping next to the data: what has been fetched (coverage) and what was rejected (quarantine)."""

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ai_trader_assets.datasets import Dataset
from ai_trader_assets.storage import schema
from ai_trader_assets.storage.bulk import BulkUpsert
from ai_trader_assets.storage.database import MarketDatabase

coverage = schema.ingestion_coverage
IN_CHUNK = 500  # bound the size of IN (...) lists


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timestamps back naive; they were stored in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


class Ledger:
    """Coverage of (dataset, session, symbol) and the quarantine of rejected records."""

    def __init__(self, database: MarketDatabase) -> None:
        self.database = database
        self._bulk = BulkUpsert()

    def covered(
        self, dataset: Dataset, sessions: Sequence[dt.date], symbols: Sequence[str]
    ) -> set[tuple[dt.date, str]]:
        """The (session, symbol) pairs already fetched."""
        return set(self.covered_rows(dataset, sessions, symbols))

    def covered_rows(
        self, dataset: Dataset, sessions: Sequence[dt.date], symbols: Sequence[str]
    ) -> dict[tuple[dt.date, str], int]:
        """The (session, symbol) pairs already fetched whole, with the rows each fetch stored.

        A pair fetched while its session was trading is not covered (see :meth:`partial`)."""
        return {
            pair: rows
            for pair, (rows, through) in self.fetched(dataset, sessions, symbols).items()
            if through is None
        }

    def count_covered(self, dataset: Dataset, first: dt.date, last: dt.date, symbols: Sequence[str]) -> int:
        """How many (session, symbol) pairs of sessions first..last are fetched whole (counted in the
        database: a layer's window can hold hundreds of thousands of pairs)."""
        return sum(self.covered_per_session(dataset, first, last, symbols).values())

    def covered_per_session(
        self, dataset: Dataset, first: dt.date, last: dt.date, symbols: Sequence[str]
    ) -> dict[dt.date, int]:
        """Per session of first..last, how many of the symbols are fetched whole (counted in the
        database, a chunk of symbols at a time)."""
        counts: dict[dt.date, int] = {}
        with self.database.begin() as conn:
            for chunk in _chunks(list(symbols)):
                rows = conn.execute(
                    sa.select(coverage.c.session, sa.func.count())
                    .where(
                        coverage.c.dataset == dataset.value,
                        coverage.c.session.between(first, last),
                        coverage.c.symbol.in_(list(chunk)),
                        coverage.c.through.is_(None),
                    )
                    .group_by(coverage.c.session)
                )
                for row in rows:
                    counts[row[0]] = counts.get(row[0], 0) + int(row[1])
        return counts

    def partial(
        self, dataset: Dataset, sessions: Sequence[dt.date], symbols: Sequence[str]
    ) -> dict[tuple[dt.date, str], tuple[int, dt.datetime]]:
        """The pairs fetched while their session was trading: (rows stored, the instant stored up to)."""
        found = self.fetched(dataset, sessions, symbols).items()
        return {pair: (rows, through) for pair, (rows, through) in found if through is not None}

    def fetched(
        self, dataset: Dataset, sessions: Sequence[dt.date], symbols: Sequence[str]
    ) -> dict[tuple[dt.date, str], tuple[int, dt.datetime | None]]:
        """Every recorded fetch of the pairs: (rows stored, the instant stored up to: None if whole)."""
        if not sessions or not symbols:
            return {}
        found: dict[tuple[dt.date, str], tuple[int, dt.datetime | None]] = {}
        with self.database.begin() as conn:
            for chunk in _chunks(list(symbols)):
                rows = conn.execute(
                    sa.select(
                        coverage.c.session, coverage.c.symbol, coverage.c.rows, coverage.c.through
                    ).where(
                        coverage.c.dataset == dataset.value,
                        coverage.c.session.between(min(sessions), max(sessions)),
                        coverage.c.symbol.in_(list(chunk)),
                    )
                )
                found.update({(row[0], str(row[1])): (int(row[2]), _utc(row[3])) for row in rows})
        return found

    def record(
        self, conn: Connection, dataset: Dataset, session: dt.date, rows_per_symbol: Mapping[str, int]
    ) -> None:
        """Mark symbols as fetched for a session (idempotent)."""
        self.record_many(conn, dataset, {session: rows_per_symbol})

    def record_many(
        self,
        conn: Connection,
        dataset: Dataset,
        fetched: Mapping[dt.date, Mapping[str, int]],
        through: Mapping[dt.date, dt.datetime] | None = None,
    ) -> None:
        """Mark (session, symbol) pairs as fetched, with their rows, in one bulk upsert (a first fill
        of a layer's year records hundreds of thousands of pairs).

        A session in ``through`` was still trading: its pairs are stored up to that instant only."""
        partial = {session: t.astimezone(dt.UTC) for session, t in (through or {}).items()}
        sessions = [session for session, per_symbol in fetched.items() for _ in per_symbol]
        if not sessions:
            return
        pairs = pd.DataFrame(
            {
                "dataset": dataset.value,
                "session": sessions,
                "symbol": [symbol for per_symbol in fetched.values() for symbol in per_symbol],
                "rows": [rows for per_symbol in fetched.values() for rows in per_symbol.values()],
                "ingested_at": pd.Timestamp.now(tz="UTC"),
                "through": pd.Series([partial.get(s) for s in sessions], dtype="datetime64[us, UTC]"),
            }
        )
        columns = [c.name for c in coverage.columns]
        self._bulk.upsert(conn, coverage, pairs, columns, [c.name for c in coverage.primary_key])

    def forget(self, conn: Connection, dataset: Dataset, session: dt.date, symbols: Sequence[str]) -> None:
        """Drop coverage for purged data, so a later promotion fetches it again."""
        for chunk in _chunks(list(symbols)):
            conn.execute(
                coverage.delete().where(
                    coverage.c.dataset == dataset.value,
                    coverage.c.session == session,
                    coverage.c.symbol.in_(list(chunk)),
                )
            )

    def latest_sessions(self, dataset: Dataset) -> dict[str, dt.date]:
        """The latest session fetched whole, per symbol."""
        with self.database.begin() as conn:
            rows = conn.execute(
                sa.select(coverage.c.symbol, sa.func.max(coverage.c.session))
                .where(coverage.c.dataset == dataset.value, coverage.c.through.is_(None))
                .group_by(coverage.c.symbol)
            )
            return {str(row[0]): row[1] for row in rows}

    def first_with_rows(self, dataset: Dataset, symbols: Sequence[str]) -> dict[str, dt.date]:
        """Per symbol, the earliest session fetched whole that stored rows (none: no such session)."""
        found: dict[str, dt.date] = {}
        with self.database.begin() as conn:
            for chunk in _chunks(list(symbols)):
                rows = conn.execute(
                    sa.select(coverage.c.symbol, sa.func.min(coverage.c.session))
                    .where(
                        coverage.c.dataset == dataset.value,
                        coverage.c.symbol.in_(list(chunk)),
                        coverage.c.through.is_(None),
                        coverage.c.rows > 0,
                    )
                    .group_by(coverage.c.symbol)
                )
                found.update({str(row[0]): row[1] for row in rows})
        return found

    def quarantine(
        self, conn: Connection, dataset: Dataset, partition_key: str, rejects: pd.DataFrame
    ) -> int:
        """Store rejected records with their reasons; returns how many."""
        if rejects.empty:
            return 0
        now = dt.datetime.now(tz=dt.UTC)
        conn.execute(
            schema.quarantine.insert(),
            [
                {
                    "dataset": dataset.value,
                    "partition_key": partition_key,
                    "reason": reason,
                    "record": json.loads(record),
                    "detected_at": now,
                }
                for reason, record in zip(rejects["reason"], rejects["record"], strict=True)
            ],
        )
        return len(rejects)

    def quarantined(self, dataset: Dataset | None = None) -> pd.DataFrame:
        query = sa.select(schema.quarantine)
        if dataset is not None:
            query = query.where(schema.quarantine.c.dataset == dataset.value)
        with self.database.begin() as conn:
            return pd.DataFrame([dict(r) for r in conn.execute(query).mappings()])
