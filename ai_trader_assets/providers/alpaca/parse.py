"""Alpaca's JSON records parsed into the datasets' frames: bars (daily ones restamped at the session's
midnight), Benzinga news with the symbols each names, splits and cash dividends kept by ex-date,
trades at exact nanoseconds with Polygon's exchange and condition ids.
A bad record is a reject with its reason and the raw record, never silently dropped."""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ai_trader_assets.calendar import NEW_YORK, session_midnight_utc
from ai_trader_assets.datasets.conditions import ALPACA_UPDATES, BY_LETTER
from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTION_COLUMNS
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.news import NEWS_COLUMNS, NEWS_SYMBOL_COLUMNS
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN as SYMBOL
from ai_trader_assets.datasets.symbols import valid_symbols
from ai_trader_assets.datasets.ticks import EXCHANGE_IDS, TAPE_IDS, TICK_COLUMNS, tick_problems, trades_frame
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, add_reason, rejects_frame, split_rejects
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


# RFC 3339 as Alpaca writes trade times: 0 to 9 fractional digits, "Z" (or a numeric offset).
RFC3339 = r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$"


def rfc3339_ns(values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """RFC 3339 strings as exact nanoseconds since the epoch (UTC): ``(int64 values, valid mask)``.

    Python's datetime keeps microseconds only: the whole seconds are parsed by pandas, the fraction
    (up to nine digits) and the offset here, all column-wise. Invalid or missing values are 0 and
    not valid.
    """
    ns = np.zeros(len(values), dtype="int64")
    if not len(values):
        return ns, np.zeros(0, dtype=bool)
    parts = pd.Series([v if isinstance(v, str) else None for v in values], dtype="object").str.extract(
        RFC3339
    )
    seconds = pd.to_datetime(parts[0] + "T" + parts[1], format="%Y-%m-%dT%H:%M:%S", errors="coerce")
    valid = seconds.notna().to_numpy(dtype=bool, copy=True)
    fraction = parts[2].fillna("").astype(str).str.ljust(9, "0").astype("int64").to_numpy()
    hours, minutes = (
        pd.to_numeric(parts[i], errors="coerce").fillna(0).to_numpy(dtype="int64") for i in (4, 5)
    )
    valid &= (hours < 24) & (minutes < 60)
    offset = np.where(parts[3].to_numpy() == "-", -1, 1) * (hours * 3600 + minutes * 60) * 1_000_000_000
    whole = seconds[valid].to_numpy(dtype="datetime64[ns]").astype("int64")
    ns[valid] = whole + fraction[valid] - offset[valid]
    return ns, valid


def _note(reasons: np.ndarray, index: int, reason: str) -> None:
    reasons[index] = f"{reasons[index]}; {reason}" if reasons[index] else reason


def _codes(
    records: Sequence[Mapping[str, Any]], key: str, ids: Mapping[str, int], what: str, reasons: np.ndarray
) -> np.ndarray:
    """One letter-coded field mapped to its ids (absent -> None); an unknown code is a reason."""
    mapped = np.full(len(records), None, dtype=object)
    for index, record in enumerate(records):
        value = record.get(key)
        if value is None:
            continue
        mapped[index] = ids.get(value) if isinstance(value, str) else None
        if mapped[index] is None:
            _note(reasons, index, f"unknown {what} {value!r} ({key})")
    return mapped


def _conditions(records: Sequence[Mapping[str, Any]], reasons: np.ndarray) -> np.ndarray:
    """``c`` (SIP letter codes, blanks meaning none) as comma-joined condition ids ("" when none)."""
    joined = np.full(len(records), "", dtype=object)
    seen: dict[tuple[str, ...], tuple[str, list[str]]] = {}  # a few distinct lists repeat all day
    for index, record in enumerate(records):
        codes = record.get("c")
        if codes is None:
            continue
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            _note(reasons, index, f"conditions (c) are not a list of letter codes: {codes!r}")
            continue
        key = tuple(codes)
        if key not in seen:
            letters = [code for code in codes if code.strip()]
            unknown = [code for code in letters if code not in BY_LETTER]
            seen[key] = (",".join(str(BY_LETTER[code]) for code in letters if code in BY_LETTER), unknown)
        joined[index], unknown = seen[key]
        if unknown:
            _note(reasons, index, f"unknown condition code(s) {', '.join(map(repr, unknown))} (c)")
    return joined


def _trade_ids(records: Sequence[Mapping[str, Any]], reasons: np.ndarray) -> np.ndarray:
    ids = np.full(len(records), None, dtype=object)
    for index, record in enumerate(records):
        value = record.get("i")
        number = isinstance(value, int) and not isinstance(value, bool)
        if number or (isinstance(value, str) and value.strip()):
            ids[index] = str(value)
        else:
            _note(reasons, index, f"missing or malformed trade id (i): {value!r}")
    return ids


def parse_trades(
    groups: Mapping[str, Sequence[Any]], window: tuple[int, int] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alpaca trades (``{"SYM": [{t, x, p, s, c, i, z, u?}]}``, one page or several merged) to the
    ``ticks`` schema plus rejects, column by column.

    ``t`` becomes exact nanoseconds (:func:`rfc3339_ns`); ``x``, ``z`` and the ``c`` letters map to
    Polygon's ids (:data:`EXCHANGE_IDS`, :data:`TAPE_IDS`, :data:`BY_LETTER`), ``u`` to the correction
    code (:data:`ALPACA_UPDATES`); Alpaca gives no participant time, sequence number or TRF id. An
    unknown code, a bad time or id, a malformed symbol and what :func:`tick_problems` refuses (price
    or size not positive, a key superseded by a later record) are rejects with the raw record.

    Args:
        window: ``[start, end)`` in nanoseconds: a trade outside it was not asked for (Alpaca's
            ``end`` is inclusive; the next day's midnight belongs to the next session) and is left out.
    """
    symbols = [symbol for symbol, rows in groups.items() for _ in rows]
    raw = [row for rows in groups.values() for row in rows]
    sip, timed = rfc3339_ns([row.get("t") if isinstance(row, dict) else None for row in raw])
    if window is not None:
        inside = ~timed | ((sip >= window[0]) & (sip < window[1]))
        if not inside.all():
            symbols = [s for s, keep in zip(symbols, inside, strict=True) if keep]
            raw = [r for r, keep in zip(raw, inside, strict=True) if keep]
            sip, timed = sip[inside], timed[inside]
    if not raw:
        return empty_frame(TICK_COLUMNS), EMPTY_REJECTS
    records = [row if isinstance(row, dict) else {} for row in raw]
    reasons = np.full(len(raw), "", dtype=object)
    add_reason(reasons, np.array([not isinstance(row, dict) for row in raw]), "not a JSON object")
    add_reason(reasons, ~timed, "missing or unparseable time (t)")
    symbol = pd.Series(symbols, dtype="string")
    add_reason(reasons, ~valid_symbols(symbol), "malformed symbol")
    add_reason(reasons, np.array([r.get("x") is None for r in records]), "missing exchange (x)")
    exchange = _codes(records, "x", EXCHANGE_IDS, "exchange letter", reasons)
    tape = _codes(records, "z", TAPE_IDS, "tape", reasons)
    correction = _codes(records, "u", ALPACA_UPDATES, "update", reasons)
    conditions = _conditions(records, reasons)
    trade_id = _trade_ids(records, reasons)
    ok = reasons == ""
    frame = trades_frame(
        symbol[ok].to_numpy(),
        sip[ok],
        price=numbers(records, "p")[ok],
        size=numbers(records, "s")[ok],
        exchange=exchange[ok],
        conditions=list(conditions[ok]),
        trade_id=list(trade_id[ok]),
        source=SOURCE,
        tape=tape[ok],
        correction=correction[ok],
    )

    def kept(positions: np.ndarray) -> list[dict[str, Any]]:
        """The raw records at ``positions``, with the symbol they were listed under."""
        return [
            {"symbol": symbols[i], **raw[i]}
            if isinstance(raw[i], dict)
            else {"symbol": symbols[i], "record": raw[i]}
            for i in positions
        ]

    problems = tick_problems(frame)
    valid, rejects = split_rejects(
        frame, problems, kept(np.flatnonzero(ok)) if (problems != "").any() else None
    )
    if not ok.all():
        bad = np.flatnonzero(~ok)
        parsed = rejects_frame(kept(bad), [str(reasons[i]) for i in bad])
        rejects = parsed if rejects.empty else pd.concat([parsed, rejects], ignore_index=True)
    return conform(valid, TICK_COLUMNS), rejects
