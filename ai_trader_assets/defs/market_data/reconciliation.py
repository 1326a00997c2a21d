"""Reconciliation in Dagster: the ``reconciliation`` check of ``bars_1day`` and the ``reconcile`` job.

The check compares a deterministic sample of each materialized session's symbols with a second
provider (``reconciliation`` in providers.yaml); it exists only when such a provider is configured.
The job compares every given symbol over a date range (the UI's launchpad, or ``ai-trader reconcile``
for the same from the command line).
"""

import dagster as dg

from ai_trader_assets.datasets import Dataset
from ai_trader_assets.defs.platform.resources import (
    LakeResource,
    MarketDatabaseResource,
    MarketDataProviderResource,
    PlatformConfigResource,
)
from ai_trader_assets.ops.reconciliation import (
    Reconciler,
    ReconciliationReport,
    SampledPairs,
    parse_date,
    reconcile_range,
    reconciler,
)

CHECK_NAME = "reconciliation"


def check_spec() -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=Dataset.BARS_1DAY.value,
        description="A sample of each session's stored daily bars agrees with a second provider "
        "(close, volume, sessions present); divergences go to the reconciliation table.",
    )


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
