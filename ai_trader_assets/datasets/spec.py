"""What a dataset module declares: :class:`DatasetSpec` (schema, key, session rule, validation, hot
table, read order) and :class:`LakeLayout` (its Delta table's layout)."""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.names import Dataset

Bucket = Literal["day", "month", "year"]


@dataclasses.dataclass(frozen=True)
class LakeLayout:
    """How the dataset's Delta table is laid out, chosen by measurement (``benchmarks/lake.py``;
    docs/storage-and-retention.md, *Cold storage*). The table itself is built by
    :mod:`ai_trader_assets.storage.lake`.

    Attributes:
        bucket: The table's partition column: ``day`` ("YYYY-MM-DD"), ``month`` ("YYYY-MM") or
            ``year`` ("YYYY") of the session. A bucket is the unit of compaction.
        slice_column: What a write replaces within a session: ``symbol`` (a fetch returns a symbol's
            whole session) or ``id`` (one news article may name several symbols).
        cluster_by: Columns maintenance z-orders closed buckets by; None compacts only.
        sort_by: The order every file is written in (row-group statistics then prune symbol reads).
        compression: Parquet codec and level, e.g. ``("ZSTD", 1)`` (None: delta-rs' default).
        encodings: Parquet encoding per column (``DELTA_BINARY_PACKED``, ``PLAIN``, ...): where one
            beats dictionary encoding, measured.
        row_group_rows: Rows per row group (None: the lake's default).
        range_column: For a dataset written in pieces (``bulk``): a write replaces, within each of its
            slices, only the rows in the range of this column it covers (the pieces of one
            symbol-session are then written without rewriting each other).
    """

    bucket: Bucket
    slice_column: str
    cluster_by: tuple[str, ...] | None
    sort_by: tuple[str, ...]
    compression: tuple[str, int] | None = None
    encodings: Mapping[str, str] = dataclasses.field(default_factory=dict)
    row_group_rows: int | None = None
    range_column: str | None = None


# eq=False: a spec is one object per dataset, compared and hashed by identity (it holds mappings).
@dataclasses.dataclass(frozen=True, eq=False)
class DatasetSpec:
    """Everything the platform knows of one dataset, declared once in its module.

    Attributes:
        dataset: Its name: the asset, the hot and lake tables, the retention policy's key.
        label: What people call it in messages ("1day bars", "news").
        description: One or two sentences for its asset in the UI: what one partition holds.
        columns: The frame schema (name -> pandas dtype): what providers return, what is stored.
        key: The columns that identify a row (a re-fetch replaces the row with the same key).
        time_column: The column a row's time is read from (ranges, retention, statistics).
        table: The hot table in the market database.
        lake: The Delta table's layout.
        read_columns: What a read returns, in this order.
        read_order: How a read is sorted.
        sessions_of: The session (``datetime64[D]``) each row of a frame belongs to: every record
            lands in exactly one partition.
        symbols_of: The symbol of each row (a list of them for a row about several).
        problems: Per row, why it cannot be stored ('' when it can): the quarantine reasons.
        date_columns: Columns holding dates (``datetime.date`` in frames, ``date32`` in the lake).
        list_columns: Columns holding lists of strings.
        bulk: Millions of rows a session (ticks): written in pieces of at most ``runs.piece_rows``
            rows; retention works through hot storage a symbol at a time and deletes a symbol-session
            by its time range, not key by key.
        checked_columns: The columns ``problems`` reads, when it reads only some: a run's checks then
            read back only those (and ``problems`` must need nothing else).
        reads: The dataset whose stored rows of the same sessions this one's run reads (its asset's
            dependency): a backfill stores those first, in the same run where it can.
    """

    dataset: Dataset
    label: str
    description: str
    columns: Mapping[str, Any]
    key: tuple[str, ...]
    time_column: str
    table: sa.Table
    lake: LakeLayout
    read_columns: tuple[str, ...]
    read_order: tuple[str, ...]
    sessions_of: Callable[[pd.DataFrame], np.ndarray]
    symbols_of: Callable[[pd.DataFrame], pd.Series]
    problems: Callable[[pd.DataFrame], np.ndarray]
    date_columns: frozenset[str] = frozenset()
    list_columns: frozenset[str] = frozenset()
    bulk: bool = False
    checked_columns: tuple[str, ...] | None = None
    reads: Dataset | None = None

    def empty(self) -> pd.DataFrame:
        return empty_frame(self.columns)

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return conform(frame, self.columns)
