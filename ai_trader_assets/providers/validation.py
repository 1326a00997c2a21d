"""Row validation shared by every provider: bad rows become rejects with a reason, never silently lost."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ai_trader_assets.providers.base import (
    BAR_COLUMNS,
    EMPTY_REJECTS,
    LISTING_COLUMNS,
    ProviderCall,
    ProviderResult,
    conform,
    empty_frame,
    ingest_time,
    rejects_frame,
)
from ai_trader_assets.storage.companies import SYMBOL_PATTERN

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_REQUIRED = ("symbol", "ts", *PRICE_COLUMNS, "volume")


def add_reason(reasons: np.ndarray, mask: np.ndarray, reason: str) -> None:
    """Add ``reason`` to every row where ``mask`` holds (reasons are joined with '; ')."""
    for index in np.flatnonzero(mask):
        reasons[index] = f"{reasons[index]}; {reason}" if reasons[index] else reason


def bar_problems(frame: pd.DataFrame) -> np.ndarray:
    """Per row, why it is not a valid bar ('' when it is). Vectorised: bad rows are rare."""
    reasons = np.full(len(frame), "", dtype=object)
    if frame.empty:
        return reasons
    missing = {column: frame[column].isna().to_numpy() for column in BAR_REQUIRED}
    for column, mask in missing.items():
        add_reason(reasons, mask, f"missing {column}")
    prices = frame[list(PRICE_COLUMNS)].to_numpy(dtype="float64", na_value=np.nan)
    present = ~np.isnan(prices)
    bad_price = present & (~np.isfinite(prices) | (prices <= 0))
    add_reason(reasons, bad_price.any(axis=1), "non-finite or non-positive price")
    with np.errstate(invalid="ignore"):
        open_, high, low, close = prices.T
        add_reason(reasons, high < np.maximum(open_, close), "high below max(open, close)")
        add_reason(reasons, low > np.minimum(open_, close), "low above min(open, close)")
        volume = frame["volume"].to_numpy(dtype="float64", na_value=np.nan)
        add_reason(
            reasons,
            ~np.isnan(volume) & (~np.isfinite(volume) | (volume < 0)),
            "negative or non-finite volume",
        )
    duplicated = frame.duplicated(subset=["symbol", "ts"], keep="first").to_numpy() & ~(
        missing["symbol"] | missing["ts"]
    )
    add_reason(reasons, duplicated, "duplicate (symbol, ts): an earlier row has the same key")
    return reasons


def news_problems(frame: pd.DataFrame, published_field: str, title_field: str) -> np.ndarray:
    """Per article, why it cannot be stored ('' when it can), naming the provider's own fields."""
    reasons = np.full(len(frame), "", dtype=object)
    add_reason(reasons, frame["id"].isna().to_numpy(), "missing id")
    add_reason(reasons, frame["published_utc"].isna().to_numpy(), f"missing or unparseable {published_field}")
    add_reason(reasons, frame["title"].isna().to_numpy(), f"missing {title_field}")
    return reasons


def split_rejects(
    frame: pd.DataFrame, reasons: np.ndarray, raw_records: Sequence[dict[str, Any]] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a frame into (valid rows, rejects frame); rejects keep the provider's raw record."""
    bad = reasons != ""
    if not bad.any():
        return frame.reset_index(drop=True), EMPTY_REJECTS
    positions = np.flatnonzero(bad)
    if raw_records is not None:
        records = [raw_records[int(i)] for i in positions]
    else:
        records = frame.iloc[positions].to_dict(orient="records")
    rejects = rejects_frame(records, [str(reasons[i]) for i in positions])
    return frame[~bad].reset_index(drop=True), rejects


def numbers(records: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    """One numeric field of every record as float64 (missing or unparseable -> NaN)."""
    values = [record.get(key) for record in records]
    try:
        return np.array(values, dtype="float64")  # fast path: numbers and None
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(dtype="float64")


def valid_symbols(symbols: pd.Series) -> np.ndarray:
    """Per row, whether the symbol matches the companies table's pattern."""
    return symbols.fillna("").str.fullmatch(SYMBOL_PATTERN.pattern).to_numpy(dtype=bool)


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
