"""Provider requests, errors and latency, counted where every process can add to them: the
``provider_stats`` table of the market database, one row per provider, endpoint template and outcome
with running totals (requests, seconds spent).

Why a table: run workers are separate processes (child processes of the code location under Compose,
pods of their own on Kubernetes), and ``ai-trader metrics serve`` is another. Prometheus' client has a
multiprocess mode, but it needs one directory every process writes to and the server reads from,
which run pods do not share; the market database is what every process already reaches.

Why buffered: a request must not wait for a database write. :class:`ProviderStatsRecorder` adds each
attempt to totals in memory and writes them (one upsert that adds to the stored totals) at most every
``flush_seconds``, on the request path, and when its owner calls :meth:`~ProviderStatsRecorder.flush`
at the end of a fetch. The totals are bounded by the endpoints there are, so a write that fails (the
database busy or not migrated yet) keeps them for the next one: nothing is counted twice or lost
while the process lives. Statistics never fail a fetch: a failed write is logged, not raised.
"""

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL

from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.schema import provider_stats

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
# A flush waits at most this long for SQLite's write lock (a run may hold it for a long write): the
# totals stay in memory for the next flush instead of holding up the request.
SQLITE_BUSY_MS = 1_000
ENDPOINT_LENGTH = provider_stats.c.endpoint.type.length  # type: ignore[attr-defined]


Key = tuple[str, str, str]  # provider, endpoint template, outcome


@dataclasses.dataclass(frozen=True)
class ProviderStat:
    """The totals of one provider, endpoint template and outcome since the table was created."""

    provider: str
    endpoint: str
    outcome: str
    requests: int
    seconds: float


class ProviderStatsRecorder:
    """Counts provider attempts in memory and adds them to ``provider_stats`` now and then (the
    governor's :class:`~ai_trader_assets.providers.http.RequestRecorder`).

    Args:
        url: The market database's URL; the recorder opens its own small engine (:meth:`close`).
        flush_seconds: The least time between two writes made on the request path.
        clock: Monotonic seconds (injected by tests).
    """

    def __init__(
        self,
        url: str | URL,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = MarketDatabase(url)
        if self.database.dialect == "sqlite":
            sa.event.listen(self.database.engine, "connect", _short_busy_timeout)
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[Key, list[float]] = {}  # key -> [requests, seconds]
        self._last_flush = clock()
        self._warned = False

    def record(self, provider: str, endpoint: str, outcome: str, seconds: float) -> None:
        """One attempt; writes the totals when the last write is ``flush_seconds`` old."""
        # The template only: a query string could carry values (and make the label set unbounded).
        key = (provider, endpoint.split("?", 1)[0][:ENDPOINT_LENGTH], outcome)
        with self._lock:
            totals = self._pending.setdefault(key, [0, 0.0])
            totals[0] += 1
            totals[1] += seconds
            due = self._clock() - self._last_flush >= self._flush_seconds
        if due:
            self.flush()

    def flush(self) -> bool:
        """Add the totals counted so far to the table; False (totals kept) when the write failed."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = self._clock()
        if not pending:
            return True
        try:
            add(self.database, {key: (int(n), s) for key, (n, s) in pending.items()})
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            with self._lock:
                for key, (n, s) in pending.items():
                    totals = self._pending.setdefault(key, [0, 0.0])
                    totals[0] += n
                    totals[1] += s
            if not self._warned:
                self._warned = True
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                log.warning("provider statistics not written (kept for the next try): %s", first[:300])
            return False
        return True

    def close(self) -> None:
        """Write what is left (the end of a fetch) and close the engine."""
        self.flush()
        self.database.dispose()


def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def add(database: MarketDatabase, totals: dict[Key, tuple[int, float]]) -> None:
    """Add requests and seconds to the stored totals of each key (one upsert)."""
    now = dt.datetime.now(tz=dt.UTC)
    values = [
        {
            "provider": provider,
            "endpoint": endpoint,
            "outcome": outcome,
            "requests": requests,
            "seconds": seconds,
            "first_recorded_at": now,
            "updated_at": now,
        }
        for (provider, endpoint, outcome), (requests, seconds) in sorted(totals.items())
    ]
    if not values:
        return
    with database.begin() as conn:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        statement = insert(provider_stats)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=list(provider_stats.primary_key.columns),
                set_={
                    "requests": provider_stats.c.requests + statement.excluded.requests,
                    "seconds": provider_stats.c.seconds + statement.excluded.seconds,
                    "updated_at": statement.excluded.updated_at,
                },
            ),
            values,
        )


def read_provider_stats(database: MarketDatabase) -> list[ProviderStat]:
    """Every stored total, by provider, endpoint and outcome."""
    table = provider_stats
    with database.begin() as conn:
        rows = conn.execute(
            sa.select(
                table.c.provider, table.c.endpoint, table.c.outcome, table.c.requests, table.c.seconds
            ).order_by(table.c.provider, table.c.endpoint, table.c.outcome)
        ).all()
    return [ProviderStat(str(r[0]), str(r[1]), str(r[2]), int(r[3]), float(r[4])) for r in rows]
