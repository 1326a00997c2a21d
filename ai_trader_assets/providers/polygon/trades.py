"""Polygon's v3 trades (``/v3/trades/{ticker}``) parsed into the ``ticks`` frame, a page at a time.

Nanosecond timestamps are 19-digit integers: they are read as Python ints and kept as int64, never
through a float (a float keeps ~16 digits). ``size`` is ``decimal_size`` (a string, exact since
fractional shares are reported) when present, else ``size`` (truncated to an int in that case).
``conditions`` (a list of ids) is stored comma-joined ("12,37"; "" when absent). A record without a
usable ``sip_timestamp``, ``price``, ``size``, ``exchange`` or ``id`` (or with a malformed optional
field) becomes a reject with its reason and the raw record; nothing is dropped silently. Repeated
trade keys are left to the dataset's own check (:func:`ai_trader_assets.datasets.ticks.tick_problems`,
applied when the rows are written).
"""

from collections.abc import Sequence
from types import NoneType
from typing import Any

import numpy as np
import pandas as pd

from ai_trader_assets.datasets.frames import empty_frame
from ai_trader_assets.datasets.ticks import TICK_COLUMNS, trades_frame
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, add_reason, rejects_frame
from ai_trader_assets.providers.base import PaginationError, ProviderError
from ai_trader_assets.providers.polygon.parse import SOURCE

# A page's status: OK, or DELAYED on a delayed plan (a complete page of older data).
PAGE_STATUSES = ("OK", "DELAYED")
OPTIONAL_INTS = ("participant_timestamp", "tape", "sequence_number", "correction", "trf_id")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def page_trades(endpoint: str, body: dict[str, Any]) -> list[Any]:
    """The trades of one page; a page that is not a complete answer raises.

    Raises:
        ProviderError: the status is not OK (or DELAYED).
        PaginationError: the page has no ``results`` list (cut short: never taken for the end).
    """
    status = body.get("status")
    if status not in PAGE_STATUSES:
        raise ProviderError(f"polygon {endpoint}: page status {str(status)[:40]!r}, expected OK")
    results = body.get("results")
    if not isinstance(results, list):
        raise PaginationError(f"polygon {endpoint}: page without a 'results' list (cut short)")
    return results


def _int(value: Any) -> int | None:
    """An exact integer (an int, or a string of digits) in int64's range; anything else None."""
    if type(value) is int:
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value)
    else:
        return None  # absent, null, a float (already rounded), a bool
    return number if INT64_MIN <= number <= INT64_MAX else None


