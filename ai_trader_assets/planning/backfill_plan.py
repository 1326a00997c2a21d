"""What ``ai-trader backfill`` would fetch, no Dagster: sessions, symbols, datasets, runs, requests.

A selection is a layer (``layer2``), ``all`` layers, or symbols (``AAPL,MSFT``), which are grouped by
their current layer because partitions are (session, layer). Without ``--days`` each dataset gets its
layer's cold window (the retention policy); a user's ``--days`` is always honoured, even past that
window (the plan then says retention will prune the surplus). Runs are sized by the rows they imply
(:mod:`ai_trader_assets.planning.runs`). The estimate counts only the (session, symbol) pairs storage
lacks, the way the assets' gap-aware fetch does, and mirrors how the runs fetch (slice by slice) and
how the Polygon provider pages: grouped daily bars per session, one paged request per symbol otherwise.

Bars can also come from Massive's flat files, when their keys are set: per dataset the planner
takes the cheaper of REST and the files (:mod:`ai_trader_assets.planning.sources`).
"""

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import NoReturn

from ai_trader_assets import calendar
from ai_trader_assets.config import FLATFILE_KINDS, GROUPED_DAILY, PlatformConfig, RateLimit
from ai_trader_assets.config.sentiment import REDDIT_LISTING_CAP
from ai_trader_assets.datasets import INGESTED_DATASETS, LAYERS, Dataset
from ai_trader_assets.datasets.symbols import validate_symbol
from ai_trader_assets.ingest.slices import FetchSlice, plan_slices
from ai_trader_assets.planning.runs import RunGroup, backfill_parts, cut_sessions, run_groups
from ai_trader_assets.planning.sources import (
    SOURCES,
    FlatFilePlan,
    flatfile_plan,
    published,
)
from ai_trader_assets.providers.base import AuthenticationError, ProviderUnavailableError, SessionFiles
from ai_trader_assets.settings import FLATFILES, ProviderKind, end_of_day, needed_keys
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.ledger import Ledger

LAYER_SELECTION = re.compile(r"^layer([0-9]+)$")


class BackfillPlanError(ValueError):
    """The selection cannot be planned (unknown symbol, dataset, empty layer...); says how to fix it."""


@dataclasses.dataclass(frozen=True)
class DatasetPlan:
    dataset: Dataset
    sessions: tuple[dt.date, ...]
    missing_pairs: int  # (session, symbol) pairs storage lacks: what will be fetched
    requests: int  # estimated REST requests for those pairs (with flat files: the unpublished sessions')
    past_cold_window: int  # sessions older than the layer's cold window (kept until retention runs)
    flatfiles: FlatFilePlan | None = None  # set when the dataset is read from flat files

    @property
    def via(self) -> str:
        return "flat files" if self.flatfiles else "REST"

    @property
    def first(self) -> dt.date:
        return self.sessions[0]

    @property
    def last(self) -> dt.date:
        return self.sessions[-1]


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    layer: int
    symbols: tuple[str, ...]
    datasets: tuple[DatasetPlan, ...]
    runs: tuple[RunGroup, ...] = ()  # the runs its launch makes (datasets with something to fetch)

    @property
    def to_launch(self) -> tuple[DatasetPlan, ...]:
        """The datasets with something to fetch (a dataset storage already has needs no run)."""
        return tuple(d for d in self.datasets if d.missing_pairs)


@dataclasses.dataclass(frozen=True)
class BackfillPlan:
    today: dt.date
    days: int | None
    provider: str
    rate_limit: RateLimit
    layers: tuple[LayerPlan, ...]
    notes: tuple[str, ...]

    @property
    def requests(self) -> int:
        return sum(d.requests for layer in self.layers for d in layer.datasets)

    @property
    def from_files(self) -> tuple[FlatFilePlan, ...]:
        return tuple(d.flatfiles for layer in self.layers for d in layer.datasets if d.flatfiles)

    @property
    def estimated_seconds(self) -> float:
        return seconds_at_rate_limit(self.requests, self.rate_limit)

    @property
    def partitions(self) -> int:
        return sum(len(d.sessions) for layer in self.layers for d in layer.datasets)

    @property
    def runs(self) -> int:
        return sum(len(layer.runs) for layer in self.layers)


def seconds_at_rate_limit(requests: int, limit: RateLimit) -> float:
    """The fastest the limiter lets ``requests`` through: the tighter of the per-second and per-minute
    rates, after the burst (the daily quota is reported separately)."""
    paced = max(0, requests - limit.burst)
    return max(paced / limit.requests_per_second, paced * 60 / limit.requests_per_minute)


