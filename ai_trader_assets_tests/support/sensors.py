"""Evaluate a sensor the way the daemon does (Dagster validates the result) against a test database."""

import datetime as dt
from pathlib import Path

import dagster as dg

from ai_trader_assets.config import DEFAULT_CONFIG_DIR
from ai_trader_assets.definitions import defs
from ai_trader_assets.defs.platform.resources import MarketDatabaseResource, PlatformConfigResource
from ai_trader_assets.storage.database import MarketDatabase


def evaluate(
    sensor: dg.SensorDefinition,
    database: MarketDatabase,
    cursor: str | None,
    as_of: dt.date,
    config_dir: Path = DEFAULT_CONFIG_DIR,
) -> dg.SensorResult:
    resources = {
        "platform": PlatformConfigResource(config_dir=str(config_dir), as_of=as_of.isoformat()),
        "market_db": MarketDatabaseResource(
            url=database.url.render_as_string(hide_password=False), config_dir=str(config_dir)
        ),
    }
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=resources, definitions=defs()
        ) as context,
    ):
        data = sensor.evaluate_tick(context)
    return dg.SensorResult(run_requests=data.run_requests, cursor=data.cursor, skip_reason=data.skip_message)
