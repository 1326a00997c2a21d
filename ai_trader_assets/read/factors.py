"""The factors an adjusted read applies: the corporate actions known at ``as_of`` (read like any other
rows) and, for dividends, the raw close of the session before each ex-date (from the daily bars the
read already holds, else point lookups in hot, else the daily table)."""

import dataclasses
import datetime as dt
from collections.abc import Sequence

import polars as pl

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.read.adjustment import (
    CLOSE_SCHEMA,
    REFERENCE_CLOSE_DAYS,
    closes_before,
    factors,
    relevant_actions,
)
from ai_trader_assets.read.requests import Pin, adjust_mode
from ai_trader_assets.read.results import ReadReport
from ai_trader_assets.read.rows import StoredRows
from ai_trader_assets.read.symbols import SymbolLayers


@dataclasses.dataclass(frozen=True)
class Adjusting:
    """What an adjusted read asks for: the actions of ``symbols`` with an ex-date after ``after`` and
    known by ``as_of``, of the kinds ``mode`` names, read through ``layers`` and ``pin``."""

    symbols: Sequence[str]
    after: dt.date
    as_of: dt.date
    mode: str
    layers: SymbolLayers
    pin: Pin


class ActionFactors:
    """Reads what adjustment needs.

    Args:
        rows: Where rows are read.
        today: No close after today is looked for.
    """

    def __init__(self, rows: StoredRows, today: dt.date) -> None:
        self.rows = rows
        self.today = today

    def factors(self, ask: Adjusting, report: ReadReport, daily: pl.DataFrame | None = None) -> pl.DataFrame:
        """The factors of the actions asked for; ``daily``: raw daily bars already read, where
        dividends' reference closes are looked up first."""
        return self.of_actions(self.actions(ask, report), ask, report, daily)

    def actions(self, ask: Adjusting, report: ReadReport) -> pl.DataFrame:
        """The actions an adjustment applies (their versions read go into ``report``)."""
        first = ask.after + dt.timedelta(days=1)
        if first > ask.as_of:
            return pl.DataFrame()
        actions_report = ReadReport(Dataset.CORPORATE_ACTIONS.value, tuple(ask.symbols), first, ask.as_of)
        rows = self.rows.read(Dataset.CORPORATE_ACTIONS, actions_report, ask.layers, ask.pin)
        report.versions |= actions_report.versions
        return relevant_actions(rows, adjust_mode(ask.mode), ask.as_of)

    def of_actions(
        self, chosen: pl.DataFrame, ask: Adjusting, report: ReadReport, daily: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """The factors of actions from :meth:`actions`, with their dividends' reference closes."""
        if chosen.is_empty():
            return factors(chosen, pl.DataFrame(schema=CLOSE_SCHEMA))
        dividends = chosen.filter(pl.col("action_type") == "dividend").select("symbol", "ex_date")
        closes = pl.DataFrame(schema=CLOSE_SCHEMA)
        if dividends.height:
            closes = self._reference_closes(dividends, ask.layers, ask.pin, report, daily)
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
            in_hot = self.rows.hot.closes_before(list(missing.select("symbol", "ex_date").iter_rows()))
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
        more = self.rows.read(Dataset.BARS_1DAY, daily_report, layers, pin)
        report.versions |= daily_report.versions
        return pl.concat([found, closes_before(missing, more)])
