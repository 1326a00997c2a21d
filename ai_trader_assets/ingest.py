"""Ingestion, no Dagster: which (session, symbol) pairs a run must fetch, fetched a slice at a time,
and which partition each fetched row belongs to.

A run covers partitions (session, layer). Per layer: a dataset the layer does not ingest, or a
session outside the layer's cold window, yields an empty, labelled partition without a provider
call. Otherwise the members' (session, symbol) pairs not yet covered are fetched (all of them with a
full refresh) in slices of at most ``runs.slice_rows`` estimated rows (see
:mod:`ai_trader_assets.planning.slices`): each slice is split per partition and handed on before the
next is fetched, so a run's memory stays bounded and what it stored stays stored if a later slice
fails.

A session still trading at the run's ``now`` is *partial*: only what has ended by then is stored (a
bar once its interval is over; a daily bar not before the close), and its coverage records the
instant it is stored up to, so it counts as not yet covered. The next run asks the provider only for
bars after that instant; the first run after the close completes the session.
"""

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig, RetentionWindow
from ai_trader_assets.datasets import BAR_DATASETS, Dataset
from ai_trader_assets.datasets.bars import BAR_LENGTHS
from ai_trader_assets.datasets.partitions import PartitionData
from ai_trader_assets.datasets.registry import sessions_of
from ai_trader_assets.datasets.validation import EMPTY_REJECTS
from ai_trader_assets.planning.slices import FetchSlice, plan_slices
from ai_trader_assets.providers.base import MarketDataProvider, ProviderCall, ProviderResult
from ai_trader_assets.settings import end_of_day
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.ledger import Ledger


@dataclasses.dataclass
class IngestReport:
    """What the run did, for the UI."""

    symbols: set[str] = dataclasses.field(default_factory=set)
    calls: list[ProviderCall] = dataclasses.field(default_factory=list)
    rows: int = 0
    rejects: int = 0
    already_stored: int = 0
    outside_partitions: int = 0
    owned_by_higher_layer: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    # provider name -> the symbols it served; and one line per provider given up on (failover).
    served: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    failovers: list[str] = dataclasses.field(default_factory=list)
    not_ended: int = 0  # bars still forming at the run's "now" (stored by a later run)

    def add_served(self, result: ProviderResult, default_provider: str, symbols: Sequence[str]) -> None:
        served = result.served or {default_provider: tuple(symbols)}
        for name, names in served.items():
            self.served.setdefault(name, set()).update(names)
        self.failovers.extend(result.failovers)


@dataclasses.dataclass(frozen=True)
class IngestRequest:
    dataset: Dataset
    partitions: Sequence[tuple[dt.date, int]]
    today: dt.date
    refresh: bool = False
    only_symbols: Sequence[str] | None = None
    # A backfill request's first session: sessions from it on are fetched even past the cold window,
    # because a user's explicit --days is honoured (retention prunes the surplus later).
    requested_from: dt.date | None = None
    # The run's clock: a session still trading at this instant is stored partially (the default, the
    # end of ``today``, has every session up to today closed).
    now: dt.datetime | None = None

    @property
    def clock(self) -> dt.datetime:
        # Never later than the real time: a pinned date must not make a session still trading in
        # reality look closed (a real provider would return half a day, stored as whole).
        return min(self.now or end_of_day(self.today), dt.datetime.now(dt.UTC))

    def in_scope(self, session: dt.date, window: RetentionWindow) -> bool:
        requested = self.requested_from is not None and session >= self.requested_from
        return requested or window.is_kept(session, self.today)


@dataclasses.dataclass(frozen=True)
class _PartialSession:
    """A session fetched up to an instant: it is trading, or an earlier run stored part of it.

    Attributes:
        through: What this run stores: rows starting before it (None: the whole session, closed now).
        since: Per symbol, where the fetch starts (None: the session's start), after what is stored.
        prior_rows: Per symbol, the rows earlier runs stored for the session.
    """

    session: dt.date
    through: dt.datetime | None
    since: dict[str, dt.datetime | None]
    prior_rows: dict[str, int]


