"""The session partitions: a session's key exists from its open, never before (the UI would count the
next session as missing), and AI_TRADER_AS_OF (a date, or a New York time) ends them where it says."""

import datetime as dt

import pytest
from dagster._core.definitions.partitions.context import partition_loading_context

from ai_trader_assets import calendar
from ai_trader_assets.defs.market_data.partitions import session_partitions

START = dt.date(2016, 11, 1)


def new_york(day: str, hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), calendar.NEW_YORK)


@pytest.mark.parametrize(
    ("clock", "latest"),
    [
        (new_york("2026-11-29", 12, 0), "2026-11-27"),  # a Sunday: Friday's session, not Monday's
        (new_york("2026-11-30", 9, 29), "2026-11-27"),  # Monday before the open
        (new_york("2026-11-30", 9, 30), "2026-11-30"),  # the open
        (new_york("2026-11-30", 20, 0), "2026-11-30"),
        (new_york("2026-11-25", 11, 0), "2026-11-25"),
    ],
)
def test_a_session_becomes_a_partition_when_it_opens(clock: dt.datetime, latest: str) -> None:
    with partition_loading_context(clock):
        keys = session_partitions(START, None).get_partition_keys()
    assert keys[-1] == latest
    assert keys[0] == "2016-11-01"
    assert "2026-11-26" not in keys and "2026-11-28" not in keys  # Thanksgiving, a Saturday


@pytest.mark.parametrize(
    ("as_of", "latest"),
    [
        (dt.date(2026, 11, 20), "2026-11-20"),  # a date: the end of that day
        (dt.date(2026, 11, 22), "2026-11-20"),  # a Sunday
        (new_york("2026-11-20", 9, 0), "2026-11-19"),  # before that day's open
        (new_york("2026-11-20", 11, 0), "2026-11-20"),
        (dt.date(2027, 3, 5), "2027-03-05"),  # ahead of the real clock
    ],
)
def test_as_of_ends_the_partitions_at_the_latest_session_opened_by_then(
    as_of: dt.date | dt.datetime, latest: str
) -> None:
    keys = session_partitions(START, as_of).get_partition_keys()
    assert keys[-1] == latest
    assert len(keys) == len(calendar.sessions(START, dt.date.fromisoformat(latest)))
