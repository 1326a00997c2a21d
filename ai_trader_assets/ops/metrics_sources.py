"""What the metrics endpoint reads besides the health checks, each from the platform's own state (so
one server process sees what every run worker did): hot rows per layer, cold rows per layer, the cold
windows' coverage, quarantine, provider statistics and the assets' last runs.

The costs are bounded for a scrape every few seconds (the caller caches): one grouped count per hot
table; the Delta log's per-file statistics for the cold rows, scanning only the ``layer`` column of
the files that hold several layers; one count per layer, dataset and chunk of members for coverage;
the Dagster instance's latest materialization per asset. Dagster is imported only to read it.
"""

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import sqlalchemy as sa
from deltalake import DeltaTable

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import INGESTED_DATASETS, LAYERS, SPECS, Dataset
from ai_trader_assets.datasets.news import NEWS_SYMBOLS_TABLE
from ai_trader_assets.datasets.partitions import NOT_WANTED_KEY
from ai_trader_assets.ops.health_dagster import NoInstanceError, open_instance
from ai_trader_assets.ops.health_report import first_line
from ai_trader_assets.storage import schema
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.tables import lake_tables
from ai_trader_assets.storage.ledger import Ledger

NO_LAYER = "none"  # a symbol without a layer now (inactive, or not in companies)
RECENT = dt.timedelta(days=1)  # quarantine's "recent" rows

RowCounts = dict[tuple[str, str], int]  # (dataset, layer) -> rows


class SourceError(RuntimeError):
    """A source could not be read (the message names it and why)."""


@dataclasses.dataclass(frozen=True)
class AssetRun:
    """What an asset's latest materialization recorded (the market-data IO manager's numbers)."""

    seconds: float | None
    rows_per_second: float | None
    rows_written: float | None
    timestamp: float  # when it was materialized, seconds since the epoch


def _layer(value: Any) -> str:
    return NO_LAYER if value is None else str(int(value))


def ingested(config: PlatformConfig) -> RowCounts:
    """Zero rows for every layer and dataset it ingests (so a series exists before the first row)."""
    return {
        (d.value, str(layer)): 0 for layer in LAYERS for d in INGESTED_DATASETS if config.ingests(layer, d)
    }


def hot_rows(database: MarketDatabase, config: PlatformConfig) -> RowCounts:
    """Rows of each hot table per current layer of their symbol; news: articles per layer of the
    symbols they name (an article naming symbols of two layers counts in both)."""
    companies = schema.companies
    found = ingested(config)
    with database.begin() as conn:
        for dataset, spec in SPECS.items():
            if dataset == Dataset.NEWS:
                links = NEWS_SYMBOLS_TABLE
                query = (
                    sa.select(companies.c.layer, sa.func.count(sa.distinct(links.c.news_id)))
                    .select_from(links.outerjoin(companies, companies.c.symbol == links.c.symbol))
                    .group_by(companies.c.layer)
                )
            else:
                # Counted per symbol first (the key's leading column), then joined: the join sees
                # one row per symbol, not one per stored row.
                table = spec.table
                per_symbol = (
                    sa.select(table.c.symbol, sa.func.count().label("n")).group_by(table.c.symbol).subquery()
                )
                query = (
                    sa.select(companies.c.layer, sa.func.sum(per_symbol.c.n))
                    .select_from(per_symbol.outerjoin(companies, companies.c.symbol == per_symbol.c.symbol))
                    .group_by(companies.c.layer)
                )
            for row in conn.execute(query):
                found[(dataset.value, _layer(row[0]))] = int(row[1] or 0)
    return found


def cold_rows(lake: Lake, config: PlatformConfig) -> RowCounts:
    """Rows of each Delta table per value of its ``layer`` column (the layer each row was stored in)."""
    tables = lake_tables(lake, config)
    found = ingested(config)
    for dataset in INGESTED_DATASETS:
        table = tables.open(dataset)
        if table is None:
            continue
        for layer, rows in layer_counts(table, lake.storage_options()).items():
            found[(dataset.value, str(layer))] = rows
    return found