def _ints(values: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integers as int64 (0 where absent or unusable), the mask of the usable ones and the mask of
    the malformed ones (given, but not an exact integer in int64's range)."""
    none_malformed = np.zeros(len(values), dtype=bool)
    types = set(map(type, values))
    if types <= {int, NoneType}:  # the usual case, converted in C
        try:
            if NoneType not in types:
                return np.array(values, dtype=np.int64), ~none_malformed, none_malformed
            array = pd.array(values, dtype="Int64")
            return array.to_numpy(dtype=np.int64, na_value=0), ~array.isna(), none_malformed
        except (OverflowError, TypeError, ValueError):
            pass
    parsed = [_int(v) for v in values]
    usable = np.array([v is not None for v in parsed], dtype=bool)
    given = np.array([v is not None for v in values], dtype=bool)
    return np.array([0 if v is None else v for v in parsed], dtype=np.int64), usable, given & ~usable


def _floats(values: list[Any]) -> np.ndarray:
    """Numbers (or numeric strings) as float64; missing or unparseable NaN."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(dtype=np.float64)


def _conditions(values: list[Any]) -> list[str | None]:
    """Each list of condition ids comma-joined ("" when absent; None when not a list of ints). A page
    repeats a few lists: each distinct one (by its repr, which tells 12 from 12.0 or True) is checked
    and joined once."""
    joined: dict[str, str | None] = {}
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append("")
            continue
        if type(value) is not list:
            out.append(None)
            continue
        key = repr(value)
        if key not in joined:
            joined[key] = ",".join(map(str, value)) if all(type(c) is int for c in value) else None
        out.append(joined[key])
    return out


def _trade_ids(values: list[Any]) -> list[str | None]:
    """Ids as strings (an int id too); None when missing or empty."""
    if set(map(type, values)) == {str} and "" not in values:
        return values
    return [v if isinstance(v, str) and v else str(v) if type(v) is int else None for v in values]


class TradeColumns:
    """Trades gathered page by page as columns (the pages' JSON is not kept), bad records as rejects.

    ``add`` once per page, then ``result`` for the frame (``ticks`` schema) and the rejects.
    """

    def __init__(self) -> None:
        self._symbols: list[str] = []
        self._counts: list[int] = []
        self._arrays: dict[str, list[np.ndarray]] = {
            name: [] for name in ("sip_timestamp", "price", "size", "exchange", *OPTIONAL_INTS)
        }
        self._present: dict[str, list[np.ndarray]] = {name: [] for name in OPTIONAL_INTS}
        self._conditions: list[str] = []
        self._trade_ids: list[str] = []
        self._rejected: list[dict[str, Any]] = []
        self._reasons: list[str] = []

    def add(self, symbol: str, results: Sequence[Any]) -> None:
        """One page of ``symbol``'s trades (the ``results`` list as Polygon sent it)."""
        if not results:
            return
        all_dicts = set(map(type, results)) == {dict}
        records = results if all_dicts else [r if isinstance(r, dict) else {} for r in results]
        reasons = np.full(len(records), "", dtype=object)
        sip, sip_ok, _ = _ints([r.get("sip_timestamp") for r in records])
        add_reason(reasons, ~sip_ok, "missing or non-integer sip_timestamp")
        price = _floats([r.get("price") for r in records])
        decimal = [r.get("decimal_size") for r in records]
        size = _floats([r.get("size") if d is None else d for r, d in zip(records, decimal, strict=True)])
        with np.errstate(invalid="ignore"):
            add_reason(
                reasons, ~(np.isfinite(price) & (price > 0)), "missing, non-numeric or non-positive price"
            )
            add_reason(
                reasons,
                ~(np.isfinite(size) & (size > 0)),
                "missing, non-numeric or non-positive decimal_size/size",
            )
        exchange, exchange_ok, _ = _ints([r.get("exchange") for r in records])
        add_reason(reasons, ~exchange_ok, "missing or non-integer exchange")
        trade_ids = _trade_ids([r.get("id") for r in records])
        if None in trade_ids:
            add_reason(reasons, np.array([t is None for t in trade_ids]), "missing id")
        conditions = _conditions([r.get("conditions") for r in records])
        if None in conditions:
            add_reason(
                reasons, np.array([c is None for c in conditions]), "conditions not a list of integer ids"
            )
        optional: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in OPTIONAL_INTS:
            values, usable, malformed = _ints([r.get(name) for r in records])
            add_reason(reasons, malformed, f"non-integer {name}")
            optional[name] = (values, usable)
        if not all_dicts:
            reasons[[not isinstance(r, dict) for r in results]] = "not a trade object"
        ok = reasons == ""
        for index in np.flatnonzero(~ok).tolist():
            record = results[index]
            self._rejected.append(record if isinstance(record, dict) else {"value": record})
            self._reasons.append(str(reasons[index]))
        kept = int(ok.sum())
        if not kept:
            return
        self._symbols.append(symbol)
        self._counts.append(kept)
        for name, column in (
            ("sip_timestamp", sip),
            ("price", price),
            ("size", size),
            ("exchange", exchange),
        ):
            self._arrays[name].append(column[ok])
        for name, (values, usable) in optional.items():
            self._arrays[name].append(values[ok])
            self._present[name].append(usable[ok])
        self._conditions.extend(c for c, good in zip(conditions, ok, strict=True) if good and c is not None)
        self._trade_ids.extend(t for t, good in zip(trade_ids, ok, strict=True) if good and t is not None)

    def rejects(self) -> pd.DataFrame:
        return rejects_frame(self._rejected, self._reasons) if self._rejected else EMPTY_REJECTS

    def result(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The valid trades as one ``ticks`` frame (in arrival order) and the rejects."""
        if not self._counts:
            return empty_frame(TICK_COLUMNS), self.rejects()
        column = {name: np.concatenate(parts) for name, parts in self._arrays.items()}
        optional = {
            name: pd.arrays.IntegerArray(column[name], ~np.concatenate(self._present[name]))
            for name in OPTIONAL_INTS
        }
        frame = trades_frame(
            np.repeat(np.array(self._symbols, dtype=object), self._counts),
            column["sip_timestamp"],
            price=column["price"],
            size=column["size"],
            exchange=column["exchange"],
            conditions=self._conditions,
            trade_id=self._trade_ids,
            source=SOURCE,
            **optional,
        )
        return frame, self.rejects()


def parse_trades(symbol: str, results: Sequence[Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One symbol's trade records (``results`` of its pages) to a ``ticks`` frame plus rejects."""
    columns = TradeColumns()
    columns.add(symbol, results)
    return columns.result()
