"""Massive (Polygon) flat files: one gzipped CSV per session for the whole US market over S3, read
as a stream and filtered to the symbols a run needs (:mod:`.parse`), from the bucket at
``MASSIVE_S3_ENDPOINT`` / ``MASSIVE_S3_BUCKET`` with the flat files' own keys (:mod:`.objects`).
The backfill planner chooses them over REST when they cost less; a session whose object is missing
is fetched over REST instead (:class:`MissingObjectError`)."""

from ai_trader_assets.providers.massive_flatfiles.objects import (
    FlatFileBucket,
    MissingObjectError,
    object_key,
)
from ai_trader_assets.providers.massive_flatfiles.parse import SOURCE, CorruptObjectError
from ai_trader_assets.providers.massive_flatfiles.provider import MassiveFlatFilesProvider

__all__ = [
    "SOURCE",
    "CorruptObjectError",
    "FlatFileBucket",
    "MassiveFlatFilesProvider",
    "MissingObjectError",
    "object_key",
]
