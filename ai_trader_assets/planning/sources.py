"""Where a backfill's bars come from: REST requests at the provider's rate limit, or Massive's flat
files (one object per session for the whole market) by their sizes in the bucket at the configured
download rate. Per dataset the planner weighs both over the sessions the bucket has and takes the
cheaper; ``--source`` forces one. A session without an object (its files are published the next
morning, ~11:00 New York; or it is missing) comes over REST either way."""

import dataclasses
import datetime as dt
from collections.abc import Mapping

from ai_trader_assets.config import RateLimit
from ai_trader_assets.config.providers import FlatFileCosts
from ai_trader_assets.settings import NEW_YORK

SOURCES: tuple[str, ...] = ("auto", "rest", "flatfiles")
PUBLISHED_AT = dt.time(11, 0)  # New York, the morning after the session


@dataclasses.dataclass(frozen=True)
class FlatFilePlan:
    """A dataset's sessions that the bucket has, read from flat files: the objects, their bytes and
    time, beside what REST would cost for the same sessions (sessions without an object come over
    REST whatever is chosen)."""

    objects: int
    bytes: int
    seconds: float
    rest_requests: int
    rest_seconds: float


def published(session: dt.date, now: dt.datetime) -> bool:
    """Whether the session's flat files are out by ``now``."""
    return dt.datetime.combine(session + dt.timedelta(days=1), PUBLISHED_AT, NEW_YORK) <= now


def flatfile_plan(
    sizes: Mapping[dt.date, int], costs: FlatFileCosts, rest_requests: int, limit: RateLimit
) -> FlatFilePlan:
    """Reading the sessions of ``sizes`` (their objects' bytes) from flat files, beside the
    ``rest_requests`` REST would make for the same sessions. Both are weighed at their sustained
    rates: the REST burst is shared by the whole plan, so no one dataset gets it."""
    size = sum(sizes.values())
    rest_seconds = rest_requests / min(limit.requests_per_second, limit.requests_per_minute / 60)
    return FlatFilePlan(len(sizes), size, size / costs.bytes_per_second, rest_requests, rest_seconds)
