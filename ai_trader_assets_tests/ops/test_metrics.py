"""``ai-trader metrics serve``: the series a scrape exports, read from a real platform (both database
engines, a local Delta lake, a Dagster instance on a temporary DAGSTER_HOME) through the real HTTP
server on a free port; ``/healthz`` against ``ai-trader health``'s exit code; provider requests
recorded by the request governor into the market database; the deployment files that run it."""

import contextlib
import dataclasses
import datetime as dt
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ai_trader_assets import calendar
from ai_trader_assets.cli.metrics import metrics_server
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.defs.platform.resources import provider_resource
from ai_trader_assets.ops.health import check_health
from ai_trader_assets.ops.health_data import expected_session
from ai_trader_assets.ops.health_report import HealthReport, Status, check
from ai_trader_assets.ops.metrics import PlatformCollector, PlatformMetrics
from ai_trader_assets.planning.intraday import freshness
from ai_trader_assets.providers.base import AuthenticationError, ProviderError, ProviderUnavailableError
from ai_trader_assets.providers.http import JsonTransport, RequestGovernor, TransientError
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.settings import Settings, load_settings
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.tables import lake_tables
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.provider_stats import ProviderStatsRecorder, read_provider_stats
from ai_trader_assets.storage.schema import provider_stats
from ai_trader_assets_tests.support.fake_api import SleepRecorder, provider_spec
from ai_trader_assets_tests.test_deployment import ALL_INTERFACES, ROOT, compose, image_uid, parse_command

# 19:00 New York on Friday 2026-11-20: that session closed three hours ago (the expected session).
AS_OF = "2026-11-20T19:00"
SESSION, PREVIOUS, EARLIER = dt.date(2026, 11, 20), dt.date(2026, 11, 19), dt.date(2026, 11, 18)
DAILY = Dataset.BARS_1DAY
CHART = "/v8/finance/chart/{symbol}"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance holding one materialization of bars_1day, with the IO manager's numbers."""
    home = tmp_path_factory.mktemp("dagster_home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                DAILY.value, metadata={"seconds": 2.5, "rows/s": 400.0, "rows written": 1000, "slices": 1}
            )
        )
    return home


@dataclasses.dataclass
class State:
    settings: Settings
    database: MarketDatabase
    hot: pd.DataFrame  # the daily bars stored hot
    cold_layers: dict[int, int]  # rows per layer stored cold


