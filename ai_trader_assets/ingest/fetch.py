"""Ingestion, no Dagster: which (session, symbol) pairs a run must fetch, fetched a slice at a time
(bars one slice ahead of storage), and which partition each fetched row belongs to.

A run covers partitions (session, layer). Per layer: a dataset the layer does not ingest, or a
session outside the layer's cold window, yields an empty, labelled partition without a provider
call. Otherwise the members' (session, symbol) pairs not yet covered are fetched (all of them with a
full refresh) in slices of at most ``runs.slice_rows`` estimated rows (see
:mod:`.slices`): each slice is split per partition and handed on to be stored before the next
is handed on (bars: while the next is being fetched), so a run's memory stays bounded (a slice, and
for bars the one being fetched) and what it stored stays stored if a later slice fails.

A session still trading at the run's ``now`` is *partial*: only what has ended by then is stored (a
bar once its interval is over; a daily bar not before the close), and its coverage records the
instant it is stored up to, so it counts as not yet covered. The next run asks the provider only for
bars after that instant; the first run after the close completes the session.
"""

import concurrent.futures
import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import BAR_DATASETS, Dataset
from ai_trader_assets.datasets.partitions import PartitionData
from ai_trader_assets.datasets.registry import INTRADAY_LENGTHS
from ai_trader_assets.datasets.ticks import outside_session
from ai_trader_assets.datasets.validation import split_rejects
from ai_trader_assets.ingest.request import IngestReport, IngestRequest, IngestStream
from ai_trader_assets.ingest.sentiment.build import SentimentBuilder, SentimentInputs
from ai_trader_assets.ingest.slices import FetchSlice, plan_slices
from ai_trader_assets.ingest.split import (
    combine,
    new_york_time,
    split_partitions,
    stored_through,
    symbol_groups,
)
from ai_trader_assets.providers.base import MarketDataProvider, NotServedError, ProviderResult
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.ledger import Ledger

COMPUTED_PROVIDERS = frozenset({"demo"})  # rows made in-process: no network latency to hide


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


