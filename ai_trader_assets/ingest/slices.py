"""Slices: how a run fetches its (session, symbol) pairs a bounded piece at a time.

A run stores at most ``runs.slice_rows`` rows at once: its missing pairs are packed into slices
whose estimated rows (``rows_per_symbol_session`` per pair fetched) stay under that budget, and each
slice is fetched, validated and stored before the next. The slicing follows how providers page:
- daily bars, when there are fewer sessions than symbols, come from the grouped-daily endpoint (one
  request per session for every symbol), and bars from flat files are one object per session for
  the whole market, so slices are groups of sessions;
- everything else is one request per symbol over its missing range, so slices are groups of symbols
  (symbols sharing a range share a call); a symbol whose range alone exceeds the budget is split into
  consecutive session chunks.
"""

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset


@dataclasses.dataclass(frozen=True)
class Call:
    """One per-symbol provider call: these symbols over the sessions first..last."""

    symbols: tuple[str, ...]
    first: dt.date
    last: dt.date


@dataclasses.dataclass(frozen=True)
class FetchSlice:
    """A bounded piece of a run's fetch: its provider calls and the pairs it stores.

    Attributes:
        calls: Per-symbol calls (empty when the slice uses the grouped-daily endpoint).
        grouped_sessions: Sessions fetched with one request (or flat-file object) each.
        pairs: The (session, symbols) this slice stores; other rows a call returns are dropped.
        rows: The estimated rows (a pair counts as at least one: its coverage row).
    """

    calls: tuple[Call, ...]
    grouped_sessions: tuple[dt.date, ...]
    pairs: dict[dt.date, tuple[str, ...]]
    rows: float


@dataclasses.dataclass(frozen=True)
class _Unit:
    symbol: str
    first: dt.date
    last: dt.date
    sessions: tuple[dt.date, ...]  # the missing sessions inside first..last
    rows: float


def uses_grouped_daily(
    dataset: Dataset, missing: Mapping[dt.date, Sequence[str]], grouped_daily: bool = True
) -> bool:
    """Daily bars come grouped (one request per session) when the provider has a market-wide daily
    endpoint and that takes fewer requests."""
    if dataset != Dataset.BARS_1DAY or not grouped_daily:
        return False
    sessions = [s for s, symbols in missing.items() if symbols]
    symbols = {m for members in missing.values() for m in members}
    return len(sessions) <= len(symbols)


def plan_slices(
    dataset: Dataset,
    missing: Mapping[dt.date, Sequence[str]],
    rows_per_symbol_session: float,
    slice_rows: int,
    grouped_daily: bool = True,
    *,
    by_session: bool = False,
) -> list[FetchSlice]:
    """The slices that fetch every missing (session, symbol) pair, in session then symbol order;
    ``by_session``: the source answers a whole session at once (flat files): a slice is one session,
    its object read once and to its end before any of it is stored."""
    if not any(missing.values()):
        return []
    # Every pair fetched is also a coverage row written and counted, so a pair weighs at least one
    # row: ten years of corporate actions (0.02 rows a pair) for 500 symbols are 1.26M pairs, which
    # in one slice took half a gigabyte of coverage bookkeeping.
    rows_per_symbol_session = max(rows_per_symbol_session, 1.0)
    if by_session:
        return list(_grouped_slices(missing, rows_per_symbol_session, 0))
    if uses_grouped_daily(dataset, missing, grouped_daily):
        return list(_grouped_slices(missing, rows_per_symbol_session, slice_rows))
    return list(_per_symbol_slices(missing, rows_per_symbol_session, slice_rows))


def _grouped_slices(
    missing: Mapping[dt.date, Sequence[str]], rows_per_symbol_session: float, slice_rows: int
) -> Iterator[FetchSlice]:
    batch: list[dt.date] = []
    rows = 0.0
    for session in sorted(s for s, symbols in missing.items() if symbols):
        session_rows = len(missing[session]) * rows_per_symbol_session
        if batch and rows + session_rows > slice_rows:
            yield FetchSlice((), tuple(batch), {s: tuple(missing[s]) for s in batch}, rows)
            batch, rows = [], 0.0
        batch.append(session)
        rows += session_rows
    if batch:
        yield FetchSlice((), tuple(batch), {s: tuple(missing[s]) for s in batch}, rows)


def _units(
    missing: Mapping[dt.date, Sequence[str]], rows_per_symbol_session: float, slice_rows: int
) -> list[_Unit]:
    """Per symbol, its missing range (split into consecutive session chunks past the budget)."""
    own: dict[str, list[dt.date]] = defaultdict(list)
    for session in sorted(missing):
        for symbol in missing[session]:
            own[symbol].append(session)
    per_chunk = max(1, math.floor(slice_rows / rows_per_symbol_session))
    units = []
    for symbol, sessions in sorted(own.items()):
        span = calendar.sessions(sessions[0], sessions[-1])  # the call fetches the whole range
        wanted = set(sessions)
        for start in range(0, len(span), per_chunk):
            chunk = span[start : start + per_chunk]
            inside = tuple(s for s in chunk if s in wanted)
            if inside:
                first, last = inside[0], inside[-1]
                rows = len(calendar.sessions(first, last)) * rows_per_symbol_session
                units.append(_Unit(symbol, first, last, inside, rows))
    return sorted(units, key=lambda u: (u.first, u.last, u.symbol))


def _per_symbol_slices(
    missing: Mapping[dt.date, Sequence[str]], rows_per_symbol_session: float, slice_rows: int
) -> Iterator[FetchSlice]:
    batch: list[_Unit] = []
    rows = 0.0
    for unit in _units(missing, rows_per_symbol_session, slice_rows):
        if batch and rows + unit.rows > slice_rows:
            yield _slice_of(batch, rows)
            batch, rows = [], 0.0
        batch.append(unit)
        rows += unit.rows
    if batch:
        yield _slice_of(batch, rows)


def _slice_of(units: list[_Unit], rows: float) -> FetchSlice:
    ranges: dict[tuple[dt.date, dt.date], list[str]] = defaultdict(list)
    pairs: dict[dt.date, list[str]] = defaultdict(list)
    for unit in units:
        ranges[(unit.first, unit.last)].append(unit.symbol)
        for session in unit.sessions:
            pairs[session].append(unit.symbol)
    calls = tuple(Call(tuple(symbols), first, last) for (first, last), symbols in sorted(ranges.items()))
    return FetchSlice(calls, (), {s: tuple(symbols) for s, symbols in sorted(pairs.items())}, rows)
