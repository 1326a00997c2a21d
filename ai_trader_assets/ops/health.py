"""``ai-trader health``, no Dagster at import: is the platform healthy, degraded or down?

For cron, Kubernetes probes and monitoring: :func:`run_health` (or :func:`check_health` with the
settings and configuration in hand) returns a :class:`HealthReport` of checks, each ok / degraded /
down with a one-line detail and, where useful, a number for the metrics endpoint. The
report is as healthy as its worst check; its exit code is 0 healthy, 1 degraded, 2 down. Thresholds:
``health`` in pipeline.yaml.

The checks, in order:

- ``database``: the market database answers (down if not, or without a schema) and is at the
  migrations' head revision (degraded if not: run ``ai-trader db upgrade``). Value: milliseconds.
- ``freshness`` per dataset and layer ingesting it (:mod:`.health_data`): the latest session closed
  ``freshness_after_close_minutes`` ago is stored for every member. Value: seconds overdue.
- ``intraday_freshness`` per refreshed dataset and layer, when the caller passes
  ``planning.intraday.freshness`` (``ops`` may not import ``planning``). Value: stale members.
- ``quarantine``: rows quarantined in the window. Value: rows.
- ``lake`` (the root can be listed), ``lake_table`` per dataset (:mod:`.health_lake`; value: seconds
  since its last maintenance, measures: checkpoint age, commits since) and ``disk`` for a local lake
  (value: free bytes).
- ``dagster_daemon`` (value: the newest heartbeat's age), ``sensor`` and ``schedule`` per
  instigator (value: age of the last tick), from the instance at DAGSTER_HOME (:mod:`.health_dagster`;
  Dagster is imported there, lazily).
- ``provider`` per configured provider, only with ``probe_providers`` (:mod:`.health_providers`;
  value: milliseconds). Without it, no network call is made.

Wall-clock ages (heartbeats, ticks, commits, quarantine) use the real time; which session is expected
uses the market's clock (``AI_TRADER_AS_OF`` when it pins one).
"""

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import URL

from ai_trader_assets.calendar import CalendarError
from ai_trader_assets.config import ConfigError, PlatformConfig, cached_config
from ai_trader_assets.config.pipeline import HealthSpec
from ai_trader_assets.ops.health_dagster import dagster_checks
from ai_trader_assets.ops.health_data import (
    IntradayFreshness,
    freshness_checks,
    intraday_checks,
    quarantine_check,
)
from ai_trader_assets.ops.health_lake import lake_checks
from ai_trader_assets.ops.health_report import Check, HealthReport, Status, check, first_line
from ai_trader_assets.settings import Settings, SettingsError, load_settings, mask_url
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import LakeError
from ai_trader_assets.storage.lake.location import lake_from_settings

if TYPE_CHECKING:
    import dagster as dg

__all__ = [
    "Check",
    "HealthReport",
    "IntradayFreshness",
    "Status",
    "check_health",
    "database_check",
    "database_checks",
    "run_health",
]

# What a check that cannot be evaluated raises: it is then down, naming the error; the others still run.
CHECK_ERRORS = (sa.exc.SQLAlchemyError, LakeError, OSError, CalendarError, migrations.SchemaError)


def run_health(*, probe_providers: bool = False, intraday: IntradayFreshness | None = None) -> HealthReport:
    """:func:`check_health` for the environment; a bad environment or configuration is one ``down``
    check naming it."""
    try:
        settings = load_settings()
        config = cached_config(str(settings.config_dir))
    except (SettingsError, ConfigError) as exc:
        return HealthReport([check("configuration", Status.DOWN, first_line(exc))])
    return check_health(settings, config, probe_providers=probe_providers, intraday=intraday)


