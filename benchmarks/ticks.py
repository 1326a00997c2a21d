"""Ticks benchmark: one session of trades for many layer-3 symbols, ingested into PostgreSQL (hot) and
the Delta table (cold), then one symbol-session read back.

Run from the repository root: .venv/bin/python -m benchmarks.ticks [--symbols 50]
The demo generator prints ~540k trades per symbol-session here (one trade per 5 shares: a liquid
stock's rate), beforehand and in a child process: the run reads each symbol's trades from a Parquet
file, as a provider would hand them over, so the time and memory measured are the platform's, not the
generator's. Everything is measured in the same run against floors on the same rows:
- hot: our hot write (validated frame -> COPY into staging -> INSERT ... ON CONFLICT on the keyed table)
  against a plain COPY of the same rows (the same CSV) into a bare table without key or index;
- cold: our cold write (schema, sort, Delta commit under the table lock) against a plain
  ``write_deltalake`` of the same frame into a fresh table;
- read: ``MarketData.ticks`` of one symbol-session (every column, all hours) against
  ``polars.read_parquet`` of the same rows in one Parquet file;
- size: the Delta table's bytes per trade against the gzipped CSV of the same rows.
PostgreSQL comes from AI_TRADER_TEST_DATABASE_URL, else 127.0.0.1:5432, else a throw-away cluster.
"""

import argparse
import cProfile
import datetime as dt
import gzip
import io
import multiprocessing
import os
import pstats
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa
from deltalake import write_deltalake

from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.datasets.registry import check_rows
from ai_trader_assets.datasets.ticks import TICK_COLUMNS
from ai_trader_assets.ingest import Ingestor, IngestRequest
from ai_trader_assets.providers.base import MarketDataProvider, ProviderCall, ProviderResult
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.read import MarketData
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.bulk import _arrow, _wire_table
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.layout import LAYOUTS
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.writer import PartitionWriter, WriteTotals
from ai_trader_assets_tests.support.postgres import DatabaseFactory, postgres_server

SESSION = dt.date(2026, 11, 20)
SHARES_PER_TRADE = 5
TICKS = Dataset.TICKS


class Timer:
    """Wraps a method, adding up the seconds spent in it."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def generate(symbols: list[str], folder: Path) -> None:
    """The demo's trades of each symbol-session, one Parquet file each (run in a child process)."""
    provider = DemoProvider(
        clock=lambda: dt.datetime(2026, 11, 21, tzinfo=dt.UTC), shares_per_trade=SHARES_PER_TRADE
    )
    for symbol in symbols:
        frame = provider.trades([symbol], SESSION).frame
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / f"{symbol}.parquet")


class StoredTrades:
    """The trades :func:`generate` wrote, handed over like a provider's answer."""

    name = "demo"
    grouped_daily = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def trades(
        self, symbols: list[str], session: dt.date, since: dt.datetime | None = None
    ) -> ProviderResult:
        strings = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}
        frames = [
            pq.read_table(self.folder / f"{symbol}.parquet").to_pandas(types_mapper=strings.get)
            for symbol in symbols
        ]
        frame = conform(pd.concat(frames, ignore_index=True), TICK_COLUMNS)
        return ProviderResult(frame=frame, calls=(ProviderCall("file", 200, 0.0, len(frame)),))


