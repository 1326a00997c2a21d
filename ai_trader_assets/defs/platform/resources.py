"""Resources every domain shares: configuration, market database, lake and market-data provider.

Values from set environment variables are passed as ``dg.EnvVar`` so the UI shows the variable's
name, never its value; unset ones fall back to the embedded defaults of :func:`load_settings`.
"""

import datetime as dt
import os
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from ai_trader_assets.calendar import new_york_today
from ai_trader_assets.config import PlatformConfig, cached_config
from ai_trader_assets.providers import (
    MarketDataProvider,
    build_flatfiles,
    build_provider,
    build_single,
    build_social,
)
from ai_trader_assets.providers.social import SocialSource
from ai_trader_assets.settings import (
    PROVIDER_ENDPOINTS,
    PROVIDER_KEYS,
    PROVIDER_NAMES,
    ProviderAccess,
    Secret,
    Settings,
    load_settings,
    parse_as_of,
)
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.provider_stats import ProviderStatsRecorder


class PlatformConfigResource(dg.ConfigurableResource):
    """The validated YAML configuration and the platform's notion of "today" and "now"."""

    config_dir: str
    as_of: str | None = None  # AI_TRADER_AS_OF: a date, or a New York time

    def get(self) -> PlatformConfig:
        return cached_config(self.config_dir)

    def today(self) -> dt.date:
        """``as_of``'s date (AI_TRADER_AS_OF) when set, else today's date in New York."""
        return parse_as_of(self.as_of)[0] if self.as_of else new_york_today()

    def now(self) -> dt.datetime:
        """``as_of``'s instant when set (a date alone: the end of that day), else the real time."""
        return parse_as_of(self.as_of)[1] if self.as_of else dt.datetime.now(dt.UTC)


class MarketDatabaseResource(dg.ConfigurableResource):
    """The market database (companies, hot storage, events): one pooled engine per run."""

    url: str
    config_dir: str
    _database: MarketDatabase | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._database = MarketDatabase(self.url, cached_config(self.config_dir).pipeline.database)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._database is not None:
            self._database.dispose()
            self._database = None

    @property
    def database(self) -> MarketDatabase:
        # Created on first use too, for when this resource is nested in another (the IO manager).
        if self._database is None:
            self._database = MarketDatabase(self.url, cached_config(self.config_dir).pipeline.database)
        return self._database

    def companies(self) -> CompaniesRepository:
        return CompaniesRepository(self.database)


class LakeResource(dg.ConfigurableResource):
    """The cold Parquet lake (local path or S3)."""

    url: str
    aws_endpoint_url: str | None = None
    aws_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None

    def get_lake(self) -> Lake:
        return Lake(
            self.url,
            s3_endpoint_url=self.aws_endpoint_url,
            s3_region=self.aws_region,
            s3_access_key_id=Secret(self.aws_access_key_id) if self.aws_access_key_id else None,
            s3_secret_access_key=Secret(self.aws_secret_access_key) if self.aws_secret_access_key else None,
        )


