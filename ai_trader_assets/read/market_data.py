"""``MarketData``: the one read path for people and programs (the CLI, the IO manager, backtests).

Each read is checked first (:mod:`.requests`: symbols known, interval ingested by a layer the symbol
has held, dates in order and not in the future), then served from cold with each symbol's newest
rows from hot where cold does not hold them yet (:mod:`.rows` over :mod:`.sources`), sorted, one row
per key, and adjusted at read (:mod:`.factors` reads what :mod:`.adjustment` applies).
``last_read`` reports what was read: rows from each source, the Delta versions (pin one with
``version=`` to read exactly the same data again) and, for an empty result, why it is empty.
"""

import concurrent.futures
import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

import pandas as pd
import polars as pl

from ai_trader_assets.config import PlatformConfig, load_config
from ai_trader_assets.datasets import LAYERS, Dataset
from ai_trader_assets.read.adjustment import (
    apply,
)
from ai_trader_assets.read.explain import why_empty
from ai_trader_assets.read.factors import ActionFactors
from ai_trader_assets.read.requests import (
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
            interval: ``1day``, ``1hour``, ``5min`` or ``1min``.
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
        dataset = bar_dataset(interval)
        mode, kind = adjust_mode(adjust), output_kind(output)
        wanted = columns_of(columns, dataset)
        point = as_of_date(as_of, self.today)
        report, layers, pin = self._begin(dataset, symbols, start, end, version)
        factors_of = functools.partial(
            self.adjustment.factors,
            report.symbols,
            after=report.start,
            as_of=point,
            mode=mode,
            layers=layers,
            pin=pin,
        )
        side = ReadReport(report.dataset, report.symbols, report.start, report.end)
        pending = None
        if mode != "none" and dataset != Dataset.BARS_1DAY:
            # Intraday bars do not hold the dividends' reference closes: the actions and closes are
            # read beside the bars, in a thread (lake and database reads release the GIL).
            pending = self._background().submit(factors_of, report=side)
        rows = self.rows.read(dataset, report, layers, pin)
        if pending is not None:
            table = pending.result()
            report.versions |= side.versions
        elif mode != "none" and not rows.is_empty():
            table = factors_of(report=report, daily=rows)  # daily bars: the closes are in them
        else:
            table = None
        if table is not None:
            rows = apply(rows, table)
            report.actions_applied = table.height
        report.adjust, report.as_of = mode, point
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
        table = self.adjustment.factors(
            report.symbols, after=after, as_of=last, mode=mode, layers=layers, pin=pin, report=report
        )
        report.rows, report.adjust, report.as_of = table.height, mode, point
        self.last_read = report
        return to_pandas(table)

    # ------------------------------------------------------------- internals

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
