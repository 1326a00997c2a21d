"""The Delta tables of the lake: reads pruned by session, layer and symbol; writes as atomic commits.

Writes replace *slices*: the rows of the given sessions for the given symbols (news: article ids),
in whatever layer they were stored. One :meth:`LakeTables.upsert` is one Delta commit (a predicate
overwrite of exactly those slices), so a re-materialization never duplicates a key and a failed
commit leaves the previous version. Rows of a slice the new data does not repeat are kept (the
merge semantics of the first release), relabelled to the writer's layer; ``prefer="existing"``
instead keeps every stored row and adds only missing keys (retention, migration).

Each commit runs under the table's lock (:mod:`.locking`), carries the operation, run id and
partition keys in its commit info, and an application transaction id derived from them: a commit
retried after its call failed (the write landed but the answer was lost) is recognised and not
applied again.
"""

import contextlib
import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from ai_trader_assets.config import LakeSpec, PlatformConfig
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake.commits import (
    Commit,
    TableStats,
    TableVersion,
    table_configuration,
    version_entry,
)
from ai_trader_assets.storage.lake.layout import LAYOUTS, TableLayout
from ai_trader_assets.storage.lake.location import Lake, LakeError
from ai_trader_assets.storage.lake.locking import TableLocks
from ai_trader_assets.storage.lake.scan import read_filter, scan
from ai_trader_assets.storage.lake.slices import (
    files_may_hold,
    is_sorted,
    one_row_per_key,
    relabel,
    slice_condition,
    slice_groups,
    slice_predicate,
    slice_ranges,
)

COMMIT_ATTEMPTS = 3


def in_table_schema(dataset: Dataset, found: pl.DataFrame, columns: Sequence[str] | None = None) -> pa.Table:
    """Rows read from a table as Arrow in the table's schema (``columns``: in some of its columns)."""
    layout = LAYOUTS[dataset]
    schema = layout.schema if columns is None else pa.schema([layout.schema.field(c) for c in columns])
    # One buffer per column: a far cheaper export to Arrow and pandas.
    return found.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest()).select(schema.names).cast(schema)


def lake_tables(lake: Lake, config: PlatformConfig, database: MarketDatabase | None = None) -> "LakeTables":
    """The lake's tables; writable when the market database (which coordinates writers) is given."""
    spec = config.pipeline.lake
    locks = TableLocks(database, lake, spec.lock_timeout_seconds) if database is not None else None
    return LakeTables(lake, spec, locks)


