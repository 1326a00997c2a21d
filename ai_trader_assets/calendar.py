"""The NYSE trading calendar (exchange_calendars): sessions, open/close times, early closes.

Every date the platform partitions by is a session of this calendar; weekends and holidays are not.
"""

import bisect
import datetime as dt
import functools
import warnings
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import numpy as np
import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")
CALENDAR_NAME = "XNYS"
# exchange_calendars only knows sessions inside its bounds; ours cover every partition and the demo,
# and reach a few years ahead (its default is one), so date arithmetic near the end never falls off.
CALENDAR_START = "2000-01-03"
YEARS_AHEAD = 3


class CalendarError(ValueError):
    """A date outside the calendar's range, or not a session where one is required."""


@functools.cache
def _calendar() -> xcals.ExchangeCalendar:
    # exchange_calendars reads Series.values on tz-aware columns, which pandas 3.1 flags for
    # pandas 4 (we pin below it); the warning is theirs, not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", getattr(pd.errors, "Pandas4Warning", FutureWarning))
        end = (pd.Timestamp.today() + pd.DateOffset(years=YEARS_AHEAD)).strftime("%Y-%m-%d")
        return xcals.get_calendar(CALENDAR_NAME, start=CALENDAR_START, end=end)


@functools.cache
def _schedule() -> pd.DataFrame:
    schedule = _calendar().schedule[["open", "close"]]
    schedule.index = schedule.index.date
    return schedule


@functools.cache
def _bounds() -> tuple[dt.date, dt.date]:
    calendar = _calendar()
    return calendar.first_session.date(), calendar.last_session.date()


@functools.cache
def _open_close() -> dict[dt.date, tuple[dt.datetime, dt.datetime]]:
    schedule = _schedule()
    return {
        day: (open_.to_pydatetime(), close.to_pydatetime())
        for day, open_, close in zip(schedule.index, schedule["open"], schedule["close"], strict=True)
    }


def _check_bounds(day: dt.date) -> None:
    first, last = _bounds()
    if not first <= day <= last:
        raise CalendarError(f"{day} is outside the NYSE calendar's range ({first} to {last})")


def check_in_range(day: dt.date) -> None:
    """Raise :class:`CalendarError` when ``day`` is outside the calendar's years."""
    _check_bounds(day)


@functools.cache
def _session_days() -> tuple[dt.date, ...]:
    """Every session, sorted: ranges by bisection (a comparison over pandas' object index took ~1 ms
    a call, and a run asks for thousands)."""
    return tuple(_schedule().index)


@functools.cache
def _session_set() -> frozenset[dt.date]:
    return frozenset(_session_days())


def is_session(day: dt.date) -> bool:
    """Whether the NYSE trades on ``day``."""
    _check_bounds(day)
    return day in _session_set()


def sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every session from ``start`` to ``end``, both included."""
    if end < start:
        return []
    _check_bounds(start)
    _check_bounds(end)
    days = _session_days()
    return list(days[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)])


def first_session() -> dt.date:
    """The first session the calendar knows."""
    return _bounds()[0]


def last_session() -> dt.date:
    """The last session the calendar knows (about a year ahead)."""
    return _bounds()[1]


def session_open_close(session: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The session's regular open and close in UTC (early closes included)."""
    try:
        return _open_close()[session]
    except KeyError:
        raise CalendarError(f"{session} is not an NYSE session") from None


def session_minutes(session: dt.date) -> int:
    """Regular-session length in minutes (390 on a full day, 210 on an early close)."""
    open_, close = session_open_close(session)
    return int((close - open_).total_seconds() // 60)


def previous_session(day: dt.date) -> dt.date:
    """The last session strictly before ``day``."""
    _check_bounds(day)
    days = _session_days()
    position = bisect.bisect_left(days, day)
    if position == 0:
        raise CalendarError(f"no session before {day} in the calendar")
    return days[position - 1]


def session_on_or_before(day: dt.date) -> dt.date:
    """``day`` if it is a session, else the session before it (the latest session as of ``day``)."""
    return day if is_session(day) else previous_session(day)


def session_on_or_after(day: dt.date) -> dt.date:
    """``day`` if it is a session, else the next session."""
    _check_bounds(day)
    days = _session_days()
    position = bisect.bisect_left(days, day)
    if position == len(days):
        raise CalendarError(f"no session on or after {day} in the calendar")
    return days[position]


def session_midnight_utc(session: dt.date) -> dt.datetime:
    """Start of a daily bar: midnight New York time of the session, in UTC (Polygon's convention)."""
    return dt.datetime.combine(session, dt.time(), NEW_YORK).astimezone(dt.UTC)


def has_closed(session: dt.date, now: dt.datetime) -> bool:
    """Whether the session's regular hours are over at ``now`` (its data can be complete)."""
    return session_open_close(session)[1] <= now


def latest_opened_session(now: dt.datetime) -> dt.date:
    """The latest session whose regular hours have begun by ``now`` (it may still be trading)."""
    day = session_on_or_before(now.astimezone(NEW_YORK).date())
    return day if session_open_close(day)[0] <= now else previous_session(day)


def open_session(now: dt.datetime) -> dt.date | None:
    """The session trading at ``now`` (open <= now < close), if any."""
    day = now.astimezone(NEW_YORK).date()
    if not is_session(day):
        return None
    open_, close = session_open_close(day)
    return day if open_ <= now < close else None


def new_york_today() -> dt.date:
    """Today's date in New York (the market's own day)."""
    return dt.datetime.now(tz=NEW_YORK).date()


@functools.cache
def _session_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(sessions as datetime64[D], closes as int64 microseconds UTC), both sorted."""
    schedule = _schedule()
    days = np.array(schedule.index, dtype="datetime64[D]")
    closes = schedule["close"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    return days, closes.astype("int64")


def sessions_on_or_after(days: np.ndarray) -> np.ndarray:
    """Vectorised :func:`session_on_or_after` for an array of datetime64[D] dates."""
    sessions, _ = _session_arrays()
    positions = np.searchsorted(sessions, days.astype("datetime64[D]"), side="left")
    if (positions >= len(sessions)).any():
        raise CalendarError("a date lies after the calendar's last session")
    return sessions[positions]


def sessions_closing_at_or_after(times_us: np.ndarray) -> np.ndarray:
    """For UTC instants (int64 microseconds), the session whose window (previous close, close] holds each."""
    sessions, closes = _session_arrays()
    positions = np.searchsorted(closes, times_us, side="left")
    if (positions >= len(sessions)).any():
        raise CalendarError("an instant lies after the calendar's last close")
    return sessions[positions]
