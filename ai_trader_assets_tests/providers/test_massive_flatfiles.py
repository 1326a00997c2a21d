"""Massive's flat files from a local S3 server (moto): the recorded samples' layout and traps, bars
built from minutes, and what a missing, corrupt or refused object does."""

import datetime as dt
import gzip
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.resample import bars_from_bars
from ai_trader_assets.providers import build_single
from ai_trader_assets.providers.base import AuthenticationError, NotServedError
from ai_trader_assets.providers.massive_flatfiles import (
    CorruptObjectError,
    MassiveFlatFilesProvider,
    MissingObjectError,
    object_key,
)
from ai_trader_assets.settings import ProviderAccess, Secret
from ai_trader_assets_tests.support.fake_api import FIXTURES
from ai_trader_assets_tests.support.flatfiles import BUCKET, put_sessions, s3_client
from ai_trader_assets_tests.support.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, moto_server

SAMPLE_SESSION = dt.date(2023, 3, 28)  # the recorded samples' session
SESSION = dt.date(2026, 11, 20)  # a Friday after the switch to decimal volumes
SAMPLES = FIXTURES / "flatfiles"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        client = s3_client(url)
        client.create_bucket(Bucket=BUCKET)
        for kind in ("day_aggs_v1", "minute_aggs_v1"):
            sample = SAMPLES / f"us_stocks_sip_{kind}_example_2023-03-28.csv"
            client.put_object(
                Bucket=BUCKET, Key=object_key(kind, SAMPLE_SESSION), Body=gzip.compress(sample.read_bytes())
            )
        put_sessions(url, ["AAPL", "MSFT"], [SESSION], filler=50)
        yield url


def provider(endpoint: str, tmp_path: Path, secret: str = SECRET_ACCESS_KEY) -> MassiveFlatFilesProvider:
    access = ProviderAccess(
        endpoints={"MASSIVE_S3_ENDPOINT": endpoint},
        keys={
            "MASSIVE_S3_ACCESS_KEY_ID": Secret(ACCESS_KEY_ID),
            "MASSIVE_S3_SECRET_ACCESS_KEY": Secret(secret),
        },
    )
    built = build_single("massive_flatfiles", load_config(), access, tmp_path / "limits")
    assert isinstance(built, MassiveFlatFilesProvider)
    return built


def sample(kind: str) -> pd.DataFrame:
    return pd.read_csv(SAMPLES / f"us_stocks_sip_{kind}_example_2023-03-28.csv")


def test_the_recorded_minute_sample_parses_with_the_session_from_the_key(
    endpoint: str, tmp_path: Path
) -> None:
    result = provider(endpoint, tmp_path).bars(["MSFT"], Dataset.BARS_1MIN, SAMPLE_SESSION, SAMPLE_SESSION)
    rows = sample("minute_aggs_v1").query("ticker == 'MSFT'")
    frame = result.frame
    assert len(frame) == len(rows) > 0 and result.rejects.empty
    # The sample's window_start has 17 digits (ns / 100): its first bar is 04:00 New York that day.
    assert frame["ts"].iloc[0] == pd.Timestamp("2023-03-28 08:00", tz="UTC")
    assert set(frame["ts"].dt.tz_convert("America/New_York").dt.date) == {SAMPLE_SESSION}
    # One value is a zero-padded millisecond count (00001680008040000): 08:54 New York, in sequence.
    odd = rows["window_start"].astype(str).str.len().ne(17).to_numpy()  # read_csv drops the zeros
    assert frame["ts"][odd].tolist() == [pd.Timestamp("2023-03-28 12:54", tz="UTC")]
    assert frame["ts"].is_monotonic_increasing
    assert frame["close"].tolist() == rows["close"].tolist()
    assert frame["volume"].tolist() == rows["volume"].astype(float).tolist()
    assert frame["trade_count"].tolist() == rows["transactions"].tolist()
    assert frame["vwap"].isna().all() and set(frame["source"]) == {"massive_flatfiles"}
    assert [(c.endpoint, c.rows) for c in result.calls] == [("s3 minute_aggs_v1", len(rows))]


