"""Flat-file benchmark: a fill of 1-minute bars for 2,000 symbols x 20 sessions read from Massive's
flat files (one gzipped CSV per session holding ~10,000 tickers), end to end on PostgreSQL.

Run from the repository root: .venv/bin/python -m benchmarks.flatfiles [--keep DIR] [--today 2025-12-01]
The objects are generated once (into DIR with --keep, reused after) in the real layout: 2,000 liquid
tickers with every regular minute plus a pre- and an after-hours minute, and 8,000 thin ones with a
few dozen minutes each, sorted by ticker. They are served by a local S3 server (moto). Measured: the
flat-file provider (stream, filter to the run's 2,000 symbols, parse, validate) through the ingest
path into cold Delta (history, by default) and, with ``--today 2025-12-01``, for the sessions in
layer 2's hot window hot PostgreSQL too, as an asset run stores (a session per slice, stored in
groups of symbols within ``runs.slice_rows``). Baseline in the same run:
reading the same objects with pyarrow and nothing else (the floor of any reader). Prints rows stored
per second, bytes per second (providers.yaml massive_flatfiles.flat_files.bytes_per_second), peak
memory, and the REST requests the planner would have made instead.
PostgreSQL comes from AI_TRADER_TEST_DATABASE_URL, else 127.0.0.1:5432, else a throw-away cluster.
"""

import argparse
import datetime as dt
import gzip
import io
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.ingest import Ingestor, IngestRequest
from ai_trader_assets.providers import build_flatfiles, build_single
from ai_trader_assets.providers.massive_flatfiles import object_key
from ai_trader_assets.settings import ProviderAccess, Secret
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.writer import PartitionWriter, WriteTotals
from ai_trader_assets_tests.support.flatfiles import BUCKET, s3_client
from ai_trader_assets_tests.support.postgres import DatabaseFactory, postgres_server
from ai_trader_assets_tests.support.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, moto_server

SESSIONS = calendar.sessions(dt.date(2025, 10, 1), dt.date(2025, 11, 28))[-20:]  # the fill
# History: every session older than layer 2's 14 hot days (cold only). --today 2025-12-01 makes the
# fill the last 20 sessions, 8 of them also stored hot.
TODAY = dt.date(2026, 1, 20)
LIQUID = [f"S{i:04d}" for i in range(2000)]
THIN = [f"T{i:04d}" for i in range(8000)]
THIN_MINUTES = 40
LAYER = 2  # ingests 1-minute bars; keeps 14 days of them hot


def minute_file(session: dt.date) -> bytes:
    """One session's minute_aggs_v1 object: every liquid ticker's regular minutes and two outside
    them, and a few dozen minutes of each thin ticker (random walks), sorted by ticker."""
    rng = np.random.default_rng(session.toordinal())
    open_utc, _ = calendar.session_open_close(session)
    regular = calendar.session_minutes(session)
    first_ns = int(open_utc.timestamp()) * 10**9
    minute = 60 * 10**9
    liquid_offsets = np.r_[-90, np.arange(regular), regular + 30]  # 08:00, the session, 16:30
    thin_offsets = np.sort(rng.choice(regular, THIN_MINUTES, replace=False))
    tickers = np.r_[np.repeat(LIQUID, len(liquid_offsets)), np.repeat(THIN, THIN_MINUTES)]
    offsets = np.r_[np.tile(liquid_offsets, len(LIQUID)), np.tile(thin_offsets, len(THIN))]
    start = np.repeat(
        rng.uniform(5, 500, len(LIQUID) + len(THIN)),
        [len(liquid_offsets)] * len(LIQUID) + [THIN_MINUTES] * len(THIN),
    )
    drift = np.exp(rng.normal(0, 0.0008, len(tickers)).cumsum() * 0.1)
    close = np.round(start * drift, 4)
    open_ = np.round(close * np.exp(rng.normal(0, 0.0005, len(tickers))), 4)
    high = np.round(np.maximum(open_, close) * (1 + rng.uniform(0, 0.001, len(tickers))), 4)
    low = np.round(np.minimum(open_, close) * (1 - rng.uniform(0, 0.001, len(tickers))), 4)
    volume = rng.integers(100, 50_000, len(tickers))
    order = np.lexsort((offsets, tickers))
    table = pa.table(
        {
            "ticker": tickers[order],
            "volume": volume[order],
            "open": open_[order],
            "close": close[order],
            "high": high[order],
            "low": low[order],
            "window_start": first_ns + offsets[order] * minute,
            "transactions": np.maximum(1, volume[order] // 150),
        }
    )
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="none"))
    return gzip.compress(out.getvalue().rstrip(b"\n"), compresslevel=6)


