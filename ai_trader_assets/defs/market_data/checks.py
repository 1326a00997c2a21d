"""Asset checks run after every materialization, against what storage now holds.

- integrity (blocking): the stored partitions have consistent OHLC, positive prices, non-negative
  volume and no duplicate keys;
- completeness: each member symbol has the bars the calendar expects for the session (early closes
  included), or for sparse datasets a recorded fetch;
- freshness: every member of an ingesting layer is stored up to the previous session at least.
"""

import datetime as dt
from collections.abc import Iterator, Sequence

import dagster as dg
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.config import LAYERS, Dataset
from ai_trader_assets.defs.platform.resources import (
    LakeResource,
    MarketDatabaseResource,
    PlatformConfigResource,
)
from ai_trader_assets.ingest import PartitionData
from ai_trader_assets.providers.base import BAR_DATASETS
from ai_trader_assets.storage.datasets import check_rows
from ai_trader_assets.storage.lake.tables import lake_tables
from ai_trader_assets.storage.ledger import Ledger

SHOWN = 20  # symbols listed in check metadata


def CHECK_SPECS(dataset: Dataset) -> list[dg.AssetCheckSpec]:
    asset = dataset.value
    return [
        dg.AssetCheckSpec(
            "integrity", asset=asset, blocking=True, description="Stored rows are valid; keys are unique."
        ),
        dg.AssetCheckSpec(
            "completeness", asset=asset, description="Every member has what the calendar expects."
        ),
        dg.AssetCheckSpec(
            "freshness", asset=asset, description="Members are stored up to the previous session."
        ),
    ]


def expected_bars(dataset: Dataset, session: dt.date) -> int:
    """Regular-session bars per symbol for an interval (390/78/7/1 on a full day, fewer on early closes)."""
    minutes = calendar.session_minutes(session)
    if dataset == Dataset.BARS_1MIN:
        return minutes
    if dataset == Dataset.BARS_5MIN:
        return minutes // 5
    if dataset == Dataset.BARS_1HOUR:
        open_utc, close_utc = calendar.session_open_close(session)
        return len(pd.date_range(open_utc.replace(minute=0), close_utc - dt.timedelta(minutes=1), freq="1h"))
    return 1


def _regular_rows(dataset: Dataset, session: dt.date, frame: pd.DataFrame) -> pd.DataFrame:
    if dataset in (Dataset.BARS_1DAY, Dataset.BARS_1HOUR):
        return frame
    open_utc, close_utc = calendar.session_open_close(session)
    return frame[(frame["ts"] >= open_utc) & (frame["ts"] < close_utc)]


def check_results(
    dataset: Dataset,
    results: Sequence[PartitionData],
    platform: PlatformConfigResource,
    market_db: MarketDatabaseResource,
    lake: LakeResource,
) -> Iterator[dg.AssetCheckResult]:
    written = [r for r in results if r.fetched]
    in_cold = lake_tables(lake.get_lake(), platform.get()).frame(
        dataset,
        extra=["session", "layer"],
        sessions=sorted({r.session for r in written}),
        layers=sorted({r.layer for r in written}),
    )
    problems, incomplete = 0, {}
    for data in written:
        here = (in_cold["session"] == data.session) & (in_cold["layer"] == data.layer)
        stored = in_cold[here].drop(columns=["session", "layer"]).reset_index(drop=True)
        if stored.empty:
            if any(data.fetched.values()):
                problems += 1  # rows were fetched but the partition is not in cold storage
            continue
        problems += len(check_rows(dataset, stored)[1])
        if dataset in BAR_DATASETS:
            counts = _regular_rows(dataset, data.session, stored).groupby("symbol").size()
            expected = expected_bars(dataset, data.session)
            for symbol in data.fetched:
                if int(counts.get(symbol, 0)) < expected:
                    incomplete[f"{symbol} {data.session}"] = int(counts.get(symbol, 0))
    yield dg.AssetCheckResult(
        check_name="integrity",
        passed=problems == 0,
        metadata={"partitions checked": len(written), "invalid or duplicate rows": problems},
    )
    if dataset not in BAR_DATASETS:
        ledger = Ledger(market_db.database)
        for data in written:
            covered = ledger.covered(dataset, [data.session], list(data.fetched))
            incomplete.update(
                {f"{s} {data.session}": 0 for s in data.fetched if (data.session, s) not in covered}
            )
    yield dg.AssetCheckResult(
        check_name="completeness",
        passed=not incomplete,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "partitions checked": len(written),
            "incomplete symbol-sessions": len(incomplete),
            "examples (rows found)": str(dict(list(incomplete.items())[:SHOWN])) or "-",
        },
    )
    yield _freshness(dataset, platform, market_db)


def _freshness(
    dataset: Dataset, platform: PlatformConfigResource, market_db: MarketDatabaseResource
) -> dg.AssetCheckResult:
    config = platform.get()
    today = platform.today()
    latest = calendar.session_on_or_before(today)
    due = calendar.previous_session(latest)  # today's session may still be trading
    companies = market_db.companies()
    members = [m for layer in LAYERS if config.ingests(layer, dataset) for m in companies.members(layer)]
    stored = Ledger(market_db.database).latest_sessions(dataset)
    stale = sorted(m for m in members if stored.get(m, dt.date.min) < due)
    return dg.AssetCheckResult(
        check_name="freshness",
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "due session": due.isoformat(),
            "members": len(members),
            "stale": len(stale),
            "stale symbols": ", ".join(stale[:SHOWN]) or "-",
        },
    )