def check_health(
    settings: Settings,
    config: PlatformConfig,
    *,
    probe_providers: bool = False,
    intraday: IntradayFreshness | None = None,
    instance: "dg.DagsterInstance | None" = None,
    now: dt.datetime | None = None,
) -> HealthReport:
    """Every check (see the module's docstring).

    Args:
        settings, config: The environment and the configuration.
        probe_providers: One request per configured provider (the only network calls).
        intraday: ``ai_trader_assets.planning.intraday.freshness``, for the intraday checks.
        instance: The Dagster instance to read (default: the one at DAGSTER_HOME).
        now: The wall clock (default: now).
    """
    now = now or dt.datetime.now(tz=dt.UTC)
    market_now = settings.clock or now
    spec = config.pipeline.health
    checks = database_checks(settings, config, now=now, market_now=market_now, intraday=intraday)
    checks += guarded(
        "lake", lambda: lake_checks(lake_from_settings(settings), config, spec, settings.today(), now)
    )
    checks += dagster_checks(settings.dagster_home, config, spec, now, instance)
    if probe_providers:
        from ai_trader_assets.ops.health_providers import provider_checks  # noqa: PLC0415 - only when asked

        checks += provider_checks(settings, config, spec, market_now)
    return HealthReport(checks)


def database_checks(
    settings: Settings,
    config: PlatformConfig,
    *,
    now: dt.datetime,
    market_now: dt.datetime,
    intraday: IntradayFreshness | None,
) -> list[Check]:
    """The database itself, then what is read from it (skipped when it cannot be read)."""
    spec = config.pipeline.health
    try:
        database = MarketDatabase(connect_timeout(settings.database_url, spec), config.pipeline.database)
    except OSError as exc:  # a SQLite file's folder that cannot be created
        return [check("database", Status.DOWN, f"cannot open the market database: {first_line(exc)}")]
    try:
        found, usable = database_check(database)
        if not usable:
            return [found]
        checks = [found, *guarded("freshness", lambda: freshness_checks(database, config, spec, market_now))]
        if intraday is not None:
            checks += guarded(
                "intraday_freshness",
                lambda: intraday_checks(database, lake_from_settings(settings), config, intraday, market_now),
            )
        return checks + guarded("quarantine", lambda: [quarantine_check(database, spec, now)])
    finally:
        database.dispose()


def guarded(kind: str, run: Callable[[], list[Check]]) -> list[Check]:
    """``run()``'s checks, or one ``down`` check of ``kind`` naming why it could not be evaluated."""
    try:
        return run()
    except CHECK_ERRORS as exc:
        return [check(kind, Status.DOWN, f"could not be checked: {first_line(exc)}")]


def connect_timeout(url: URL, spec: HealthSpec) -> URL:
    """PostgreSQL gives up connecting after ``database_connect_timeout_seconds`` (libpq's option),
    unless the URL sets its own."""
    if url.get_backend_name() != "postgresql" or "connect_timeout" in url.query:
        return url
    return url.update_query_dict({"connect_timeout": str(spec.database_connect_timeout_seconds)})


def database_check(database: MarketDatabase) -> tuple[Check, bool]:
    """Reachable and at the head revision; also whether the checks reading the database can run."""
    where = f"market database {mask_url(database.url.set(query={}))}"
    started = time.perf_counter()
    try:
        current = migrations.current_revision(database)
        head = migrations.head_revision()
    except sa.exc.SQLAlchemyError as exc:
        # The driver's first line says what failed (refused, unknown host, bad password).
        reason = first_line(exc.orig) if isinstance(exc, sa.exc.DBAPIError) and exc.orig else first_line(exc)
        detail = f"{where} is unreachable: {reason}; check AI_TRADER_DATABASE_URL"
        return check("database", Status.DOWN, detail), False
    except migrations.SchemaError as exc:
        return check("database", Status.DOWN, f"{where}: {first_line(exc)}"), False
    elapsed = (time.perf_counter() - started) * 1000
    if current is None:
        detail = f"{where} has no schema yet: run 'ai-trader db upgrade'"
        return check("database", Status.DOWN, detail, value=elapsed, unit="milliseconds"), False
    if current != head:
        detail = f"{where} is at revision {current}, the code needs {head}: run 'ai-trader db upgrade'"
        return check("database", Status.DEGRADED, detail, value=elapsed, unit="milliseconds"), True
    detail = f"{where} answers, at the head revision {head}"
    return check("database", Status.OK, detail, value=elapsed, unit="milliseconds"), True
