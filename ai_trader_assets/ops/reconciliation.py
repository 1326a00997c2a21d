"""Cross-provider reconciliation of stored daily bars, no Dagster (the check, the job and the CLI use it).

For each compared (session, symbol) the stored bar is set against a second provider's: the close
must agree within ``close_tolerance`` (relative), the volume within ``volume_tolerance`` (relative;
consolidated feeds agree within a few percent, a single-exchange feed does not — configure Alpaca's
``feed: sip`` or raise the tolerance), and a session one side has and the other lacks is a divergence
too. Every divergence is a row of the ``reconciliation`` table; a comparison replaces the earlier rows
of the pairs it compared, so the table says what the latest comparison found.

The second provider is the first of ``reconciliation.against`` (providers.yaml) that is configured and
is not the stored rows' own source: a provider is never compared with itself.
"""

import dataclasses
import datetime as dt
import hashlib
import math
from collections.abc import Callable, Iterable, Sequence

import pandas as pd
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig, ReconciliationSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.partitions import PartitionData
from ai_trader_assets.providers.base import MarketDataProvider, ProviderError
from ai_trader_assets.read import MarketData
from ai_trader_assets.settings import Settings
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.schema import reconciliation as reconciliation_table

NEW_YORK = "America/New_York"
DATASET = Dataset.BARS_1DAY
FIELDS = ("close", "volume", "session")


@dataclasses.dataclass(frozen=True)
class Divergence:
    """Where the stored bar (``a``) and the second provider's (``b``) disagree."""

    session: dt.date
    symbol: str
    provider_a: str
    provider_b: str
    field: str  # close, volume or session (a session one side lacks: its value is None)
    value_a: float | None
    value_b: float | None

    @property
    def relative(self) -> float:
        """|a - b| / |b|; infinite when one side is missing (those sort first)."""
        if self.value_a is None or self.value_b is None or self.value_b == 0:
            return math.inf
        return abs(self.value_a - self.value_b) / abs(self.value_b)

    def describe(self) -> str:
        if self.field == "session":
            lacking = self.provider_b if self.value_b is None else f"stored ({self.provider_a})"
            return f"{self.symbol} {self.session}: {lacking} has no bar"
        return (
            f"{self.symbol} {self.session} {self.field}: {self.provider_a} {self.value_a:g} vs "
            f"{self.provider_b} {self.value_b:g} ({self.relative:.2%})"
        )


@dataclasses.dataclass
class ReconciliationReport:
    """What one comparison covered and found."""

    compared: int = 0  # (session, symbol) pairs compared
    divergences: list[Divergence] = dataclasses.field(default_factory=list)
    references: set[str] = dataclasses.field(default_factory=set)
    not_compared: list[str] = dataclasses.field(default_factory=list)  # why some pairs were not

    @property
    def passed(self) -> bool:
        return not self.divergences

    def worst(self, count: int) -> list[Divergence]:
        return sorted(self.divergences, key=lambda d: (-d.relative, d.session, d.symbol, d.field))[:count]

    def metadata(self, count: int) -> dict[str, str | int]:
        return {
            "symbol-sessions compared": self.compared,
            "compared with": ", ".join(sorted(self.references)) or "-",
            "divergences": len(self.divergences),
            "worst": "\n".join(d.describe() for d in self.worst(count)) or "-",
            "not compared": "; ".join(self.not_compared) or "-",
        }


def sample(symbols: Iterable[str], session: dt.date, size: int) -> list[str]:
    """A deterministic sample of ``size`` symbols for a session (a different one each session, so
    over time every symbol is compared; the same one on a re-run, so a re-run checks the same bars)."""

    def rank(symbol: str) -> str:
        return hashlib.sha256(f"{session.isoformat()}:{symbol}".encode()).hexdigest()

    return sorted(sorted(set(symbols), key=rank)[:size])


def _by_session(frame: pd.DataFrame) -> pd.DataFrame:
    """Daily bars keyed by (session, symbol), with close, volume and source."""
    if frame.empty:
        return pd.DataFrame(columns=["session", "symbol", "close", "volume", "source"])
    ts = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(NEW_YORK)
    return pd.DataFrame(
        {
            "session": [t.date() for t in ts],
            "symbol": frame["symbol"].astype(str).to_numpy(),
            "close": frame["close"].astype("float64").to_numpy(),
            "volume": frame["volume"].astype("float64").to_numpy(),
            "source": frame["source"].astype(str).to_numpy() if "source" in frame else "stored",
        }
    )