class LakeTables:
    """Reads and atomic writes of the lake's Delta tables, one per dataset.

    Args:
        lake: The lake's location.
        spec: ``pipeline.yaml``'s ``lake`` section.
        locks: Write locks; None for a read-only use (writing then raises).
    """

    def __init__(self, lake: Lake, spec: LakeSpec, locks: TableLocks | None = None) -> None:
        self.lake = lake
        self.spec = spec
        self.locks = locks
        self._latest: dict[Dataset, DeltaTable] = {}  # loaded once, then brought up to date per use

    # ------------------------------------------------------------------ reading

    def open(
        self, dataset: Dataset, *, version: int | None = None, timestamp: dt.datetime | None = None
    ) -> DeltaTable | None:
        """The table (latest, or as of a version or a time), or None when it was never written."""
        uri = self.lake.table_uri(dataset)
        latest = version is None and timestamp is None
        try:
            if latest and dataset in self._latest:
                self._latest[dataset].update_incremental()
                return self._latest[dataset]
            table = DeltaTable(uri, version=version, storage_options=self.lake.storage_options())
            if timestamp is not None:
                table.load_as_version(timestamp)
            if latest:
                self._latest[dataset] = table
        except TableNotFoundError:
            if version is not None or timestamp is not None:
                raise LakeError(f"{self.lake.describe(dataset)} has no version to travel to") from None
            return None
        except (DeltaError, OSError) as exc:
            raise LakeError(f"cannot open {self.lake.describe(dataset)}: {_first_line(exc)}") from exc
        return table

    def read(self, dataset: Dataset, *, columns: Sequence[str] | None = None, **filters: Any) -> pa.Table:
        """Rows matching every filter given (those of :meth:`read_polars` and :meth:`scan_table`), in
        the table schema (``columns`` selects some); ``ids`` selects rows by their ``id`` (news and
        corporate actions).

        Session filters also prune the time buckets, and the symbol filter skips files and row groups
        by their statistics, so a one-symbol read opens only what holds that symbol.
        """
        return in_table_schema(dataset, self.read_polars(dataset, columns=columns, **filters), columns)

    def read_polars(
        self,
        dataset: Dataset,
        *,
        version: int | None = None,
        timestamp: dt.datetime | None = None,
        **filters: Any,
    ) -> pl.DataFrame:
        """:meth:`scan_table` of the table opened here (latest, or at ``version`` or ``timestamp``)."""
        return self.scan_table(dataset, self.open(dataset, version=version, timestamp=timestamp), **filters)

    def scan_table(
        self,
        dataset: Dataset,
        table: DeltaTable | None,
        *,
        sessions: Sequence[dt.date] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        layers: Sequence[int] | None = None,
        symbols: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """The rows of ``table`` (as :meth:`open` gave it: that very version; None: never written)
        matching every filter given, as a Polars frame (``columns`` selects some)."""
        layout = LAYOUTS[dataset]
        schema = layout.schema if columns is None else pa.schema([layout.schema.field(c) for c in columns])
        if table is None or (sessions is not None and not sessions):
            return _polars(schema.empty_table())
        condition = read_filter(
            layout, sessions=sessions, start=start, end=end, layers=layers, symbols=symbols, ids=ids
        )
        if sessions is not None:
            start = max(start or min(sessions), min(sessions))
            end = min(end or max(sessions), max(sessions))
        try:
            return scan(
                table,
                layout,
                self.lake.storage_options(),
                condition=condition,
                columns=schema.names,
                symbols=symbols,
                layers=layers,
                start=start,
                end=end,
            )
        except (pl.exceptions.PolarsError, DeltaError, OSError) as exc:
            raise LakeError(f"cannot read {self.lake.describe(dataset)}: {_first_line(exc)}") from exc

    def frame(self, dataset: Dataset, extra: Sequence[str] = (), **filters: Any) -> pd.DataFrame:
        """Like :meth:`read`, as a dataset frame (with any of ``session``/``layer`` in ``extra``)."""
        return LAYOUTS[dataset].to_frame(self.read(dataset, **filters), extra)

    def partitions(self, dataset: Dataset) -> list[tuple[dt.date, int]]:
        """Every (session, layer) holding rows, sorted."""
        found = self.read(dataset, columns=["session", "layer"])
        pairs = pl.DataFrame(found).unique()
        return sorted(zip(pairs["session"].to_list(), pairs["layer"].to_list(), strict=True))

    def stats(self, dataset: Dataset) -> TableStats:
        table = self.open(dataset)
        if table is None:
            return TableStats(dataset.value, exists=False)
        actions = pa.table(table.get_add_actions(flatten=True))
        sessions = [
            v
            for name in ("min.session", "max.session")
            if name in actions.column_names
            for v in actions[name].to_pylist()
            if v is not None
        ]
        return TableStats(
            dataset.value,
            exists=True,
            version=table.version(),
            versions=len(table.history()),
            files=actions.num_rows,
            bytes=sum(actions["size_bytes"].to_pylist()) if actions.num_rows else 0,
            oldest_session=min(sessions) if sessions else None,
            newest_session=max(sessions) if sessions else None,
        )

    def history(self, dataset: Dataset, limit: int | None = None) -> list[TableVersion]:
        """Newest first: version, time, operation, partitions, run id and rows of each commit."""
        table = self.open(dataset)
        if table is None:
            return []
        return [version_entry(entry) for entry in table.history(limit)]

    # ------------------------------------------------------------------ writing

    def upsert(
        self,
        dataset: Dataset,
        rows: pa.Table,
        commit: Commit,
        *,
        prefer: Literal["new", "existing"] = "new",
    ) -> int:
        """Store rows (table schema) in one commit, replacing the slices they cover; returns rows added.

        ``prefer="new"``: a key present in ``rows`` replaces the stored row. ``"existing"``: stored rows
        stay and only keys missing from the table are added (nothing is committed when none are).
        """
        if rows.num_rows == 0:
            return 0
        layout = LAYOUTS[dataset]
        key = list(layout.key)
        # One chunk per column first: a commit's rows arrive as one chunk per partition, and polars
        # converts a many-chunk list column at a huge cost in memory (~900 MB for 100k news rows).
        new = one_row_per_key(pl.DataFrame(rows.combine_chunks()), layout)
        groups = slice_groups(layout, new)
        ranges = slice_ranges(layout, new)
        predicate = slice_predicate(layout, groups, ranges)
        with self.locked(dataset):
            table = self._open_or_create(dataset)
            app_id = commit.app_id(dataset, predicate)
            if table.transaction_version(app_id) is not None:
                return 0  # this very commit already landed (a retry after a lost answer)
            # Sessions no file holds yet (the daily ingest's case) have nothing to replace: a plain
            # append, sparing delta-rs the search for rows matching the predicate.
            sessions = sorted({session for group, _ in groups for session in group})
            overlap = files_may_hold(table, sessions, layout, ranges)
            stored = pl.DataFrame(self._slices(table, layout, groups, ranges) if overlap else layout.empty())
            # Nothing stored matches the predicate (a backfill's next slice: same sessions, other
            # symbols): a plain append is the same commit, without delta-rs parsing and evaluating a
            # predicate that can name thousands of ids.
            replace = not stored.is_empty()
            if stored.is_empty():
                data = new
            elif prefer == "existing":
                new = new.join(stored.select(key), on=key, how="anti")
                if new.is_empty():
                    return 0
                data = pl.concat([new, stored.select(new.columns)], how="vertical_relaxed")
            else:
                kept = relabel(stored.join(new.select(key), on=key, how="anti"), new, layout)
                data = pl.concat([new, kept.select(new.columns)], how="vertical_relaxed")
            if not is_sorted(data, layout.sort_by):
                data = data.sort(layout.sort_by)
            arrow = data.to_arrow(compat_level=pl.CompatLevel.oldest()).cast(layout.schema)
            properties = commit.properties(new.height, app_id)

            def write(t: DeltaTable) -> None:
                if replace:
                    write_deltalake(
                        t,
                        arrow,
                        mode="overwrite",
                        predicate=predicate,
                        writer_properties=layout.writer_properties,
                        commit_properties=properties,
                    )
                else:
                    write_deltalake(
                        t,
                        arrow,
                        mode="append",
                        writer_properties=layout.writer_properties,
                        commit_properties=properties,
                    )

            self._commit(dataset, table, app_id, write)
        return new.height

    def store(
        self,
        dataset: Dataset,
        frame: pd.DataFrame,
        layers: int | np.ndarray,
        commit: Commit,
        *,
        prefer: Literal["new", "existing"] = "new",
    ) -> int:
        """:meth:`upsert` for a dataset frame; ``layers`` is the layer of every row, or of each row."""
        if frame.empty:
            return 0
        return self.upsert(dataset, LAYOUTS[dataset].to_arrow(frame, layers), commit, prefer=prefer)

    def delete(self, dataset: Dataset, predicate: str, commit: Commit) -> int:
        """Delete the rows matching a predicate (built with :func:`literal`) in one commit."""
        with self.locked(dataset):
            table = self.open(dataset)
            if table is None:
                return 0
            app_id = commit.app_id(dataset, predicate)
            if table.transaction_version(app_id) is not None:
                return 0
            metrics: dict[str, Any] = {}

            def run(t: DeltaTable) -> None:
                metrics.update(t.delete(predicate, commit_properties=commit.properties(None, app_id)))

            self._commit(dataset, table, app_id, run)
        return int(metrics.get("num_deleted_rows", 0))

    # ---------------------------------------------------------------- internals

    def locked(self, dataset: Dataset) -> contextlib.AbstractContextManager[None]:
        """The table's write lock (maintenance holds it around several operations)."""
        if self.locks is None:
            raise LakeError(f"{self.lake.describe(dataset)}: this LakeTables is read-only (no locks)")
        return self.locks.hold(dataset)

    def _open_or_create(self, dataset: Dataset) -> DeltaTable:
        table = self.open(dataset)
        if table is not None:
            return table
        layout = LAYOUTS[dataset]
        try:
            return DeltaTable.create(
                self.lake.table_uri(dataset),
                layout.schema,
                mode="ignore",
                partition_by=[layout.bucket],
                name=dataset.value,
                description=f"ai_trader_assets cold storage: {dataset.value}",
                configuration=table_configuration(self.spec),
                storage_options=self.lake.storage_options(),
            )
        except (DeltaError, OSError) as exc:
            raise LakeError(f"cannot create {self.lake.describe(dataset)}: {_first_line(exc)}") from exc

    def _slices(
        self,
        table: DeltaTable,
        layout: TableLayout,
        groups: list[tuple[list[Any], list[Any]]],
        ranges: pl.DataFrame | None = None,
    ) -> pa.Table:
        """The stored rows of the slices (the rows the commit's predicate will replace)."""
        condition = slice_condition(layout, groups, ranges)
        buckets = sorted({layout.bucket_of(s) for sessions, _ in groups for s in sessions})
        found = (
            pl.scan_delta(table)
            .filter(pl.col(layout.bucket).is_in(buckets) & condition)
            .collect()
            .to_arrow(compat_level=pl.CompatLevel.oldest())
        )
        return found.select(layout.schema.names).cast(layout.schema)

    def _commit(self, dataset: Dataset, table: DeltaTable, app_id: str, write: Any) -> None:
        """Run a write; after a failure, check whether it landed anyway before trying again."""
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                write(table)
                return
            except (CommitFailedError, DeltaError, OSError) as exc:
                try:
                    table.update_incremental()
                    landed = table.transaction_version(app_id) is not None
                except (DeltaError, OSError):
                    landed = False
                if landed:
                    return
                if attempt == COMMIT_ATTEMPTS or not _transient(exc):
                    raise LakeError(
                        f"commit to {self.lake.describe(dataset)} failed, the table is unchanged: "
                        f"{_first_line(exc)}"
                    ) from exc


def _transient(exc: BaseException) -> bool:
    """Conflicts and I/O hiccups are worth another attempt; bad data or schemas are not."""
    if isinstance(exc, CommitFailedError | OSError):
        return True
    text = str(exc).lower()
    return any(word in text for word in ("timeout", "timed out", "connection", "503", "500", "throttl"))


def _polars(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