@dataclasses.dataclass
class _LayerWork:
    """What one layer of a run fetches: the missing pairs per session, and partial sessions."""

    layer: int
    missing: dict[dt.date, list[str]]
    hot_windows: dict[str, tuple[dt.date, dt.date]]
    now: dt.datetime
    partial: list[_PartialSession] = dataclasses.field(default_factory=list)


class IngestStream:
    """A run's partitions, fetched lazily: iterate once for one slice (a list of partitions) at a time.

    ``report`` fills in as the slices are fetched.
    """

    def __init__(self, dataset: Dataset, report: IngestReport, slices: Iterator[list[PartitionData]]) -> None:
        self.dataset = dataset
        self.report = report
        self._slices = slices
        # Per symbol, the run's sessions inside its layer's hot window: rows cold already holds for
        # them are copied into hot storage (no provider request), e.g. after a promotion.
        self.hot_windows: dict[str, tuple[dt.date, dt.date]] = {}
        # Told of each slice once it is stored (the asset's checks read it back from storage).
        self.on_stored: Callable[[list[PartitionData]], None] | None = None

    def __iter__(self) -> Iterator[list[PartitionData]]:
        return self._slices

    def stored(self, piece: list[PartitionData]) -> None:
        if self.on_stored is not None:
            self.on_stored(piece)


