"""End to end with the real ``dagster-webserver`` and ``dagster-daemon`` on the shipped production
``dagster.yaml`` (PostgreSQL instance), the market database on PostgreSQL and the local Polygon server.

A plain-SQL promotion (as an external scanner would write it) must, untouched, become a backfill whose
runs fetch exactly the promoted symbols and store them per the new layer's windows; a UI-style
``launchPartitionBackfill`` through GraphQL must complete and store its data; a run the provider
fails alerts once on each channel (local Slack/webhook and SMTP receivers) through the daemon's
sensors, and its next success resolves it.
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
import sqlalchemy as sa
import yaml
from dagster._core.execution.backfill import BulkActionStatus

from ai_trader_assets.config import DEFAULT_CONFIG_DIR, REPO_ROOT
from ai_trader_assets.planning.backfill_launch import LAUNCH
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets_tests.support.alert_receivers import (
    SLACK_PATH,
    WEBHOOK_PATH,
    HttpReceiver,
    SmtpReceiver,
)
from ai_trader_assets_tests.support.dagster_stack import (
    BIN,
    DagsterStack,
    instance_of,
    production_instance_environment,
    wait_for,
)
from ai_trader_assets_tests.support.platform import lake_partitions
from ai_trader_assets_tests.support.polygon_server import PolygonServer
from ai_trader_assets_tests.support.postgres import DatabaseFactory

API_KEY = "e2e-polygon-key-5eC4e7"
SLACK_TOKEN, WEBHOOK_TOKEN, SMTP_PASSWORD = "xoxb-e2e-5eC4e7", "pager-e2e-5eC4e7", "smtp-e2e-5eC4e7"
SECRETS = (API_KEY, SLACK_TOKEN, WEBHOOK_TOKEN, SMTP_PASSWORD)
AS_OF = dt.date(2026, 11, 20)
PROMOTED = ["P0", "P1", "P2", "P3", "P4"]
pytestmark = pytest.mark.timeout(900)


def small_config(folder: Path) -> Path:
    """The shipped config with short windows and a recent start, so backfills are a few runs."""
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    retention = yaml.safe_load((folder / "retention.yaml").read_text())
    for layer, windows in retention["layers"].items():
        for window in windows.values():
            window["cold_days"] = 10 + 2 * int(layer)
            window["hot_days"] = 4 + int(layer)
    (folder / "retention.yaml").write_text(yaml.safe_dump(retention))
    pipeline = yaml.safe_load((folder / "pipeline.yaml").read_text())
    pipeline["partitions"]["start_date"] = dt.date(2026, 9, 1)
    pipeline["automation"]["sensor_interval_seconds"] = 5
    pipeline["alerts"]["run_sensor_interval_seconds"] = 5
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    # A failing provider gives up within a second (the run that fails on purpose fails promptly).
    providers = yaml.safe_load((folder / "providers.yaml").read_text())
    providers["providers"]["polygon"]["retries"] = {
        "max_attempts": 2,
        "initial_backoff_seconds": 0.2,
        "max_backoff_seconds": 0.5,
        "jitter_seconds": 0,
    }
    (folder / "providers.yaml").write_text(yaml.safe_dump(providers))
    return folder


class Stack:
    def __init__(  # noqa: PLR0917 - the stack's parts, for the tests
        self,
        env: dict[str, str],
        database: MarketDatabase,
        lake: Lake,
        server: PolygonServer,
        url: str,
        processes: DagsterStack,
        receivers: tuple[HttpReceiver, SmtpReceiver],
    ):
        self.env, self.database, self.lake, self.server, self.url = env, database, lake, server, url
        self.processes = processes
        self.http, self.smtp = receivers

    def instance(self) -> dg.DagsterInstance:
        return instance_of(self.env)

    def backfills(self) -> list:  # type: ignore[type-arg]
        with self.instance() as instance:
            return list(instance.get_backfills())

    def wait_backfill_done(self, backfill_id: str, timeout: float = 420) -> None:
        def done() -> bool:
            with self.instance() as instance:
                backfill = instance.get_backfill(backfill_id)
                assert backfill is not None
                assert backfill.status not in (BulkActionStatus.FAILED, BulkActionStatus.CANCELED), (
                    backfill.status
                )
                return backfill.status in (BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS)

        wait_for(done, timeout, f"backfill {backfill_id}", interval=2)
        with self.instance() as instance:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [
                r.status for r in runs
            ]


@pytest.fixture(scope="module")
def stack(postgres_databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e")
    market_url = postgres_databases.create()
    instance_url = postgres_databases.create()
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    with (
        PolygonServer(API_KEY, market=[*PROMOTED, "NVDA"]) as server,
        HttpReceiver() as http,
        SmtpReceiver("alerts", SMTP_PASSWORD) as smtp,
    ):
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AI_TRADER_", "DAGSTER_", "POLYGON_"))
        }
        env |= {
            "AI_TRADER_HOME": str(root / "home"),
            "AI_TRADER_DATABASE_URL": market_url.render_as_string(hide_password=False),
            "AI_TRADER_LAKE_URL": str(root / "lake"),
            "AI_TRADER_CONFIG_DIR": str(small_config(root / "config")),
            "AI_TRADER_AS_OF": AS_OF.isoformat(),
            "POLYGON_API_KEY": API_KEY,
            "POLYGON_BASE_URL": server.url,
            "DAGSTER_HOME": str(home),
            "AI_TRADER_SLACK_WEBHOOK_URL": f"{http.url}{SLACK_PATH}{SLACK_TOKEN}",
            "AI_TRADER_ALERT_WEBHOOK_URL": f"{http.url}{WEBHOOK_PATH}{WEBHOOK_TOKEN}",
            "AI_TRADER_SMTP_URL": smtp.url(),
            "AI_TRADER_ALERT_EMAIL_TO": "oncall@example.com",
            "AI_TRADER_UI_URL": "http://dagster.example:3000",
        } | production_instance_environment(instance_url)
        database = MarketDatabase(market_url)
        migrations.upgrade(database)
        CompaniesRepository(database).upsert(
            [{"symbol": s, "layer": 1} for s in PROMOTED] + [{"symbol": "NVDA", "layer": 2}], source="test"
        )
        # The import above is history, not news: the sensor starts after its events (as the quickstart
        # does). Gap healing, which would backfill every layer's hot window, and the alert watch, which
        # would alert on every layer's stale datasets here, have their own tests.
        for command in (
            [str(BIN / "ai-trader"), "sensor", "skip-history"],
            [str(BIN / "dagster"), "sensor", "stop", "gap_healing_sensor", "-w", "workspace.yaml"],
            [str(BIN / "dagster"), "sensor", "stop", "alert_watch_sensor", "-w", "workspace.yaml"],
        ):
            subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=120)
        # Each in a process group of its own, stopped with everything it spawned.
        with DagsterStack(env, root / "logs") as processes:
            try:
                processes.start_daemon()
                processes.start_webserver()
                yield Stack(
                    env, database, Lake(str(root / "lake")), server, processes.url, processes, (http, smtp)
                )
            finally:
                database.dispose()
                print(processes.log_tail("daemon", 3000))


def test_a_plain_sql_promotion_backfills_the_new_layer_untouched(stack: Stack) -> None:
    stack.server.requests.clear()
    with stack.database.begin() as conn:
        conn.execute(
            sa.text("UPDATE companies SET layer2_qualified = true WHERE symbol IN ('P0','P1','P2','P3','P4')")
        )
    backfills = wait_for(stack.backfills, 180, "the sensor's backfill")
    assert len(backfills) == 1  # type: ignore[arg-type]
    backfill = backfills[0]  # type: ignore[index]
    assert backfill.tags["ai_trader/layer"] == "2" and backfill.tags["dagster/priority"] == "2"
    stack.wait_backfill_done(backfill.backfill_id)
    tickers = {r.path.split("/")[4] for r in stack.server.requests if r.path.startswith("/v2/aggs/ticker/")}
    tickers |= {t for r in stack.server.requests for t in r.query.get("ticker", [])}
    assert tickers == set(PROMOTED)  # only the promoted symbols were fetched
    hot_days = 4 + 2  # layer 2's shortened window
    with stack.database.begin() as conn:
        hot_sessions = {
            row[0].astimezone(dt.UTC).date()
            for row in conn.execute(sa.text("SELECT ts FROM bars_1day WHERE symbol = 'P0'"))
        }
    assert hot_sessions and all((AS_OF - s).days < hot_days for s in hot_sessions)
    cold = {session for session, layer in lake_partitions(stack.lake, "bars_1day") if layer == 2}
    assert cold and all((AS_OF - s).days < 14 for s in cold) and max(cold) == AS_OF

    # The same update again changes nothing and launches nothing.
    with stack.database.begin() as conn:
        conn.execute(
            sa.text("UPDATE companies SET layer2_qualified = true WHERE symbol IN ('P0','P1','P2','P3','P4')")
        )
    time.sleep(15)
    assert len(stack.backfills()) == 1


def test_a_ui_style_partition_backfill_completes_and_stores_its_data(stack: Stack) -> None:
    before = {b.backfill_id for b in stack.backfills()}
    # What the UI's launch dialog sends for a date range of one layer.
    params: dict[str, Any] = {
        "assetSelection": [{"path": ["corporate_actions"]}],
        "partitionNames": [f"2026-11-{day}|2" for day in (16, 17, 18, 19, 20)],
    }
    response = requests.post(
        f"{stack.url}/graphql", json={"query": LAUNCH, "variables": {"params": params}}, timeout=60
    )
    payload = response.json()["data"]["launchPartitionBackfill"]
    assert payload["__typename"] == "LaunchBackfillSuccess", payload
    assert payload["backfillId"] not in before
    stack.wait_backfill_done(payload["backfillId"])
    with stack.database.begin() as conn:
        covered: int = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM ingestion_coverage "
                "WHERE dataset = 'corporate_actions' AND session >= '2026-11-16'"
            )
        ).scalar_one()
    assert covered == 5 * 6  # five sessions x the layer's six members


def test_ai_trader_backfill_submits_to_the_webserver_and_follows_it_to_the_end(stack: Stack) -> None:
    stack.server.requests.clear()
    before = {b.backfill_id for b in stack.backfills()}
    command = [str(BIN / "ai-trader"), "backfill", "--symbols", "NVDA", "--days", "5"]
    command += ["--datasets", "bars_1day,bars_1min", "--webserver", stack.url]
    done = subprocess.run(command, env=stack.env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (backfill,) = [b for b in stack.backfills() if b.backfill_id not in before]
    title = "ai-trader backfill: layer 2, 1 symbol(s)"
    assert f"launched backfill {backfill.backfill_id} ({title}): {stack.url}/runs/b/" in done.stdout
    assert backfill.title == title
    assert backfill.tags["ai_trader/layer"] == "2" and "ai_trader/backfill_request" in backfill.tags
    stack.wait_backfill_done(backfill.backfill_id, timeout=30)  # the CLI waited for the end already
    tickers = {r.path.split("/")[4] for r in stack.server.requests if r.path.startswith("/v2/aggs/ticker/")}
    assert tickers == {"NVDA"}  # restricted to the request's symbol, though layer 2 has six
    with stack.database.begin() as conn:
        minutes: int = conn.execute(
            sa.text("SELECT COUNT(*) FROM bars_1min WHERE symbol = 'NVDA' AND ts >= '2026-11-16'")
        ).scalar_one()
    assert minutes == 5 * 390


def launch_backfill(stack: Stack, asset: str, partition: str, tags: dict[str, str]) -> str:
    """A backfill of one partition, as the UI's launch dialog sends it; its id."""
    params: dict[str, Any] = {
        "assetSelection": [{"path": [asset]}],
        "partitionNames": [partition],
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }
    response = requests.post(
        f"{stack.url}/graphql", json={"query": LAUNCH, "variables": {"params": params}}, timeout=60
    )
    payload = response.json()["data"]["launchPartitionBackfill"]
    assert payload["__typename"] == "LaunchBackfillSuccess", payload
    return str(payload["backfillId"])


