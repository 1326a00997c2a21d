"""``MarketData``: the one read path for people and programs (the CLI, the IO manager, backtests).

Each read is checked first (:mod:`.requests`: symbols known, interval ingested by a layer the symbol
has held, dates in order and not in the future), then served from cold with each symbol's newest
rows from hot where cold does not hold them yet (:mod:`.sources`), sorted, one row per key, and
adjusted at read (:mod:`.adjustment`). ``last_read`` reports what was read: rows from each source,
the Delta versions (pin one with ``version=`` to read exactly the same data again) and, for an empty
result, why it is empty.
"""

import concurrent.futures
import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

import pandas as pd
import polars as pl

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig, load_config
from ai_trader_assets.datasets import LAYERS, SPECS, Dataset
from ai_trader_assets.read.adjustment import (
    CLOSE_SCHEMA,
    REFERENCE_CLOSE_DAYS,
    apply,
    closes_before,
    factors,
    relevant_actions,
)
from ai_trader_assets.read.explain import why_empty
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
    in_order,
    order_of,
    to_pandas,
)
from ai_trader_assets.read.sources import (
    ColdSource,
    HotSource,
    in_sessions,
    newest_per_symbol,
    time_bounds,
)
from ai_trader_assets.read.symbols import LayerLookup, SymbolLayers
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.layout import LAYOUTS
from ai_trader_assets.storage.lake.location import lake_from_settings
from ai_trader_assets.storage.lake.tables import lake_tables

