"""Reading a Delta table: the files a read needs, chosen from the log, scanned by Polars.

The log's per-file statistics (``min``/``max`` of ``session`` and ``symbol``) and partition values
drop the files a read cannot need before any is opened; inside the files left, Polars scans with
the filter pushed down and chooses its own parallelism. (Forcing its *prefiltered* mode measured no
better on ``benchmarks/read.py`` with Polars 2 — 1-min symbol-year x2.8, 500-symbol daily year x1.9
either way — and that mode has a history of memory-safety bugs: the test process crashed in pure
Python code, a sign of corrupted memory, in runs after it was introduced.)

Tables with deletion vectors (never written by delta-rs, but another engine could) are read through
``pl.scan_delta``, which applies them.
"""

import datetime as dt
import urllib.parse
from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from ai_trader_assets.storage.lake.files import table_files
from ai_trader_assets.storage.lake.layout import TableLayout


def pruned_files(
    table: DeltaTable,
    layout: TableLayout,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    symbols: Sequence[str] | None = None,
    layers: Sequence[int] | None = None,
) -> list[str]:
    """URIs of the files whose partition value and statistics admit the sessions, symbols and layers
    asked for, in time order (see :mod:`.files`).

    A file without statistics for a column is kept (nothing proves it irrelevant).
    """
    files = table_files(table, layout)
    if not len(files):
        return []
    keep = np.ones(len(files), dtype=bool)
    if files.buckets is not None:
        if start is not None:
            keep &= files.buckets >= layout.bucket_of(start)
        if end is not None:
            keep &= files.buckets <= layout.bucket_of(end)
    if start is not None:
        keep &= np.isnat(files.last_sessions) | (files.last_sessions >= np.datetime64(start, "D"))
    if end is not None:
        keep &= np.isnat(files.first_sessions) | (files.first_sessions <= np.datetime64(end, "D"))
    if symbols is not None and layout.slice_column == "symbol" and files.low_symbols is not None:
        assert files.high_symbols is not None
        keep &= _admits_any(files.low_symbols, files.high_symbols, symbols)
    if layers is not None:
        unknown = np.isnan(files.low_layers) | np.isnan(files.high_layers)
        within = np.zeros(len(files), dtype=bool)
        for layer in layers:
            within |= (files.low_layers <= layer) & (layer <= files.high_layers)
        keep &= unknown | within
    return files.uris[keep].tolist()


def _admits_any(lows: np.ndarray, highs: np.ndarray, symbols: Sequence[str]) -> np.ndarray:
    """Per file: whether some wanted symbol lies within its [min, max] symbol statistics."""
    wanted = np.array(sorted(symbols), dtype=object)
    if len(wanted) == 0:
        return np.zeros(len(lows), dtype=bool)
    known = np.array([low is not None and high is not None for low, high in zip(lows, highs, strict=True)])
    result = np.ones(len(lows), dtype=bool)
    if known.any():
        # The first wanted symbol at or after each file's lowest: the file admits it if it is not
        # past the file's highest.
        first = np.searchsorted(wanted, lows[known], side="left")
        inside = first < len(wanted)
        found = np.zeros(len(first), dtype=bool)
        found[inside] = wanted[first[inside]] <= highs[known][inside]
        result[known] = found
    return result


def scan(
    table: DeltaTable,
    layout: TableLayout,
    storage_options: dict[str, str],
    *,
    condition: pl.Expr | None,
    columns: Sequence[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
    symbols: Sequence[str] | None = None,
    layers: Sequence[int] | None = None,
) -> pl.DataFrame:
    """The rows of the table matching ``condition``, in ``columns``."""
    features = table.protocol().reader_features or []
    if "deletionVectors" in features:
        frame = pl.scan_delta(table)
    else:
        files = pruned_files(table, layout, start=start, end=end, symbols=symbols, layers=layers)
        if not files:
            empty = pl.from_arrow(pa.schema([layout.schema.field(c) for c in columns]).empty_table())
            assert isinstance(empty, pl.DataFrame)
            return empty
        frame = pl.scan_parquet(
            [_local_path(uri) for uri in files],
            # The schema given, Polars does not read every file's footer to infer one before the
            # scan reads them again (a symbol-year of 1-minute bars, 12 files: 15.9 -> 9.9 ms).
            schema=layout.file_schema,
            parallel="auto",
            # The bucket lives in the file's path only; parse it when it is asked for.
            hive_partitioning=layout.bucket in columns,
            hive_schema={layout.bucket: pl.String} if layout.bucket in columns else None,
            missing_columns="insert",
            extra_columns="ignore",
            storage_options=storage_options or None,
        )
    if condition is not None:
        frame = frame.filter(condition)
    # One buffer per column: a far cheaper export to Arrow and pandas.
    return frame.select(list(columns)).collect()


def _local_path(uri: str) -> str:
    """A ``file://`` URI as a plain path (other URIs as they are): Polars reads local files by path
    faster than through its URI layer (a one-symbol year of 1-minute bars, 12 files: ~16 ms -> ~12
    ms). Delta's URIs are percent-encoded once relative to the names on disk."""
    if not uri.startswith("file://"):
        return uri
    return urllib.parse.unquote(urllib.parse.urlparse(uri).path)


def read_filter(
    layout: TableLayout,
    *,
    sessions: Sequence[dt.date] | None,
    start: dt.date | None,
    end: dt.date | None,
    layers: Sequence[int] | None,
    symbols: Sequence[str] | None,
    ids: Sequence[str] | None = None,
) -> pl.Expr | None:
    """The polars condition of a read (buckets follow from sessions: the scan prunes their files)."""
    session = pl.col("session")
    parts: list[pl.Expr] = []
    if sessions is not None:
        parts.append(session.is_in(list(sessions)))
    if start is not None:
        parts.append(session >= start)
    if end is not None:
        parts.append(session <= end)
    if layers is not None:
        parts.append(pl.col("layer").is_in(list(layers)))
    if symbols is not None:
        parts.append(symbol_filter(layout, symbols))
    if ids is not None:
        if "id" not in layout.key:
            raise ValueError(f"{layout.dataset.value} rows have no id to select by")
        parts.append(pl.col("id").is_in(list(ids)))
    return pl.all_horizontal(parts) if parts else None


def symbol_filter(layout: TableLayout, symbols: Sequence[str]) -> pl.Expr:
    if layout.slice_column == "id":  # news: any of the symbols an article names
        return pl.col("symbols").list.eval(pl.element().is_in(list(symbols))).list.any()
    if len(symbols) == 1:
        return pl.col("symbol") == symbols[0]
    return pl.col("symbol").is_in(pl.Series(list(symbols), dtype=pl.String).implode())
