"""Market-data providers behind one interface (:class:`MarketDataProvider`): polygon, alpaca, yahoo,
benzinga and demo, combined per dataset by :class:`FailoverProvider`, and Massive's flat files (which
the backfill planner chooses). This package only hands names on; :mod:`.factory` builds providers,
importing a vendor's package (and its SDK) only then."""

from ai_trader_assets.providers.base import MarketDataProvider, ProviderError
from ai_trader_assets.providers.factory import (
    build_flatfiles,
    build_provider,
    build_single,
    build_social,
    provider_order,
)
from ai_trader_assets.providers.failover import FailoverProvider

__all__ = [
    "FailoverProvider",
    "MarketDataProvider",
    "ProviderError",
    "build_flatfiles",
    "build_provider",
    "build_single",
    "build_social",
    "provider_order",
]
