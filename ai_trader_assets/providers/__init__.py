"""Market-data providers behind one interface (``base.MarketDataProvider``): polygon, alpaca, yahoo,
benzinga and demo, combined per dataset by :class:`failover.FailoverProvider`."""

import dataclasses
from pathlib import Path

from ai_trader_assets.config import SERVES, PlatformConfig
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.alpaca import AlpacaProvider
from ai_trader_assets.providers.base import MarketDataProvider, ProviderError
from ai_trader_assets.providers.benzinga import BenzingaProvider
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.failover import FailoverProvider
from ai_trader_assets.providers.http import PolygonTransport
from ai_trader_assets.providers.polygon import PolygonProvider
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.providers.yahoo import YahooProvider
from ai_trader_assets.settings import DEFAULT_ALPACA_TRADING_URL, Secret, Settings, load_settings

# Per provider, the variables that must be set for it to take part (Yahoo needs no key).
REQUIRED_VARIABLES: dict[str, tuple[str, ...]] = {
    "polygon": ("POLYGON_API_KEY",),
    "alpaca": ("ALPACA_API_KEY", "ALPACA_SECRET_KEY"),
    "yahoo": (),
    "benzinga": ("BENZINGA_API_KEY",),
    "demo": (),
}


@dataclasses.dataclass(frozen=True)
class ProviderAccess:
    """Every provider's endpoint and keys (from the environment; keys stay :class:`Secret`)."""

    polygon_base_url: str
    alpaca_data_url: str
    yahoo_base_url: str
    benzinga_base_url: str
    polygon_api_key: Secret | None = None
    alpaca_api_key: Secret | None = None
    alpaca_secret_key: Secret | None = None
    benzinga_api_key: Secret | None = None
    alpaca_trading_url: str = DEFAULT_ALPACA_TRADING_URL

    @classmethod
    def from_settings(cls, settings: Settings) -> "ProviderAccess":
        return cls(
            polygon_base_url=settings.polygon_base_url,
            alpaca_data_url=settings.alpaca_data_url,
            alpaca_trading_url=settings.alpaca_trading_url,
            yahoo_base_url=settings.yahoo_base_url,
            benzinga_base_url=settings.benzinga_base_url,
            polygon_api_key=settings.polygon_api_key,
            alpaca_api_key=settings.alpaca_api_key,
            alpaca_secret_key=settings.alpaca_secret_key,
            benzinga_api_key=settings.benzinga_api_key,
        )

    def configured(self, name: str) -> bool:
        """Whether the provider's keys are set (a provider without them never takes part)."""
        keys = {
            "polygon": (self.polygon_api_key,),
            "alpaca": (self.alpaca_api_key, self.alpaca_secret_key),
            "benzinga": (self.benzinga_api_key,),
        }.get(name, ())
        return all(key is not None and key.reveal() for key in keys)


def _required(key: Secret | None, variable: str, name: str) -> Secret:
    if key is None or not key.reveal():
        raise ProviderError(f"the {name} provider needs {variable}")
    return key


def build_single(
    name: str, config: PlatformConfig, access: ProviderAccess, state_dir: Path
) -> MarketDataProvider:
    """One provider by name; ``state_dir`` holds the rate-limit state shared across processes.

    Raises:
        ProviderError: an unknown name, or a provider whose keys are not set (naming the variable).
    """
    if name == "demo":
        return DemoProvider(clock=lambda: load_settings().now())
    if name not in config.providers.providers:
        raise ProviderError(f"unknown provider {name!r}: expected one of {', '.join(REQUIRED_VARIABLES)}")
    spec = config.providers.providers[name]
    limiter = RequestLimiter(name, spec.rate_limit, state_dir)
    if name == "polygon":
        key = _required(access.polygon_api_key, "POLYGON_API_KEY (or MASSIVE_API_KEY)", name)
        return PolygonProvider(PolygonTransport(key, access.polygon_base_url, spec, limiter), spec)
    if name == "alpaca":
        return AlpacaProvider(
            _required(access.alpaca_api_key, "ALPACA_API_KEY", name),
            _required(access.alpaca_secret_key, "ALPACA_SECRET_KEY", name),
            access.alpaca_data_url,
            spec,
            limiter,
            trading_url=access.alpaca_trading_url,
        )
    if name == "yahoo":
        # Yahoo's intraday windows count back from the platform's today (AI_TRADER_AS_OF when set).
        return YahooProvider(access.yahoo_base_url, spec, limiter, today=lambda: load_settings().today())
    if name == "benzinga":
        return BenzingaProvider(
            _required(access.benzinga_api_key, "BENZINGA_API_KEY", name),
            access.benzinga_base_url,
            spec,
            limiter,
        )
    raise ProviderError(f"unknown provider {name!r}")


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
    primary: str, config: PlatformConfig, access: ProviderAccess, state_dir: Path
) -> MarketDataProvider:
    """The provider a run uses: demo on its own, or the primary with per-dataset failover.

    Raises:
        ProviderError: the primary's keys are not set (naming the variable).
    """
    if primary == "demo":
        return DemoProvider(clock=lambda: load_settings().now())
    if not access.configured(primary):
        raise ProviderError(f"the {primary} provider needs {' and '.join(REQUIRED_VARIABLES[primary])}")
    return FailoverProvider(
        provider_order(primary, config, access),
        lambda name: build_single(name, config, access, state_dir),
        primary,
    )


__all__ = [
    "FailoverProvider",
    "MarketDataProvider",
    "ProviderAccess",
    "ProviderError",
    "build_provider",
    "build_single",
    "provider_order",
]
