"""Frames in a dataset's schema: the dtypes every dataset shares, empty frames and conformed ones."""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

# Times are tz-aware UTC at microsecond precision everywhere (frames, hot tables, Delta tables).
UTC_TS = pd.DatetimeTZDtype("us", "UTC")


def empty_frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def conform(frame: pd.DataFrame, columns: Mapping[str, Any]) -> pd.DataFrame:
    """The frame with exactly the schema's columns, in order and with its dtypes.

    Columns already of their dtype are shared, not copied (copy-on-write keeps that safe).
    """
    conformed = {name: frame[name].astype(dtype) for name, dtype in columns.items()}
    return pd.DataFrame(conformed, copy=False).reset_index(drop=True)


def repeated_strings(values: Sequence[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A ``string`` column whose row i is ``values[codes[i]]``, for columns of few distinct values.

    Arrow takes the strings by index. Measured on 3.9M rows of 500 symbols: 0.04 s, against 0.44 s
    for pandas' conversion of the same Python strings (``astype("string")``).
    """
    taken = pa.array(list(values), type=pa.large_string()).take(pa.array(codes, type=pa.int64()))
    return pd.array(taken, dtype="string")


def symbol_column(frame: pd.DataFrame) -> pd.Series:
    """The symbol of each row, for datasets whose rows are each about one symbol."""
    return frame["symbol"]
