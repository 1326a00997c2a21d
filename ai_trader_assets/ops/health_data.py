"""Health of the data: every layer's newest session stored, intraday bars fresh during the session,
and no burst of quarantined rows.

**Daily freshness**, per layer and dataset it ingests: the expected session is the latest that closed
at least ``freshness_after_close_minutes`` ago (the daily ingest runs after the close); the coverage
ledger must hold it, fetched whole, for every current member of the layer. Otherwise the check is
degraded, naming the members behind and how far: sessions, and seconds since the first session they
lack was due. A layer without members has nothing to be behind.

**Intraday freshness**, while the session trades: ``planning.intraday.freshness`` for each refreshed
layer and dataset (``intraday`` in pipeline.yaml). ``ops`` may not import ``planning`` (they are
siblings), so the caller passes that function in (:data:`IntradayFreshness`).
"""

import datetime as dt
from collections.abc import Mapping
from typing import Protocol

import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.config import IntradaySpec, PlatformConfig
from ai_trader_assets.config.pipeline import HealthSpec
from ai_trader_assets.datasets import INGESTED_DATASETS, LAYERS, Dataset
from ai_trader_assets.ops.health_report import Check, Status, ago, check
from ai_trader_assets.storage import schema
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.ledger import Ledger

SHOWN = 5  # symbols named in a detail line


class FreshnessResult(Protocol):
    @property
    def passed(self) -> bool: ...

    @property
    def metadata(self) -> Mapping[str, str | int]: ...


class IntradayFreshness(Protocol):
    """The signature of ``ai_trader_assets.planning.intraday.freshness``."""

    def __call__(
        self,
        database: MarketDatabase,
        lake: Lake,
        config: PlatformConfig,
        spec: IntradaySpec,
        dataset: Dataset,
        *,
        now: dt.datetime,
    ) -> FreshnessResult: ...


def expected_session(now: dt.datetime, after_close: dt.timedelta) -> dt.date:
    """The latest session that closed at least ``after_close`` before ``now``."""
    session = calendar.session_on_or_before(now.astimezone(calendar.NEW_YORK).date())
    while calendar.session_open_close(session)[1] + after_close > now:
        session = calendar.previous_session(session)
    return session


def freshness_checks(
    database: MarketDatabase, config: PlatformConfig, spec: HealthSpec, now: dt.datetime
) -> list[Check]:
    """Per layer and dataset it ingests: its members hold the expected session (``now``: the market's
    clock, AI_TRADER_AS_OF when pinned)."""
    after_close = dt.timedelta(minutes=spec.freshness_after_close_minutes)
    session = expected_session(now, after_close)
    companies, ledger = CompaniesRepository(database), Ledger(database)
    checks = []
    for layer in LAYERS:
        members = companies.members(layer)
        for dataset in INGESTED_DATASETS:
            if config.ingests(layer, dataset):
                checks.append(
                    _layer_freshness(
                        ledger, dataset, layer, members, session=session, after_close=after_close, now=now
                    )
                )
    return checks


