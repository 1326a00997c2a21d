"""The physical layout of each dataset's Delta table, chosen by measurement (``benchmarks/lake.py``;
figures in docs/storage-and-retention.md, "Cold storage"); each dataset declares its own
(``LakeLayout`` in :mod:`ai_trader_assets.datasets`).

- Columns: the hot table's, plus ``session`` (date), ``layer`` (a plain column, not a partition) and the
  time bucket the table is partitioned by: ``day`` ("YYYY-MM-DD") for ticks, ``month`` ("YYYY-MM")
  for 1-minute and 5-minute bars, ``year`` ("YYYY") for everything smaller. A bucket is the unit of
  compaction.
- Every file is written sorted by ``(symbol, ts)`` (or its dataset's equivalent) in row groups of
  ``ROW_GROUP_ROWS`` rows, so file and row-group statistics let a one-symbol read skip the rest.
- Maintenance rewrites each bucket sorted by layer, then symbol and time (:mod:`.clustering`), so a
  layer's rows, and a symbol's inside it, fill their own row groups.
"""

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import ColumnProperties, WriterProperties

from ai_trader_assets.datasets import SPECS, Dataset, DatasetSpec
from ai_trader_assets.datasets.spec import Bucket

ROW_GROUP_ROWS = 16_384  # a symbol-month of 1-minute bars is ~8,200 rows: at most two row groups
TARGET_FILE_BYTES = 256 * 2**20  # compaction output; a month of a 500-symbol layer is one or two files
# Dictionary encoding pays for symbols, timestamps (every symbol shares a session's), volumes and
# dates, not for prices, which rarely repeat within a row group: skipping it there writes ~30 % faster
# and the files come out no larger (benchmarks/lake.py data, measured with delta-rs 1.6).
PLAIN_COLUMNS = ("open", "high", "low", "close", "vwap")
WRITER_PROPERTIES = WriterProperties(
    max_row_group_size=ROW_GROUP_ROWS,
    column_properties={name: ColumnProperties(dictionary_enabled=False) for name in PLAIN_COLUMNS},
)


def _arrow_type(spec: DatasetSpec, name: str, dtype: object) -> pa.DataType:
    if name in spec.list_columns:
        return pa.list_(pa.string())
    if name in spec.date_columns:
        return pa.date32()
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pa.timestamp("us", "UTC")
    types = {"float64": pa.float64(), "Int64": pa.int64(), "int64": pa.int64()}
    types |= {"string": pa.string(), "string[pyarrow]": pa.string()}
    return pa.bool_() if str(dtype) == "boolean" else types[str(dtype)]


