"""Health of the unattended side: the daemon's heartbeats and each sensor's and schedule's last tick,
read from the Dagster instance at DAGSTER_HOME.

The daemon's threads each write a heartbeat every 30 s; ``dagster-daemon liveness-check`` tolerates
30 minutes of silence, far too slow for a probe, so the daemon is down here once its newest heartbeat
is older than ``daemon_heartbeat_max_age_seconds`` (the process is gone or hung), and degraded when
only some required threads are that silent (one stuck in a long iteration) or report errors.

Sensors and schedules are read from the instance's instigator states (what the daemon evaluated),
not from the code location: a running sensor is degraded when it has not ticked for
``sensor_missed_intervals`` of its ``minimum_interval_seconds`` (as the daemon recorded it), a
schedule when the latest cron time due before ``schedule_grace_seconds`` ago has no tick, and either
when its last tick failed. Dagster is imported only when an instance is opened.
"""

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from croniter import croniter

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.config.pipeline import HealthSpec
from ai_trader_assets.ops.health_report import Check, Status, ago, check, first_line

if TYPE_CHECKING:
    import dagster as dg

START_DAEMON = "start it with 'dagster-daemon run' (the quickstart and the compose stack do)"
DEFAULT_SENSOR_INTERVAL = 30  # Dagster's minimum_interval_seconds when a sensor sets none


class NoInstanceError(RuntimeError):
    """DAGSTER_HOME holds no Dagster instance yet."""


def open_instance(home: Path) -> "dg.DagsterInstance":
    """The instance at ``home`` (DAGSTER_HOME), without creating a folder that is not there.

    Raises:
        NoInstanceError: ``home`` does not exist.
        Exception: whatever the instance's storage raises (an invalid dagster.yaml, an unreachable
            PostgreSQL); callers report its first line.
    """
    import dagster as dg  # noqa: PLC0415 - Dagster loads for the daemon checks only

    if not home.is_dir():
        raise NoInstanceError(f"no Dagster instance at {home} (DAGSTER_HOME): {START_DAEMON}")
    return dg.DagsterInstance.from_config(str(home))


def dagster_checks(
    home: Path,
    config: PlatformConfig,
    spec: HealthSpec,
    now: dt.datetime,
    instance: "dg.DagsterInstance | None" = None,
) -> list[Check]:
    """The daemon and every sensor and schedule, from ``instance`` or the one at ``home``."""
    if instance is not None:
        return [daemon_check(instance, spec, now), *instigator_checks(instance, config, spec, now)]
    try:
        with open_instance(home) as opened:
            return [daemon_check(opened, spec, now), *instigator_checks(opened, config, spec, now)]
    except NoInstanceError as exc:
        return [check("dagster_daemon", Status.DOWN, str(exc))]
    except Exception as exc:  # noqa: BLE001 - storage plugins raise their own types (DagsterPostgresException...)
        return [
            check(
                "dagster_daemon",
                Status.DOWN,
                f"cannot read the Dagster instance at {home} (DAGSTER_HOME): {first_line(exc)}",
            )
        ]


def daemon_check(instance: "dg.DagsterInstance", spec: HealthSpec, now: dt.datetime) -> Check:
    """Down when the daemon has never beaten or its newest heartbeat is older than allowed (the process
    is gone); degraded when one of its required threads is silent or reports errors (stuck or failing
    while the others run). Value: the newest heartbeat's age."""
    required = list(instance.get_required_daemon_types())
    beats = instance.get_daemon_heartbeats()
    if not beats:
        return check(
            "dagster_daemon",
            Status.DOWN,
            f"no daemon has ever run against this instance: {START_DAEMON}",
            unit="seconds",
        )
    clock = now.timestamp()
    limit = spec.daemon_heartbeat_max_age_seconds
    newest = clock - max(beat.timestamp for beat in beats.values())
    ages = {kind: clock - beats[kind].timestamp for kind in required if kind in beats}
    measures = {"oldest_thread_age_seconds": max(ages.values(), default=newest)}
    if newest > limit:
        return check(
            "dagster_daemon",
            Status.DOWN,
            f"the daemon's newest heartbeat is {ago(newest)} old (allowed {limit} s): is dagster-daemon "
            f"running? {START_DAEMON}",
            value=newest,
            unit="seconds",
            measures=measures,
        )
    silent = [f"{kind} {ago(age)} ago" for kind, age in sorted(ages.items()) if age > limit]
    silent += [f"{kind} never" for kind in required if kind not in beats]
    if silent:
        return check(
            "dagster_daemon",
            Status.DEGRADED,
            f"the daemon runs, but some of its threads last beat: {', '.join(silent)} (allowed {limit} s)",
            value=newest,
            unit="seconds",
            measures=measures,
        )
    failing = {kind: errors for kind in required if (errors := beats[kind].errors)}
    if failing:
        kind, errors = sorted(failing.items())[0]
        message = (str(errors[0].message).strip().splitlines() or ["an error"])[0][:300]
        return check(
            "dagster_daemon",
            Status.DEGRADED,
            f"the daemon's {kind} thread reports {len(errors)} error(s): {message}",
            value=newest,
            unit="seconds",
            measures=measures,
        )
    return check(
        "dagster_daemon",
        Status.OK,
        f"{len(required)} daemon thread(s) beating, newest heartbeat {ago(newest)} ago, "
        f"oldest {ago(measures['oldest_thread_age_seconds'])} ago",
        value=newest,
        unit="seconds",
        measures=measures,
    )


