"""The notifier against local receivers (a Slack/webhook HTTP server, an aiosmtpd SMTP server): one
message per channel, the webhook's JSON contract, errors that name the channel only, the rate limit,
deduplicated incidents, and no secret in any message, error or log line."""

import dataclasses
import datetime as dt
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ai_trader_assets.cli import app
from ai_trader_assets.config import DEFAULT_CONFIG_DIR, ConfigError, load_config
from ai_trader_assets.config.pipeline import AlertsSpec
from ai_trader_assets.ops.alerts import (
    Alert,
    Finding,
    IncidentTracker,
    Notifier,
    RateWindows,
    Severity,
    State,
    build_notifier,
    load_alert_environment,
)
from ai_trader_assets.ops.alerts.channels import ChannelError
from ai_trader_assets.ops.alerts.incidents import incident_key
from ai_trader_assets.ops.alerts.notifier import PROCESS_WINDOWS
from ai_trader_assets.ops.alerts.runs import (
    check_finding,
    partition_spec,
    resolves_run_failure,
    run_failure_finding,
)
from ai_trader_assets.ops.alerts.watch import DEMOTION_GUARD_KEY, watch
from ai_trader_assets.ops.health_report import Status, check
from ai_trader_assets.settings import SettingsError
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.incidents import IncidentStore
from ai_trader_assets_tests.support.alert_receivers import (
    SLACK_PATH,
    WEBHOOK_PATH,
    HttpReceiver,
    SmtpReceiver,
)
from ai_trader_assets_tests.support.net import free_port

# Each secret is distinctive, so a search for it cannot match anything else.
SLACK_TOKEN = "xoxb-SLACKTOKEN-4f1c9a"
WEBHOOK_TOKEN = "pagertoken-77e0b2d1"
SMTP_PASSWORD = "smtp-pass-9d3e5b"
PROVIDER_KEY = "polygonkey-1a2b3c4d"
SECRETS = (SLACK_TOKEN, WEBHOOK_TOKEN, SMTP_PASSWORD, PROVIDER_KEY)
NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)