SORT_WITHOUT_CHECK_ROWS = 20_000


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
        self.cold = ColdSource(lake_tables(lake, self.config))
        self.hot = HotSource(database)
        self._layers = LayerLookup(database)
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
            self._factors, report.symbols, after=report.start, as_of=point, mode=mode, layers=layers, pin=pin
        )
        side = ReadReport(report.dataset, report.symbols, report.start, report.end)
        pending = None
        if mode != "none" and dataset != Dataset.BARS_1DAY:
            # Intraday bars do not hold the dividends' reference closes: the actions and closes are
            # read beside the bars, in a thread (lake and database reads release the GIL).
            pending = self._background().submit(factors_of, report=side)
        rows = self._rows(dataset, report, layers, pin)
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
        table = self._factors(
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
        rows = self._rows(dataset, report, layers, pin)
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

    def _rows(self, dataset: Dataset, report: ReadReport, layers: SymbolLayers, pin: Pin) -> pl.DataFrame:
        """Every row of the request, hot and cold, one per key, sorted; plus a ``session`` column."""
        symbols, first, last = report.symbols, report.start, report.end
        # Actions are asked by ex-date: its session is the ex-date's or the next one.
        actions = dataset == Dataset.CORPORATE_ACTIONS
        last_session = calendar.session_on_or_after(last) if actions else last
        version, timestamp = pin.of(dataset)
        report.versions[dataset.value] = self.cold.version(dataset, version, timestamp)
        cold = self.cold.read(
            dataset,
            symbols,
            first,
            last_session,
            layers=layers.layers(symbols),
            version=version,
            timestamp=timestamp,
        )
        rows = cold
        report.rows_cold = rows.height
        if pin.hot:
            tail = self._hot_tail(dataset, symbols, first, last, rows)
            if tail is not None and tail.height:
                report.rows_hot = tail.height
                rows = pl.concat([rows, tail.select(rows.columns)], how="vertical_relaxed")
        order = order_of(dataset)
        if actions:
            rows = rows.lazy().filter(pl.col("ex_date").is_between(first, last)).sort(order).collect()
        # Sorting a small result costs less than checking it (each Polars step has a fixed cost).
        elif rows.height <= SORT_WITHOUT_CHECK_ROWS or not in_order(rows, order, symbols):
            rows = rows.sort(order)
        renamed = {s: layers.earlier[s] for s in symbols if s in layers.earlier}
        if renamed and dataset != Dataset.NEWS:
            rows = self._with_earlier_names(dataset, report, rows, renamed, pin)
        return rows

    def _with_earlier_names(
        self,
        dataset: Dataset,
        report: ReadReport,
        rows: pl.DataFrame,
        renamed: dict[str, list[tuple[str, dt.date]]],
        pin: Pin,
    ) -> pl.DataFrame:
        """A renamed company's rows from before its rename, read under the names it traded under then
        and labelled with the name asked for (FB's bars before 2022-06-09 when META is read): one
        continuous history. Where both names hold a row for the same key, the current name's wins."""
        day = "ex_date" if dataset == Dataset.CORPORATE_ACTIONS else "session"
        pieces = [rows]
        for symbol, chain in renamed.items():
            for old, next_name_from in chain:
                last = min(report.end, next_name_from - dt.timedelta(days=1))
                if last < report.start:
                    continue
                earlier = ReadReport(report.dataset, (old,), report.start, last)
                # The chain is already followed here: the old name's own renames are not read again.
                old_layers = dataclasses.replace(self._layers.of([old]), earlier={})
                part = self._rows(dataset, earlier, old_layers, pin)
                report.versions |= earlier.versions
                pieces.append(
                    part.filter(pl.col(day) < next_name_from).with_columns(
                        pl.lit(symbol).cast(rows.schema["symbol"]).alias("symbol")
                    )
                )
        combined = pl.concat(pieces, how="vertical_relaxed")
        if dataset != Dataset.CORPORATE_ACTIONS:
            combined = combined.unique(subset=["symbol", "ts"], keep="first", maintain_order=True)
        return combined.sort(order_of(dataset))

    def _hot_tail(
        self, dataset: Dataset, symbols: Sequence[str], first: dt.date, last: dt.date, cold: pl.DataFrame
    ) -> pl.DataFrame | None:
        """Hot rows cold does not hold yet (see :mod:`.sources`), with their sessions."""
        if dataset == Dataset.CORPORATE_ACTIONS:
            # Few rows: take every hot one cold lacks, by id.
            found = self.hot.corporate_actions(symbols, first, last)
            held = set(cold["id"].to_list())
            found = found[~found["id"].isin(held)]
        elif dataset == Dataset.NEWS:
            low, high = time_bounds(dataset, first, last)
            newest = cold["published_utc"].max() if cold.height else None
            after = pd.Timestamp(newest) if newest is not None else None
            found = in_sessions(dataset, self.hot.news(symbols, low, high, after), first, last)
        else:
            low, high = time_bounds(dataset, first, last)
            if self._hot_not_ahead(dataset, symbols, cold, low, high):
                return None
            newest_hot = self.hot.newest(dataset, symbols, low, high)
            newest_cold = newest_per_symbol(cold, sorted(newest_hot)) if newest_hot else {}
            behind = {
                symbol: newest_cold.get(symbol)
                for symbol, newest in newest_hot.items()
                if symbol not in newest_cold or newest > newest_cold[symbol]
            }
            if not behind:
                return None
            found = in_sessions(dataset, self.hot.bars_after(dataset, behind, high, low), first, last)
        if found.empty:
            return None
        table = LAYOUTS[dataset].to_arrow(found.reset_index(drop=True), 0)
        tail = pl.from_arrow(table.select([*SPECS[dataset].columns, "session"]))
        assert isinstance(tail, pl.DataFrame)
        return tail

    def _hot_not_ahead(
        self,
        dataset: Dataset,
        symbols: Sequence[str],
        cold: pl.DataFrame,
        low: dt.datetime,
        high: dt.datetime,
    ) -> bool:
        """Whether no hot bar in range can be newer than its symbol's newest cold bar: true when hot
        has none in range, or every symbol has a cold bar at least as new as hot's newest (one index
        seek). Saves the per-symbol probe on most reads."""
        if cold.is_empty():
            return False
        hot_newest = self.hot.newest_overall(dataset, low, high)
        if hot_newest is None:
            return True
        # Every symbol has a cold bar at least as new as hot's newest: count them among the newest rows.
        recent = cold["symbol"].filter(cold["ts"] >= hot_newest.to_pydatetime())
        return recent.n_unique() == len(symbols)

    def _factors(
        self,
        symbols: Sequence[str],
        *,
        after: dt.date,
        as_of: dt.date,
        mode: str,
        layers: SymbolLayers,
        pin: Pin,
        report: ReadReport,
        daily: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """Factors of the actions with an ex-date after ``after``, up to ``as_of``; ``daily``: raw
        daily bars already read, where dividends' reference closes are looked up first."""
        first = after + dt.timedelta(days=1)
        if first > as_of:
            return factors(pl.DataFrame(), pl.DataFrame(schema=CLOSE_SCHEMA))
        actions_report = ReadReport(Dataset.CORPORATE_ACTIONS.value, tuple(symbols), first, as_of)
        rows = self._rows(Dataset.CORPORATE_ACTIONS, actions_report, layers, pin)
        report.versions |= actions_report.versions
        chosen = relevant_actions(rows, adjust_mode(mode), as_of)
        dividends = chosen.filter(pl.col("action_type") == "dividend").select("symbol", "ex_date")
        closes = pl.DataFrame(schema=CLOSE_SCHEMA)
        if dividends.height:
            closes = self._reference_closes(dividends, layers, pin, report, daily)
        return factors(chosen, closes)

    def _reference_closes(
        self,
        dividends: pl.DataFrame,
        layers: SymbolLayers,
        pin: Pin,
        report: ReadReport,
        daily: pl.DataFrame | None,
    ) -> pl.DataFrame:
        """``symbol, ex_date, reference_close``: the raw daily close of the last session before each
        dividend's ex-date (within ``REFERENCE_CLOSE_DAYS``)."""
        found = closes_before(dividends, daily) if daily is not None else pl.DataFrame(schema=CLOSE_SCHEMA)
        missing = dividends.join(found, on=["symbol", "ex_date"], how="anti")
        if not missing.is_empty() and pin.hot:
            # A few point lookups in hot cost far less than a scan of the daily table; what hot
            # does not hold (older sessions, a bar-less session before the ex-date) is read cold.
            in_hot = self.hot.closes_before(list(missing.select("symbol", "ex_date").iter_rows()))
            if in_hot:
                found = pl.concat([found, pl.DataFrame(in_hot, schema=CLOSE_SCHEMA, orient="row")])
                missing = dividends.join(found, on=["symbol", "ex_date"], how="anti")
        if missing.is_empty():
            return found
        ex_dates = missing["ex_date"].to_list()
        first = max(min(ex_dates) - dt.timedelta(days=REFERENCE_CLOSE_DAYS), calendar.first_session())
        last = min(max(ex_dates) - dt.timedelta(days=1), self.today)
        if first > last:
            return found
        symbols = tuple(sorted(set(missing["symbol"].to_list())))
        daily_report = ReadReport(Dataset.BARS_1DAY.value, symbols, first, last)
        more = self._rows(Dataset.BARS_1DAY, daily_report, layers, pin)
        report.versions |= daily_report.versions
        return pl.concat([found, closes_before(missing, more)])

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