def layer_counts(table: DeltaTable, storage_options: Mapping[str, str]) -> dict[int, int]:
    """Rows per ``layer`` of a Delta table: a file holding one layer is counted from the log's
    statistics (not opened); of the other files only the ``layer`` column is read."""
    if "deletionVectors" in (table.protocol().reader_features or []):
        return _count(pl.scan_delta(table))  # another engine's table: scan_delta applies them
    actions = pa.table(table.get_add_actions(flatten=True))
    size, names = actions.num_rows, set(actions.column_names)

    def column(name: str) -> list[Any]:
        return actions[name].to_pylist() if name in names else [None] * size

    counts: Counter[int] = Counter()
    mixed = []
    root = table.table_uri.rstrip("/")
    for path, rows, low, high, nulls in zip(
        column("path"),
        column("num_records"),
        column("min.layer"),
        column("max.layer"),
        column("null_count.layer"),
        strict=True,
    ):
        if rows is not None and low is not None and low == high and nulls == 0:
            counts[int(low)] += int(rows)
        else:
            mixed.append(f"{root}/{path}")
    if mixed:
        counts.update(
            _count(
                pl.scan_parquet(
                    mixed,
                    storage_options=dict(storage_options) or None,
                    missing_columns="insert",
                    extra_columns="ignore",
                )
            )
        )
    return dict(counts)


def _count(frame: pl.LazyFrame) -> dict[int, int]:
    counted = frame.select("layer").drop_nulls().group_by("layer").len().collect()
    return {int(layer): int(rows) for layer, rows in counted.iter_rows()}


def window_coverage(
    database: MarketDatabase, config: PlatformConfig, today: dt.date, last: dt.date
) -> dict[tuple[str, str], float]:
    """Per layer and dataset it ingests: the share of its cold window's (session, member) pairs,
    sessions through ``last``, that are stored whole. A layer without members has no share."""
    companies, ledger = CompaniesRepository(database), Ledger(database)
    shares = {}
    for layer in LAYERS:
        members = companies.members(layer)
        for dataset in INGESTED_DATASETS:
            window = config.window(layer, dataset)
            if window is None or not config.ingests(layer, dataset) or not members:
                continue
            sessions = calendar.sessions(config.window_start(window.cold_days, today), last)
            if sessions:
                stored = ledger.count_covered(dataset, sessions[0], sessions[-1], members)
                shares[(dataset.value, str(layer))] = stored / (len(sessions) * len(members))
    return shares


def quarantine_rows(database: MarketDatabase, now: dt.datetime) -> dict[str, tuple[int, int]]:
    """Per dataset: rows in quarantine, and those of them quarantined in the last day."""
    table = schema.quarantine
    recent = sa.func.sum(sa.case((table.c.detected_at >= now - RECENT, 1), else_=0))
    with database.begin() as conn:
        rows = conn.execute(
            sa.select(table.c.dataset, sa.func.count(), recent).group_by(table.c.dataset)
        ).all()
    found = {d.value: (0, 0) for d in INGESTED_DATASETS}
    found.update({str(row[0]): (int(row[1]), int(row[2] or 0)) for row in rows})
    return found


# The newest materializations looked at for a run's (a first install's "not wanted" marks come in
# thousands, but before any run; afterwards a handful a day).
RECENT_EVENTS = 100


def asset_runs(home: Path) -> dict[str, AssetRun]:
    """Per ingested dataset's asset, what its latest materialization by a run in the Dagster instance
    at ``home`` recorded (the policy grid's "not wanted" marks are not runs); none before the
    instance exists.

    Raises:
        SourceError: the instance cannot be read.
    """
    import dagster as dg  # noqa: PLC0415 - Dagster loads to read the instance only

    runs = {}
    try:
        with open_instance(home) as instance:
            for dataset in INGESTED_DATASETS:
                records = instance.fetch_materializations(
                    dg.AssetKey(dataset.value), limit=RECENT_EVENTS
                ).records
                record = next((r for r in records if _run_materialization(r.asset_materialization)), None)
                if record is None or record.asset_materialization is None:
                    continue
                metadata = record.asset_materialization.metadata
                runs[dataset.value] = AssetRun(
                    seconds=_number(metadata.get("seconds")),
                    rows_per_second=_number(metadata.get("rows/s")),
                    rows_written=_number(metadata.get("rows written")),
                    timestamp=record.timestamp,
                )
    except NoInstanceError:
        return {}
    except Exception as exc:  # storage plugins raise their own types (DagsterPostgresException...)
        raise SourceError(f"cannot read the Dagster instance at {home}: {first_line(exc)}") from exc
    return runs


def _run_materialization(materialization: Any) -> bool:
    """A materialization a run recorded, not one of the policy grid's "not wanted" marks."""
    return materialization is not None and NOT_WANTED_KEY not in materialization.metadata


def _number(value: Any) -> float | None:
    """A metadata entry's number (Dagster wraps them in ``*MetadataValue``), or None."""
    value = getattr(value, "value", value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
