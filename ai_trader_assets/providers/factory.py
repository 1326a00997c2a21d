"""Building providers by name: one vendor alone (:func:`build_single`), or the primary with per-dataset
failover (:func:`build_provider`). A vendor's module, and its SDK (``massive``, ``alpaca-py``), is
imported only when that vendor is built: the read side and the CLI's read commands never load them.

A ``recorder`` given to a builder is told of every HTTP attempt of the providers it builds (see
:class:`~ai_trader_assets.providers.http.RequestRecorder`); the caller owns it and flushes it."""

from collections.abc import Callable
from pathlib import Path

from ai_trader_assets.config import SERVES, PlatformConfig
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.base import MarketDataProvider, ProviderError, SessionFiles
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.failover import FailoverProvider
from ai_trader_assets.providers.http import RequestGovernor, RequestRecorder
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.providers.social import SocialSource
from ai_trader_assets.settings import (
    FLATFILES,
    REQUIRED_KEYS,
    SOCIAL_PROVIDERS,
    ProviderAccess,
    Secret,
    key_names,
    load_settings,
    needed_keys,
)


def _required(access: ProviderAccess, variable: str, name: str) -> Secret:
    key = access.key(variable)
    if key is None:
        raise ProviderError(f"the {name} provider needs {key_names(variable)}")
    return key


def build_single(
    name: str,
    config: PlatformConfig,
    access: ProviderAccess,
    state_dir: Path,
    *,
    recorder: RequestRecorder | None = None,
) -> MarketDataProvider:
    """One provider by name; ``state_dir`` holds the rate-limit state shared across processes.

    Raises:
        ProviderError: an unknown name, or a provider whose keys are not set (naming the variable).
    """
    if name == "demo":
        return _demo(config)
    builder = _BUILDERS.get(name)
    if builder is None or name not in config.providers.providers:
        known = ", ".join(n for n in REQUIRED_KEYS if n not in SOCIAL_PROVIDERS)
        raise ProviderError(f"unknown provider {name!r}: expected one of {known}")
    return builder(access, _governor(name, config, state_dir, recorder))


def _governor(
    name: str, config: PlatformConfig, state_dir: Path, recorder: RequestRecorder | None
) -> RequestGovernor:
    """The provider's limits and retries from providers.yaml, its rate state shared in ``state_dir``.

    Raises:
        ProviderError: providers.yaml has no entry for the provider.
    """
    spec = config.providers.providers.get(name)  # type: ignore[call-overload]
    if spec is None:
        raise ProviderError(f"providers.yaml has no providers.{name} entry (rate limits, timeouts, retries)")
    return RequestGovernor(name, spec, RequestLimiter(name, spec.rate_limit, state_dir), recorder=recorder)


def _demo(config: PlatformConfig) -> MarketDataProvider:
    shares_per_trade = config.providers.providers["demo"].shares_per_trade
    if shares_per_trade is None:
        return DemoProvider(clock=lambda: load_settings().now())
    return DemoProvider(clock=lambda: load_settings().now(), shares_per_trade=shares_per_trade)


# Each vendor's package is imported by its builder, so its SDK loads only when it is built.


def _polygon(access: ProviderAccess, governor: RequestGovernor) -> MarketDataProvider:
    from ai_trader_assets.providers.polygon import PolygonProvider, PolygonTransport  # noqa: PLC0415

    key = _required(access, "POLYGON_API_KEY", "polygon")
    transport = PolygonTransport(key, access.endpoint("POLYGON_BASE_URL"), governor)
    return PolygonProvider(transport, governor.spec)


def _alpaca(access: ProviderAccess, governor: RequestGovernor) -> MarketDataProvider:
    from ai_trader_assets.providers.alpaca import AlpacaProvider  # noqa: PLC0415

    return AlpacaProvider(
        _required(access, "ALPACA_API_KEY", "alpaca"),
        _required(access, "ALPACA_SECRET_KEY", "alpaca"),
        access.endpoint("ALPACA_DATA_URL"),
        governor,
        trading_url=access.endpoint("ALPACA_TRADING_URL"),
    )


def _yahoo(access: ProviderAccess, governor: RequestGovernor) -> MarketDataProvider:
    from ai_trader_assets.providers.yahoo import YahooProvider  # noqa: PLC0415

    # Yahoo's intraday windows count back from the platform's today (AI_TRADER_AS_OF when set).
    return YahooProvider(access.endpoint("YAHOO_BASE_URL"), governor, today=lambda: load_settings().today())


def _benzinga(access: ProviderAccess, governor: RequestGovernor) -> MarketDataProvider:
    from ai_trader_assets.providers.benzinga import BenzingaProvider  # noqa: PLC0415

    key = _required(access, "BENZINGA_API_KEY", "benzinga")
    return BenzingaProvider(key, access.endpoint("BENZINGA_BASE_URL"), governor)


