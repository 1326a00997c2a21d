"""Several processes writing one Delta table at once, and a writer killed mid-commit, with the locks
of both market databases (PostgreSQL advisory lock, SQLite file lock)."""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import REPO_ROOT, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.locking import LakeLockTimeout, TableLocks
from ai_trader_assets.storage.lake.tables import LakeTables, lake_tables
from ai_trader_assets_tests.support.lake import demo_frame, s3_lake
from ai_trader_assets_tests.support.s3 import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    create_bucket,
    moto_server,
)

MINUTE = Dataset.BARS_1MIN
OCTOBER = calendar.sessions(dt.date(2026, 10, 1), dt.date(2026, 10, 21))  # a closed month on Nov 20
WRITERS = {0: ["AAPL", "MSFT"], 1: ["NVDA", "AMD"], 2: ["F", "GM"], 3: ["IBM", "INTC"]}


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ai_trader_assets_tests.support.lake_writer", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def database_url(database: MarketDatabase) -> str:
    return database.url.render_as_string(hide_password=False)


def stored(tables: LakeTables) -> pd.DataFrame:
    frame = tables.read(MINUTE, columns=["symbol", "ts", "close", "layer"]).to_pandas()
    return frame.sort_values(["symbol", "ts"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.mark.parametrize("where", ["local", "s3"])
def test_four_writers_and_maintenance_at_once_lose_and_duplicate_nothing(
    market_db: MarketDatabase, tmp_path: Path, request: pytest.FixtureRequest, where: str
) -> None:
    env: dict[str, str] = {}
    if where == "local":
        lake = Lake(str(tmp_path / "lake"))
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"writers-{uuid.uuid4().hex[:8]}"
        create_bucket(endpoint, bucket)
        lake = s3_lake(endpoint, bucket)
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_REGION": REGION,
        }
    common = ["--database", database_url(market_db), "--lake", lake.url]
    sessions = ",".join(s.isoformat() for s in OCTOBER)
    # Maintenance compacts October (a closed month) round after round while four writers commit into
    # it: started first, it is importing while they start, then keeps going until well after.
    maintainer = spawn("maintain", *common, "--rounds", "25", "--pause", "0.1", env=env)
    processes = [
        spawn(
            "write",
            *common,
            "--layer",
            str(layer),
            "--symbols",
            ",".join(symbols),
            "--sessions",
            sessions,
            env=env,
        )
        for layer, symbols in WRITERS.items()
    ]
    processes.append(maintainer)
    tables = lake_tables(lake, load_config())
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]  # no writer failed because another one was writing
        outputs.append(out)
    assert [out.count("committed") for out in outputs] == [len(OCTOBER)] * len(WRITERS) + [0]
    assert outputs[-1].count("maintained") == 25, outputs[-1]

    expected = pd.concat(
        [
            demo_frame(MINUTE, symbols, OCTOBER[0], OCTOBER[-1]).assign(layer=layer)
            for layer, symbols in WRITERS.items()
        ],
        ignore_index=True,
    )[["symbol", "ts", "close", "layer"]]
    expected = expected.astype({"symbol": object, "layer": "int8"}).sort_values(["symbol", "ts"])
    actual = stored(tables)
    assert not actual.duplicated(["symbol", "ts"]).any()
    pd.testing.assert_frame_equal(actual.astype({"symbol": object}), expected.reset_index(drop=True))
    history = tables.history(MINUTE)
    writes = [v for v in history if v.run_id.startswith("writer-")]
    assert len(writes) == len(WRITERS) * len(OCTOBER)  # every commit landed once
    clusterings = [v for v in history if v.run_id.startswith("m") and v.operation == "WRITE"]
    first_compaction = min(v.version for v in clusterings)
    assert max(v.version for v in writes) > first_compaction  # maintenance really ran between the writes
    assert min(v.version for v in writes) < first_compaction


def test_a_writer_killed_mid_commit_leaves_the_previous_version(
    market_db: MarketDatabase, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    tables = lake_tables(Lake(str(lake)), load_config(), market_db)
    first = OCTOBER[0]
    tables.store(MINUTE, demo_frame(MINUTE, ["AAPL"], first, first), 1, Commit("ingest", "before"))
    before, version = stored(tables), tables.open(MINUTE).version()  # type: ignore[union-attr]
    table_dir = lake / "bars_1min"
    existing = {p for p in table_dir.rglob("*") if p.is_file()}

    symbols = ",".join(f"S{i:03d}" for i in range(400))  # ~156k rows cut into files of 64 KiB
    writer = spawn(
        "write",
        "--database",
        database_url(market_db),
        "--lake",
        str(lake),
        "--layer",
        "2",
        "--symbols",
        symbols,
        "--sessions",
        OCTOBER[1].isoformat(),
        "--file-bytes",
        str(64 * 1024),
    )
    deadline = time.monotonic() + 120
    while not ({p for p in table_dir.rglob("*") if p.is_file()} - existing):
        assert writer.poll() is None and time.monotonic() < deadline, (
            "the writer finished before it was killed"
        )
        time.sleep(0.005)
    os.kill(writer.pid, signal.SIGKILL)  # data files are being written; the commit is not
    writer.wait(timeout=30)
    leftovers = {p for p in table_dir.rglob("*") if p.is_file()} - existing
    assert leftovers and all("_delta_log" not in p.parts for p in leftovers)  # killed before the commit

    assert tables.open(MINUTE).version() == version  # type: ignore[union-attr]
    pd.testing.assert_frame_equal(stored(tables), before)
    # The lock died with the writer: the next commit goes straight through.
    tables.store(MINUTE, demo_frame(MINUTE, ["MSFT"], first, first), 1, Commit("ingest", "after"))
    assert tables.open(MINUTE).version() == version + 1  # type: ignore[union-attr]


def test_a_table_held_too_long_fails_with_a_clear_error(market_db: MarketDatabase, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    holder = TableLocks(market_db, lake, timeout_seconds=30)
    waiter = LakeTables(lake, load_config().pipeline.lake, TableLocks(market_db, lake, timeout_seconds=1))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.hold(MINUTE):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30)
        started = time.monotonic()
        with pytest.raises(LakeLockTimeout, match="another writer held the table for more than 1 s"):
            waiter.store(MINUTE, demo_frame(MINUTE, ["AAPL"], OCTOBER[0], OCTOBER[0]), 1, Commit("t", "r"))
        assert 0.9 < time.monotonic() - started < 10
    finally:
        release.set()
        thread.join()
    assert (
        waiter.store(MINUTE, demo_frame(MINUTE, ["AAPL"], OCTOBER[0], OCTOBER[0]), 1, Commit("t", "r")) == 390
    )
