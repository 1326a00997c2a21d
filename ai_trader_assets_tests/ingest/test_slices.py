"""Slices: every missing pair fetched exactly once, in pieces within the row budget, with the calls
the provider pages best."""

import datetime as dt

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.ingest.request import IngestReport
from ai_trader_assets.ingest.slices import plan_slices
from ai_trader_assets.ingest.split import SymbolTally, split_partitions, symbol_groups
from ai_trader_assets.providers.base import ProviderResult

SESSIONS = calendar.sessions(dt.date(2026, 6, 1), dt.date(2026, 11, 20))


def pairs_of(slices: list) -> list[tuple[dt.date, str]]:  # type: ignore[type-arg]
    return [(s, m) for piece in slices for s, symbols in piece.pairs.items() for m in symbols]


def test_per_symbol_slices_pack_whole_ranges_within_the_budget() -> None:
    symbols = [f"S{i:02d}" for i in range(10)]
    missing = {s: symbols for s in SESSIONS}
    per_symbol = len(SESSIONS) * 390
    slices = plan_slices(Dataset.BARS_1MIN, missing, 390, slice_rows=3 * per_symbol)
    assert [len(p.calls[0].symbols) for p in slices] == [3, 3, 3, 1]  # symbols sharing a range share a call
    assert all(p.rows <= 3 * per_symbol for p in slices)
    assert all((c.first, c.last) == (SESSIONS[0], SESSIONS[-1]) for p in slices for c in p.calls)
    found = pairs_of(slices)
    assert len(found) == len(set(found)) == len(SESSIONS) * len(symbols)


def test_a_symbol_larger_than_a_slice_is_split_into_consecutive_sessions() -> None:
    slices = plan_slices(Dataset.BARS_1MIN, {s: ["AAPL"] for s in SESSIONS}, 390, slice_rows=390 * 40)
    assert all(len(p.pairs) <= 40 and p.rows <= 390 * 40 for p in slices)
    assert [s for p in slices for s in p.pairs] == SESSIONS  # in order, each once
    assert [c.first for p in slices for c in p.calls] == [p.calls[0].first for p in slices]


def test_only_missing_pairs_are_stored_and_gaps_inside_a_range_are_not() -> None:
    missing = {SESSIONS[0]: ["AAPL", "MSFT"], SESSIONS[5]: ["AAPL"], SESSIONS[9]: ["MSFT"]}
    (piece,) = plan_slices(Dataset.BARS_5MIN, missing, 78, slice_rows=500_000)
    assert {(c.symbols, c.first, c.last) for c in piece.calls} == {
        (("AAPL",), SESSIONS[0], SESSIONS[5]),
        (("MSFT",), SESSIONS[0], SESSIONS[9]),
    }
    assert sorted(pairs_of([piece])) == sorted(
        [(SESSIONS[0], "AAPL"), (SESSIONS[0], "MSFT"), (SESSIONS[5], "AAPL"), (SESSIONS[9], "MSFT")]
    )


def test_grouped_daily_bars_are_sliced_by_sessions() -> None:
    symbols = [f"S{i:04d}" for i in range(2_000)]
    missing = {s: symbols for s in SESSIONS[:20]}
    slices = plan_slices(Dataset.BARS_1DAY, missing, 1, slice_rows=5_000)
    assert all(not p.calls for p in slices) and [len(p.grouped_sessions) for p in slices] == [2] * 10
    assert len(pairs_of(slices)) == 20 * 2_000
    assert plan_slices(Dataset.BARS_1DAY, {s: [] for s in SESSIONS}, 1, slice_rows=5_000) == []


def test_without_a_market_wide_daily_endpoint_daily_bars_are_fetched_per_symbol_over_the_range() -> None:
    # Alpaca and Yahoo answer one request per symbols (over a range), not one per session.
    missing = {s: ["AAPL", "MSFT", "VZ"] for s in SESSIONS[:3]}
    (piece,) = plan_slices(Dataset.BARS_1DAY, missing, 1, slice_rows=5_000, grouped_daily=False)
    assert piece.grouped_sessions == () and len(piece.calls) == 1
    assert piece.calls[0].symbols == ("AAPL", "MSFT", "VZ")
    assert (piece.calls[0].first, piece.calls[0].last) == (SESSIONS[0], SESSIONS[2])


def test_a_sparse_dataset_is_sliced_by_pairs_too() -> None:
    # Ten years of corporate actions for 500 symbols: ~25k estimated rows, but 1.26M pairs to record.
    sessions = calendar.sessions(dt.date(2016, 11, 23), dt.date(2026, 11, 20))
    symbols = [f"S{i:03d}" for i in range(500)]
    slices = plan_slices(Dataset.CORPORATE_ACTIONS, dict.fromkeys(sessions, symbols), 0.02, 300_000)
    pairs = [sum(len(v) for v in piece.pairs.values()) for piece in slices]
    assert len(slices) == 5 and max(pairs) <= 300_000 and sum(pairs) == len(sessions) * len(symbols)


