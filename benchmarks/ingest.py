"""Ingest benchmark: one session of 1-minute bars for 2,000 symbols, end to end on PostgreSQL.

Run from the repository root: .venv/bin/python -m benchmarks.ingest
Ours, slice by slice as an asset run stores: local Polygon server -> parse + validation -> cold Delta
table + hot upsert (binary COPY into staging, on a first fill straight into the table) + coverage.
Baselines, in the same run: ``pandas.DataFrame.to_sql`` of the same frame into an empty copy of the
hot table, and the floor: a plain ``COPY`` of the same rows (CSV made with pyarrow) into another empty
keyed copy. Prints rows/s, the ratios and the peak memory, and the fetch alone (the provider's
requests and parsing, nothing stored): each slice is stored while the next is fetched, so ours
cannot be faster.
PostgreSQL comes from AI_TRADER_TEST_DATABASE_URL, else 127.0.0.1:5432, else a throw-away cluster.
"""

import datetime as dt
import io
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from ai_trader_assets.config import RateLimit, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.ingest import Ingestor, IngestRequest
from ai_trader_assets.providers.http import RequestGovernor
from ai_trader_assets.providers.polygon import PolygonProvider, PolygonTransport
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.settings import Secret
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.writer import PartitionWriter, WriteTotals
from ai_trader_assets_tests.support.polygon_server import PolygonServer
from ai_trader_assets_tests.support.postgres import DatabaseFactory, postgres_server

KEY = "benchmark-key"
SESSION = dt.date(2026, 11, 20)
SYMBOLS = [f"S{i:04d}" for i in range(2000)]
LAYER = 2  # layer 2 ingests 1-minute bars and keeps them hot for 14 days


def main() -> None:
    config = load_config()
    with postgres_server() as admin, tempfile.TemporaryDirectory() as scratch:
        factory = DatabaseFactory(admin)
        database = MarketDatabase(factory.create())
        try:
            migrations.upgrade(database)
            CompaniesRepository(database).upsert(
                [{"symbol": s, "layer": LAYER} for s in SYMBOLS], source="benchmark"
            )
            with PolygonServer(KEY, cache_responses=True) as server:
                unlimited = RateLimit(
                    requests_per_second=100_000, requests_per_minute=6_000_000, burst=100_000
                )
                spec = config.providers.providers["polygon"]
                limiter = RequestLimiter("polygon", unlimited, Path(scratch) / "limits")
                governor = RequestGovernor("polygon", spec, limiter)
                provider = PolygonProvider(PolygonTransport(Secret(KEY), server.url, governor), spec)
                provider.bars(SYMBOLS, Dataset.BARS_1MIN, SESSION, SESSION)  # warm the server's cache
                ingestor = Ingestor(provider, CompaniesRepository(database), Ledger(database), config)
                writer = PartitionWriter(
                    database, Lake(str(Path(scratch) / "lake")), config, SESSION, "benchmark"
                )

                started = time.perf_counter()
                # As an asset run stores: slice by slice (runs.slice_rows), each written before the
                # next is handed on (the provider's next slice already being fetched).
                stream = ingestor.stream(IngestRequest(Dataset.BARS_1MIN, [(SESSION, LAYER)], SESSION))
                totals, results = WriteTotals(), []
                for piece in stream:
                    writer.write(piece, totals)
                    results.extend(piece)
                report = stream.report
                ours = time.perf_counter() - started
                # The fetch alone (requests, JSON, parsing; nothing stored): ours cannot beat it, since
                # each slice is stored while the next is fetched.
                started = time.perf_counter()
                provider.bars(SYMBOLS, Dataset.BARS_1MIN, SESSION, SESSION)
                fetch_alone = time.perf_counter() - started
            # A run stores in slices (runs.slice_rows): the session comes back as several pieces.
            frame = pd.concat([r.frame for r in results], ignore_index=True)
            assert totals.rows_hot == len(frame) == len(SYMBOLS) * 390, (totals, len(frame))

            with database.begin() as conn:
                conn.execute(sa.text("CREATE TABLE bars_baseline (LIKE bars_1min INCLUDING ALL)"))
                conn.execute(sa.text("CREATE TABLE bars_copy_floor (LIKE bars_1min INCLUDING ALL)"))
            started = time.perf_counter()
            frame.to_sql("bars_baseline", database.engine, if_exists="append", index=False, chunksize=50_000)
            baseline = time.perf_counter() - started
            floor = plain_copy(database, frame, "bars_copy_floor")
        finally:
            database.dispose()
            factory.drop_all()
    rows = len(frame)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"one session of 1-minute bars, {len(SYMBOLS)} symbols, {rows:,} rows, PostgreSQL")
    print(
        f"  ours (server -> validation -> hot + cold): {ours:6.2f} s  {rows / ours:>10,.0f} rows/s "
        f"({len(report.calls)} provider requests)"
    )
    alone = f"{fetch_alone:6.2f} s  {rows / fetch_alone:>10,.0f} rows/s"
    print(f"  the fetch alone (server -> parsed frame):  {alone}")
    print(f"  baseline (DataFrame.to_sql, write only):   {baseline:6.2f} s  {rows / baseline:>10,.0f} rows/s")
    print(f"  floor (a plain COPY, write only):          {floor:6.2f} s  {rows / floor:>10,.0f} rows/s")
    print(
        f"  ratio to to_sql: {baseline / ours:.2f}x  |  to the COPY floor: {floor / ours:.2f}x  |  "
        f"peak memory (process): {peak_mib:,.0f} MiB"
    )


def plain_copy(database: MarketDatabase, frame: pd.DataFrame, table: str) -> float:
    """Seconds to write the frame as CSV (pyarrow) and COPY it into an empty keyed table."""
    started = time.perf_counter()
    buffer = io.BytesIO()
    pacsv.write_csv(
        pa.Table.from_pandas(frame, preserve_index=False), buffer, pacsv.WriteOptions(include_header=False)
    )
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    with database.begin() as conn:
        raw = conn.connection.driver_connection
        statement = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            copy.write(buffer.getbuffer())
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
