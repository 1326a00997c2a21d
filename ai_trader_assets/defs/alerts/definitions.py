"""Registers the alert sensors and the ``alerts`` resource (intervals: ``alerts`` in pipeline.yaml)."""

import dagster as dg

from ai_trader_assets.config import cached_config
from ai_trader_assets.defs.alerts.resources import alerts_resource
from ai_trader_assets.defs.alerts.runs import build_run_failure_sensor, build_run_success_sensor
from ai_trader_assets.defs.alerts.watch import build_alert_watch_sensor
from ai_trader_assets.settings import load_settings


@dg.definitions
def alert_definitions() -> dg.Definitions:
    config_dir = str(load_settings().config_dir)
    spec = cached_config(config_dir).pipeline.alerts
    return dg.Definitions(
        sensors=[
            build_run_failure_sensor(spec.run_sensor_interval_seconds),
            build_run_success_sensor(spec.run_sensor_interval_seconds),
            build_alert_watch_sensor(spec.watch_interval_seconds),
        ],
        resources={"alerts": alerts_resource(config_dir)},
    )
