"""The alert sensors as the daemon evaluates them, on a real Dagster instance and market database, with
local Slack/webhook and SMTP receivers: a failed run alerts once per channel (asset, partition, first
error line, link), a second evaluation sends nothing, a later success resolves it; a failed ERROR check
alerts; a stale dataset alerts once and resolves; the demotion guard alerts; no secret reaches any
message or log line."""

import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest
from dagster._core.remote_origin import (
    GrpcServerCodeLocationOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    SensorInstigatorData,
    TickData,
    TickStatus,
)
from dagster_shared.error import SerializableErrorInfo

from ai_trader_assets.config import DEFAULT_CONFIG_DIR
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.defs.alerts.definitions import alert_definitions
from ai_trader_assets.defs.alerts.resources import AlertsResource
from ai_trader_assets.defs.alerts.runs import build_run_failure_sensor, build_run_success_sensor
from ai_trader_assets.defs.alerts.watch import build_alert_watch_sensor
from ai_trader_assets.defs.platform.resources import MarketDatabaseResource, PlatformConfigResource
from ai_trader_assets.ops.alerts.notifier import PROCESS_WINDOWS
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.incidents import IncidentStore
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets_tests.support.alert_receivers import (
    SLACK_PATH,
    WEBHOOK_PATH,
    HttpReceiver,
    SmtpReceiver,
)

SLACK_TOKEN = "xoxb-SLACKTOKEN-d00d1e"
WEBHOOK_TOKEN = "pagertoken-5ca1ab1e"
SMTP_PASSWORD = "smtp-pass-c0ffee"
PROVIDER_KEY = "polygonkey-feedface"
SECRETS = (SLACK_TOKEN, WEBHOOK_TOKEN, SMTP_PASSWORD, PROVIDER_KEY)
PARTITION = "2026-11-20|2"
AS_OF = "2026-11-20T19:00"  # that session closed three hours ago: it is due
SESSION, PREVIOUS = dt.date(2026, 11, 20), dt.date(2026, 11, 19)
REPOSITORY = RemoteRepositoryOrigin(
    GrpcServerCodeLocationOrigin(host="localhost", port=4266, location_name="ai_trader_assets"),
    "__repository__",
)

partitions = dg.StaticPartitionsDefinition([PARTITION, "2026-11-19|2"])
behaviour: dict[str, Any] = {"fail": False, "check_passes": True}


@dg.asset(name="bars_1day", partitions_def=partitions)
def bars_1day() -> None:
    if behaviour["fail"]:
        # A careless vendor message quoting the key: the alert must not carry it.
        raise RuntimeError(f"polygon answered HTTP 500 for apiKey={PROVIDER_KEY}\nsecond line of the error")


@dg.asset(name="news", check_specs=[dg.AssetCheckSpec("integrity", asset="news")], partitions_def=partitions)
def news() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="integrity", passed=behaviour["check_passes"], description="3 rows with high < low"
            )
        ]
    )


JOB = dg.Definitions(assets=[bars_1day, news]).resolve_implicit_global_asset_job_def()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarketDatabase]:
    """One migrated SQLite market database for the module (the sensors' SQL is tested on both engines
    in ops/test_alerts.py)."""
    database = MarketDatabase(f"sqlite:///{tmp_path_factory.mktemp('alerts') / 'market.db'}")
    migrations.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def receivers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HttpReceiver, SmtpReceiver]]:
    PROCESS_WINDOWS.clear()
    behaviour.update(fail=False, check_passes=True)
    monkeypatch.setenv("POLYGON_API_KEY", PROVIDER_KEY)
    with HttpReceiver() as http, SmtpReceiver("alerts", SMTP_PASSWORD) as smtp:
        yield http, smtp
    PROCESS_WINDOWS.clear()


