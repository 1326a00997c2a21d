"""A table version's data files with the statistics a read prunes them by, built once per version.

A Delta version's files never change, so the log's add actions are turned into arrays once (about
1 ms of Arrow-to-Python conversion, on every read before) and kept for the next reads of that
version. The key holds the table's id too: a table deleted and written again at the same path starts
again at version 0 with other files, and is not mistaken for the old one.
"""

import collections
import dataclasses
import datetime as dt
import threading

import numpy as np
import pyarrow as pa
from deltalake import DeltaTable

from ai_trader_assets.storage.lake.layout import TableLayout

KEPT_VERSIONS = 32  # table versions remembered (a read path touches a few tables, each at its latest)

_KEPT: collections.OrderedDict[tuple[object, ...], "TableFiles"] = collections.OrderedDict()
_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class TableFiles:
    """Per data file, in time order (bucket, first session, first time, path): its URI, bucket and
    the ``min``/``max`` statistics of session, symbol and layer. A missing statistic is NaT, None or
    NaN: nothing then proves the file irrelevant."""

    uris: np.ndarray
    buckets: np.ndarray | None
    first_sessions: np.ndarray
    last_sessions: np.ndarray
    low_symbols: np.ndarray | None
    high_symbols: np.ndarray | None
    low_layers: np.ndarray
    high_layers: np.ndarray

    def __len__(self) -> int:
        return len(self.uris)


def table_files(table: DeltaTable, layout: TableLayout) -> TableFiles:
    """The files of ``table`` at the version it is loaded at (remembered per version)."""
    key = (table.table_uri, table.metadata().id, table.version(), layout.dataset)
    with _LOCK:
        found = _KEPT.get(key)
        if found is not None:
            _KEPT.move_to_end(key)
            return found
    found = _build(table, layout)
    with _LOCK:
        _KEPT[key] = found
        while len(_KEPT) > KEPT_VERSIONS:
            _KEPT.popitem(last=False)
    return found


def _build(table: DeltaTable, layout: TableLayout) -> TableFiles:
    actions = pa.table(table.get_add_actions(flatten=True))
    count = actions.num_rows
    names = set(actions.column_names)

    def values(name: str) -> list[object]:
        return actions[name].to_pylist() if name in names else [None] * count

    bucket = f"partition.{layout.bucket}"
    buckets, firsts, lasts = values(bucket), values("min.session"), values("max.session")
    earliest = values(f"min.{layout.spec.time_column}")
    paths = actions["path"].to_pylist() if count else []
    # In time order: the files of a clustered table, or the pieces of a symbol-session written one
    # after the other, then hold a symbol's rows in (symbol, time) order, and a one-symbol read
    # needs no sort.
    order = sorted(
        range(count),
        key=lambda i: (
            str(buckets[i] or ""),
            firsts[i] or dt.date.min,
            earliest[i] is None,
            earliest[i] or 0,
            paths[i],
        ),
    )
    root = table.table_uri.rstrip("/")
    has_symbols = "min.symbol" in names and "max.symbol" in names
    return TableFiles(
        uris=np.array([f"{root}/{paths[i]}" for i in order], dtype=object),
        buckets=np.array([buckets[i] for i in order], dtype=object) if bucket in names else None,
        first_sessions=_dates([firsts[i] for i in order]),
        last_sessions=_dates([lasts[i] for i in order]),
        low_symbols=_objects(values("min.symbol"), order) if has_symbols else None,
        high_symbols=_objects(values("max.symbol"), order) if has_symbols else None,
        low_layers=_numbers([values("min.layer")[i] for i in order]),
        high_layers=_numbers([values("max.layer")[i] for i in order]),
    )


def _dates(values: list[object]) -> np.ndarray:
    return np.array([np.datetime64("NaT") if v is None else v for v in values], dtype="datetime64[D]")


def _objects(values: list[object], order: list[int]) -> np.ndarray:
    return np.array([values[i] for i in order], dtype=object)


def _numbers(values: list[object]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
