"""Hot writes in PostgreSQL's binary COPY form: rows of every shape (NULLs in each nullable column,
symbols and ids of several lengths, non-ASCII text, dates, booleans, small integers, nanosecond tick
times) read back exactly as written, on both engines; free text and types the encoder does not know
go as CSV."""

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.storage import pg_copy
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import HotStore

INGESTED = pd.Timestamp("2026-11-20 21:05:00.123456", tz="UTC")


def bars() -> pd.DataFrame:
    symbols = ["A", "BRK.B", "GOOGL", "TSLA"]
    ts = pd.date_range("2026-11-20 14:30", periods=5, freq="1min", tz="UTC")
    frame = pd.DataFrame([(s, t) for s in symbols for t in ts], columns=["symbol", "ts"]).assign(
        open=10.25, high=11.5, low=9.75, close=10.5, volume=1_234.5, source="polygon"
    )
    frame["vwap"] = np.where(np.arange(len(frame)) % 3 == 0, np.nan, 10.4)
    frame["trade_count"] = pd.array([None if i % 4 == 1 else i * 7 for i in range(len(frame))], "Int64")
    frame.loc[frame["symbol"] == "A", "source"] = "massive_flatfiles"
    frame["ingested_at"] = INGESTED
    return conform(frame, SPECS[Dataset.BARS_1MIN].columns)


def ticks() -> pd.DataFrame:
    base = pd.Timestamp("2026-11-20 14:30:00.000000001", tz="UTC")
    rows = []
    for i in range(12):
        rows.append(
            {
                "symbol": "AAPL" if i % 2 else "F",
                "ts": base + pd.Timedelta(nanoseconds=i * 1_000_003),
                "sip_timestamp": base.value + i * 1_000_003,
                "participant_timestamp": None if i % 5 == 0 else base.value + i,
                "price": 227.5 + i / 100,
                "size": float(i + 1),
                "exchange": i % 3 + 1,
                "conditions": ",".join(str(c) for c in range(i % 4)),  # "" and longer lists
                "tape": None if i % 6 == 0 else 3,
                "sequence_number": i * 1_000,
                "trade_id": str(52983525029461 + i * 99_991),
                "correction": None if i % 2 else 0,
                "trf_id": None,
                "regular_hours": i % 3 != 0,
                "source": "polygon",
                "ingested_at": INGESTED,
            }
        )
    return conform(pd.DataFrame(rows), SPECS[Dataset.TICKS].columns)


def actions() -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            ("s-NVDA-2024-06-10", "NVDA", "split", dt.date(2024, 6, 10), 1.0, 10.0, None, None, None),
            ("d-MSFT-2026-11-19", "MSFT", "dividend", dt.date(2026, 11, 19), None, None, 0.91, "USD", None),
            ("d-SAP-2026-05-20", "SAP", "dividend", dt.date(2026, 5, 20), None, None, 2.35, "€UR", None),
        ],
        columns=[
            *("id", "symbol", "action_type", "ex_date", "split_from", "split_to", "cash_amount"),
            *("currency", "declaration_date"),
        ],
    )
    frame["record_date"] = [None, dt.date(2026, 11, 20), dt.date(2026, 5, 22)]
    frame["pay_date"] = [None, dt.date(2026, 12, 11), None]
    frame["source"] = "polygon"
    frame["ingested_at"] = INGESTED
    return conform(frame, SPECS[Dataset.CORPORATE_ACTIONS].columns)


@pytest.mark.parametrize(
    ("dataset", "rows"),
    [(Dataset.BARS_1MIN, bars), (Dataset.TICKS, ticks), (Dataset.CORPORATE_ACTIONS, actions)],
)
def test_rows_of_every_shape_read_back_as_written(
    market_db: MarketDatabase, dataset: Dataset, rows: Callable[[], pd.DataFrame]
) -> None:
    frame = rows()
    hot = HotStore(market_db)
    spec = SPECS[dataset]
    key = list(spec.key)
    for _ in range(2):  # a first fill (straight COPY), then the same keys again (staging + upsert)
        with market_db.begin() as conn:
            assert hot.upsert(conn, dataset, frame) == len(frame)
    back = hot.read(dataset).sort_values(key, ignore_index=True)
    expected = frame.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(back[list(frame.columns)], expected, check_dtype=False)

    if market_db.dialect == "postgresql":  # these went in binary form, not as CSV
        columns = [c.name for c in spec.table.columns]
        with market_db.begin() as conn:
            _, form = hot.bulk.copy_form(conn, spec.table.name, pa.Table.from_pandas(frame[columns]))
        assert form == "binary"


def test_free_text_and_unknown_types_go_as_csv() -> None:
    titles = pa.table({"title": [f"headline {'x' * i}" for i in range(pg_copy.MAX_SHAPES + 1)]})
    assert pg_copy.encode(titles, {"title": "text"}) is None  # a shape per row: CSV is cheaper
    assert pg_copy.encode(titles.slice(0, 3), {"title": "text"}) is not None
    assert pg_copy.encode(pa.table({"n": [1.5]}), {"n": "numeric"}) is None
    assert pg_copy.encode(pa.table({"n": ["1.5"]}), {"n": "double precision"}) is None


def test_the_binary_layout_of_one_row() -> None:
    table = pa.table(
        {
            "symbol": ["Ü"],
            "close": [1.5],
            "volume": pa.array([None], pa.float64()),
            "ts": pa.array([pd.Timestamp("2000-01-01 00:00:01", tz="UTC")]),
        }
    )
    types = {"symbol": "character varying", "close": "double precision", "volume": "double precision"}
    chunks = pg_copy.encode(table, {**types, "ts": "timestamp with time zone"})
    assert chunks is not None
    expected_row = (
        b"\x00\x04"  # four fields
        + b"\x00\x00\x00\x02\xc3\x9c"  # "Ü" in UTF-8: two bytes
        + b"\x00\x00\x00\x08"
        + b"\x3f\xf8"
        + b"\x00" * 6  # 1.5, big-endian IEEE 754
        + b"\xff\xff\xff\xff"  # NULL
        + b"\x00\x00\x00\x08"
        + (1_000_000).to_bytes(8, "big")  # one second after 2000-01-01
    )
    assert b"".join(chunks) == pg_copy.SIGNATURE + expected_row + pg_copy.TRAILER
