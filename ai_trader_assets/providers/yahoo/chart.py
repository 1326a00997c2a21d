"""Yahoo's chart documents parsed: the arrays of one response as a :class:`Chart`, its split and
dividend events, and bars stored **raw** (every later split Yahoo lists undone, float32 noise rounded
away); hourly bars resampled from 5-minute bars into clock hours."""

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets.bars import BAR_COLUMNS, bar_problems
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, split_rejects
from ai_trader_assets.providers.base import ProviderError, ingest_time

SOURCE = "yahoo"


def unix_seconds(day: dt.date) -> int:
    """Midnight New York time of ``day`` as unix seconds (Yahoo's period1/period2)."""
    return int(calendar.session_midnight_utc(day).timestamp())


SIGNIFICANT_DIGITS = 7
PRICES = ("open", "high", "low", "close")
QUOTE_KEYS = (*PRICES, "volume")
NULL_ROW = "null row: Yahoo sent no prices for this timestamp"


def _floats(values: Any, length: int, what: str) -> np.ndarray:
    """A quote array as float64 (null -> NaN); missing entirely -> all NaN; wrong length -> error."""
    if values is None:
        return np.full(length, np.nan)
    if not isinstance(values, list) or len(values) != length:
        size = len(values) if isinstance(values, list) else type(values).__name__
        raise ProviderError(f"yahoo {what}: holds {size} values for {length} timestamps (malformed body)")
    try:
        return np.array(values, dtype="float64")
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(dtype="float64")