@pytest.fixture
def resources(
    receivers: tuple[HttpReceiver, SmtpReceiver], database: MarketDatabase
) -> Iterator[dict[str, dg.ConfigurableResource]]:
    http, smtp = receivers
    with database.begin() as conn:
        conn.exec_driver_sql("DELETE FROM alert_incidents")
    yield {
        "alerts": AlertsResource(
            config_dir=str(DEFAULT_CONFIG_DIR),
            slack_webhook_url=f"{http.url}{SLACK_PATH}{SLACK_TOKEN}",
            webhook_url=f"{http.url}{WEBHOOK_PATH}{WEBHOOK_TOKEN}",
            smtp_url=smtp.url(),
            email_to="oncall@example.com",
            ui_url="http://dagster.example:3000",
        ),
        "market_db": MarketDatabaseResource(
            url=database.url.render_as_string(hide_password=False), config_dir=str(DEFAULT_CONFIG_DIR)
        ),
        "platform": PlatformConfigResource(config_dir=str(DEFAULT_CONFIG_DIR), as_of=AS_OF),
    }


def tick(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, resources: dict, cursor: str | None
) -> str | None:
    """One evaluation as the daemon makes it; the new cursor."""
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        data = sensor.evaluate_tick(context)
    errors = [reaction.error for reaction in data.dagster_run_reactions or [] if reaction.error]
    assert not errors, errors
    return data.cursor


def run(instance: dg.DagsterInstance, partition: str = PARTITION) -> dg.ExecuteInProcessResult:
    return JOB.execute_in_process(instance=instance, partition_key=partition, raise_on_error=False)


def messages(http: HttpReceiver, smtp: SmtpReceiver) -> dict[str, list[str]]:
    """What each channel received: Slack's text, the webhook's state and key, the e-mail's subject."""
    return {
        "slack": [r.json()["text"] for r in http.to(SLACK_PATH)],
        "webhook": [f"{r.json()['state']} {r.json()['incident_key']}" for r in http.to(WEBHOOK_PATH)],
        "email": [str(m["Subject"]) for m in smtp.messages],
    }


def assert_no_secret(http: HttpReceiver, smtp: SmtpReceiver, caplog: pytest.LogCaptureFixture) -> None:
    seen = [r.body.decode() for r in http.received] + [raw.decode() for raw in smtp.mailbox.raw]
    seen += [record.getMessage() for record in caplog.records]
    assert seen
    for text in seen:
        for secret in SECRETS:
            assert secret not in text, text[:300]


