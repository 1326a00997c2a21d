"""Putting a read's rows in order: runs of rows (one per layer, one per file) are merged by a stable
sort on the symbol when that suffices, and fully sorted when it does not."""

import datetime as dt

import polars as pl

from ai_trader_assets.read.results import sorted_rows

ORDER = ["symbol", "ts"]


def minutes(symbol: str, first: int, count: int, layer: int) -> pl.DataFrame:
    start = dt.datetime(2026, 12, 17, 14, 30, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "symbol": [symbol] * count,
            "ts": [start + dt.timedelta(minutes=first + i) for i in range(count)],
            "layer": [layer] * count,
        }
    )


def test_runs_of_layers_are_merged_into_symbol_then_time_order() -> None:
    # A read of layers 2 and 3: each layer's rows sorted, the layers one after the other.
    rows = pl.concat([minutes("AAPL", 0, 3, 2), minutes("MSFT", 0, 3, 2), minutes("BA", 0, 3, 3)])
    result = sorted_rows(rows, ORDER)
    assert result["symbol"].to_list() == ["AAPL"] * 3 + ["BA"] * 3 + ["MSFT"] * 3
    assert result.equals(rows.sort(ORDER))


def test_a_symbol_in_two_runs_out_of_time_order_is_fully_sorted() -> None:
    # AAPL was layer 3, then demoted to layer 2: its later minutes come first in the read (layer 2's
    # run); the stable sort by symbol alone would keep them before the earlier ones.
    rows = pl.concat([minutes("AAPL", 5, 3, 2), minutes("AAPL", 0, 5, 3)])
    result = sorted_rows(rows, ORDER)
    assert result["ts"].is_sorted()
    assert result.equals(rows.sort(ORDER))