def _new_york_dates(seconds: np.ndarray) -> np.ndarray:
    """The New York date of unix instants, as datetime64[D]."""
    local = pd.to_datetime(seconds, unit="s", utc=True).tz_convert(calendar.NEW_YORK).tz_localize(None)
    return np.asarray(local.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"))


@dataclasses.dataclass(frozen=True)
class Event:
    """One split or dividend as Yahoo listed it (``raw`` kept for rejects)."""

    day: dt.date | None  # the ex-date in New York
    value: float  # the split ratio (numerator / denominator) or the dividend amount; NaN if unusable
    raw: dict[str, Any]


def number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return number if np.isfinite(number) else float("nan")


def _events(symbol: str, events: Any, kind: str) -> list[Event]:
    listed = events.get(kind) if isinstance(events, dict) else None
    if not isinstance(listed, dict):
        return []
    found = []
    for key, item in listed.items():
        raw = item if isinstance(item, dict) else {"value": item}
        stamp = number(raw.get("date", key))
        day = None if np.isnan(stamp) else _new_york_dates(np.array([int(stamp)]))[0].astype(dt.date)
        if kind == "splits":
            numerator, denominator = number(raw.get("numerator")), number(raw.get("denominator"))
            value = numerator / denominator if numerator > 0 and denominator > 0 else float("nan")
        else:
            amount = number(raw.get("amount"))
            value = amount if amount > 0 else float("nan")
        found.append(Event(day, value, {"symbol": symbol, "key": key, **raw}))
    return sorted(found, key=lambda e: (e.day or dt.date.min, e.raw["key"]))


@dataclasses.dataclass(frozen=True)
class Chart:
    """One chart response, parsed: unix timestamps, quote arrays (float64), events, currency."""

    symbol: str
    timestamps: np.ndarray
    quote: dict[str, np.ndarray]
    raw_quote: dict[str, list[Any] | None]
    splits: list[Event]
    dividends: list[Event]
    currency: str

    @classmethod
    def parse(cls, symbol: str, body: dict[str, Any]) -> "Chart":
        result = body["chart"]["result"][0]
        stamps = result.get("timestamp") or []
        what = f"chart {symbol}"
        try:
            timestamps = np.array(stamps, dtype="int64")
        except (TypeError, ValueError):
            raise ProviderError(f"yahoo {what}: unparseable timestamps") from None
        indicators = result.get("indicators") or {}
        quotes = indicators.get("quote") or [{}]
        quote_body = quotes[0] if isinstance(quotes[0], dict) else {}
        raw_quote = {key: quote_body.get(key) for key in QUOTE_KEYS}
        quote = {key: _floats(raw_quote[key], len(timestamps), f"{what} {key}") for key in QUOTE_KEYS}
        meta = result.get("meta") or {}
        events = result.get("events")
        return cls(
            symbol=symbol,
            timestamps=timestamps,
            quote=quote,
            raw_quote=raw_quote,
            splits=_events(symbol, events, "splits"),
            dividends=_events(symbol, events, "dividends"),
            currency=str(meta.get("currency") or "USD"),
        )

    def raw_record(self, index: int) -> dict[str, Any]:
        record: dict[str, Any] = {"symbol": self.symbol, "timestamp": int(self.timestamps[index])}
        for key, values in self.raw_quote.items():
            record[key] = values[index] if isinstance(values, list) else None
        return record


def _split_factors(
    splits: Sequence[Event], dates: np.ndarray
) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
    """Per row, the product of the ratios of the splits after its date (raw = Yahoo x factor), and
    the rows a split with an unusable ratio leaves unrecoverable (with the reason)."""
    factor = np.ones(len(dates))
    problems = []
    for split in splits:
        if split.day is None:
            problems.append(
                (np.ones(len(dates), dtype=bool), f"cannot undo a split without a date: {split.raw}")
            )
            continue
        before = dates < np.datetime64(split.day, "D")
        if np.isnan(split.value):
            problems.append((before, f"cannot undo the split of {split.day}: unusable ratio"))
        else:
            factor[before] *= split.value
    return factor, problems


def round_significant(values: np.ndarray, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (NaN and 0 kept)."""
    result = np.array(values, dtype="float64")
    finite = np.isfinite(result) & (result != 0)
    if not finite.any():
        return result
    x = result[finite]
    decimals = digits - 1 - np.floor(np.log10(np.abs(x))).astype("int64")
    up = decimals >= 0
    scaled = np.empty_like(x)
    # Dividing a whole number by an exact power of ten gives the double nearest the decimal.
    scaled[up] = np.round(x[up] * 10.0 ** decimals[up]) / 10.0 ** decimals[up]
    scaled[~up] = np.round(x[~up] / 10.0 ** -decimals[~up]) * 10.0 ** -decimals[~up]
    result[finite] = scaled
    return result


class _Records(Sequence[dict[str, Any]]):
    """Raw records built on demand (only rejected rows are ever looked at)."""

    def __init__(self, make: Callable[[int], dict[str, Any]], length: int) -> None:
        self._make = make
        self._length = length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._make(i) for i in range(self._length)[index]]
        return self._make(range(self._length)[index])


def _join(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.array(
        [f"{a}; {b}" if a and b else a or b for a, b in zip(first, second, strict=True)], dtype=object
    )


def _chart_rows(
    chart: Chart, splits: Sequence[Event], start: dt.date, end: dt.date, daily: bool
) -> dict[str, np.ndarray] | None:
    """The rows of one chart dated in [start, end], splits undone, with their own reasons."""
    dates = _new_york_dates(chart.timestamps)
    keep = np.flatnonzero((dates >= np.datetime64(start, "D")) & (dates <= np.datetime64(end, "D")))
    if len(keep) == 0:
        return None
    dates = dates[keep]
    seconds = chart.timestamps[keep]
    reasons = np.full(len(keep), "", dtype=object)
    days = np.unique(dates)
    day_list: list[dt.date] = [d.astype(dt.date) for d in days]
    position = np.searchsorted(days, dates)
    is_session = np.array([calendar.is_session(d) for d in day_list])[position]
    reasons[~is_session] = "not an NYSE session"
    if daily:
        stamps = np.array([unix_seconds(d) for d in day_list], dtype="int64")[position]
    else:
        stamps = seconds
        hours = [calendar.session_open_close(d) if calendar.is_session(d) else None for d in day_list]
        opens = np.array([h[0].timestamp() if h else 0 for h in hours])[position]
        closes = np.array([h[1].timestamp() if h else 0 for h in hours])[position]
        outside = is_session & ~((seconds >= opens) & (seconds < closes))
        reasons[outside] = "outside the regular session (pre- or post-market)"
    factor, problems = _split_factors(splits, dates)
    for mask, reason in problems:
        reasons[mask & (reasons == "")] = reason
    prices = {key: round_significant(chart.quote[key][keep] * factor) for key in PRICES}
    null = np.all([np.isnan(chart.quote[key][keep]) for key in PRICES], axis=0)
    reasons[null] = NULL_ROW
    return {
        "ts": stamps,
        **prices,
        "volume": np.round(chart.quote["volume"][keep] / factor),
        "reasons": reasons,
        "row": keep,
    }


def parse_bars(
    charts: Sequence[tuple[Chart, Sequence[Event]]], start: dt.date, end: dt.date, daily: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bars of the charts dated in [start, end] (each with the splits to undo) plus rejects."""
    pieces = []
    owners: list[Chart] = []
    for chart, splits in charts:
        rows = _chart_rows(chart, splits, start, end, daily)
        if rows is not None:
            rows["owner"] = np.full(len(rows["ts"]), len(owners))
            owners.append(chart)
            pieces.append(rows)
    if not pieces:
        return empty_frame(BAR_COLUMNS), EMPTY_REJECTS
    columns = {key: np.concatenate([piece[key] for piece in pieces]) for key in pieces[0]}
    frame = pd.DataFrame(
        {
            "symbol": pd.array(
                np.concatenate([[owners[i].symbol] * len(p["ts"]) for i, p in enumerate(pieces)]),
                dtype="string",
            ),
            "ts": pd.to_datetime(columns["ts"], unit="s", utc=True).as_unit("us"),
            **{key: columns[key] for key in (*PRICES, "volume")},
            "vwap": np.nan,
            "trade_count": pd.array([pd.NA] * len(columns["ts"]), dtype="Int64"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    own = columns["reasons"]
    problems = bar_problems(frame)
    # A null row is one fact, not four missing prices.
    problems[own == NULL_ROW] = ""
    reasons = _join(own, problems)
    records = _Records(
        lambda i: owners[int(columns["owner"][i])].raw_record(int(columns["row"][i])), len(frame)
    )
    valid, rejects = split_rejects(frame, reasons, records)
    return conform(valid, BAR_COLUMNS), rejects


def resample_to_clock_hours(frame: pd.DataFrame) -> pd.DataFrame:
    """5-minute bars to clock-hour bars (New York and UTC hours coincide): the 9:00 bar is 9:30-10:00."""
    if frame.empty:
        return frame
    ordered = frame.sort_values(["symbol", "ts"], kind="stable")
    hours = ordered.assign(hour=ordered["ts"].dt.floor("1h")).groupby(["symbol", "hour"], sort=False)
    bars = hours.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
    ).reset_index()
    bars = bars.rename(columns={"hour": "ts"}).assign(
        vwap=np.nan,
        trade_count=pd.array([pd.NA] * len(bars), dtype="Int64"),
        source=SOURCE,
        ingested_at=ingest_time(),
    )
    return conform(bars, BAR_COLUMNS)
