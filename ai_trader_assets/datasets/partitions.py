"""Partitions: a dataset's rows of one (session, layer), the unit of the UI, of gap tracking and of
retention. Keys look like ``2026-11-20|2`` (Dagster's multi-partition key: date, then layer)."""

import dataclasses
import datetime as dt

import pandas as pd

from ai_trader_assets.datasets.names import Dataset

# A partition the layer's policy does not want is recorded as materialized with this metadata entry
# (the policy grid sensor); readers of materializations tell such marks from runs by it.
NOT_WANTED_KEY, NOT_WANTED = "policy", "not wanted"


def partition_key(session: dt.date, layer: int) -> str:
    """Dagster's multi-partition key: dimensions in name order (date, layer)."""
    return f"{session.isoformat()}|{layer}"


def parse_partition_key(key: str) -> tuple[dt.date, int]:
    day, layer = str(key).split("|")
    return dt.date.fromisoformat(day), int(layer)


@dataclasses.dataclass(frozen=True)
class PartitionData:
    """One partition's result: its rows, the symbols fetched for it (coverage) and rejects."""

    dataset: Dataset
    session: dt.date
    layer: int
    frame: pd.DataFrame
    fetched: dict[str, int]
    rejects: pd.DataFrame
    note: str = ""
    # Set while the session is trading: rows starting before this instant are stored, no later ones.
    through: dt.datetime | None = None

    @property
    def key(self) -> str:
        return partition_key(self.session, self.layer)
