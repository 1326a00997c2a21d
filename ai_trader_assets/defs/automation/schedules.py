"""``daily_ingest_schedule``: after each close, the latest session of every dataset for every layer."""

import dagster as dg

from ai_trader_assets import calendar
from ai_trader_assets.config import cached_config
from ai_trader_assets.datasets import INGESTED_DATASETS, LAYERS
from ai_trader_assets.run_tags import LAYER_TAG
from ai_trader_assets.settings import load_settings


@dg.definitions
def automation_schedules() -> dg.Definitions:
    config = cached_config(str(load_settings().config_dir))
    spec = config.pipeline.schedules.daily_ingest

    @dg.schedule(
        name="daily_ingest_schedule",
        cron_schedule=spec.cron,
        execution_timezone=spec.timezone,
        target=dg.AssetSelection.assets(*(d.value for d in INGESTED_DATASETS)),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="After the close: today's session for each layer and each dataset it ingests.",
    )
    def daily_ingest_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
        day = context.scheduled_execution_time.astimezone(calendar.NEW_YORK).date()
        if not calendar.is_session(day):
            return dg.SkipReason(f"{day} is not an NYSE session")
        return [
            dg.RunRequest(
                run_key=f"{day}|{layer}",
                partition_key=f"{day.isoformat()}|{layer}",
                asset_selection=[dg.AssetKey(d.value) for d in config.layers.layers[layer].datasets],  # type: ignore[index]
                tags={LAYER_TAG: str(layer)},
            )
            for layer in LAYERS
        ]

    return dg.Definitions(schedules=[daily_ingest_schedule])
