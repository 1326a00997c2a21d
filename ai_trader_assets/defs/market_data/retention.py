"""The ``enforce_retention`` job and its daily schedule (dry-run through run config)."""

import dagster as dg

from ai_trader_assets.config import cached_config
from ai_trader_assets.defs.platform.resources import (
    LakeResource,
    MarketDatabaseResource,
    PlatformConfigResource,
)
from ai_trader_assets.defs.platform.scheduling import on_schedule
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage.retention import RetentionEngine


class RetentionConfig(dg.Config):
    dry_run: bool = False
    """Report what would move, be deleted and purged, without changing anything."""


@dg.op(
    description="Move hot rows past their hot window to cold (verified first), purge expired cold rows, "
    "copy into hot what cold holds for a grown hot window."
)
def enforce_retention_op(
    context: dg.OpExecutionContext,
    config: RetentionConfig,
    platform: PlatformConfigResource,
    market_db: MarketDatabaseResource,
    lake: LakeResource,
) -> dg.Output[None]:
    engine = RetentionEngine(
        market_db.database, lake.get_lake(), platform.get(), platform.today(), run_id=context.run_id
    )
    counts = engine.run(dry_run=config.dry_run)
    metadata: dict[str, dg.RawMetadataValue] = {
        "dry run": config.dry_run,
        "today": platform.today().isoformat(),
        # Totals as numbers (plotted run over run), then the detail per dataset and layer.
        "rows moved to cold": sum(c.moved for c in counts.values()),
        "rows deleted from hot": sum(c.deleted for c in counts.values()),
        "rows purged from cold": sum(c.purged for c in counts.values()),
        "rows copied cold to hot": sum(c.warmed for c in counts.values()),
        "rows left unverified": sum(c.unverified for c in counts.values()),
    }
    for (dataset, layer), c in sorted(counts.items()):
        metadata[f"{dataset} layer {layer}"] = (
            f"moved {c.moved}, verified {c.verified}, deleted {c.deleted}, kept {c.kept}, "
            f"unverified {c.unverified}, purged {c.purged}, copied cold to hot {c.warmed}"
        )
    context.log.info("retention %s: %s", "dry run" if config.dry_run else "applied", metadata)
    return dg.Output(None, metadata=metadata)


@dg.job(description="Apply the retention policy of config/retention.yaml to hot and cold storage.")
def enforce_retention() -> None:
    enforce_retention_op()


@dg.definitions
def retention_definitions() -> dg.Definitions:
    schedules = cached_config(str(load_settings().config_dir)).pipeline.schedules
    return on_schedule(enforce_retention, "retention_schedule", schedules.retention)
