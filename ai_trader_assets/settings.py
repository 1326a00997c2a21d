"""Settings from the environment (ARCHITECTURE.md, "Environment contract").

With no variable set, everything runs embedded and offline: SQLite market database, local lake,
demo provider, SQLite Dagster instance, all under ``AI_TRADER_HOME`` (default ``./.ai_trader``).
A malformed value fails with a message naming the variable; nothing falls back silently.
Secrets are held as :class:`Secret` so they never show in a repr, a log line or an error.
"""

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ai_trader_assets.config import DEFAULT_CONFIG_DIR

NEW_YORK = ZoneInfo("America/New_York")
ProviderKind = Literal["polygon", "alpaca", "yahoo", "demo"]
PRIMARY_PROVIDERS: tuple[str, ...] = ("polygon", "alpaca", "yahoo", "demo")

# The providers' part of the environment contract, each variable declared once here. Endpoints with
# their defaults:
PROVIDER_ENDPOINTS: dict[str, str] = {
    "POLYGON_BASE_URL": "https://api.massive.com",
    "ALPACA_DATA_URL": "https://data.alpaca.markets",
    # The trading API (its /v2/assets lists the universe); live keys need https://api.alpaca.markets.
    "ALPACA_TRADING_URL": "https://paper-api.alpaca.markets",
    "YAHOO_BASE_URL": "https://query2.finance.yahoo.com",
    "BENZINGA_BASE_URL": "https://api.benzinga.com",
    # Reddit (social sentiment): tokens come from the first, the API is the second (hosts only).
    "REDDIT_AUTH_URL": "https://www.reddit.com",
    "REDDIT_OAUTH_URL": "https://oauth.reddit.com",
    # Massive's flat files (one gzipped CSV per session for the whole market) over S3.
    "MASSIVE_S3_ENDPOINT": "https://files.massive.com",
}
# Names that are neither URLs nor secrets, with their defaults:
PROVIDER_NAMES: dict[str, str] = {"MASSIVE_S3_BUCKET": "flatfiles"}
# Keys, each with the names it may be set under (the first set one wins):
PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "POLYGON_API_KEY": ("POLYGON_API_KEY", "MASSIVE_API_KEY"),
    "ALPACA_API_KEY": ("ALPACA_API_KEY",),
    "ALPACA_SECRET_KEY": ("ALPACA_SECRET_KEY",),
    "BENZINGA_API_KEY": ("BENZINGA_API_KEY",),
    "REDDIT_CLIENT_ID": ("REDDIT_CLIENT_ID",),
    "REDDIT_CLIENT_SECRET": ("REDDIT_CLIENT_SECRET",),
    "REDDIT_USER_AGENT": ("REDDIT_USER_AGENT",),
    # The flat files' own S3 keys (Massive's dashboard): not the REST key.
    "MASSIVE_S3_ACCESS_KEY_ID": ("MASSIVE_S3_ACCESS_KEY_ID",),
    "MASSIVE_S3_SECRET_ACCESS_KEY": ("MASSIVE_S3_SECRET_ACCESS_KEY",),
}
# Per provider, the keys that must be set for it to take part (Yahoo and the demo need none).
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "polygon": ("POLYGON_API_KEY",),
    "alpaca": ("ALPACA_API_KEY", "ALPACA_SECRET_KEY"),
    "yahoo": (),
    "benzinga": ("BENZINGA_API_KEY",),
    "demo": (),
    "reddit": ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_USER_AGENT"),
    "massive_flatfiles": ("MASSIVE_S3_ACCESS_KEY_ID", "MASSIVE_S3_SECRET_ACCESS_KEY"),
}
# Sources of social posts, not market data: their keys neither pick the primary provider nor count as
# a market-data set-up that lacks one.
SOCIAL_PROVIDERS: tuple[str, ...] = ("reddit",)
# Bulk history for backfills (the planner picks it when cheaper than REST): never a primary either.
FLATFILES: Literal["massive_flatfiles"] = "massive_flatfiles"
NOT_PRIMARY_KEYS = frozenset(
    variable for name in (*SOCIAL_PROVIDERS, FLATFILES) for variable in REQUIRED_KEYS[name]
)


class SettingsError(ValueError):
    """An environment variable is missing or malformed; the message names it."""