def best_of(runs: int, action: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:  # noqa: PLR0915 - one measured sequence, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="print where the read's time goes")
    arguments = parser.parse_args()
    symbols = [f"T{i:03d}" for i in range(arguments.symbols)]
    config = load_config()
    with postgres_server() as admin, tempfile.TemporaryDirectory() as scratch:
        factory = DatabaseFactory(admin)
        database = MarketDatabase(factory.create())
        lake = Lake(str(Path(scratch) / "lake"))
        try:
            migrations.upgrade(database)
            CompaniesRepository(database).upsert([{"symbol": s, "layer": 3} for s in symbols], source="bench")
            folder = Path(scratch) / "trades"
            folder.mkdir()
            started = time.perf_counter()
            child = multiprocessing.get_context("spawn").Process(target=generate, args=(symbols, folder))
            child.start()
            child.join()
            assert child.exitcode == 0, "generating the demo's trades failed"
            generating = time.perf_counter() - started
            provider = StoredTrades(folder)
            fetch, cold, hot = Timer(), Timer(), Timer()
            provider.trades = fetch.wrap(provider.trades)  # type: ignore[method-assign]
            ingestor = Ingestor(
                cast(MarketDataProvider, provider), CompaniesRepository(database), Ledger(database), config
            )
            writer = PartitionWriter(database, lake, config, SESSION, "benchmark")
            writer.tables.store = cold.wrap(writer.tables.store)  # type: ignore[method-assign]
            writer.hot.upsert = hot.wrap(writer.hot.upsert)  # type: ignore[method-assign]
            totals = WriteTotals()
            started = time.perf_counter()
            stream = ingestor.stream(IngestRequest(TICKS, [(SESSION, 3)], SESSION))
            last = pd.DataFrame()
            for piece in stream:  # one symbol-session per slice
                writer.write(piece, totals)
                last = piece[0].frame
            total = time.perf_counter() - started
            rows = totals.rows_cold
            assert rows == totals.rows_hot and rows > 0, totals
            peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

            # Floors, on the last symbol's rows (as stored: validated).
            valid, _ = check_rows(TICKS, last)
            columns = [c.name for c in LAYOUTS[TICKS].spec.table.columns]
            with database.begin() as conn:
                conn.execute(sa.text("CREATE TABLE ticks_floor (LIKE ticks)"))  # no key, no index
            buffer = io.BytesIO()
            pacsv.write_csv(
                _wire_table(_arrow(valid, columns), "postgresql"),
                buffer,
                pacsv.WriteOptions(include_header=False, quoting_style="needed"),
            )
            quoted = ", ".join(f'"{c}"' for c in columns)

            def copy_floor() -> None:
                with database.begin() as conn:
                    conn.execute(sa.text("TRUNCATE ticks_floor"))
                    raw = conn.connection.driver_connection
                    statement = f"COPY ticks_floor ({quoted}) FROM STDIN WITH (FORMAT csv)"
                    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
                        copy.write(buffer.getbuffer())

            hot_floor = len(valid) / best_of(3, copy_floor)
            arrow = pa.Table.from_pandas(valid, preserve_index=False)
            attempts = iter(range(6))
            cold_floor = len(valid) / best_of(
                3, lambda: write_deltalake(str(Path(scratch) / f"floor{next(attempts)}"), arrow)
            )
            ours_format = LAYOUTS[TICKS].writer_properties  # the same rows in our file format
            cold_floor_format = len(valid) / best_of(
                3,
                lambda: write_deltalake(
                    str(Path(scratch) / f"floor{next(attempts)}"), arrow, writer_properties=ours_format
                ),
            )

            # Read one symbol-session, against the same rows in one Parquet file.
            symbol = symbols[len(symbols) // 2]
            env = {"AI_TRADER_AS_OF": SESSION.isoformat()}
            os.environ.update(env)
            with MarketData(database, lake, config=config, today=SESSION) as data:
                read_rows = data.ticks(symbol, SESSION, SESSION, regular_hours=False, output="polars").height

                def ours() -> None:
                    data.ticks(symbol, SESSION, SESSION, regular_hours=False, output="polars")

                read_ours = best_of(3, ours)
                if arguments.profile:
                    profile = cProfile.Profile()
                    profile.runcall(ours)
                    pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
            same = writer.tables.read_polars(TICKS, sessions=[SESSION], symbols=[symbol])
            parquet = Path(scratch) / "one.parquet"
            same.write_parquet(parquet)
            read_floor = best_of(3, lambda: pl.read_parquet(parquet))

            # Size: the Delta table's files against the gzipped CSV of the same rows (one symbol's).
            lake_bytes = sum(p.stat().st_size for p in (Path(scratch) / "lake" / "ticks").rglob("*.parquet"))
            text = io.BytesIO()
            pacsv.write_csv(pa.Table.from_pandas(valid, preserve_index=False), text)
            gzipped = len(gzip.compress(text.getvalue(), compresslevel=6)) / len(valid)
        finally:
            database.dispose()
            factory.drop_all()
    per_trade = lake_bytes / rows
    print(f"one session of trades, {len(symbols)} layer-3 symbols, {rows:,} trades, PostgreSQL + local lake")
    print(
        f"  end to end (hand-over, validate, cold, hot, coverage): {total:7.1f} s "
        f"{rows / total:>10,.0f} rows/s"
    )
    print(f"    of which reading the trades handed over: {fetch.seconds:7.1f} s")
    print(f"  (generating them beforehand, demo provider in a child process: {generating:.1f} s)")
    print(
        f"  cold: {rows / cold.seconds:>10,.0f} rows/s   floor write_deltalake: {cold_floor:>10,.0f} rows/s  "
        f"ratio {rows / cold.seconds / cold_floor:.2f}x"
    )
    print(
        f"        floor in our file format (zstd, encodings): {cold_floor_format:>10,.0f} rows/s  "
        f"ratio {rows / cold.seconds / cold_floor_format:.2f}x"
    )
    print(
        f"  hot:  {rows / hot.seconds:>10,.0f} rows/s   floor COPY (bare table): {hot_floor:>10,.0f} rows/s  "
        f"ratio {rows / hot.seconds / hot_floor:.2f}x"
    )
    print(
        f"  read {symbol} {SESSION} ({read_rows:,} trades): {read_ours * 1000:6.1f} ms   "
        f"floor read_parquet: {read_floor * 1000:6.1f} ms   ratio {read_ours / read_floor:.2f}x"
    )
    print(
        f"  bytes per trade: {per_trade:5.1f}   gzipped CSV: {gzipped:5.1f}   "
        f"ratio {per_trade / gzipped:.2f}x"
    )
    print(f"  peak memory (process): {peak_mib:,.0f} MiB")
    # deltalake 1.6 aborts at exit in a process that read a table to Arrow (LAKE_NOTES.md).
    os._exit(0)


if __name__ == "__main__":
    main()
