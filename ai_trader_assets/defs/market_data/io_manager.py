"""The IO manager where the retention policy lives: cold always, hot when inside the layer's hot window.

Per partition: the write path validates the rows (rejects, with provider rejects, go to quarantine),
merges them into the cold Parquet partition first, then in one database transaction upserts them
into the hot table (when the session is hot), records the quarantine and the coverage. A failed
cold write therefore leaves hot storage and coverage untouched, and the partition is fetched again.
It is bound as the default ``io_manager`` as well, so nothing in the project is ever pickled.
"""

import datetime as dt
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from ai_trader_assets.config import Dataset
from ai_trader_assets.defs.platform.resources import (
    LakeResource,
    MarketDatabaseResource,
    PlatformConfigResource,
)
from ai_trader_assets.ingest import PartitionData, parse_partition_key
from ai_trader_assets.storage.cold import ColdStore
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.datasets import SPECS, check_rows, sessions_of
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.ledger import Ledger


class MarketDataIOManager(dg.ConfigurableIOManager):
    """Stores ``{partition key: PartitionData}`` outputs in hot and cold storage; loads frames back."""

    platform: dg.ResourceDependency[PlatformConfigResource]
    market_db: dg.ResourceDependency[MarketDatabaseResource]
    lake: dg.ResourceDependency[LakeResource]

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:  # ops that return nothing (the retention job) have nothing to store
            return
        if not isinstance(obj, dict) or not all(isinstance(v, PartitionData) for v in obj.values()):
            raise TypeError(
                f"{context.asset_key if context.has_asset_key else 'this output'}: the market-data IO "
                f"manager stores {{partition key: PartitionData}} only, got {type(obj).__name__}; "
                "nothing is ever pickled"
            )
        config = self.platform.get()
        today = self.platform.today()
        database = self.market_db.database
        cold, hot, ledger = ColdStore(self.lake.get_lake()), HotStore(database), Ledger(database)
        totals = {
            "rows written": 0,
            "rows placed hot": 0,
            "rows placed cold": 0,
            "rows quarantined": 0,
            "partitions written": 0,
        }
        windows: dict[str, str] = {}
        for data in obj.values():
            valid, own_rejects = check_rows(data.dataset, data.frame)
            rejects = pd.concat([data.rejects, own_rejects], ignore_index=True)
            if valid.empty and not data.fetched and rejects.empty:
                continue  # nothing fetched for this partition: storage stays exactly as it was
            window = config.window(data.layer, data.dataset)
            assert window is not None
            windows[f"layer {data.layer}"] = f"hot {window.hot_days} d / cold {window.cold_days} d"
            is_hot = window.is_hot(data.session, today)
            if not valid.empty:
                cold.merge(data.dataset, data.session, data.layer, valid)
            with database.begin() as conn:
                totals["rows quarantined"] += ledger.quarantine(conn, data.dataset, data.key, rejects)
                if is_hot:
                    totals["rows placed hot"] += hot.upsert(conn, data.dataset, valid)
                ledger.record(conn, data.dataset, data.session, data.fetched)
            totals["rows written"] += len(valid)
            totals["rows placed cold"] += len(valid)
            totals["partitions written"] += 1
        context.add_output_metadata({**totals, "retention windows applied": windows or "-"})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        """Rows of the upstream partitions, from cold or (if never written cold) hot; each key once."""
        dataset = Dataset(context.asset_key.path[-1])
        spec = SPECS[dataset]
        database = self.market_db.database
        cold, hot = ColdStore(self.lake.get_lake()), HotStore(database)
        frames = []
        for key in context.asset_partition_keys:
            session, layer = parse_partition_key(key)
            stored = cold.read(dataset, session, layer)
            if stored is None:
                members = CompaniesRepository(database).members(layer)
                # A generous time range, then exactly the rows whose session this is.
                around = hot.read(
                    dataset,
                    symbols=members,
                    start=session - dt.timedelta(days=7),
                    end=session + dt.timedelta(days=2),
                )
                stored = around[sessions_of(dataset, around) == np.datetime64(session, "D")]
            frames.append(stored)
        combined = pd.concat(frames, ignore_index=True) if frames else spec.empty()
        return combined.drop_duplicates(subset=list(spec.key), keep="last").reset_index(drop=True)
