"""The provider interface: every provider returns frames in its dataset's schema
(:mod:`ai_trader_assets.datasets`), the records it rejected (with a reason) and the calls it made (for
run metadata)."""

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.validation import EMPTY_REJECTS


class ProviderError(RuntimeError):
    """A provider request failed for good; the message names the endpoint (never the key)."""


class AuthenticationError(ProviderError):
    """401/403: the key is missing, wrong or lacks the entitlement. A configuration error: it is
    reported, never failed over (another provider would hide it)."""


class ProviderUnavailableError(ProviderError):
    """The provider cannot serve the request now or at all: retries exhausted (5xx storm, timeouts,
    429s), the daily quota spent, or a request it does not serve. The next provider may be tried."""


class QuotaExhaustedError(ProviderUnavailableError):
    """The configured daily request quota is used up; retry after the window rolls."""


class NotServedError(ProviderUnavailableError):
    """The provider does not serve this dataset or range (e.g. Yahoo's 1-minute bars past 30 days)."""


class PaginationError(ProviderError):
    """Pagination looped or a page came back shorter than it said: never a silent short result."""


def ingest_time() -> pd.Timestamp:
    """Now, as the ``ingested_at`` of the rows a provider returns."""
    return pd.Timestamp.now(tz="UTC").as_unit("us")


@dataclasses.dataclass(frozen=True)
class ProviderCall:
    """One HTTP request (or, for demo, one generated batch): what the UI shows per run."""

    endpoint: str  # path template, e.g. /v2/aggs/ticker/{ticker}/range — no key, no query values
    status: int
    latency_ms: float
    rows: int
    provider: str = ""


@dataclasses.dataclass(frozen=True)
class ProviderResult:
    """What one provider method returns.

    Attributes:
        frame: valid rows in the dataset's hot-table schema.
        rejects: rejected records, columns ``reason`` and ``record`` (JSON).
        calls: the provider calls made.
        links: for news only, ``news_symbols`` rows (news_id, symbol).
        served: provider name -> the symbols it was asked for and answered without failing (set by
            failover; a symbol it has no data for is still "served": the answer was empty).
        failovers: one line per provider given up on, with the reason.
        served_until: a delayed feed's horizon: nothing after this instant could be served, so a
            trading session is stored only up to it (None: real time).
        unanswered: (session, symbol) pairs the answer does not cover yet (sentiment whose news are
            not stored yet): their rows may be partial, and coverage does not record them.
    """

    frame: pd.DataFrame
    rejects: pd.DataFrame = dataclasses.field(default_factory=EMPTY_REJECTS.copy)
    calls: tuple[ProviderCall, ...] = ()
    links: pd.DataFrame | None = None
    served: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    failovers: tuple[str, ...] = ()
    served_until: dt.datetime | None = None
    unanswered: frozenset[tuple[dt.date, str]] = frozenset()


class MarketDataProvider(Protocol):
    """One interface for every provider; frames use the hot-table schemas."""

    name: str

    @property
    def grouped_daily(self) -> bool:
        """Whether ``grouped_daily_bars`` is one request for the whole market (Polygon's grouped
        endpoint): then a session of daily bars for many symbols is fetched grouped, otherwise per
        symbol over the range."""
        ...

    def grouped_daily_bars(self, session: dt.date, symbols: Sequence[str]) -> ProviderResult:
        """Daily bars of one session for ``symbols`` (Polygon: one request for the whole market)."""
        ...

    def bars(
        self,
        symbols: Sequence[str],
        dataset: Dataset,
        start: dt.date,
        end: dt.date,
        since: dt.datetime | None = None,
    ) -> ProviderResult:
        """Bars of one interval for ``symbols`` over the sessions ``start``..``end`` (inclusive);
        with ``since``, the request may start there (a refresh of a trading session: the caller
        keeps bars starting at or after it)."""
        ...

    def news(self, symbols: Sequence[str], start: dt.datetime, end: dt.datetime) -> ProviderResult:
        """Articles naming ``symbols`` published in [start, end); ``links`` maps them to symbols."""
        ...

    def corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> ProviderResult:
        """Splits and dividends of ``symbols`` with an ex/execution date in ``start``..``end``."""
        ...

    def trades(
        self, symbols: Sequence[str], session: dt.date, since: dt.datetime | None = None
    ) -> ProviderResult:
        """Every trade of ``symbols`` in the session's New York day (pre- and post-market included),
        in the ``ticks`` schema; with ``since``, those at or after it (a refresh of a trading
        session). Every page to the end, or an error: never a silently short answer."""
        ...


class SessionFiles(MarketDataProvider, Protocol):
    """A source of whole sessions, one object each (Massive's flat files): the planner weighs them by
    their real sizes."""

    def object_sizes(self, dataset: Dataset, sessions: Sequence[dt.date]) -> dict[dt.date, int]:
        """The size in bytes of each session's object ``dataset`` is read from, for the sessions the
        source has (a session it lacks is left out)."""
        ...


LISTING_COLUMNS: dict[str, Any] = {
    "symbol": "string",
    "name": "string",
    "exchange": "string",
    "type": "string",
}


@runtime_checkable
class UniverseSource(Protocol):
    """A provider that lists the tradable stocks (the ``universe`` asset's input)."""

    name: str

    def listed_stocks(self) -> ProviderResult:
        """Every active stock the provider lists: ``symbol, name, exchange`` (MIC), ``type`` (Polygon's
        codes: CS, ADRC, ETF, ...). Rejects: entries whose ticker is not a valid symbol."""
        ...

    def ticker_changes(self, symbol: str) -> list[tuple[str, str, dt.date]]:
        """The ticker changes of the company now trading as ``symbol``: ``(old, new, first session
        under new)``, oldest first."""
        ...
