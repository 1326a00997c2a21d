"""Frames in a dataset's schema: the dtypes every dataset shares, empty frames and conformed ones."""

from collections.abc import Mapping
from typing import Any

import pandas as pd

# Times are tz-aware UTC at microsecond precision everywhere (frames, hot tables, Delta tables).
UTC_TS = pd.DatetimeTZDtype("us", "UTC")


def empty_frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def conform(frame: pd.DataFrame, columns: Mapping[str, Any]) -> pd.DataFrame:
    """The frame with exactly the schema's columns, in order and with its dtypes."""
    return pd.DataFrame({name: frame[name].astype(dtype) for name, dtype in columns.items()}).reset_index(
        drop=True
    )


def symbol_column(frame: pd.DataFrame) -> pd.Series:
    """The symbol of each row, for datasets whose rows are each about one symbol."""
    return frame["symbol"]
