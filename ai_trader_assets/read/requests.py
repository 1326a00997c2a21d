"""What a read asks for, checked before anything is read: one line naming the problem otherwise."""

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Literal

from ai_trader_assets import calendar
from ai_trader_assets.datasets import BAR_DATASETS, SPECS, Dataset
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN, InvalidSymbolError, validate_symbol

INTERVALS: dict[str, Dataset] = {dataset.value.removeprefix("bars_"): dataset for dataset in BAR_DATASETS}
Adjust = Literal["none", "splits", "all"]
ADJUSTMENTS: tuple[Adjust, ...] = ("none", "splits", "all")
Output = Literal["pandas", "arrow", "polars"]
OUTPUTS: tuple[Output, ...] = ("pandas", "arrow", "polars")


class ReadError(ValueError):
    """A request that cannot be answered as asked; the message names the problem in one line."""


@dataclasses.dataclass(frozen=True)
class ReadRequest:
    """A checked request: one dataset, known-good symbols, sessions ``start``..``end`` (both included)."""

    dataset: Dataset
    symbols: tuple[str, ...]
    start: dt.date
    end: dt.date

    @property
    def sessions(self) -> list[dt.date]:
        return calendar.sessions(self.start, self.end)


def bar_dataset(interval: str) -> Dataset:
    """The bars dataset of an interval (``1day``, ``1hour``, ``5min``, ``1min``)."""
    dataset = INTERVALS.get(str(interval).strip().lower())
    if dataset is None:
        raise ReadError(
            f"unknown interval {interval!r}: use one of {', '.join(INTERVALS)} (stored), or one built on "
            "read: seconds dividing a minute (10s, 30s) or minutes dividing an hour (2min, 15min)"
        )
    return dataset


def dataset_named(name: str) -> Dataset:
    try:
        return Dataset(name)
    except ValueError:
        known = ", ".join(d.value for d in Dataset if d.value in _READABLE)
        raise ReadError(f"unknown dataset {name!r}: use one of {known}") from None


_READABLE = {d.value for d in SPECS}


def symbols_of(symbols: str | Iterable[str]) -> tuple[str, ...]:
    """Symbols from a list or a comma-separated string, validated, deduplicated, in the order given."""
    raw = symbols.split(",") if isinstance(symbols, str) else list(symbols)
    found: dict[str, None] = {}  # ordered and unique
    for item in raw:
        text = str(item).strip().upper()
        if not text:
            continue
        if not SYMBOL_PATTERN.match(text):
            try:
                validate_symbol(str(item))  # for its message
            except InvalidSymbolError as exc:
                raise ReadError(str(exc)) from None
        found[text] = None
    if not found:
        raise ReadError("no symbol given: name at least one (e.g. AAPL or AAPL,MSFT)")
    return tuple(found)


def as_date(value: dt.date | dt.datetime | str, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ReadError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


def date_range(
    start: dt.date | str | None, end: dt.date | str | None, today: dt.date, *, default_days: int = 30
) -> tuple[dt.date, dt.date]:
    """``start``..``end`` checked: not reversed, not in the future, inside the calendar's years.

    Defaults: ``end`` today, ``start`` ``default_days`` calendar days before ``end``.
    """
    last = as_date(end, "end") if end is not None else today
    first = as_date(start, "start") if start is not None else last - dt.timedelta(days=default_days)
    if first > last:
        raise ReadError(f"start {first} is after end {last}")
    if last > today:
        raise ReadError(f"end {last} is in the future (today is {today})")
    try:
        calendar.check_in_range(first)
    except calendar.CalendarError as exc:
        raise ReadError(str(exc)) from None
    return first, last


def as_of_date(as_of: dt.date | str | None, today: dt.date) -> dt.date:
    """The point in time whose corporate actions apply (default: today)."""
    if as_of is None:
        return today
    day = as_date(as_of, "as_of")
    if day > today:
        raise ReadError(f"as_of {day} is in the future (today is {today})")
    return day


def adjust_mode(adjust: str) -> Adjust:
    for mode in ADJUSTMENTS:
        if adjust == mode:
            return mode
    raise ReadError(f"unknown adjust {adjust!r}: use one of {', '.join(ADJUSTMENTS)}")


def output_kind(output: str) -> Output:
    for kind in OUTPUTS:
        if output == kind:
            return kind
    raise ReadError(f"unknown output {output!r}: use one of {', '.join(OUTPUTS)}")


@dataclasses.dataclass(frozen=True)
class Pin:
    """Which version of each table a read uses: the latest (with hot), a version of one table (the
    others as of that version's commit time), or a point in time (cold only)."""

    dataset: Dataset
    version: int | None = None
    timestamp: dt.datetime | None = None

    @property
    def hot(self) -> bool:
        return self.version is None and self.timestamp is None

    def of(self, dataset: Dataset) -> tuple[int | None, dt.datetime | None]:
        if dataset == self.dataset and self.version is not None:
            return self.version, None
        return None, self.timestamp


def pin_of(dataset: Dataset, version: int | dt.datetime | str | None) -> Pin:
    if version is None:
        return Pin(dataset)
    if isinstance(version, bool):
        raise ReadError(f"version {version!r} is neither a Delta version number nor a time")
    if isinstance(version, int):
        if version < 0:
            raise ReadError(f"version {version} is negative")
        return Pin(dataset, version=version)
    if isinstance(version, dt.datetime):
        moment = version
    elif isinstance(version, str) and version.strip().isdigit():
        return Pin(dataset, version=int(version))
    else:
        try:
            moment = dt.datetime.fromisoformat(str(version).strip())
        except ValueError:
            raise ReadError(f"version {version!r} is neither a Delta version number nor a time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return Pin(dataset, timestamp=moment)
