"""The order check every write and read relies on (a wrong "sorted" would skip a needed sort)."""

import numpy as np
import polars as pl

from ai_trader_assets.storage.lake.slices import is_sorted


def test_is_sorted_agrees_with_sorting_on_random_frames() -> None:
    rng = np.random.default_rng(7)
    for _ in range(2000):
        size = int(rng.integers(0, 13))
        frame = pl.DataFrame(
            {
                "symbol": rng.choice(["A", "AB", "B"], size).tolist(),
                "ts": rng.integers(0, 4, size).tolist(),
                "id": rng.choice(["x", "y"], size).tolist(),
            }
        )
        if rng.random() < 0.4:
            frame = frame.sort("symbol", "ts", "id")
        for columns in (["symbol", "ts"], ["symbol", "ts", "id"], ["ts"]):
            expected = frame.select(columns).equals(frame.select(columns).sort(columns, maintain_order=True))
            assert is_sorted(frame, columns) == expected, (columns, frame)
