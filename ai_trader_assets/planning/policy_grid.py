"""A dataset's partition grid against the retention policy: which (session, layer) cells a layer does
not want, and per layer how many sessions it wants, has stored and still lacks.

Dagster knows four states of a partition (materialized, failed, in progress, missing) and counts
every cell of the date x layer grid it has not seen materialized as missing, the cells no layer's
policy asks for included. The grid starts where the dataset's longest window starts, so what is left
are the older cells of the layers with shorter windows (and every cell of a layer that does not
ingest the dataset). The policy grid sensor records those as materialized with ``policy: not
wanted`` (no data, no provider call), so the UI's Missing count is the wanted cells not stored yet.
"""

import dataclasses
import datetime as dt
from collections.abc import Sequence

from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import LAYERS, Dataset
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.ledger import Ledger


@dataclasses.dataclass(frozen=True)
class UnwantedCells:
    """The sessions of a layer's row of the grid that its policy does not want, oldest first (always
    a prefix of the grid: windows are counted back from today)."""

    layer: int
    sessions: list[dt.date]
    reason: str


def unwanted_cells(
    config: PlatformConfig, dataset: Dataset, layer: int, grid: Sequence[dt.date], today: dt.date
) -> UnwantedCells:
    window = config.window(layer, dataset)
    if config.ingests(layer, dataset) and window is not None:
        reason = f"layer {layer} keeps {dataset.value} {window.cold_days} days (retention.yaml)"
    else:
        reason = f"layer {layer} does not ingest {dataset.value} (layers.yaml)"
    return UnwantedCells(layer, [s for s in grid if not config.wants(layer, dataset, s, today)], reason)


@dataclasses.dataclass(frozen=True)
class LayerCount:
    """One layer's row of the grid: sessions its policy wants, those stored for every current member
    (all of them when the layer has no members: nothing to store), and the rest."""

    layer: int
    members: int
    wanted: int
    stored: int

    @property
    def missing(self) -> int:
        return self.wanted - self.stored


def layer_members(database: MarketDatabase) -> dict[int, list[str]]:
    """Each layer's current members (read once for every dataset's counts)."""
    companies = CompaniesRepository(database)
    return {layer: companies.members(layer) for layer in LAYERS}


def layer_counts(  # noqa: PLR0917 - the grid, its policy and the layers' members
    database: MarketDatabase,
    config: PlatformConfig,
    dataset: Dataset,
    grid: Sequence[dt.date],
    today: dt.date,
    members_by_layer: dict[int, list[str]],
) -> list[LayerCount]:
    """Per layer, the wanted / stored / missing sessions of the grid, from the coverage ledger."""
    ledger = Ledger(database)
    counts = []
    for layer in LAYERS:
        wanted = [s for s in grid if config.wants(layer, dataset, s, today)]
        members = members_by_layer[layer] if wanted else []
        stored = len(wanted)
        if members:
            per_session = ledger.covered_per_session(dataset, wanted[0], wanted[-1], members)
            stored = sum(1 for s in wanted if per_session.get(s, 0) >= len(members))
        counts.append(LayerCount(layer, len(members), len(wanted), stored))
    return counts
