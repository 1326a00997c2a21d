"""Maintenance of the Delta tables (cluster closed buckets, vacuum, checkpoint) and the migration of a
lake written in the first release's layout."""

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake, LakeError
from ai_trader_assets.storage.lake.clustering import cluster_bucket
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.layout import LAYOUTS
from ai_trader_assets.storage.lake.maintenance import buckets_to_cluster, maintain_table
from ai_trader_assets.storage.lake.migration import has_legacy_layout, legacy_partitions, migrate_dataset
from ai_trader_assets.storage.lake.tables import LakeTables, lake_tables
from ai_trader_assets_tests.support.lake import demo_frame

MINUTE = Dataset.BARS_1MIN
TODAY = dt.date(2026, 11, 20)
SESSIONS = calendar.sessions(dt.date(2026, 9, 28), TODAY)  # Sept 28 .. Nov 20: three months, one open


@pytest.fixture
def tables(tmp_path: Path) -> Iterator[LakeTables]:
    database = MarketDatabase(f"sqlite:///{tmp_path / 'market.db'}")
    yield lake_tables(Lake(str(tmp_path / "lake")), load_config(), database)
    database.dispose()


def daily_ingest(tables: LakeTables, sessions: list[dt.date], symbols: list[str], layer: int = 2) -> None:
    """One commit per session, as the daily schedule writes them."""
    for session in sessions:
        frame = demo_frame(MINUTE, symbols, session, session)
        tables.store(MINUTE, frame, layer, Commit("ingest", f"run-{session}", (f"{session}|{layer}",)))


def rows(tables: LakeTables, **filters: object) -> pd.DataFrame:
    frame = tables.read(MINUTE, columns=["symbol", "ts", "close", "layer"], **filters).to_pandas()  # type: ignore[arg-type]
    return frame.sort_values(["symbol", "ts"]).reset_index(drop=True)


def files_per_month(tables: LakeTables) -> dict[str, int]:
    table = tables.open(MINUTE)
    assert table is not None
    counts: dict[str, int] = {}
    for path in table.file_uris():
        month = path.split("month=")[1].split("/")[0]
        counts[month] = counts.get(month, 0) + 1
    return counts


def test_maintenance_clusters_closed_months_only_and_keeps_every_row(tables: LakeTables) -> None:
    daily_ingest(tables, SESSIONS, ["MSFT", "AAPL", "NVDA"])
    before, version = rows(tables), tables.open(MINUTE).version()  # type: ignore[union-attr]
    assert files_per_month(tables) == {"2026-09": 3, "2026-10": 22, "2026-11": 15}

    # The open month (15 daily files) is clustered too once it holds more than open_bucket_max_files.
    table = tables.open(MINUTE)
    assert buckets_to_cluster(table, MINUTE, TODAY, open_max_files=14) == ["2026-09", "2026-10", "2026-11"]  # type: ignore[arg-type]
    assert buckets_to_cluster(table, MINUTE, TODAY, open_max_files=15) == ["2026-09", "2026-10"]  # type: ignore[arg-type]
    dry = maintain_table(tables, MINUTE, TODAY, run_id="dry", dry_run=True)
    assert dry.clustered == ["2026-09", "2026-10"] and tables.open(MINUTE).version() == version  # type: ignore[union-attr]

    report = maintain_table(tables, MINUTE, TODAY, run_id="night-1")
    assert report.clustered == ["2026-09", "2026-10"]
    assert (report.files_before, report.files_after) == (40, 17)
    assert files_per_month(tables) == {"2026-09": 1, "2026-10": 1, "2026-11": 15}  # open month untouched
    pd.testing.assert_frame_equal(rows(tables), before)
    runs = [v.run_id for v in tables.history(MINUTE, 3)]
    assert runs[:2] == ["night-1", "night-1"] and report.checkpoint is not None  # one commit a month
    log = Path(tables.lake.table_uri(MINUTE)) / "_delta_log"
    assert any(p.name.endswith(".checkpoint.parquet") for p in log.iterdir())

    # Sorted by symbol inside the clustered month: a one-symbol read touches few row groups.
    table = tables.open(MINUTE)
    october = next(p for p in table.file_uris() if "month=2026-10" in p)  # type: ignore[union-attr]
    assert pq.read_table(october, columns=["symbol"])["symbol"].to_pylist() == sorted(
        pq.read_table(october, columns=["symbol"])["symbol"].to_pylist()
    )
    again = maintain_table(tables, MINUTE, TODAY, run_id="night-2")
    assert again.clustered == []  # nothing left to do

    # A promotion's backfill adds a file to a closed month: the next night clusters it again.
    daily_ingest(tables, SESSIONS[5:8], ["IBM"], layer=3)
    table = tables.open(MINUTE)
    assert buckets_to_cluster(table, MINUTE, TODAY) == ["2026-10"]  # type: ignore[arg-type]
    maintain_table(tables, MINUTE, TODAY, run_id="night-3")
    # Clustered by layer first: layer 3's rows follow layer 2's, each sorted by symbol and time.
    october = next(p for p in tables.open(MINUTE).file_uris() if "month=2026-10" in p)  # type: ignore[union-attr]
    order = pq.read_table(october, columns=["layer", "symbol", "ts"]).to_pylist()
    keys = [(r["layer"], r["symbol"], r["ts"]) for r in order]
    assert keys == sorted(keys) and {k[0] for k in keys} == {2, 3}