@dataclasses.dataclass(frozen=True)
class TableLayout:
    """How one dataset is stored in its Delta table: its :class:`LakeLayout` (declared with the
    dataset) applied to Arrow tables.

    Attributes:
        spec: The dataset's declaration.
    """

    spec: DatasetSpec

    @property
    def dataset(self) -> Dataset:
        return self.spec.dataset

    @property
    def bucket(self) -> Bucket:
        """The partition column: ``day``, ``month`` or ``year`` of the session."""
        return self.spec.lake.bucket

    @property
    def slice_column(self) -> str:
        """What a write replaces within a session (see :class:`LakeLayout`)."""
        return self.spec.lake.slice_column

    @property
    def range_column(self) -> str | None:
        return self.spec.lake.range_column

    @property
    def cluster_by(self) -> tuple[str, ...] | None:
        return self.spec.lake.cluster_by

    @property
    def key(self) -> tuple[str, ...]:
        return self.spec.key

    @property
    def data_columns(self) -> list[str]:
        return list(self.spec.columns)

    @property
    def sort_by(self) -> list[str]:
        return list(self.spec.lake.sort_by)

    @functools.cached_property
    def schema(self) -> pa.Schema:
        fields = [pa.field(n, _arrow_type(self.spec, n, t)) for n, t in self.spec.columns.items()]
        fields += [pa.field("session", pa.date32()), pa.field("layer", pa.int8())]
        return pa.schema([*fields, pa.field(self.bucket, pa.string())])

    @functools.cached_property
    def file_schema(self) -> pl.Schema:
        """The columns a data file holds (the bucket lives in its path), as Polars reads them."""
        frame = pl.from_arrow(self.schema.remove(self.schema.get_field_index(self.bucket)).empty_table())
        assert isinstance(frame, pl.DataFrame)
        return frame.schema

    @property
    def cluster_order(self) -> list[str]:
        """The order maintenance rewrites a bucket in (see :mod:`.clustering`): layer, then symbol and
        time, so a layer's rows and, inside it, a symbol's rows are contiguous."""
        return ["layer", "symbol", self.spec.time_column]

    def bucket_of(self, session: dt.date) -> str:
        return session.strftime({"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[self.bucket])

    def buckets(self, first: dt.date, last: dt.date) -> list[str]:
        """Every bucket value from ``first``'s to ``last``'s, in order."""
        if self.bucket == "day":
            return [str(day.date()) for day in pd.date_range(first, last, freq="D")]
        if self.bucket == "year":
            return [str(year) for year in range(first.year, last.year + 1)]
        months = pd.period_range(first, last, freq="M")
        return [str(month) for month in months]

    def to_arrow(self, frame: pd.DataFrame, layers: int | Sequence[int] | np.ndarray) -> pa.Table:
        """Rows of a dataset frame as table rows: schema cast, session, layer and bucket added."""
        sessions = pa.array(self.spec.sessions_of(frame).astype("datetime64[D]"), pa.date32())
        conformed = list(frame.columns) == list(self.spec.columns) and all(
            frame[name].dtype == dtype for name, dtype in self.spec.columns.items()
        )  # (as frames from the write path are: no copy of a million rows to make)
        table = pa.Table.from_pandas(frame if conformed else self.spec.conform(frame), preserve_index=False)
        layer_values = np.broadcast_to(np.asarray(layers, dtype=np.int8), (len(frame),))
        # A commit holds few sessions: format each once, then index.
        distinct = pc.unique(sessions)
        labels = pa.array([self.bucket_of(d) for d in distinct.to_pylist()], pa.string())
        bucket = labels.take(pc.index_in(sessions, value_set=distinct))
        table = table.append_column("session", sessions).append_column("layer", pa.array(layer_values))
        return table.append_column(self.bucket, bucket).cast(self.schema)

    def to_frame(self, table: pa.Table, extra: Sequence[str] = ()) -> pd.DataFrame:
        """Table rows back as a dataset frame (plus any of ``session``, ``layer`` asked for)."""
        frame = self.spec.conform(table.to_pandas())
        for name in extra:
            frame[name] = table.column(name).to_pandas()
        return frame

    def empty(self) -> pa.Table:
        return self.schema.empty_table()

    @property
    def writer_properties(self) -> WriterProperties:
        """How its files are written: the lake's defaults, or the dataset's own (:class:`LakeLayout`)."""
        lake = self.spec.lake
        if lake.compression is None and not lake.encodings and lake.row_group_rows is None:
            return WRITER_PROPERTIES
        codec, level = lake.compression or (None, None)
        columns = {name: ColumnProperties(dictionary_enabled=False) for name in PLAIN_COLUMNS}
        columns |= {
            name: ColumnProperties(dictionary_enabled=False, encoding=encoding)  # type: ignore[arg-type]
            for name, encoding in lake.encodings.items()
        }
        return WriterProperties(
            max_row_group_size=lake.row_group_rows or ROW_GROUP_ROWS,
            compression=codec,  # type: ignore[arg-type]
            compression_level=level,
            column_properties=columns,
        )


LAYOUTS: dict[Dataset, TableLayout] = {dataset: TableLayout(spec) for dataset, spec in SPECS.items()}
