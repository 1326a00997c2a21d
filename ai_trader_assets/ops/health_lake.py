"""Health of the lake: its root can be listed, and each Delta table is maintained and checkpointed.

**Maintained**: the nightly ``maintain_lake`` job clusters buckets that hold more files than their
size needs (closed ones, and the open one past ``lake.open_bucket_max_files``), vacuums and
checkpoints. A table is degraded when such a bucket has waited for it longer than
``lake_maintenance_max_age_hours``: a closed bucket since its newest file, the open one since the file
that took it past the limit. (A night with nothing to cluster or vacuum leaves no commit in the
table's history, so the age of the last maintenance commit alone would flag every tidy table.)

The last maintenance is reported too: the newest of the maintenance commits (``OPTIMIZE``,
``VACUUM``, our commits tagged ``maintain``) and of the checkpoints maintenance wrote. delta-rs also
checkpoints by itself at every ``delta.checkpointInterval``-th commit (versions 99, 199... by
default); those are not maintenance and are told apart by their version.

**Checkpointed**: a read replays every JSON commit after the last checkpoint; more than
``lake_max_commits_since_checkpoint`` of them is degraded.

Nothing here reads data: the log, its listing and the file statistics only.
"""

import datetime as dt
import re
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.config.pipeline import HealthSpec
from ai_trader_assets.datasets import INGESTED_DATASETS, Dataset
from ai_trader_assets.ops.health_report import Check, Status, ago, check, first_line
from ai_trader_assets.storage.lake import Lake, LakeError
from ai_trader_assets.storage.lake.commits import METADATA_PREFIX
from ai_trader_assets.storage.lake.layout import LAYOUTS
from ai_trader_assets.storage.lake.location import table_path
from ai_trader_assets.storage.lake.maintenance import buckets_to_cluster
from ai_trader_assets.storage.lake.tables import LakeTables, lake_tables

GIB = 2**30
MAINTENANCE_OPERATIONS = frozenset({"OPTIMIZE", "VACUUM START", "VACUUM END"})
MAINTAIN = "maintain"  # the Commit operation of storage.lake.maintenance
CHECKPOINT_INTERVAL = "delta.checkpointInterval"
DEFAULT_CHECKPOINT_INTERVAL = 100  # delta-rs' default
# Commits read back at most when no checkpoint of maintenance bounds the search: a busy day's worth
# (each is one small file: on S3, one request).
HISTORY_LIMIT = 1_000
CHECKPOINT_FILE = re.compile(r"^(\d{20})\.checkpoint(?:\.\d+\.\d+)?\.parquet$")


def lake_checks(
    lake: Lake, config: PlatformConfig, spec: HealthSpec, today: dt.date, now: dt.datetime
) -> list[Check]:
    """The root (down when it cannot be listed), each ingested dataset's table, and the local disk;
    ``today`` is the market's (which bucket is open), ``now`` the wall clock (ages)."""
    try:
        lake.filesystem().get_file_info(pafs.FileSelector(lake.root, allow_not_found=True))
    except OSError as exc:
        return [check("lake", Status.DOWN, f"cannot list the lake at {lake.url}: {first_line(exc)}")]
    checks = [check("lake", Status.OK, f"{lake.url} can be listed")]
    tables = lake_tables(lake, config)
    for dataset in INGESTED_DATASETS:
        try:
            checks.append(_table_check(tables, dataset, spec, today, now))
        except (LakeError, DeltaError, OSError) as exc:
            checks.append(
                check(
                    "lake_table",
                    Status.DOWN,
                    f"cannot open: {first_line(exc)}",
                    labels={"dataset": dataset.value},
                )
            )
    if lake.is_local:
        checks.append(disk_check(Path(lake.root), spec))
    return checks


def _is_maintenance(entry: dict[str, Any]) -> bool:
    return (
        entry.get("operation") in MAINTENANCE_OPERATIONS
        or entry.get(f"{METADATA_PREFIX}operation") == MAINTAIN
    )


def checkpoints(lake: Lake, dataset: Dataset) -> dict[int, float]:
    """The table's checkpoints: version -> when the file was written (seconds since the epoch)."""
    folder = f"{lake.root}/{table_path(dataset)}/_delta_log"
    found: dict[int, float] = {}
    for info in lake.filesystem().get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
        match = CHECKPOINT_FILE.match(info.base_name)
        if match and info.mtime_ns is not None:
            version = int(match.group(1))
            found[version] = max(found.get(version, 0.0), info.mtime_ns / 1e9)
    return found


