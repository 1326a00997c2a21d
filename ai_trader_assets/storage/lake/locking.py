"""One writer per Delta table at a time, across processes and machines.

delta-rs commits optimistically; two writers rewriting the same files (a predicate overwrite next
to a compaction) can conflict and fail. Every write of ours to a table first takes that table's
lock from the market database every run already shares:

- PostgreSQL: a session-level advisory lock keyed by the table's location, so it holds across
  machines and is released by the server when a killed writer's connection drops;
- SQLite (embedded, one machine by nature): an OS file lock next to the database file, released by
  the kernel when the holder dies.

Locks are re-entrant within a thread, so a write helper may be called while the lock is held.
"""

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import filelock
import sqlalchemy as sa

from ai_trader_assets.datasets import Dataset
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake.location import Lake, LakeError, table_path

POLL_SECONDS = 0.2


class LakeLockTimeout(LakeError):
    """Another writer held a table for longer than ``lake.lock_timeout_seconds``."""


def lock_key(lake: Lake, dataset: Dataset | str) -> int:
    """A signed 64-bit key for the table (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.sha256(lake.table_uri(dataset).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class TableLocks:
    """Per-table write locks; :meth:`hold` is the only entry point.

    Args:
        database: The market database (chooses the mechanism; PostgreSQL's connection is used).
        lake: The lake whose tables are locked.
        timeout_seconds: How long to wait before failing with :class:`LakeLockTimeout`.
    """

    def __init__(self, database: MarketDatabase, lake: Lake, timeout_seconds: float) -> None:
        self.database = database
        self.lake = lake
        self.timeout_seconds = timeout_seconds
        self._held = threading.local()

    @contextlib.contextmanager
    def hold(self, dataset: Dataset | str) -> Iterator[None]:
        """Hold the table's lock for the block (waits for other writers, up to the timeout)."""
        held: dict[str, int] = self._held.__dict__.setdefault("counts", {})
        name = table_path(dataset)
        if held.get(name):
            held[name] += 1
            try:
                yield
            finally:
                held[name] -= 1
            return
        acquire = self._postgres if self.database.dialect == "postgresql" else self._file
        with acquire(dataset):
            held[name] = 1
            try:
                yield
            finally:
                held[name] = 0

    def _timeout(self, dataset: Dataset | str) -> LakeLockTimeout:
        return LakeLockTimeout(
            f"{self.lake.describe(dataset)}: another writer held the table for more than "
            f"{self.timeout_seconds:.0f} s (lake.lock_timeout_seconds in pipeline.yaml)"
        )

    @contextlib.contextmanager
    def _postgres(self, dataset: Dataset | str) -> Iterator[None]:
        key = lock_key(self.lake, dataset)
        # Autocommit: the lock belongs to the session, so no transaction stays open while we write.
        with self.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            deadline = time.monotonic() + self.timeout_seconds
            while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
                if time.monotonic() > deadline:
                    raise self._timeout(dataset)
                time.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})

    @contextlib.contextmanager
    def _file(self, dataset: Dataset | str) -> Iterator[None]:
        folder = _sqlite_lock_folder(self.database)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{lock_key(self.lake, dataset) & 0xFFFFFFFFFFFFFFFF:016x}.lock"
        lock = filelock.FileLock(str(path), timeout=self.timeout_seconds, thread_local=False)
        try:
            lock.acquire()
        except filelock.Timeout as exc:
            raise self._timeout(dataset) from exc
        try:
            yield
        finally:
            lock.release()


def _sqlite_lock_folder(database: MarketDatabase) -> Path:
    name = database.url.database
    if not name or name == ":memory:":
        raise LakeError("an in-memory SQLite market database cannot coordinate lake writers")
    return Path(name).absolute().parent / "lake-locks"
