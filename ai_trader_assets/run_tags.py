"""Run tags the platform reads and writes, in one place (the sensors, the CLI and the assets share them)."""

from collections.abc import Mapping

from ai_trader_assets.config import PlatformConfig

REFRESH_TAG = "ai_trader/refresh"  # value "full": refetch even what storage already has
BACKFILL_REQUEST_TAG = "ai_trader/backfill_request"  # id of a backfill_requests row: only its symbols
LAYER_TAG = "ai_trader/layer"  # dagster.yaml limits concurrent runs per layer with this tag
PRIORITY_TAG = "dagster/priority"  # the run queue starts higher layers' backfills first
INTRADAY_TAG = "ai_trader/intraday"  # layer of a refresh of the trading session (one at a time per layer)
LAUNCHED_BY_TAG = "ai_trader/launched_by"  # "cli": a run ai-trader backfill executed in-process
# Datasets (comma-separated) the backfill's plan reads from Massive's flat files rather than REST.
FLATFILES_TAG = "ai_trader/flatfiles"


def flatfile_datasets(tags: Mapping[str, str]) -> frozenset[str]:
    """The dataset names a run's tags say to read from flat files (none: REST only)."""
    return frozenset(name for name in tags.get(FLATFILES_TAG, "").split(",") if name)


def backfill_tags(config: PlatformConfig, request_id: int, layer: int) -> dict[str, str]:
    """Tags of every run of a backfill request: the request, its layer and the layer's priority."""
    return {
        BACKFILL_REQUEST_TAG: str(request_id),
        LAYER_TAG: str(layer),
        PRIORITY_TAG: str(config.layers.layers[layer].backfill_priority),  # type: ignore[index]
    }
