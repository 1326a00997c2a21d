"""The ``universe`` asset (daily, before the open): the companies table kept in step with the primary
provider's list of tradable stocks. Its ``universe_guard`` check fails, with the numbers, when a sync
was refused (an empty, truncated or far shorter list): then nothing changed."""

import dagster as dg

from ai_trader_assets.config import cached_config
from ai_trader_assets.defs.platform.resources import (
    MarketDatabaseResource,
    MarketDataProviderResource,
    PlatformConfigResource,
)
from ai_trader_assets.planning.universe import sync_universe, universe_source
from ai_trader_assets.settings import load_settings

GUARD = "universe_guard"


@dg.asset(
    name="universe",
    group_name="reference",
    description="Active US stocks of the primary provider's reference list (types and exchanges of "
    "pipeline.yaml universe), upserted into companies; symbols missing for delist_after_days syncs "
    "are deactivated.",
    check_specs=[
        dg.AssetCheckSpec(
            GUARD,
            asset="universe",
            description="The sync was applied: the list was not empty, truncated or short of more than "
            "max_deactivate_share of the active universe.",
        )
    ],
    kinds={"sql"},
)
def universe(
    platform: PlatformConfigResource, market_db: MarketDatabaseResource, provider: MarketDataProviderResource
) -> dg.MaterializeResult:
    source = universe_source(provider.get_single(provider.kind), provider.kind)
    plan = sync_universe(source, market_db.companies(), platform.get().pipeline.universe)
    summary = plan.summary()
    return dg.MaterializeResult(
        metadata={"provider": provider.kind, **summary},
        check_results=[
            dg.AssetCheckResult(
                check_name=GUARD,
                passed=plan.refused is None,
                metadata=summary,
                description=plan.refused,
            )
        ],
    )


universe_sync_job = dg.define_asset_job("universe_sync", selection=["universe"])


@dg.definitions
def universe_definitions() -> dg.Definitions:
    schedules = cached_config(str(load_settings().config_dir)).pipeline.schedules
    return dg.Definitions(
        assets=[universe],
        jobs=[universe_sync_job],
        schedules=[
            dg.ScheduleDefinition(
                name="universe_sync_schedule",
                job=universe_sync_job,
                cron_schedule=schedules.universe_sync.cron,
                execution_timezone=schedules.universe_sync.timezone,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        ],
    )
