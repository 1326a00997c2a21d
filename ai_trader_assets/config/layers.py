"""``layers.yaml``: per layer its datasets (ingested and planned), description and backfill priority."""

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, field_validator

from ai_trader_assets.config.base import Frozen, LayerId
from ai_trader_assets.datasets import LAYERS, PLANNED_DATASETS, Dataset


class LayerSpec(Frozen):
    name: str
    description: str
    backfill_priority: Annotated[int, Field(strict=True, ge=0)]
    datasets: tuple[Dataset, ...] = Field(min_length=1)
    planned_datasets: tuple[Dataset, ...] = ()

    @field_validator("datasets")
    @classmethod
    def _only_ingestable(cls, value: tuple[Dataset, ...]) -> tuple[Dataset, ...]:
        planned = [d.value for d in value if d in PLANNED_DATASETS]
        if planned:
            raise ValueError(f"{planned} have no provider yet; list them under planned_datasets")
        if len(set(value)) != len(value):
            raise ValueError("a dataset is listed twice")
        return value

    @field_validator("planned_datasets")
    @classmethod
    def _only_planned(cls, value: tuple[Dataset, ...]) -> tuple[Dataset, ...]:
        ingested = [d.value for d in value if d not in PLANNED_DATASETS]
        if ingested:
            raise ValueError(f"{ingested} are ingested datasets; list them under datasets")
        return value

    @property
    def policy_datasets(self) -> tuple[Dataset, ...]:
        """Datasets this layer keeps under the retention policy (ingested and planned)."""
        return self.datasets + self.planned_datasets


def require_every_layer(layers: Mapping[int, object]) -> None:
    missing = [layer for layer in LAYERS if layer not in layers]
    if missing:
        raise ValueError(f"layer(s) {missing} missing: every layer {list(LAYERS)} must be present")


class LayersFile(Frozen):
    layers: dict[LayerId, LayerSpec]

    @field_validator("layers")
    @classmethod
    def _all_layers(cls, value: dict[int, LayerSpec]) -> dict[int, LayerSpec]:
        require_every_layer(value)
        return value
