"""Launching a planned backfill through Dagster, so it shows in the UI like any other.

Each layer of a plan becomes a ``backfill_requests`` row (the run tags carry only its id) and its
work is cut into backfill parts by the rows it implies (:mod:`ai_trader_assets.planning.runs`). Each
part is then either one real backfill on the running webserver (GraphQL ``launchPartitionBackfill``,
executed by its daemon and listed on the Runs page), or, with no webserver configured, its runs are
executed in this process against the Dagster instance (``DAGSTER_HOME``), grouped as Dagster groups
them (datasets over the same sessions share a run).
"""

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import requests

from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.partitions import partition_key
from ai_trader_assets.planning.backfill_plan import BackfillPlan, DatasetPlan
from ai_trader_assets.planning.runs import backfill_parts, run_groups
from ai_trader_assets.run_tags import FLATFILES_TAG, REFRESH_TAG, backfill_tags
from ai_trader_assets.settings import mask_url
from ai_trader_assets.storage import backfill_requests
from ai_trader_assets.storage.backfill_requests import BackfillRequest
from ai_trader_assets.storage.database import MarketDatabase

# Bulk-action states after which a backfill launches nothing more.
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


class BackfillLaunchError(RuntimeError):
    """Dagster refused or could not be reached; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class LayerLaunch:
    """One layer of the plan, recorded as a backfill request, with the tags its runs carry and the
    parts (one backfill each) its work is cut into."""

    layer: int
    symbol_count: int
    datasets: tuple[DatasetPlan, ...]
    request: BackfillRequest
    tags: dict[str, str]
    parts: tuple[dict[Dataset, tuple[dt.date, ...]], ...]

    def title(self, part: int) -> str:
        of = f", part {part + 1} of {len(self.parts)}" if len(self.parts) > 1 else ""
        return f"ai-trader backfill: layer {self.layer}, {self.symbol_count} symbol(s){of}"


def record_requests(
    database: MarketDatabase, config: PlatformConfig, plan: BackfillPlan, reason: str, refresh: bool
) -> list[LayerLaunch]:
    """One request per layer with something to fetch; an empty list when storage has everything."""
    launches = []
    for layer in plan.layers:
        datasets = layer.to_launch
        if not datasets:
            continue
        request = backfill_requests.create(
            database,
            layer=layer.layer,
            symbols=layer.symbols,
            datasets=[d.dataset.value for d in datasets],
            start_date=min(d.first for d in datasets),
            end_date=max(d.last for d in datasets),
            reason=reason,
        )
        tags = backfill_tags(config, request.id, layer.layer)
        if refresh:
            tags[REFRESH_TAG] = "full"
        from_files = [d.dataset.value for d in datasets if d.flatfiles]
        if from_files:
            tags[FLATFILES_TAG] = ",".join(from_files)
        parts = backfill_parts(config, len(layer.symbols), {d.dataset: d.sessions for d in datasets})
        launches.append(LayerLaunch(layer.layer, len(layer.symbols), datasets, request, tags, tuple(parts)))
    return launches


# ------------------------------------------------------------------- webserver

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""

PROGRESS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      assetBackfillData {
        assetBackfillStatuses {
          ... on AssetPartitionsStatusCounts {
            numPartitionsTargeted numPartitionsMaterialized numPartitionsFailed numPartitionsInProgress
          }
        }
      }
    }
    ... on Error { message }
  }
}
"""


@dataclasses.dataclass(frozen=True)
class BackfillProgress:
    status: str
    targeted: int
    materialized: int
    failed: int
    in_progress: int

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.finished and self.failed == 0 and self.status not in {"FAILED", "CANCELED"}


