"""Parsing shared by the providers: numeric fields, aggregate bars in Polygon's and Alpaca's shape,
reference listings and news checks naming a provider's own fields. Bad records become rejects with
a reason (the rules themselves are the datasets' own), never silently lost."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ai_trader_assets.datasets.bars import BAR_COLUMNS, bar_problems
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.symbols import valid_symbols
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, add_reason, split_rejects
from ai_trader_assets.providers.base import LISTING_COLUMNS, ProviderCall, ProviderResult, ingest_time


def news_problems(frame: pd.DataFrame, published_field: str, title_field: str) -> np.ndarray:
    """Per article, why it cannot be stored ('' when it can), naming the provider's own fields."""
    reasons = np.full(len(frame), "", dtype=object)
    add_reason(reasons, frame["id"].isna().to_numpy(), "missing id")
    add_reason(reasons, frame["published_utc"].isna().to_numpy(), f"missing or unparseable {published_field}")
    add_reason(reasons, frame["title"].isna().to_numpy(), f"missing {title_field}")
    return reasons


def numbers(records: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    """One numeric field of every record as float64 (missing or unparseable -> NaN)."""
    values = [record.get(key) for record in records]
    try:
        return np.array(values, dtype="float64")  # fast path: numbers and None
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(dtype="float64")


def aggregate_bars(
    records: Sequence[Mapping[str, Any]],
    symbols: Sequence[Any],
    ts: pd.Series | pd.DatetimeIndex,
    source: str,
    raw_records: Callable[[], Sequence[dict[str, Any]]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aggregate records in Polygon's and Alpaca's shape (``o h l c v vw n``) to valid bars (the hot
    table's schema) plus rejects, column by column; the caller has parsed ``ts``.

    Args:
        raw_records: What the rejects keep of each record (default: the records themselves); called
            only when there are rejects.
    """
    if not records:
        return empty_frame(BAR_COLUMNS), EMPTY_REJECTS
    frame = pd.DataFrame(
        {
            "symbol": pd.array(list(symbols), dtype="string"),
            "ts": pd.Series(ts).reset_index(drop=True),
            "open": numbers(records, "o"),
            "high": numbers(records, "h"),
            "low": numbers(records, "l"),
            "close": numbers(records, "c"),
            "volume": numbers(records, "v"),
            "vwap": numbers(records, "vw"),
            "trade_count": pd.array(np.round(numbers(records, "n")), dtype="Int64"),
            "source": source,
            "ingested_at": ingest_time(),
        }
    )
    reasons = bar_problems(frame)
    add_reason(reasons, ~valid_symbols(frame["symbol"]), "malformed symbol")
    raw: Sequence[dict[str, Any]] | None = None
    if (reasons != "").any():  # the records kept are built only for rejects (rare)
        raw = raw_records() if raw_records is not None else [dict(r) for r in records]
    valid, rejects = split_rejects(frame, reasons, raw)
    return conform(valid, BAR_COLUMNS), rejects


def parse_listing(
    records: list[dict[str, Any]],
    symbol_key: str,
    exchange_key: str,
    type_key: str,
    calls: list[ProviderCall],
) -> ProviderResult:
    """Reference entries to a listing frame; an entry whose ticker is not a valid symbol is a reject."""
    frame = pd.DataFrame(
        {
            "symbol": pd.array([r.get(symbol_key) for r in records], dtype="string"),
            "name": pd.array([r.get("name") for r in records], dtype="string"),
            "exchange": pd.array([r.get(exchange_key) for r in records], dtype="string"),
            "type": pd.array([r.get(type_key) for r in records], dtype="string"),
        }
    )
    reasons = np.full(len(frame), "", dtype=object)
    add_reason(reasons, ~valid_symbols(frame["symbol"]), "ticker is not a valid symbol")
    add_reason(reasons, frame["symbol"].duplicated().to_numpy(dtype=bool), "duplicate ticker")
    valid, rejects = split_rejects(frame, reasons, records)
    return ProviderResult(frame=conform(valid, LISTING_COLUMNS), rejects=rejects, calls=tuple(calls))