class Ingestor:
    """Plans and performs the fetch of one dataset for a run's partitions."""

    def __init__(
        self,
        provider: MarketDataProvider,
        companies: CompaniesRepository,
        ledger: Ledger,
        config: PlatformConfig,
    ) -> None:
        self.provider = provider
        self.companies = companies
        self.ledger = ledger
        self.config = config

    def run(self, request: IngestRequest) -> tuple[list[PartitionData], IngestReport]:
        """Every partition at once (small runs and tests); :meth:`stream` is the bounded form."""
        stream = self.stream(request)
        results = [data for piece in stream for data in piece]
        return results, stream.report

    def stream(self, request: IngestRequest) -> IngestStream:
        """Plan the run now (coverage, windows, notes); fetch slice by slice as it is iterated."""
        report = IngestReport()
        by_layer: dict[int, list[dt.date]] = defaultdict(list)
        for session, layer in request.partitions:
            by_layer[layer].append(session)
        work = [
            self._plan_layer(request, layer, sorted(sessions), report)
            for layer, sessions in sorted(by_layer.items())
        ]
        stream = IngestStream(request.dataset, report, self._slices(request.dataset, work, report))
        for layer_work in work:
            if layer_work is not None:
                stream.hot_windows.update(layer_work.hot_windows)
        return stream

    def _slices(
        self, dataset: Dataset, work: list[_LayerWork | None], report: IngestReport
    ) -> Iterator[list[PartitionData]]:
        budget = self.config.pipeline.runs
        for layer_work in work:
            if layer_work is None:
                continue
            rows_per_pair = budget.budget(dataset).rows_per_symbol_session
            for piece in plan_slices(
                dataset, layer_work.missing, rows_per_pair, budget.slice_rows, self.provider.grouped_daily
            ):
                fetched = self._fetch(dataset, piece)
                report.calls.extend(fetched.calls)
                report.add_served(
                    fetched, self.provider.name, sorted({m for ms in piece.pairs.values() for m in ms})
                )
                pairs = {s: list(symbols) for s, symbols in piece.pairs.items()}
                yield self._split(dataset, layer_work.layer, pairs, fetched, report, now=layer_work.now)
            for partial in layer_work.partial:
                yield self._fetch_partial(dataset, layer_work.layer, partial, report, layer_work.now)

    def _fetch_partial(
        self, dataset: Dataset, layer: int, partial: _PartialSession, report: IngestReport, now: dt.datetime
    ) -> list[PartitionData]:
        """One session's members, each from where its stored rows end (one call per starting point)."""
        session = partial.session
        by_start: dict[dt.datetime | None, list[str]] = defaultdict(list)
        for symbol, since in sorted(partial.since.items()):
            by_start[since if dataset in BAR_LENGTHS else None].append(symbol)
        results = []
        for since, symbols in by_start.items():
            if dataset in BAR_DATASETS:
                result = self.provider.bars(symbols, dataset, session, session, since=since)
            else:
                result = self._fetcher(dataset)(symbols, session, session)
            report.calls.extend(result.calls)
            report.add_served(result, self.provider.name, symbols)
            results.append(result)
        fetched = _combine(results)
        through = partial.through
        frame = fetched.frame
        if dataset in BAR_DATASETS and len(frame):
            # Only bars after what is stored, and only bars that have ended by the run's "now".
            first = pd.Timestamp(0, tz="UTC")
            starts = [partial.since.get(str(symbol)) or first for symbol in frame["symbol"]]
            keep = frame["ts"] >= pd.Series(pd.to_datetime(starts, utc=True), index=frame.index)
            if through is not None:
                ended = frame["ts"] < through
                report.not_ended += int((keep & ~ended).sum())
                keep &= ended
            frame = frame[keep.to_numpy()].reset_index(drop=True)
        fetched = dataclasses.replace(fetched, frame=frame)
        (data,) = self._split(
            dataset, layer, {session: sorted(partial.since)}, fetched, report, through=through, now=now
        )
        if dataset in BAR_LENGTHS:
            # Coverage counts the session's rows, this run's and the earlier ones'.
            counts = {s: n + partial.prior_rows.get(s, 0) for s, n in data.fetched.items()}
            data = dataclasses.replace(data, fetched=counts)
        return [data]

    def _plan_layer(
        self, request: IngestRequest, layer: int, sessions: list[dt.date], report: IngestReport
    ) -> _LayerWork | None:
        dataset = request.dataset
        if not self.config.ingests(layer, dataset):
            report.notes.append(f"layer {layer} does not ingest {dataset.value} (layers.yaml)")
            return None
        window = self.config.window(layer, dataset)
        assert window is not None  # validated: every ingested dataset has a window
        outside = [s for s in sessions if not request.in_scope(s, window)]
        inside = [s for s in sessions if request.in_scope(s, window)]
        if outside:
            report.notes.append(
                f"{len(outside)} session(s) outside layer {layer}'s {window.cold_days}-day cold window "
                f"for {dataset.value}: nothing fetched"
            )
        members = self.companies.members(layer)
        if request.only_symbols is not None:
            members = sorted(set(members) & set(request.only_symbols))
        now = request.clock
        not_open = [s for s in inside if calendar.session_open_close(s)[0] > now]
        if not_open:
            report.notes.append(
                f"{len(not_open)} session(s) not open yet at {_new_york(now)}: nothing fetched"
            )
            inside = [s for s in inside if s not in not_open]
        # One read of coverage: pairs fetched whole are done, partly fetched ones resume after it.
        found = {} if request.refresh else self.ledger.fetched(dataset, inside, members)
        covered = {pair for pair, (_, through) in found.items() if through is None}
        stored = {pair: (rows, through) for pair, (rows, through) in found.items() if through is not None}
        missing = {s: [m for m in members if (s, m) not in covered] for s in inside}
        report.already_stored += sum(len(members) - len(v) for v in missing.values())
        report.symbols.update(m for symbols in missing.values() for m in symbols)
        if inside and not any(missing.values()):
            report.notes.append(f"layer {layer}: every member already stored for {len(inside)} session(s)")
        partial = []
        for session in [s for s in inside if missing[s]]:
            trading = not calendar.has_closed(session, now)
            if not trading and not any((session, m) in stored for m in missing[session]):
                continue  # closed and never partly stored: the slices fetch it whole
            symbols = missing.pop(session)
            if trading and dataset == Dataset.BARS_1DAY:
                report.notes.append(f"{session} is still trading: its daily bars are stored after the close")
                continue
            through = _through(dataset, now) if trading else None
            if through is not None:
                report.notes.append(
                    f"{session} is still trading: stored up to {_new_york(through)} New York time"
                )
            partial.append(
                _PartialSession(
                    session,
                    through,
                    {m: stored[(session, m)][1] if (session, m) in stored else None for m in symbols},
                    {m: stored[(session, m)][0] for m in symbols if (session, m) in stored},
                )
            )
        hot = [s for s in inside if window.is_hot(s, request.today)]
        hot_windows = {m: (hot[0], hot[-1]) for m in members} if hot else {}
        return _LayerWork(layer, {s: v for s, v in missing.items() if v}, hot_windows, now, partial)

    # ----------------------------------------------------------------- fetching

    def _fetch(self, dataset: Dataset, piece: FetchSlice) -> ProviderResult:
        if piece.grouped_sessions:
            return _combine(
                [self.provider.grouped_daily_bars(s, list(piece.pairs[s])) for s in piece.grouped_sessions]
            )
        fetch = self._fetcher(dataset)
        return _combine([fetch(list(call.symbols), call.first, call.last) for call in piece.calls])

    def _fetcher(self, dataset: Dataset) -> Callable[[list[str], dt.date, dt.date], ProviderResult]:
        if dataset in BAR_DATASETS:
            return lambda symbols, first, last: self.provider.bars(symbols, dataset, first, last)
        if dataset == Dataset.NEWS:

            def news(symbols: list[str], first: dt.date, last: dt.date) -> ProviderResult:
                # Sessions own (previous close, close]; the provider's range is [start, end).
                _, previous_close = calendar.session_open_close(calendar.previous_session(first))
                _, close = calendar.session_open_close(last)
                return self.provider.news(symbols, previous_close, close + dt.timedelta(seconds=1))

            return news

        def actions(symbols: list[str], first: dt.date, last: dt.date) -> ProviderResult:
            # Ex-dates on the days after the previous session map to ``first``.
            return self.provider.corporate_actions(
                symbols, calendar.previous_session(first) + dt.timedelta(days=1), last
            )

        return actions

    # ---------------------------------------------------------------- splitting

    def _split(
        self,
        dataset: Dataset,
        layer: int,
        missing: dict[dt.date, list[str]],
        fetched: ProviderResult,
        report: IngestReport,
        *,
        now: dt.datetime,
        through: dt.datetime | None = None,
    ) -> list[PartitionData]:
        """The fetched rows per partition; ``through``: the session is stored up to that instant."""
        frame = fetched.frame
        length = BAR_LENGTHS.get(dataset)
        if length is not None and len(frame):
            # A bar still forming at ``now`` is never stored, whatever the session (after the close:
            # an extended-hours bar); a later fetch of the session brings it whole.
            forming = (frame["ts"] > now - length).to_numpy()
            report.not_ended += int(forming.sum())
            frame = frame[~forming].reset_index(drop=True)
            fetched = dataclasses.replace(fetched, frame=frame)
        if dataset == Dataset.NEWS:
            frame = self._news_with_symbols(fetched, layer, report)
        wanted = {(np.datetime64(s, "D"), m) for s, symbols in missing.items() for m in symbols}
        sessions = sessions_of(dataset, frame)
        if dataset == Dataset.NEWS:
            keep = np.array(
                [
                    any((day, m) in wanted for m in symbols)
                    for day, symbols in zip(sessions, frame["symbols"], strict=True)
                ],
                dtype=bool,
            )
        else:
            pairs = pd.MultiIndex.from_arrays([sessions, frame["symbol"].astype(object)])
            keep = pairs.isin(list(wanted))
        report.outside_partitions += int((~keep).sum())
        frame, sessions = frame[keep].reset_index(drop=True), sessions[keep]
        rejects = fetched.rejects
        first_key = min(s for s, symbols in missing.items() if symbols)
        # Row positions per session, found in one pass (a mask per session would rescan the frame).
        positions = pd.Series(np.arange(len(frame))).groupby(sessions).indices if len(frame) else {}
        results = []
        for session, symbols in sorted(missing.items()):
            where = positions.get(np.datetime64(session, "D"), np.array([], dtype=np.int64))
            rows = frame.iloc[where].reset_index(drop=True)
            session_through = through
            held = _held_back(dataset, session, fetched.served_until) if dataset in BAR_DATASETS else None
            if held is not None:  # a delayed feed: what it could not serve yet is asked for again
                session_through = min(session_through or held, held)
                report.notes.append(f"the feed is delayed: {session} stored up to {_new_york(held)}")
                rows = rows[(rows["ts"] < held).to_numpy()].reset_index(drop=True)
            counts = _rows_per_symbol(dataset, rows, symbols)
            if held is not None and dataset not in BAR_LENGTHS:
                counts = {}  # a daily bar of a session the feed has not served to its close: not yet
            # Provider rejects cannot always be dated; they are kept with the run's first partition.
            session_rejects = rejects if session == first_key else EMPTY_REJECTS
            results.append(
                PartitionData(dataset, session, layer, rows, counts, session_rejects, through=session_through)
            )
            report.rows += len(rows)
        report.rejects += len(rejects)
        return results

    def _news_with_symbols(self, fetched: ProviderResult, layer: int, report: IngestReport) -> pd.DataFrame:
        """News rows with the symbols they name; an article naming a higher-layer symbol belongs there."""
        links = fetched.links if fetched.links is not None else pd.DataFrame(columns=["news_id", "symbol"])
        named = links.groupby("news_id")["symbol"].apply(lambda s: sorted(set(s))).to_dict()
        frame = fetched.frame.assign(symbols=[named.get(i, []) for i in fetched.frame["id"]])
        layers = self.companies.layers_of({s for symbols in frame["symbols"] for s in symbols})
        ingesting = {
            s
            for s, other in layers.items()
            if other is not None and other > layer and self.config.ingests(other, Dataset.NEWS)
        }
        owned = np.array([bool(ingesting & set(symbols)) for symbols in frame["symbols"]], dtype=bool)
        report.owned_by_higher_layer += int(owned.sum())
        return frame[~owned].reset_index(drop=True)