def objects(folder: Path) -> dict[dt.date, Path]:
    """The sessions' objects, generated into ``folder`` once (reused when present)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for session in SESSIONS:
        path = folder / f"minute_aggs_v1_{session}.csv.gz"
        if not path.exists():
            path.write_bytes(minute_file(session))
        made[session] = path
    return made


def pyarrow_floor(paths: list[Path]) -> tuple[float, int]:
    """Seconds (and rows) for pyarrow to decompress and parse every object, keeping nothing."""
    started, rows = time.perf_counter(), 0
    for path in paths:
        with pacsv.open_csv(pa.input_stream(str(path), compression="gzip")) as reader:
            rows += sum(batch.num_rows for batch in reader)
    return time.perf_counter() - started, rows


def main() -> None:  # noqa: PLR0915 - one straight script: set-up, run, baseline, figures
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="keep (and reuse) the objects in this folder")
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=TODAY,
        help=f"the fill's today (default {TODAY}: the sessions are history, stored cold only; 2025-12-01: "
        "they are the last 20, and those in layer 2's hot window are stored hot too)",
    )
    args = parser.parse_args()
    today: dt.date = args.today
    config = load_config()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch) / "objects"
        started = time.perf_counter()
        paths = objects(folder)
        print(f"{len(paths)} objects ready in {time.perf_counter() - started:.0f} s ({folder})")
        size = sum(p.stat().st_size for p in paths.values())
        with moto_server() as endpoint, postgres_server() as admin:
            client = s3_client(endpoint)
            client.create_bucket(Bucket=BUCKET)
            for session, path in paths.items():
                client.put_object(
                    Bucket=BUCKET, Key=object_key("minute_aggs_v1", session), Body=path.read_bytes()
                )
            access = ProviderAccess(
                endpoints={"MASSIVE_S3_ENDPOINT": endpoint},
                keys={
                    "MASSIVE_S3_ACCESS_KEY_ID": Secret(ACCESS_KEY_ID),
                    "MASSIVE_S3_SECRET_ACCESS_KEY": Secret(SECRET_ACCESS_KEY),
                    "POLYGON_API_KEY": Secret("unused: every session has its object"),
                },
            )
            limits = Path(scratch) / "limits"
            files = build_flatfiles(config, access, limits)
            assert files is not None
            rest = build_single("polygon", config, access, limits)
            factory = DatabaseFactory(admin)
            database = MarketDatabase(factory.create())
            try:
                migrations.upgrade(database)
                companies = CompaniesRepository(database)
                companies.upsert([{"symbol": s, "layer": LAYER} for s in LIQUID], source="benchmark")
                ingestor = Ingestor(rest, companies, Ledger(database), config, flatfiles=files)
                writer = PartitionWriter(
                    database, Lake(str(Path(scratch) / "lake")), config, today, "benchmark"
                )
                request = IngestRequest(Dataset.BARS_1MIN, [(s, LAYER) for s in SESSIONS], today)
                started = time.perf_counter()
                stream = ingestor.stream(request)
                totals = WriteTotals()
                for piece in stream:
                    writer.write(piece, totals)
                ours = time.perf_counter() - started
                report = stream.report
            finally:
                database.dispose()
                factory.drop_all()
        floor, parsed = pyarrow_floor(list(paths.values()))
    rows = totals.rows_cold
    assert rows == len(LIQUID) * sum(calendar.session_minutes(s) + 2 for s in SESSIONS), (rows, totals)
    assert set(report.served) == {"massive_flatfiles"}, report.served
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    window = config.window(LAYER, Dataset.BARS_1MIN)
    assert window is not None
    hot_sessions = sum(1 for s in SESSIONS if window.is_hot(s, today))
    # What the planner estimates REST would have made for the same pairs (one paged range per symbol).
    page = config.providers.providers["polygon"].page_sizes.aggregates or 50_000
    replaced = len(LIQUID) * -(-sum(calendar.session_minutes(s) for s in SESSIONS) // page)
    print(
        f"1-minute bars, {len(LIQUID):,} of {len(LIQUID) + len(THIN):,} tickers x {len(SESSIONS)} sessions "
        f"({hot_sessions} in layer {LAYER}'s hot window), {len(paths)} objects, {size / 2**20:,.0f} MiB"
    )
    print(
        f"  ours (S3 -> stream + filter + parse -> validation -> cold, hot): {ours:6.1f} s  "
        f"{rows / ours:>9,.0f} rows/s stored ({totals.rows_hot:,} also hot)"
    )
    print(
        f"  floor (pyarrow decompress + parse, nothing kept):               {floor:6.1f} s  "
        f"{parsed / floor:>9,.0f} rows/s parsed"
    )
    print(
        f"  objects read at {size / ours / 1e6:.1f} MB/s (flat_files.bytes_per_second) | "
        f"time to the floor: {ours / floor:.2f}x | peak memory (process): {peak_mib:,.0f} MiB | "
        f"replaced ~{replaced:,} REST requests ({replaced * 60 / 300 / 60:.0f} min at 300/min, "
        f"{replaced / 5 / 60:.1f} h at the free tier's 5/min)"
    )


if __name__ == "__main__":
    main()