class WebserverClient:
    """The running Dagster webserver's GraphQL API (what the UI itself calls)."""

    def __init__(self, url: str, timeout_seconds: float = 60) -> None:
        self.url = url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    def check(self) -> None:
        """Fail early, before anything is recorded, when the webserver cannot be reached."""
        self._graphql("{ version }", {})

    def launch(self, launch: LayerLaunch, part: int) -> str:
        """Launch one part of a layer's work as a backfill; returns its id."""
        params: dict[str, Any] = {
            "partitionsByAssets": [
                {
                    "assetKey": {"path": [dataset.value]},
                    "partitions": {
                        "range": {
                            "start": partition_key(sessions[0], launch.layer),
                            "end": partition_key(sessions[-1], launch.layer),
                        }
                    },
                }
                for dataset, sessions in launch.parts[part].items()
            ],
            "tags": [{"key": k, "value": v} for k, v in launch.tags.items()],
            "title": launch.title(part),
            "description": launch.request.reason,
        }
        payload = self._graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
        if payload["__typename"] != "LaunchBackfillSuccess":
            detail = next((v for k, v in payload.items() if k != "__typename"), "")
            raise BackfillLaunchError(f"the webserver refused the backfill: {payload['__typename']} {detail}")
        return str(payload["backfillId"])

    def progress(self, backfill_id: str) -> BackfillProgress:
        payload = self._graphql(PROGRESS, {"id": backfill_id})["partitionBackfillOrError"]
        if payload["__typename"] != "PartitionBackfill":
            raise BackfillLaunchError(
                f"backfill {backfill_id}: {payload.get('message', payload['__typename'])}"
            )
        counts = [s for s in payload["assetBackfillData"]["assetBackfillStatuses"] if s]
        return BackfillProgress(
            status=payload["status"],
            targeted=sum(c["numPartitionsTargeted"] for c in counts),
            materialized=sum(c["numPartitionsMaterialized"] for c in counts),
            failed=sum(c["numPartitionsFailed"] for c in counts),
            in_progress=sum(c["numPartitionsInProgress"] for c in counts),
        )

    def backfill_url(self, backfill_id: str) -> str:
        return f"{self.url}/runs/b/{backfill_id}"

    def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        where = mask_url(self.url)
        try:
            response = requests.post(
                f"{self.url}/graphql",
                json={"query": query, "variables": variables},
                timeout=self.timeout_seconds,
            )
        except requests.RequestException as exc:
            raise BackfillLaunchError(
                f"cannot reach the Dagster webserver at {where} ({type(exc).__name__}); start it "
                "(./scripts/quickstart) or unset AI_TRADER_WEBSERVER_URL to run the backfill in-process"
            ) from None
        if response.status_code != 200:
            raise BackfillLaunchError(
                f"the Dagster webserver at {where} answered HTTP {response.status_code}"
            )
        body = response.json()
        if body.get("errors"):
            raise BackfillLaunchError(f"the Dagster webserver at {where}: {body['errors'][0].get('message')}")
        data: dict[str, Any] = body["data"]
        return data


# ------------------------------------------------------------------ in-process


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    datasets: tuple[Dataset, ...]
    layer: int
    sessions: tuple[dt.date, ...]
    tags: dict[str, str]

    @property
    def range_tags(self) -> dict[str, str]:
        return {
            "dagster/asset_partition_range_start": partition_key(self.sessions[0], self.layer),
            "dagster/asset_partition_range_end": partition_key(self.sessions[-1], self.layer),
        }

    @property
    def partitions(self) -> int:
        return len(self.sessions) * len(self.datasets)

    def describe(self) -> str:
        names = ",".join(d.value for d in self.datasets)
        return f"layer {self.layer} {names} {self.sessions[0]}..{self.sessions[-1]}"


def planned_runs(launches: Sequence[LayerLaunch]) -> Iterator[PlannedRun]:
    """The runs the launches' backfills would make: per part, one per group of datasets with the
    same sessions (what Dagster's single-run backfill policy does)."""
    for launch in launches:
        for part in launch.parts:
            for group in run_groups(part):
                yield PlannedRun(group.datasets, launch.layer, group.sessions, launch.tags)