def _layer_freshness(
    ledger: Ledger,
    dataset: Dataset,
    layer: int,
    members: list[str],
    *,
    session: dt.date,
    after_close: dt.timedelta,
    now: dt.datetime,
) -> Check:
    labels = {"dataset": dataset.value, "layer": str(layer)}
    if not members:
        return check("freshness", Status.OK, "no members", value=0.0, unit="seconds", labels=labels)
    stored = {symbol for _, symbol in ledger.covered(dataset, [session], members)}
    behind = [m for m in members if m not in stored]
    if not behind:
        return check(
            "freshness",
            Status.OK,
            f"{session} stored for all {len(members)} members",
            value=0.0,
            unit="seconds",
            measures={"members": len(members), "members_behind": 0, "sessions_behind": 0},
            labels=labels,
        )
    latest = ledger.latest_sessions(dataset)
    never = sum(1 for m in behind if m not in latest)
    # The furthest behind, by the newest session stored whole (a member holding later sessions but
    # not this one is one session behind; one never stored is counted apart).
    oldest = min((latest[m] for m in behind if m in latest and latest[m] < session), default=None)
    first_missing = calendar.sessions(oldest, session)[1] if oldest is not None else session
    sessions_behind = len(calendar.sessions(first_missing, session))
    overdue = (now - (calendar.session_open_close(first_missing)[1] + after_close)).total_seconds()
    shown = ", ".join(behind[:SHOWN]) + (", ..." if len(behind) > SHOWN else "")
    newest_text = f"newest stored {oldest}" if oldest is not None else "none stored"
    if never:
        newest_text += f"; {never} never stored"
    return check(
        "freshness",
        Status.DEGRADED,
        f"{dataset.value} layer {layer}: {len(behind)} of {len(members)} members lack {session} ({shown}); "
        f"{newest_text}: {sessions_behind} session(s) behind, {ago(overdue)} overdue",
        value=overdue,
        unit="seconds",
        measures={
            "members": len(members),
            "members_behind": len(behind),
            "sessions_behind": sessions_behind,
        },
        labels=labels,
    )


def intraday_checks(
    database: MarketDatabase,
    lake: Lake,
    config: PlatformConfig,
    freshness: IntradayFreshness,
    now: dt.datetime,
) -> list[Check]:
    """Each refreshed (layer, dataset) of ``intraday`` in pipeline.yaml, by ``freshness`` (outside the
    session it passes: nothing is expected)."""
    checks = []
    for spec in config.pipeline.intraday:
        for dataset in spec.datasets:
            result = freshness(database, lake, config, spec, dataset, now=now)
            facts = result.metadata
            stale = facts.get("stale")
            labels = {"dataset": dataset.value, "layer": str(spec.layer)}
            if result.passed:
                detail = str(facts.get("note") or facts.get("session") or "fresh")
                if isinstance(stale, int):
                    detail = f"{facts.get('members')} member(s) with a bar ending after {deadline(facts)}"
                checks.append(
                    check("intraday_freshness", Status.OK, detail, value=0.0, unit="symbols", labels=labels)
                )
                continue
            checks.append(
                check(
                    "intraday_freshness",
                    Status.DEGRADED,
                    f"{dataset.value} layer {spec.layer}: {stale} of {facts.get('members')} members have "
                    f"no bar ending after {deadline(facts)} ({facts.get('stale symbols')}); the oldest "
                    f"newest bar ends {facts.get('oldest newest bar ends')} (New York)",
                    value=float(stale) if isinstance(stale, int) else None,
                    unit="symbols",
                    labels=labels,
                )
            )
    return checks


def deadline(facts: Mapping[str, str | int]) -> str:
    return str(facts.get("newest bar must end after", "-"))


def quarantine_check(database: MarketDatabase, spec: HealthSpec, now: dt.datetime) -> Check:
    """Rows quarantined in the last ``quarantine_window_hours``: degraded above ``quarantine_max_rows``."""
    since = now - dt.timedelta(hours=spec.quarantine_window_hours)
    table = schema.quarantine
    with database.begin() as conn:
        rows = conn.execute(
            sa.select(table.c.dataset, sa.func.count())
            .where(table.c.detected_at >= since)
            .group_by(table.c.dataset)
        ).all()
    counts: dict[str, int] = {str(row[0]): int(row[1]) for row in rows}
    total = sum(counts.values())
    per_dataset = ", ".join(f"{d} {n}" for d, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    window = f"the last {spec.quarantine_window_hours} h"
    if total > spec.quarantine_max_rows:
        return check(
            "quarantine",
            Status.DEGRADED,
            f"{total} rows quarantined in {window} ({per_dataset}), over {spec.quarantine_max_rows}: "
            "see the quarantine table",
            value=float(total),
            unit="rows",
        )
    detail = f"{total} rows quarantined in {window}" + (f" ({per_dataset})" if total else "")
    return check("quarantine", Status.OK, detail, value=float(total), unit="rows")
