"""Frames in a dataset's schema."""

import numpy as np
import pandas as pd

from ai_trader_assets.datasets.bars import BAR_COLUMNS
from ai_trader_assets.datasets.frames import conform, repeated_strings


def test_repeated_strings_equal_pandas_own_conversion() -> None:
    codes = np.array([2, 0, 0, 1, 2, 2])
    column = repeated_strings(["AAPL", "BRK.B", "Ünïcode"], codes)
    expected = pd.Series(["Ünïcode", "AAPL", "AAPL", "BRK.B", "Ünïcode", "Ünïcode"]).astype("string")
    pd.testing.assert_series_equal(pd.Series(column), expected)
    assert len(repeated_strings(["A"], np.array([], dtype=np.int64))) == 0


def test_conform_orders_and_converts_and_later_writes_do_not_reach_the_source() -> None:
    source = pd.DataFrame(
        {
            "trade_count": [3, 4],
            **{name: pd.Series([1.5, 2.5], dtype="float64") for name in ("open", "high", "low", "close")},
            "symbol": pd.Series(["A", "B"], dtype="string"),
            "ts": pd.to_datetime(["2026-01-02 15:00", "2026-01-02 15:01"], utc=True).as_unit("us"),
            "volume": [10.0, 20.0],
            "vwap": [1.5, 2.5],
            "source": pd.Series(["demo", "demo"], dtype="string"),
            "ingested_at": pd.to_datetime(["2026-01-03", "2026-01-03"], utc=True).as_unit("us"),
        }
    )
    conformed = conform(source, BAR_COLUMNS)
    assert list(conformed.columns) == list(BAR_COLUMNS)
    assert conformed["trade_count"].dtype == "Int64"
    conformed.loc[0, "open"] = 99.0  # the columns are shared until written (copy-on-write)
    assert source.loc[0, "open"] == 1.5
