"""``MarketData``: the one read path for people and programs (the CLI, the IO manager, backtests).

Longer than 400 lines because it is the public read API in one class: each read's arguments and
documentation are what its callers see; the work is in the modules it calls.

Each read is checked first (:mod:`.requests`: symbols known, interval ingested by a layer the symbol
has held, dates in order and not in the future), then served from cold with each symbol's newest
rows from hot where cold does not hold them yet (:mod:`.rows` over :mod:`.sources`), sorted, one row
per key, and adjusted at read (:mod:`.factors` reads what :mod:`.adjustment` applies).
``last_read`` reports what was read: rows from each source, the Delta versions (pin one with
``version=`` to read exactly the same data again) and, for an empty result, why it is empty.
"""

import concurrent.futures
import datetime as dt
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

import pandas as pd
import polars as pl

from ai_trader_assets.config import PlatformConfig, load_config
from ai_trader_assets.datasets import LAYERS, Dataset
from ai_trader_assets.datasets.resample import bars_from_bars
from ai_trader_assets.datasets.sentiment import SOURCES as SENTIMENT_SOURCES
from ai_trader_assets.read.adjustment import (
    apply,
)
from ai_trader_assets.read.explain import why_empty
from ai_trader_assets.read.factors import ActionFactors, Adjusting
from ai_trader_assets.read.intervals import DerivedInterval, bars_from_trades, parse_interval
from ai_trader_assets.read.requests import (
    INTERVALS,
    Output,
    Pin,
    ReadError,
    adjust_mode,
    as_of_date,
    bar_dataset,
    date_range,
    output_kind,
    pin_of,
    symbols_of,
)
from ai_trader_assets.read.results import (
    ReadReport,
    columns_of,
    condition_ids,
    describe,
    to_pandas,
)
from ai_trader_assets.read.rows import StoredRows
from ai_trader_assets.read.sources import (
    ColdSource,
    HotSource,
)
from ai_trader_assets.read.symbols import LayerLookup, SymbolLayers
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.location import lake_from_settings
from ai_trader_assets.storage.lake.tables import lake_tables

TICKS_DEFAULT_DAYS = 7  # ticks are kept 7 days (retention.yaml): a default read asks for that


