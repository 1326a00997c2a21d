"""The trading session kept current, no Dagster: when a layer's refresh is due, and whether its
intraday bars are fresh.

A refresh is due on every tick of ``every_minutes`` while the session trades, and on the first tick
at or after the close (which completes the session's partition). Ticks before the open, on
holidays and after that last one are skipped. The ingest itself (``ai_trader_assets.ingest``) stores
only bars that have ended and asks the provider only for bars after the newest stored.

Freshness: during the session, each member's newest bar must have ended no more than two refreshes
before now (``2 * every_minutes``); in the first two refreshes after the open nothing is expected
yet, and outside the session there is nothing to be fresh about.
"""

import dataclasses
import datetime as dt

import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.config import IntradaySpec, PlatformConfig
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.registry import INTRADAY_LENGTHS
from ai_trader_assets.read import MarketData
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake

SHOWN = 20  # symbols listed in check metadata


def refresh_due(now: dt.datetime, every_minutes: int) -> tuple[dt.date | None, str]:
    """The session a refresh at ``now`` is for, or None and why not."""
    day = now.astimezone(calendar.NEW_YORK).date()
    if not calendar.is_session(day):
        return None, f"{day} is not an NYSE session"
    opens, closes = calendar.session_open_close(day)
    if now <= opens:
        return None, f"{day}'s session opens at {_clock(opens)}"
    if now >= closes + dt.timedelta(minutes=every_minutes):
        return None, f"{day}'s session closed at {_clock(closes)} and was completed by the refresh then"
    return day, ""


@dataclasses.dataclass(frozen=True)
class Freshness:
    passed: bool
    metadata: dict[str, str | int]


def freshness(
    database: MarketDatabase,
    lake: Lake,
    config: PlatformConfig,
    spec: IntradaySpec,
    dataset: Dataset,
    *,
    now: dt.datetime,
) -> Freshness:
    """Whether every member of ``spec.layer`` has ``dataset`` bars ending within two refreshes of now."""
    session = calendar.open_session(now)
    if session is None:
        return Freshness(True, {"session": f"none trading at {_clock(now)} New York time: nothing expected"})
    opens, _ = calendar.session_open_close(session)
    allowed = dt.timedelta(minutes=2 * spec.every_minutes)
    deadline = now - allowed
    facts: dict[str, str | int] = {
        "session": session.isoformat(),
        "now": _clock(now),
        "newest bar must end after": _clock(deadline),
    }
    if deadline <= opens:
        return Freshness(True, facts | {"note": "the session opened less than two refreshes ago"})
    members = CompaniesRepository(database).members(spec.layer)
    if not members:
        return Freshness(True, facts | {"members": 0})
    with MarketData(database, lake, config=config, today=session) as reader:
        if dataset == Dataset.TICKS:  # the newest trade (regular hours) stands for the newest bar
            bars = reader.ticks(members, session, session, columns=["symbol", "ts"])
            bars["ts"] = bars["ts"].dt.floor("us")  # minutes matter here, not nanoseconds
        else:
            bars = reader.bars(
                members, dataset.value.removeprefix("bars_"), session, session, columns=["symbol", "ts"]
            )
    newest = bars.groupby("symbol", observed=True)["ts"].max() + pd.Timedelta(INTRADAY_LENGTHS[dataset])
    ends = {str(symbol): end.to_pydatetime() for symbol, end in newest.items()}
    stale = sorted(m for m in members if m not in ends or ends[m] < deadline)
    oldest = min(ends.values(), default=None)
    return Freshness(
        not stale,
        facts
        | {
            "members": len(members),
            "stale": len(stale),
            "stale symbols": ", ".join(stale[:SHOWN]) or "-",
            "oldest newest bar ends": _clock(oldest) if oldest else "-",
        },
    )


def _clock(instant: dt.datetime) -> str:
    return instant.astimezone(calendar.NEW_YORK).strftime("%Y-%m-%d %H:%M")
