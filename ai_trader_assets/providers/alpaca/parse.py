"""Alpaca's JSON records parsed into the datasets' frames: bars (daily ones restamped at the session's
midnight), Benzinga news with the symbols each names, splits and cash dividends kept by ex-date.
A bad record is a reject with its reason and the raw record, never silently dropped."""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ai_trader_assets.calendar import NEW_YORK, session_midnight_utc
from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTION_COLUMNS
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.news import NEWS_COLUMNS, NEWS_SYMBOL_COLUMNS
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN as SYMBOL
from ai_trader_assets.datasets.symbols import valid_symbols
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, add_reason, split_rejects
from ai_trader_assets.providers.alpaca.sdk import SOURCE
from ai_trader_assets.providers.base import ingest_time
from ai_trader_assets.providers.parsing import aggregate_bars, news_problems, numbers
from ai_trader_assets.providers.text import html_to_text, plain_title


def _timestamps(values: Sequence[Any]) -> pd.Series:
    """RFC 3339 strings as UTC timestamps (missing or unparseable -> NaT)."""
    strings = pd.Series([v if isinstance(v, str) else None for v in values], dtype="object")
    return pd.to_datetime(strings, utc=True, errors="coerce", format="ISO8601").dt.as_unit("us")


def _session_stamps(ts: pd.Series) -> pd.Series:
    """Daily bar stamps restamped as ``session_midnight_utc`` of their New York date."""
    local = ts.dt.tz_convert(NEW_YORK)
    dates = [None if pd.isna(t) else t.date() for t in local]
    midnight = {d: session_midnight_utc(d) for d in set(dates) if d is not None}
    return pd.to_datetime(
        pd.Series([midnight[d] if d is not None else None for d in dates], dtype="object"), utc=True
    ).dt.as_unit("us")


