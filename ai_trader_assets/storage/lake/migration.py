"""Converting the first release's lake (``{dataset}/date=YYYY-MM-DD/layer=L/data.parquet``) into the
Delta tables, which live at the same ``{dataset}`` folders.

Old partitions are added in commits of about ``lake.commit_rows`` rows with ``prefer="existing"``: a
key the Delta table already holds (written since the upgrade, or by an interrupted earlier run of
the migration) is kept as it is, so re-running after an interruption duplicates nothing. Each old
partition is then verified against the table (its row count and key checksum, read back) and only
then its file is removed. Until a dataset is migrated, vacuum leaves its folder alone.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.datasets.registry import key_checksum
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.location import Lake, LakeError
from ai_trader_assets.storage.lake.tables import LakeTables

LEGACY_FILE = "data.parquet"


@dataclasses.dataclass(frozen=True)
class LegacyPartition:
    session: dt.date
    layer: int
    path: str  # of the data file, in the lake's pyarrow filesystem
    rows: int

    @property
    def key(self) -> str:
        return f"{self.session.isoformat()}|{self.layer}"


@dataclasses.dataclass
class MigrationReport:
    dataset: str
    partitions: int = 0
    rows: int = 0
    added: int = 0  # rows the table lacked
    removed: int = 0  # old partition files verified and deleted


def _dataset_root(lake: Lake, dataset: Dataset) -> str:
    return f"{lake.root}/{Dataset(dataset).value}"


def has_legacy_layout(lake: Lake, dataset: Dataset) -> bool:
    """Whether the dataset's folder still has ``date=…`` folders of the old layout."""
    selector = pafs.FileSelector(_dataset_root(lake, dataset), recursive=False, allow_not_found=True)
    try:
        infos = lake.filesystem().get_file_info(selector)
    except OSError as exc:
        raise LakeError(f"cannot list {lake.describe(dataset)}: {exc}") from exc
    return any(info.base_name.startswith("date=") for info in infos)


def legacy_partitions(lake: Lake, dataset: Dataset) -> list[LegacyPartition]:
    """Every old-layout partition file of a dataset, in (session, layer) order."""
    base = _dataset_root(lake, dataset)
    if not has_legacy_layout(lake, dataset):
        return []
    filesystem = lake.filesystem()
    found = []
    for info in filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True)):
        parts = info.path.removeprefix(base).strip("/").split("/")
        if len(parts) == 3 and parts[0].startswith("date=") and parts[2] == LEGACY_FILE:
            rows = pq.ParquetFile(info.path, filesystem=filesystem).metadata.num_rows
            session = dt.date.fromisoformat(parts[0].removeprefix("date="))
            found.append(LegacyPartition(session, int(parts[1].removeprefix("layer=")), info.path, rows))
    return sorted(found, key=lambda p: (p.session, p.layer))


def _batches(partitions: list[LegacyPartition], rows_per_commit: int) -> Iterator[list[LegacyPartition]]:
    batch: list[LegacyPartition] = []
    rows = 0
    for partition in partitions:
        if batch and rows + partition.rows > rows_per_commit:
            yield batch
            batch, rows = [], 0
        batch.append(partition)
        rows += partition.rows
    if batch:
        yield batch


def migrate_dataset(
    tables: LakeTables,
    dataset: Dataset,
    *,
    run_id: str,
    dry_run: bool = False,
    on_partition: Callable[[], None] | None = None,
) -> MigrationReport:
    """Move one dataset's old partitions into its Delta table; a dry run only counts them."""
    lake, report = tables.lake, MigrationReport(dataset.value)
    partitions = legacy_partitions(lake, dataset)
    report.partitions, report.rows = len(partitions), sum(p.rows for p in partitions)
    if dry_run or not partitions:
        return report
    filesystem = lake.filesystem()
    columns = SPECS[dataset].columns
    for batch in _batches(partitions, tables.spec.commit_rows):
        frames = [conform(pq.read_table(p.path, filesystem=filesystem).to_pandas(), columns) for p in batch]
        layers = np.concatenate(
            [np.full(len(f), p.layer, dtype=np.int8) for f, p in zip(frames, batch, strict=True)]
        )
        commit = Commit("migrate", run_id, tuple(p.key for p in batch))
        report.added += tables.store(
            dataset, pd.concat(frames, ignore_index=True), layers, commit, prefer="existing"
        )
        for partition, frame in zip(batch, frames, strict=True):
            _verify(tables, dataset, partition, frame)
            filesystem.delete_dir(partition.path.rsplit("/", 1)[0])
            report.removed += 1
            if on_partition:
                on_partition()
    _remove_empty_date_folders(lake, dataset)
    return report


def _verify(tables: LakeTables, dataset: Dataset, partition: LegacyPartition, frame: pd.DataFrame) -> None:
    """Every key of the old partition is in the table: same count, same key checksum."""
    key = list(SPECS[dataset].key)
    if frame.empty:
        return
    stored = tables.read(dataset, sessions=[partition.session], columns=key).to_pandas()
    stored = stored.astype({c: frame[c].dtype for c in key})
    found = stored.merge(frame[key].drop_duplicates(), on=key, how="inner").drop_duplicates()
    expected = frame[key].drop_duplicates()
    if key_checksum(found, key) != key_checksum(expected, key):
        raise LakeError(
            f"{tables.lake.describe(dataset)}: partition {partition.key} did not verify after migration "
            f"({len(found)} of {len(expected)} keys found); its old file is kept"
        )


def _remove_empty_date_folders(lake: Lake, dataset: Dataset) -> None:
    if not lake.is_local:
        return  # S3 has no folders: the last file gone, the prefix is gone
    filesystem = lake.filesystem()
    selector = pafs.FileSelector(_dataset_root(lake, dataset), recursive=False, allow_not_found=True)
    for info in filesystem.get_file_info(selector):
        if info.type == pafs.FileType.Directory and info.base_name.startswith("date="):
            inside = filesystem.get_file_info(pafs.FileSelector(info.path, recursive=True))
            if not any(i.type == pafs.FileType.File for i in inside):
                filesystem.delete_dir(info.path)
