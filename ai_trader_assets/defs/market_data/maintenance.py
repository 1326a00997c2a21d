"""The ``maintain_lake`` job and its nightly schedule: cluster, vacuum and checkpoint the Delta tables."""

import dagster as dg

from ai_trader_assets.config import cached_config
from ai_trader_assets.defs.platform.resources import (
    LakeResource,
    MarketDatabaseResource,
    PlatformConfigResource,
)
from ai_trader_assets.defs.platform.scheduling import on_schedule
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage.lake import maintenance
from ai_trader_assets.storage.lake.tables import lake_tables


class MaintenanceConfig(dg.Config):
    dry_run: bool = False
    """Report what would be clustered and vacuumed, without changing anything."""


@dg.op(
    description="Cluster closed time buckets by symbol, vacuum files past lake.time_travel_days, checkpoint."
)
def maintain_lake_op(
    context: dg.OpExecutionContext,
    config: MaintenanceConfig,
    platform: PlatformConfigResource,
    market_db: MarketDatabaseResource,
    lake: LakeResource,
) -> dg.Output[None]:
    tables = lake_tables(lake.get_lake(), platform.get(), market_db.database)
    reports = maintenance.maintain_lake(
        tables,
        platform.today(),
        run_id=context.run_id,
        dry_run=config.dry_run,
        on_done=lambda r: context.log.info("%s: %s", r.dataset, r.summary()),
    )
    metadata: dict[str, dg.RawMetadataValue] = {"dry run": config.dry_run}
    for r in reports:
        metadata[r.dataset] = r.summary()
        if r.exists:
            metadata[f"{r.dataset} files before/after"] = f"{r.files_before} / {r.files_after}"
            metadata[f"{r.dataset} bytes before/after"] = f"{r.bytes_before} / {r.bytes_after}"
    return dg.Output(None, metadata=metadata)


@dg.job(description="Nightly care of the lake's Delta tables (safe next to running ingestion: same locks).")
def maintain_lake() -> None:
    maintain_lake_op()


@dg.definitions
def maintenance_definitions() -> dg.Definitions:
    schedules = cached_config(str(load_settings().config_dir)).pipeline.schedules
    return on_schedule(maintain_lake, "maintain_lake_schedule", schedules.maintain_lake)
