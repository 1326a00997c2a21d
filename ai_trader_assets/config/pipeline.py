"""``pipeline.yaml``: the universe, intraday refreshes, partitions, chunk sizes, schedules, database
pool, automation, the lake, runs sized by data, the thresholds of ``ai-trader health`` and alerts."""

import datetime as dt
import zoneinfo
from typing import Annotated, Literal

from croniter import croniter
from pydantic import Field, field_validator

from ai_trader_assets.config.base import Frozen, PositiveInt
from ai_trader_assets.datasets import INGESTED_DATASETS, Dataset
from ai_trader_assets.datasets.registry import INTRADAY_DATASETS
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN


class PartitionsSpec(Frozen):
    start_date: dt.date
    calendar: Literal["XNYS"]


class ChunksSpec(Frozen):
    symbols_per_request: PositiveInt
    write_batch_rows: PositiveInt


class DatasetBudget(Frozen):
    """How much work of one dataset a run takes on."""

    rows_per_symbol_session: Annotated[float, Field(gt=0)]  # the estimate runs are sized by
    rows_per_run: PositiveInt


class RunsSpec(Frozen):
    """Runs sized by data: a backfill becomes runs of at most ``rows_per_run`` estimated rows per
    dataset, and a run holds at most ``slice_rows`` rows in memory (fetch, validate, store, next).
    A symbol-session of a bulk dataset (ticks) is one fetch, stored in pieces of ``piece_rows``."""

    slice_rows: PositiveInt
    piece_rows: PositiveInt = 150_000
    datasets: dict[Dataset, DatasetBudget]

    @field_validator("datasets")
    @classmethod
    def _every_ingested_dataset(cls, value: dict[Dataset, DatasetBudget]) -> dict[Dataset, DatasetBudget]:
        missing = [d.value for d in INGESTED_DATASETS if d not in value]
        if missing:
            raise ValueError(f"no budget for {missing}: every ingested dataset needs one")
        return value

    def budget(self, dataset: Dataset | str) -> DatasetBudget:
        return self.datasets[Dataset(dataset)]


def dagster_accepts_cron(value: str) -> bool:
    """Whether Dagster's schedules accept ``value``: what its own check (``is_valid_cron_string``, on
    the croniter it vendors) accepts, here on PyPI's croniter so the configuration loads without
    Dagster (a test compares the two). Five fields or a nickname (``@daily``); no ``W`` (nearest
    weekday), which Dagster's croniter lacks; no schedule on February's 30th or 31st alone."""
    if not croniter.is_valid(value):
        return False
    expanded, *_ = croniter.expand(value)
    if len(expanded) != 5:
        return False
    fields = value.split()
    if len(fields) == 5 and "W" in fields[2].upper():
        return False
    _, _, days, months, _ = expanded
    return not (months == [2] and len(days) == 1 and days[0] in (30, 31))


class ScheduleSpec(Frozen):
    cron: str
    timezone: str

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not dagster_accepts_cron(value):
            raise ValueError(f"{value!r} is not a cron expression Dagster schedules accept (five fields)")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/New_York)") from exc
        return value


class SchedulesSpec(Frozen):
    daily_ingest: ScheduleSpec
    retention: ScheduleSpec
    maintain_lake: ScheduleSpec
    universe_sync: ScheduleSpec


class UniverseSpec(Frozen):
    """Layer 0 from the primary provider's reference list (the ``universe`` asset).

    Attributes:
        types: Security types kept (Polygon's codes: CS common stock, ADRC, ETF, ...).
        exchanges: Primary exchanges kept (MIC codes: XNYS, XNAS, ...).
        delist_after_days: Consecutive syncs (one a trading day) a symbol must be missing from the
            list before it is deactivated.
        max_deactivate_share: A sync that would deactivate more than this share of the active
            universe changes nothing and fails its check (a truncated list must not empty a layer).
    """

    types: tuple[str, ...] = Field(min_length=1)
    exchanges: tuple[str, ...] = Field(min_length=1)
    delist_after_days: PositiveInt
    max_deactivate_share: Annotated[float, Field(gt=0, lt=1)]


class IntradaySpec(Frozen):
    """One layer's refresh of the trading session (``intraday`` in pipeline.yaml).

    Attributes:
        layer: The layer refreshed.
        datasets: Its intraday bar datasets refreshed during the session.
        every_minutes: How often (a divisor of 60); the freshness check fails when the newest bar
            is older than two refreshes.
    """

    layer: Annotated[int, Field(ge=0, le=3)]
    datasets: tuple[Dataset, ...] = Field(min_length=1)
    every_minutes: PositiveInt

    @field_validator("datasets")
    @classmethod
    def _intraday_only(cls, value: tuple[Dataset, ...]) -> tuple[Dataset, ...]:
        other = [d.value for d in value if d not in INTRADAY_DATASETS]
        if other:
            raise ValueError(
                f"{', '.join(other)} cannot be refreshed intraday (only bars_1min/5min/1hour, ticks)"
            )
        return value

    @field_validator("every_minutes")
    @classmethod
    def _divides_the_hour(cls, value: int) -> int:
        if 60 % value:
            raise ValueError(
                f"every_minutes={value} does not divide the hour (1, 2, 3, 5, 10, 15, 20, 30, 60)"
            )
        return value

    def schedule_name(self) -> str:
        return f"intraday_layer_{self.layer}_schedule"