class Ingestor:
    """Plans and performs the fetch of one dataset for a run's partitions."""

    def __init__(
        self,
        provider: MarketDataProvider,
        companies: CompaniesRepository,
        ledger: Ledger,
        config: PlatformConfig,
        sentiment: SentimentInputs | None = None,
        *,
        flatfiles: MarketDataProvider | None = None,
    ) -> None:
        self.provider = provider
        # Bars from Massive's flat files (a session per object) when the run's plan chose them; a
        # session without an object is fetched from ``provider`` (REST) instead.
        self.flatfiles = flatfiles
        self.companies = companies
        self.ledger = ledger
        self.config = config
        # Social sentiment is computed, not fetched from the market-data provider: from these inputs.
        self.sentiment = sentiment
        self._sentiment: SentimentBuilder | None = None

    def run(self, request: IngestRequest) -> tuple[list[PartitionData], IngestReport]:
        """Every partition at once (small runs and tests); :meth:`stream` is the bounded form."""
        stream = self.stream(request)
        results = [data for piece in stream for data in piece]
        return results, stream.report

    def stream(self, request: IngestRequest) -> IngestStream:
        """Plan the run now (coverage, windows, notes); fetch slice by slice as it is iterated."""
        report = IngestReport()
        if request.dataset == Dataset.SOCIAL_SENTIMENT:
            if self.sentiment is None:
                raise ValueError(
                    "social_sentiment is computed from SentimentInputs: pass them to the Ingestor"
                )
            self._sentiment = SentimentBuilder(self.sentiment, report)
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
            pieces = plan_slices(
                dataset,
                layer_work.missing,
                rows_per_pair,
                budget.slice_rows,
                self.provider.grouped_daily,
                by_session=self._from_files(dataset),
            )
            for piece, fetched in self._fetched(dataset, pieces):
                report.calls.extend(fetched.calls)
                report.add_served(
                    fetched, self.provider.name, sorted({m for ms in piece.pairs.values() for m in ms})
                )
                pairs = {s: list(symbols) for s, symbols in piece.pairs.items()}
                # A flat file's session is one slice however many rows: stored in pieces of symbols.
                limit = budget.slice_rows if self._from_files(dataset) else len(fetched.frame)
                for group, rows in symbol_groups(pairs, fetched, limit):
                    yield split_partitions(
                        dataset,
                        layer_work.layer,
                        group,
                        rows,
                        report,
                        now=layer_work.now,
                        news_frame=self._news_frame(layer_work.layer, report),
                    )
            for partial in layer_work.partial:
                yield self._fetch_partial(dataset, layer_work.layer, partial, report, layer_work.now)

    def _fetch_partial(
        self, dataset: Dataset, layer: int, partial: _PartialSession, report: IngestReport, now: dt.datetime
    ) -> list[PartitionData]:
        """One session's members, each from where its stored rows end (one call per starting point)."""
        session = partial.session
        by_start: dict[dt.datetime | None, list[str]] = defaultdict(list)
        for symbol, since in sorted(partial.since.items()):
            by_start[since if dataset in INTRADAY_LENGTHS else None].append(symbol)
        results = []
        for since, symbols in by_start.items():
            if dataset in BAR_DATASETS:
                result = self.provider.bars(symbols, dataset, session, session, since=since)
            elif dataset == Dataset.TICKS:
                result = self._trades(symbols, session, since)
            else:
                result = self._fetcher(dataset)(symbols, session, session)
            report.calls.extend(result.calls)
            report.add_served(result, self.provider.name, symbols)
            results.append(result)
        fetched = combine(results)
        through = partial.through
        frame = fetched.frame
        if dataset in INTRADAY_LENGTHS and len(frame):
            # Only rows after what is stored, and only bars that have ended by the run's "now".
            first = pd.Timestamp(0, tz="UTC")
            resume = {symbol: pd.Timestamp(at or first) for symbol, at in partial.since.items()}
            starts = pd.to_datetime(frame["symbol"].astype(object).map(resume).fillna(first), utc=True)
            keep = frame["ts"] >= starts
            if through is not None:
                ended = frame["ts"] < through
                report.not_ended += int((keep & ~ended).sum())
                keep &= ended
            frame = frame[keep.to_numpy()].reset_index(drop=True)
        fetched = dataclasses.replace(fetched, frame=frame)
        (data,) = split_partitions(
            dataset,
            layer,
            {session: sorted(partial.since)},
            fetched,
            report,
            through=through,
            now=now,
            news_frame=self._news_frame(layer, report),
        )
        if dataset in INTRADAY_LENGTHS:
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
                f"{len(not_open)} session(s) not open yet at {new_york_time(now)}: nothing fetched"
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
            through = stored_through(dataset, now) if trading else None
            if through is not None:
                report.notes.append(
                    f"{session} is still trading: stored up to {new_york_time(through)} New York time"
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

    def _fetched(
        self, dataset: Dataset, pieces: Iterable[FetchSlice]
    ) -> Iterator[tuple[FetchSlice, ProviderResult]]:
        """Each slice with what the provider returned for it. Bars are fetched one slice ahead, in a
        thread, while the caller validates and stores the slice before: the provider's latency and
        the storage's writes overlap (both wait on sockets and native code), and a run holds at most
        one more fetched slice. Other datasets (small, or computed from storage), every dataset of a
        provider that computes its rows in-process (nothing to wait for: ahead would only add memory;
        measured on the demo's first fill, +250 MiB at the same speed), and flat files (a slice is a
        whole session: ahead, benchmarks.flatfiles ran 10 % faster but peaked at 1,078 MiB instead of
        964), one at a time."""
        ahead = self.provider.name not in COMPUTED_PROVIDERS and not self._from_files(dataset)
        if dataset not in BAR_DATASETS or not ahead:
            yield from ((piece, self._fetch(dataset, piece)) for piece in pieces)
            return
        queue = iter(pieces)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="fetch-ahead") as pool:
            piece = next(queue, None)
            pending = pool.submit(self._fetch, dataset, piece) if piece is not None else None
            while piece is not None and pending is not None:
                fetched = pending.result()  # a failed fetch raises here, after the slices before it
                following = next(queue, None)
                pending = pool.submit(self._fetch, dataset, following) if following is not None else None
                yield piece, fetched
                piece = following

    def _from_files(self, dataset: Dataset) -> bool:
        return self.flatfiles is not None and dataset in BAR_DATASETS

    def _fetch(self, dataset: Dataset, piece: FetchSlice) -> ProviderResult:
        if piece.grouped_sessions and self._from_files(dataset):
            return combine(
                [self._session_file(dataset, s, list(piece.pairs[s])) for s in piece.grouped_sessions]
            )
        if piece.grouped_sessions:
            return combine(
                [self.provider.grouped_daily_bars(s, list(piece.pairs[s])) for s in piece.grouped_sessions]
            )
        fetch = self._fetcher(dataset)
        return combine([fetch(list(call.symbols), call.first, call.last) for call in piece.calls])

    def _session_file(self, dataset: Dataset, session: dt.date, symbols: list[str]) -> ProviderResult:
        """A session's bars from its flat file; from REST when the file is not there (yet)."""
        assert self.flatfiles is not None
        try:
            result = self.flatfiles.bars(symbols, dataset, session, session)
            return dataclasses.replace(result, served={self.flatfiles.name: tuple(symbols)})
        except NotServedError as exc:
            if dataset == Dataset.BARS_1DAY and self.provider.grouped_daily:
                result = self.provider.grouped_daily_bars(session, symbols)
            else:
                result = self.provider.bars(symbols, dataset, session, session)
            line = f"{self.flatfiles.name}: {exc}; {session} {dataset.value} fetched over REST"
            return dataclasses.replace(
                result,
                served=result.served or {self.provider.name: tuple(symbols)},
                failovers=(line, *result.failovers),
            )

    def _fetcher(self, dataset: Dataset) -> Callable[[list[str], dt.date, dt.date], ProviderResult]:
        if dataset in BAR_DATASETS:
            return lambda symbols, first, last: self.provider.bars(symbols, dataset, first, last)
        if dataset == Dataset.TICKS:

            def trades(symbols: list[str], first: dt.date, last: dt.date) -> ProviderResult:
                return combine([self._trades(symbols, s, None) for s in calendar.sessions(first, last)])

            return trades
        if dataset == Dataset.NEWS:

            def news(symbols: list[str], first: dt.date, last: dt.date) -> ProviderResult:
                # Sessions own (previous close, close]; the provider's range is [start, end).
                _, previous_close = calendar.session_open_close(calendar.previous_session(first))
                _, close = calendar.session_open_close(last)
                return self.provider.news(symbols, previous_close, close + dt.timedelta(seconds=1))

            return news
        if dataset == Dataset.SOCIAL_SENTIMENT:
            assert self._sentiment is not None, "made by stream()"
            return self._sentiment

        def actions(symbols: list[str], first: dt.date, last: dt.date) -> ProviderResult:
            # Ex-dates on the days after the previous session map to ``first``.
            return self.provider.corporate_actions(
                symbols, calendar.previous_session(first) + dt.timedelta(days=1), last
            )

        return actions

    def _trades(self, symbols: list[str], session: dt.date, since: dt.datetime | None) -> ProviderResult:
        """A session's trades; a trade outside the session's New York day is rejected with a reason."""
        result = self.provider.trades(symbols, session, since)
        frame = result.frame
        if frame.empty:
            return result
        reasons = np.where(outside_session(frame, [session]), f"timestamp outside session {session}", "")
        if not reasons.any():
            return result
        kept, rejects = split_rejects(frame, reasons.astype(object))
        return dataclasses.replace(
            result, frame=kept, rejects=pd.concat([result.rejects, rejects], ignore_index=True)
        )

    def _news_frame(self, layer: int, report: IngestReport) -> Callable[[ProviderResult], pd.DataFrame]:
        return lambda fetched: self._news_with_symbols(fetched, layer, report)

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