def compare(
    stored: pd.DataFrame,
    reference: pd.DataFrame,
    pairs: Iterable[tuple[dt.date, str]],
    provider_b: str,
    spec: ReconciliationSpec,
) -> list[Divergence]:
    """The divergences between stored daily bars and a second provider's over the given pairs.

    Args:
        stored, reference: Daily bars (``symbol, ts, close, volume[, source]``).
        pairs: The (session, symbol) pairs to compare: a pair neither side has is no divergence.
    """
    a = _by_session(stored).set_index(["session", "symbol"])
    b = _by_session(reference).set_index(["session", "symbol"])
    found: list[Divergence] = []
    for session, symbol in sorted(set(pairs)):
        in_a, in_b = (session, symbol) in a.index, (session, symbol) in b.index
        if not in_a and not in_b:
            continue
        source = str(a.loc[(session, symbol), "source"]) if in_a else _source_of(a, symbol)

        def divergence(field: str, value_a: float | None, value_b: float | None) -> Divergence:
            return Divergence(session, symbol, source, provider_b, field, value_a, value_b)  # noqa: B023

        if not in_a or not in_b:
            closes = (a.loc[(session, symbol), "close"] if in_a else None, None)
            if in_b:
                closes = (None, b.loc[(session, symbol), "close"])
            found.append(divergence("session", _float(closes[0]), _float(closes[1])))
            continue
        for field, tolerance in (("close", spec.close_tolerance), ("volume", spec.volume_tolerance)):
            value_a, value_b = float(a.loc[(session, symbol), field]), float(b.loc[(session, symbol), field])
            scale = max(abs(value_b), 1e-12)
            if abs(value_a - value_b) / scale > tolerance:
                found.append(divergence(field, value_a, value_b))
    return found


