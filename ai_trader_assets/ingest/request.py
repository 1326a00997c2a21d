"""What a run asks of ingestion (:class:`IngestRequest`: partitions, today, the run's clock, a full
refresh, a backfill request's symbols), what it reports (:class:`IngestReport`, shown in the UI) and
what it hands storage (:class:`IngestStream`: the partitions, slice by slice)."""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ai_trader_assets.config import RetentionWindow
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.partitions import PartitionData
from ai_trader_assets.providers.base import ProviderCall, ProviderResult
from ai_trader_assets.settings import end_of_day


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
    # Sentiment only: whether the Reddit part ran (or why not), and the social items it stored.
    reddit: str = ""
    social_items: int = 0

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
    social = {"reddit": report.reddit, "social items stored": report.social_items} if report.reddit else {}
    return social | {
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