def _through(dataset: Dataset, now: dt.datetime) -> dt.datetime:
    """What a run at ``now`` stores of a trading session: rows starting before the returned instant
    (for bars, the start of the bar still forming: the bars before it have ended)."""
    now = now.astimezone(dt.UTC)
    length = BAR_LENGTHS.get(dataset)
    if length is None:
        return now
    # Whole intervals since the epoch: New York's offset is whole hours, so hours are clock hours.
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return epoch + ((now - epoch) // length) * length


def _held_back(dataset: Dataset, session: dt.date, served_until: dt.datetime | None) -> dt.datetime | None:
    """Where a delayed feed's answer for ``session`` ends, when that is before the session's close:
    rows starting before the returned instant are complete (a daily bar never is: it is dropped)."""
    if served_until is None or served_until >= calendar.session_open_close(session)[1]:
        return None
    if dataset not in BAR_LENGTHS:
        return calendar.session_midnight_utc(session)  # nothing of the session is complete
    return _through(dataset, served_until)


def _new_york(instant: dt.datetime) -> str:
    return instant.astimezone(calendar.NEW_YORK).strftime("%Y-%m-%d %H:%M")


def _rows_per_symbol(dataset: Dataset, rows: pd.DataFrame, symbols: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(symbols, 0)
    column = rows["symbols"].explode() if dataset == Dataset.NEWS else rows["symbol"]
    for symbol, count in column.value_counts().items():
        if symbol in counts:
            counts[str(symbol)] = int(count)
    return counts


def _combine(results: list[ProviderResult]) -> ProviderResult:
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
    )


def _merge_served(results: list[ProviderResult]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, set[str]] = {}
    for result in results:
        for name, symbols in result.served.items():
            merged.setdefault(name, set()).update(symbols)
    return {name: tuple(sorted(symbols)) for name, symbols in merged.items()}


def served_summary(served: dict[str, set[str]], shown: int = 20) -> str:
    """``alpaca: 2 symbols (AAPL, MSFT); polygon: 1 symbol (NVDA)`` for run metadata."""
    parts = []
    for name, symbols in sorted(served.items()):
        listed = sorted(symbols)
        more = f", +{len(listed) - shown} more" if len(listed) > shown else ""
        noun = "symbol" if len(listed) == 1 else "symbols"
        parts.append(f"{name}: {len(listed)} {noun} ({', '.join(listed[:shown])}{more})")
    return "; ".join(parts) or "-"


def describe(report: IngestReport) -> dict[str, Any]:
    """Run metadata for the UI."""
    return {
        "symbols fetched": len(report.symbols),
        "provider requests": len(report.calls),
        "rows": report.rows,
        "provider rejects": report.rejects,
        "already stored (symbol-sessions skipped)": report.already_stored,
        "rows outside the run's partitions (dropped)": report.outside_partitions,
        "bars still forming (stored by a later run)": report.not_ended,
        "news owned by a higher layer": report.owned_by_higher_layer,
        "served by": served_summary(report.served),
        "failover": " | ".join(report.failovers) or "-",
        "notes": "; ".join(report.notes) or "-",
    }
