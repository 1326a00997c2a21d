"""Why a read came back empty, in one line a user can act on."""

import datetime as dt

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.read.results import ReadReport, describe
from ai_trader_assets.read.symbols import symbol_layers
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.ledger import Ledger


def why_empty(  # noqa: PLR0911 - one per reason
    database: MarketDatabase, config: PlatformConfig, today: dt.date, dataset: Dataset, report: ReadReport
) -> str:
    sessions = calendar.sessions(report.start, report.end)
    if dataset != Dataset.CORPORATE_ACTIONS and not sessions:
        return f"no NYSE session between {report.start} and {report.end}"
    if report.versions.get(dataset.value) is None:
        return f"not yet fetched: the lake has no {dataset.value} table yet"
    outside = _outside_retention(database, config, today, dataset, report)
    if outside:
        return outside
    if dataset == Dataset.CORPORATE_ACTIONS:
        return "no split or dividend of these symbols has an ex-date in this range"
    covered = Ledger(database).covered_rows(dataset, sessions, report.symbols)
    if not covered:
        return (
            f"not yet fetched: no {describe(dataset)} of these symbols and sessions have been "
            f"ingested (ai-trader backfill --symbols {','.join(report.symbols)} --datasets "
            f"{dataset.value})"
        )
    if not any(covered.values()):
        return "fetched, but the provider had no data for these symbols and sessions"
    return "the stored rows are gone (purged by retention or pinned to an older version)"


def _outside_retention(
    database: MarketDatabase, config: PlatformConfig, today: dt.date, dataset: Dataset, report: ReadReport
) -> str | None:
    layers = symbol_layers(database, report.symbols)
    windows = [
        window
        for layer in layers.layers(report.symbols)
        if (window := config.window(layer, dataset)) is not None
    ]
    if windows:
        kept = max(w.cold_days for w in windows)
        oldest = today - dt.timedelta(days=kept - 1)
        if report.end < oldest:
            return (
                f"outside every retention window: {describe(dataset)} of these symbols' layers are "
                f"kept {kept} days (sessions from {oldest})"
            )
    return None
