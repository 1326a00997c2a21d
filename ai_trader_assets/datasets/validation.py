"""Validation every dataset shares: per row a reason it cannot be stored ('' when it can), and the
split into valid rows and rejects. Rejects keep the record and the reason; they go to the
``quarantine`` table, never silently away."""

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def add_reason(reasons: np.ndarray, mask: np.ndarray, reason: str) -> None:
    """Add ``reason`` to every row where ``mask`` holds (reasons are joined with '; ')."""
    for index in np.flatnonzero(mask):
        reasons[index] = f"{reasons[index]}; {reason}" if reasons[index] else reason


def key_problems(frame: pd.DataFrame, key: Sequence[str]) -> np.ndarray:
    """Per row, a missing key column or a key an earlier row already has."""
    reasons = np.full(len(frame), "", dtype=object)
    columns = list(key)
    add_reason(reasons, frame[columns].isna().any(axis=1).to_numpy(), f"missing key {columns}")
    add_reason(reasons, frame.duplicated(subset=columns, keep="first").to_numpy(), f"duplicate key {columns}")
    return reasons


def _json_safe(value: Any) -> Any:
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return str(value)
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def rejects_frame(records: Sequence[dict[str, Any]], reasons: Sequence[str]) -> pd.DataFrame:
    """Rejected records as a frame of (reason, record JSON), ready for the quarantine table."""
    return pd.DataFrame(
        {
            "reason": pd.Series(list(reasons), dtype="string"),
            "record": pd.Series(
                [json.dumps({k: _json_safe(v) for k, v in r.items()}, sort_keys=True) for r in records],
                dtype="string",
            ),
        }
    )


# Shared by every result without rejects (building an empty frame per partition is measurable);
# never modified in place.
EMPTY_REJECTS = rejects_frame([], [])


def split_rejects(
    frame: pd.DataFrame, reasons: np.ndarray, raw_records: Sequence[dict[str, Any]] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a frame into (valid rows, rejects frame); rejects keep the provider's raw record."""
    bad = reasons != ""
    if not bad.any():
        return frame.reset_index(drop=True), EMPTY_REJECTS
    positions = np.flatnonzero(bad)
    if raw_records is not None:
        records = [raw_records[int(i)] for i in positions]
    else:
        records = frame.iloc[positions].to_dict(orient="records")
    rejects = rejects_frame(records, [str(reasons[i]) for i in positions])
    return frame[~bad].reset_index(drop=True), rejects
