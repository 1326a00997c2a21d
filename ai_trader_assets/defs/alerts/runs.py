"""``run_failure_alert_sensor`` and ``run_success_alert_sensor``: every run of this code location that
ends is looked at once (Dagster's run status sensors keep the cursor).

A failed run opens ``run_failure:<assets>:<partition>`` (the assets of its failed steps, the first line
of the first step's error, a link to the run). A successful run resolves the open run failures of its
partition whose assets it materialized: resolution is decided when the success happens, by a sensor of
its own, rather than on the next failure tick (which may never come). A failed run Dagster will retry
(``dagster/will_retry``) opens nothing: its retry is the run that tells.

Both also read the run's asset check evaluations: a failed check of a severity ``alerts.check_severities``
lists opens ``check:<asset>:<check>:<partition>`` (the universe guard: ``guard:universe``); a passing
evaluation resolves it.
"""

from collections.abc import Iterable

import dagster as dg

from ai_trader_assets.defs.alerts.resources import AlertsResource, deliver
from ai_trader_assets.defs.platform.resources import MarketDatabaseResource
from ai_trader_assets.ops.alerts import Alert, IncidentTracker
from ai_trader_assets.ops.alerts.runs import (
    BACKFILL_TAG,
    WILL_RETRY_TAG,
    check_finding,
    check_key,
    partition_spec,
    resolves_run_failure,
    run_failure_finding,
    run_link,
)
from ai_trader_assets.storage.incidents import IncidentStore


def planned_assets(instance: dg.DagsterInstance, run_id: str) -> dict[str, str | None]:
    """The run's assets (name -> the step that materializes it), from its planned materializations."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ).records
    planned: dict[str, str | None] = {}
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.asset_key is not None:
            planned[event.asset_key.to_user_string()] = event.step_key
    return planned


def _user_error(error: object) -> str | None:
    """The message of the first error below Dagster's own wrappers (the exception the code raised)."""
    current = error
    while current is not None:
        name = str(getattr(current, "cls_name", "") or "")
        if not name.startswith("Dagster"):
            return str(getattr(current, "message", "") or "") or None
        current = getattr(current, "cause", None) or getattr(current, "context", None)
    return str(getattr(error, "message", "") or "") or None


def failure_facts(context: dg.RunFailureSensorContext) -> tuple[list[str], str]:
    """The assets of the failed steps (empty when none is known) and the first error's message."""
    run = context.dagster_run
    planned = planned_assets(context.instance, run.run_id)
    failures = context.get_step_failure_events()
    failed_steps = {event.step_key for event in failures}
    assets = [asset for asset, step in planned.items() if step in failed_steps]
    for event in failures:
        message = _user_error(getattr(event.event_specific_data, "error", None))
        if message:
            return assets, message
    # No step failed (the run worker died, a launch failed): the run's own failure says why.
    failure = context.failure_event
    error = getattr(failure.event_specific_data, "error", None) if failure.event_specific_data else None
    return assets or sorted(planned), _user_error(error) or failure.message or "the run failed"


def check_alerts(
    instance: dg.DagsterInstance, run: dg.DagsterRun, tracker: IncidentTracker, alerts: AlertsResource
) -> list[Alert | None]:
    """Open failed checks of an alerting severity; resolve those that passed."""
    spec, ui_url = alerts.spec(), alerts.environment().ui_url
    records = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    found: list[Alert | None] = []
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue
        asset = evaluation.asset_key.to_user_string()
        partition = evaluation.partition or partition_spec(run.tags)
        if evaluation.passed:
            detail = f"check {evaluation.check_name} passed in run {run.run_id}"
            found.append(tracker.clear(check_key(asset, evaluation.check_name, partition), detail))
        elif evaluation.severity.value in spec.check_severities:
            finding = check_finding(
                asset=asset,
                check=evaluation.check_name,
                partition=partition,
                severity=evaluation.severity.value,
                description=evaluation.description,
                run_id=run.run_id,
                ui_url=ui_url,
            )
            found.append(tracker.fire(finding))
    return found


def _resolved_failures(
    tracker: IncidentTracker, run: dg.DagsterRun, assets: Iterable[str], ui_url: str
) -> list[Alert | None]:
    materialized, partition = set(assets), partition_spec(run.tags)
    return [
        tracker.clear(incident.key, f"run {run.run_id} succeeded", link=run_link(ui_url, run.run_id))
        for incident in tracker.open_incidents("run_failure")
        if resolves_run_failure(incident.labels, assets=materialized, job=run.job_name, partition=partition)
    ]


def build_run_failure_sensor(interval_seconds: int) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="run_failure_alert_sensor",
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts once per failed run of this code location (assets, partition, first error "
        "line, link), and on its failed asset checks.",
    )
    def run_failure_alert_sensor(
        context: dg.RunFailureSensorContext, alerts: AlertsResource, market_db: MarketDatabaseResource
    ) -> None:
        run = context.dagster_run
        tracker = IncidentTracker(IncidentStore(market_db.database))
        found = check_alerts(context.instance, run, tracker, alerts)
        if run.tags.get(WILL_RETRY_TAG) == "true":
            context.log.info(f"run {run.run_id} failed and will be retried: its retry will tell")
        else:
            assets, error = failure_facts(context)
            finding = run_failure_finding(
                assets=assets,
                job=run.job_name,
                partition=partition_spec(run.tags),
                run_id=run.run_id,
                error=error,
                ui_url=alerts.environment().ui_url,
                backfill=run.tags.get(BACKFILL_TAG),
            )
            found.insert(0, tracker.fire(finding))
        # Returning nothing lets the sensor go on to the next ended run in the same tick.
        deliver(context.log, alerts.notifier(), found)

    return run_failure_alert_sensor


def build_run_success_sensor(interval_seconds: int) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="run_success_alert_sensor",
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Resolves run-failure alerts when a later run of the same assets and partition "
        "succeeds; alerts on that run's failed asset checks.",
    )
    def run_success_alert_sensor(
        context: dg.RunStatusSensorContext, alerts: AlertsResource, market_db: MarketDatabaseResource
    ) -> None:
        run = context.dagster_run
        tracker = IncidentTracker(IncidentStore(market_db.database))
        assets = planned_assets(context.instance, run.run_id)
        found = _resolved_failures(tracker, run, assets, alerts.environment().ui_url)
        found += check_alerts(context.instance, run, tracker, alerts)
        deliver(context.log, alerts.notifier(), found)

    return run_success_alert_sensor
