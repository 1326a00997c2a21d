"""Partitions: layer (0-3) x date (one key per NYSE session). Keys look like ``2026-11-20|2``.

A session's key exists from the moment it opens (09:30 New York, early closes included), so the open
session can be refreshed during the day and the next session is never offered before it trades.
The grid starts where the longest retention window starts (rolling with today, as the code location
loads): the UI offers no session that no layer wants. The cells inside it that a layer does not want
are marked by the policy grid sensor (``defs/automation/policy_grid.py``).
"""

import datetime as dt
import functools

import dagster as dg

from ai_trader_assets import calendar
from ai_trader_assets.config import cached_config
from ai_trader_assets.datasets import LAYERS
from ai_trader_assets.settings import end_of_day, load_settings

# Dagster's windows start at each weekday's open; a key exists once its window has begun
# (end_offset=1). Holidays are excluded windows, and Dagster counts the window after an excluded one
# as begun: from a weekday holiday's 09:30 (after a Friday holiday, all weekend) the next session's
# key shows early. Nothing launches it early: schedules, backfills and ingest follow the calendar.
OPENING_CRON = "30 9 * * 1-5"
OPEN_TIME = dt.time(9, 30)


@functools.cache
def _holiday_openings(start: dt.date, end: dt.date) -> tuple[dt.datetime, ...]:
    sessions = set(calendar.sessions(start, end))
    days = (start + dt.timedelta(days=n) for n in range((end - start).days + 1))
    return tuple(
        dt.datetime.combine(day, OPEN_TIME) for day in days if day.weekday() < 5 and day not in sessions
    )


def _next_weekday(day: dt.date) -> dt.date:
    following = day + dt.timedelta(days=1)
    while following.weekday() >= 5:
        following += dt.timedelta(days=1)
    return following


def session_partitions(
    start: dt.date, as_of: dt.date | dt.datetime | None
) -> dg.TimeWindowPartitionsDefinition:
    """One key per NYSE session from ``start`` up to the latest session that has opened by now, or by
    ``as_of`` (AI_TRADER_AS_OF: a time, or a date meaning the end of that day)."""
    end: dt.datetime | None = None
    end_offset = 1
    if as_of is not None:
        clock = as_of if isinstance(as_of, dt.datetime) else end_of_day(as_of)
        last = calendar.latest_opened_session(clock)
        # The last key's window ends at the next weekday's open; the definition ends there.
        end = dt.datetime.combine(_next_weekday(last), OPEN_TIME, calendar.NEW_YORK)
        # Dagster counts keys up to the real clock; reach AI_TRADER_AS_OF even when it lies ahead.
        end_offset = max(1, (last - calendar.new_york_today()).days + 2)
    return dg.TimeWindowPartitionsDefinition(
        start=start.isoformat(),
        cron_schedule=OPENING_CRON,
        fmt="%Y-%m-%d",
        timezone="America/New_York",
        end=end,
        end_offset=end_offset,
        exclusions=list(_holiday_openings(start, calendar.last_session())),
    )


@functools.cache
def market_partitions(start: dt.date, as_of: dt.date | dt.datetime | None) -> dg.MultiPartitionsDefinition:
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
    return market_partitions(config.partitions_start(settings.today()), settings.clock)
