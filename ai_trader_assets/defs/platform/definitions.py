"""Registers the platform resources and binds the market-data IO manager, also as the default."""

import dagster as dg

from ai_trader_assets.defs.market_data.io_manager import MarketDataIOManager
from ai_trader_assets.defs.platform.resources import build_resources


@dg.definitions
def resources() -> dg.Definitions:
    shared = build_resources()
    io_manager = MarketDataIOManager(
        platform=shared["platform"], market_db=shared["market_db"], lake=shared["lake"]
    )
    # The default io_manager is ours too: Dagster's default would pickle.
    return dg.Definitions(
        resources={**shared, "market_data_io_manager": io_manager, "io_manager": io_manager}
    )
