"""The read side: :class:`MarketData` (hot and cold, adjusted at read, point-in-time) and the DuckDB
views behind ``ai-trader sql``."""

from ai_trader_assets.read.market_data import MarketData, ReadReport
from ai_trader_assets.read.requests import ReadError

__all__ = ["MarketData", "ReadError", "ReadReport"]
