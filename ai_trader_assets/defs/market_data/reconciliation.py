"""Reconciliation in Dagster: the ``reconciliation`` check of ``bars_1day`` and the ``reconcile`` job.

The check compares a deterministic sample of each materialized session's symbols with a second
provider (``reconciliation`` in providers.yaml); it exists only when such a provider is configured.
The job compares every given symbol over a date range (the UI's launchpad, or ``ai-trader reconcile``
for the same from the command line).
"""

import datetime as dt
from collections.abc import Callable, Sequence

import dagster as dg
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.partitions import PartitionData
from ai_trader_assets.defs.platform.resources import (
    LakeResource,
    MarketDatabaseResource,
    MarketDataProviderResource,
    PlatformConfigResource,
)
from ai_trader_assets.providers import MarketDataProvider, ProviderAccess
from ai_trader_assets.read import MarketData
from ai_trader_assets.reconciliation import Reconciler, ReconciliationReport, reference_for, sample
from ai_trader_assets.settings import Settings
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake

CHECK_NAME = "reconciliation"


def reconciliation_possible(settings: Settings, config: PlatformConfig) -> bool:
    """Whether a provider other than the primary is configured to compare daily bars with."""
    if settings.provider == "demo":
        return False
    access = ProviderAccess.from_settings(settings)
    return reference_for(settings.provider, config.providers.reconciliation, access.configured) is not None


def check_spec() -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=Dataset.BARS_1DAY.value,
        description="A sample of each session's stored daily bars agrees with a second provider "
        "(close, volume, sessions present); divergences go to the reconciliation table.",
    )


def reconciler(
    database: MarketDatabase,
    lake: Lake,
    config: PlatformConfig,
    today: dt.date,
    *,
    provider: Callable[[str], MarketDataProvider],
    available: Callable[[str], bool],
) -> Reconciler:
    """A :class:`Reconciler` reading stored bars through :class:`MarketData` (hot and cold, raw)."""
    data = MarketData(database, lake, config=config, today=today)

    def read_stored(symbols: Sequence[str], first: dt.date, last: dt.date) -> pd.DataFrame:
        frame: pd.DataFrame = data.bars(list(symbols), "1day", first, last)
        return frame

    return Reconciler(database, read_stored, provider, available, config.providers.reconciliation)


def _reconciler(
    platform: PlatformConfigResource,
    market_db: MarketDatabaseResource,
    lake: LakeResource,
    provider: MarketDataProviderResource,
) -> Reconciler:
    return reconciler(
        market_db.database,
        lake.get_lake(),
        platform.get(),
        platform.today(),
        provider=provider.get_single,
        available=provider.access().configured,
    )


class SampledPairs:
    """The (session, symbol) pairs a run fetched, sampled per session as the slices are stored."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pairs: set[tuple[dt.date, str]] = set()

    def add(self, stored: Sequence[PartitionData]) -> None:
        for data in stored:
            self.pairs.update((data.session, s) for s in sample(data.fetched, data.session, self.size))


def check_result(report: ReconciliationReport, worst: int) -> dg.AssetCheckResult:
    """Divergences fail the check; pairs that could not be compared (the second provider down, or
    only the rows' own source configured) are a warning: those rows were not confirmed."""
    if report.divergences:
        return dg.AssetCheckResult(
            check_name=CHECK_NAME,
            passed=False,
            metadata=report.metadata(worst),
            description=f"{len(report.divergences)} divergence(s) from a second provider",
        )
    return dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=not report.not_compared,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=report.metadata(worst),
        description="some symbol-sessions could not be compared" if report.not_compared else None,
    )


def run_check(
    pairs: SampledPairs,
    platform: PlatformConfigResource,
    market_db: MarketDatabaseResource,
    lake: LakeResource,
    provider: MarketDataProviderResource,
) -> dg.AssetCheckResult:
    found = _reconciler(platform, market_db, lake, provider).reconcile(sorted(pairs.pairs))
    return check_result(found, platform.get().providers.reconciliation.report_worst)


class ReconcileConfig(dg.Config):
    symbols: list[str]
    """Symbols to compare."""
    start: str
    """First session (YYYY-MM-DD)."""
    end: str
    """Last session (YYYY-MM-DD)."""


def parse_date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"reconcile: {name} {value!r} is not a date (YYYY-MM-DD)") from None


def reconcile_range(
    reconciler_: Reconciler, symbols: Sequence[str], start: dt.date, end: dt.date
) -> ReconciliationReport:
    """Every session of ``start``..``end`` for every symbol.

    Raises:
        ValueError: no symbols, start after end, or no NYSE session in the range.
    """
    if not symbols:
        raise ValueError("reconcile: no symbols given")
    if start > end:
        raise ValueError(f"reconcile: start {start} is after end {end}")
    sessions = calendar.sessions(start, end)
    if not sessions:
        raise ValueError(f"reconcile: no NYSE session between {start} and {end}")
    return reconciler_.reconcile([(s, m) for s in sessions for m in symbols])


@dg.op(description="Compare stored daily bars with a second provider over a date range.")
def reconcile_op(  # noqa: PLR0917 - Dagster injects the resources by parameter name
    context: dg.OpExecutionContext,
    config: ReconcileConfig,
    platform: PlatformConfigResource,
    market_db: MarketDatabaseResource,
    lake: LakeResource,
    provider: MarketDataProviderResource,
) -> dg.Output[None]:
    settings = platform.get()
    found = reconcile_range(
        _reconciler(platform, market_db, lake, provider),
        [s.strip().upper() for s in config.symbols],
        parse_date(config.start, "start"),
        parse_date(config.end, "end"),
    )
    metadata = found.metadata(settings.providers.reconciliation.report_worst)
    if found.compared == 0:
        raise dg.Failure(description="nothing compared: " + "; ".join(found.not_compared), metadata=metadata)
    if not found.passed:
        raise dg.Failure(
            description=f"{len(found.divergences)} divergence(s) from a second provider "
            "(rows in the reconciliation table)",
            metadata=metadata,
        )
    return dg.Output(None, metadata=metadata)


@dg.job(description="Compare stored daily bars with a second provider (providers.yaml reconciliation).")
def reconcile() -> None:
    reconcile_op()


@dg.definitions
def reconciliation_definitions() -> dg.Definitions:
    return dg.Definitions(jobs=[reconcile])