def test_vacuum_keeps_time_travel_days_of_history_and_removes_the_rest(tables: LakeTables) -> None:
    daily_ingest(tables, SESSIONS[:6], ["AAPL"])
    maintain_table(tables, MINUTE, TODAY, run_id="night-1")  # September and October: compacted
    table = tables.open(MINUTE)
    assert table is not None
    root = Path(tables.lake.table_uri(MINUTE))
    live = {Path(u.removeprefix("file://")) for u in table.file_uris()}
    replaced = {p for p in root.rglob("*.parquet") if "_delta_log" not in p.parts} - live
    orphan = root / "month=2026-10" / "part-00000-left-by-a-killed-writer.parquet"  # never committed
    orphan.write_bytes(b"never committed")
    old = time.time() - 8 * 86_400
    os.utime(orphan, (old, old))
    assert replaced

    # Files replaced by the compaction today stay for lake.time_travel_days (7): old versions read fine.
    dry = maintain_table(tables, MINUTE, TODAY, run_id="night-2", dry_run=True)
    assert dry.vacuumed == 1 and orphan.exists()
    assert maintain_table(tables, MINUTE, TODAY, run_id="night-3").vacuumed == 1
    assert not orphan.exists() and all(p.exists() for p in replaced)
    assert tables.read(MINUTE, version=4).num_rows == 4 * 390  # version 0 created the table

    # With no history promised, the replaced files go, and so does travel to the versions that used them.
    no_history = LakeTables(tables.lake, tables.spec.model_copy(update={"time_travel_days": 0}), tables.locks)
    assert maintain_table(no_history, MINUTE, TODAY, run_id="night-4").vacuumed == len(replaced)
    assert not any(p.exists() for p in replaced)
    assert tables.read(MINUTE).num_rows == 6 * 390
    with pytest.raises(LakeError):
        tables.read(MINUTE, version=4)


# ------------------------------------------------------------------------------------------ migration


def write_first_release_partition(
    lake_root: Path, dataset: Dataset, session: dt.date, layer: int, frame: pd.DataFrame
) -> None:
    """Exactly what the first release's ColdStore.replace wrote (commit caab6a7, storage/cold.py)."""
    folder = lake_root / dataset.value / f"date={session.isoformat()}" / f"layer={layer}"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pandas(conform(frame, SPECS[dataset].columns), preserve_index=False),
        folder / "data.parquet",
    )


@pytest.fixture
def old_lake(tmp_path: Path) -> dict[tuple[Dataset, dt.date, int], pd.DataFrame]:
    """A lake of the previous release: every dataset, three sessions, two layers (AAPL in both)."""
    written = {}
    for dataset in (MINUTE, Dataset.BARS_1DAY, Dataset.NEWS, Dataset.CORPORATE_ACTIONS):
        for session in SESSIONS[-3:]:
            for layer, symbols in ((1, ["AAPL", "MSFT"]), (2, ["AAPL", "NVDA"])):
                frame = demo_frame(dataset, symbols, session, session)
                if dataset == Dataset.CORPORATE_ACTIONS:
                    frame = demo_frame(dataset, symbols, dt.date(2016, 1, 1), session)
                    frame = frame[pd.to_datetime(frame["ex_date"]).dt.date == session]
                if frame.empty:
                    continue
                write_first_release_partition(tmp_path / "lake", dataset, session, layer, frame)
                written[(dataset, session, layer)] = frame
    return written