class Secret:
    """A secret value whose str/repr never reveal it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def mask_url(url: str | URL) -> str:
    """A database URL fit for logs and errors (password replaced by ***)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def normalize_database_url(raw: str | URL, variable: str = "AI_TRADER_DATABASE_URL") -> URL:
    """Parse a SQLAlchemy URL, accept only SQLite and PostgreSQL, and pick the psycopg 3 driver.

    ``postgresql://`` alone would make SQLAlchemy pick psycopg2; we standardise on psycopg 3
    (COPY support) for the market database. Dagster's own storage uses psycopg2 separately.
    """
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise SettingsError(
            f"{variable} is not a SQLAlchemy URL ({mask_url(raw)}); "
            "expected e.g. postgresql://user@host:5432/db or sqlite:///path/market.db"
        ) from exc
    backend = url.get_backend_name()
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url
    raise SettingsError(
        f"{variable} uses {backend!r}; only postgresql and sqlite are supported ({mask_url(url)})"
    )


def key_names(variable: str) -> str:
    """A key variable as a message names it: ``POLYGON_API_KEY (or MASSIVE_API_KEY)``."""
    first, *others = PROVIDER_KEYS[variable]
    return first + "".join(f" (or {other})" for other in others)


def needed_keys(provider: str) -> str:
    """The variables a provider needs, as messages name them: ``MASSIVE_S3_ACCESS_KEY_ID and
    MASSIVE_S3_SECRET_ACCESS_KEY``."""
    return " and ".join(key_names(variable) for variable in REQUIRED_KEYS[provider])