class MarketDataProviderResource(dg.ConfigurableResource):
    """The market-data providers: the primary (``kind``) and, per dataset, the failover order of
    providers.yaml among those whose keys are set. Rate limits are shared through ``state_dir``.

    ``endpoints`` and ``api_keys`` hold the variables of the environment contract (settings.py's
    ``PROVIDER_ENDPOINTS``, ``PROVIDER_KEYS``) as EnvVars where they are set: the UI shows their
    names, never a key's value.

    Every request of the providers built here is counted in the market database at
    ``stats_database_url`` (``provider_stats``, for ``ai-trader metrics serve``): buffered, and written
    every few seconds and when the step is done (None: not counted)."""

    kind: str
    config_dir: str
    state_dir: str
    endpoints: dict[str, str]  # endpoint variable -> URL (the variable when set, else the default)
    api_keys: dict[str, str]  # key variable -> the variable that holds it, for the keys that are set
    # Names that are neither URLs nor keys (MASSIVE_S3_BUCKET): the variable when set, else the default.
    names: dict[str, str] = Field(default_factory=dict)
    stats_database_url: str | None = None
    _stats: ProviderStatsRecorder | None = PrivateAttr(default=None)

    def access(self) -> ProviderAccess:
        return ProviderAccess(
            endpoints=dict(self.endpoints),
            keys={variable: Secret(value) for variable, value in self.api_keys.items() if value},
            names=dict(self.names),
        )

    def recorder(self) -> ProviderStatsRecorder | None:
        """The recorder of this step's provider requests (made on first use)."""
        if self._stats is None and self.stats_database_url:
            self._stats = ProviderStatsRecorder(self.stats_database_url)
        return self._stats

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._stats is not None:  # the end of the step's fetches: what is left is written now
            self._stats.close()
            self._stats = None

    def get_provider(self) -> MarketDataProvider:
        return build_provider(
            self.kind,
            cached_config(self.config_dir),
            self.access(),
            Path(self.state_dir),
            recorder=self.recorder(),
        )

    def get_flatfiles(self) -> MarketDataProvider | None:
        """Massive's flat files when their S3 keys are set, else None."""
        return build_flatfiles(
            cached_config(self.config_dir), self.access(), Path(self.state_dir), recorder=self.recorder()
        )

    def get_social_source(self) -> SocialSource | None:
        """Reddit when its variables are set, else the demo's posts with the demo provider, else None
        (sentiment then comes from the stored news alone)."""
        return build_social(
            self.kind,
            cached_config(self.config_dir),
            self.access(),
            Path(self.state_dir),
            recorder=self.recorder(),
        )

    def get_single(self, name: str) -> MarketDataProvider:
        """One provider by name, without failover (reconciliation asks a specific second provider)."""
        return build_single(
            name,
            cached_config(self.config_dir),
            self.access(),
            Path(self.state_dir),
            recorder=self.recorder(),
        )


def _env_or(name: str, default: str) -> str:
    """The variable as an EnvVar when it is set (so its value stays out of the UI), else the default."""
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else default


def _env_or_none(name: str) -> str | None:
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else None


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """The platform's resources from the environment (validated up front: a bad variable or config
    file fails the code location's load, naming itself)."""
    settings = load_settings()
    config_dir = str(settings.config_dir)
    cached_config(config_dir)
    return {
        "platform": PlatformConfigResource(
            config_dir=config_dir,
            as_of=settings.as_of_text,
        ),
        "market_db": MarketDatabaseResource(
            url=_env_or(
                "AI_TRADER_DATABASE_URL",
                settings.database_url.render_as_string(hide_password=False),
            ),
            config_dir=config_dir,
        ),
        "lake": LakeResource(
            url=_env_or("AI_TRADER_LAKE_URL", settings.lake_url),
            aws_endpoint_url=_env_or_none("AWS_ENDPOINT_URL"),
            aws_region=_env_or_none("AWS_REGION"),
            aws_access_key_id=_env_or_none("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=_env_or_none("AWS_SECRET_ACCESS_KEY"),
        ),
        "provider": provider_resource(settings),
    }


def provider_resource(settings: Settings, kind: str | None = None) -> MarketDataProviderResource:
    """The provider resource from the environment; ``kind`` overrides the primary (tests)."""
    keys: dict[str, str] = {}
    for variable, names in PROVIDER_KEYS.items():
        held_in = next((name for name in names if os.environ.get(name, "").strip()), None)
        if held_in is not None:
            keys[variable] = dg.EnvVar(held_in)
    return MarketDataProviderResource(
        kind=kind or settings.provider,
        config_dir=str(settings.config_dir),
        state_dir=str(settings.home / "ratelimits"),
        endpoints={name: _env_or(name, settings.access.endpoint(name)) for name in PROVIDER_ENDPOINTS},
        api_keys=keys,
        names={name: _env_or(name, settings.access.name(name)) for name in PROVIDER_NAMES},
        stats_database_url=_env_or(
            "AI_TRADER_DATABASE_URL", settings.database_url.render_as_string(hide_password=False)
        ),
    )