def parse_bars(
    records: Sequence[dict[str, Any]], symbols: Sequence[str], daily: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alpaca bars (t o h l c v n vw) to the bars schema plus rejects, column by column.

    Args:
        records: The bars of every page and symbol, concatenated.
        symbols: The symbol of each record (Alpaca groups bars by symbol; the bar has none).
        daily: Restamp at the session's midnight (:func:`_session_stamps`).
    """
    ts = _timestamps([record.get("t") for record in records])
    if daily:
        ts = _session_stamps(ts)
    # The rejects keep Alpaca's record, with the symbol it was listed under.
    return aggregate_bars(
        records,
        symbols,
        ts,
        SOURCE,
        lambda: [{"symbol": s, **r} for s, r in zip(symbols, records, strict=True)],
    )


def parse_news(
    records: Sequence[dict[str, Any]], start: dt.datetime, end: dt.datetime
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Alpaca (Benzinga) articles to (news rows, rejects, news_symbols links), kept in [start, end)."""
    if not records:
        return empty_frame(NEWS_COLUMNS), EMPTY_REJECTS, empty_frame(NEWS_SYMBOL_COLUMNS)
    published = _timestamps([r.get("created_at") for r in records])
    in_window = ((published >= start) & (published < end)).to_numpy(dtype=bool)
    # Out of the window is out of scope (Alpaca's end is inclusive), not a reject; unparseable stays.
    keep = in_window | published.isna().to_numpy()
    records = [r for r, k in zip(records, keep, strict=True) if k]
    published = published[keep].reset_index(drop=True)

    def text(key: str) -> pd.Series:
        values = [r.get(key) for r in records]
        return pd.Series([v if isinstance(v, str) and v.strip() else None for v in values], dtype="string")

    ids = [r.get("id") for r in records]
    frame = pd.DataFrame(
        {
            "id": pd.Series(
                [f"benzinga:{i}" if i is not None and str(i).strip() else None for i in ids], dtype="string"
            ),
            "published_utc": published,
            "title": pd.Series([plain_title(r.get("headline")) for r in records], dtype="string"),
            "author": text("author"),
            "article_url": text("url"),
            "publisher": text("source"),
            "description": pd.Series([html_to_text(r.get("summary")) for r in records], dtype="string"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    reasons = news_problems(frame, "created_at", "headline")
    valid, rejects = split_rejects(frame, reasons, records)
    kept = ~(reasons != "")
    links = [
        {"news_id": news_id, "symbol": symbol}
        for record, news_id, ok in zip(records, frame["id"], kept, strict=True)
        if ok
        for symbol in dict.fromkeys(record.get("symbols") or [])
        if isinstance(symbol, str) and SYMBOL.match(symbol)
    ]
    links_frame = pd.DataFrame(links) if links else empty_frame(NEWS_SYMBOL_COLUMNS)
    return conform(valid, NEWS_COLUMNS), rejects, conform(links_frame, NEWS_SYMBOL_COLUMNS)


def parse_date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _action_id(record: Mapping[str, Any], action_type: str, ex_date: dt.date | None) -> str:
    """Alpaca's id (a UUID) when sent (older responses lack it), else a key from what identifies it."""
    if record.get("id"):
        return str(record["id"])
    if action_type == "split":
        detail = f"{record.get('old_rate')}-{record.get('new_rate')}"
    else:
        detail = f"{record.get('rate')}"
    return f"{SOURCE}-{action_type}-{record.get('symbol')}-{ex_date}-{detail}"


def parse_corporate_actions(
    splits: Sequence[dict[str, Any]], dividends: Sequence[dict[str, Any]], start: dt.date, end: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alpaca splits and cash dividends to corporate_actions rows plus rejects, kept by ex-date."""
    records = [*splits, *dividends]
    if not records:
        return empty_frame(CORPORATE_ACTION_COLUMNS), EMPTY_REJECTS
    types = ["split"] * len(splits) + ["dividend"] * len(dividends)
    ex_dates = [parse_date(r.get("ex_date")) for r in records]
    # Fetched by process date around the window: keep those whose ex-date is in it (or is missing,
    # which is a reject).
    keep = [d is None or start <= d <= end for d in ex_dates]
    records = [r for r, k in zip(records, keep, strict=True) if k]
    types = [t for t, k in zip(types, keep, strict=True) if k]
    ex_dates = [d for d, k in zip(ex_dates, keep, strict=True) if k]
    if not records:
        return empty_frame(CORPORATE_ACTION_COLUMNS), EMPTY_REJECTS
    is_split = np.array([t == "split" for t in types], dtype=bool)
    old_rate, new_rate, rate = (
        numbers(records, "old_rate"),
        numbers(records, "new_rate"),
        numbers(records, "rate"),
    )

    def dividend_dates(key: str) -> list[dt.date | None]:
        return [None if split else parse_date(r.get(key)) for r, split in zip(records, is_split, strict=True)]

    frame = pd.DataFrame(
        {
            "id": pd.Series(
                [_action_id(r, t, d) for r, t, d in zip(records, types, ex_dates, strict=True)],
                dtype="string",
            ),
            "symbol": pd.array([r.get("symbol") for r in records], dtype="string"),
            "action_type": pd.Series(types, dtype="string"),
            "ex_date": pd.Series(ex_dates, dtype="object"),
            "split_from": np.where(is_split, old_rate, np.nan),
            "split_to": np.where(is_split, new_rate, np.nan),
            "cash_amount": np.where(is_split, np.nan, rate),
            "currency": pd.Series([None if s else "USD" for s in is_split], dtype="string"),
            "declaration_date": pd.Series(dividend_dates("declaration_date"), dtype="object"),
            "record_date": pd.Series(dividend_dates("record_date"), dtype="object"),
            "pay_date": pd.Series(dividend_dates("payable_date"), dtype="object"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    reasons = np.full(len(frame), "", dtype=object)
    add_reason(reasons, ~valid_symbols(frame["symbol"]), "malformed symbol")
    add_reason(reasons, frame["ex_date"].isna().to_numpy(), "missing or unparseable ex_date")
    ratio = np.column_stack([old_rate, new_rate])
    add_reason(
        reasons,
        is_split & ~(np.isfinite(ratio) & (ratio > 0)).all(axis=1),
        "old_rate/new_rate must be positive",
    )
    add_reason(reasons, ~is_split & ~(np.isfinite(rate) & (rate > 0)), "rate must be positive")
    add_reason(
        reasons,
        frame.duplicated(subset=["id"], keep="first").to_numpy(),
        "duplicate id: an earlier action has the same id",
    )
    valid, rejects = split_rejects(frame, reasons, records)
    return conform(valid, CORPORATE_ACTION_COLUMNS), rejects
