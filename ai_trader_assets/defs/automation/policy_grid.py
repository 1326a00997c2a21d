"""``policy_grid_sensor``: the partitions view tells "not wanted" from "missing".

Each tick it records the grid cells a layer's policy does not want as materialized, labelled
``policy: not wanted`` with the reason (no run, no data, no provider call), so Dagster's Missing
count is the wanted cells not stored; and, when they change, it reports per dataset and layer the
sessions wanted / stored / missing as an observation (the asset's metadata and Plots tab). See
``planning/policy_grid.py``.
"""

import hashlib
import json

import dagster as dg

from ai_trader_assets import calendar
from ai_trader_assets.datasets import INGESTED_DATASETS, LAYERS, Dataset
from ai_trader_assets.datasets.partitions import NOT_WANTED, NOT_WANTED_KEY, partition_key
from ai_trader_assets.defs.platform.resources import MarketDatabaseResource, PlatformConfigResource
from ai_trader_assets.planning.policy_grid import layer_counts, layer_members, unwanted_cells

# Each asset with the dataset whose policy shapes its grid (a derived asset follows its input).
GRID_ASSETS: dict[str, Dataset] = {d.value: d for d in INGESTED_DATASETS} | {
    "daily_liquidity": Dataset.BARS_1DAY
}


def build_policy_grid_sensor(interval_seconds: int, max_cells_per_tick: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="policy_grid_sensor",
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Marks the partitions a layer's retention policy does not want (materialized, 'policy: not "
            "wanted'), so the partitions view's Missing count is the wanted sessions not stored; reports "
            "per layer the sessions wanted / stored / missing."
        ),
    )
    def policy_grid_sensor(
        context: dg.SensorEvaluationContext,
        platform: PlatformConfigResource,
        market_db: MarketDatabaseResource,
    ) -> dg.SensorResult:
        config, today = platform.get(), platform.today()
        latest = calendar.latest_opened_session(platform.now())
        cursor = json.loads(context.cursor or "{}")
        marked: dict[str, str] = cursor.get("marked", {})  # "asset|layer" -> the last session marked
        reported: dict[str, str] = cursor.get("reported", {})  # asset -> a digest of the counts reported
        events: list[dg.AssetMaterialization | dg.AssetObservation] = []
        budget = max_cells_per_tick
        grid = calendar.sessions(config.partitions_start(today), latest)
        members = layer_members(market_db.database)
        for asset, dataset in GRID_ASSETS.items():
            for layer in LAYERS:
                cells = unwanted_cells(config, dataset, layer, grid, today)
                done = marked.get(f"{asset}|{layer}", "")
                todo = [s for s in cells.sessions if s.isoformat() > done][:budget]
                events.extend(
                    dg.AssetMaterialization(
                        asset_key=asset,
                        partition=partition_key(session, layer),
                        description=f"Not wanted: {cells.reason}. No data, no provider call.",
                        metadata={NOT_WANTED_KEY: NOT_WANTED, "reason": cells.reason},
                    )
                    for session in todo
                )
                if todo:
                    marked[f"{asset}|{layer}"] = todo[-1].isoformat()
                budget -= len(todo)
            if asset != dataset.value:
                continue  # a derived asset's stored sessions are its own table's, not in the ledger
            counts = layer_counts(market_db.database, config, dataset, grid, today, members)
            metadata: dict[str, int] = {}
            for count in counts:
                metadata |= {
                    f"layer {count.layer} sessions wanted": count.wanted,
                    f"layer {count.layer} sessions stored": count.stored,
                    f"layer {count.layer} sessions missing": count.missing,
                }
            metadata["sessions missing"] = sum(c.missing for c in counts)
            digest = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode()).hexdigest()[:16]
            if reported.get(asset) != digest:
                events.append(dg.AssetObservation(asset_key=asset, metadata=metadata))
                reported[asset] = digest
        marks = sum(isinstance(e, dg.AssetMaterialization) for e in events)
        context.log.info("%d cell(s) marked not wanted, %d count(s) reported", marks, len(events) - marks)
        return dg.SensorResult(
            asset_events=events,
            cursor=json.dumps({"marked": marked, "reported": reported}),
            skip_reason=None if events else "every cell the policy does not want is marked; counts unchanged",
        )

    return policy_grid_sensor