def test_migration_moves_every_old_row_once_and_removes_the_old_files(
    tables: LakeTables, old_lake: dict[tuple[Dataset, dt.date, int], pd.DataFrame]
) -> None:
    lake = tables.lake
    daily_ingest(tables, SESSIONS[-1:], ["NVDA"], layer=3)  # written since the upgrade: newer, kept
    newer = rows(tables, symbols=["NVDA"])
    datasets = sorted({d for d, _, _ in old_lake})
    for dataset in datasets:
        assert has_legacy_layout(lake, dataset)
        report = migrate_dataset(tables, dataset, run_id="migrate-1")
        expected = pd.concat([f for (d, _, _), f in old_lake.items() if d == dataset], ignore_index=True)
        key = list(SPECS[dataset].key)
        stored = tables.read(dataset).to_pandas()
        assert not stored.duplicated(key).any()
        assert set(map(tuple, stored[key].astype(str).to_numpy())) >= set(
            map(tuple, expected[key].astype(str).to_numpy())
        )
        assert report.removed == report.partitions == sum(1 for d, _, _ in old_lake if d == dataset)
        assert not has_legacy_layout(lake, dataset) and legacy_partitions(lake, dataset) == []
        assert next(v.operation for v in tables.history(dataset)) == "WRITE"
    after = rows(tables, symbols=["NVDA"], sessions=SESSIONS[-1:])
    pd.testing.assert_frame_equal(after, newer)  # the newer rows won: still layer 3, not the old layer 2
    minute = rows(tables)
    assert len(minute) == len(minute.drop_duplicates(["symbol", "ts"])) == 3 * 3 * 390


def test_an_interrupted_migration_finishes_on_the_next_run_without_duplicates(
    tables: LakeTables,
    old_lake: dict[tuple[Dataset, dt.date, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ai_trader_assets.storage.lake import migration

    real_verify, verified = migration._verify, list[object]()

    def interrupted_at_the_third(*args: Any) -> None:
        if len(verified) == 2:
            raise KeyboardInterrupt  # the operator's Ctrl-C: two old partitions done, the third committed
        verified.append(args)
        real_verify(*args)

    one_per_commit = LakeTables(
        tables.lake, tables.spec.model_copy(update={"commit_rows": 800}), tables.locks
    )
    monkeypatch.setattr(migration, "_verify", interrupted_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        migrate_dataset(one_per_commit, MINUTE, run_id="migrate-1")
    monkeypatch.undo()
    assert len(legacy_partitions(tables.lake, MINUTE)) == 6 - 2
    report = migrate_dataset(tables, MINUTE, run_id="migrate-2")
    assert (report.partitions, report.removed) == (4, 4)
    minute = rows(tables)
    assert len(minute) == len(minute.drop_duplicates(["symbol", "ts"])) == 3 * 3 * 390
    assert not has_legacy_layout(tables.lake, MINUTE)


def test_vacuum_leaves_an_unmigrated_lake_alone(
    tables: LakeTables, old_lake: dict[tuple[Dataset, dt.date, int], pd.DataFrame]
) -> None:
    daily_ingest(tables, SESSIONS[:1], ["AAPL"])
    report = maintain_table(tables, MINUTE, TODAY, run_id="night")
    assert report.vacuumed == 0 and "ai-trader lake migrate" in report.notes[0]
    assert len(legacy_partitions(tables.lake, MINUTE)) == 6


def test_a_partition_that_does_not_verify_keeps_its_old_file(
    tables: LakeTables,
    old_lake: dict[tuple[Dataset, dt.date, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(LakeTables, "upsert", lambda *_, **__: 0)  # a store that silently lost the rows
    with pytest.raises(LakeError, match=r"did not verify after migration .* its old file is kept"):
        migrate_dataset(tables, MINUTE, run_id="migrate-1")
    assert len(legacy_partitions(tables.lake, MINUTE)) == 6


def test_a_bucket_too_large_for_memory_is_rewritten_as_a_stream_and_loses_nothing(tables: LakeTables) -> None:
    """Past the memory budget the sorted rows are streamed to delta-rs in one commit. delta-rs writes
    a stream's batches in parallel, so the file holds interleaved stretches of the sorted rows (reads
    sort them, and prune less): what must hold is every row, once, in one commit."""
    october = [s for s in SESSIONS if s.month == 10]
    daily_ingest(tables, october, ["MSFT", "AAPL", "AMD", "INTC"], layer=2)
    daily_ingest(tables, october, ["NVDA", "IBM", "F", "GM"], layer=3)  # ~69k rows: two batches or more
    before, version = rows(tables), tables.open(MINUTE).version()  # type: ignore[union-attr]
    table = tables.open(MINUTE)
    assert table is not None
    commit = Commit("maintain", "stream")
    cluster_bucket(table, LAYOUTS[MINUTE], "2026-10", commit, memory_mb=256, stored_bytes=2**40)
    table.update_incremental()
    assert table.version() == version + 1 and tables.history(MINUTE, 1)[0].run_id == "stream"
    pd.testing.assert_frame_equal(rows(tables), before)
    assert len([p for p in table.file_uris() if "month=2026-10" in p]) == 1