def _float(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def _source_of(indexed: pd.DataFrame, symbol: str) -> str:
    """The provider of a symbol's stored bars (for a session stored rows lack)."""
    rows = indexed.xs(symbol, level="symbol") if symbol in indexed.index.get_level_values("symbol") else None
    if rows is None or rows.empty:
        return "stored"
    return str(rows["source"].mode().iloc[0])


def reference_for(source: str, spec: ReconciliationSpec, available: Callable[[str], bool]) -> str | None:
    """The provider to compare rows of ``source`` with: the first configured one that is not it."""
    return next((name for name in spec.against if name != source and available(name)), None)


class Reconciler:
    """Compares stored daily bars with a second provider and records the divergences.

    Args:
        database: The market database (the ``reconciliation`` table).
        read_stored: Stored daily bars of symbols over sessions (MarketData.bars, raw).
        provider: Builds a provider by name (no failover: the comparison must name its source).
        available: Whether a provider is configured (its keys set).
        spec: Tolerances and the providers to compare with.
    """

    def __init__(
        self,
        database: MarketDatabase,
        read_stored: Callable[[Sequence[str], dt.date, dt.date], pd.DataFrame],
        provider: Callable[[str], MarketDataProvider],
        available: Callable[[str], bool],
        spec: ReconciliationSpec,
    ) -> None:
        self.database = database
        self._read_stored = read_stored
        self._provider = provider
        self._available = available
        self.spec = spec

    def reconcile(self, pairs: Sequence[tuple[dt.date, str]]) -> ReconciliationReport:
        """Compare the given (session, symbol) pairs and replace their rows in the table."""
        report = ReconciliationReport()
        if not pairs:
            return report
        sessions = sorted({s for s, _ in pairs})
        symbols = sorted({m for _, m in pairs})
        stored = self._read_stored(symbols, sessions[0], sessions[-1])
        by_session = _by_session(stored)
        # Each pair goes to the reference of its own stored row's source (failover may have mixed
        # sources within a symbol); a pair stored rows lack, to that of the symbol's usual source.
        keys = zip(by_session["session"], by_session["symbol"], strict=True)
        row_source = dict(zip(keys, by_session["source"], strict=True))
        usual = by_session.groupby("symbol")["source"].agg(lambda s: s.mode().iloc[0]).to_dict()
        groups: dict[str | None, list[tuple[dt.date, str]]] = {}
        for session, symbol in sorted(set(pairs)):
            source = row_source.get((session, symbol), usual.get(symbol, "stored"))
            groups.setdefault(reference_for(source, self.spec, self._available), []).append((session, symbol))
        for reference, group in groups.items():
            if reference is None:
                report.not_compared.append(
                    f"{len(group)} symbol-session(s): no configured provider in reconciliation.against "
                    f"({', '.join(self.spec.against)}) other than the rows' source"
                )
                continue
            group_symbols = sorted({m for _, m in group})
            first, last = min(s for s, _ in group), max(s for s, _ in group)
            try:
                theirs = self._provider(reference).bars(group_symbols, DATASET, first, last).frame
            except ProviderError as exc:
                report.not_compared.append(f"{len(group)} symbol-session(s): {reference} failed: {exc}")
                continue
            report.references.add(reference)
            report.compared += len(group)
            found = compare(stored, theirs, group, reference, self.spec)
            report.divergences.extend(found)
            self._record(group, reference, found)
        return report

    def _record(self, pairs: list[tuple[dt.date, str]], reference: str, found: list[Divergence]) -> None:
        table = reconciliation_table
        now = dt.datetime.now(tz=dt.UTC)
        with self.database.begin() as conn:
            for session in sorted({s for s, _ in pairs}):
                conn.execute(
                    sa.delete(table).where(
                        table.c.dataset == DATASET.value,
                        table.c.session == session,
                        table.c.provider_b == reference,
                        table.c.symbol.in_(sorted({m for s, m in pairs if s == session})),
                    )
                )
            if found:
                conn.execute(
                    sa.insert(table),
                    [
                        {
                            "dataset": DATASET.value,
                            "session": d.session,
                            "symbol": d.symbol,
                            "provider_a": d.provider_a,
                            "provider_b": d.provider_b,
                            "field": d.field,
                            "value_a": d.value_a,
                            "value_b": d.value_b,
                            "detected_at": now,
                        }
                        for d in found
                    ],
                )


def reconciliation_possible(settings: Settings, config: PlatformConfig) -> bool:
    """Whether a provider other than the primary is configured to compare daily bars with."""
    if settings.provider == "demo":
        return False
    access = settings.access
    return reference_for(settings.provider, config.providers.reconciliation, access.configured) is not None


def reconciler(
    database: MarketDatabase,
    lake: Lake,
    config: PlatformConfig,
    today: dt.date,
    *,
    provider: Callable[[str], MarketDataProvider],
    available: Callable[[str], bool],
) -> Reconciler:
    """A :class:`Reconciler` reading stored bars through :class:`MarketData` (hot and cold, raw)."""
    data = MarketData(database, lake, config=config, today=today)

    def read_stored(symbols: Sequence[str], first: dt.date, last: dt.date) -> pd.DataFrame:
        frame: pd.DataFrame = data.bars(list(symbols), "1day", first, last)
        return frame

    return Reconciler(database, read_stored, provider, available, config.providers.reconciliation)


class SampledPairs:
    """The (session, symbol) pairs a run fetched, sampled per session as the slices are stored."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pairs: set[tuple[dt.date, str]] = set()

    def add(self, stored: Sequence[PartitionData]) -> None:
        for data in stored:
            self.pairs.update((data.session, s) for s in sample(data.fetched, data.session, self.size))


def parse_date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"reconcile: {name} {value!r} is not a date (YYYY-MM-DD)") from None


def reconcile_range(
    reconciler_: Reconciler, symbols: Sequence[str], start: dt.date, end: dt.date
) -> ReconciliationReport:
    """Every session of ``start``..``end`` for every symbol.

    Raises:
        ValueError: no symbols, start after end, or no NYSE session in the range.
    """
    if not symbols:
        raise ValueError("reconcile: no symbols given")
    if start > end:
        raise ValueError(f"reconcile: start {start} is after end {end}")
    sessions = calendar.sessions(start, end)
    if not sessions:
        raise ValueError(f"reconcile: no NYSE session between {start} and {end}")
    return reconciler_.reconcile([(s, m) for s in sessions for m in symbols])