class DatabasePoolSpec(Frozen):
    pool_size: PositiveInt
    max_overflow: Annotated[int, Field(strict=True, ge=0)]
    pool_timeout_seconds: Annotated[float, Field(gt=0)]
    pool_recycle_seconds: PositiveInt


class AutomationSpec(Frozen):
    sensor_interval_seconds: PositiveInt
    max_promotions_per_tick: PositiveInt
    demotion_guard_share: Annotated[float, Field(gt=0, le=1)]
    event_gap_timeout_seconds: PositiveInt
    gap_healing_interval_seconds: PositiveInt
    gap_healing_max_partitions_per_tick: PositiveInt
    gap_healing_retry_after_seconds: PositiveInt
    policy_grid_interval_seconds: PositiveInt
    policy_grid_max_cells_per_tick: PositiveInt


class LakeSpec(Frozen):
    """The cold Delta tables: history kept, commit sizes, lock waits and maintenance memory."""

    time_travel_days: PositiveInt
    commit_rows: PositiveInt
    lock_timeout_seconds: PositiveInt
    maintenance_memory_mb: PositiveInt
    open_bucket_max_files: PositiveInt = 64


class HealthSpec(Frozen):
    """When ``ai-trader health`` calls a check degraded or down (pipeline.yaml says why each value).

    Attributes:
        database_connect_timeout_seconds: How long the database check waits for a connection.
        daemon_heartbeat_max_age_seconds: The daemon is down when its newest heartbeat is older.
        sensor_missed_intervals: A running sensor silent for this many of its intervals is degraded...
        sensor_min_silence_seconds: ...and never for less than this long.
        schedule_grace_seconds: A schedule's cron tick counts as missed this long after it was due.
        freshness_after_close_minutes: A session is expected stored this long after its close.
        lake_maintenance_max_age_hours: A table changed longer ago than this and not maintained since.
        lake_max_commits_since_checkpoint: More commits than this since the table's last checkpoint.
        quarantine_window_hours: The window quarantined rows are counted over...
        quarantine_max_rows: ...and how many are tolerated in it.
        disk_min_free_share, disk_min_free_gib: A local lake's disk with less free space (either).
        probe_symbol: The symbol ``--probe-providers`` asks each provider about.
        probe_timeout_seconds: One attempt per provider, given up on after this long.
    """

    database_connect_timeout_seconds: PositiveInt
    daemon_heartbeat_max_age_seconds: PositiveInt
    sensor_missed_intervals: PositiveInt
    sensor_min_silence_seconds: PositiveInt
    schedule_grace_seconds: PositiveInt
    freshness_after_close_minutes: PositiveInt
    lake_maintenance_max_age_hours: PositiveInt
    lake_max_commits_since_checkpoint: PositiveInt
    quarantine_window_hours: PositiveInt
    quarantine_max_rows: Annotated[int, Field(strict=True, ge=0)]
    disk_min_free_share: Annotated[float, Field(ge=0, lt=1)]
    disk_min_free_gib: Annotated[float, Field(ge=0)]
    probe_symbol: Annotated[str, Field(pattern=SYMBOL_PATTERN.pattern)]
    probe_timeout_seconds: Annotated[float, Field(gt=0)]


class AlertsSpec(Frozen):
    """What raises an alert and how often one is sent (``alerts`` in pipeline.yaml; the channels are
    environment variables, see docs/operations.md, "Alerts"). The defaults apply to a pipeline.yaml
    written before alerts existed (a deployment's own AI_TRADER_CONFIG_DIR), so it still loads.

    Attributes:
        check_severities: Failed asset checks of these severities alert (ERROR, WARN).
        max_messages_per_minute: Per channel: over it, what is left of a burst goes out as one summary
            while a message fits, else is dropped with a log line.
        timeout_seconds: One attempt per message and channel, given up on after this long.
        run_sensor_interval_seconds: How often the run failure and success sensors look at new runs.
        watch_interval_seconds: How often ``alert_watch_sensor`` evaluates freshness, sensors,
            schedules and the demotion guard.
    """

    # A failed ERROR check means wrong data was stored or expected data is missing; WARN checks
    # (a tolerance approached) are reviewed in the UI rather than pushed to people.
    check_severities: tuple[Literal["ERROR", "WARN"], ...] = Field(default=("ERROR",), min_length=1)
    # A morning after an outage opens an incident per late dataset and layer (about twenty): ten
    # messages a minute keeps the first ones readable and the rest in one summary, not a flood.
    max_messages_per_minute: PositiveInt = 10
    # Slack, a pager's webhook and a mail relay answer in well under a second; a sensor tick must not
    # hang on a dead endpoint (the daemon's next tick waits for it).
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10
    # Dagster's own default for run status sensors: a failed run is told within half a minute.
    run_sensor_interval_seconds: PositiveInt = 30
    # The freshness of every dataset and layer is a few queries per layer; data is due once a day
    # (two hours after the close) and sensors tick in seconds to hours: five minutes is prompt enough.
    watch_interval_seconds: PositiveInt = 300


class PipelineFile(Frozen):
    universe: UniverseSpec
    intraday: tuple[IntradaySpec, ...] = ()
    partitions: PartitionsSpec
    chunks: ChunksSpec
    schedules: SchedulesSpec
    database: DatabasePoolSpec
    automation: AutomationSpec
    lake: LakeSpec
    runs: RunsSpec
    health: HealthSpec
    alerts: AlertsSpec = AlertsSpec()