def instigator_checks(
    instance: "dg.DagsterInstance", config: PlatformConfig, spec: HealthSpec, now: dt.datetime
) -> list[Check]:
    """One check per sensor and schedule the instance knows, from its last tick."""
    states = [s for s in instance.all_instigator_state() if s.instigator_type.value in ("SENSOR", "SCHEDULE")]
    ticks = instance.get_batch_ticks([s.selector_id for s in states], limit=1) if states else {}
    newest: dict[str, tuple[Any, Any]] = {}
    for state in states:
        tick = next(iter(ticks.get(state.selector_id, ())), None)
        known = newest.get(state.instigator_name)
        # One name, several states: an older code location's leftovers never tick again; keep the live one.
        if known is None or _timestamp(tick) > _timestamp(known[1]):
            newest[state.instigator_name] = (state, tick)
    timezones = {f"{name}_schedule": s.timezone for name, s in config.pipeline.schedules}
    return [
        _sensor_check(state, tick, config, spec, now)
        if state.instigator_type.value == "SENSOR"
        else _schedule_check(state, tick, timezones, spec, now)
        for state, tick in (newest[name] for name in sorted(newest))
    ]


def _timestamp(tick: Any) -> float:
    return float(tick.timestamp) if tick is not None else float("-inf")


def _failed(tick: Any) -> str | None:
    """The first line of the error of a failed tick, else None."""
    if tick is None or tick.status.value != "FAILURE":
        return None
    error = tick.error
    message = str(error.message) if error is not None else "no error recorded"
    return (message.strip().splitlines() or ["no error recorded"])[0][:300]


def _sensor_check(state: Any, tick: Any, config: PlatformConfig, spec: HealthSpec, now: dt.datetime) -> Check:
    name = state.instigator_name
    data = state.instigator_data
    automation = config.pipeline.automation
    fallback = {
        "qualification_sensor": automation.sensor_interval_seconds,
        "gap_healing_sensor": automation.gap_healing_interval_seconds,
    }
    interval = getattr(data, "min_interval", None) or fallback.get(name, DEFAULT_SENSOR_INTERVAL)
    allowed = max(spec.sensor_missed_intervals * interval, spec.sensor_min_silence_seconds)
    clock = now.timestamp()
    age = clock - tick.timestamp if tick is not None else None
    labels = {"instigator": name}
    settled = _stopped_or_failed("sensor", state, tick, age, labels)
    if settled is not None:
        return settled
    if age is None:
        started = getattr(data, "last_sensor_start_timestamp", None)
        if started is not None and clock - started <= allowed:
            return check(
                "sensor", Status.OK, f"started {ago(clock - started)} ago, no tick yet", labels=labels
            )
        return check(
            "sensor",
            Status.DEGRADED,
            "running but has never ticked: is the daemon evaluating it?",
            labels=labels,
        )
    if age > allowed:
        return check(
            "sensor",
            Status.DEGRADED,
            f"has not ticked for {ago(age)} (every {interval} s expected; allowed {ago(allowed)})",
            value=age,
            unit="seconds",
            labels=labels,
        )
    return check(
        "sensor",
        Status.OK,
        f"last tick {ago(age)} ago ({tick.status.value.lower()})",
        value=age,
        unit="seconds",
        labels=labels,
    )


def _stopped_or_failed(
    kind: str, state: Any, tick: Any, age: float | None, labels: dict[str, str]
) -> Check | None:
    """What a sensor's and a schedule's check say alike: stopped in the UI, or its last tick failed."""
    if not state.is_running:
        return check(
            kind, Status.OK, "stopped (in the UI): not evaluated", value=age, unit="seconds", labels=labels
        )
    error = _failed(tick)
    if error is not None:
        return check(
            kind, Status.DEGRADED, f"its last tick failed: {error}", value=age, unit="seconds", labels=labels
        )
    return None


def _schedule_check(
    state: Any, tick: Any, timezones: Mapping[str, str], spec: HealthSpec, now: dt.datetime
) -> Check:
    name = state.instigator_name
    data = state.instigator_data
    clock = now.timestamp()
    age = clock - tick.timestamp if tick is not None else None
    labels = {"instigator": name}
    settled = _stopped_or_failed("schedule", state, tick, age, labels)
    if settled is not None:
        return settled
    # The stored state has the cron but not its zone: pipeline.yaml's schedules name theirs, the
    # others (intraday) run in New York time.
    zone = zoneinfo.ZoneInfo(timezones[name]) if name in timezones else calendar.NEW_YORK
    due = _last_due(
        getattr(data, "cron_schedule", None), zone, now - dt.timedelta(seconds=spec.schedule_grace_seconds)
    )
    started = getattr(data, "start_timestamp", None)
    last = f"last tick {ago(age)} ago" if age is not None else "no tick yet"
    # A tick due before the schedule started is not missed.
    was_running = due is not None and (started is None or started <= due.timestamp())
    if due is not None and was_running and (tick is None or tick.timestamp < due.timestamp() - 1):
        return check(
            "schedule",
            Status.DEGRADED,
            f"missed its tick due {due.strftime('%Y-%m-%d %H:%M %Z')} ({last})",
            value=age,
            unit="seconds",
            labels=labels,
        )
    return check("schedule", Status.OK, last, value=age, unit="seconds", labels=labels)


def _last_due(crons: str | Sequence[str] | None, zone: dt.tzinfo, before: dt.datetime) -> dt.datetime | None:
    """The latest time at or before ``before`` that the schedule's cron(s) name, in ``zone``."""
    if not crons:
        return None
    local = before.astimezone(zone)
    expressions = [crons] if isinstance(crons, str) else list(crons)
    return max(croniter(expr, local).get_prev(dt.datetime) for expr in expressions)
