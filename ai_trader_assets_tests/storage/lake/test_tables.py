"""The Delta tables of the lake, on a local disk and on S3 (a local S3-compatible server): layout,
atomic slice replacement, commit metadata and idempotence, time travel, errors."""

import datetime as dt
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import deltalake
import pandas as pd
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.settings import Secret
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake, LakeError
from ai_trader_assets.storage.lake import tables as tables_module
from ai_trader_assets.storage.lake.commits import Commit, literal
from ai_trader_assets.storage.lake.layout import LAYOUTS, ROW_GROUP_ROWS
from ai_trader_assets.storage.lake.scan import pruned_files
from ai_trader_assets.storage.lake.tables import LakeTables, lake_tables
from ai_trader_assets_tests.support.lake import demo_frame, s3_lake
from ai_trader_assets_tests.support.s3 import SECRET_ACCESS_KEY, create_bucket, moto_server

MINUTE = Dataset.BARS_1MIN
OCT, NOV = dt.date(2026, 10, 30), dt.date(2026, 11, 2)  # two sessions in two months


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        return Lake(str(tmp_path / "lake"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    create_bucket(endpoint, bucket)
    return s3_lake(endpoint, bucket)


@pytest.fixture
def tables(lake: Lake, tmp_path: Path) -> Iterator[LakeTables]:
    database = MarketDatabase(f"sqlite:///{tmp_path / 'market.db'}")  # coordinates the writers
    yield lake_tables(lake, load_config(), database)
    database.dispose()


def store(tables: LakeTables, frame: pd.DataFrame, layer: int, run: str = "run-1") -> int:
    return tables.store(MINUTE, frame, layer, Commit("ingest", run, (f"2026-11-02|{layer}",)))


def keys(tables: LakeTables) -> pd.DataFrame:
    return tables.read(MINUTE, columns=["symbol", "ts", "layer", "close"]).to_pandas()


def test_one_table_per_dataset_partitioned_by_month_sorted_by_symbol(tables: LakeTables) -> None:
    frame = demo_frame(MINUTE, ["MSFT", "AAPL"], OCT, NOV)
    assert store(tables, frame, 2) == len(frame) == 2 * 2 * 390
    table = tables.open(MINUTE)
    assert table is not None and table.table_uri.rstrip("/").endswith("/lake/bars_1min")
    assert table.metadata().partition_columns == ["month"]
    assert {"session", "layer", "month"} <= set(table.schema().to_arrow().names)
    assert sorted(p["month"] for p in table.partitions()) == ["2026-10", "2026-11"]
    read = tables.read(MINUTE)
    assert read.num_rows == len(frame) and set(read.column("layer").to_pylist()) == {2}
    if tables.lake.is_local:  # every file sorted by (symbol, ts) in row groups of at most ROW_GROUP_ROWS
        for path in table.file_uris():
            data = pq.read_table(path.removeprefix("file://"))
            pairs = list(zip(data["symbol"].to_pylist(), data["ts"].to_pylist(), strict=True))
            assert pairs == sorted(pairs)
            metadata = pq.ParquetFile(path.removeprefix("file://")).metadata
            assert all(
                metadata.row_group(i).num_rows <= ROW_GROUP_ROWS for i in range(metadata.num_row_groups)
            )


def test_rewriting_a_slice_replaces_its_keys_and_keeps_the_rest(tables: LakeTables) -> None:
    store(tables, demo_frame(MINUTE, ["AAPL", "MSFT"], NOV, NOV), 1)
    refreshed = demo_frame(MINUTE, ["AAPL"], NOV, NOV).assign(close=lambda f: f["close"] + 1000)
    store(tables, refreshed.iloc[:200], 1, run="run-2")  # a partial answer: 200 of AAPL's 390 bars
    stored = keys(tables)
    assert not stored.duplicated(["symbol", "ts"]).any()
    assert len(stored) == 2 * 390  # nothing lost: the other 190 AAPL bars and all of MSFT stay
    aapl = stored[stored["symbol"] == "AAPL"].sort_values("ts")
    assert (aapl["close"].iloc[:200] > 1000).all() and (aapl["close"].iloc[200:] < 1000).all()


def test_a_symbol_written_by_a_higher_layer_moves_there_once(tables: LakeTables) -> None:
    store(tables, demo_frame(MINUTE, ["AAPL", "MSFT"], NOV, NOV), 1)
    store(tables, demo_frame(MINUTE, ["AAPL"], NOV, NOV), 2, run="promotion")
    stored = keys(tables)
    assert not stored.duplicated(["symbol", "ts"]).any() and len(stored) == 2 * 390
    assert set(stored.loc[stored["symbol"] == "AAPL", "layer"]) == {2}
    assert set(stored.loc[stored["symbol"] == "MSFT", "layer"]) == {1}


def test_prefer_existing_only_adds_missing_keys(tables: LakeTables) -> None:
    frame = demo_frame(MINUTE, ["AAPL"], NOV, NOV)
    store(tables, frame.iloc[:100], 1)
    version = tables.open(MINUTE).version()  # type: ignore[union-attr]
    changed = frame.assign(close=frame["close"] + 1000)
    added = tables.store(MINUTE, changed, 1, Commit("retention", "r"), prefer="existing")
    assert added == 290
    stored = keys(tables).sort_values("ts")
    assert len(stored) == 390 and (stored["close"].iloc[:100] < 1000).all()
    assert tables.store(MINUTE, changed, 1, Commit("retention", "r2"), prefer="existing") == 0
    assert tables.open(MINUTE).version() == version + 1  # type: ignore[union-attr]  # no empty commit


def test_commits_record_run_and_partitions_and_a_retried_commit_is_not_applied_twice(
    tables: LakeTables,
) -> None:
    frame = demo_frame(MINUTE, ["AAPL"], NOV, NOV)
    commit = Commit("ingest", "run-42", ("2026-11-02|1",))
    assert tables.store(MINUTE, frame, 1, commit) == 390
    version = tables.open(MINUTE).version()  # type: ignore[union-attr]
    assert tables.store(MINUTE, frame, 1, commit) == 0  # the same commit again: recognised
    assert tables.open(MINUTE).version() == version  # type: ignore[union-attr]
    newest = tables.history(MINUTE)[0]
    assert (newest.operation, newest.run_id, newest.partitions, newest.rows) == (
        "WRITE",
        "run-42",
        "2026-11-02|1",
        "390 written",
    )
    assert tables.store(MINUTE, frame, 1, Commit("ingest", "run-43", ("2026-11-02|1",))) == 390
    assert len(keys(tables)) == 390


def test_a_commit_whose_answer_was_lost_is_not_applied_again(
    tables: LakeTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def lands_then_fails(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        deltalake.write_deltalake(*args, **kwargs)
        raise OSError("connection reset by peer")  # the commit landed, the answer did not

    monkeypatch.setattr(tables_module, "write_deltalake", lands_then_fails)
    assert store(tables, demo_frame(MINUTE, ["AAPL"], NOV, NOV), 1) == 390
    assert len(calls) == 1 and tables.open(MINUTE).version() == 1  # type: ignore[union-attr]
    assert len(keys(tables)) == 390


def test_a_failed_commit_leaves_the_previous_version(
    tables: LakeTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(tables, demo_frame(MINUTE, ["AAPL"], NOV, NOV), 1)
    before = keys(tables)

    def fails(*_: object, **__: object) -> None:
        raise OSError("injected: storage unreachable")

    monkeypatch.setattr(tables_module, "write_deltalake", fails)
    with pytest.raises(LakeError, match="failed, the table is unchanged: injected"):
        store(tables, demo_frame(MINUTE, ["AAPL", "MSFT"], NOV, NOV), 1, run="run-2")
    monkeypatch.undo()
    assert tables.open(MINUTE).version() == 1  # type: ignore[union-attr]
    pd.testing.assert_frame_equal(keys(tables), before)


def test_time_travel_by_version_and_timestamp(tables: LakeTables) -> None:
    store(tables, demo_frame(MINUTE, ["AAPL"], NOV, NOV), 1)
    time.sleep(1.1)  # S3 stamps commits to the second
    between = dt.datetime.now(tz=dt.UTC)
    time.sleep(1.1)
    store(tables, demo_frame(MINUTE, ["MSFT"], NOV, NOV), 1, run="run-2")
    assert tables.read(MINUTE).num_rows == 780
    assert tables.read(MINUTE, version=1).num_rows == 390
    assert set(tables.read(MINUTE, timestamp=between).column("symbol").to_pylist()) == {"AAPL"}
    with pytest.raises(LakeError):
        tables.read(MINUTE, version=99)


def test_reads_filter_by_session_layer_and_symbol(tables: LakeTables) -> None:
    store(tables, demo_frame(MINUTE, ["AAPL", "MSFT"], OCT, NOV), 1)
    store(tables, demo_frame(MINUTE, ["NVDA"], OCT, NOV), 2)
    assert tables.read(MINUTE, symbols=["MSFT"], start=NOV).num_rows == 390
    assert tables.read(MINUTE, sessions=[OCT], layers=[2]).num_rows == 390
    assert tables.read(MINUTE, end=OCT, columns=["symbol"]).num_rows == 3 * 390
    assert tables.read(MINUTE, sessions=[]).num_rows == 0
    assert tables.partitions(MINUTE) == [(OCT, 1), (OCT, 2), (NOV, 1), (NOV, 2)]
    stats = tables.stats(MINUTE)
    assert (stats.oldest_session, stats.newest_session, stats.version, stats.versions) == (OCT, NOV, 2, 3)
    assert stats.files >= 2 and stats.bytes > 0
    assert tables.stats(Dataset.NEWS).exists is False and tables.read(Dataset.NEWS).num_rows == 0


def test_news_ids_with_quotes_are_quoted_and_unprintable_values_refused(tables: LakeTables) -> None:
    news = demo_frame(Dataset.NEWS, ["AAPL"], NOV, NOV)
    news.loc[0, "id"] = "O'Brien's scoop"
    commit = Commit("ingest", "run-1", ("2026-11-02|1",))
    assert tables.store(Dataset.NEWS, news, 1, commit) == len(news)
    assert tables.store(Dataset.NEWS, news, 1, Commit("ingest", "run-2")) == len(news)  # replaced
    stored = tables.frame(Dataset.NEWS, symbols=["AAPL"])
    assert len(stored) == len(news) and "O'Brien's scoop" in set(stored["id"])
    assert literal("O'Brien") == "'O''Brien'"
    for bad in ("back\\slash", "new\nline", "x" * 500):
        with pytest.raises(LakeError, match="cannot be used in a lake predicate"):
            literal(bad)


def test_writing_needs_the_lock_of_a_market_database(lake: Lake) -> None:
    read_only = lake_tables(lake, load_config())
    with pytest.raises(LakeError, match="read-only"):
        read_only.store(MINUTE, demo_frame(MINUTE, ["AAPL"], NOV, NOV), 1, Commit("ingest", "r"))


def test_s3_errors_name_the_location_but_never_the_secret(s3_endpoint: str, tmp_path: Path) -> None:
    lake = s3_lake(s3_endpoint, "no-such-bucket")
    database = MarketDatabase(f"sqlite:///{tmp_path / 'market.db'}")
    with pytest.raises(LakeError) as info:
        lake_tables(lake, load_config(), database).store(
            MINUTE, demo_frame(MINUTE, ["AAPL"], NOV, NOV), 1, Commit("ingest", "r")
        )
    message = str(info.value)
    assert "s3://no-such-bucket/lake/bars_1min" in message
    assert SECRET_ACCESS_KEY not in message and SECRET_ACCESS_KEY not in repr(lake)


def test_half_configured_s3_credentials_are_refused() -> None:
    with pytest.raises(LakeError, match="AWS_SECRET_ACCESS_KEY"):
        Lake("s3://bucket/lake", s3_access_key_id=Secret("id"))


def test_table_names_are_whitelisted() -> None:
    with pytest.raises(ValueError, match="not a valid Dataset"):
        Lake("lake").table_uri("../../etc")


def test_every_dataset_has_a_layout_whose_schema_extends_the_hot_table() -> None:
    for dataset, layout in LAYOUTS.items():
        names = layout.schema.names
        assert names[: len(layout.data_columns)] == layout.data_columns
        assert names[len(layout.data_columns) :] == ["session", "layer", layout.bucket], dataset
    assert DeltaTable.is_deltatable("/nonexistent") is False


def test_a_key_given_twice_in_one_commit_is_stored_once_the_last_winning(tables: LakeTables) -> None:
    frame = demo_frame(MINUTE, ["MSFT", "AAPL"], NOV, NOV)  # one session: rows arrive sorted by symbol
    again = frame.iloc[:10].assign(close=-1.0)  # a refetch of MSFT's first ten bars, given last
    assert store(tables, pd.concat([frame, again], ignore_index=True), 1) == len(frame)
    stored = keys(tables)
    assert len(stored) == len(frame) and not stored.duplicated(["symbol", "ts"]).any()
    msft = stored[stored["symbol"] == "MSFT"].sort_values("ts")
    assert (msft["close"].iloc[:10] == -1.0).all() and (msft["close"].iloc[10:] > 0).all()
    news = demo_frame(Dataset.NEWS, ["AAPL"], NOV, NOV)
    doubled = pd.concat([news, news.iloc[:1].assign(title="corrected")], ignore_index=True)
    assert tables.store(Dataset.NEWS, doubled, 1, Commit("ingest", "n")) == len(news)
    titles = tables.frame(Dataset.NEWS).set_index("id")["title"]
    assert titles[news["id"].iloc[0]] == "corrected"


def test_a_local_lake_whose_path_needs_escaping_reads_by_path(tmp_path: Path) -> None:
    """Local files are read by plain path (faster in Polars than file:// URIs): a lake folder with a
    space and a percent sign, which Delta's URIs escape, still reads back every row."""
    database = MarketDatabase(f"sqlite:///{tmp_path / 'market.db'}")
    tables = lake_tables(Lake(str(tmp_path / "my lake 100%")), load_config(), database)
    store(tables, demo_frame(MINUTE, ["AAPL", "MSFT"], OCT, NOV), 1)
    assert tables.read_polars(MINUTE, symbols=["MSFT"], start=OCT, end=NOV).height == 2 * 390
    database.dispose()


def version_of(tables: LakeTables) -> int:
    table = tables.open(MINUTE)
    assert table is not None
    return table.version()


def test_a_table_written_again_at_the_same_path_is_read_from_its_own_files(tmp_path: Path) -> None:
    """A version's file list is remembered (see storage/lake/files.py): a table deleted and written
    again at the same path restarts at version 0 with other files, and must not be read through
    the old table's list."""
    database = MarketDatabase(f"sqlite:///{tmp_path / 'market.db'}")
    first = lake_tables(Lake(str(tmp_path / "lake")), load_config(), database)
    store(first, demo_frame(MINUTE, ["AAPL"], NOV, NOV), 1)
    assert first.read(MINUTE, symbols=["AAPL"]).num_rows == 390
    old_version = version_of(first)
    shutil.rmtree(tmp_path / "lake" / MINUTE.value)
    again = lake_tables(Lake(str(tmp_path / "lake")), load_config(), database)
    store(again, demo_frame(MINUTE, ["MSFT"], OCT, OCT), 1)
    assert version_of(again) == old_version  # the same version as the old table's
    assert set(again.read(MINUTE).column("symbol").to_pylist()) == {"MSFT"}
    assert again.read(MINUTE, symbols=["MSFT"], start=OCT, end=OCT).num_rows == 390
    database.dispose()


def test_reads_open_only_the_files_that_can_hold_the_rows_in_time_order(tmp_path: Path) -> None:
    """Pruning by the log's statistics (storage/lake/files.py): by month, session, symbol and layer;
    a file without statistics (another engine's) is always opened; files come in time order."""
    database = MarketDatabase(f"sqlite:///{tmp_path / 'market.db'}")
    tables = lake_tables(Lake(str(tmp_path / "lake")), load_config(), database)
    store(tables, demo_frame(MINUTE, ["MSFT"], NOV, NOV), 2, run="nov")
    store(tables, demo_frame(MINUTE, ["AAPL"], OCT, OCT), 1, run="oct")
    layout = LAYOUTS[MINUTE]

    def months(**filters: Any) -> list[str]:
        table = tables.open(MINUTE)  # the latest version
        assert table is not None
        return [uri.split("month=")[1][:7] for uri in pruned_files(table, layout, **filters)]

    assert months() == ["2026-10", "2026-11"]  # time order, not the order written
    assert months(start=NOV) == ["2026-11"] and months(end=OCT) == ["2026-10"]
    assert months(symbols=["MSFT"]) == ["2026-11"] and months(symbols=["NVDA"]) == []
    assert months(layers=[1]) == ["2026-10"] and months(layers=[3]) == []
    # A file without statistics: nothing proves it irrelevant.
    bare = layout.to_arrow(demo_frame(MINUTE, ["NVDA"], NOV, NOV), 3)
    no_statistics = deltalake.WriterProperties(
        default_column_properties=deltalake.ColumnProperties(statistics_enabled="NONE")
    )
    deltalake.write_deltalake(
        tables.lake.table_uri(MINUTE),
        bare,
        mode="append",
        partition_by=["month"],
        writer_properties=no_statistics,
    )
    assert months(symbols=["AAPL"], layers=[1]) == ["2026-10", "2026-11"]  # AAPL's, and the bare one
    assert months(start=NOV, symbols=["AAPL"], layers=[1]) == ["2026-11"]  # (its month is in its path)
    assert months(end=OCT, symbols=["NVDA"]) == []
    assert tables.read(MINUTE, symbols=["NVDA"], start=NOV).num_rows == 390
    database.dispose()
