"""``providers.yaml``: per provider its rate limits, timeouts, retries and page sizes; the failover
order per dataset; reconciliation's providers, sample and tolerances."""

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ai_trader_assets.config.base import ConfigError, Frozen, NonNegativeFloat, PositiveInt
from ai_trader_assets.datasets import BAR_DATASETS, INGESTED_DATASETS, Dataset


class RateLimit(Frozen):
    requests_per_second: PositiveInt
    requests_per_minute: PositiveInt
    burst: PositiveInt
    daily_quota: PositiveInt | None = None


class Timeouts(Frozen):
    connect_seconds: Annotated[float, Field(gt=0)]
    read_seconds: Annotated[float, Field(gt=0)]


class Retries(Frozen):
    max_attempts: PositiveInt
    initial_backoff_seconds: NonNegativeFloat
    max_backoff_seconds: NonNegativeFloat
    jitter_seconds: NonNegativeFloat


class PageSizes(Frozen):
    """Records per request, where the provider pages (each provider reads the sizes it uses)."""

    aggregates: PositiveInt | None = None  # polygon aggregates, alpaca bars
    news: PositiveInt | None = None
    splits: PositiveInt | None = None
    dividends: PositiveInt | None = None
    corporate_actions: PositiveInt | None = None  # alpaca (all kinds in one listing)
    tickers: PositiveInt | None = None  # polygon reference tickers (the universe)
    trades: PositiveInt | None = None  # polygon v3 trades, alpaca stock trades


FlatFileKind = Literal["day_aggs_v1", "minute_aggs_v1"]
# The flat-file object kind each bar dataset is read from (5-minute and hourly bars are built from
# the minutes).
FLATFILE_KINDS: dict[Dataset, FlatFileKind] = {
    Dataset.BARS_1DAY: "day_aggs_v1",
    Dataset.BARS_1HOUR: "minute_aggs_v1",
    Dataset.BARS_5MIN: "minute_aggs_v1",
    Dataset.BARS_1MIN: "minute_aggs_v1",
}


class FlatFileCosts(Frozen):
    """What the backfill planner weighs a flat-file fill by (massive_flatfiles only): the objects'
    sizes come from the bucket's listing, read at this rate.

    Attributes:
        bytes_per_second: Object bytes downloaded, decompressed and parsed per second
            (benchmarks.flatfiles prints this machine's figure).
    """

    bytes_per_second: PositiveInt


class ProviderSpec(Frozen):
    rate_limit: RateLimit
    timeouts: Timeouts
    retries: Retries
    page_sizes: PageSizes = PageSizes()
    # Alpaca's bar feed: sip (consolidated, what Polygon and Yahoo report) or iex (one exchange).
    feed: Literal["sip", "iex", "delayed_sip"] | None = None
    # How far the plan's bars lag real time (Polygon's Starter/Developer plans: 15). A trading session
    # is stored only up to now minus this, so the lag is fetched later instead of leaving a hole.
    delay_minutes: Annotated[int, Field(ge=0)] = 0
    # demo only: one synthetic trade per this many shares of a minute's volume (the ticks' rate).
    shares_per_trade: PositiveInt | None = None
    # massive_flatfiles only: what the planner weighs a flat-file fill by.
    flat_files: FlatFileCosts | None = None

    def page_size(self, provider: str, name: str) -> int:
        size = getattr(self.page_sizes, name)
        if size is None:
            raise ConfigError(
                "providers.yaml", f"providers.{provider}.page_sizes.{name}", "required key is missing"
            )
        return int(size)


ProviderName = Literal["polygon", "alpaca", "yahoo", "benzinga", "demo", "reddit", "massive_flatfiles"]
# What market-data providers fetch: every dataset but sentiment, which is computed (from the stored
# news, and the posts of a social source).
MARKET_DATASETS = frozenset(d for d in INGESTED_DATASETS if d != Dataset.SOCIAL_SENTIMENT)
# What each provider can serve at all (Yahoo's intraday only within its windows; see providers/yahoo/).
SERVES: dict[str, frozenset[Dataset]] = {
    "polygon": MARKET_DATASETS,
    "alpaca": MARKET_DATASETS,
    "yahoo": frozenset((*BAR_DATASETS, Dataset.CORPORATE_ACTIONS)),
    "benzinga": frozenset((Dataset.NEWS,)),
    # Market data, and Reddit-like posts for sentiment (providers/demo_social.py).
    "demo": frozenset(INGESTED_DATASETS),
    # Posts and comments for social sentiment only: never a failover target of market data.
    "reddit": frozenset((Dataset.SOCIAL_SENTIMENT,)),
    # One gzipped CSV per session for the whole market: bars (the planner's choice for backfills, never
    # a failover target; 5-minute and hourly bars are built from the 1-minute files).
    "massive_flatfiles": frozenset(BAR_DATASETS),
}


# Providers whose daily bars of one session come for the whole market in one request.
GROUPED_DAILY: frozenset[str] = frozenset(("polygon", "demo"))


class ReconciliationSpec(Frozen):
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


class ProvidersFile(Frozen):
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
            if "massive_flatfiles" in order:
                raise ValueError(
                    f"failover.{dataset.value} names massive_flatfiles: flat files are chosen by the "
                    "backfill planner per session range (ai-trader backfill --source), not failed over to"
                )
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
