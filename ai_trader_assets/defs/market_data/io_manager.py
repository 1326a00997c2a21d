"""The IO manager where the retention policy lives: cold always, hot when inside the layer's hot window
(see :class:`ai_trader_assets.storage.writer.PartitionWriter` for the write order).

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
from ai_trader_assets.ingest import IngestStream, describe, parse_partition_key
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.datasets import SPECS, sessions_of
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.lake.tables import lake_tables
from ai_trader_assets.storage.writer import PartitionWriter, WriteTotals


class MarketDataIOManager(dg.ConfigurableIOManager):
    """Stores a run's :class:`IngestStream` in hot and cold storage, slice by slice; loads frames back."""

    platform: dg.ResourceDependency[PlatformConfigResource]
    market_db: dg.ResourceDependency[MarketDatabaseResource]
    lake: dg.ResourceDependency[LakeResource]

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:  # ops that return nothing (the retention job) have nothing to store
            return
        if not isinstance(obj, IngestStream):
            raise TypeError(
                f"{context.asset_key if context.has_asset_key else 'this output'}: the market-data IO "
                f"manager stores an IngestStream only, got {type(obj).__name__}; nothing is ever pickled"
            )
        config = self.platform.get()
        writer = PartitionWriter(
            self.market_db.database, self.lake.get_lake(), config, self.platform.today(), context.run_id
        )
        totals = WriteTotals()
        # What cold already holds for the run's hot-window sessions goes to hot first (no fetch).
        totals.rows_warmed = writer.warm(obj.dataset, obj.hot_windows)
        windows: dict[str, str] = {}
        slices = 0
        for piece in obj:  # each slice is fetched here, stored, then the next one
            for data in piece:
                window = config.window(data.layer, data.dataset)
                if window is not None:
                    windows[f"layer {data.layer}"] = f"hot {window.hot_days} d / cold {window.cold_days} d"
            writer.write(piece, totals)
            obj.stored(piece)
            slices += 1
        context.add_output_metadata(
            describe(obj.report)
            | {
                "slices": slices,
                "rows written": totals.rows_written,
                "rows placed hot": totals.rows_hot,
                "rows placed cold": totals.rows_cold,
                "rows copied cold to hot": totals.rows_warmed,
                "rows quarantined": totals.rows_quarantined,
                "partitions written": totals.partitions_written,
                "lake commits": totals.commits,
                "retention windows applied": windows or "-",
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        """Rows of the upstream partitions, from cold or (if never written cold) hot; each key once."""
        dataset = Dataset(context.asset_key.path[-1])
        spec = SPECS[dataset]
        database = self.market_db.database
        tables, hot = lake_tables(self.lake.get_lake(), self.platform.get()), HotStore(database)
        partitions = [parse_partition_key(key) for key in context.asset_partition_keys]
        in_cold = tables.frame(
            dataset,
            extra=["session", "layer"],
            sessions=sorted({s for s, _ in partitions}),
            layers=sorted({layer for _, layer in partitions}),
        )
        frames = []
        for session, layer in partitions:
            here = (in_cold["session"] == session) & (in_cold["layer"] == layer)
            stored = in_cold[here].drop(columns=["session", "layer"])
            if stored.empty:
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
