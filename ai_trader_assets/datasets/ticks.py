"""Trade ticks: ``ticks``, every trade of the active layer's symbols (quotes are not stored).

- Rows: one per trade. ``sip_timestamp`` is the SIP's time in nanoseconds since the epoch (UTC), the
  exact time; ``ts`` is the same instant at microseconds (what ranges, retention and the hot table's
  time index use: PostgreSQL keeps microseconds). ``participant_timestamp`` is the exchange's own time
  (ns). ``size`` is a float (fractional and odd lots exist). ``exchange`` and ``conditions`` use
  Polygon's ids (Alpaca's letter codes are mapped: :data:`EXCHANGE_IDS`, :mod:`.conditions`);
  ``conditions`` is stored as comma-separated ids ("12,37") and read back as a list of ints.
  ``correction`` is the CTA/UTP correction code (0 or missing: none). ``regular_hours`` marks trades
  inside the session's regular hours (09:30 to the close, early closes from the calendar); pre- and
  post-market trades are kept with False.
- Key: (symbol, sip_timestamp, exchange, trade_id): a trade id is unique per symbol, exchange (and
  TRF) and day, so a re-fetch never duplicates and a corrected trade (same id and time) replaces the
  record it corrects. Within one fetch the later record of a key wins (a correction follows the
  original; a repeated page repeats the same records).
- Session: the New York date of ``ts``.
- Validation: price > 0, size > 0, the key present; a trade outside the session it was fetched for is
  rejected by the fetch (:func:`outside_session`).
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.datasets.bars import bar_sessions
from ai_trader_assets.datasets.frames import UTC_TS, conform, symbol_column
from ai_trader_assets.datasets.names import Dataset
from ai_trader_assets.datasets.spec import DatasetSpec, LakeLayout
from ai_trader_assets.datasets.tables import UtcDateTime, metadata
from ai_trader_assets.datasets.validation import add_reason

# Strings held by Arrow, not as Python objects: a million trades' ids and conditions in a few MB
# instead of hundreds, and no conversion on the way to the lake.
ARROW_STRING = "string[pyarrow]"
TICK_COLUMNS: dict[str, Any] = {
    "symbol": ARROW_STRING,
    "ts": UTC_TS,
    "sip_timestamp": "int64",
    "participant_timestamp": "Int64",
    "price": "float64",
    "size": "float64",
    "exchange": "Int64",
    "conditions": ARROW_STRING,
    "tape": "Int64",
    "sequence_number": "Int64",
    "trade_id": ARROW_STRING,
    "correction": "Int64",
    "trf_id": "Int64",
    "regular_hours": "boolean",
    "source": ARROW_STRING,
    "ingested_at": UTC_TS,
}
KEY = ("symbol", "sip_timestamp", "exchange", "trade_id")
READ_COLUMNS = tuple(c for c in TICK_COLUMNS if c != "ingested_at")

# Alpaca's exchange letters (the SIP participant codes) -> Polygon's exchange ids.
EXCHANGE_IDS: dict[str, int] = {
    "A": 1,  # NYSE American
    "B": 2,  # Nasdaq OMX BX
    "C": 3,  # NYSE National
    "D": 4,  # FINRA ADF / TRFs
    "E": 5,  # Market Independent (SIP-generated)
    "I": 6,  # International Securities Exchange
    "J": 7,  # Cboe EDGA
    "K": 8,  # Cboe EDGX
    "M": 9,  # NYSE Chicago
    "N": 10,  # New York Stock Exchange
    "P": 11,  # NYSE Arca
    "Q": 12,  # Nasdaq
    "T": 12,  # Nasdaq (UTP's letter for Nasdaq-listed trades reported by Nasdaq)
    "S": 13,  # Consolidated Tape System
    "L": 14,  # Long-Term Stock Exchange
    "V": 15,  # Investors Exchange (IEX)
    "W": 16,  # Cboe Stock Exchange
    "X": 17,  # Nasdaq OMX PSX
    "Y": 18,  # Cboe BYX
    "Z": 19,  # Cboe BZX
    "H": 20,  # MIAX Pearl
    "U": 21,  # Members Exchange (MEMX)
}
TAPE_IDS: dict[str, int] = {"A": 1, "B": 2, "C": 3}

TICKS_TABLE = sa.Table(
    "ticks",
    metadata,
    sa.Column("symbol", sa.String(10), primary_key=True),
    sa.Column("ts", UtcDateTime, nullable=False),
    sa.Column("sip_timestamp", sa.BigInteger, primary_key=True),
    sa.Column("participant_timestamp", sa.BigInteger),
    sa.Column("price", sa.Float(53), nullable=False),
    sa.Column("size", sa.Float(53), nullable=False),
    sa.Column("exchange", sa.SmallInteger, primary_key=True),
    sa.Column("conditions", sa.String(64), nullable=False),
    sa.Column("tape", sa.SmallInteger),
    sa.Column("sequence_number", sa.BigInteger),
    sa.Column("trade_id", sa.String(40), primary_key=True),
    sa.Column("correction", sa.SmallInteger),
    sa.Column("trf_id", sa.SmallInteger),
    sa.Column("regular_hours", sa.Boolean, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", UtcDateTime, nullable=False),
)
sa.Index("ix_ticks_ts", TICKS_TABLE.c.ts)  # retention deletes by time; reads go by the key's prefix


def trades_frame(
    symbol: Sequence[str] | np.ndarray,
    sip_timestamp: Sequence[int] | np.ndarray,
    *,
    price: Sequence[float] | np.ndarray,
    size: Sequence[float] | np.ndarray,
    exchange: Sequence[int | None] | np.ndarray,
    conditions: Sequence[str],
    trade_id: Sequence[str],
    source: str,
    participant_timestamp: Sequence[int | None] | np.ndarray | None = None,
    tape: Sequence[int | None] | np.ndarray | None = None,
    sequence_number: Sequence[int | None] | np.ndarray | None = None,
    correction: Sequence[int | None] | np.ndarray | None = None,
    trf_id: Sequence[int | None] | np.ndarray | None = None,
) -> pd.DataFrame:
    """A ticks frame from a provider's columns: ``ts`` and ``regular_hours`` derived, dtypes set."""
    sip = np.asarray(sip_timestamp, dtype="int64")
    count = len(sip)

    def optional(values: Any) -> Any:
        return pd.array([None] * count if values is None else values, dtype="Int64")

    frame = pd.DataFrame(
        {
            "symbol": pd.array(symbol, dtype=ARROW_STRING),
            "ts": pd.DatetimeIndex((sip // 1000).astype("datetime64[us]")).tz_localize("UTC"),
            "sip_timestamp": sip,
            "participant_timestamp": optional(participant_timestamp),
            "price": np.asarray(price, dtype="float64"),
            "size": np.asarray(size, dtype="float64"),
            "exchange": optional(exchange),
            "conditions": pd.array(conditions, dtype=ARROW_STRING),
            "tape": optional(tape),
            "sequence_number": optional(sequence_number),
            "trade_id": pd.array(trade_id, dtype=ARROW_STRING),
            "correction": optional(correction),
            "trf_id": optional(trf_id),
            "regular_hours": in_regular_hours(sip),
            "source": source,
            "ingested_at": pd.Timestamp.now(tz="UTC").as_unit("us"),
        }
    )
    return conform(frame, TICK_COLUMNS)


def _new_york_days(sip: np.ndarray) -> np.ndarray:
    local = pd.DatetimeIndex(sip.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(calendar.NEW_YORK)
    return local.tz_localize(None).to_numpy().astype("datetime64[D]")


def in_regular_hours(sip: np.ndarray) -> np.ndarray:
    """Whether each instant (ns UTC) lies in its New York day's regular session [open, close)."""
    result = np.zeros(len(sip), dtype=bool)
    if not len(sip):
        return result
    days = _new_york_days(sip)
    for day in np.unique(days):
        date = dt.date.fromisoformat(str(day))
        if not calendar.is_session(date):
            continue
        opened, closed = calendar.session_open_close(date)
        on_day = days == day
        result |= on_day & (sip >= _ns(opened)) & (sip < _ns(closed))
    return result


def _ns(moment: dt.datetime) -> int:
    return int(pd.Timestamp(moment).as_unit("ns").value)


def session_bounds_ns(session: dt.date) -> tuple[int, int]:
    """The session's New York day as [start, end) in nanoseconds UTC: what one fetch asks for."""
    start = dt.datetime.combine(session, dt.time(), calendar.NEW_YORK)
    return _ns(start), _ns(start + dt.timedelta(days=1))


def outside_session(frame: pd.DataFrame, sessions: Sequence[dt.date]) -> np.ndarray:
    """Rows whose New York date is none of the ``sessions`` the fetch asked for."""
    days = _new_york_days(frame["sip_timestamp"].to_numpy(dtype="int64"))
    return ~np.isin(days, np.array(sorted(sessions), dtype="datetime64[D]"))


def tick_problems(frame: pd.DataFrame) -> np.ndarray:
    """Per row, why it is not a storable trade ('' when it is). A repeated key keeps the later record
    (a correction, or the same trade on a repeated page) and rejects the earlier ones."""
    reasons = np.full(len(frame), "", dtype=object)
    if frame.empty:
        return reasons
    missing = frame[list(KEY)].isna().any(axis=1).to_numpy()
    add_reason(reasons, missing, f"missing key {list(KEY)}")
    price = frame["price"].to_numpy(dtype="float64", na_value=np.nan)
    size = frame["size"].to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        add_reason(reasons, ~(np.isfinite(price) & (price > 0)), "price missing, non-finite or <= 0")
        add_reason(reasons, ~(np.isfinite(size) & (size > 0)), "size missing, non-finite or <= 0")
    repeated = frame.duplicated(subset=list(KEY), keep="last").to_numpy() & ~missing
    add_reason(reasons, repeated, "superseded: a later record of the fetch has the same trade key")
    return reasons


SPEC = DatasetSpec(
    dataset=Dataset.TICKS,
    label="ticks",
    description=(
        "Every trade of the layer's symbols in one session (pre- and post-market included, marked by "
        "regular_hours), nanosecond SIP time, Polygon's exchange and condition ids."
    ),
    columns=TICK_COLUMNS,
    key=KEY,
    time_column="ts",
    table=TICKS_TABLE,
    # A session per partition: a symbol-session is one contiguous run of row groups, sorted by time.
    lake=LakeLayout(
        bucket="day",
        slice_column="symbol",
        cluster_by=("symbol",),
        sort_by=("symbol", "sip_timestamp", "exchange", "trade_id"),
        # Measured with benchmarks.ticks: times and sequence numbers rise within a symbol, so their
        # deltas pack small; trade ids are unique (a dictionary only costs); zstd level 1 is cheap.
        compression=("ZSTD", 1),
        encodings={
            "ts": "DELTA_BINARY_PACKED",
            "sip_timestamp": "DELTA_BINARY_PACKED",
            "participant_timestamp": "DELTA_BINARY_PACKED",
            "sequence_number": "DELTA_BINARY_PACKED",
            "trade_id": "PLAIN",
        },
        row_group_rows=131_072,
        range_column="sip_timestamp",
    ),
    read_columns=READ_COLUMNS,
    read_order=("symbol", "sip_timestamp", "exchange", "trade_id"),
    sessions_of=bar_sessions,  # as a bar's: the New York date of ts (a day starts on a whole µs)
    symbols_of=symbol_column,
    problems=tick_problems,
    bulk=True,
    checked_columns=(*KEY, "price", "size"),
    reads=Dataset.BARS_1MIN,  # a session's trades are checked against its 1-minute bars
)
