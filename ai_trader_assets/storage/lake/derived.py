"""Tables of derived assets (``daily_liquidity``): computed from the datasets, stored in the lake
at ``{lake}/derived/{name}`` as Delta tables partitioned by year, replaced per Dagster partition.

A derived frame has a ``session`` (date) column; the table adds ``layer`` and ``year``. Storing the
partitions (sessions x one layer) of a run is one commit that replaces exactly those partitions'
rows (a predicate overwrite; a delete when the frame is empty), under the table's write lock.
"""

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from ai_trader_assets.storage.lake.commits import Commit, in_list
from ai_trader_assets.storage.lake.layout import WRITER_PROPERTIES
from ai_trader_assets.storage.lake.location import DERIVED_TABLES, Lake, LakeError
from ai_trader_assets.storage.lake.locking import TableLocks


class DerivedTable:
    """One derived table: replace partitions, read them back.

    Args:
        lake: The lake.
        name: A name from :data:`DERIVED_TABLES`.
        locks: Write locks (None: read-only).
    """

    def __init__(self, lake: Lake, name: str, locks: TableLocks | None = None) -> None:
        if name not in DERIVED_TABLES:
            raise LakeError(f"{name!r} is not a derived table ({', '.join(sorted(DERIVED_TABLES))})")
        self.lake, self.name, self.locks = lake, name, locks

    def _open(self) -> DeltaTable | None:
        try:
            return DeltaTable(self.lake.table_uri(self.name), storage_options=self.lake.storage_options())
        except TableNotFoundError:
            return None
        except (DeltaError, OSError) as exc:
            raise LakeError(f"cannot open {self.lake.describe(self.name)}: {exc}") from exc

    def replace(self, frame: pd.DataFrame, sessions: Sequence[dt.date], layer: int, commit: Commit) -> int:
        """Make the table hold exactly ``frame`` for these sessions of ``layer``; returns rows written."""
        if self.locks is None:
            raise LakeError(f"{self.lake.describe(self.name)}: read-only (no locks)")
        outside = frame[~frame["session"].isin(list(sessions))]
        if len(outside):
            raise ValueError(
                f"{self.name}: {len(outside)} row(s) of sessions outside the partitions being stored "
                f"(e.g. {outside['session'].iloc[0]})"
            )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.append_column("layer", pa.array([layer] * table.num_rows, pa.int8()))
        years = [s.strftime("%Y") for s in frame["session"]]
        table = table.append_column("year", pa.array(years, pa.string()))
        predicate = f"layer = {int(layer)} AND {in_list('session', sorted(set(sessions)))}"
        with self.locks.hold(self.name):
            existing = self._open()
            try:
                if existing is None:
                    if table.num_rows:
                        write_deltalake(
                            self.lake.table_uri(self.name),
                            table,
                            partition_by=["year"],
                            writer_properties=WRITER_PROPERTIES,
                            storage_options=self.lake.storage_options(),
                            commit_properties=commit.properties(table.num_rows),
                        )
                elif table.num_rows:
                    write_deltalake(
                        existing,
                        table,
                        mode="overwrite",
                        predicate=predicate,
                        writer_properties=WRITER_PROPERTIES,
                        commit_properties=commit.properties(table.num_rows),
                    )
                else:
                    existing.delete(predicate, commit_properties=commit.properties(0))
            except (DeltaError, OSError) as exc:
                raise LakeError(f"commit to {self.lake.describe(self.name)} failed: {exc}") from exc
        return table.num_rows

    def read(self, sessions: Sequence[dt.date], layers: Sequence[int]) -> pd.DataFrame:
        """The rows of these sessions and layers (without ``layer`` and ``year``)."""
        table = self._open()
        if table is None or not sessions:
            return pd.DataFrame()
        years = sorted({s.strftime("%Y") for s in sessions})
        found = (
            pl.scan_delta(table)
            .filter(
                pl.col("year").is_in(years)
                & pl.col("session").is_in(list(sessions))
                & pl.col("layer").is_in(list(layers))
            )
            .drop("layer", "year")
            .collect()
        )
        return found.to_arrow().to_pandas(date_as_object=True)
