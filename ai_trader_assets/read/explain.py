"""Why a read came back empty, in one line a user can act on, from the coverage recorded."""

import datetime as dt

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.read.results import ReadReport, describe
from ai_trader_assets.read.symbols import symbol_layers
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.ledger import Ledger


def why_empty(
    database: MarketDatabase, config: PlatformConfig, today: dt.date, dataset: Dataset, report: ReadReport
) -> str:
    """From the coverage the platform records (never from a missing table): no session in the range,
    outside every retention window, not yet fetched, fetched with nothing to store (before the
    symbols' first data, or none then), or stored and since gone."""
    sessions = calendar.sessions(report.start, report.end)
    if not sessions:
        return f"no NYSE session between {report.start} and {report.end}"
    kept = _kept_from(database, config, today, dataset, report)
    if kept is not None and report.end < kept[0]:
        return (
            f"outside every retention window: {describe(dataset)} of these symbols' layers are kept "
            f"{kept[1]} days (sessions from {kept[0]})"
        )
    ledger = Ledger(database)
    covered = ledger.covered_rows(dataset, sessions, report.symbols)
    what = describe(dataset)
    command = f"ai-trader backfill --symbols {','.join(report.symbols)} --datasets {dataset.value}"
    if not covered:
        return f"not yet fetched: no {what} of these symbols and sessions have been ingested ({command})"
    if any(covered.values()):
        return "the stored rows are gone (purged by retention or pinned to an older version)"
    fetched = sorted(session for session, _ in covered)
    kept_sessions = [s for s in sessions if kept is None or s >= kept[0]]
    missing = sum(1 for s in kept_sessions for m in set(report.symbols) if (s, m) not in covered)
    rest = f"; {missing} symbol-session(s) not yet fetched ({command})" if missing else ""
    if kept is not None and sessions[0] < kept[0]:
        rest += f"; sessions before {kept[0]} are outside every retention window"
    first = ledger.first_with_rows(dataset, report.symbols)
    if len(first) == len(set(report.symbols)) and report.end < min(first.values()):
        since = ", ".join(f"{symbol} from {day}" for symbol, day in sorted(first.items()))
        return f"before these symbols' first {what} ({since}): fetched, nothing to store{rest}"
    return (
        f"fetched {fetched[0]}..{fetched[-1]}, nothing to store: the provider had no {what} of these "
        f"symbols then{rest}"
    )


def _kept_from(
    database: MarketDatabase, config: PlatformConfig, today: dt.date, dataset: Dataset, report: ReadReport
) -> tuple[dt.date, int] | None:
    """The oldest session any of the symbols' layers keeps (and for how many days), None: no window."""
    layers = symbol_layers(database, report.symbols)
    windows = [
        window
        for layer in layers.layers(report.symbols)
        if (window := config.window(layer, dataset)) is not None
    ]
    if not windows:
        return None
    kept = max(w.cold_days for w in windows)
    return today - dt.timedelta(days=kept - 1), kept