@pytest.fixture
def state(
    market_db: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dagster_home: Path
) -> State:
    """AAPL in layer 1, MSFT in layer 2: two sessions of daily bars hot, three of AAPL's and two of
    MSFT's cold (one file holding both layers, one holding layer 1 only), AAPL's two sessions in the
    ledger, three quarantined rows and a provider's requests."""
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", market_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF)
    monkeypatch.setenv("AI_TRADER_LAKE_URL", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    CompaniesRepository(market_db).upsert(
        [{"symbol": "AAPL", "layer": 1}, {"symbol": "MSFT", "layer": 2}], source="test"
    )
    from ai_trader_assets_tests.support.lake import demo_frame

    hot = demo_frame(DAILY, ["AAPL", "MSFT"], PREVIOUS, SESSION)
    ledger = Ledger(market_db)
    with market_db.begin() as conn:
        HotStore(market_db).upsert(conn, DAILY, hot)
        for session in (PREVIOUS, SESSION):
            ledger.record(conn, DAILY, session, {"AAPL": 1})
        rejects = pd.DataFrame({"reason": ["high < low"] * 3, "record": ['{"symbol": "AAPL"}'] * 3})
        ledger.quarantine(conn, DAILY, f"{SESSION}|1", rejects)
    tables = lake_tables(Lake(str(tmp_path / "lake")), load_config(), market_db)
    layers = np.where(hot["symbol"] == "AAPL", 1, 2)
    tables.store(DAILY, hot, layers, Commit("ingest", "both-layers"))
    tables.store(DAILY, demo_frame(DAILY, ["AAPL"], EARLIER, EARLIER), 1, Commit("ingest", "layer-1"))
    cold = {1: int((layers == 1).sum()) + 1, 2: int((layers == 2).sum())}
    return State(load_settings(), market_db, hot, cold)


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path.startswith("/v8/") else 503
        body = b"[]"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def running(server: Any) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def call_a_provider(url: sa.URL, tmp_path: Path) -> None:
    """One request answered, one endpoint failing twice (5xx: retried, then given up), through a
    governor that records into the market database."""
    spec = provider_spec("yahoo", unthrottled=True)
    spec = spec.model_copy(update={"retries": spec.retries.model_copy(update={"max_attempts": 2})})
    recorder = ProviderStatsRecorder(url)
    limiter = RequestLimiter("yahoo", spec.rate_limit, tmp_path / "ratelimits")
    governor = RequestGovernor("yahoo", spec, limiter, SleepRecorder(), recorder=recorder)
    with running(ThreadingHTTPServer(("127.0.0.1", 0), _Api)) as api:
        transport = JsonTransport(api, governor, key_variables=None)
        transport.get(CHART, "/v8/finance/chart/AAPL")
        with pytest.raises(ProviderUnavailableError):
            transport.get("/v7/finance/quote", "/v7/finance/quote?symbols=AAPL")
    recorder.close()


def scrape(base: str) -> Samples:
    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:  # noqa: S310 (a local server)
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (a local server)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_scrape_exports_the_platforms_state(state: State, tmp_path: Path) -> None:
    call_a_provider(state.database.url, tmp_path)
    config = load_config()
    metrics = PlatformMetrics(state.settings, config, intraday=freshness)
    with running(metrics_server(metrics, "127.0.0.1", 0)) as base:
        samples = scrape(base)

    hot = state.hot["symbol"].value_counts()
    assert value(samples, "ai_trader_rows", dataset="bars_1day", layer="1", store="hot") == hot["AAPL"]
    assert value(samples, "ai_trader_rows", dataset="bars_1day", layer="2", store="hot") == hot["MSFT"]
    for layer, rows in state.cold_layers.items():
        assert value(samples, "ai_trader_rows", dataset="bars_1day", layer=str(layer), store="cold") == rows
    for store in ("hot", "cold"):  # a layer that ingests a dataset has its series before the first row
        assert value(samples, "ai_trader_rows", dataset="ticks", layer="3", store=store) == 0
    # AAPL holds 2 of its cold window's sessions; MSFT (layer 2) none: the ledger says so.
    window = config.window(1, DAILY)
    assert window is not None
    last = expected_session(state.settings.now(), dt.timedelta(minutes=120))
    wanted = len(calendar.sessions(config.window_start(window.cold_days, state.settings.today()), last))
    coverage = value(samples, "ai_trader_window_coverage_ratio", dataset="bars_1day", layer="1")
    assert coverage == pytest.approx(2 / wanted)
    assert value(samples, "ai_trader_window_coverage_ratio", dataset="bars_1day", layer="2") == 0
    assert value(samples, "ai_trader_quarantine_rows", dataset="bars_1day") == 3
    assert value(samples, "ai_trader_quarantine_rows_last_day", dataset="bars_1day") == 3
    assert value(samples, "ai_trader_quarantine_rows", dataset="news") == 0
    requests = "ai_trader_provider_requests_total"
    assert value(samples, requests, provider="yahoo", endpoint=CHART, outcome="ok") == 1
    assert value(samples, requests, provider="yahoo", endpoint="/v7/finance/quote", outcome="transient") == 2
    assert value(samples, "ai_trader_provider_request_seconds_count", provider="yahoo") == 3
    assert value(samples, "ai_trader_provider_request_seconds_sum", provider="yahoo") > 0
    assert value(samples, "ai_trader_asset_last_run_seconds", asset="bars_1day") == 2.5
    assert value(samples, "ai_trader_asset_last_rows_per_second", asset="bars_1day") == 400
    assert value(samples, "ai_trader_asset_last_rows_written", asset="bars_1day") == 1000
    # Health as `ai-trader health` sees it: layer 2's member lacks the session; no daemon ran.
    lag = value(samples, "ai_trader_freshness_lag_seconds", dataset="bars_1day", layer="2")
    assert lag > 0 and value(samples, "ai_trader_freshness_lag_seconds", dataset="bars_1day", layer="1") == 0
    check_status = "ai_trader_health_check_status"
    assert value(samples, check_status, check="freshness:bars_1day:layer_2", kind="freshness") == 1
    assert value(samples, check_status, check="dagster_daemon", kind="dagster_daemon") == 2
    assert value(samples, "ai_trader_health_status") == 2
    assert (
        value(samples, "ai_trader_health_check_value", check="quarantine", kind="quarantine", unit="rows")
        == 3
    )
    up = {
        dict(labels)["source"]: v
        for (name, labels), v in samples.items()
        if name == "ai_trader_metrics_source_up"
    }
    assert up == dict.fromkeys(
        ["hot_rows", "cold_rows", "window_coverage", "quarantine", "providers", "assets"], 1.0
    )


def test_healthz_answers_200_or_503_as_health_exits(state: State) -> None:
    config = load_config()
    report = check_health(state.settings, config, intraday=freshness)
    assert report.exit_code == 2  # no daemon ever ran on this instance
    healthy = HealthReport([check("database", Status.OK, "answers")])
    degraded = HealthReport([*healthy.checks, check("quarantine", Status.DEGRADED, "too many")])
    for metrics, expected, status in (
        (PlatformMetrics(state.settings, config, intraday=freshness), 503, report.status.value),
        (PlatformMetrics(state.settings, config, health=lambda: healthy), 200, "ok"),
        (PlatformMetrics(state.settings, config, health=lambda: degraded), 503, "degraded"),
    ):
        with running(metrics_server(metrics, "127.0.0.1", 0)) as base:
            code, body = get(f"{base}/healthz")
            assert (code, json.loads(body)["status"]) == (expected, status)
            assert get(f"{base}/livez")[0] == 200 and get(f"{base}/nowhere")[0] == 404
    assert {c["name"] for c in json.loads(body)["checks"]} == {"database", "quarantine"}


def test_scrapes_within_the_cache_window_compute_once(state: State) -> None:
    calls: list[HealthReport] = []
    now = [0.0]

    def health() -> HealthReport:
        calls.append(HealthReport([check("database", Status.OK, "answers")]))
        return calls[-1]

    metrics = PlatformMetrics(
        state.settings, load_config(), health=health, cache_seconds=30, clock=lambda: now[0]
    )
    first = metrics.snapshot()
    now[0] = 29.0
    assert metrics.snapshot() is first and metrics.health() is first.report and len(calls) == 1
    now[0] = 30.0
    assert metrics.snapshot() is not first and len(calls) == 2


def test_a_source_that_cannot_be_read_leaves_out_only_its_series(state: State) -> None:
    down = HealthReport([check("database", Status.DOWN, "unreachable")])
    snapshot = PlatformMetrics(state.settings, load_config(), health=lambda: down).snapshot()
    assert snapshot.sources == {
        "hot_rows": False,
        "window_coverage": False,
        "quarantine": False,
        "providers": False,
        "cold_rows": True,
        "assets": True,
    }
    assert not snapshot.hot_rows and not snapshot.quarantine
    assert snapshot.cold_rows[("bars_1day", "2")] == state.cold_layers[2]
    assert snapshot.assets["bars_1day"].seconds == 2.5


def test_the_governor_records_every_attempt_with_its_outcome(tmp_path: Path) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.attempts: list[tuple[str, str, str]] = []

        def record(self, provider: str, endpoint: str, outcome: str, seconds: float) -> None:
            assert seconds >= 0
            self.attempts.append((provider, endpoint, outcome))

    spec = provider_spec("polygon", unthrottled=True)
    recorder = Recorder()
    limiter = RequestLimiter("polygon", spec.rate_limit, tmp_path)
    governor = RequestGovernor("polygon", spec, limiter, SleepRecorder(), recorder=recorder)
    answers: list[Exception | None] = [
        TransientError("HTTP 429 rate limited", 0.0),
        TransientError("HTTP 502"),
        None,
    ]

    def once() -> str:
        answer = answers.pop(0)
        if answer is not None:
            raise answer
        return "page"

    assert governor.run("/v2/aggs/{ticker}", once) == "page"

    def failing(error: Exception) -> Callable[[], str]:
        def attempt() -> str:
            raise error

        return attempt

    with pytest.raises(AuthenticationError):
        governor.run("/v3/trades/{ticker}", failing(AuthenticationError("refused")))
    with pytest.raises(ProviderError):
        governor.run("/v3/reference/tickers", failing(ProviderError("HTTP 404")))
    assert recorder.attempts == [
        ("polygon", "/v2/aggs/{ticker}", "rate_limited"),
        ("polygon", "/v2/aggs/{ticker}", "transient"),
        ("polygon", "/v2/aggs/{ticker}", "ok"),
        ("polygon", "/v3/trades/{ticker}", "auth"),
        ("polygon", "/v3/reference/tickers", "error"),
    ]


def test_provider_stats_are_buffered_then_added_by_every_process(market_db: MarketDatabase) -> None:
    now = [0.0]
    worker = ProviderStatsRecorder(market_db.url, flush_seconds=5, clock=lambda: now[0])
    worker.record("polygon", "/v2/aggs/{ticker}?limit=5000", "ok", 0.25)
    worker.record("polygon", "/v2/aggs/{ticker}", "ok", 0.5)
    assert read_provider_stats(market_db) == []  # buffered: no write per request
    now[0] = 5.0
    worker.record("polygon", "/v2/aggs/{ticker}", "transient", 1.0)  # the interval is over: written
    other = ProviderStatsRecorder(market_db.url)  # another run worker
    other.record("polygon", "/v2/aggs/{ticker}", "ok", 0.25)
    other.close()
    worker.close()
    stored = {(s.endpoint, s.outcome): (s.requests, s.seconds) for s in read_provider_stats(market_db)}
    assert stored == {("/v2/aggs/{ticker}", "ok"): (3, 1.0), ("/v2/aggs/{ticker}", "transient"): (1, 1.0)}


def test_a_failed_write_keeps_the_totals_for_the_next(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not_migrated.db'}"
    recorder = ProviderStatsRecorder(url)
    recorder.record("yahoo", CHART, "ok", 0.5)
    assert recorder.flush() is False  # no table yet: kept, not raised
    recorder.record("yahoo", CHART, "ok", 0.5)
    provider_stats.create(recorder.database.engine)
    assert recorder.flush() is True
    [stat] = read_provider_stats(recorder.database)
    assert (stat.requests, stat.seconds) == (2, 1.0)
    recorder.close()


def test_a_steps_provider_resource_writes_its_requests_at_teardown(state: State) -> None:
    with dg.build_resources({"provider": provider_resource(state.settings, kind="yahoo")}) as resources:
        recorder = resources.provider.recorder()
        assert recorder is not None
        recorder.record("yahoo", CHART, "ok", 0.1)
        assert read_provider_stats(state.database) == []
    [stat] = read_provider_stats(state.database)
    assert (stat.provider, stat.endpoint, stat.outcome, stat.requests) == ("yahoo", CHART, "ok", 1)


# ------------------------------------------------------------------ the deployment


def exported_names() -> set[str]:
    """Every sample name a scrape can hold (a fixed report and no data: the families are declared anyway)."""
    report = HealthReport(
        [check("freshness", Status.OK, "-", value=0.0, labels={"dataset": "news", "layer": "1"})]
    )
    metrics = PlatformMetrics(load_settings(), load_config(), health=lambda: report)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(metrics))
    text = generate_latest(registry).decode()
    names = set(re.findall(r"^# TYPE (\w+) (\w+)", text, flags=re.MULTILINE))
    # The text format names a counter with its _total already.
    suffixes = {"counter": [""], "summary": ["_sum", "_count"], "gauge": [""]}
    return {f"{name}{suffix}" for name, kind in names for suffix in suffixes[kind]}


def test_compose_runs_the_metrics_server_and_prometheus_scrapes_it() -> None:
    services = compose()["services"]
    metrics = services["metrics"]
    path, params = parse_command(metrics["command"])
    assert path == "ai-trader metrics serve" and params["host"] == ALL_INTERFACES
    assert metrics["ports"][0].rsplit(":", 1)[1] == str(params["port"])
    assert (
        metrics["image"] == services["code_location"]["image"]
        and metrics["user"] == services["migrate"]["user"]
    )
    assert metrics["environment"]["AI_TRADER_DATABASE_URL"] and metrics["environment"]["DAGSTER_PG_DB"]
    assert metrics["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert f"127.0.0.1:{params['port']}/livez" in metrics["healthcheck"]["test"][3]
    scrape_config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    [job] = scrape_config["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [f"metrics:{params['port']}"]
    assert job["metrics_path"] == "/metrics"
    assert compose()["configs"]["prometheus_config"]["file"] == "./deploy/prometheus.yml"


def test_the_kubernetes_manifest_runs_the_same_command_as_our_user() -> None:
    deployment, service = yaml.safe_load_all((ROOT / "deploy" / "helm" / "metrics.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    path, params = parse_command(container["command"])
    assert path == "ai-trader metrics serve" and params["host"] == ALL_INTERFACES
    assert container["ports"][0]["containerPort"] == params["port"] == service["spec"]["ports"][0]["port"]
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == image_uid()
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert (
        service["spec"]["selector"]
        == selector
        == {k: v for k, v in deployment["spec"]["template"]["metadata"]["labels"].items() if k in selector}
    )
    assert all("value" not in v or "PASSWORD" not in v["name"] for v in container["env"])


def test_the_dashboard_charts_only_series_the_server_exports() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "ai_trader_dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {name for expr in exprs for name in re.findall(r"\bai_trader_\w+", expr)}
    assert used and used <= exported_names()
    for series in ("ai_trader_freshness_lag_seconds", "ai_trader_rows", "ai_trader_window_coverage_ratio",
                   "ai_trader_quarantine_rows", "ai_trader_provider_requests_total",
                   "ai_trader_provider_request_seconds_sum", "ai_trader_asset_last_run_seconds",
                   "ai_trader_asset_last_rows_per_second"):  # fmt: skip
        assert series in used, series