def alert(
    key: str = "run_failure:bars_1day:2026-11-20|2", severity: Severity = Severity.ERROR, **changes: str
) -> Alert:
    made = Alert(
        key=key,
        state=State.FIRING,
        severity=severity,
        title="Run failed: bars_1day 2026-11-20|2",
        detail="ProviderError: polygon: HTTP 500 after 4 attempts",
        link="http://127.0.0.1:3000/runs/abc",
        time=NOW,
        opened_at=NOW,
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def fresh_rate_windows() -> Iterator[None]:
    PROCESS_WINDOWS.clear()
    yield
    PROCESS_WINDOWS.clear()


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver("alerts", SMTP_PASSWORD) as receiver:
        yield receiver


@pytest.fixture
def channels_env(http: HttpReceiver, smtp: SmtpReceiver, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every channel on, pointed at the receivers; a provider key in the environment too."""
    env = {
        "AI_TRADER_SLACK_WEBHOOK_URL": f"{http.url}{SLACK_PATH}{SLACK_TOKEN}",
        "AI_TRADER_ALERT_WEBHOOK_URL": f"{http.url}{WEBHOOK_PATH}{WEBHOOK_TOKEN}",
        "AI_TRADER_SMTP_URL": smtp.url(),
        "AI_TRADER_ALERT_EMAIL_TO": "oncall@example.com, data@example.com",
        "POLYGON_API_KEY": PROVIDER_KEY,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def spec(**changes: object):  # type: ignore[no-untyped-def]
    return load_config().pipeline.alerts.model_copy(update=changes)


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        shown = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        for secret in SECRETS:
            assert secret not in shown, f"a secret leaked into: {shown[:200]}"


def everything_received(http: HttpReceiver, smtp: SmtpReceiver, caplog: pytest.LogCaptureFixture) -> list:
    return [
        *(r.body for r in http.received),
        *(r.path for r in http.received if not r.path.endswith(SECRETS)),
        *smtp.mailbox.raw,
        *(record.getMessage() for record in caplog.records),
    ]


def test_each_channel_gets_one_message_in_its_format_with_no_secret(
    channels_env: dict[str, str], http: HttpReceiver, smtp: SmtpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    environment = load_alert_environment()
    notifier = build_notifier(environment, spec())
    assert notifier.configured == ["slack", "email", "webhook"]
    # An error that quotes a provider key (a careless vendor message): redacted before it is sent.
    leaky = alert(detail=f"ProviderError: polygon: HTTP 500 for apiKey={PROVIDER_KEY}\nsecond line")
    report = notifier.send([leaky])
    assert report.ok and [c.sent for c in report.channels] == [1, 1, 1]

    [slack] = http.to(SLACK_PATH)
    text = slack.json()["text"]
    assert set(slack.json()) == {"text"}
    assert "FIRING error: Run failed: bars_1day 2026-11-20|2" in text
    assert "<http://127.0.0.1:3000/runs/abc|Open in Dagster>" in text and "apiKey=********" in text

    [hook] = http.to(WEBHOOK_PATH)
    body = hook.json()
    assert hook.headers["Content-Type"] == "application/json"
    fields = "version source incident_key state severity title detail link time opened_at"
    assert set(body) == set(fields.split())
    assert body["incident_key"] == "run_failure:bars_1day:2026-11-20|2"
    assert (body["state"], body["severity"], body["version"]) == ("firing", "error", 1)
    assert body["time"] == "2026-11-21T08:00:00+00:00" and body["link"] == "http://127.0.0.1:3000/runs/abc"

    [mail] = smtp.messages
    assert smtp.logins == [("alerts", True)]
    assert smtp.mailbox.envelopes == [("alerts@example.com", ["oncall@example.com", "data@example.com"])]
    assert mail["Subject"] == "[ai-trader] FIRING error: Run failed: bars_1day 2026-11-20|2"
    assert "Open in Dagster: http://127.0.0.1:3000/runs/abc" in mail.get_content()

    assert_no_secret(*everything_received(http, smtp, caplog), repr(environment), repr(notifier.channels))


def test_a_failing_channel_names_itself_and_the_status_or_error_class_only(
    channels_env: dict[str, str], http: HttpReceiver, smtp: SmtpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http.answer(500)  # Slack is asked first
    environment = load_alert_environment(
        channels_env | {"AI_TRADER_SMTP_URL": smtp.url(password="wrong-pw-x")}
    )
    report = build_notifier(environment, spec()).send([alert()])
    assert report.errors == ["slack: HTTP 500", "email: SMTPAuthenticationError (535)"]
    assert [c.sent for c in report.channels] == [0, 0, 1]  # the webhook still got its message

    nowhere = f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}{WEBHOOK_TOKEN}"
    dead = load_alert_environment({"AI_TRADER_ALERT_WEBHOOK_URL": nowhere}).channels(timeout=1)[0]
    with pytest.raises(ChannelError) as refused:
        dead.send(alert())
    assert str(refused.value) == "webhook: ConnectionRefusedError"
    assert refused.value.__cause__ is None and refused.value.__context__ is None  # nothing chained

    http.answer(200, delay_seconds=2)
    slow = load_alert_environment(channels_env).channels(timeout=0.3)[0]
    started = time.monotonic()
    with pytest.raises(ChannelError, match=r"^slack: (TimeoutError|timeout)$"):
        slow.send(alert())
    assert time.monotonic() - started < 1.5
    assert_no_secret(*everything_received(http, smtp, caplog), *report.errors, repr(refused.value))


@dataclasses.dataclass
class Recorder:
    """A channel that keeps what it is sent."""

    name: str = "recorder"
    sent: list[Alert] = dataclasses.field(default_factory=list)

    def send(self, message: Alert) -> None:
        self.sent.append(message)


def test_the_rate_limit_sends_the_worst_first_summarises_the_rest_then_drops_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [1000.0]
    channel = Recorder()
    notifier = Notifier([channel], max_per_minute=3, windows=RateWindows(), clock=lambda: clock[0])
    burst = [alert(f"freshness:news:layer_{n}", Severity.WARNING, title=f"late {n}") for n in range(4)]
    burst.append(alert("sensor:qualification_sensor", Severity.CRITICAL, title="sensor down"))
    report = notifier.send(burst)
    assert [a.title for a in channel.sent[:2]] == ["sensor down", "late 0"]  # the worst went first
    summary = channel.sent[2]
    assert summary.title == "3 more alert(s) in one message (rate limit: 3 per minute)"
    assert summary.detail.splitlines() == ["[firing] late 1", "[firing] late 2", "[firing] late 3"]
    assert summary.key == "rate_limit_summary:20261121T080000" and summary.severity == Severity.WARNING
    unpacked = summary.webhook_body()["summarised"]  # a pager can open each incident it stands for
    assert [body["incident_key"] for body in unpacked] == [f"freshness:news:layer_{n}" for n in (1, 2, 3)]
    assert (report.channels[0].sent, report.channels[0].summarised, report.channels[0].dropped) == (3, 3, 0)

    clock[0] += 59  # the same minute: no room left
    with caplog.at_level(logging.WARNING, logger="ai_trader_assets.alerts"):
        dropped = notifier.send([alert("freshness:news:layer_9")])
    assert dropped.channels[0].dropped == 1 and len(channel.sent) == 3
    assert (
        "rate limit of 3 message(s) per minute reached; dropped 1 alert(s): freshness:news:layer_9"
        in caplog.text
    )

    clock[0] += 1  # a minute after the burst: room again
    assert notifier.send([alert("freshness:news:layer_9")]).channels[0].sent == 1


def test_an_incident_alerts_once_when_it_opens_and_once_when_it_resolves(market_db: MarketDatabase) -> None:
    tracker = IncidentTracker(IncidentStore(market_db), clock=lambda: NOW)
    finding = Finding(
        key="freshness:bars_1day:layer_2",
        kind="freshness",
        severity=Severity.WARNING,
        title="Data behind: bars_1day layer 2",
        detail="3 of 40 members lack 2026-11-20",
        labels={"dataset": "bars_1day", "layer": "2"},
    )
    opened = tracker.fire(finding)
    assert opened is not None and opened.state == State.FIRING
    assert tracker.fire(dataclasses.replace(finding, detail="4 of 40 members lack it")) is None  # still open
    assert [i.key for i in tracker.open_incidents("freshness")] == ["freshness:bars_1day:layer_2"]
    resolved = tracker.clear(finding.key, "stored for all 40 members")
    assert resolved is not None and resolved.state == State.RESOLVED
    assert resolved.title == finding.title and resolved.detail == "stored for all 40 members (open for 0 s)"
    assert tracker.clear(finding.key, "again") is None
    assert tracker.fire(finding) is not None  # it can open again, and tells again
    stored = IncidentStore(market_db).get(finding.key)
    assert stored is not None and stored.times_opened == 2 and stored.is_open
    assert stored.labels == {"dataset": "bars_1day", "layer": "2"} and stored.opened_at == NOW


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"AI_TRADER_SLACK_WEBHOOK_URL": f"hooks.slack.com/{SLACK_TOKEN}"},
            "AI_TRADER_SLACK_WEBHOOK_URL is not",
        ),
        (
            {"AI_TRADER_SMTP_URL": f"imap://u:{SMTP_PASSWORD}@h", "AI_TRADER_ALERT_EMAIL_TO": "a@b.c"},
            "smtps://",
        ),
        ({"AI_TRADER_SMTP_URL": f"smtp://u:{SMTP_PASSWORD}@h:25"}, "AI_TRADER_ALERT_EMAIL_TO is not"),
        (
            {"AI_TRADER_SMTP_URL": f"smtp://u:{SMTP_PASSWORD}@h:x", "AI_TRADER_ALERT_EMAIL_TO": "a@b.c"},
            "port",
        ),
        ({"AI_TRADER_ALERT_EMAIL_TO": "oncall@example.com"}, "AI_TRADER_SMTP_URL is not"),
        ({"AI_TRADER_UI_URL": "localhost:3000"}, "AI_TRADER_UI_URL"),
    ],
)
def test_a_malformed_variable_is_named_never_quoted(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as error:
        load_alert_environment(env)
    assert_no_secret(str(error.value))


def test_smtp_urls_pick_tls_port_login_and_sender() -> None:
    plain = load_alert_environment(
        {
            "AI_TRADER_SMTP_URL": "smtp://bot%40example.com:p%40ss@mail.example.com",
            "AI_TRADER_ALERT_EMAIL_TO": "a@b.c",
        }
    ).smtp
    assert plain is not None and (plain.tls, plain.port, plain.username) == (
        "starttls",
        25,
        "bot@example.com",
    )
    assert (
        plain.password is not None and plain.password.reveal() == "p@ss" and plain.sender == "bot@example.com"
    )
    tls = load_alert_environment(
        {
            "AI_TRADER_SMTP_URL": "smtps://relay.example.com?from=ops@example.com",
            "AI_TRADER_ALERT_EMAIL_TO": "a@b.c",
        }
    ).smtp
    assert tls is not None and (tls.tls, tls.port, tls.username, tls.sender) == (
        "smtps",
        465,
        None,
        "ops@example.com",
    )


def test_the_watch_opens_what_is_not_ok_resolves_what_recovered_and_keeps_what_it_cannot_see() -> None:
    late = check(
        "freshness",
        Status.DEGRADED,
        "news layer 1: 2 of 9 members lack 2026-11-20",
        labels={"dataset": "news", "layer": "1"},
    )
    fine = check(
        "freshness",
        Status.OK,
        "2026-11-20 stored for all 9 members",
        labels={"dataset": "bars_1day", "layer": "1"},
    )
    failing = check(
        "sensor", Status.DEGRADED, "its last tick failed: boom", labels={"instigator": "gap_healing_sensor"}
    )
    guard_sensor = check(
        "sensor",
        Status.DEGRADED,
        "its last tick failed: stopped",
        labels={"instigator": "qualification_sensor"},
    )
    open_keys = {"freshness:bars_1day:layer_1", DEMOTION_GUARD_KEY, "freshness:news:layer_0"}
    result = watch(
        [late, fine, failing, guard_sensor],
        open_keys,
        ui_url="http://ui:3000",
        location="ai_trader_assets",
        guard_holds="qualification sensor stopped: more than 20% of a layer would be demoted",
    )
    assert {f.key: f.title for f in result.findings} == {
        "freshness:news:layer_1": "Data behind: news layer 1",
        "sensor:gap_healing_sensor": "Sensor gap_healing_sensor is failing",
        # ... and not also as a failing qualification_sensor:
        DEMOTION_GUARD_KEY: "Qualification sensor stopped by its demotion guard",
    }
    links = {f.key: f.link for f in result.findings}
    assert (
        links["sensor:gap_healing_sensor"]
        == "http://ui:3000/locations/ai_trader_assets/sensors/gap_healing_sensor"
    )
    assert links["freshness:news:layer_1"] == "http://ui:3000/assets/news"
    assert result.cleared == [("freshness:bars_1day:layer_1", "2026-11-20 stored for all 9 members")]

    # Freshness cannot be evaluated (the database is down): its open incidents stay open.
    unknown = check("freshness", Status.DOWN, "could not be checked: connection refused")
    blind = watch([unknown], open_keys, ui_url="http://ui:3000", location="x", guard_known=False)
    assert [(f.key, f.severity) for f in blind.findings] == [("health:freshness", Severity.CRITICAL)]
    assert blind.cleared == []
    released = watch([], open_keys | {"health:freshness"}, ui_url="http://ui:3000", location="x")
    assert sorted(key for key, _ in released.cleared) == [DEMOTION_GUARD_KEY, "health:freshness"]


def test_alerts_test_command_exit_codes(
    channels_env: dict[str, str], http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["alerts", "test"])
    assert done.exit_code == 0, done.output
    assert [line.split()[:2] for line in done.output.splitlines()] == [
        ["ok", "slack:"], ["ok", "email:"], ["ok", "webhook:"]
    ]  # fmt: skip
    assert len(http.received) == 2 and len(smtp.messages) == 1
    assert http.to(WEBHOOK_PATH)[0].json()["severity"] == "info"

    http.answer(404)
    failed = runner.invoke(app, ["alerts", "test"])
    assert failed.exit_code == 1
    assert "failed  slack: HTTP 404" in failed.output and "ok      webhook:" in failed.output
    assert_no_secret(done.output, failed.output)


def test_alerts_test_command_without_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    done = CliRunner().invoke(app, ["alerts", "test"])
    assert done.exit_code == 0
    assert done.output.startswith(
        "no alert channel is configured: nothing sent (set AI_TRADER_SLACK_WEBHOOK_URL"
    )
    monkeypatch.setenv("AI_TRADER_SMTP_URL", f"smtp://u:{SMTP_PASSWORD}@h:25")
    broken = CliRunner().invoke(app, ["alerts", "test"])
    assert broken.exit_code == 1 and "AI_TRADER_ALERT_EMAIL_TO is not" in broken.output
    assert_no_secret(broken.output)


def test_the_alerts_section_is_optional_and_checked(tmp_path: Path) -> None:
    """A deployment's own pipeline.yaml from before alerts loads with the defaults; a wrong value fails."""
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    pipeline = yaml.safe_load((folder / "pipeline.yaml").read_text())
    shipped = pipeline.pop("alerts")
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    assert load_config(folder).pipeline.alerts == AlertsSpec.model_validate(shipped)  # same values
    (folder / "pipeline.yaml").write_text(
        yaml.safe_dump(pipeline | {"alerts": {"check_severities": ["INFO"]}})
    )
    with pytest.raises(ConfigError) as error:
        load_config(folder)
    assert error.value.key_path == "alerts.check_severities.0"


def test_run_and_check_keys_name_assets_partitions_and_the_universe_guard() -> None:
    tags = {
        "dagster/asset_partition_range_start": "2026-11-02|1",
        "dagster/asset_partition_range_end": "2026-11-20|1",
    }
    assert partition_spec(tags) == "2026-11-02|1..2026-11-20|1" and partition_spec({}) == "-"
    failed = run_failure_finding(
        assets=["news", "bars_1day"],
        job="daily",
        partition="-",
        run_id="r1",
        error="\nValueError: bad\nmore",
        ui_url="u",
    )
    assert (failed.key, failed.title) == ("run_failure:bars_1day,news:-", "Run failed: bars_1day, news")
    assert failed.detail == "ValueError: bad\nrun r1 of job daily"
    labels = failed.labels
    assert resolves_run_failure(labels, assets={"bars_1day", "news", "ticks"}, job="other", partition="-")
    assert not resolves_run_failure(labels, assets={"bars_1day"}, job="daily", partition="-")
    assert not resolves_run_failure(
        labels, assets={"bars_1day", "news"}, job="daily", partition="2026-11-20|1"
    )
    refused = check_finding(
        asset="universe",
        check="universe_guard",
        partition="-",
        severity="ERROR",
        description="refused: the list lacks 9% of the active universe (max 5%)",
        run_id="r2",
        ui_url="u",
    )
    assert refused.key == "guard:universe" and refused.title.startswith(
        "Universe sync refused the provider's list"
    )
    assert len(incident_key("run_failure", "x" * 400, "-")) == 255
