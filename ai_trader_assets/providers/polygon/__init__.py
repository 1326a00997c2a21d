"""Polygon (Massive): the provider, its transport on the ``massive`` SDK, and its parsers.

Importing this package loads the ``massive`` SDK: only :mod:`ai_trader_assets.providers.factory` does,
when a Polygon provider is built."""

from ai_trader_assets.providers.polygon.client import AGGREGATES, PolygonProvider
from ai_trader_assets.providers.polygon.parse import parse_aggregates
from ai_trader_assets.providers.polygon.transport import PolygonTransport

__all__ = ["AGGREGATES", "PolygonProvider", "PolygonTransport", "parse_aggregates"]
