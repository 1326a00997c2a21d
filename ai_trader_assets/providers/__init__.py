"""Market-data providers behind one interface (``base.MarketDataProvider``): polygon and demo."""

from pathlib import Path

from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.providers.base import MarketDataProvider, ProviderError
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.http import PolygonTransport
from ai_trader_assets.providers.polygon import PolygonProvider
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.settings import Secret


def build_provider(
    kind: str,
    config: PlatformConfig,
    *,
    state_dir: Path,
    api_key: Secret | None = None,
    base_url: str | None = None,
) -> MarketDataProvider:
    """The configured provider; ``state_dir`` holds the rate-limit state shared across processes.

    Raises:
        ProviderError: an unknown kind, or polygon without a key.
    """
    if kind == "demo":
        return DemoProvider()
    if kind == "polygon":
        if api_key is None or not api_key.reveal():
            raise ProviderError("the polygon provider needs POLYGON_API_KEY (or MASSIVE_API_KEY)")
        if not base_url:
            raise ProviderError("the polygon provider needs a base URL (POLYGON_BASE_URL)")
        spec = config.providers.providers["polygon"]
        limiter = RequestLimiter("polygon", spec.rate_limit, state_dir)
        return PolygonProvider(PolygonTransport(api_key, base_url, spec, limiter), spec)
    raise ProviderError(f"unknown provider {kind!r}: expected 'polygon' or 'demo'")


__all__ = ["MarketDataProvider", "ProviderError", "build_provider"]