def test_the_recorded_day_sample_gives_daily_bars_at_the_sessions_midnight(
    endpoint: str, tmp_path: Path
) -> None:
    result = provider(endpoint, tmp_path).grouped_daily_bars(SAMPLE_SESSION, ["BCC", "CLDX", "NOPE"])
    frame = result.frame.set_index("symbol")
    assert sorted(frame.index) == ["BCC", "CLDX"]  # a symbol the file lacks has no row
    # The file stamps 16:00 New York; a daily bar starts at the session's midnight there.
    assert set(frame["ts"]) == {pd.Timestamp("2023-03-28 04:00", tz="UTC")}
    assert frame.loc["BCC", ["open", "high", "low", "close", "volume"]].tolist() == [
        61.68, 62.565, 61.41, 61.99, 248274.0
    ]  # fmt: skip


def test_decimal_volumes_and_built_intervals_follow_the_read_sides_rules(
    endpoint: str, tmp_path: Path
) -> None:
    flat = provider(endpoint, tmp_path)
    minutes = flat.bars(["AAPL", "MSFT"], Dataset.BARS_1MIN, SESSION, SESSION).frame
    assert set(minutes["symbol"]) == {"AAPL", "MSFT"}  # the 50 filler tickers are left in the file
    assert minutes["volume"].gt(0).all()  # printed as 1975.000000 since 2026-02-23
    for dataset, seconds in [(Dataset.BARS_5MIN, 300), (Dataset.BARS_1HOUR, 3600)]:
        built = flat.bars(["AAPL", "MSFT"], dataset, SESSION, SESSION).frame
        expected = bars_from_bars(pl.from_pandas(minutes).with_columns(session=pl.lit(SESSION)), seconds)
        assert built["ts"].tolist() == expected["ts"].to_list()
        assert np.allclose(built["high"], expected["high"].to_numpy())
        assert built["volume"].tolist() == expected["volume"].to_list()
        assert built["vwap"].isna().all()  # the files carry no VWAP: none is made up
    # Hourly bars are clock hours in New York: the session's first covers 09:30-10:00.
    hours = flat.bars(["AAPL"], Dataset.BARS_1HOUR, SESSION, SESSION).frame
    regular = hours[hours["ts"].dt.tz_convert("America/New_York").dt.hour.between(9, 15)]
    assert regular["ts"].dt.tz_convert("America/New_York").dt.strftime("%H:%M").tolist()[:2] == [
        "09:00",
        "10:00",
    ]


def test_a_missing_object_is_not_served_so_rest_serves_the_session(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(MissingObjectError, match=r"2026-11-23\.csv\.gz is not there") as caught:
        provider(endpoint, tmp_path).bars(
            ["AAPL"], Dataset.BARS_1MIN, dt.date(2026, 11, 23), dt.date(2026, 11, 23)
        )
    assert isinstance(caught.value, NotServedError)


def test_a_corrupt_object_fails_naming_it(endpoint: str, tmp_path: Path) -> None:
    session = dt.date(2026, 11, 24)
    good = gzip.compress(
        b"ticker,volume,open,close,high,low,window_start,transactions\n" + b"AAPL,1,2,2,2,2,1,1\n" * 5000
    )
    s3_client(endpoint).put_object(
        Bucket=BUCKET, Key=object_key("minute_aggs_v1", session), Body=good[: len(good) // 2]
    )
    with pytest.raises(
        CorruptObjectError, match=r"s3://flatfiles/us_stocks_sip/minute_aggs_v1/2026/11/2026-11-24\.csv\.gz"
    ):
        provider(endpoint, tmp_path).bars(["AAPL"], Dataset.BARS_1MIN, session, session)


def test_news_actions_and_trades_are_not_served(endpoint: str, tmp_path: Path) -> None:
    flat = provider(endpoint, tmp_path)
    with pytest.raises(NotServedError):
        flat.corporate_actions(["AAPL"], SESSION, SESSION)
    with pytest.raises(NotServedError):
        flat.trades(["AAPL"], SESSION)


def test_refused_keys_name_the_variables_and_never_the_secret(tmp_path: Path) -> None:
    with moto_server(check_keys=True) as strict:
        flat = provider(strict, tmp_path, secret="wrong-SECRET-9f3a")
        with pytest.raises(AuthenticationError) as caught:
            flat.bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION)
    message = str(caught.value)
    assert "MASSIVE_S3_ACCESS_KEY_ID and MASSIVE_S3_SECRET_ACCESS_KEY" in message
    assert "InvalidAccessKeyId" in message or "SignatureDoesNotMatch" in message
    assert "wrong-SECRET" not in message and ACCESS_KEY_ID not in message
    assert "wrong-SECRET" not in repr(flat)
