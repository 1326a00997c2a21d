"""Cold storage of dataset frames: one Parquet file per (dataset, session, layer) in the lake.

Writes merge with what the partition already holds (the new row wins for a key) and replace the
file atomically, so re-materializing a partition never duplicates a key.
"""

import datetime as dt

import pandas as pd
import pyarrow as pa

from ai_trader_assets.config import Dataset
from ai_trader_assets.providers.base import conform
from ai_trader_assets.storage.datasets import SPECS
from ai_trader_assets.storage.lake import Lake


class ColdStore:
    """Dataset-aware reads and merges over :class:`Lake`."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def read(self, dataset: Dataset, session: dt.date, layer: int) -> pd.DataFrame | None:
        """A partition's rows in the dataset's frame schema, or None when it was never written."""
        table = self.lake.read_partition(dataset, session, layer)
        if table is None:
            return None
        return conform(table.to_pandas(), SPECS[dataset].columns)

    def merge(self, dataset: Dataset, session: dt.date, layer: int, frame: pd.DataFrame) -> int:
        """Merge rows into a partition (new rows win per key); returns the partition's row count."""
        spec = SPECS[dataset]
        existing = self.read(dataset, session, layer)
        combined = (
            frame if existing is None or existing.empty else pd.concat([existing, frame], ignore_index=True)
        )
        combined = combined.drop_duplicates(subset=list(spec.key), keep="last")
        combined = combined.sort_values(list(spec.key)).reset_index(drop=True)
        self.replace(dataset, session, layer, combined)
        return len(combined)

    def replace(self, dataset: Dataset, session: dt.date, layer: int, frame: pd.DataFrame) -> None:
        """Write exactly these rows as the partition (an empty frame deletes it)."""
        if frame.empty:
            self.lake.delete_partition(dataset, session, layer)
            return
        table = pa.Table.from_pandas(conform(frame, SPECS[dataset].columns), preserve_index=False)
        self.lake.write_partition(dataset, session, layer, table)
