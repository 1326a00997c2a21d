"""The read side: :class:`MarketData` (hot and cold, adjusted at read, point-in-time) and the DuckDB
views behind ``ai-trader sql``."""

from ai_trader_assets.read.market_data import MarketData
from ai_trader_assets.read.requests import ReadError
from ai_trader_assets.read.results import ReadReport

__all__ = ["MarketData", "ReadError", "ReadReport"]
