"""Where a backfill's bars come from: REST requests at the provider's rate limit, or Massive's flat
files (one object per session for the whole market) at the configured download rate. The planner
weighs both per dataset and takes the cheaper; ``--source`` forces one. A session's files are
published the next morning (~11:00 New York): until then its bars come over REST either way."""

import dataclasses
import datetime as dt
from typing import Literal

from ai_trader_assets.config import FLATFILE_KINDS
from ai_trader_assets.config.providers import FlatFileCosts
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.settings import NEW_YORK

Source = Literal["auto", "rest", "flatfiles"]
SOURCES: tuple[str, ...] = ("auto", "rest", "flatfiles")
FLATFILE_VARIABLES = "MASSIVE_S3_ACCESS_KEY_ID and MASSIVE_S3_SECRET_ACCESS_KEY"
PUBLISHED_AT = dt.time(11, 0)  # New York, the morning after the session


@dataclasses.dataclass(frozen=True)
class FlatFilePlan:
    """A dataset read from flat files: the objects (sessions), their estimated bytes and time (with
    the REST requests of sessions not yet published), beside what REST alone would have cost."""

    objects: int
    bytes: int
    seconds: float
    rest_requests: int
    rest_seconds: float


def published(session: dt.date, now: dt.datetime) -> bool:
    """Whether the session's flat files are out by ``now``."""
    return dt.datetime.combine(session + dt.timedelta(days=1), PUBLISHED_AT, NEW_YORK) <= now


def flatfile_plan(
    dataset: Dataset,
    objects: int,
    costs: FlatFileCosts,
    rest_seconds: float,
    unpublished_seconds: float,
) -> FlatFilePlan | None:
    """The flat-file reading of ``objects`` sessions, or None when the files do not serve the dataset
    or none is published. ``rest_seconds``: REST alone; ``unpublished_seconds``: REST for the
    sessions whose files are not out yet (paid either way)."""
    if dataset not in FLATFILE_KINDS or not objects:
        return None
    size = objects * costs.object_bytes[FLATFILE_KINDS[dataset]]
    return FlatFilePlan(objects, size, size / costs.bytes_per_second + unpublished_seconds, 0, rest_seconds)
