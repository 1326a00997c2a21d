"""The platform's Prometheus metrics, computed on scrape (``ai-trader metrics serve`` serves them; no
web server here, and no Dagster import until the instance is read).

:class:`PlatformMetrics` computes a :class:`Snapshot` from the platform's own state, the health
report of ``ai-trader health`` included, and keeps it ``cache_seconds`` (30 by default) so scrapes
from several Prometheus replicas, dashboards and probes cost one computation. :class:`PlatformCollector`
turns it into these series:

- ``ai_trader_health_status`` (0 ok, 1 degraded, 2 down: ``ai-trader health``'s exit code),
  ``ai_trader_health_check_status{check,kind}`` and, for checks with a number,
  ``ai_trader_health_check_value{check,kind,unit}``.
- ``ai_trader_freshness_lag_seconds{dataset,layer}``: how long the latest session is overdue (the
  freshness checks' values; 0 when stored).
- ``ai_trader_rows{dataset,layer,store}``: ``hot`` rows per the current layer of their symbol
  (``none``: no layer now), ``cold`` rows per the layer each was stored in; 0 for a layer that ingests
  the dataset and holds none.
- ``ai_trader_window_coverage_ratio{dataset,layer}``: stored whole / wanted (session, member) pairs
  of the layer's cold window, through the latest session due (as freshness counts).
- ``ai_trader_quarantine_rows{dataset}`` and ``ai_trader_quarantine_rows_last_day{dataset}``.
- ``ai_trader_provider_requests_total{provider,endpoint,outcome}`` and
  ``ai_trader_provider_request_seconds{provider}`` (``_sum``, ``_count``): every provider HTTP
  attempt of every process, as the request governor recorded it (``storage.provider_stats``).
- ``ai_trader_asset_last_run_seconds{asset}``, ``ai_trader_asset_last_rows_per_second{asset}``,
  ``ai_trader_asset_last_rows_written{asset}``,
  ``ai_trader_asset_last_materialization_timestamp_seconds{asset}``: from the latest materialization
  in the Dagster instance at DAGSTER_HOME.
- ``ai_trader_metrics_source_up{source}`` (0 when a source could not be read: its series are then
  absent, the others still served) and ``ai_trader_metrics_compute_seconds``.
"""

import contextlib
import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar

import polars as pl
import sqlalchemy as sa
from deltalake.exceptions import DeltaError
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from ai_trader_assets.calendar import CalendarError
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.ops.health import check_health, connect_timeout
from ai_trader_assets.ops.health_data import IntradayFreshness, expected_session
from ai_trader_assets.ops.health_report import HealthReport, Status, first_line
from ai_trader_assets.ops.metrics_sources import (
    AssetRun,
    RowCounts,
    SourceError,
    asset_runs,
    cold_rows,
    hot_rows,
    quarantine_rows,
    window_coverage,
)
from ai_trader_assets.settings import Settings
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import LakeError
from ai_trader_assets.storage.lake.location import lake_from_settings
from ai_trader_assets.storage.provider_stats import ProviderStat, read_provider_stats

log = logging.getLogger(__name__)