def parse_datasets(raw: str | None) -> tuple[Dataset, ...] | None:
    """``bars_1day,news`` -> datasets; None means every dataset the layer ingests."""
    if raw is None or not raw.strip():
        return None
    known = {d.value: d for d in INGESTED_DATASETS}
    chosen = []
    for name in (part.strip() for part in raw.split(",") if part.strip()):
        if name not in known:
            raise BackfillPlanError(f"unknown dataset {name!r}; choose from {', '.join(known)}")
        chosen.append(known[name])
    return tuple(dict.fromkeys(chosen))


class BackfillPlanner:
    def __init__(
        self,
        companies: CompaniesRepository,
        ledger: Ledger,
        config: PlatformConfig,
        today: dt.date,
        provider: ProviderKind,
        *,
        now: dt.datetime | None = None,
        reddit: bool = False,
        flatfiles: SessionFiles | None = None,
        source: str = "auto",
    ) -> None:
        """``flatfiles``: Massive's flat files when they are set up (their keys); ``source``: auto
        (the cheaper), rest, or flatfiles (forced, for the bar datasets)."""
        if source not in SOURCES:
            raise BackfillPlanError(f"--source {source!r}: expected one of {', '.join(SOURCES)}")
        if source == "flatfiles" and provider == "demo":
            raise BackfillPlanError(
                "--source flatfiles: the demo provider's data is synthetic; there are no files"
            )
        if source == "flatfiles" and flatfiles is None:
            raise BackfillPlanError(f"--source flatfiles needs {needed_keys(FLATFILES)} (Massive's S3 keys)")
        self.companies = companies
        self.reddit = reddit  # whether the Reddit source is on (its variables are set)
        self.source = source if flatfiles is not None and provider != "demo" else "rest"
        self.files = flatfiles
        spec = config.providers.providers.get(FLATFILES)
        if self.source != "rest" and (spec is None or spec.flat_files is None):
            raise BackfillPlanError(
                "providers.yaml has no providers.massive_flatfiles.flat_files entry (bytes_per_second)"
            )
        self.costs = spec.flat_files if spec else None
        self.ledger = ledger
        self.config = config
        self.today = today
        self.provider = provider
        # The latest partition is the latest session opened by now (default: the end of today).
        self.now = now or end_of_day(today)
        self.latest = calendar.latest_opened_session(self.now)

    def plan(
        self,
        selection: str,
        days: int | None,
        datasets: Sequence[Dataset] | None,
        *,
        refresh: bool = False,
    ) -> BackfillPlan:
        """``refresh``: everything is refetched, not only what storage lacks."""
        if days is not None and days < 1:
            raise BackfillPlanError(f"--days must be at least 1 (got {days})")
        notes: list[str] = []
        symbols_by_layer = self._select(selection, notes)
        layers = []
        for layer, symbols in sorted(symbols_by_layer.items(), reverse=True):
            layer_plan = self._layer(
                layer=layer, symbols=symbols, days=days, wanted=datasets, refresh=refresh, notes=notes
            )
            if layer_plan is not None:
                layers.append(layer_plan)
        if not layers:
            wanted = ", ".join(d.value for d in datasets or ())
            raise BackfillPlanError(
                f"no selected layer ingests {wanted} (see config/layers.yaml); nothing to backfill"
            )
        limit = self.config.providers.providers[self.provider].rate_limit
        requests = sum(d.requests for layer in layers for d in layer.datasets)
        if limit.daily_quota is not None and requests > limit.daily_quota:
            notes.append(
                f"{requests} requests exceed {self.provider}'s daily quota of {limit.daily_quota}: runs "
                "fail once it is spent; relaunch the next day and only what is still missing is fetched"
            )
        return BackfillPlan(self.today, days, self.provider, limit, tuple(layers), tuple(notes))

    # ------------------------------------------------------------ selection

    def _select(self, selection: str, notes: list[str]) -> dict[int, list[str]]:
        text = selection.strip()
        if text.lower() == "all":
            members = {layer: self.companies.members(layer) for layer in LAYERS}
            selected = {layer: symbols for layer, symbols in members.items() if symbols}
            return selected or _no_symbols_in(text)
        if match := LAYER_SELECTION.match(text.lower()):
            layer = int(match.group(1))
            if layer not in LAYERS:
                raise BackfillPlanError(f"there is no layer {layer}; layers are {LAYERS[0]}-{LAYERS[-1]}")
            layer_members = self.companies.members(layer)
            return {layer: layer_members} if layer_members else _no_symbols_in(text)
        symbols = [validate_symbol(part) for part in text.split(",") if part.strip()]
        if not symbols:
            raise BackfillPlanError("--symbols is empty; give layer0-layer3, all, or symbols like AAPL,MSFT")
        layers = self.companies.layers_of(symbols)
        unknown = [s for s in symbols if s not in layers]
        if unknown:
            raise BackfillPlanError(
                f"unknown symbol(s) {', '.join(unknown)}; add them with 'ai-trader companies import FILE.csv'"
            )
        grouped: dict[int, list[str]] = {}
        for symbol in dict.fromkeys(symbols):
            symbol_layer = layers[symbol]
            if symbol_layer is None:
                notes.append(
                    f"{symbol} has no layer (inactive, unqualified) and is skipped; "
                    f"give it one with 'ai-trader companies set-layer {symbol} 0'"
                )
                continue
            grouped.setdefault(symbol_layer, []).append(symbol)
        if not grouped:
            raise BackfillPlanError(f"none of {', '.join(symbols)} is in a layer; nothing to backfill")
        return grouped

    # ---------------------------------------------------------------- layers

    def _layer(
        self,
        *,
        layer: int,
        symbols: list[str],
        days: int | None,
        wanted: Sequence[Dataset] | None,
        refresh: bool,
        notes: list[str],
    ) -> LayerPlan | None:
        ingested = self.config.layers.layers[layer].datasets  # type: ignore[index]
        chosen = [d for d in ingested if wanted is None or d in wanted]
        skipped = [d.value for d in wanted or () if d not in ingested]
        if skipped:
            notes.append(f"layer {layer} does not ingest {', '.join(skipped)} (layers.yaml): skipped")
        plans = []
        for dataset in chosen:
            window = self.config.window(layer, dataset)
            assert window is not None  # validated: every ingested dataset has a window
            span = days if days is not None else window.cold_days
            sessions = self._sessions(span, notes)
            if not sessions:
                continue
            past = sum(1 for s in sessions if not window.is_kept(s, self.today))
            if past:
                notes.append(
                    f"layer {layer} {dataset.value}: {past} session(s) lie past its {window.cold_days}-day "
                    "cold window; they are fetched as asked and pruned by the next retention run"
                )
            missing = self._missing(dataset, sessions, symbols, refresh)
            pairs = sum(map(len, missing.values()))
            requests = self._requests(dataset, missing, len(symbols))
            files, requests = self._flatfiles(dataset, missing, len(symbols), requests, notes)
            plans.append(DatasetPlan(dataset, tuple(sessions), pairs, requests, past, files))
        if not plans:
            return None
        return LayerPlan(layer, tuple(symbols), tuple(plans), self._runs(len(symbols), plans))

    def _runs(self, symbols: int, plans: list[DatasetPlan]) -> tuple[RunGroup, ...]:
        """The runs launching this layer makes: backfill parts sized by rows, datasets sharing runs."""
        wanted = {d.dataset: d.sessions for d in plans if d.missing_pairs}
        return tuple(g for part in backfill_parts(self.config, symbols, wanted) for g in run_groups(part))

    def _sessions(self, days: int, notes: list[str]) -> list[dt.date]:
        """Sessions d with today - d < days (calendar days, like retention), from the first partition
        (where the longest retention window starts, never before pipeline.yaml partitions.start_date)."""
        first = max(self.config.window_start(days, self.today), self.config.partitions_start(self.today))
        if (self.today - first).days + 1 < days:  # clipped at the first partition
            note = (
                f"sessions before {first} are not partitions (no layer's window reaches them, "
                "or pipeline.yaml partitions.start_date)"
            )
            if note not in notes:
                notes.append(note)
        return calendar.sessions(first, self.latest)

    def _missing(
        self, dataset: Dataset, sessions: list[dt.date], symbols: list[str], refresh: bool
    ) -> dict[dt.date, list[str]]:
        covered = set() if refresh else self.ledger.covered(dataset, sessions, symbols)
        return {s: [m for m in symbols if (s, m) not in covered] for s in sessions}

    # ------------------------------------------------------------ flat files

    def _flatfiles(
        self,
        dataset: Dataset,
        missing: dict[dt.date, list[str]],
        symbols: int,
        rest_requests: int,
        notes: list[str],
    ) -> tuple[FlatFilePlan | None, int]:
        """The flat-file reading of a dataset's sessions the bucket has, when it is cheaper than REST
        for them (or forced), with the REST requests still made for the others; else None."""
        if self.source == "rest" or self.costs is None or self.files is None or dataset not in FLATFILE_KINDS:
            return None, rest_requests
        wanted = [s for s, pairs in missing.items() if pairs and published(s, self.now)]
        try:
            sizes = self.files.object_sizes(dataset, wanted) if wanted else {}
        except AuthenticationError as exc:
            raise BackfillPlanError(str(exc)) from None
        except ProviderUnavailableError as exc:
            notes.append(f"flat files not listed ({exc}): {dataset.value} planned over REST")
            return None, rest_requests
        if not sizes:
            return None, rest_requests
        limit = self.config.providers.providers[self.provider].rate_limit
        same = self._requests(dataset, {s: missing[s] for s in sizes}, symbols)
        plan = flatfile_plan(sizes, self.costs, same, limit)
        if self.source == "auto" and plan.seconds >= plan.rest_seconds:
            return None, rest_requests
        return plan, self._requests(dataset, {s: p for s, p in missing.items() if s not in sizes}, symbols)

    # -------------------------------------------------------------- estimate

    def _requests(self, dataset: Dataset, missing: dict[dt.date, list[str]], symbols: int) -> int:
        """Provider requests for the missing pairs, the way the runs fetch them: run by run (cut by
        rows, ``runs`` in pipeline.yaml), slice by slice within a run."""
        runs = self.config.pipeline.runs
        rows_per_pair = runs.budget(dataset).rows_per_symbol_session
        total = 0
        for chunk in cut_sessions(self.config, dataset, symbols, sorted(missing)):
            wanted = {s: missing[s] for s in chunk if missing[s]}
            for piece in plan_slices(
                dataset, wanted, rows_per_pair, runs.slice_rows, self.provider in GROUPED_DAILY
            ):
                total += self._requests_in_slice(dataset, piece)
        return total

    def _requests_in_slice(self, dataset: Dataset, piece: FetchSlice) -> int:
        if piece.grouped_sessions:
            return len(piece.grouped_sessions)  # the grouped-daily endpoint: one request per session
        symbols = sum(len(call.symbols) for call in piece.calls)
        if dataset == Dataset.CORPORATE_ACTIONS:
            return 2 * symbols  # splits and dividends
        if dataset == Dataset.NEWS:
            return symbols  # at least one page each; busy names page further
        if dataset == Dataset.SOCIAL_SENTIMENT:
            # Computed from the stored news; with Reddit, each window's listings are read once per
            # run: up to Reddit's cap of pages per subreddit (comments add one request per post).
            reddit = self.config.sentiment.reddit
            pages = math.ceil(REDDIT_LISTING_CAP / reddit.page_size)
            windows = len({(c.first, c.last) for c in piece.calls})
            return windows * len(reddit.subreddits) * pages if self.reddit else 0
        if dataset == Dataset.TICKS:  # a symbol-session's trades, paged
            page = self.config.providers.providers[self.provider].page_sizes.trades or math.inf
            trades = self.config.pipeline.runs.budget(dataset).rows_per_symbol_session
            pairs = sum(len(c.symbols) * len(calendar.sessions(c.first, c.last)) for c in piece.calls)
            return pairs * max(1, math.ceil(trades / page))
        # Providers without a bars page size answer a symbol's range in one response (yahoo, demo).
        page = self.config.providers.providers[self.provider].page_sizes.aggregates or math.inf
        requests = 0
        for call in piece.calls:
            bars = sum(_bars_per_session(dataset, s) for s in calendar.sessions(call.first, call.last))
            requests += len(call.symbols) * max(1, math.ceil(bars / page))
        return requests


def _no_symbols_in(selection: str) -> NoReturn:
    raise BackfillPlanError(
        f"no symbols in {selection}; load companies with 'ai-trader companies import FILE.csv'"
    )


def _bars_per_session(dataset: Dataset, session: dt.date) -> int:
    minutes = calendar.session_minutes(session)
    if dataset == Dataset.BARS_1MIN:
        return minutes
    if dataset == Dataset.BARS_5MIN:
        return math.ceil(minutes / 5)
    if dataset == Dataset.BARS_1HOUR:
        return math.ceil((minutes + 30) / 60)  # clock hours from the 09:30 open
    return 1
