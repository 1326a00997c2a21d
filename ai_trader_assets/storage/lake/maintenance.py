"""Nightly care of the Delta tables: cluster closed time buckets by symbol, vacuum, checkpoint.

- **Cluster**: a closed bucket (a past month or year: no session of it can still be written by the
  daily ingest) that holds more files than its size needs is rewritten sorted by layer, symbol and
  time (:mod:`.clustering`; news: delta-rs ``compact``), sorting in at most
  ``lake.maintenance_memory_mb`` before spilling to disk. The open bucket keeps its daily files until
  it holds more than ``lake.open_bucket_max_files`` (a year bucket gathers a file per session and
  layer: ~1,000 by December, which a year's read would open one by one); rewriting it every night
  would rewrite every file.
- **Vacuum**: files no longer referenced for more than ``lake.time_travel_days`` are deleted (so
  time travel keeps working that far back), including files of commits that never completed.
- **Checkpoint**: the log is checkpointed and expired log entries are removed.

Everything runs under the table's write lock, so it is safe next to running ingestion.
"""

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import pyarrow as pa
from deltalake import DeltaTable

from ai_trader_assets.datasets import INGESTED_DATASETS, Dataset
from ai_trader_assets.storage.lake.clustering import cluster_bucket
from ai_trader_assets.storage.lake.commits import Commit, table_configuration
from ai_trader_assets.storage.lake.layout import LAYOUTS, TARGET_FILE_BYTES
from ai_trader_assets.storage.lake.migration import has_legacy_layout
from ai_trader_assets.storage.lake.tables import LakeTables

MIB = 2**20


@dataclasses.dataclass
class MaintenanceReport:
    """What maintenance did (or, in a dry run, would do) to one table."""

    dataset: str
    exists: bool = True
    files_before: int = 0
    bytes_before: int = 0
    files_after: int = 0
    bytes_after: int = 0
    clustered: list[str] = dataclasses.field(default_factory=list)
    vacuumed: int = 0
    checkpoint: int | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        if not self.exists:
            return "no table yet"
        parts = [
            f"files {self.files_before} -> {self.files_after}",
            f"MiB {self.bytes_before / MIB:.1f} -> {self.bytes_after / MIB:.1f}",
            f"clustered {', '.join(self.clustered) or 'none'}",
            f"vacuumed {self.vacuumed} file(s)",
        ]
        if self.checkpoint is not None:
            parts.append(f"checkpoint at version {self.checkpoint}")
        return "; ".join(parts + self.notes)


def _bucket_footprint(table: DeltaTable, bucket: str) -> dict[str, tuple[int, int]]:
    """(files, bytes) per bucket value, from the log (no data read)."""
    actions = pa.table(table.get_add_actions(flatten=True))
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    if actions.num_rows:
        for value, size in zip(
            actions[f"partition.{bucket}"].to_pylist(), actions["size_bytes"].to_pylist(), strict=True
        ):
            found[str(value)][0] += 1
            found[str(value)][1] += int(size)
    return {value: (files, size) for value, (files, size) in found.items()}


def buckets_to_cluster(
    table: DeltaTable, dataset: Dataset, today: dt.date, open_max_files: int | None = None
) -> list[str]:
    """Buckets with more files than their size calls for, oldest first: closed ones, and the open
    one (the current month or year) once it holds more than ``open_max_files`` files."""
    layout = LAYOUTS[dataset]
    current = layout.bucket_of(today)
    return [
        value
        for value, (files, size) in sorted(_bucket_footprint(table, layout.bucket).items())
        if files > max(1, math.ceil(size / TARGET_FILE_BYTES))
        and (value < current or (open_max_files is not None and files > open_max_files))
    ]


def maintain_table(
    tables: LakeTables, dataset: Dataset, today: dt.date, *, run_id: str, dry_run: bool = False
) -> MaintenanceReport:
    """Cluster, vacuum and checkpoint one table; a dry run only reports."""
    report = MaintenanceReport(dataset.value)
    with tables.locked(dataset):
        table = tables.open(dataset)
        if table is None:
            return MaintenanceReport(dataset.value, exists=False)
        before = tables.stats(dataset)
        report.files_before, report.bytes_before = before.files, before.bytes
        commit = Commit("maintain", run_id)
        wanted = {k: v for k, v in table_configuration(tables.spec).items() if v is not None}
        if not dry_run and any(table.metadata().configuration.get(k) != v for k, v in wanted.items()):
            table.alter.set_table_properties(wanted, commit_properties=commit.properties())
        report.clustered = buckets_to_cluster(table, dataset, today, tables.spec.open_bucket_max_files)
        footprint = _bucket_footprint(table, LAYOUTS[dataset].bucket)
        if not dry_run:
            for value in report.clustered:
                _cluster(tables, table, dataset, value, commit, stored_bytes=footprint[value][1])
        if has_legacy_layout(tables.lake, dataset):
            report.notes.append(
                "vacuum skipped: files of the old layout remain (run 'ai-trader lake migrate')"
            )
        else:
            removed = table.vacuum(
                retention_hours=tables.spec.time_travel_days * 24,
                dry_run=dry_run,
                enforce_retention_duration=False,
                full=True,
                commit_properties=commit.properties(),
            )
            report.vacuumed = len(removed)
        if not dry_run:
            table.create_checkpoint()
            table.cleanup_metadata()
            report.checkpoint = table.version()
        after = tables.stats(dataset)
        report.files_after, report.bytes_after = after.files, after.bytes
    return report


def _cluster(
    tables: LakeTables, table: DeltaTable, dataset: Dataset, value: str, commit: Commit, *, stored_bytes: int
) -> None:
    layout = LAYOUTS[dataset]
    if layout.cluster_by is None:  # news: no symbol order to give; merge the small files
        table.optimize.compact(
            partition_filters=[(layout.bucket, "=", value)],
            target_size=TARGET_FILE_BYTES,
            writer_properties=layout.writer_properties,
            commit_properties=commit.properties(),
        )
        return
    cluster_bucket(
        table, layout, value, commit, memory_mb=tables.spec.maintenance_memory_mb, stored_bytes=stored_bytes
    )


def maintain_lake(
    tables: LakeTables,
    today: dt.date,
    *,
    run_id: str,
    dry_run: bool = False,
    datasets: Sequence[Dataset] = INGESTED_DATASETS,
    on_done: Callable[[MaintenanceReport], None] | None = None,
) -> list[MaintenanceReport]:
    """:func:`maintain_table` for every dataset (``on_done`` hears of each, for progress)."""
    reports = []
    for dataset in datasets:
        report = maintain_table(tables, dataset, today, run_id=run_id, dry_run=dry_run)
        reports.append(report)
        if on_done:
            on_done(report)
    return reports