def alerts_sent(stack: Stack, key: str) -> dict[str, list[str]]:
    """What each channel received about an incident: the webhook's state, Slack's text, the subject."""
    webhook = [r.json() for r in stack.http.to(WEBHOOK_PATH)]
    return {
        "webhook": [body["state"] for body in webhook if body["incident_key"] == key],
        "slack": [
            r.json()["text"] for r in stack.http.to(SLACK_PATH) if key.split(":")[1] in r.json()["text"]
        ],
        "email": [str(m["Subject"]) for m in stack.smtp.messages if key.split(":")[1] in str(m["Subject"])],
    }


def test_a_run_the_provider_fails_alerts_once_per_channel_and_its_next_success_resolves_it(
    stack: Stack,
) -> None:
    partition, key = "2026-11-19|2", "run_failure:bars_1hour:2026-11-19|2"
    # Every request for hourly bars fails (500, past the client's retries): the run fails.
    stack.server.fail("/v2/aggs/ticker/", 500, times=10_000)
    failed = launch_backfill(stack, "bars_1hour", partition, {"ai_trader/refresh": "full"})
    try:

        def run_failed() -> bool:
            with stack.instance() as instance:
                runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": failed}))
            return any(r.status == dg.DagsterRunStatus.FAILURE for r in runs)

        wait_for(run_failed, 240, "the run to fail", interval=2)
    finally:
        stack.server.heal()

    def alerted() -> dict[str, list[str]] | None:
        sent = alerts_sent(stack, key)
        return sent if all(sent.values()) else None

    sent = wait_for(alerted, 120, "one alert per channel", interval=2)
    time.sleep(11)  # two more ticks of the failure sensor: still one each
    sent = alerts_sent(stack, key)
    assert sent["webhook"] == ["firing"] and len(sent["slack"]) == 1, sent
    assert sent["email"] == [f"[ai-trader] FIRING error: Run failed: bars_1hour {partition}"]
    [body] = [r.json() for r in stack.http.to(WEBHOOK_PATH) if r.json()["incident_key"] == key]
    assert "500" in body["detail"].splitlines()[0], body["detail"]
    assert body["link"].startswith("http://dagster.example:3000/runs/")

    # The same partition again, the provider well: the run succeeds and the incident resolves, once.
    stack.wait_backfill_done(launch_backfill(stack, "bars_1hour", partition, {"ai_trader/refresh": "full"}))

    def resolved() -> dict[str, list[str]] | None:
        sent = alerts_sent(stack, key)
        return sent if sent["webhook"] == ["firing", "resolved"] and len(sent["email"]) == 2 else None

    sent = wait_for(resolved, 120, "one resolved message per channel", interval=2)
    assert len(sent["slack"]) == 2 and sent["email"][1].startswith("[ai-trader] RESOLVED"), sent
    seen = [r.body.decode() for r in stack.http.received] + [raw.decode() for raw in stack.smtp.mailbox.raw]
    assert not [text for text in seen for secret in SECRETS if secret in text]


