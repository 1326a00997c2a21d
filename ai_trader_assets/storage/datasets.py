"""What each dataset is made of: its frame schema, hot table, key, and which session a row belongs to.

Session assignment (every record lands in exactly one session):
- bars: the New York date of the bar's start (the next session if that date is not one);
- news: the session whose window (previous close, this close] holds ``published_utc``, so weekend
  and holiday articles belong to the next session;
- corporate actions: the session of the ex/execution date, or the next one.
"""

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.config import Dataset
from ai_trader_assets.providers.base import (
    BAR_COLUMNS,
    BAR_DATASETS,
    CORPORATE_ACTION_COLUMNS,
    NEWS_COLUMNS,
    empty_frame,
)
from ai_trader_assets.providers.validation import add_reason, bar_problems, split_rejects
from ai_trader_assets.storage import schema

# News frames carry the symbols each article names (hot storage splits them into news_symbols).
NEWS_FRAME_COLUMNS: dict[str, Any] = {**NEWS_COLUMNS, "symbols": "object"}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    dataset: Dataset
    table: sa.Table
    key: tuple[str, ...]
    columns: dict[str, Any]
    time_column: str

    def empty(self) -> pd.DataFrame:
        return empty_frame(self.columns)


SPECS: dict[Dataset, DatasetSpec] = {
    **{d: DatasetSpec(d, schema.bars[d], ("symbol", "ts"), BAR_COLUMNS, "ts") for d in BAR_DATASETS},
    Dataset.NEWS: DatasetSpec(Dataset.NEWS, schema.news, ("id",), NEWS_FRAME_COLUMNS, "published_utc"),
    Dataset.CORPORATE_ACTIONS: DatasetSpec(
        Dataset.CORPORATE_ACTIONS, schema.corporate_actions, ("id",), CORPORATE_ACTION_COLUMNS, "ex_date"
    ),
}


def _microseconds(series: pd.Series) -> np.ndarray:
    return (
        series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]").astype("int64")
    )


def sessions_of(dataset: Dataset, frame: pd.DataFrame) -> np.ndarray:
    """The session (datetime64[D]) each row belongs to."""
    if frame.empty:
        return np.array([], dtype="datetime64[D]")
    if dataset in BAR_DATASETS:
        local = frame["ts"].dt.tz_convert(calendar.NEW_YORK).dt.tz_localize(None)
        return calendar.sessions_on_or_after(local.to_numpy().astype("datetime64[D]"))
    if dataset == Dataset.NEWS:
        return calendar.sessions_closing_at_or_after(_microseconds(frame["published_utc"]))
    return calendar.sessions_on_or_after(np.array(list(frame["ex_date"]), dtype="datetime64[D]"))


def symbols_of(dataset: Dataset, frame: pd.DataFrame) -> pd.Series:
    """The symbol(s) each row is about: one per row, or a list for news."""
    return frame["symbols"] if dataset == Dataset.NEWS else frame["symbol"]


def to_date(value: np.datetime64) -> dt.date:
    return dt.date.fromisoformat(str(value.astype("datetime64[D]")))


def key_checksum(frame: pd.DataFrame, key: list[str]) -> tuple[int, int]:
    """(row count, order-independent checksum of the key columns)."""
    if frame.empty:
        return 0, 0
    hashes = pd.util.hash_pandas_object(frame[key].astype(str), index=False).to_numpy(dtype=np.uint64)
    return len(frame), int(hashes.sum(dtype=np.uint64))


def check_rows(dataset: Dataset, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The write path's own validation: (rows fit to store, rejects with reasons)."""
    if frame.empty:
        return frame, split_rejects(frame, np.array([], dtype=object))[1]
    if dataset in BAR_DATASETS:
        reasons = bar_problems(frame)
    else:
        reasons = np.full(len(frame), "", dtype=object)
        key = list(SPECS[dataset].key)
        add_reason(reasons, frame[key].isna().any(axis=1).to_numpy(), f"missing key {key}")
        add_reason(reasons, frame.duplicated(subset=key, keep="first").to_numpy(), f"duplicate key {key}")
    return split_rejects(frame, reasons)
