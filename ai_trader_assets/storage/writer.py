"""Storing a run's partitions: validate, cold first, then hot, quarantine and coverage together.

The partitions are stored in batches of about ``lake.commit_rows`` rows: each batch is one Delta
commit, then one database transaction. The order is the safety property: a failed cold commit
raises before the database is touched, so hot storage and coverage stay as they were and those
partitions are fetched again next time; batches stored before it stay stored.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.datasets.partitions import PartitionData
from ai_trader_assets.datasets.registry import check_rows
from ai_trader_assets.datasets.validation import EMPTY_REJECTS
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.hot_window import copy_to_hot, ranges_to_warm
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.tables import lake_tables
from ai_trader_assets.storage.ledger import Ledger

SMALL_PARTITION_ROWS = 20_000  # below this on average, a slice's partitions are checked as one frame


@dataclasses.dataclass
class WriteTotals:
    rows_written: int = 0
    rows_hot: int = 0
    rows_cold: int = 0
    rows_quarantined: int = 0
    partitions_written: int = 0
    commits: int = 0
    rows_warmed: int = 0  # copied from cold into hot (a grown hot window)


@dataclasses.dataclass(frozen=True)
class _Checked:
    data: PartitionData
    valid: pd.DataFrame
    rejects: pd.DataFrame
    last: bool = True  # the partition's last piece (or its only one)


class PartitionWriter:
    """Writes a run's :class:`PartitionData` to cold and hot storage.

    Args:
        run_id: Recorded with every Delta commit (``ai-trader lake history`` shows it).
    """

    def __init__(
        self, database: MarketDatabase, lake: Lake, config: PlatformConfig, today: dt.date, run_id: str
    ) -> None:
        self.database = database
        self.tables = lake_tables(lake, config, database)
        self.hot = HotStore(database)
        self.ledger = Ledger(database)
        self.config = config
        self.today = today
        self.run_id = run_id

    def warm(self, dataset: Dataset, windows: Mapping[str, tuple[dt.date, dt.date]]) -> int:
        """Copy into hot storage what cold holds for these hot-window sessions and hot lacks."""
        ranges = ranges_to_warm(self.database, dataset, windows)
        return copy_to_hot(self.database, self.tables, dataset, ranges)

    def write(self, parts: Sequence[PartitionData], totals: WriteTotals) -> None:
        checked = []
        for data, (valid, own_rejects) in zip(parts, _checked_rows(parts), strict=True):
            rejects = data.rejects
            if len(own_rejects):
                rejects = pd.concat([rejects, own_rejects], ignore_index=True)
            if valid.empty and not data.fetched and rejects.empty:
                continue  # nothing fetched for this partition: storage stays exactly as it was
            checked.append(_Checked(data, valid, rejects))
        if checked and SPECS[checked[0].data.dataset].bulk:
            # Millions of rows a partition (ticks): stored in pieces of at most runs.piece_rows rows,
            # each its own commit, so a run's memory follows the piece, not the symbol-session.
            for item in checked:
                for piece in _pieces(item, self.config.pipeline.runs.piece_rows):
                    self._write_batch([piece], totals)
            return
        for batch in _batches(checked, self.config.pipeline.lake.commit_rows):
            self._write_batch(batch, totals)

    def _write_batch(self, batch: list[_Checked], totals: WriteTotals) -> None:
        dataset = batch[0].data.dataset
        stored = [c for c in batch if not c.valid.empty]
        if stored:
            frame = (
                stored[0].valid
                if len(stored) == 1
                else pd.concat([c.valid for c in stored], ignore_index=True)
            )
            layers = np.concatenate([np.full(len(c.valid), c.data.layer, dtype=np.int8) for c in stored])
            commit = Commit("ingest", self.run_id, tuple(c.data.key for c in batch))
            self.tables.store(dataset, frame, layers, commit)
            totals.commits += 1
        with self.database.begin() as conn:
            hot = []
            for c in batch:
                window = self.config.window(c.data.layer, dataset)
                assert window is not None  # only ingested datasets are fetched
                totals.rows_quarantined += self.ledger.quarantine(conn, dataset, c.data.key, c.rejects)
                if window.is_hot(c.data.session, self.today) and not c.valid.empty:
                    hot.append(c.valid)
                totals.rows_written += len(c.valid)
                totals.rows_cold += len(c.valid)
                totals.partitions_written += int(c.last)
            if hot:
                rows = hot[0] if len(hot) == 1 else pd.concat(hot, ignore_index=True)
                totals.rows_hot += self.hot.upsert(conn, dataset, rows)
            fetched: dict[dt.date, dict[str, int]] = {}
            through: dict[dt.date, dt.datetime] = {}
            for c in batch:  # partitions of two layers may share a session; their symbols differ
                fetched.setdefault(c.data.session, {}).update(c.data.fetched)
                if c.data.through is not None:  # the run's clock: the same for every layer
                    through[c.data.session] = c.data.through
            self.ledger.record_many(conn, dataset, fetched, through)


def _checked_rows(parts: Sequence[PartitionData]) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Each partition's (rows fit to store, rejects). A slice of many small partitions (a year of
    daily bars is hundreds) is checked as one frame first: when that finds nothing, as is the rule,
    no partition has a problem (a duplicate within one is a duplicate in the whole), and each is
    stored as fetched. Otherwise each partition is checked on its own, as it always was."""
    filled = [data for data in parts if not data.frame.empty]
    rows = sum(len(data.frame) for data in filled)
    if len(filled) > 1 and rows < SMALL_PARTITION_ROWS * len(filled):  # (big ones: one more copy)
        whole = pd.concat([data.frame for data in filled], ignore_index=True)
        if not (SPECS[filled[0].dataset].problems(whole) != "").any():
            return [(data.frame.reset_index(drop=True), EMPTY_REJECTS) for data in parts]
    return [check_rows(data.dataset, data.frame) for data in parts]


def _pieces(item: _Checked, rows: int) -> Iterator[_Checked]:
    """A partition in pieces of at most ``rows`` rows, in (symbol, time) order, cut only between
    distinct times (the rows of one key stay together). Only the last piece records coverage and
    quarantine: a run that dies half-way fetches the whole partition again (idempotently)."""
    valid = item.valid
    if len(valid) <= rows:
        yield item
        return
    spec = SPECS[item.data.dataset]
    time = valid[spec.lake.range_column or spec.time_column].to_numpy()
    codes = pd.factorize(valid["symbol"], sort=True)[0]
    order = np.lexsort((time, codes))
    time, codes = time[order], codes[order]
    start = 0
    while start < len(order):
        end = min(start + rows, len(order))
        while 0 < end < len(order) and codes[end] == codes[end - 1] and time[end] == time[end - 1]:
            end += 1  # never between two rows of one instant
        last = end == len(order)
        data = item.data if last else dataclasses.replace(item.data, fetched={})
        rejects = item.rejects if last else item.rejects.iloc[:0]
        yield _Checked(data, valid.iloc[order[start:end]].reset_index(drop=True), rejects, last)
        start = end


def _batches(checked: list[_Checked], rows_per_commit: int) -> Iterator[list[_Checked]]:
    """Consecutive partitions, cut when the next one would take a batch past the row budget."""
    batch: list[_Checked] = []
    rows = 0
    for item in checked:
        if batch and rows + len(item.valid) > rows_per_commit:
            yield batch
            batch, rows = [], 0
        batch.append(item)
        rows += len(item.valid)
    if batch:
        yield batch
