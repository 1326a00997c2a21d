"""Massive flat files for tests and benchmarks: gzipped aggregates CSVs in the real layout (the header,
minimal number formatting and missing trailing newline of ``../shared/fixtures/flatfiles``), one per
session and kind, put into a local S3 bucket (moto).

The symbols asked for get the demo's bars, the data the Polygon stand-in serves too, so a session read
from files and one read over REST agree; ``filler`` more tickers get a few minutes each, as the real
files list thousands of thinly traded names a run never asks for. Minute files also hold pre- and
post-market minutes (as the real ones do) for the symbols asked for.
"""

import datetime as dt
import gzip
import io
from collections.abc import Sequence

import boto3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.demo_bars import session_bars
from ai_trader_assets.providers.massive_flatfiles import object_key
from ai_trader_assets_tests.support.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

BUCKET = "flatfiles"
HEADER = ("ticker", "volume", "open", "close", "high", "low", "window_start", "transactions")
DECIMAL_VOLUMES_FROM = dt.date(2026, 2, 23)  # sizes and volumes printed as decimals since then


def filler_tickers(count: int) -> list[str]:
    """``count`` distinct valid tickers no test universe uses (``QAAA``, ``QAAB``, ...)."""
    letters = "ABCDEFGHIJKLMNOPRSTUVWXYZ"
    return [
        "Q" + "".join(letters[(i // len(letters) ** p) % len(letters)] for p in (2, 1, 0))
        for i in range(count)
    ]


def _extended_minutes(minutes: pd.DataFrame, session: dt.date) -> pd.DataFrame:
    """A pre-market (08:00) and an after-hours (16:30) minute per symbol at its opening price, as
    real files have such minutes."""
    open_utc, close_utc = calendar.session_open_close(session)
    first = minutes.groupby("symbol", sort=False).first().reset_index()
    price = first["open"].to_numpy()
    parts = [
        pd.DataFrame(
            {"symbol": first["symbol"], "ts": pd.Timestamp(at).as_unit("us"), "open": price,
             "high": price * 1.002, "low": price * 0.998, "close": price, "volume": 300.0, "trade_count": 3}
        )
        for at in (open_utc - dt.timedelta(minutes=90), close_utc + dt.timedelta(minutes=30))
    ]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _filler(tickers: Sequence[str], session: dt.date, daily: bool) -> pd.DataFrame:
    open_utc, _ = calendar.session_open_close(session)
    stamps = [pd.Timestamp(calendar.session_midnight_utc(session))] if daily else [
        pd.Timestamp(open_utc + dt.timedelta(minutes=m)) for m in (0, 1, 17)
    ]  # fmt: skip
    rng = np.random.default_rng(session.toordinal())
    prices = np.round(rng.uniform(1, 200, len(tickers)), 2)
    frame = pd.DataFrame({"symbol": np.repeat(list(tickers), len(stamps)), "ts": stamps * len(tickers)})
    price = np.repeat(prices, len(stamps))
    return frame.assign(
        open=price, high=price * 1.01, low=price * 0.99, close=price, volume=100.0, trade_count=1
    )


def aggregates_csv(symbols: Sequence[str], session: dt.date, dataset: Dataset, filler: int = 0) -> bytes:
    """One session's object body (gzipped) for ``day_aggs_v1`` (``dataset`` bars_1day) or
    ``minute_aggs_v1`` (bars_1min), sorted by ticker like the real files."""
    daily = dataset == Dataset.BARS_1DAY
    parts = [session_bars(list(symbols), session, dataset)] if symbols else []
    if not daily and symbols:
        parts.append(_extended_minutes(parts[0], session))
    if filler:
        parts.append(_filler(filler_tickers(filler), session, daily))
    bars = pd.concat(parts, ignore_index=True).sort_values(["symbol", "ts"], kind="stable")
    if daily:  # the day files stamp 16:00 New York, not the session's midnight
        close = dt.datetime.combine(session, dt.time(16), calendar.NEW_YORK)
        starts = np.full(len(bars), int(pd.Timestamp(close).value))
    else:
        starts = pd.DatetimeIndex(bars["ts"]).as_unit("ns").asi8
    volume = bars["volume"].to_numpy(dtype="float64")
    table = pa.table(
        {
            "ticker": bars["symbol"].astype(str).tolist(),
            # Whole shares before 2026-02-23, decimals such as 1975.000000 since.
            "volume": [f"{v:.6f}" for v in volume]
            if session >= DECIMAL_VOLUMES_FROM
            else volume.astype("int64"),
            "open": bars["open"].to_numpy(),
            "close": bars["close"].to_numpy(),
            "high": bars["high"].to_numpy(),
            "low": bars["low"].to_numpy(),
            "window_start": starts,
            "transactions": bars["trade_count"].to_numpy(dtype="int64"),
        }
    )
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="none"))
    text = out.getvalue().replace(b'"', b"").rstrip(b"\n")  # no trailing newline, like the samples
    return gzip.compress(text, compresslevel=1)


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        region_name=REGION,
    )


def put_sessions(
    endpoint: str,
    symbols: Sequence[str],
    sessions: Sequence[dt.date],
    *,
    filler: int = 0,
    kinds: Sequence[Dataset] = (Dataset.BARS_1DAY, Dataset.BARS_1MIN),
) -> int:
    """Both objects of each session into the bucket (created if missing); returns the bytes put."""
    client = s3_client(endpoint)
    if BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=BUCKET)
    size = 0
    for session in sessions:
        for dataset in kinds:
            body = aggregates_csv(symbols, session, dataset, filler)
            kind = "day_aggs_v1" if dataset == Dataset.BARS_1DAY else "minute_aggs_v1"
            client.put_object(Bucket=BUCKET, Key=object_key(kind, session), Body=body)
            size += len(body)
    return size
