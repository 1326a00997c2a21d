"""What ``ai-trader status`` reports, no Dagster: layers, retention-window coverage, hot rows and each
Delta table's files, bytes, versions and sessions, quarantine."""

import dataclasses
import datetime as dt

import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import SPECS
from ai_trader_assets.storage import schema
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.coverage import window_coverage
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import TableStats
from ai_trader_assets.storage.lake.tables import lake_tables


@dataclasses.dataclass(frozen=True)
class Coverage:
    dataset: str
    layer: int
    members: int
    sessions: int  # sessions in the layer's cold window that are due
    complete: int  # sessions every member has


@dataclasses.dataclass(frozen=True)
class Footprint:
    dataset: str
    hot_rows: int
    cold: TableStats
    quarantined: int


@dataclasses.dataclass(frozen=True)
class StatusReport:
    layers: dict[int | None, int]
    coverage: list[Coverage]
    footprint: list[Footprint]


def build_status(
    database: MarketDatabase, lake: Lake, config: PlatformConfig, today: dt.date
) -> StatusReport:
    latest = calendar.session_on_or_before(today)
    coverage = [
        Coverage(w.dataset.value, w.layer, len(w.members), len(w.sessions), w.complete_sessions())
        for w in window_coverage(database, config, today, window="cold", last=latest)
    ]
    footprint = []
    tables = lake_tables(lake, config)
    with database.begin() as conn:
        quarantined: dict[str, int] = dict(
            conn.execute(
                sa.select(schema.quarantine.c.dataset, sa.func.count()).group_by(schema.quarantine.c.dataset)
            ).all()
        )
        for dataset, spec in SPECS.items():
            rows = int(conn.execute(sa.select(sa.func.count()).select_from(spec.table)).scalar_one())
            footprint.append(
                Footprint(dataset.value, rows, tables.stats(dataset), int(quarantined.get(dataset.value, 0)))
            )
    return StatusReport(CompaniesRepository(database).layer_counts(), coverage, footprint)
