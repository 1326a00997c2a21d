"""``qualification_sensor``: qualification events in ``companies`` become backfills of the new layer."""

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import dagster as dg

from ai_trader_assets import calendar
from ai_trader_assets.config import cached_config
from ai_trader_assets.datasets import INGESTED_DATASETS, Dataset
from ai_trader_assets.datasets.partitions import parse_partition_key
from ai_trader_assets.defs.automation.backfills import backfill_run_request
from ai_trader_assets.defs.automation.policy_grid import build_policy_grid_sensor
from ai_trader_assets.defs.market_data.partitions import configured_partitions
from ai_trader_assets.defs.platform.resources import MarketDatabaseResource, PlatformConfigResource
from ai_trader_assets.planning.gaps import find_gaps
from ai_trader_assets.planning.qualification import Cursor, QualificationPlanner
from ai_trader_assets.planning.runs import backfill_parts, partition_keys
from ai_trader_assets.run_tags import backfill_tags
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage import backfill_requests


def _backfill_sensor(
    name: str, interval_seconds: int, description: str
) -> Callable[[Callable[..., Any]], dg.SensorDefinition]:
    """A running-by-default sensor that launches backfills of the market-data assets."""
    return dg.sensor(
        name=name,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        # Backfill run requests are only accepted from a sensor that declares the assets it targets.
        asset_selection=dg.AssetSelection.assets(*(d.value for d in INGESTED_DATASETS)),
        description=description,
    )


def build_qualification_sensor(interval_seconds: int) -> dg.SensorDefinition:
    @_backfill_sensor(
        "qualification_sensor",
        interval_seconds,
        "Backfills the history a symbol's new layer calls for when it is qualified or promoted.",
    )
    def qualification_sensor(
        context: dg.SensorEvaluationContext,
        platform: PlatformConfigResource,
        market_db: MarketDatabaseResource,
    ) -> dg.SensorResult:
        config = platform.get()
        planner = QualificationPlanner(market_db.database, config, platform.today(), now=platform.now())
        plan = planner.plan(Cursor.from_json(context.cursor), time.time())
        partitions_def = configured_partitions()
        run_requests: list[dg.RunRequest] = []
        for request, _ in plan.requests:
            # As few backfills (and runs) as the run budgets allow: a small promotion is one backfill.
            parts = backfill_parts(config, len(request.symbols), planner.sessions_by_dataset(request))
            tags = backfill_tags(config, request.id, request.layer)
            run_requests.extend(
                backfill_run_request(partitions_def, partition_keys(request.layer, part), tags)
                for part in parts
            )
            context.log.info(
                "backfill request %s: layer %s, %d symbol(s), %s, %s..%s, %d backfill(s)",
                request.id,
                request.layer,
                len(request.symbols),
                ",".join(request.datasets),
                request.start_date,
                request.end_date,
                len(parts),
            )
        summary = f"{plan.consumed} event(s) consumed, {plan.deferred} deferred, {plan.demotions} demotion(s)"
        return dg.SensorResult(
            run_requests=run_requests,
            cursor=plan.cursor.to_json(),
            skip_reason=None if run_requests else f"no backfill needed: {summary}",
        )

    return qualification_sensor


def build_gap_healing_sensor(interval_seconds: int) -> dg.SensorDefinition:
    @_backfill_sensor(
        "gap_healing_sensor",
        interval_seconds,
        "Backfills sessions inside each layer's hot window that current members still lack.",
    )
    def gap_healing_sensor(
        context: dg.SensorEvaluationContext,
        platform: PlatformConfigResource,
        market_db: MarketDatabaseResource,
    ) -> dg.SensorResult:
        config = platform.get()
        automation = config.pipeline.automation
        now = time.time()
        # Partitions launched recently are in flight (or genuinely empty): not relaunched yet.
        launched = {
            k: t
            for k, t in json.loads(context.cursor or "{}").items()
            if now - t < automation.gap_healing_retry_after_seconds
        }
        today = platform.today()
        gaps = find_gaps(
            market_db.database, config, today, set(launched), automation.gap_healing_max_partitions_per_tick
        )
        partitions_def = configured_partitions()
        run_requests: list[dg.RunRequest] = []
        for layer_gaps in gaps:
            sessions = sorted({k.split("|")[0] for keys in layer_gaps.keys_by_dataset.values() for k in keys})
            request = backfill_requests.create(
                market_db.database,
                layer=layer_gaps.layer,
                symbols=layer_gaps.symbols,
                datasets=sorted(layer_gaps.keys_by_dataset),
                start_date=dt.date.fromisoformat(sessions[0]),
                end_date=dt.date.fromisoformat(sessions[-1]),
                reason=f"gap healing: {layer_gaps.partitions} partition(s) missing in hot storage",
            )
            tags = backfill_tags(config, request.id, layer_gaps.layer)
            # Each dataset's whole span from its first gap to its last: one range, so one run per part
            # (a scattered subset would be a run per stretch); the run fetches only what is missing.
            spans = {
                Dataset(d): calendar.sessions(min(days), max(days))
                for d, keys in layer_gaps.keys_by_dataset.items()
                if (days := [parse_partition_key(k)[0] for k in keys])
            }
            run_requests.extend(
                backfill_run_request(partitions_def, partition_keys(layer_gaps.layer, part), tags)
                for part in backfill_parts(config, len(layer_gaps.symbols), spans)
            )
            launched |= {f"{d}|{k}": now for d, keys in layer_gaps.keys_by_dataset.items() for k in keys}
        return dg.SensorResult(
            run_requests=run_requests,
            cursor=json.dumps(launched),
            skip_reason=None if run_requests else "no gaps in any layer's hot window",
        )

    return gap_healing_sensor


@dg.definitions
def automation_sensors() -> dg.Definitions:
    automation = cached_config(str(load_settings().config_dir)).pipeline.automation
    return dg.Definitions(
        sensors=[
            build_qualification_sensor(automation.sensor_interval_seconds),
            build_gap_healing_sensor(automation.gap_healing_interval_seconds),
            build_policy_grid_sensor(
                automation.policy_grid_interval_seconds, automation.policy_grid_max_cells_per_tick
            ),
        ]
    )
