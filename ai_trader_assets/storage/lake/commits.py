"""What a commit of ours says about itself, what a table's log says of it, and how predicates are
written.

delta-rs predicates are SQL text with no bind parameters: every value goes through :func:`literal`
(dates and integers as such, strings quoted, anything unprintable refused) and every column name
comes from a table layout, never from input.
"""

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from deltalake import CommitProperties, Transaction

from ai_trader_assets.config import LakeSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.storage.lake.location import LakeError

METADATA_PREFIX = "ai_trader."
# Values that go into a delta-rs predicate: printable, no backslash.
SAFE_LITERAL = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,200}$")


@dataclasses.dataclass(frozen=True)
class TableStats:
    """A table's footprint (no data read: the log's file statistics)."""

    dataset: str
    exists: bool
    version: int | None = None
    versions: int = 0
    files: int = 0
    bytes: int = 0
    oldest_session: dt.date | None = None
    newest_session: dt.date | None = None


@dataclasses.dataclass(frozen=True)
class Commit:
    """Who commits what; recorded in the commit info of the Delta log.

    Attributes:
        operation: ``ingest``, ``retention``, ``migrate``...
        run_id: The Dagster run id, or an id of the CLI invocation.
        partitions: Dagster partition keys the commit stores (``2026-11-20|2``).
    """

    operation: str
    run_id: str
    partitions: tuple[str, ...] = ()

    def app_id(self, dataset: Dataset, predicate: str) -> str:
        """Identifies this exact commit: same run, same partitions, same slices."""
        digest = hashlib.sha256("\n".join([*self.partitions, predicate]).encode()).hexdigest()[:20]
        return f"ai_trader_assets/{dataset.value}/{self.operation}/{self.run_id}/{digest}"

    def properties(self, rows: int | None = None, app_id: str | None = None) -> CommitProperties:
        metadata: dict[str, Any] = {
            f"{METADATA_PREFIX}operation": self.operation,
            f"{METADATA_PREFIX}run_id": self.run_id,
            f"{METADATA_PREFIX}partitions": _shorten(self.partitions),
        }
        if rows is not None:
            metadata[f"{METADATA_PREFIX}rows"] = rows
        transactions = [Transaction(app_id=app_id, version=1)] if app_id else None
        return CommitProperties(custom_metadata=metadata, app_transactions=transactions)


@dataclasses.dataclass(frozen=True)
class TableVersion:
    """One entry of a table's history."""

    version: int
    timestamp: dt.datetime
    operation: str
    partitions: str
    run_id: str
    rows: str


def _shorten(partitions: Sequence[str], limit: int = 50) -> str:
    if len(partitions) <= limit:
        return ",".join(partitions)
    return ",".join(partitions[:limit]) + f",... ({len(partitions)} partitions)"


def literal(value: object) -> str:
    """A SQL literal for a delta-rs predicate; refuses anything it cannot quote safely."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if not SAFE_LITERAL.match(text):
        raise LakeError(f"value {text[:40]!r} cannot be used in a lake predicate (unprintable or too long)")
    return "'" + text.replace("'", "''") + "'"


def in_list(column: str, values: Iterable[object]) -> str:
    """``column IN (...)`` of literals (the column name must come from a layout, never from input)."""
    return f"{column} IN ({', '.join(literal(v) for v in sorted(set(values)))})"  # type: ignore[type-var]


def table_configuration(spec: LakeSpec) -> dict[str, str | None]:
    """Table properties: history and transaction ids are kept as long as time travel promises."""
    interval = f"interval {spec.time_travel_days} days"
    return {
        "delta.deletedFileRetentionDuration": interval,
        "delta.logRetentionDuration": interval,
        "delta.setTransactionRetentionDuration": interval,
    }


def version_entry(entry: dict[str, Any]) -> TableVersion:
    metrics = entry.get("operationMetrics") or {}
    ours = entry.get(f"{METADATA_PREFIX}rows")
    if ours is not None:
        rows = f"{ours} written"
    elif "num_deleted_rows" in metrics:
        rows = f"{metrics['num_deleted_rows']} deleted"
    elif "num_added_rows" in metrics:
        rows = f"{metrics['num_added_rows']} added"
    elif "numFilesAdded" in metrics:
        rows = f"{metrics.get('numFilesRemoved', 0)} files -> {metrics['numFilesAdded']}"
    else:
        rows = "-"
    return TableVersion(
        version=int(entry.get("version", -1)),
        timestamp=dt.datetime.fromtimestamp(int(entry.get("timestamp", 0)) / 1000, tz=dt.UTC),
        operation=str(entry.get("operation", "?")),
        partitions=str(entry.get(f"{METADATA_PREFIX}partitions", "") or "-"),
        run_id=str(entry.get(f"{METADATA_PREFIX}run_id", "") or "-"),
        rows=rows,
    )