def test_a_failed_run_alerts_once_per_channel_and_its_success_resolves_it(
    instance: dg.DagsterInstance,
    resources: dict,
    receivers: tuple[HttpReceiver, SmtpReceiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    http, smtp = receivers
    failures, successes = build_run_failure_sensor(30), build_run_success_sensor(30)
    failure_cursor = tick(failures, instance, resources, None)  # the first tick starts from now
    success_cursor = tick(successes, instance, resources, None)

    behaviour["fail"] = True
    failed = run(instance)
    assert not failed.success
    before = failure_cursor
    failure_cursor = tick(failures, instance, resources, failure_cursor)
    got = messages(http, smtp)
    assert {channel: len(sent) for channel, sent in got.items()} == {"slack": 1, "webhook": 1, "email": 1}
    key = f"run_failure:bars_1day:{PARTITION}"
    assert got["webhook"] == [f"firing {key}"]
    assert got["email"] == [f"[ai-trader] FIRING error: Run failed: bars_1day {PARTITION}"]
    [body] = [r.json() for r in http.to(WEBHOOK_PATH)]
    assert body["detail"].splitlines()[0] == "RuntimeError: polygon answered HTTP 500 for apiKey=********"
    assert "second line" not in body["detail"]
    assert body["link"] == f"http://dagster.example:3000/runs/{failed.run_id}"
    assert body["detail"].splitlines()[1] == f"run {failed.run_id}"  # the implicit asset job goes unnamed

    # Evaluated again: from the new cursor, and from the old one (another process, a lost cursor).
    tick(failures, instance, resources, failure_cursor)
    tick(failures, instance, resources, before)
    assert len(http.received) == 2 and len(smtp.messages) == 1

    behaviour["fail"] = False
    assert run(instance, "2026-11-19|2").success  # another partition resolves nothing
    success_cursor = tick(successes, instance, resources, success_cursor)
    assert len(http.received) == 2
    assert run(instance).success
    tick(successes, instance, resources, success_cursor)
    got = messages(http, smtp)
    assert got["webhook"] == [f"firing {key}", f"resolved {key}"]
    assert got["email"][1] == f"[ai-trader] RESOLVED: Run failed: bars_1day {PARTITION}"
    assert got["slack"][1].startswith(f":large_green_circle: *RESOLVED: Run failed: bars_1day {PARTITION}*")
    assert IncidentStore(resources["market_db"].database).open_incidents() == []
    assert_no_secret(http, smtp, caplog)


def test_a_failed_error_check_alerts_and_its_next_pass_resolves_it(
    instance: dg.DagsterInstance,
    resources: dict,
    receivers: tuple[HttpReceiver, SmtpReceiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    http, smtp = receivers
    successes = build_run_success_sensor(30)
    cursor = tick(successes, instance, resources, None)
    behaviour["check_passes"] = False
    assert run(instance).success  # a failed check that does not block: the run succeeds
    cursor = tick(successes, instance, resources, cursor)
    key = f"check:news:integrity:{PARTITION}"
    [body] = [r.json() for r in http.to(WEBHOOK_PATH)]
    assert (body["incident_key"], body["state"], body["severity"]) == (key, "firing", "error")
    assert body["title"] == f"Check failed: news integrity ({PARTITION})"
    assert body["detail"].startswith("3 rows with high < low")
    assert body["link"] == "http://dagster.example:3000/assets/news?view=checks"
    assert len(smtp.messages) == 1

    assert run(instance).success  # still failing: nothing new
    cursor = tick(successes, instance, resources, cursor)
    assert len(http.to(WEBHOOK_PATH)) == 1
    behaviour["check_passes"] = True
    assert run(instance).success
    tick(successes, instance, resources, cursor)
    assert messages(http, smtp)["webhook"] == [f"firing {key}", f"resolved {key}"]
    assert_no_secret(http, smtp, caplog)


def test_a_channel_that_refuses_fails_the_tick_naming_it_and_nothing_is_sent_twice(
    instance: dg.DagsterInstance, resources: dict, receivers: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    http, smtp = receivers
    failures = build_run_failure_sensor(30)
    cursor = tick(failures, instance, resources, None)
    behaviour["fail"] = True
    assert not run(instance).success
    http.answer(503)  # Slack, asked first, is down; e-mail and the webhook take theirs
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        data = failures.evaluate_tick(context)
    [reaction] = data.dagster_run_reactions or []
    assert reaction.error is not None
    assert reaction.error.message.strip().endswith("alerts not delivered: slack: HTTP 503")
    shown = reaction.error.to_string()
    assert not [secret for secret in SECRETS if secret in shown]
    assert len(http.to(WEBHOOK_PATH)) == 1 and len(smtp.messages) == 1
    tick(failures, instance, resources, cursor)  # the same run again: recorded, so not sent again
    assert len(http.received) == 2 and len(smtp.messages) == 1


def store(database: MarketDatabase, dataset: Dataset, session: dt.date, symbols: list[str]) -> None:
    with database.begin() as conn:
        Ledger(database).record(conn, dataset, session, dict.fromkeys(symbols, 1))


def guard_tick(instance: dg.DagsterInstance, *, stopped: bool) -> None:
    """A tick of the qualification sensor: stopped by its demotion guard, or a skip."""
    state = InstigatorState(
        RemoteInstigatorOrigin(REPOSITORY, "qualification_sensor"),
        InstigatorType.SENSOR,
        InstigatorStatus.DECLARED_IN_CODE,
        SensorInstigatorData(min_interval=10, last_sensor_start_timestamp=time.time() - 600),
    )
    if instance.get_instigator_state(state.instigator_origin_id, state.selector_id) is None:
        instance.add_instigator_state(state)
    guard = "qualification sensor stopped: more than 20% of a layer would be demoted or deactivated"
    error = SerializableErrorInfo(
        "Error occurred during the execution of evaluation_fn for sensor qualification_sensor",
        [],
        "SensorExecutionError",
        cause=SerializableErrorInfo(guard, [], "DemotionGuardError"),
    )
    instance.create_tick(
        TickData(
            instigator_origin_id=state.instigator_origin_id,
            instigator_name=state.instigator_name,
            instigator_type=state.instigator_type,
            status=TickStatus.FAILURE if stopped else TickStatus.SKIPPED,
            timestamp=time.time(),
            selector_id=state.selector_id,
            error=error if stopped else None,
        )
    )


def test_a_stale_dataset_and_the_demotion_guard_alert_once_and_resolve(
    instance: dg.DagsterInstance,
    resources: dict,
    receivers: tuple[HttpReceiver, SmtpReceiver],
    database: MarketDatabase,
    caplog: pytest.LogCaptureFixture,
) -> None:
    http, smtp = receivers
    with database.begin() as conn:
        conn.exec_driver_sql("DELETE FROM ingestion_coverage")
        conn.exec_driver_sql("DELETE FROM companies")
    CompaniesRepository(database).upsert([{"symbol": "AAPL", "layer": 0}], source="test")
    store(database, Dataset.CORPORATE_ACTIONS, SESSION, ["AAPL"])
    store(database, Dataset.BARS_1DAY, PREVIOUS, ["AAPL"])  # a session behind
    guard_tick(instance, stopped=True)
    watch = build_alert_watch_sensor(300)

    tick(watch, instance, resources, None)
    got = messages(http, smtp)
    assert sorted(got["webhook"]) == ["firing freshness:bars_1day:layer_0", "firing guard:demotion"]
    stale = next(r.json() for r in http.to(WEBHOOK_PATH) if "freshness" in r.json()["incident_key"])
    assert stale["title"] == "Data behind: bars_1day layer 0" and stale["severity"] == "warning"
    assert stale["detail"].startswith(f"bars_1day layer 0: 1 of 1 members lack {SESSION} (AAPL)")
    assert len(smtp.messages) == 2

    tick(watch, instance, resources, None)  # nothing changed: nothing sent
    assert len(http.received) == 4

    store(database, Dataset.BARS_1DAY, SESSION, ["AAPL"])
    guard_tick(instance, stopped=False)  # released: the sensor proceeds
    tick(watch, instance, resources, None)
    got = messages(http, smtp)
    assert sorted(got["webhook"][2:]) == ["resolved freshness:bars_1day:layer_0", "resolved guard:demotion"]
    assert len(smtp.messages) == 4
    assert_no_secret(http, smtp, caplog)


def test_the_alert_definitions_load_with_the_channels_as_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_TRADER_SLACK_WEBHOOK_URL", f"https://hooks.slack.com/services/{SLACK_TOKEN}")
    definitions = alert_definitions()
    names = {sensor.name for sensor in definitions.sensors or []}
    assert names == {"run_failure_alert_sensor", "run_success_alert_sensor", "alert_watch_sensor"}
    resource = (definitions.resources or {})["alerts"]
    assert SLACK_TOKEN not in repr(resource) and isinstance(resource, AlertsResource)
    resolved = resource.process_config_and_initialize()  # as Dagster resolves it in the code server
    slack = resolved.environment().slack_webhook_url
    assert slack is not None and slack.reveal().endswith(SLACK_TOKEN)
