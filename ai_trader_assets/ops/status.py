"""What ``ai-trader status`` reports, no Dagster: layers, retention-window coverage, hot rows and each
Delta table's files, bytes, versions and sessions, quarantine."""

import dataclasses
import datetime as dt

import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import LAYERS, SPECS
from ai_trader_assets.storage import schema
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.tables import TableStats, lake_tables
from ai_trader_assets.storage.ledger import Ledger


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
    companies, ledger = CompaniesRepository(database), Ledger(database)
    latest = calendar.session_on_or_before(today)
    coverage = []
    for layer in LAYERS:
        members = companies.members(layer)
        for dataset in config.layers.layers[layer].datasets:  # type: ignore[index]
            window = config.window(layer, dataset)
            assert window is not None
            first = config.window_start(window.cold_days, today)
            sessions = calendar.sessions(first, latest)
            covered = ledger.covered(dataset, sessions, members)
            per_session: dict[dt.date, int] = {}
            for session, _ in covered:
                per_session[session] = per_session.get(session, 0) + 1
            complete = sum(1 for s in sessions if members and per_session.get(s, 0) == len(members))
            coverage.append(Coverage(dataset.value, layer, len(members), len(sessions), complete))
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
    return StatusReport(companies.layer_counts(), coverage, footprint)
