"""The IO manager where the retention policy lives: cold always, hot when inside the layer's hot window
(see :class:`ai_trader_assets.storage.writer.PartitionWriter` for the write order).

It is bound as the default ``io_manager`` as well, so nothing in the project is ever pickled.
"""

import datetime as dt
import time
from typing import Any

import dagster as dg
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets import BAR_DATASETS, SPECS, Dataset
from ai_trader_assets.datasets.bars import READ_COLUMNS as BAR_READ_COLUMNS
from ai_trader_assets.datasets.partitions import parse_partition_key
from ai_trader_assets.defs.platform.resources import (
    LakeResource,
    MarketDatabaseResource,
    PlatformConfigResource,
)
from ai_trader_assets.ingest import IngestStream, describe
from ai_trader_assets.read import MarketData
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.derived import DerivedTable
from ai_trader_assets.storage.lake.location import DERIVED_TABLES
from ai_trader_assets.storage.lake.locking import TableLocks
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.writer import PartitionWriter, WriteTotals

LOADED_BAR_COLUMNS = [*BAR_READ_COLUMNS, "session"]


class MarketDataIOManager(dg.ConfigurableIOManager):
    """Stores a run's :class:`IngestStream` in hot and cold storage, slice by slice; loads frames back."""

    platform: dg.ResourceDependency[PlatformConfigResource]
    market_db: dg.ResourceDependency[MarketDatabaseResource]
    lake: dg.ResourceDependency[LakeResource]

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:  # ops that return nothing (the retention job) have nothing to store
            return
        name = context.asset_key.path[-1] if context.has_asset_key else None
        if isinstance(obj, pd.DataFrame) and name in DERIVED_TABLES:
            self._store_derived(context, name, obj)
            return
        if not isinstance(obj, IngestStream):
            raise TypeError(
                f"{name or 'this output'}: the market-data IO manager stores an IngestStream or a "
                f"derived table's frame, got {type(obj).__name__}; nothing is ever pickled"
            )
        config = self.platform.get()
        writer = PartitionWriter(
            self.market_db.database, self.lake.get_lake(), config, self.platform.today(), context.run_id
        )
        totals = WriteTotals()
        started = time.perf_counter()
        # What cold already holds for the run's hot-window sessions goes to hot first (no fetch).
        totals.rows_warmed = writer.warm(obj.dataset, obj.hot_windows)
        windows: dict[str, str] = {}
        layers: set[int] = set()
        slices = 0
        for piece in obj:  # each slice is fetched here, stored, then the next one
            for data in piece:
                layers.add(data.layer)
                window = config.window(data.layer, data.dataset)
                if window is not None:
                    windows[f"layer {data.layer}"] = f"hot {window.hot_days} d / cold {window.cold_days} d"
            writer.write(piece, totals)
            obj.stored(piece)
            slices += 1
        for line in obj.report.failovers:
            context.log.warning(f"failover: {line}")
        seconds = time.perf_counter() - started
        context.add_output_metadata(
            describe(obj.report)
            | self._window_coverage(obj.dataset, sorted(layers))
            | {
                # Numbers, so the asset's Plots tab draws them over its runs.
                "seconds": round(seconds, 3),
                "rows/s": round(totals.rows_written / seconds, 1) if seconds > 0 else 0.0,
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

    def _window_coverage(self, dataset: Dataset, layers: list[int]) -> dict[str, float]:
        """Per layer of the run, the share of its cold window's (session, member) pairs stored whole."""
        config, today = self.platform.get(), self.platform.today()
        database = self.market_db.database
        companies, ledger = CompaniesRepository(database), Ledger(database)
        shares = {}
        for layer in layers:
            window, members = config.window(layer, dataset), companies.members(layer)
            if window is None or not config.ingests(layer, dataset) or not members:
                continue
            sessions = calendar.sessions(config.window_start(window.cold_days, today), today)
            if sessions:
                stored = ledger.count_covered(dataset, sessions[0], sessions[-1], members)
                shares[f"window coverage layer {layer}"] = round(stored / (len(sessions) * len(members)), 4)
        return shares

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        """The upstream partitions' rows through :class:`MarketData` (hot and cold, each key once):
        the symbols of each partition's layer, over its sessions. Input metadata may ask for
        ``adjust`` (``none``, ``splits``, ``all``) and ``lookback_sessions`` before the first one."""
        name = context.asset_key.path[-1]
        partitions = [parse_partition_key(key) for key in context.asset_partition_keys]
        sessions = sorted({s for s, _ in partitions})
        layers = sorted({layer for _, layer in partitions})
        if name in DERIVED_TABLES:
            return DerivedTable(self.lake.get_lake(), name).read(sessions, layers)
        dataset = Dataset(name)
        options = context.definition_metadata or {}
        lookback = int(options.get("lookback_sessions", 0))
        first = calendar.sessions(sessions[0] - dt.timedelta(days=2 * lookback + 10), sessions[0])
        start = first[-1 - lookback] if lookback else sessions[0]
        config = self.platform.get()
        repository = CompaniesRepository(self.market_db.database)
        symbols = sorted(
            {s for layer in layers if config.ingests(layer, dataset) for s in repository.members(layer)}
        )
        if not symbols:
            return SPECS[dataset].empty()
        with MarketData(
            self.market_db.database, self.lake.get_lake(), config=config, today=self.platform.today()
        ) as reader:
            if dataset in BAR_DATASETS:
                interval = dataset.value.removeprefix("bars_")
                adjust = str(options.get("adjust", "none"))
                return reader.bars(
                    symbols, interval, start, sessions[-1], adjust=adjust, columns=LOADED_BAR_COLUMNS
                )
            if dataset == Dataset.NEWS:
                return reader.news(symbols, start, sessions[-1])
            return reader.corporate_actions(symbols, start, sessions[-1])

    def _store_derived(self, context: dg.OutputContext, name: str, frame: pd.DataFrame) -> None:
        partitions = [parse_partition_key(key) for key in context.asset_partition_keys]
        database = self.market_db.database
        config = self.platform.get()
        lake = self.lake.get_lake()
        table = DerivedTable(
            lake, name, TableLocks(database, lake, config.pipeline.lake.lock_timeout_seconds)
        )
        rows = 0
        for layer in sorted({layer for _, layer in partitions}):
            sessions = sorted({s for s, of in partitions if of == layer})
            part = frame[frame["layer"] == layer].drop(columns="layer") if "layer" in frame else frame
            rows += table.replace(
                part, sessions, layer, Commit("derive", context.run_id, tuple(context.asset_partition_keys))
            )
        context.add_output_metadata(
            {"rows written": rows, "partitions written": len(partitions), "table": lake.describe(name)}
        )
