"""Assets derived from the market data: read through the IO manager (:class:`MarketData`), stored
through it in the lake's derived tables."""

import dagster as dg
import pandas as pd

from ai_trader_assets.datasets.partitions import parse_partition_key
from ai_trader_assets.defs.market_data.partitions import configured_partitions
from ai_trader_assets.defs.platform.resources import MarketDatabaseResource
from ai_trader_assets.read.liquidity import WINDOW_SESSIONS, daily_liquidity


@dg.asset(
    name="daily_liquidity",
    description=(
        "Per symbol and session: average volume and dollar volume over the last 20 sessions, from "
        "split-adjusted daily bars."
    ),
    partitions_def=configured_partitions(),
    ins={
        "bars_1day": dg.AssetIn(
            metadata={"adjust": "splits", "lookback_sessions": WINDOW_SESSIONS - 1},
        )
    },
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="market_data_io_manager",
    group_name="analytics",
    kinds={"deltalake"},
)
def daily_liquidity_asset(
    context: dg.AssetExecutionContext, market_db: MarketDatabaseResource, bars_1day: pd.DataFrame
) -> dg.Output[pd.DataFrame]:
    partitions = [parse_partition_key(key) for key in context.partition_keys]
    sessions = sorted({session for session, _ in partitions})
    liquidity = daily_liquidity(bars_1day, sessions)
    # Rows go to the partition of their symbol's layer (a run may span several layers).
    layers = market_db.companies().layers_of(liquidity["symbol"].unique().tolist())
    liquidity["layer"] = liquidity["symbol"].map(layers)
    liquidity = liquidity[liquidity["layer"].isin({layer for _, layer in partitions})]
    return dg.Output(
        liquidity.astype({"layer": "int64"}),
        metadata={"symbols": int(liquidity["symbol"].nunique()), "sessions": len(sessions)},
    )


@dg.definitions
def analytics_assets() -> dg.Definitions:
    return dg.Definitions(assets=[daily_liquidity_asset])
