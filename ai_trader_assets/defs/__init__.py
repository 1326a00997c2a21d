"""Dagster definitions, one folder per domain; loaded by ``ai_trader_assets.definitions``."""
