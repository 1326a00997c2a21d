"""A fetched slice split into partition records: each row to the partition of its session (the
dataset's session rule) and layer, rows outside the run's partitions dropped and counted, bars still
forming or past a delayed feed's horizon held back, and per partition the rows per symbol that
coverage records."""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets import BAR_DATASETS, Dataset
from ai_trader_assets.datasets.partitions import PartitionData
from ai_trader_assets.datasets.registry import INTRADAY_LENGTHS, sessions_of
from ai_trader_assets.datasets.validation import EMPTY_REJECTS
from ai_trader_assets.ingest.request import IngestReport
from ai_trader_assets.providers.base import ProviderResult


def split_partitions(
    dataset: Dataset,
    layer: int,
    missing: dict[dt.date, list[str]],
    fetched: ProviderResult,
    report: IngestReport,
    *,
    now: dt.datetime,
    through: dt.datetime | None = None,
    news_frame: Callable[[ProviderResult], pd.DataFrame] | None = None,
) -> list[PartitionData]:
    """The fetched rows per partition.

    Args:
        missing: Per session, the symbols the slice fetched (the partitions' members).
        through: The session is stored up to that instant (it is still trading).
        news_frame: News only: the fetched articles with the symbols each names, kept for this layer.
    """
    frame = fetched.frame
    length = INTRADAY_LENGTHS.get(dataset)
    if length is not None and len(frame):
        # A bar still forming at ``now`` is never stored, whatever the session (after the close:
        # an extended-hours bar); a later fetch of the session brings it whole.
        forming = (frame["ts"] > now - length).to_numpy()
        report.not_ended += int(forming.sum())
        frame = frame[~forming].reset_index(drop=True)
        fetched = dataclasses.replace(fetched, frame=frame)
    if dataset == Dataset.NEWS:
        assert news_frame is not None, "news are split with the symbols they name"
        frame = news_frame(fetched)
    days = np.asarray(sessions_of(dataset, frame), dtype="datetime64[D]")
    if dataset == Dataset.NEWS:
        wanted = {(np.datetime64(s, "D"), m) for s, symbols in missing.items() for m in symbols}
        keep = np.array(
            [
                any((day, m) in wanted for m in symbols)
                for day, symbols in zip(days, frame["symbols"], strict=True)
            ],
            dtype=bool,
        )
    else:
        keep = _in_partitions(days, frame["symbol"], missing)
    report.outside_partitions += int((~keep).sum())
    if not keep.all():  # (a copy of a million trades is worth sparing)
        frame, days = frame[keep].reset_index(drop=True), days[keep]
    rejects = fetched.rejects
    first_key = min(s for s, symbols in missing.items() if symbols)
    # The rows in session order (one reorder, none when they already are), so each partition is a
    # contiguous slice: a take per session costs a pandas call per column (hundreds a slice).
    if len(days) > 1 and (days[1:] < days[:-1]).any():
        order = np.argsort(days, kind="stable")  # each session's rows keep their order
        frame, days = frame.take(order).reset_index(drop=True), days[order]
    tally = SymbolTally(frame["symbol"]) if dataset != Dataset.NEWS else None
    results = []
    for session, symbols in sorted(missing.items()):
        day = np.datetime64(session, "D")
        low, high = np.searchsorted(days, day, side="left"), np.searchsorted(days, day, side="right")
        rows = frame if high - low == len(frame) else frame.iloc[low:high].reset_index(drop=True)
        session_through = through
        dated = dataset in BAR_DATASETS or dataset in INTRADAY_LENGTHS
        held = _held_back(dataset, session, fetched.served_until) if dated else None
        if held is not None:  # a delayed feed: what it could not serve yet is asked for again
            session_through = min(session_through or held, held)
            report.notes.append(f"the feed is delayed: {session} stored up to {new_york_time(held)}")
            rows = rows[(rows["ts"] < held).to_numpy()].reset_index(drop=True)
        if tally is not None and held is None:
            counts = tally.counts(int(low), int(high), symbols)
        else:
            counts = _rows_per_symbol(dataset, rows, symbols)
        if fetched.unanswered:
            counts = {m: n for m, n in counts.items() if (session, m) not in fetched.unanswered}
        if held is not None and dataset not in INTRADAY_LENGTHS:
            counts = {}  # a daily bar of a session the feed has not served to its close: not yet
        # Provider rejects cannot always be dated; they are kept with the run's first partition.
        session_rejects = rejects if session == first_key else EMPTY_REJECTS
        results.append(
            PartitionData(dataset, session, layer, rows, counts, session_rejects, through=session_through)
        )
        report.rows += len(rows)
    report.rejects += len(rejects)
    return results


def _in_partitions(days: np.ndarray, symbols: pd.Series, missing: dict[dt.date, list[str]]) -> np.ndarray:
    """Per row, whether its (session, symbol) is a pair the slice fetched: a table of sessions x
    distinct symbols looked up by position (a slice's sessions mostly share one member list, which
    is then matched once), not a set of hundreds of thousands of (session, symbol) tuples."""
    codes, uniques = pd.factorize(symbols, use_na_sentinel=True)
    asked = sorted(missing)
    asked_days = np.array(asked, dtype="datetime64[D]")
    position = np.searchsorted(asked_days, days)
    inside = position < len(asked)
    inside[inside] = asked_days[position[inside]] == days[inside]
    members = np.zeros((len(asked) + 1, len(uniques)), dtype=bool)  # the last row: no session asked
    matched: dict[tuple[str, ...], np.ndarray] = {}
    for i, session in enumerate(asked):
        names = tuple(missing[session])
        if names not in matched:
            matched[names] = pd.Index(uniques, dtype=object).isin(names)
        members[i] = matched[names]
    position[~inside] = len(asked)
    return members[position, codes] & (codes >= 0)  # (a missing symbol is in no partition)


