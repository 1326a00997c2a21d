"""The trading session kept current (``intraday`` in pipeline.yaml; the plain logic is
:mod:`ai_trader_assets.planning.intraday`).

- ``intraday_layer_<L>_schedule``: every ``every_minutes`` during regular hours, the open session's
  partition of layer L for its intraday datasets (only bars after the newest stored are fetched);
  a tick is skipped while the layer's previous refresh is still queued or running.
- ``intraday_freshness_layer_<L>`` checks on each refreshed dataset, run by
  ``intraday_freshness_schedule`` (every greatest common divisor of the ``every_minutes``):
  fail when a member's newest bar ended more than two refreshes ago while the session trades.
"""

import datetime as dt
import math
from collections.abc import Iterator

import dagster as dg

from ai_trader_assets.config import IntradaySpec, PlatformConfig, cached_config
from ai_trader_assets.defs.platform.resources import (
    LakeResource,
    MarketDatabaseResource,
    PlatformConfigResource,
)
from ai_trader_assets.planning.intraday import freshness, refresh_due
from ai_trader_assets.run_tags import INTRADAY_TAG, LAYER_TAG
from ai_trader_assets.settings import load_settings

# Regular hours are 09:30-16:00 New York: ticks from 09:00 to 16:59 cover the open and the close.
HOURS = "9-16"
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def check_name(spec: IntradaySpec) -> str:
    return f"intraday_freshness_layer_{spec.layer}"


def build_refresh_schedule(spec: IntradaySpec) -> dg.ScheduleDefinition:
    datasets = [d.value for d in spec.datasets]

    @dg.schedule(
        name=spec.schedule_name(),
        cron_schedule=f"*/{spec.every_minutes} {HOURS} * * 1-5",
        execution_timezone="America/New_York",
        target=dg.AssetSelection.assets(*datasets),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"During the session, every {spec.every_minutes} min: layer {spec.layer}'s "
        f"{', '.join(datasets)} of the open session, only bars after the newest stored.",
    )
    def intraday_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        session, why_not = _due(context, spec.every_minutes)
        if session is None:
            return dg.SkipReason(why_not)
        running = context.instance.get_run_records(
            filters=dg.RunsFilter(tags={INTRADAY_TAG: str(spec.layer)}, statuses=ACTIVE), limit=1
        )
        if running:
            return dg.SkipReason(
                f"layer {spec.layer}'s refresh {running[0].dagster_run.run_id} is still running"
            )
        return dg.RunRequest(
            run_key=f"intraday|{spec.layer}|{context.scheduled_execution_time.isoformat()}",
            partition_key=f"{session.isoformat()}|{spec.layer}",
            # With their checks: the assets' own and the intraday freshness checks (also on their own
            # schedule, so a refresh that fails or stops is still seen).
            asset_selection=[dg.AssetKey(d) for d in datasets],
            tags={LAYER_TAG: str(spec.layer), INTRADAY_TAG: str(spec.layer)},
        )

    return intraday_refresh


def _due(context: dg.ScheduleEvaluationContext, every_minutes: int) -> tuple[dt.date | None, str]:
    if load_settings().clock is not None:
        # A pinned clock does not move: a refresh would find nothing new, a check nothing changed.
        return None, "AI_TRADER_AS_OF pins the platform's clock: the session is not followed live"
    return refresh_due(context.scheduled_execution_time, every_minutes)


def build_freshness_schedule(checks: dg.AssetChecksDefinition, every_minutes: int) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="intraday_freshness_schedule",
        target=dg.AssetSelection.checks(checks),
        cron_schedule=f"*/{every_minutes} {HOURS} * * 1-5",
        execution_timezone="America/New_York",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The intraday freshness checks, while the session trades.",
    )
    def intraday_freshness(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        session, why_not = _due(context, every_minutes)
        if session is None:
            return dg.SkipReason(why_not)
        return dg.RunRequest(run_key=f"freshness|{context.scheduled_execution_time.isoformat()}")

    return intraday_freshness


def build_freshness_checks(specs: tuple[IntradaySpec, ...]) -> dg.AssetChecksDefinition:
    check_specs = [
        dg.AssetCheckSpec(
            check_name(spec),
            asset=dataset.value,
            description=f"While the session trades, every layer-{spec.layer} member's newest bar ended "
            f"within two refreshes ({2 * spec.every_minutes} min).",
        )
        for spec in specs
        for dataset in spec.datasets
    ]

    @dg.multi_asset_check(specs=check_specs, name="intraday_freshness_checks", can_subset=True)
    def intraday_freshness_checks(
        context: dg.AssetCheckExecutionContext,
        platform: PlatformConfigResource,
        market_db: MarketDatabaseResource,
        lake: LakeResource,
    ) -> Iterator[dg.AssetCheckResult]:
        config: PlatformConfig = platform.get()
        now = platform.now()
        selected = context.selected_asset_check_keys
        for spec in specs:
            for dataset in spec.datasets:
                key = dg.AssetCheckKey(dg.AssetKey(dataset.value), check_name(spec))
                if key not in selected:
                    continue
                result = freshness(market_db.database, lake.get_lake(), config, spec, dataset, now=now)
                yield dg.AssetCheckResult(
                    asset_key=dataset.value,
                    check_name=check_name(spec),
                    passed=result.passed,
                    metadata=result.metadata,
                )

    return intraday_freshness_checks


@dg.definitions
def intraday_definitions() -> dg.Definitions:
    specs = cached_config(str(load_settings().config_dir)).pipeline.intraday
    if not specs:
        return dg.Definitions()
    checks = build_freshness_checks(specs)
    every = math.gcd(*(spec.every_minutes for spec in specs))
    return dg.Definitions(
        asset_checks=[checks],
        schedules=[
            *(build_refresh_schedule(spec) for spec in specs),
            build_freshness_schedule(checks, every),
        ],
    )