T = TypeVar("T")
CACHE_SECONDS = 30.0
# What a source that cannot be read raises: its series are left out and it is reported down.
SOURCE_ERRORS = (
    sa.exc.SQLAlchemyError,
    LakeError,
    DeltaError,
    pl.exceptions.PolarsError,
    OSError,
    CalendarError,
    SourceError,
)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Everything one scrape exports (see the module's docstring)."""

    report: HealthReport
    hot_rows: RowCounts
    cold_rows: RowCounts
    coverage: Mapping[tuple[str, str], float]
    quarantine: Mapping[str, tuple[int, int]]
    providers: Sequence[ProviderStat]
    assets: Mapping[str, AssetRun]
    sources: Mapping[str, bool]  # source -> read
    seconds: float


class Cached(Generic[T]):
    """``compute()``'s value, computed again once ``seconds`` old; callers arriving while it is
    computed wait for that computation instead of starting their own."""

    def __init__(self, compute: Callable[[], T], seconds: float, clock: Callable[[], float]) -> None:
        self._compute, self._seconds, self._clock = compute, seconds, clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._at = 0.0

    def get(self) -> T:
        with self._lock:
            if self._value is None or self._clock() - self._at >= self._seconds:
                self._value = self._compute()
                self._at = self._clock()
            return self._value


class PlatformMetrics:
    """The platform's metrics and health, computed on demand and cached.

    Args:
        settings, config: The environment and the configuration.
        intraday: ``ai_trader_assets.planning.intraday.freshness`` for the intraday checks (``ops`` may
            not import ``planning``: the caller passes it).
        cache_seconds: How long a computed snapshot (and health report) is served.
        health: Computes the health report (default: :func:`~.health.check_health` on the settings).
        clock: Monotonic seconds, for the cache.
    """

    def __init__(
        self,
        settings: Settings,
        config: PlatformConfig,
        *,
        intraday: IntradayFreshness | None = None,
        cache_seconds: float = CACHE_SECONDS,
        health: Callable[[], HealthReport] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.config = config
        self._intraday = intraday
        self._health = Cached(health or self._check_health, cache_seconds, clock)
        self._snapshot = Cached(self._compute, cache_seconds, clock)

    def health(self) -> HealthReport:
        """The health report of ``ai-trader health`` (at most ``cache_seconds`` old)."""
        return self._health.get()

    def snapshot(self) -> Snapshot:
        """Every series' values (at most ``cache_seconds`` old)."""
        return self._snapshot.get()

    def collector(self) -> "PlatformCollector":
        return PlatformCollector(self)

    def _check_health(self) -> HealthReport:
        return check_health(self.settings, self.config, intraday=self._intraday)

    def _compute(self) -> Snapshot:
        started = time.perf_counter()
        report = self.health()
        sources = _Sources()
        hot, coverage, quarantine, providers = self._from_database(report, sources)
        cold = sources.read(
            "cold_rows",
            lambda: cold_rows(lake_from_settings(self.settings), self.config),
            usable=_not_down(report, "lake"),
        )
        assets = sources.read("assets", lambda: asset_runs(self.settings.dagster_home))
        return Snapshot(
            report,
            hot,
            cold or {},
            coverage,
            quarantine,
            providers,
            assets or {},
            sources.read_ok,
            time.perf_counter() - started,
        )

    def _from_database(
        self, report: HealthReport, sources: "_Sources"
    ) -> tuple[RowCounts, dict[tuple[str, str], float], dict[str, tuple[int, int]], list[ProviderStat]]:
        """Hot rows, coverage, quarantine and provider statistics; none when the health report
        found the database down (it says why: no second wait for an unreachable server)."""
        names = ("hot_rows", "window_coverage", "quarantine", "providers")
        database = None
        if _not_down(report, "database"):
            url = connect_timeout(self.settings.database_url, self.config.pipeline.health)
            with contextlib.suppress(OSError):  # a SQLite file's folder that cannot be created
                database = MarketDatabase(url, self.config.pipeline.database)
        if database is None:
            sources.read_ok.update(dict.fromkeys(names, False))
            return {}, {}, {}, []
        now = dt.datetime.now(tz=dt.UTC)
        after_close = dt.timedelta(minutes=self.config.pipeline.health.freshness_after_close_minutes)

        def coverage() -> dict[tuple[str, str], float]:
            last = expected_session(self.settings.clock or now, after_close)
            return window_coverage(database, self.config, self.settings.today(), last)

        try:
            return (
                sources.read(names[0], lambda: hot_rows(database, self.config)) or {},
                sources.read(names[1], coverage) or {},
                sources.read(names[2], lambda: quarantine_rows(database, now)) or {},
                sources.read(names[3], lambda: read_provider_stats(database)) or [],
            )
        finally:
            database.dispose()


class _Sources:
    """Reads each source of a snapshot, noting whether it could be read."""

    def __init__(self) -> None:
        self.read_ok: dict[str, bool] = {}

    def read(self, source: str, run: Callable[[], T], *, usable: bool = True) -> T | None:
        """``run()``, or None when it raised one of :data:`SOURCE_ERRORS` (logged) or ``usable`` is
        False (the health report already says why: the database or the lake is down)."""
        self.read_ok[source] = False
        if not usable:
            return None
        try:
            value = run()
        except SOURCE_ERRORS as exc:
            log.warning("metrics: %s could not be read: %s", source, first_line(exc))
            return None
        self.read_ok[source] = True
        return value


def _not_down(report: HealthReport, kind: str) -> bool:
    return all(c.status != Status.DOWN for c in report.checks if c.kind in (kind, "configuration"))


class PlatformCollector(Collector):
    """The metrics of :class:`PlatformMetrics`, for a ``prometheus_client`` registry."""

    def __init__(self, metrics: PlatformMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # registering must not compute a snapshot

    def collect(self) -> Iterator[Metric]:
        yield from families(self.metrics.snapshot())


def families(snapshot: Snapshot) -> Iterator[Metric]:
    """The snapshot as metric families."""
    yield from health_families(snapshot.report)
    rows = GaugeMetricFamily(
        "ai_trader_rows",
        "Rows stored: hot per the current layer of their symbol, cold per the layer stored with them.",
        labels=["dataset", "layer", "store"],
    )
    for store, counts in (("hot", snapshot.hot_rows), ("cold", snapshot.cold_rows)):
        for (dataset, layer), value in sorted(counts.items()):
            rows.add_metric([dataset, layer, store], value)
    yield rows
    coverage = GaugeMetricFamily(
        "ai_trader_window_coverage_ratio",
        "Share of the layer's cold-window (session, member) pairs stored whole.",
        labels=["dataset", "layer"],
    )
    for (dataset, layer), share in sorted(snapshot.coverage.items()):
        coverage.add_metric([dataset, layer], share)
    yield coverage
    total = GaugeMetricFamily("ai_trader_quarantine_rows", "Rows in quarantine.", labels=["dataset"])
    recent = GaugeMetricFamily(
        "ai_trader_quarantine_rows_last_day", "Rows quarantined in the last 24 hours.", labels=["dataset"]
    )
    for dataset, (all_rows, last_day) in sorted(snapshot.quarantine.items()):
        total.add_metric([dataset], all_rows)
        recent.add_metric([dataset], last_day)
    yield from (total, recent)
    yield from provider_families(snapshot.providers)
    yield from asset_families(snapshot.assets)
    up = GaugeMetricFamily(
        "ai_trader_metrics_source_up", "1 when the source was read for this scrape.", labels=["source"]
    )
    for source, ok in sorted(snapshot.sources.items()):
        up.add_metric([source], 1.0 if ok else 0.0)
    yield up
    yield GaugeMetricFamily(
        "ai_trader_metrics_compute_seconds", "Time the last computation took.", value=snapshot.seconds
    )


def health_families(report: HealthReport) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "ai_trader_health_status",
        "ai-trader health's verdict: 0 ok, 1 degraded, 2 down (its exit code).",
        value=report.status.severity,
    )
    status = GaugeMetricFamily(
        "ai_trader_health_check_status", "Each check: 0 ok, 1 degraded, 2 down.", labels=["check", "kind"]
    )
    value = GaugeMetricFamily(
        "ai_trader_health_check_value", "Each check's number, in its unit.", labels=["check", "kind", "unit"]
    )
    lag = GaugeMetricFamily(
        "ai_trader_freshness_lag_seconds",
        "How long the latest session due is overdue for the layer's members (0: stored).",
        labels=["dataset", "layer"],
    )
    for c in report.checks:
        status.add_metric([c.name, c.kind], c.status.severity)
        if c.value is not None:
            value.add_metric([c.name, c.kind, c.unit], c.value)
            if c.kind == "freshness":
                lag.add_metric([c.labels.get("dataset", ""), c.labels.get("layer", "")], c.value)
    yield from (status, value, lag)


def provider_families(stats: Sequence[ProviderStat]) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "ai_trader_provider_requests",
        "Provider HTTP attempts by endpoint template and outcome (ok, rate_limited, transient, auth, "
        "unavailable, error).",
        labels=["provider", "endpoint", "outcome"],
    )
    per_provider: dict[str, tuple[int, float]] = {}
    for s in stats:
        requests.add_metric([s.provider, s.endpoint, s.outcome], s.requests)
        count, seconds = per_provider.get(s.provider, (0, 0.0))
        per_provider[s.provider] = (count + s.requests, seconds + s.seconds)
    latency = SummaryMetricFamily(
        "ai_trader_provider_request_seconds", "Time provider HTTP attempts took.", labels=["provider"]
    )
    for provider, (count, seconds) in sorted(per_provider.items()):
        latency.add_metric([provider], count_value=count, sum_value=seconds)
    yield from (requests, latency)


def asset_families(assets: Mapping[str, AssetRun]) -> Iterator[Metric]:
    numbers = [
        ("ai_trader_asset_last_run_seconds", "Seconds the latest run took to fetch and store.", "seconds"),
        (
            "ai_trader_asset_last_rows_per_second",
            "Rows written per second by the latest run.",
            "rows_per_second",
        ),
        ("ai_trader_asset_last_rows_written", "Rows written by the latest run.", "rows_written"),
        (
            "ai_trader_asset_last_materialization_timestamp_seconds",
            "When the asset was last materialized (seconds since the epoch).",
            "timestamp",
        ),
    ]
    for name, documentation, field in numbers:
        family = GaugeMetricFamily(name, documentation, labels=["asset"])
        for asset, run in sorted(assets.items()):
            number = getattr(run, field)
            if number is not None:
                family.add_metric([asset], number)
        yield family
