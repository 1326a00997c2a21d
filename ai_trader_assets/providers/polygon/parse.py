"""Polygon's JSON records parsed into the datasets' frames, column by column: aggregate bars, news
(with the symbols each article names) and corporate actions (splits by execution date, dividends by
ex-dividend date). A bad record is a reject with its reason, never silently dropped."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTION_COLUMNS
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.news import NEWS_COLUMNS, NEWS_SYMBOL_COLUMNS
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN as SYMBOL
from ai_trader_assets.datasets.symbols import valid_symbols
from ai_trader_assets.datasets.validation import add_reason, rejects_frame, split_rejects
from ai_trader_assets.providers.base import ProviderCall, ProviderResult, ingest_time
from ai_trader_assets.providers.parsing import aggregate_bars, news_problems, numbers

SOURCE = "polygon"


def parse_aggregates(
    results: list[dict[str, Any]], symbols: Sequence[str] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aggregate rows (o h l c v vw n t[, T]) to one bars frame plus rejects, column by column.

    Args:
        results: The ``results`` of every page, of every symbol, concatenated (parsed in one go:
            per-request frames would cost more than the parsing itself).
        symbols: The ticker of each row; None for grouped results, which carry ``T`` per row.
    """
    tickers = [row.get("T") for row in results] if symbols is None else symbols
    ts = pd.to_datetime(numbers(results, "t"), unit="ms", utc=True).as_unit("us")
    return aggregate_bars(results, tickers, ts, SOURCE)


def _dates(raw: pd.DataFrame, key: str) -> pd.Series:
    if key not in raw:
        return pd.Series([None] * len(raw), index=raw.index, dtype="object")
    parsed = pd.to_datetime(raw[key], errors="coerce", format="%Y-%m-%d")
    return pd.Series([d.date() if not pd.isna(d) else None for d in parsed], index=raw.index, dtype="object")


def parse_news(records: list[dict[str, Any]], calls: list[ProviderCall]) -> ProviderResult:
    if not records:
        return ProviderResult(
            frame=empty_frame(NEWS_COLUMNS), calls=tuple(calls), links=empty_frame(NEWS_SYMBOL_COLUMNS)
        )
    raw = pd.DataFrame.from_records(records)

    def text(key: str) -> pd.Series:
        return raw[key].astype("string") if key in raw else pd.Series(pd.NA, index=raw.index, dtype="string")

    publisher = raw["publisher"] if "publisher" in raw else pd.Series([None] * len(raw))
    frame = pd.DataFrame(
        {
            "id": text("id"),
            "published_utc": pd.to_datetime(
                text("published_utc"), errors="coerce", utc=True, format="ISO8601"
            ),
            "title": text("title"),
            "author": text("author"),
            "article_url": text("article_url"),
            "publisher": pd.Series(
                [p.get("name") if isinstance(p, dict) else p for p in publisher],
                index=raw.index,
                dtype="string",
            ),
            "description": text("description"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    reasons = news_problems(frame, "published_utc", "title")
    valid, rejects = split_rejects(frame, reasons, records)
    kept_ids = set(valid["id"].tolist())
    links = [
        {"news_id": str(record["id"]), "symbol": ticker}
        for record in records
        if str(record.get("id")) in kept_ids
        for ticker in dict.fromkeys(record.get("tickers") or [])
        if isinstance(ticker, str) and SYMBOL.match(ticker)
    ]
    links_frame = pd.DataFrame(links) if links else empty_frame(NEWS_SYMBOL_COLUMNS)
    return ProviderResult(
        frame=conform(valid, NEWS_COLUMNS),
        rejects=rejects,
        calls=tuple(calls),
        links=conform(links_frame, NEWS_SYMBOL_COLUMNS),
    )


def _action_id(record: dict[str, Any], action_type: str, symbol: object, ex_date: object) -> str:
    """The provider's id when it sends one, else a key from what identifies the action."""
    if record.get("id"):
        return str(record["id"])
    if action_type == "split":
        detail = f"{record.get('split_from')}-{record.get('split_to')}"
    else:
        detail = f"{record.get('cash_amount')}-{record.get('dividend_type')}"
    return f"{action_type}-{symbol}-{ex_date}-{detail}"


def _parse_actions(
    records: list[dict[str, Any]], action_type: str, date_key: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits (keyed by execution date) or dividends (by ex-dividend date) to corporate_actions rows."""
    raw = pd.DataFrame.from_records(records)
    ex_date = _dates(raw, date_key)
    symbols = [record.get("ticker") for record in records]
    is_split = action_type == "split"
    frame = pd.DataFrame(
        {
            "id": [
                _action_id(r, action_type, s, d) for r, s, d in zip(records, symbols, ex_date, strict=True)
            ],
            "symbol": pd.array(symbols, dtype="string"),
            "action_type": action_type,
            "ex_date": ex_date,
            "split_from": numbers(records, "split_from") if is_split else np.nan,
            "split_to": numbers(records, "split_to") if is_split else np.nan,
            "cash_amount": np.nan if is_split else numbers(records, "cash_amount"),
            "currency": None if is_split else [r.get("currency") or "USD" for r in records],
            "declaration_date": _dates(raw, "declaration_date"),
            "record_date": _dates(raw, "record_date"),
            "pay_date": _dates(raw, "pay_date"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    reasons = np.full(len(frame), "", dtype=object)
    add_reason(reasons, ~valid_symbols(frame["symbol"]), "malformed symbol")
    add_reason(reasons, frame["ex_date"].isna().to_numpy(), f"missing or unparseable {date_key}")
    if is_split:
        ratio = frame[["split_from", "split_to"]].to_numpy(dtype="float64")
        add_reason(
            reasons, ~(np.isfinite(ratio) & (ratio > 0)).all(axis=1), "split_from/split_to must be positive"
        )
    else:
        cash = frame["cash_amount"].to_numpy(dtype="float64")
        add_reason(reasons, ~(np.isfinite(cash) & (cash > 0)), "cash_amount must be positive")
    return split_rejects(frame, reasons, records)


def parse_corporate_actions(
    splits: list[dict[str, Any]], dividends: list[dict[str, Any]], calls: list[ProviderCall]
) -> ProviderResult:
    frames, rejects = [], []
    for records, action_type, date_key in (
        (splits, "split", "execution_date"),
        (dividends, "dividend", "ex_dividend_date"),
    ):
        if records:
            valid, rejected = _parse_actions(records, action_type, date_key)
            frames.append(valid)
            rejects.append(rejected)
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame(CORPORATE_ACTION_COLUMNS)
    rejected = pd.concat(rejects, ignore_index=True) if rejects else rejects_frame([], [])
    return ProviderResult(
        frame=conform(frame, CORPORATE_ACTION_COLUMNS), rejects=rejected, calls=tuple(calls)
    )
