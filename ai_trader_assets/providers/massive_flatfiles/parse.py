"""One session's aggregates object (gzipped CSV, every ticker of the US market) parsed as it streams,
keeping only the symbols a run asked for: the market never sits in memory beyond one block.

Traps of the real files (``../shared/fixtures/PROVIDER_NOTES.md``), handled here:
- the session comes from the object key, not ``window_start``: the day files stamp 16:00 New York
  (like the grouped-daily endpoint), so a daily bar's start is the session's midnight in New York;
- ``window_start`` is nanoseconds, but Massive's own minute example holds 17-digit values (ns / 100)
  and one zero-padded millisecond value: per value, the unit is the one that puts it inside the
  session's New York day (none: the row is a reject saying so);
- ``volume`` has been printed as a decimal (``0.500000``) since 2026-02-23: read as a float;
- there is no VWAP column (bars from flat files carry none) and no trailing newline.
A value that does not parse (a corrupt or cut file) fails the object, naming it; a row whose
``window_start`` fits no unit is a reject saying so, and a row that is not a valid bar (non-positive
price, high below the close...) is quarantined with its reason on the write path, as every source's.
"""

import datetime as dt
from collections.abc import Collection
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ai_trader_assets import calendar
from ai_trader_assets.datasets.bars import BAR_COLUMNS
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, rejects_frame
from ai_trader_assets.providers.base import ProviderError, ingest_time

SOURCE = "massive_flatfiles"
AGGREGATE_TYPES = {
    "ticker": pa.string(),
    "volume": pa.float64(),
    "open": pa.float64(),
    "close": pa.float64(),
    "high": pa.float64(),
    "low": pa.float64(),
    "window_start": pa.int64(),
    "transactions": pa.float64(),
}
BLOCK_BYTES = 4 << 20  # what is parsed at once: a few tens of thousands of rows
# window_start units the files have used: ns, ns / 100 (Massive's minute example), us, ms.
_SCALES = (1, 100, 1_000, 1_000_000)
_DAY_NS = 86_400 * 10**9


class CorruptObjectError(ProviderError):
    """An object that is not a gzipped CSV in the aggregates layout (cut off, corrupt, wrong columns):
    its session fails, and nothing of it is stored."""


def read_aggregates(stream: IO[bytes], symbols: Collection[str], where: str) -> pa.Table:
    """The rows of ``symbols`` in a gzipped aggregates CSV, read block by block.

    Raises:
        CorruptObjectError: the gzip or the CSV cannot be read (``where`` names the object).
    """
    wanted = pa.array(sorted(set(symbols)), type=pa.string())
    try:
        reader = pacsv.open_csv(
            pa.input_stream(stream, compression="gzip"),
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            convert_options=pacsv.ConvertOptions(
                column_types=AGGREGATE_TYPES, include_columns=list(AGGREGATE_TYPES)
            ),
        )
        kept = [batch.filter(pc.is_in(batch["ticker"], value_set=wanted)) for batch in reader]
        return pa.Table.from_batches(kept, schema=reader.schema)
    except (ConnectionError, TimeoutError):
        raise  # the network, not the object: the caller retries
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        # pyarrow words both a broken gzip stream and a bad CSV value as one of these.
        raise CorruptObjectError(f"{where} cannot be read as a gzipped aggregates CSV: {exc}") from None


def window_starts_ns(values: np.ndarray, session: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """``window_start`` as nanoseconds since the epoch, and where that was possible: per value, the
    first unit that puts it inside the session's New York day (the files mix them: Massive's minute
    sample holds ns / 100 values and one zero-padded millisecond value)."""
    low = int(calendar.session_midnight_utc(session).timestamp()) * 10**9
    high = low + _DAY_NS
    ns = np.zeros(len(values), dtype="int64")
    found = np.zeros(len(values), dtype=bool)
    for scale in _SCALES:
        # values * scale in [low, high), compared before multiplying (no int64 overflow)
        fits = ~found & (values >= -(-low // scale)) & (values < -(-high // scale))
        ns[fits] = values[fits] * scale
        found |= fits
    return ns, found


def bars_frame(
    table: pa.Table, session: dt.date, daily: bool, where: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valid bars (the hot table's schema) and rejects from one session's parsed rows."""
    if table.num_rows == 0:
        return empty_frame(BAR_COLUMNS), EMPTY_REJECTS
    rows = table.num_rows
    found = np.ones(rows, dtype=bool)
    if daily:
        ts = pd.DatetimeIndex(np.full(rows, pd.Timestamp(calendar.session_midnight_utc(session))))
    else:
        starts, found = window_starts_ns(table["window_start"].to_numpy(zero_copy_only=False), session)
        ts = pd.DatetimeIndex(
            pd.to_datetime(np.where(found, starts, np.iinfo("int64").min), unit="ns", utc=True)
        )
    column = {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}
    frame = pd.DataFrame(
        {
            "symbol": pd.array(column["ticker"], dtype="string"),
            "ts": pd.Series(ts.as_unit("us")),
            "open": column["open"],
            "high": column["high"],
            "low": column["low"],
            "close": column["close"],
            "volume": column["volume"],
            "vwap": np.full(rows, np.nan),
            "trade_count": pd.array(np.round(column["transactions"]), dtype="Int64"),
            "source": SOURCE,
            "ingested_at": ingest_time(),
        }
    )
    # The bars' own rules (prices, volume, duplicates) are checked where every source's rows are, on
    # the write path (quarantined there with the row); here only what the file alone can tell, with
    # the CSV row itself (its window_start is what went wrong).
    if found.all():
        return conform(frame, BAR_COLUMNS), EMPTY_REJECTS
    unplaced = table.filter(pa.array(~found)).to_pylist()
    reason = f"window_start not in session {session} in any unit the files use"
    return conform(frame[found].reset_index(drop=True), BAR_COLUMNS), rejects_frame(
        unplaced, [reason] * len(unplaced)
    )
