"""Every Delta table we write opens in other engines: Polars (natively) and DuckDB (over the Arrow
dataset delta-rs exposes, so no DuckDB extension is downloaded), on a local disk and on S3."""

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable

from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import INGESTED_DATASETS, SPECS, Dataset
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.tables import LakeTables, lake_tables
from ai_trader_assets_tests.support.lake import demo_frame, s3_lake
from ai_trader_assets_tests.support.s3 import create_bucket, moto_server

FIRST, LAST = dt.date(2026, 10, 26), dt.date(2026, 11, 6)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "s3"])
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LakeTables, dict[Dataset, int]]]:
    if request.param == "local":
        lake = Lake(str(tmp_path / "lake"))
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"engines-{uuid.uuid4().hex[:8]}"
        create_bucket(endpoint, bucket)
        lake = s3_lake(endpoint, bucket)
    database = MarketDatabase(f"sqlite:///{tmp_path / 'market.db'}")
    tables = lake_tables(lake, load_config(), database)
    counts = {}
    for dataset in INGESTED_DATASETS:
        first = dt.date(2016, 1, 1) if dataset == Dataset.CORPORATE_ACTIONS else FIRST
        frame = demo_frame(dataset, ["AAPL", "MSFT", "NVDA"], first, LAST)
        counts[dataset] = tables.store(dataset, frame, 2, Commit("ingest", "engines"))
        assert counts[dataset] > 0
    yield tables, counts
    database.dispose()


def test_polars_reads_every_table_as_delta(filled: tuple[LakeTables, dict[Dataset, int]]) -> None:
    tables, counts = filled
    for dataset, rows in counts.items():
        uri, options = tables.lake.table_uri(dataset), tables.lake.storage_options()
        frame = pl.read_delta(uri, storage_options=options)
        assert frame.height == rows, dataset
        key = list(SPECS[dataset].key)
        assert frame.select(key).is_duplicated().sum() == 0
        assert {"session", "layer"} <= set(frame.columns)
        if dataset != Dataset.NEWS:
            one = pl.scan_delta(uri, storage_options=options).filter(pl.col("symbol") == "MSFT").collect()
            assert (
                set(one["symbol"]) == {"MSFT"}
                and one.height == frame.filter(pl.col("symbol") == "MSFT").height
            )


def test_duckdb_queries_every_table_without_downloading_an_extension(
    filled: tuple[LakeTables, dict[Dataset, int]],
) -> None:
    tables, counts = filled
    connection = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    for dataset, rows in counts.items():
        table = DeltaTable(tables.lake.table_uri(dataset), storage_options=tables.lake.storage_options())
        connection.register(dataset.value, table.to_pyarrow_dataset())
        key = ", ".join(SPECS[dataset].key)
        [(total, distinct)] = connection.execute(
            f"SELECT count(*), count(DISTINCT ({key})) FROM {dataset.value}"
        ).fetchall()
        assert total == distinct == rows, dataset
    newest = connection.execute("SELECT max(session) FROM bars_1min WHERE symbol = 'NVDA' AND layer = 2")
    assert newest.fetchall() == [(LAST,)]
    installed = connection.execute(
        "SELECT extension_name FROM duckdb_extensions() "
        "WHERE installed AND extension_name IN ('delta', 'httpfs')"
    ).fetchall()
    assert installed == []
