"""``alert_watch_sensor``: every ``alerts.watch_interval_seconds``, the health checks that matter
unattended (``ai_trader_assets.ops.health``: freshness per dataset and layer, each sensor's and
schedule's ticks) and the qualification sensor's demotion guard, turned into incidents
(``ai_trader_assets.ops.alerts.watch``). The universe guard is a check of the universe asset: the run
sensors tell it. The daemon itself is not watched here (a sensor does not run without it):
``ai-trader health`` covers it.
"""

import datetime as dt
import json

import dagster as dg

from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.defs.alerts.resources import AlertsResource, deliver
from ai_trader_assets.defs.platform.resources import MarketDatabaseResource, PlatformConfigResource
from ai_trader_assets.ops.alerts import IncidentTracker
from ai_trader_assets.ops.alerts.watch import QUALIFICATION_SENSOR, watch
from ai_trader_assets.ops.health import guarded
from ai_trader_assets.ops.health_dagster import instigator_checks
from ai_trader_assets.ops.health_data import freshness_checks
from ai_trader_assets.ops.health_report import Check, Status, check, first_line
from ai_trader_assets.planning.qualification import DemotionGuardError
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.incidents import IncidentStore

DEFAULT_LOCATION = "ai_trader_assets"  # workspace.yaml's location_name


def _error_named(error: object, class_name: str) -> str | None:
    """The message of the error (or one it was caused by) of class ``class_name``, else None."""
    current = error
    while current is not None:
        if getattr(current, "cls_name", None) == class_name:
            return first_line(RuntimeError(str(getattr(current, "message", ""))))
        current = getattr(current, "cause", None) or getattr(current, "context", None)
    return None


def demotion_guard(instance: dg.DagsterInstance) -> str | None:
    """The guard's message when the qualification sensor's last tick was stopped by it, else None."""
    states = [
        s
        for s in instance.all_instigator_state()
        if s.instigator_name == QUALIFICATION_SENSOR and s.instigator_type.value == "SENSOR"
    ]
    if not states:
        return None
    ticks = instance.get_batch_ticks([s.selector_id for s in states], limit=1)
    last = max(
        (tick for s in states for tick in ticks.get(s.selector_id, ())),
        key=lambda tick: tick.timestamp,
        default=None,
    )
    if last is None or last.status.value != "FAILURE":
        return None
    return _error_named(last.error, DemotionGuardError.__name__)


def _instigators(instance: dg.DagsterInstance, config: PlatformConfig, now: dt.datetime) -> list[Check]:
    try:
        return instigator_checks(instance, config, config.pipeline.health, now)
    except Exception as exc:  # noqa: BLE001 - storage plugins raise their own types (DagsterPostgresException...)
        reason = f"could not be checked: {first_line(exc)}"
        return [check("sensor", Status.DOWN, reason), check("schedule", Status.DOWN, reason)]


def _freshness(database: MarketDatabase, config: PlatformConfig, market_now: dt.datetime) -> list[Check]:
    return guarded(
        "freshness", lambda: freshness_checks(database, config, config.pipeline.health, market_now)
    )


def build_alert_watch_sensor(interval_seconds: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="alert_watch_sensor",
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts when a dataset x layer falls behind its freshness, a sensor or schedule "
        "fails or stops ticking, or the demotion guard stops the qualification sensor; and when each "
        "clears.",
    )
    def alert_watch_sensor(
        context: dg.SensorEvaluationContext,
        alerts: AlertsResource,
        market_db: MarketDatabaseResource,
        platform: PlatformConfigResource,
    ) -> dg.SensorResult:
        config = platform.get()
        database = market_db.database
        checks = _freshness(database, config, platform.now())
        checks += _instigators(context.instance, config, dt.datetime.now(tz=dt.UTC))
        try:
            guard, guard_known = demotion_guard(context.instance), True
        except Exception as exc:  # noqa: BLE001 - as above: the instance's storage raises its own types
            context.log.warning(f"the demotion guard's state could not be read: {first_line(exc)}")
            guard, guard_known = None, False
        store = IncidentStore(database)
        tracker = IncidentTracker(store)
        origin = context.code_location_origin
        found = watch(
            checks,
            {incident.key for incident in store.open_incidents()},
            ui_url=alerts.environment().ui_url,
            location=origin.location_name if origin is not None else DEFAULT_LOCATION,
            guard_holds=guard,
            guard_known=guard_known,
        )
        changes = [tracker.fire(finding) for finding in found.findings]
        changes += [tracker.clear(key, detail) for key, detail in found.cleared]
        told = deliver(context.log, alerts.notifier(), changes)
        still_open = len(store.open_incidents())
        return dg.SensorResult(
            cursor=json.dumps({"checks": len(checks), "changes": told, "open": still_open}),
            skip_reason=f"{len(checks)} check(s): {told} incident change(s), {still_open} open incident(s)",
        )

    return alert_watch_sensor
