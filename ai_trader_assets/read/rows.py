"""Every stored row of a read: cold first (pruned by symbol, layer and time), then each symbol's
newer rows from hot (see :mod:`.sources`), one row per key, sorted; a renamed company read under the
names it traded under before, labelled with the name asked for."""

import dataclasses
import datetime as dt
from collections.abc import Sequence

import pandas as pd
import polars as pl

from ai_trader_assets import calendar
from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.read.requests import Pin
from ai_trader_assets.read.results import ReadReport, in_order, order_of, sorted_rows
from ai_trader_assets.read.sources import ColdSource, HotSource, in_sessions, newest_per_symbol, time_bounds
from ai_trader_assets.read.symbols import LayerLookup, SymbolLayers
from ai_trader_assets.storage.lake.layout import LAYOUTS

SORT_WITHOUT_CHECK_ROWS = 20_000


class StoredRows:
    """Reads rows from cold and hot storage.

    Args:
        cold: The Delta tables.
        hot: The market database's hot tables.
        layers: Symbols' layers and renames.
    """

    def __init__(self, cold: ColdSource, hot: HotSource, layers: LayerLookup) -> None:
        self.cold = cold
        self.hot = hot
        self.layers = layers

    def read(self, dataset: Dataset, report: ReadReport, layers: SymbolLayers, pin: Pin) -> pl.DataFrame:
        """Every row of the request, hot and cold, one per key, sorted; plus a ``session`` column."""
        symbols, first, last = report.symbols, report.start, report.end
        # Actions are asked by ex-date: its session is the ex-date's or the next one.
        actions = dataset == Dataset.CORPORATE_ACTIONS
        last_session = calendar.session_on_or_after(last) if actions else last
        version, timestamp = pin.of(dataset)
        rows, report.versions[dataset.value] = self.cold.read(
            dataset,
            symbols,
            first,
            last_session,
            layers=layers.layers(symbols),
            version=version,
            timestamp=timestamp,
        )
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
        elif rows.height <= SORT_WITHOUT_CHECK_ROWS:
            rows = rows.sort(order)
        elif not in_order(rows, order, symbols):
            rows = sorted_rows(rows, order)
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
                old_layers = dataclasses.replace(self.layers.of([old]), earlier={})
                part = self.read(dataset, earlier, old_layers, pin)
                report.versions |= earlier.versions
                pieces.append(
                    part.filter(pl.col(day) < next_name_from).with_columns(
                        pl.lit(symbol).cast(rows.schema["symbol"]).alias("symbol")
                    )
                )
        combined = pl.concat(pieces, how="vertical_relaxed")
        if dataset != Dataset.CORPORATE_ACTIONS:
            key = ["symbol", "ts", "source"] if dataset == Dataset.SOCIAL_SENTIMENT else ["symbol", "ts"]
            combined = combined.unique(subset=key, keep="first", maintain_order=True)
        return combined.sort(order_of(dataset))

    def _hot_tail(
        self, dataset: Dataset, symbols: Sequence[str], first: dt.date, last: dt.date, cold: pl.DataFrame
    ) -> pl.DataFrame | None:
        """Hot rows cold does not hold yet (see :mod:`.sources`), with their sessions."""
        if dataset == Dataset.CORPORATE_ACTIONS:
            # Few rows: take every hot one cold lacks, by id.
            found = self.hot.corporate_actions(symbols, first, last)
            if not found.empty:
                # A plain set lookup: pandas' isin over Arrow strings builds a list per call (~15 ms
                # for a few thousand ids).
                held = set(cold["id"].to_list())
                found = found[[key not in held for key in found["id"].tolist()]]
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