class MarketData:
    """Bars, news and corporate actions across hot and cold storage, adjusted at read.

    Args:
        database: The market database (companies, hot tables).
        lake: The lake holding the Delta tables.
        config: The platform configuration (default: the config folder of the environment).
        today: "Today" for defaults, future-date checks and ``as_of`` (default: ``AI_TRADER_AS_OF`` or
            New York's date).
    """

    def __init__(
        self,
        database: MarketDatabase,
        lake: Lake,
        *,
        config: PlatformConfig | None = None,
        today: dt.date | None = None,
    ) -> None:
        self.database = database
        self.lake = lake
        self.config = config or load_config(load_settings().config_dir)
        self.today = today or load_settings().today()
        self._layers = LayerLookup(database)
        self.rows = StoredRows(ColdSource(lake_tables(lake, self.config)), HotSource(database), self._layers)
        self.adjustment = ActionFactors(self.rows, self.today)
        self.last_read: ReadReport | None = None
        self._owns_database = False
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    @classmethod
    def from_env(cls) -> "MarketData":
        """The market database, lake, configuration and today of the environment (``AI_TRADER_*``)."""
        settings = load_settings()
        config = load_config(settings.config_dir)
        database = MarketDatabase(settings.database_url, config.pipeline.database)
        reader = cls(database, lake_from_settings(settings), config=config, today=settings.today())
        reader._owns_database = True
        return reader

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._owns_database:
            self.database.dispose()

    def _background(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="market-data"
            )
        return self._pool

    def __enter__(self) -> "MarketData":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ reads

    def bars(
        self,
        symbols: str | Iterable[str],
        interval: str,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        *,
        adjust: str = "none",
        as_of: dt.date | str | None = None,
        version: int | dt.datetime | str | None = None,
        columns: Sequence[str] | None = None,
        output: str = "pandas",
    ) -> Any:
        """OHLCV bars of sessions ``start``..``end`` (both included; default the last 30 days).

        Args:
            symbols: Symbols, as a list or ``"AAPL,MSFT"``.
            interval: ``1day``, ``1hour``, ``5min`` or ``1min`` (stored), or any other interval built
                on read (:mod:`.intervals`): seconds dividing a minute (``10s``, ``30s``) from the
                trades of layer 3, minutes dividing an hour (``2min``, ``15min``) from 1-minute bars
                (5-minute bars for symbols whose layers keep no 1-minute bars).
            adjust: ``none`` (raw, as stored), ``splits`` or ``all`` (splits and cash dividends).
            as_of: Only corporate actions with an ex-date on or before it apply (default today).
            version: Read the bars table at this Delta version (or every table at this time).
            columns: Bar columns to return (default: every column but ``ingested_at``).
            output: ``pandas`` (default), ``arrow`` or ``polars``.

        Returns:
            One row per (symbol, ts), sorted by it; ``ts`` the bar start, tz-aware UTC.

        Raises:
            ReadError: The request cannot be answered as asked (the message says why).
        """
        if str(interval).strip().lower() not in INTERVALS:
            derived = self._derived_interval(interval, symbols)
            if derived is not None:
                return self._derived_bars(
                    derived, symbols, start, end, adjust, as_of, version, columns, output
                )
        dataset = bar_dataset(interval)
        mode, kind = adjust_mode(adjust), output_kind(output)
        wanted = columns_of(columns, dataset)
        point = as_of_date(as_of, self.today)
        report, layers, pin = self._begin(dataset, symbols, start, end, version)
        ask = Adjusting(report.symbols, report.start, point, mode, layers, pin)
        side = ReadReport(report.dataset, report.symbols, report.start, report.end)
        # The actions (for intraday bars also the dividends' reference closes, which daily bars hold
        # themselves) are read beside the bars, in a thread: lake and database reads release the GIL.
        daily = dataset == Dataset.BARS_1DAY
        read = self.adjustment.actions if daily else self.adjustment.factors
        pending = None if mode == "none" else self._background().submit(read, ask, side)
        rows = self.rows.read(dataset, report, layers, pin)
        table = None
        if pending is not None:
            table = pending.result()
            report.versions |= side.versions
            if daily:  # no bars, nothing to adjust (and no close to look for)
                table = None if rows.is_empty() else self.adjustment.of_actions(table, ask, report, rows)
        if table is not None:
            rows = apply(rows, table)
            report.actions_applied = table.height
        report.adjust, report.as_of = mode, point
        return self._finish(rows.select(wanted), report, kind)

    def ticks(
        self,
        symbols: str | Iterable[str],
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        *,
        regular_hours: bool = True,
        version: int | dt.datetime | str | None = None,
        columns: Sequence[str] | None = None,
        output: str = "pandas",
    ) -> Any:
        """Every stored trade of the symbols in sessions ``start``..``end`` (default: the last 7 days),
        sorted by (symbol, time); ``regular_hours=False`` adds pre- and post-market trades.

        ``ts`` is the exact SIP time (nanoseconds, tz-aware UTC); ``conditions`` a list of Polygon's
        condition ids (:mod:`ai_trader_assets.datasets.conditions`); prices raw, as printed.
        """
        kind = output_kind(output)
        wanted = columns_of(columns, Dataset.TICKS)
        rows, report = self._tick_rows(symbols, start, end, version, regular_hours)
        rows = condition_ids(rows).with_columns(
            pl.col("sip_timestamp").cast(pl.Datetime("ns", "UTC")).alias("ts")
        )
        return self._finish(rows.select(wanted), report, kind)

    def news(
        self,
        symbols: str | Iterable[str],
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        *,
        version: int | dt.datetime | str | None = None,
        output: str = "pandas",
    ) -> Any:
        """Articles naming any of the symbols, of sessions ``start``..``end`` (an article belongs to the
        session whose (previous close, close] holds its publication), sorted by (published_utc, id)."""
        return self._records(Dataset.NEWS, symbols, start, end, version, output)

    def sentiment(
        self,
        symbols: str | Iterable[str],
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        *,
        source: str | None = None,
        version: int | dt.datetime | str | None = None,
        output: str = "pandas",
    ) -> Any:
        """Per symbol and session (``ts``: the session's midnight in New York, as a daily bar), the
        tone of what was written about it: mentions, unique authors, posts, comments, VADER's mean and
        median compound score, the bullish and bearish shares and the top item ids; one row per
        source (``reddit``, ``news``; ``source=`` keeps one). Layers 2 and 3, sorted by (symbol, ts,
        source)."""
        if source not in (None, *SENTIMENT_SOURCES):
            raise ReadError(
                f"unknown sentiment source {source!r}: expected one of {', '.join(SENTIMENT_SOURCES)}"
            )
        kind = output_kind(output)
        dataset = Dataset.SOCIAL_SENTIMENT
        report, layers, pin = self._begin(dataset, symbols, start, end, version)
        rows = self.rows.read(dataset, report, layers, pin)
        if source is not None:
            rows = rows.filter(pl.col("source") == source)
        return self._finish(rows.select(columns_of(None, dataset)), report, kind)

    def corporate_actions(
        self,
        symbols: str | Iterable[str],
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        *,
        version: int | dt.datetime | str | None = None,
        output: str = "pandas",
    ) -> Any:
        """Splits and dividends of the symbols with an ex-date in ``start``..``end``, sorted by
        (symbol, ex_date); raw, as the providers reported them."""
        return self._records(Dataset.CORPORATE_ACTIONS, symbols, start, end, version, output)

    def adjustment_factors(
        self,
        symbols: str | Iterable[str],
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        *,
        adjust: str = "all",
        as_of: dt.date | str | None = None,
    ) -> pd.DataFrame:
        """The factors of the actions with an ex-date in ``start``..``end`` (and on or before ``as_of``):
        per action its ``price_factor`` and ``volume_factor``, which multiply the bars of every session
        before its ex-date; ``reference_close`` is a dividend's raw close of the session before."""
        mode = adjust_mode(adjust)
        point = as_of_date(as_of, self.today)
        report, layers, pin = self._begin(Dataset.CORPORATE_ACTIONS, symbols, start, end, None)
        last = min(report.end, point)
        after = report.start - dt.timedelta(days=1)
        table = self.adjustment.factors(Adjusting(report.symbols, after, last, mode, layers, pin), report)
        report.rows, report.adjust, report.as_of = table.height, mode, point
        self.last_read = report
        return to_pandas(table)

    # ------------------------------------------------------------- internals

    def _tick_rows(
        self,
        symbols: str | Iterable[str],
        start: dt.date | str | None,
        end: dt.date | str | None,
        version: int | dt.datetime | str | None,
        regular_hours: bool,
    ) -> tuple[pl.DataFrame, ReadReport]:
        """Stored trades with their ``session`` (``ts`` at microseconds, conditions as stored)."""
        if start is None:
            last = date_range(None, end, self.today)[1]
            start = last - dt.timedelta(days=TICKS_DEFAULT_DAYS - 1)
        report, layers, pin = self._begin(Dataset.TICKS, symbols, start, end, version)
        rows = self.rows.read(Dataset.TICKS, report, layers, pin)
        if regular_hours:
            rows = rows.filter(pl.col("regular_hours"))
        return rows, report

    def _require_tick_window(self, name: str, start: dt.date) -> None:
        """Bars from trades exist only where trades are kept: a clear error before that."""
        kept = [w.cold_days for n in LAYERS if (w := self.config.window(n, Dataset.TICKS)) is not None]
        since = self.today - dt.timedelta(days=max(kept, default=0) - 1)
        if start < since:
            raise ReadError(
                f"{name} bars are built from trades, which are kept {max(kept, default=0)} days "
                f"(retention.yaml ticks): ask for sessions from {since} on, or a stored interval"
            )

    def _derived_interval(self, interval: str, symbols: str | Iterable[str]) -> DerivedInterval | None:
        """The interval to build on read (None: not a derived interval's name)."""
        names = symbols_of(symbols)
        held = self._layers.of(names).held
        keeps_minutes = {n for n in LAYERS if self.config.ingests(n, Dataset.BARS_1MIN)}
        every_keeps = all(held[s] & keeps_minutes for s in names)
        try:
            return parse_interval(interval, Dataset.BARS_1MIN if every_keeps else Dataset.BARS_5MIN)
        except ValueError as exc:
            raise ReadError(str(exc)) from None

    def _derived_bars(  # noqa: PLR0917 - bars()'s own arguments, passed on
        self,
        derived: DerivedInterval,
        symbols: str | Iterable[str],
        start: dt.date | str | None,
        end: dt.date | str | None,
        adjust: str,
        as_of: dt.date | str | None,
        version: int | dt.datetime | str | None,
        columns: Sequence[str] | None,
        output: str,
    ) -> Any:
        """Bars at an interval the store does not hold, with the stored intervals' columns, adjustment
        and point-in-time rules (see :mod:`.intervals`)."""
        kind = output_kind(output)
        wanted = columns_of(columns, Dataset.BARS_1MIN)
        now = load_settings().now()
        if derived.source == Dataset.TICKS:
            mode, point = adjust_mode(adjust), as_of_date(as_of, self.today)
            first = date_range(start, end, self.today)[0] if start is not None else None
            if first is not None:
                self._require_tick_window(derived.name, first)
            trades, report = self._tick_rows(symbols, start, end, version, regular_hours=True)
            rows = bars_from_trades(trades, derived.seconds, now)
            if mode != "none" and not rows.is_empty():
                layers = self._layers.of(report.symbols)
                ask = Adjusting(
                    report.symbols, report.start, point, mode, layers, pin_of(Dataset.TICKS, version)
                )
                table = self.adjustment.factors(ask, report)
                rows = apply(rows, table)
                report.actions_applied = table.height
            report.adjust, report.as_of = mode, point
        else:
            source = "1min" if derived.source == Dataset.BARS_1MIN else "5min"
            stored = self.bars(
                symbols,
                source,
                start,
                end,
                adjust=adjust,
                as_of=as_of,
                version=version,
                output="polars",
                columns=[*wanted, "session"] if "session" not in wanted else wanted,
            )
            assert self.last_read is not None
            report = self.last_read
            rows = bars_from_bars(stored, derived.seconds, now)
        report.interval = derived.name
        return self._finish(rows.select(wanted), report, kind)

    def _records(  # noqa: PLR0917 - the public reads' own arguments, passed on
        self,
        dataset: Dataset,
        symbols: str | Iterable[str],
        start: dt.date | str | None,
        end: dt.date | str | None,
        version: int | dt.datetime | str | None,
        output: str,
    ) -> Any:
        """News or corporate actions: read as they are stored (no adjustment)."""
        kind = output_kind(output)
        report, layers, pin = self._begin(dataset, symbols, start, end, version)
        rows = self.rows.read(dataset, report, layers, pin)
        return self._finish(rows.select(columns_of(None, dataset)), report, kind)

    def _begin(
        self,
        dataset: Dataset,
        symbols: str | Iterable[str],
        start: dt.date | str | None,
        end: dt.date | str | None,
        version: int | dt.datetime | str | None,
    ) -> tuple[ReadReport, SymbolLayers, Pin]:
        names = symbols_of(symbols)
        first, last = date_range(start, end, self.today)
        layers = self._layers.of(names)
        if dataset != Dataset.CORPORATE_ACTIONS:
            self._require_ingested(dataset, names, layers)
        report = ReadReport(dataset.value, names, first, last)
        self.last_read = report
        return report, layers, pin_of(dataset, version)

    def _require_ingested(self, dataset: Dataset, symbols: Sequence[str], layers: SymbolLayers) -> None:
        """Every symbol must have held a layer that ingests the dataset."""
        ingesting = [n for n in LAYERS if self.config.ingests(n, dataset)]
        allowed = frozenset(ingesting)
        what = describe(dataset)
        for symbol in symbols:
            if layers.held[symbol] & allowed:
                continue
            now = layers.current[symbol]
            held = f"is layer {now}" if now is not None else "has no layer (inactive)"
            raise ReadError(
                f"{symbol} {held} and has never been in a layer that ingests {what} "
                f"(layer{'s' if len(ingesting) > 1 else ''} {', '.join(map(str, ingesting))})"
            )

    def _finish(self, rows: pl.DataFrame, report: ReadReport, kind: Output) -> Any:
        report.rows = rows.height
        if rows.is_empty():
            report.empty_reason = why_empty(
                self.database, self.config, self.today, Dataset(report.dataset), report
            )
        self.last_read = report
        if kind == "polars":
            return rows
        if kind == "arrow":
            return rows.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
        return to_pandas(rows)
