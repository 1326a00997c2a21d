"""A run's checks, slice by slice, against what the Delta table holds: only the pairs the slice
fetched are judged (rows stored earlier, of other symbols, sessions or layers, are not)."""

import datetime as dt
from pathlib import Path

import pandas as pd
from deltalake import write_deltalake

from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.partitions import PartitionData
from ai_trader_assets.datasets.validation import EMPTY_REJECTS
from ai_trader_assets.defs.market_data.checks import CheckTally
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.layout import LAYOUTS
from ai_trader_assets.storage.lake.tables import lake_tables

FIVE = Dataset.BARS_5MIN
FIRST, SECOND = dt.date(2026, 11, 20), dt.date(2026, 11, 23)


def bars(symbols: list[str], session: dt.date) -> pd.DataFrame:
    return DemoProvider().bars(symbols, FIVE, session, session).frame


def test_only_the_fetched_pairs_are_checked_and_counted(tmp_path: Path) -> None:
    database = MarketDatabase(f"sqlite:///{tmp_path / 'market.db'}")
    tables = lake_tables(Lake(str(tmp_path / "lake")), load_config(), database)
    # Stored earlier, outside the slice's pairs: MSFT on the first session with a broken bar (it would
    # fail the slice's integrity), and AAPL on the second session at layer 3.
    broken = bars(["MSFT"], FIRST)
    broken.loc[0, "high"] = broken.loc[0, "low"] / 2
    tables.store(FIVE, broken, 2, Commit("test", "earlier", ("a",)))
    tables.store(FIVE, bars(["AAPL"], SECOND), 3, Commit("test", "earlier", ("b",)))
    # The slice: AAPL on the first session and MSFT on the second (short by ten bars), at layer 2.
    slice_rows = {FIRST: bars(["AAPL"], FIRST), SECOND: bars(["MSFT"], SECOND).iloc[:-10]}
    tables.store(FIVE, pd.concat(slice_rows.values(), ignore_index=True), 2, Commit("test", "slice", ("c",)))
    written = [
        PartitionData(FIVE, FIRST, 2, slice_rows[FIRST], {"AAPL": 78}, EMPTY_REJECTS),
        PartitionData(FIVE, SECOND, 2, slice_rows[SECOND], {"MSFT": 68}, EMPTY_REJECTS),
    ]
    tally = CheckTally(FIVE, tables)
    tally.add(written)
    assert tally.problems == 0
    assert tally.incomplete == {f"MSFT {SECOND}": 78 - 10}
    # A partition whose fetched rows are not in the table is a problem.
    tally.add([PartitionData(FIVE, SECOND, 1, slice_rows[SECOND], {"MSFT": 68}, EMPTY_REJECTS)])
    assert tally.problems == 1
    database.dispose()


def test_sparse_datasets_are_checked_by_the_same_pairs(tmp_path: Path) -> None:
    """Corporate actions go through the same read: a duplicated action stored at another layer of the
    same session and symbol is not the slice's problem; judged as its own pair, it is."""
    database = MarketDatabase(f"sqlite:///{tmp_path / 'market.db'}")
    tables = lake_tables(Lake(str(tmp_path / "lake")), load_config(), database)
    actions = Dataset.CORPORATE_ACTIONS
    ex_date = dt.date(2026, 11, 6)
    dividend = DemoProvider().corporate_actions(["MSFT"], ex_date, ex_date).frame
    assert len(dividend) == 1
    tables.store(actions, dividend, 2, Commit("test", "slice", ("b",)))
    # A table damaged outside the writer (which keeps one row per key): the action twice at layer 3.
    twice = LAYOUTS[actions].to_arrow(pd.concat([dividend, dividend], ignore_index=True), 3)
    write_deltalake(tables.lake.table_uri(actions), twice, mode="append")
    tally = CheckTally(actions, tables)
    tally.add([PartitionData(actions, ex_date, 2, dividend, {"MSFT": 1}, EMPTY_REJECTS)])
    assert tally.problems == 0
    tally.add([PartitionData(actions, ex_date, 3, dividend, {"MSFT": 2}, EMPTY_REJECTS)])
    assert tally.problems == 1  # the duplicate id
    tally.add([PartitionData(actions, ex_date, 1, dividend, {"MSFT": 1}, EMPTY_REJECTS)])
    assert tally.problems == 2  # fetched, but nothing stored at layer 1
    database.dispose()
