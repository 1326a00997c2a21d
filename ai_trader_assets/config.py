"""The platform's YAML configuration, parsed into frozen pydantic models.

Four files live in the configuration folder (``AI_TRADER_CONFIG_DIR``, default ``<repo>/config``):
``layers.yaml``, ``retention.yaml``, ``providers.yaml`` and ``pipeline.yaml``. Every number the
pipeline uses lives in exactly one of them; code reads it from here. A bad file fails at load with
the file, the key path and what was expected (:class:`ConfigError`).
"""

import datetime as dt
import functools
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ai_trader_assets.datasets import BAR_DATASETS, INGESTED_DATASETS, LAYERS, PLANNED_DATASETS, Dataset
from ai_trader_assets.datasets.bars import INTRADAY_DATASETS

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = REPO_ROOT / "config"

LayerId = Literal[0, 1, 2, 3]
Days = Annotated[int, Field(strict=True, ge=0)]
PositiveInt = Annotated[int, Field(strict=True, gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid.

    The message always reads ``<file>: <key path>: <what was expected>``.
    """

    def __init__(self, file: Path | str, key_path: str, problem: str) -> None:
        self.file = str(file)
        self.key_path = key_path
        self.problem = problem
        super().__init__(f"{self.file}: {key_path or '<top level>'}: {problem}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- layers.yaml


class LayerSpec(_Frozen):
    name: str
    description: str
    backfill_priority: Annotated[int, Field(strict=True, ge=0)]
    datasets: tuple[Dataset, ...] = Field(min_length=1)
    planned_datasets: tuple[Dataset, ...] = ()

    @field_validator("datasets")
    @classmethod
    def _only_ingestable(cls, value: tuple[Dataset, ...]) -> tuple[Dataset, ...]:
        planned = [d.value for d in value if d in PLANNED_DATASETS]
        if planned:
            raise ValueError(f"{planned} have no provider yet; list them under planned_datasets")
        if len(set(value)) != len(value):
            raise ValueError("a dataset is listed twice")
        return value

    @field_validator("planned_datasets")
    @classmethod
    def _only_planned(cls, value: tuple[Dataset, ...]) -> tuple[Dataset, ...]:
        ingested = [d.value for d in value if d not in PLANNED_DATASETS]
        if ingested:
            raise ValueError(f"{ingested} are ingested datasets; list them under datasets")
        return value

    @property
    def policy_datasets(self) -> tuple[Dataset, ...]:
        """Datasets this layer keeps under the retention policy (ingested and planned)."""
        return self.datasets + self.planned_datasets


def _require_every_layer(layers: Mapping[int, object]) -> None:
    missing = [layer for layer in LAYERS if layer not in layers]
    if missing:
        raise ValueError(f"layer(s) {missing} missing: every layer {list(LAYERS)} must be present")


class LayersFile(_Frozen):
    layers: dict[LayerId, LayerSpec]

    @field_validator("layers")
    @classmethod
    def _all_layers(cls, value: dict[int, LayerSpec]) -> dict[int, LayerSpec]:
        _require_every_layer(value)
        return value


# ------------------------------------------------------------- retention.yaml


class RetentionWindow(_Frozen):
    hot_days: Days
    cold_days: Days
    intentional_reduction: str | None = None

    @model_validator(mode="after")
    def _hot_within_cold(self) -> "RetentionWindow":
        if self.hot_days > self.cold_days:
            raise ValueError(
                f"hot_days ({self.hot_days}) must not exceed cold_days ({self.cold_days}): "
                "hot data is also kept cold"
            )
        return self

    def is_hot(self, session: dt.date, today: dt.date) -> bool:
        """Whether a session belongs in hot storage (calendar days, counted back from today)."""
        return (today - session).days < self.hot_days

    def is_kept(self, session: dt.date, today: dt.date) -> bool:
        """Whether a session is kept at all (cold storage keeps the hot window too)."""
        return (today - session).days < self.cold_days


class RetentionFile(_Frozen):
    demotion_grace_days: Days
    layers: dict[LayerId, dict[Dataset, RetentionWindow]]

    @field_validator("layers")
    @classmethod
    def _all_layers(
        cls, value: dict[int, dict[Dataset, RetentionWindow]]
    ) -> dict[int, dict[Dataset, RetentionWindow]]:
        _require_every_layer(value)
        return value


# ------------------------------------------------------------- providers.yaml


class RateLimit(_Frozen):
    requests_per_second: PositiveInt
    requests_per_minute: PositiveInt
    burst: PositiveInt
    daily_quota: PositiveInt | None = None


class Timeouts(_Frozen):
    connect_seconds: Annotated[float, Field(gt=0)]
    read_seconds: Annotated[float, Field(gt=0)]


class Retries(_Frozen):
    max_attempts: PositiveInt
    initial_backoff_seconds: NonNegativeFloat
    max_backoff_seconds: NonNegativeFloat
    jitter_seconds: NonNegativeFloat


class PageSizes(_Frozen):
    """Records per request, where the provider pages (each provider reads the sizes it uses)."""

    aggregates: PositiveInt | None = None  # polygon aggregates, alpaca bars
    news: PositiveInt | None = None
    splits: PositiveInt | None = None
    dividends: PositiveInt | None = None
    corporate_actions: PositiveInt | None = None  # alpaca (all kinds in one listing)
    tickers: PositiveInt | None = None  # polygon reference tickers (the universe)


class ProviderSpec(_Frozen):
    rate_limit: RateLimit
    timeouts: Timeouts
    retries: Retries
    page_sizes: PageSizes = PageSizes()
    # Alpaca's bar feed: sip (consolidated, what Polygon and Yahoo report) or iex (one exchange).
    feed: Literal["sip", "iex", "delayed_sip"] | None = None
    # How far the plan's bars lag real time (Polygon's Starter/Developer plans: 15). A trading session
    # is stored only up to now minus this, so the lag is fetched later instead of leaving a hole.
    delay_minutes: Annotated[int, Field(ge=0)] = 0

    def page_size(self, provider: str, name: str) -> int:
        size = getattr(self.page_sizes, name)
        if size is None:
            raise ConfigError(
                "providers.yaml", f"providers.{provider}.page_sizes.{name}", "required key is missing"
            )
        return int(size)


ProviderName = Literal["polygon", "alpaca", "yahoo", "benzinga", "demo"]
# What each provider can serve at all (Yahoo's intraday only within its windows; see providers/yahoo.py).
SERVES: dict[str, frozenset[Dataset]] = {
    "polygon": frozenset(INGESTED_DATASETS),
    "alpaca": frozenset(INGESTED_DATASETS),
    "yahoo": frozenset((*BAR_DATASETS, Dataset.CORPORATE_ACTIONS)),
    "benzinga": frozenset((Dataset.NEWS,)),
    "demo": frozenset(INGESTED_DATASETS),
}


# Providers whose daily bars of one session come for the whole market in one request.
GROUPED_DAILY: frozenset[str] = frozenset(("polygon", "demo"))


class ReconciliationSpec(_Frozen):
    """Daily bars compared with a second provider (the reconciliation check and ``reconcile`` job).

    Attributes:
        against: Providers to compare with, in order: the first configured one other than the
            rows' own source is used.
        sample_symbols: Symbols compared per session (a deterministic sample).
        close_tolerance: Largest relative difference of closes that passes.
        volume_tolerance: Largest relative difference of volumes that passes (consolidated feeds
            agree within a few percent; a single-exchange feed such as Alpaca's ``iex`` reports a
            small share of the volume: use ``feed: sip`` or raise this).
        report_worst: Divergences listed in the check's result.
    """

    against: tuple[ProviderName, ...] = Field(min_length=1)
    sample_symbols: PositiveInt
    close_tolerance: Annotated[float, Field(gt=0, lt=1)]
    volume_tolerance: Annotated[float, Field(gt=0)]
    report_worst: PositiveInt = 10

    @field_validator("against")
    @classmethod
    def _real_providers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "demo" in value:
            raise ValueError("demo serves synthetic data: it cannot confirm or refute a real feed")
        wrong = [name for name in value if Dataset.BARS_1DAY not in SERVES[name]]
        if wrong:
            raise ValueError(f"{wrong} do not serve daily bars")
        return value


class ProvidersFile(_Frozen):
    providers: dict[ProviderName, ProviderSpec]
    failover: dict[Dataset, tuple[ProviderName, ...]]
    reconciliation: ReconciliationSpec

    @model_validator(mode="after")
    def _failover_names_known_providers(self) -> "ProvidersFile":
        for dataset, order in self.failover.items():
            unknown = [name for name in order if name not in self.providers]
            if unknown:
                raise ValueError(
                    f"failover.{dataset.value} names {unknown}, which have no entry under providers"
                )
            if not order:
                raise ValueError(f"failover.{dataset.value} is empty: name at least one provider")
            if "demo" in order:
                raise ValueError(
                    f"failover.{dataset.value} names demo: the demo provider is never a failover target "
                    "(synthetic rows must not land among real ones); choose it with AI_TRADER_PROVIDER=demo"
                )
            wrong = [name for name in order if dataset not in SERVES[name]]
            if wrong:
                raise ValueError(
                    f"failover.{dataset.value} names {wrong}, which do not serve {dataset.value}"
                )
        unknown = [name for name in self.reconciliation.against if name not in self.providers]
        if unknown:
            raise ValueError(f"reconciliation.against names {unknown}, which have no entry under providers")
        return self


# -------------------------------------------------------------- pipeline.yaml


class PartitionsSpec(_Frozen):
    start_date: dt.date
    calendar: Literal["XNYS"]


class ChunksSpec(_Frozen):
    symbols_per_request: PositiveInt
    write_batch_rows: PositiveInt


class DatasetBudget(_Frozen):
    """How much work of one dataset a run takes on."""

    rows_per_symbol_session: Annotated[float, Field(gt=0)]  # the estimate runs are sized by
    rows_per_run: PositiveInt


class RunsSpec(_Frozen):
    """Runs sized by data: a backfill becomes runs of at most ``rows_per_run`` estimated rows per
    dataset, and a run holds at most ``slice_rows`` rows in memory (fetch, validate, store, next)."""

    slice_rows: PositiveInt
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


class ScheduleSpec(_Frozen):
    cron: str
    timezone: str

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        # Lazy: importing dagster costs a second, and only this validator needs it.
        from dagster._utils.schedules import is_valid_cron_string  # noqa: PLC0415

        if not is_valid_cron_string(value):
            raise ValueError(f"{value!r} is not a valid cron expression (five fields)")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/New_York)") from exc
        return value


class SchedulesSpec(_Frozen):
    daily_ingest: ScheduleSpec
    retention: ScheduleSpec
    maintain_lake: ScheduleSpec
    universe_sync: ScheduleSpec


class UniverseSpec(_Frozen):
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


class IntradaySpec(_Frozen):
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
            raise ValueError(f"{', '.join(other)} cannot be refreshed intraday (only bars_1min/5min/1hour)")
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


class DatabasePoolSpec(_Frozen):
    pool_size: PositiveInt
    max_overflow: Annotated[int, Field(strict=True, ge=0)]
    pool_timeout_seconds: Annotated[float, Field(gt=0)]
    pool_recycle_seconds: PositiveInt


class AutomationSpec(_Frozen):
    sensor_interval_seconds: PositiveInt
    max_promotions_per_tick: PositiveInt
    demotion_guard_share: Annotated[float, Field(gt=0, le=1)]
    event_gap_timeout_seconds: PositiveInt
    gap_healing_interval_seconds: PositiveInt
    gap_healing_max_partitions_per_tick: PositiveInt
    gap_healing_retry_after_seconds: PositiveInt


class LakeSpec(_Frozen):
    """The cold Delta tables: history kept, commit sizes, lock waits and maintenance memory."""

    time_travel_days: PositiveInt
    commit_rows: PositiveInt
    lock_timeout_seconds: PositiveInt
    maintenance_memory_mb: PositiveInt
    open_bucket_max_files: PositiveInt = 64


class PipelineFile(_Frozen):
    universe: UniverseSpec
    intraday: tuple[IntradaySpec, ...] = ()
    partitions: PartitionsSpec
    chunks: ChunksSpec
    schedules: SchedulesSpec
    database: DatabasePoolSpec
    automation: AutomationSpec
    lake: LakeSpec
    runs: RunsSpec


# ------------------------------------------------------------------- loading


class PlatformConfig(_Frozen):
    """All four files, validated on their own and against each other."""

    layers: LayersFile
    retention: RetentionFile
    providers: ProvidersFile
    pipeline: PipelineFile

    def window_start(self, days: int, today: dt.date) -> dt.date:
        """The first day of a ``days``-calendar-day window ending today (``today - d < days``, as
        retention counts), not before the first partition."""
        return max(today - dt.timedelta(days=days - 1), self.pipeline.partitions.start_date)

    def window(self, layer: int, dataset: Dataset | str) -> RetentionWindow | None:
        """The retention window of a layer for a dataset, or None when the layer does not keep it."""
        return self.retention.layers[layer].get(Dataset(dataset))  # type: ignore[index]

    def ingests(self, layer: int, dataset: Dataset | str) -> bool:
        return Dataset(dataset) in self.layers.layers[layer].datasets  # type: ignore[index]


_Model = TypeVar("_Model", bound=BaseModel)


def _describe_expected(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """The keys allowed where an unknown key was found (walks the model along the error's path)."""
    annotation: Any = model
    for part in loc[:-1]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return ""
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return ""
        # Unwrap `X | None` to X.
        args = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) is not dict and len(args) == 1:
            annotation = args[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f" (expected one of: {', '.join(annotation.model_fields)})"
    return ""


def _parse(model: type[_Model], path: Path) -> _Model:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(path, "", "file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(path, "", f"expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        # A typo shows up twice (unknown key + required key missing); the typo is the news.
        problems = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = problems[0]
        loc = tuple(first["loc"])
        key_path = ".".join(str(part) for part in loc)
        if first["type"] == "extra_forbidden":
            problem = f"unknown key {loc[-1]!r}{_describe_expected(model, loc)}"
        elif first["type"] == "missing":
            problem = "required key is missing"
        else:
            problem = f"{first['msg']} (got {first.get('input')!r})"
        if len(problems) > 1:
            problem += f" (and {len(problems) - 1} more problem(s) in this file)"
        raise ConfigError(path, key_path, problem) from exc


def _check_retention_matches_layers(layers: LayersFile, retention: RetentionFile, path: Path) -> None:
    for layer, spec in layers.layers.items():
        kept = retention.layers[layer]
        for dataset in kept:
            if dataset not in spec.policy_datasets:
                raise ConfigError(
                    path,
                    f"layers.{layer}.{dataset.value}",
                    f"retention for {dataset.value}, which layer {layer} does not ingest "
                    f"(layers.yaml lists {[d.value for d in spec.policy_datasets]})",
                )
        for dataset in spec.policy_datasets:
            if dataset not in kept:
                raise ConfigError(
                    path,
                    f"layers.{layer}",
                    f"no retention window for {dataset.value}, which layer {layer} ingests",
                )


def _check_higher_layers_keep_more(retention: RetentionFile, path: Path) -> None:
    for dataset in Dataset:
        previous: tuple[int, RetentionWindow] | None = None
        for layer in LAYERS:
            window = retention.layers[layer].get(dataset)  # type: ignore[index]
            if window is None:
                continue
            if previous is not None and window.intentional_reduction is None:
                lower_layer, lower = previous
                for attr in ("hot_days", "cold_days"):
                    if getattr(window, attr) < getattr(lower, attr):
                        raise ConfigError(
                            path,
                            f"layers.{layer}.{dataset.value}.{attr}",
                            f"layer {layer} keeps {getattr(window, attr)} days, less than layer "
                            f"{lower_layer}'s {getattr(lower, attr)}; raise it or add "
                            "intentional_reduction: '<why>'",
                        )
            previous = (layer, window)


def _check_intraday_matches_layers(layers: LayersFile, pipeline: PipelineFile, path: Path) -> None:
    seen: set[int] = set()
    for index, spec in enumerate(pipeline.intraday):
        if spec.layer in seen:
            raise ConfigError(path, f"intraday.{index}.layer", f"layer {spec.layer} is listed twice")
        seen.add(spec.layer)
        ingested = layers.layers[spec.layer].datasets  # type: ignore[index]
        for dataset in spec.datasets:
            if dataset not in ingested:
                raise ConfigError(
                    path,
                    f"intraday.{index}.datasets",
                    f"layer {spec.layer} does not ingest {dataset.value} (layers.yaml)",
                )


def load_config(config_dir: Path | str | None = None) -> PlatformConfig:
    """Load and cross-check the four configuration files.

    Args:
        config_dir: The folder holding the YAML files; defaults to ``<repo>/config``.

    Raises:
        ConfigError: naming the file, the key path and the expectation.
    """
    folder = Path(config_dir) if config_dir is not None else DEFAULT_CONFIG_DIR
    layers = _parse(LayersFile, folder / "layers.yaml")
    retention_path = folder / "retention.yaml"
    retention = _parse(RetentionFile, retention_path)
    _check_retention_matches_layers(layers, retention, retention_path)
    _check_higher_layers_keep_more(retention, retention_path)
    providers = _parse(ProvidersFile, folder / "providers.yaml")
    pipeline_path = folder / "pipeline.yaml"
    pipeline = _parse(PipelineFile, pipeline_path)
    _check_intraday_matches_layers(layers, pipeline, pipeline_path)
    return PlatformConfig(layers=layers, retention=retention, providers=providers, pipeline=pipeline)


@functools.cache
def cached_config(config_dir: str) -> PlatformConfig:
    """``load_config`` memoized per folder: the files are read once per process."""
    return load_config(config_dir)
