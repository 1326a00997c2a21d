"""The market database: one pooled SQLAlchemy engine for SQLite (embedded) or PostgreSQL."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from ai_trader_assets.config import DatabasePoolSpec
from ai_trader_assets.settings import mask_url, normalize_database_url

SQLITE_BUSY_TIMEOUT_MS = 30_000


class MarketDatabase:
    """Owns the engine of the market database (companies, hot storage, events).

    Args:
        url: SQLAlchemy URL (``sqlite:///…`` or ``postgresql://…``); psycopg 3 is used for PostgreSQL.
        pool: Pool sizing from ``pipeline.yaml``; SQLAlchemy's defaults when None.
    """

    def __init__(self, url: str | URL, pool: DatabasePoolSpec | None = None) -> None:
        self.url = normalize_database_url(url)
        self.engine = _create_engine(self.url, pool)

    @property
    def dialect(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return self.engine.dialect.name

    @property
    def placeholder(self) -> str:
        """The driver's bind marker for plain driver SQL (``exec_driver_sql``): ``?`` for sqlite3,
        ``%s`` for psycopg."""
        return "?" if self.dialect == "sqlite" else "%s"

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self.engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        """Close every pooled connection (call when the owner is done)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"MarketDatabase({mask_url(self.url)})"


def _create_engine(url: URL, pool: DatabasePoolSpec | None) -> Engine:
    options: dict[str, Any] = {"pool_pre_ping": True}
    if pool is not None:
        options |= {
            "pool_size": pool.pool_size,
            "max_overflow": pool.max_overflow,
            "pool_timeout": pool.pool_timeout_seconds,
            "pool_recycle": pool.pool_recycle_seconds,
        }
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options)
        _make_sqlite_transactional(engine)
        return engine
    return sa.create_engine(url, **options)


def _make_sqlite_transactional(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, emit BEGIN, so transactions (and DDL) are really atomic.

    pysqlite defers BEGIN until the first DML statement, which breaks SAVEPOINTs and transactional
    DDL; this is SQLAlchemy's documented recipe. WAL lets readers run beside one writer, and
    foreign keys are off by default in SQLite.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")