def _massive_flatfiles(access: ProviderAccess, governor: RequestGovernor) -> SessionFiles:
    from ai_trader_assets.providers.massive_flatfiles import (  # noqa: PLC0415
        FlatFileBucket,
        MassiveFlatFilesProvider,
    )

    bucket = FlatFileBucket(
        access.endpoint("MASSIVE_S3_ENDPOINT"),
        access.name("MASSIVE_S3_BUCKET"),
        _required(access, "MASSIVE_S3_ACCESS_KEY_ID", "massive_flatfiles"),
        _required(access, "MASSIVE_S3_SECRET_ACCESS_KEY", "massive_flatfiles"),
        governor,
    )
    return MassiveFlatFilesProvider(bucket)


_BUILDERS: dict[str, Callable[[ProviderAccess, RequestGovernor], MarketDataProvider]] = {
    "polygon": _polygon,
    "alpaca": _alpaca,
    "yahoo": _yahoo,
    "benzinga": _benzinga,
    FLATFILES: _massive_flatfiles,
}


def provider_order(
    primary: str, config: PlatformConfig, access: ProviderAccess
) -> dict[Dataset, tuple[str, ...]]:
    """Per dataset, the providers a run tries: the primary first (when it serves the dataset), then
    the dataset's ``failover`` list, keeping those whose keys are set. ``demo`` alone when chosen."""
    order: dict[Dataset, tuple[str, ...]] = {}
    for dataset in config.providers.failover.keys() | {d for d in SERVES["demo"]}:
        if primary == "demo":
            order[dataset] = ("demo",)
            continue
        listed = config.providers.failover.get(dataset, ())
        names = [primary] if dataset in SERVES[primary] else []
        names += [n for n in listed if n != primary and access.configured(n)]
        order[dataset] = tuple(names)
    return dict(sorted(order.items()))


def build_provider(
    primary: str,
    config: PlatformConfig,
    access: ProviderAccess,
    state_dir: Path,
    *,
    recorder: RequestRecorder | None = None,
) -> MarketDataProvider:
    """The provider a run uses: demo on its own, or the primary with per-dataset failover.

    Raises:
        ProviderError: the primary's keys are not set (naming the variable).
    """
    if primary == "demo":
        return _demo(config)
    if not access.configured(primary):
        raise ProviderError(f"the {primary} provider needs {needed_keys(primary)}")
    return FailoverProvider(
        provider_order(primary, config, access),
        lambda name: build_single(name, config, access, state_dir, recorder=recorder),
        primary,
    )


def build_flatfiles(
    config: PlatformConfig,
    access: ProviderAccess,
    state_dir: Path,
    *,
    recorder: RequestRecorder | None = None,
) -> SessionFiles | None:
    """The Massive flat-file source when MASSIVE_S3_ACCESS_KEY_ID and MASSIVE_S3_SECRET_ACCESS_KEY are
    set, else None (a backfill then reads REST only)."""
    if not access.configured(FLATFILES):
        return None
    return _massive_flatfiles(access, _governor(FLATFILES, config, state_dir, recorder))


def build_social(
    kind: str,
    config: PlatformConfig,
    access: ProviderAccess,
    state_dir: Path,
    *,
    recorder: RequestRecorder | None = None,
) -> SocialSource | None:
    """The social source of sentiment: Reddit when its variables are set, else the demo's posts when
    the demo is the provider (``kind``), else None (sentiment comes from the stored news alone)."""
    reddit = build_reddit(config, access, state_dir, recorder=recorder)
    if reddit is not None:
        return reddit
    if kind == "demo":
        from ai_trader_assets.providers.demo_social import DemoSocialSource  # noqa: PLC0415

        return DemoSocialSource()
    return None


def build_reddit(
    config: PlatformConfig,
    access: ProviderAccess,
    state_dir: Path,
    *,
    recorder: RequestRecorder | None = None,
) -> SocialSource | None:
    """The Reddit source (PRAW, imported only here) when REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and
    REDDIT_USER_AGENT are all set, else None; its requests share ``state_dir``'s rate-limit state.

    Raises:
        ProviderError: providers.yaml has no ``reddit`` entry, or REDDIT_USER_AGENT is too short.
    """
    if not access.configured("reddit"):
        return None
    from ai_trader_assets.providers.reddit import RedditSource  # noqa: PLC0415

    return RedditSource(
        config.sentiment.reddit,
        _governor("reddit", config, state_dir, recorder),
        client_id=_required(access, "REDDIT_CLIENT_ID", "reddit"),
        client_secret=_required(access, "REDDIT_CLIENT_SECRET", "reddit"),
        user_agent=_required(access, "REDDIT_USER_AGENT", "reddit"),
        auth_url=access.endpoint("REDDIT_AUTH_URL"),
        oauth_url=access.endpoint("REDDIT_OAUTH_URL"),
    )