def test_a_flat_file_session_is_one_slice_each_and_stored_in_groups_of_whole_symbols() -> None:
    symbols = ["AAA", "BBB", "CCC", "DDD"]
    sessions = SESSIONS[:3]
    slices = plan_slices(Dataset.BARS_1MIN, {s: symbols for s in sessions}, 390, 10**9, by_session=True)
    assert [p.grouped_sessions for p in slices] == [(s,) for s in sessions]  # one object, one slice

    session = sessions[0]
    rows = {"AAA": 5, "BBB": 3, "CCC": 4}  # DDD has no row in the file: still covered, with 0 rows
    frame = pd.DataFrame({"symbol": [s for s, n in rows.items() for _ in range(n)], "ts": range(12)})
    rejects = pd.DataFrame({"reason": ["bad"], "record": ["{}"]})
    fetched = ProviderResult(frame=frame, rejects=rejects, failovers=("a line",))
    groups = list(symbol_groups({session: symbols}, fetched, max_rows=8))
    assert [pairs[session] for pairs, _ in groups] == [["AAA", "BBB"], ["CCC", "DDD"]]
    assert [sorted(set(part.frame["symbol"])) for _, part in groups] == [["AAA", "BBB"], ["CCC"]]
    assert sum(len(part.frame) for _, part in groups) == len(frame)
    assert [len(part.rejects) for _, part in groups] == [1, 0]  # the provider's rejects once
    assert [part.failovers for _, part in groups] == [("a line",), ()]
    # Within the budget, the slice goes on whole.
    ((pairs, whole),) = symbol_groups({session: symbols}, fetched, max_rows=12)
    assert whole is fetched and pairs == {session: symbols}


def test_rows_outside_the_fetched_pairs_are_dropped_and_counted() -> None:
    """Only (session, symbol) pairs the slice fetched are stored, each in its session's partition; a
    symbol not asked that session, a session not asked and a row without a symbol are counted out."""
    first, second, third = SESSIONS[:3]
    missing = {first: ["AAA", "BBB"], second: ["AAA"]}
    rows: list[tuple[dt.date, str | None]] = [(s, m) for s in (first, second, third) for m in ("AAA", "BBB")]
    rows.append((first, None))
    frame = daily_frame(rows)
    report = IngestReport()
    now = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)
    parts = split_partitions(Dataset.BARS_1DAY, 1, missing, ProviderResult(frame=frame), report, now=now)
    assert {p.session: p.frame["symbol"].tolist() for p in parts} == {first: ["AAA", "BBB"], second: ["AAA"]}
    assert {p.session: p.fetched for p in parts} == {first: {"AAA": 1, "BBB": 1}, second: {"AAA": 1}}
    assert report.outside_partitions == 4  # BBB on the second, both on the third, the nameless row


def test_rows_per_symbol_of_any_range_match_a_count_of_that_range() -> None:
    """Coverage records rows per (session, symbol): counted once per slice, then per range."""
    rng = np.random.default_rng(3)
    names = np.array(["AAA", "BBB", "CCC", "DDD"], dtype=object)
    symbols = pd.Series(pd.array(list(rng.choice(names, 500)), dtype="string"))
    symbols[rng.choice(500, 20, replace=False)] = pd.NA  # nameless rows count for no symbol
    tally = SymbolTally(symbols)
    for low, high, asked in [(0, 500, ["AAA", "BBB"]), (100, 180, ["AAA", "EEE", "CCC"]), (7, 7, ["AAA"])]:
        counted = symbols.iloc[low:high].value_counts()
        assert tally.counts(low, high, asked) == {m: int(counted.get(m, 0)) for m in asked}
    assert SymbolTally(symbols.iloc[:0]).counts(0, 0, ["AAA"]) == {"AAA": 0}


def daily_frame(rows: list[tuple[dt.date, str | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "symbol": pd.array([m for _, m in rows], dtype="string"),
            "ts": [pd.Timestamp(calendar.session_midnight_utc(s)) for s, _ in rows],
            "open": 10.0,
            "high": 11.0,
            "low": 9.0,
            "close": 10.5,
            "volume": 100.0,
            "vwap": 10.2,
            "trade_count": 5,
            "source": "test",
            "ingested_at": pd.Timestamp("2026-11-20", tz="UTC"),
        }
    )
    return conform(frame, SPECS[Dataset.BARS_1DAY].columns)
