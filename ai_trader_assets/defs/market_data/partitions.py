"""Partitions: layer (0-3) x date (one key per NYSE session). Keys look like ``2026-11-20|2``."""

import datetime as dt
import functools

import dagster as dg

from ai_trader_assets import calendar
from ai_trader_assets.config import LAYERS, cached_config
from ai_trader_assets.settings import load_settings

WEEKENDS = ["0 0 * * 6", "0 0 * * 0"]


@functools.cache
def _holidays(start: dt.date, end: dt.date) -> tuple[dt.datetime, ...]:
    sessions = set(calendar.sessions(start, end))
    days = (start + dt.timedelta(days=n) for n in range((end - start).days + 1))
    return tuple(
        dt.datetime.combine(day, dt.time()) for day in days if day.weekday() < 5 and day not in sessions
    )


def session_partitions(start: dt.date, as_of: dt.date | None) -> dg.DailyPartitionsDefinition:
    """One daily key per NYSE session from ``start``; the latest is today's session (or ``as_of``'s)."""
    last = calendar.last_session()
    return dg.DailyPartitionsDefinition(
        start_date=start.isoformat(),
        # With AI_TRADER_AS_OF the partitions end there; otherwise today's session (end_offset=1)
        # exists from midnight, so the after-close schedule can materialize it.
        end_date=(as_of + dt.timedelta(days=1)).isoformat() if as_of else None,
        # Dagster counts partitions up to the real clock; reach AI_TRADER_AS_OF even when it lies ahead.
        end_offset=max(1, (as_of - calendar.new_york_today()).days + 2) if as_of else 1,
        timezone="America/New_York",
        exclusions=[*WEEKENDS, *_holidays(start, last)],
    )


@functools.cache
def market_partitions(start: dt.date, as_of: dt.date | None) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {
            "date": session_partitions(start, as_of),
            "layer": dg.StaticPartitionsDefinition([str(n) for n in LAYERS]),
        }
    )


def configured_partitions() -> dg.MultiPartitionsDefinition:
    """The partitions of the current configuration and environment."""
    settings = load_settings()
    config = cached_config(str(settings.config_dir))
    return market_partitions(config.pipeline.partitions.start_date, settings.as_of)
