"""The registry: every ingested dataset's :class:`DatasetSpec`, and what the rest of the platform
asks of a dataset by name (its sessions, symbols, checks). Adding a dataset adds its line here."""

import datetime as dt

import numpy as np
import pandas as pd

from ai_trader_assets.datasets import bars, corporate_actions, news, sentiment, ticks
from ai_trader_assets.datasets.bars import BAR_LENGTHS
from ai_trader_assets.datasets.names import Dataset
from ai_trader_assets.datasets.spec import DatasetSpec
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, split_rejects

SPECS: dict[Dataset, DatasetSpec] = {
    **bars.SPECS,
    Dataset.NEWS: news.SPEC,
    Dataset.CORPORATE_ACTIONS: corporate_actions.SPEC,
    Dataset.TICKS: ticks.SPEC,
    Dataset.SOCIAL_SENTIMENT: sentiment.SPEC,
}
# What a row of an intraday dataset needs to be complete: a bar its interval to end, a trade nothing.
# A trading session is stored up to "now" in these (partial sessions), and refreshed intraday.
INTRADAY_LENGTHS: dict[Dataset, dt.timedelta] = {**BAR_LENGTHS, Dataset.TICKS: dt.timedelta(0)}
INTRADAY_DATASETS: tuple[Dataset, ...] = (*bars.INTRADAY_BARS, Dataset.TICKS)
# Datasets the platform fetches and stores, and those the retention policy names for later.
INGESTED_DATASETS: tuple[Dataset, ...] = tuple(SPECS)
PLANNED_DATASETS: tuple[Dataset, ...] = tuple(d for d in Dataset if d not in SPECS)


def sessions_of(dataset: Dataset, frame: pd.DataFrame) -> np.ndarray:
    """The session (``datetime64[D]``) each row belongs to."""
    return SPECS[dataset].sessions_of(frame)


def symbols_of(dataset: Dataset, frame: pd.DataFrame) -> pd.Series:
    """The symbol(s) each row is about: one per row, or a list (news)."""
    return SPECS[dataset].symbols_of(frame)


def check_rows(dataset: Dataset, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The write path's own validation: (rows fit to store, rejects with reasons)."""
    if frame.empty:
        return frame, EMPTY_REJECTS
    return split_rejects(frame, SPECS[dataset].problems(frame))


def key_checksum(frame: pd.DataFrame, key: list[str]) -> tuple[int, int]:
    """(row count, order-independent checksum of the key columns): a copy is verified by it."""
    if frame.empty:
        return 0, 0
    hashes = pd.util.hash_pandas_object(frame[key].astype(str), index=False).to_numpy(dtype=np.uint64)
    return len(frame), int(hashes.sum(dtype=np.uint64))


def to_date(value: np.datetime64) -> dt.date:
    return dt.date.fromisoformat(str(value.astype("datetime64[D]")))