def symbol_groups(
    pairs: dict[dt.date, list[str]], fetched: ProviderResult, max_rows: int
) -> Iterator[tuple[dict[dt.date, list[str]], ProviderResult]]:
    """A slice's pairs and rows in groups of whole symbols of at most ``max_rows`` rows (a symbol
    with more is a group of its own), one group at a time: a flat file's session is read once and
    stored a bounded piece at a time. The provider's rejects and failover lines go with the first."""
    frame = fetched.frame
    if len(frame) <= max_rows:
        yield pairs, fetched
        return
    codes, uniques = pd.factorize(frame["symbol"].astype(object))
    rows_of = dict(zip(uniques, np.bincount(codes, minlength=len(uniques)).tolist(), strict=True))
    groups: list[list[str]] = [[]]
    rows = 0
    for symbol in sorted({m for members in pairs.values() for m in members}):
        count = rows_of.get(symbol, 0)
        if groups[-1] and rows + count > max_rows:
            groups.append([])
            rows = 0
        groups[-1].append(symbol)
        rows += count
    group_of = {symbol: i for i, group in enumerate(groups) for symbol in group}
    row_group = np.array([group_of.get(u, -1) for u in uniques], dtype=np.int64)[codes]
    for i, group in enumerate(groups):
        members = set(group)
        part = dataclasses.replace(
            fetched,
            frame=frame[row_group == i].reset_index(drop=True),
            rejects=fetched.rejects if i == 0 else EMPTY_REJECTS,
            failovers=fetched.failovers if i == 0 else (),
        )
        yield {s: [m for m in symbols if m in members] for s, symbols in pairs.items()}, part


def stored_through(dataset: Dataset, now: dt.datetime) -> dt.datetime:
    """What a run at ``now`` stores of a trading session: rows starting before the returned instant
    (for bars, the start of the bar still forming: the bars before it have ended)."""
    now = now.astimezone(dt.UTC)
    length = INTRADAY_LENGTHS.get(dataset)
    if not length:
        return now  # a daily bar (no length) or a trade (complete when printed)
    # Whole intervals since the epoch: New York's offset is whole hours, so hours are clock hours.
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return epoch + ((now - epoch) // length) * length


def _held_back(dataset: Dataset, session: dt.date, served_until: dt.datetime | None) -> dt.datetime | None:
    """Where a delayed feed's answer for ``session`` ends, when that is before the session's close:
    rows starting before the returned instant are complete (a daily bar never is: it is dropped)."""
    if served_until is None or served_until >= calendar.session_open_close(session)[1]:
        return None
    if dataset not in INTRADAY_LENGTHS:
        return calendar.session_midnight_utc(session)  # nothing of the session is complete
    return stored_through(dataset, served_until)


def new_york_time(instant: dt.datetime) -> str:
    return instant.astimezone(calendar.NEW_YORK).strftime("%Y-%m-%d %H:%M")


class SymbolTally:
    """Rows per symbol in any range of a slice's rows: the symbols coded once for the slice, then a
    bincount per partition (a ``value_counts`` of each partition's strings is a pandas call and an
    index of strings each, hundreds a slice: ~6 % of a first fill)."""

    def __init__(self, symbols: pd.Series) -> None:
        self._codes, uniques = pd.factorize(symbols, use_na_sentinel=True)
        self._position = {str(u): i for i, u in enumerate(uniques)}
        self._positions: dict[tuple[str, ...], np.ndarray] = {}  # a slice's sessions share members

    def counts(self, low: int, high: int, symbols: list[str]) -> dict[str, int]:
        """Rows ``low:high`` per symbol asked (0 for those without any; nameless rows count for none)."""
        if not self._position:
            return dict.fromkeys(symbols, 0)
        codes = self._codes[low:high]
        per_code = np.bincount(codes[codes >= 0], minlength=len(self._position))
        key = tuple(symbols)
        where = self._positions.get(key)
        if where is None:
            where = np.array([self._position.get(s, -1) for s in symbols], dtype=np.int64)
            self._positions[key] = where
        return dict(zip(symbols, np.where(where >= 0, per_code[where], 0).tolist(), strict=True))


def _rows_per_symbol(dataset: Dataset, rows: pd.DataFrame, symbols: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(symbols, 0)
    column = rows["symbols"].explode() if dataset == Dataset.NEWS else rows["symbol"]
    for symbol, count in column.value_counts().items():
        if symbol in counts:
            counts[str(symbol)] = int(count)
    return counts


def combine(results: list[ProviderResult]) -> ProviderResult:
    frames = [r.frame for r in results]
    links = [r.links for r in results if r.links is not None]
    return ProviderResult(
        frame=pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
        rejects=pd.concat([r.rejects for r in results], ignore_index=True) if results else EMPTY_REJECTS,
        calls=tuple(call for r in results for call in r.calls),
        links=pd.concat(links, ignore_index=True) if links else None,
        served=_merge_served(results),
        failovers=tuple(line for r in results for line in r.failovers),
        served_until=min((r.served_until for r in results if r.served_until), default=None),
        unanswered=frozenset().union(*(r.unanswered for r in results)),
    )


def _merge_served(results: list[ProviderResult]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, set[str]] = {}
    for result in results:
        for name, symbols in result.served.items():
            merged.setdefault(name, set()).update(symbols)
    return {name: tuple(sorted(symbols)) for name, symbols in merged.items()}