def _table_check(
    tables: LakeTables, dataset: Dataset, spec: HealthSpec, today: dt.date, now: dt.datetime
) -> Check:
    table = tables.open(dataset)
    if table is None:
        return check("lake_table", Status.OK, "no table yet", labels={"dataset": dataset.value})
    clock = now.timestamp()
    version = table.version()
    written = checkpoints(tables.lake, dataset)
    maintained = last_maintenance(table, written)
    waiting = clustering_debt(table, dataset, today, tables.spec.open_bucket_max_files)
    checkpoint = max(written, default=None)
    since_checkpoint = version - checkpoint if checkpoint is not None else version + 1
    measures: dict[str, float] = {"version": version, "commits_since_checkpoint": since_checkpoint}
    if checkpoint is not None:
        measures["checkpoint_age_seconds"] = clock - written[checkpoint]
    last = (
        "no maintenance in its log"
        if maintained is None
        else f"last maintained {ago(clock - maintained)} ago"
    )
    problems = []
    overdue = {b: t for b, t in waiting.items() if clock - t > spec.lake_maintenance_max_age_hours * 3600}
    if overdue:
        oldest = min(overdue.values())
        problems.append(
            f"bucket(s) {', '.join(sorted(overdue))} await clustering for {ago(clock - oldest)} "
            f"(over {spec.lake_maintenance_max_age_hours} h), {last}: is maintain_lake_schedule running?"
        )
    if since_checkpoint > spec.lake_max_commits_since_checkpoint:
        problems.append(
            f"{since_checkpoint} commits since the last checkpoint "
            f"(over {spec.lake_max_commits_since_checkpoint}): every read replays them"
        )
    facts = [
        f"version {version}",
        last,
        "no checkpoint"
        if checkpoint is None
        else f"checkpoint {ago(clock - written[checkpoint])} ago, {since_checkpoint} commit(s) since",
    ]
    if waiting:
        facts.append(f"{len(waiting)} bucket(s) to cluster tonight")
    return check(
        "lake_table",
        Status.DEGRADED if problems else Status.OK,
        "; ".join(problems or facts),
        value=None if maintained is None else clock - maintained,
        unit="seconds",
        measures=measures,
        labels={"dataset": dataset.value},
    )


def last_maintenance(table: DeltaTable, written: dict[int, float]) -> float | None:
    """When the table was last maintained (seconds since the epoch), or None when neither its
    checkpoints nor its last :data:`HISTORY_LIMIT` commits show maintenance."""
    configured = table.metadata().configuration.get(CHECKPOINT_INTERVAL)
    interval = int(configured) if configured else DEFAULT_CHECKPOINT_INTERVAL
    # Checkpoints delta-rs wrote by itself (every interval-th commit) say nothing of maintenance.
    ours = [v for v in written if (v + 1) % interval != 0]
    since = max(ours, default=-1)
    # Maintenance commits come before its checkpoint: only a run that failed after them is newer.
    limit = max(1, min(table.version() - since, HISTORY_LIMIT))
    commits = [
        int(entry.get("timestamp", 0)) / 1000 for entry in table.history(limit) if _is_maintenance(entry)
    ]
    found = [*commits, *([written[since]] if since >= 0 else [])]
    return max(found, default=None)


def clustering_debt(
    table: DeltaTable, dataset: Dataset, today: dt.date, open_max_files: int
) -> dict[str, float]:
    """Buckets maintenance would cluster now -> since when they wait (seconds since the epoch): a
    closed bucket since its newest file, the open one since the file that took it past the limit."""
    layout = LAYOUTS[dataset]
    waiting = buckets_to_cluster(table, dataset, today, open_max_files)
    if not waiting:
        return {}
    actions = pa.table(table.get_add_actions(flatten=True))
    times: dict[str, list[float]] = defaultdict(list)
    for bucket, modified in zip(
        actions[f"partition.{layout.bucket}"].to_pylist(),
        actions["modification_time"].to_pylist(),
        strict=True,
    ):
        times[str(bucket)].append(int(modified) / 1000)
    current = layout.bucket_of(today)
    debt = {}
    for bucket in waiting:
        files = sorted(times[bucket])
        past_limit = bucket == current and len(files) > open_max_files
        debt[bucket] = files[open_max_files] if past_limit else files[-1]
    return debt


def disk_check(root: Path, spec: HealthSpec) -> Check:
    """Free space on the disk of a local lake (its nearest existing folder before the first write)."""
    folder = root
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    usage = shutil.disk_usage(folder)
    share = usage.free / usage.total if usage.total else 0.0
    detail = f"{usage.free / GIB:.1f} GiB free of {usage.total / GIB:.1f} GiB ({share:.0%}) at {folder}"
    low = usage.free < spec.disk_min_free_gib * GIB or share < spec.disk_min_free_share
    if low:
        detail += f": below {spec.disk_min_free_gib:g} GiB or {spec.disk_min_free_share:.0%}"
    return check(
        "disk",
        Status.DEGRADED if low else Status.OK,
        detail,
        value=float(usage.free),
        unit="bytes",
        measures={"total_bytes": float(usage.total), "free_share": share},
    )
