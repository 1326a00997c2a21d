"""Storing one partition's result: validate, cold first, then hot, quarantine and coverage together.

The order is the safety property: a failed cold write raises before anything touches the database,
so hot storage and coverage stay as they were and the partition is fetched again next time.
"""

import dataclasses
import datetime as dt

import pandas as pd

from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.ingest import PartitionData
from ai_trader_assets.storage.cold import ColdStore
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.datasets import check_rows
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.ledger import Ledger


@dataclasses.dataclass
class WriteTotals:
    rows_written: int = 0
    rows_hot: int = 0
    rows_cold: int = 0
    rows_quarantined: int = 0
    partitions_written: int = 0


class PartitionWriter:
    def __init__(self, database: MarketDatabase, lake: Lake, config: PlatformConfig, today: dt.date) -> None:
        self.database = database
        self.cold = ColdStore(lake)
        self.hot = HotStore(database)
        self.ledger = Ledger(database)
        self.config = config
        self.today = today

    def write(self, data: PartitionData, totals: WriteTotals) -> None:
        valid, own_rejects = check_rows(data.dataset, data.frame)
        rejects = pd.concat([data.rejects, own_rejects], ignore_index=True)
        if valid.empty and not data.fetched and rejects.empty:
            return  # nothing fetched for this partition: storage stays exactly as it was
        window = self.config.window(data.layer, data.dataset)
        assert window is not None  # only ingested datasets are fetched
        if not valid.empty:
            self.cold.merge(data.dataset, data.session, data.layer, valid)
        with self.database.begin() as conn:
            totals.rows_quarantined += self.ledger.quarantine(conn, data.dataset, data.key, rejects)
            if window.is_hot(data.session, self.today):
                totals.rows_hot += self.hot.upsert(conn, data.dataset, valid)
            self.ledger.record(conn, data.dataset, data.session, data.fetched)
        totals.rows_written += len(valid)
        totals.rows_cold += len(valid)
        totals.partitions_written += 1