def health(stack: Stack) -> tuple[int, dict[str, Any]]:
    """``ai-trader health --format json`` against the stack: (exit code, the daemon's check)."""
    done = subprocess.run(
        [str(BIN / "ai-trader"), "health", "--format", "json"],
        cwd=REPO_ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout)
    (daemon,) = [c for c in report["checks"] if c["name"] == "dagster_daemon"]
    return done.returncode, daemon


def test_health_sees_the_real_daemon_beat_and_says_down_within_three_heartbeats_of_it_stopping(
    stack: Stack,
) -> None:
    """Last in the module: it stops the daemon."""
    code, daemon = health(stack)
    assert daemon["status"] == "ok", daemon
    assert code in (0, 1)  # the rest of the platform may lag behind (freshness): never down
    stack.processes.stop_daemon()
    stopped = time.monotonic()
    beat = 30  # the daemon's heartbeat interval (Dagster's default)

    def down() -> tuple[int, dict[str, Any]] | None:
        code, daemon = health(stack)
        return (code, daemon) if daemon["status"] == "down" else None

    code, daemon = wait_for(down, 3 * beat + 30, "ai-trader health to say the daemon is down", interval=5)
    assert code == 2 and "heartbeat" in daemon["detail"], daemon
    assert time.monotonic() - stopped <= 3 * beat + 30