@dataclasses.dataclass(frozen=True)
class ProviderAccess:
    """Every provider's endpoint and keys (keys stay :class:`Secret`).

    Attributes:
        endpoints: Per endpoint variable of :data:`PROVIDER_ENDPOINTS`, its URL (default: the
            variable's default).
        keys: Per key variable of :data:`PROVIDER_KEYS`, its value, for those set.
        names: Per variable of :data:`PROVIDER_NAMES`, its value, for those set.
    """

    endpoints: Mapping[str, str] = dataclasses.field(default_factory=dict)
    keys: Mapping[str, Secret] = dataclasses.field(default_factory=dict)
    names: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def endpoint(self, variable: str) -> str:
        return self.endpoints.get(variable) or PROVIDER_ENDPOINTS[variable]

    def name(self, variable: str) -> str:
        """A variable of :data:`PROVIDER_NAMES` (e.g. the flat files' bucket), else its default."""
        return self.names.get(variable) or PROVIDER_NAMES[variable]

    def key(self, variable: str) -> Secret | None:
        """The key, or None when it is not set (an empty value is not a key)."""
        key = self.keys.get(variable)
        return key if key is not None and key.reveal() else None

    def configured(self, provider: str) -> bool:
        """Whether the provider's keys are set (a provider without them never takes part)."""
        return all(self.key(variable) is not None for variable in REQUIRED_KEYS.get(provider, ()))


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved environment. Build it with :func:`load_settings`."""

    home: Path
    database_url: URL
    lake_url: str
    provider: ProviderKind
    access: ProviderAccess  # every provider's endpoint and keys
    config_dir: Path
    as_of: dt.date | None
    # The instant AI_TRADER_AS_OF pins (a date alone: the midnight after it, every session closed).
    clock: dt.datetime | None
    dagster_home: Path
    aws_endpoint_url: str | None
    aws_region: str | None

    def __repr__(self) -> str:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["database_url"] = mask_url(self.database_url)
        shown = ", ".join(f"{key}={value!r}" for key, value in fields.items())
        return f"Settings({shown})"

    def today(self) -> dt.date:
        """'Today' for retention windows and the latest partition (AI_TRADER_AS_OF when set)."""
        return self.as_of or dt.datetime.now(tz=NEW_YORK).date()

    def now(self) -> dt.datetime:
        """'Now' for the open session (AI_TRADER_AS_OF's instant when set), tz-aware."""
        return self.clock or dt.datetime.now(tz=dt.UTC)

    @property
    def as_of_text(self) -> str | None:
        """AI_TRADER_AS_OF as given, normalised (a date, or an ISO instant with its offset)."""
        if self.as_of is None:
            return None
        if self.clock is None or self.clock == end_of_day(self.as_of):
            return self.as_of.isoformat()
        return self.clock.isoformat()


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def end_of_day(day: dt.date) -> dt.datetime:
    """The midnight after ``day`` in New York: the instant a date-only AI_TRADER_AS_OF stands for."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), NEW_YORK)


def parse_as_of(raw: str) -> tuple[dt.date, dt.datetime]:
    """AI_TRADER_AS_OF as (today, now): ``YYYY-MM-DD`` is the end of that day (its session has
    closed); ``YYYY-MM-DDTHH:MM[:SS]`` is that New York time (an explicit offset is honoured)."""
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            return day, end_of_day(day)
        instant = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise SettingsError(
            f"AI_TRADER_AS_OF={raw!r} is neither a date nor a time; expected YYYY-MM-DD or "
            "YYYY-MM-DDTHH:MM (New York time)"
        ) from exc
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=NEW_YORK)
    instant = instant.astimezone(NEW_YORK)
    return instant.date(), instant


def _parse_as_of(raw: str | None) -> tuple[dt.date | None, dt.datetime | None]:
    return (None, None) if raw is None else parse_as_of(raw)


def _parse_lake_url(raw: str | None, home: Path) -> str:
    if raw is None:
        return str(home / "lake")
    if "://" in raw and not raw.startswith(("file://", "s3://")):
        raise SettingsError(f"AI_TRADER_LAKE_URL={raw!r}: expected a path, file://PATH or s3://bucket/prefix")
    if raw.startswith("s3://") and raw.removeprefix("s3://").strip("/") == "":
        raise SettingsError(f"AI_TRADER_LAKE_URL={raw!r} names no bucket; expected s3://bucket/prefix")
    return raw


def _resolve_provider(env: Mapping[str, str], access: ProviderAccess) -> ProviderKind:
    """The primary provider: AI_TRADER_PROVIDER, else the first whose keys are set, else demo only
    when no provider key is set at all (the embedded default): synthetic data is never the fallback
    of a set-up that holds real keys."""
    raw = _get(env, "AI_TRADER_PROVIDER")
    if raw is None:
        for candidate in ("polygon", "alpaca"):
            if access.configured(candidate):
                return candidate
        partial = [
            name for name in PROVIDER_KEYS if name not in NOT_PRIMARY_KEYS and access.key(name) is not None
        ]
        if partial:
            raise SettingsError(
                f"{', '.join(partial)} set, but no primary provider: set AI_TRADER_PROVIDER "
                "(polygon, alpaca, yahoo, or demo for synthetic data) and its keys"
            )
        return "demo"
    if raw not in PRIMARY_PROVIDERS:
        raise SettingsError(f"AI_TRADER_PROVIDER={raw!r}: expected one of {', '.join(PRIMARY_PROVIDERS)}")
    unset = [variable for variable in REQUIRED_KEYS[raw] if access.key(variable) is None]
    if unset:
        names = " and ".join(key_names(variable) for variable in unset)
        raise SettingsError(
            f"AI_TRADER_PROVIDER={raw} needs {names}, which {'is' if len(unset) == 1 else 'are'} not set"
        )
    return raw  # type: ignore[return-value]


def _secret(env: Mapping[str, str], *names: str) -> Secret | None:
    for name in names:
        value = _get(env, name)
        if value is not None:
            return Secret(value)
    return None


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    url = _get(env, name) or default
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"{name}={url!r}: expected an http(s):// URL")
    return url.rstrip("/")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment contract, applying the embedded defaults.

    Raises:
        SettingsError: naming the variable that is missing or malformed.
    """
    env = os.environ if environ is None else environ
    home = Path(_get(env, "AI_TRADER_HOME") or ".ai_trader").expanduser().absolute()
    raw_db = _get(env, "AI_TRADER_DATABASE_URL") or f"sqlite:///{home / 'market.db'}"
    keys = {name: key for name, names in PROVIDER_KEYS.items() if (key := _secret(env, *names))}
    config_dir = Path(_get(env, "AI_TRADER_CONFIG_DIR") or DEFAULT_CONFIG_DIR).expanduser()
    if not config_dir.is_dir():
        raise SettingsError(f"AI_TRADER_CONFIG_DIR={str(config_dir)!r} is not a folder")
    as_of, clock = _parse_as_of(_get(env, "AI_TRADER_AS_OF"))
    return Settings(
        home=home,
        database_url=normalize_database_url(raw_db),
        lake_url=_parse_lake_url(_get(env, "AI_TRADER_LAKE_URL"), home),
        provider=_resolve_provider(env, ProviderAccess(keys=keys)),
        access=ProviderAccess(
            endpoints={name: _http_url(env, name, default) for name, default in PROVIDER_ENDPOINTS.items()},
            keys=keys,
            names={name: value for name in PROVIDER_NAMES if (value := _get(env, name))},
        ),
        config_dir=config_dir,
        as_of=as_of,
        clock=clock,
        dagster_home=Path(_get(env, "DAGSTER_HOME") or home / "dagster").expanduser().absolute(),
        aws_endpoint_url=_get(env, "AWS_ENDPOINT_URL"),
        aws_region=_get(env, "AWS_REGION"),
    )
