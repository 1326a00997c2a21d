"""The names the platform's data is organised by: its datasets and its layers.

Nothing here imports anything of the platform, so every module can use these names.
"""

from enum import StrEnum


class Dataset(StrEnum):
    """Every dataset of the retention policy. The value names the asset, the hot and lake tables and
    the policy's key in ``retention.yaml``. A dataset with a module in this package is ingested (see
    :mod:`.registry`); the others are planned: the policy names them, nothing fetches them yet."""

    BARS_1DAY = "bars_1day"
    BARS_1HOUR = "bars_1hour"
    BARS_5MIN = "bars_5min"
    BARS_1MIN = "bars_1min"
    NEWS = "news"
    CORPORATE_ACTIONS = "corporate_actions"
    SOCIAL_SENTIMENT = "social_sentiment"
    TICKS = "ticks"


# A symbol's layer is its highest qualified one (companies table); partitions are (session, layer).
LAYERS: tuple[int, ...] = (0, 1, 2, 3)
