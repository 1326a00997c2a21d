"""The demo provider: deterministic, consistent across intervals, realistic enough for the pipeline."""

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import bar_problems
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.demo_bars import splits

SYMBOLS = ["AAPL", "MSFT", "BRK.B", "ZZZZ"]
FULL_DAY = dt.date(2026, 11, 20)
EARLY_CLOSE = dt.date(2026, 11, 27)  # the day after Thanksgiving closes at 13:00
HOLIDAY = dt.date(2026, 11, 26)
provider = DemoProvider()


def resample(minutes: pd.DataFrame, bucket: pd.Series) -> pd.DataFrame:
    """An independent aggregation of 1-minute bars (pandas groupby), to compare against."""
    frame = minutes.assign(bucket=bucket, notional=minutes["vwap"] * minutes["volume"])
    out = (
        frame.groupby(["symbol", "bucket"])
        .agg(
            open=("open", "first"),
            high=("high", "max"),
            low=("low", "min"),
            close=("close", "last"),
            volume=("volume", "sum"),
            notional=("notional", "sum"),
            trade_count=("trade_count", "sum"),
        )
        .reset_index()
    )
    out["vwap"] = out.pop("notional") / out["volume"]
    return out.rename(columns={"bucket": "ts"})


@pytest.mark.parametrize("session", [FULL_DAY, EARLY_CLOSE])
@pytest.mark.parametrize(
    ("dataset", "bucket"),
    [
        (Dataset.BARS_5MIN, lambda ts: ts.dt.floor("5min")),
        (Dataset.BARS_1HOUR, lambda ts: ts.dt.floor("1h")),
        (
            Dataset.BARS_1DAY,
            lambda ts: ts.dt.tz_convert("America/New_York").dt.normalize().dt.tz_convert("UTC"),
        ),
    ],
)
def test_one_minute_bars_aggregate_exactly(session: dt.date, dataset: Dataset, bucket) -> None:  # type: ignore[no-untyped-def]
    minutes = provider.bars(SYMBOLS, Dataset.BARS_1MIN, session, session).frame
    coarse = provider.bars(SYMBOLS, dataset, session, session).frame
    expected = resample(minutes, bucket(minutes["ts"]))
    coarse = coarse.sort_values(["symbol", "ts"]).reset_index(drop=True)
    expected = expected.sort_values(["symbol", "ts"]).reset_index(drop=True)
    for column in ("symbol", "ts", "open", "high", "low", "close", "volume", "trade_count"):
        assert coarse[column].astype(str).tolist() == expected[column].astype(str).tolist(), column
    np.testing.assert_allclose(coarse["vwap"], expected["vwap"], rtol=1e-12)


def test_sessions_early_closes_and_holidays() -> None:
    full = provider.bars(["AAPL"], Dataset.BARS_1MIN, FULL_DAY, FULL_DAY).frame
    early = provider.bars(["AAPL"], Dataset.BARS_1MIN, EARLY_CLOSE, EARLY_CLOSE).frame
    assert len(full) == 390 and len(early) == 210
    assert full["ts"].min() == pd.Timestamp("2026-11-20 14:30", tz="UTC")
    assert early["ts"].max() == pd.Timestamp("2026-11-27 17:59", tz="UTC")
    assert provider.bars(["AAPL"], Dataset.BARS_1HOUR, EARLY_CLOSE, EARLY_CLOSE).frame[
        "ts"
    ].dt.hour.tolist() == [14, 15, 16, 17]
    assert provider.bars(["AAPL"], Dataset.BARS_1MIN, HOLIDAY, HOLIDAY).frame.empty
    week = provider.bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2026, 11, 23), dt.date(2026, 11, 29)).frame
    assert week["ts"].dt.tz_convert("America/New_York").dt.date.tolist() == calendar.sessions(
        dt.date(2026, 11, 23), dt.date(2026, 11, 29)
    )


def test_bars_are_valid_and_volume_is_u_shaped() -> None:
    minutes = provider.bars(SYMBOLS, Dataset.BARS_1MIN, FULL_DAY, FULL_DAY).frame
    assert (bar_problems(minutes) == "").all()
    for _, bars in minutes.groupby("symbol"):
        volume = bars["volume"].to_numpy()
        assert volume[:30].mean() > 1.5 * volume[180:210].mean() < volume[-30:].mean()


FINGERPRINT = """
import datetime as dt, hashlib, pandas as pd
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.demo import DemoProvider
p = DemoProvider()
start, end = dt.date(2026, 11, 16), dt.date(2026, 11, 20)
results = [p.bars(["AAPL", "MSFT"], d, start, end) for d in (Dataset.BARS_1MIN, Dataset.BARS_1DAY)]
results.append(p.corporate_actions(["AAPL", "MSFT", "KO"], dt.date(2015, 1, 1), end))
november = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
results.append(p.news(["AAPL"], november, november + dt.timedelta(days=19)))
frames = [r.frame.drop(columns="ingested_at") for r in results]
digest = hashlib.sha256()
for frame in frames:
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
print(digest.hexdigest())
"""


def test_two_processes_produce_identical_frames() -> None:
    digests = {
        subprocess.run(
            [sys.executable, "-c", FINGERPRINT], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(digests) == 1 and len(next(iter(digests))) == 64


def test_splits_jump_raw_prices_by_their_ratio() -> None:
    symbol, (ex_date, ratio) = next(
        (s, found[-1]) for s in (f"S{i}" for i in range(400)) if (found := splits(s, dt.date(2026, 11, 1)))
    )
    before = calendar.previous_session(ex_date)
    daily = provider.bars([symbol], Dataset.BARS_1DAY, before, ex_date).frame
    jump = daily["close"].iloc[0] / daily["open"].iloc[1]
    assert ratio * 0.9 < jump < ratio * 1.1
    actions = provider.corporate_actions([symbol], ex_date, ex_date).frame
    split = actions[actions["action_type"] == "split"].iloc[0]
    assert (split["split_from"], split["split_to"]) == (1.0, float(ratio))


def test_dividends_are_quarterly_for_some_symbols() -> None:
    actions = provider.corporate_actions(
        [f"D{i}" for i in range(40)], dt.date(2025, 1, 1), dt.date(2025, 12, 31)
    ).frame
    dividends = actions[actions["action_type"] == "dividend"]
    payers = dividends.groupby("symbol").size()
    assert 5 <= len(payers) <= 30 and (payers == 4).all()
    assert (dividends["cash_amount"] > 0).all()
    assert all(calendar.is_session(d) for d in dividends["ex_date"])


def test_news_name_their_symbols_and_fall_on_any_day() -> None:
    result = provider.news(
        ["AAPL", "MSFT"], dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    )
    assert len(result.frame) > 5 and result.frame["id"].is_unique
    assert result.links is not None and set(result.links["news_id"]) == set(result.frame["id"])
    titles = dict(zip(result.frame["id"], result.frame["title"], strict=True))
    assert all(titles[row.news_id].startswith(row.symbol) for row in result.links.itertuples())
    weekdays = {ts.weekday() for ts in result.frame["published_utc"]}
    assert weekdays & {5, 6}  # weekend articles exist (they belong to the next session)


def test_a_trading_session_is_served_up_to_now_like_a_live_feed() -> None:
    now = dt.datetime.combine(FULL_DAY, dt.time(11, 0, 30), calendar.NEW_YORK)
    live = DemoProvider(clock=lambda: now)
    minutes = live.bars(["AAPL"], Dataset.BARS_1MIN, FULL_DAY, FULL_DAY).frame
    # 09:30 .. 11:00: the 11:00 bar is still forming (a live feed serves it; callers drop it).
    assert len(minutes) == 91 and minutes["ts"].max() == pd.Timestamp(now.replace(second=0))
    whole = provider.bars(["AAPL"], Dataset.BARS_1MIN, FULL_DAY, FULL_DAY).frame
    pd.testing.assert_frame_equal(
        minutes.drop(columns="ingested_at"), whole.head(91).drop(columns="ingested_at"), check_dtype=False
    )
    assert live.bars(["AAPL"], Dataset.BARS_1DAY, FULL_DAY, FULL_DAY).frame.empty  # the day is not over
    assert live.grouped_daily_bars(FULL_DAY, ["AAPL"]).frame.empty
    later = calendar.sessions(FULL_DAY, dt.date(2026, 11, 24))[1:]
    assert live.bars(["AAPL"], Dataset.BARS_5MIN, later[0], later[-1]).frame.empty  # not traded yet
    since = dt.datetime.combine(FULL_DAY, dt.time(10, 55), calendar.NEW_YORK)
    recent = live.bars(["AAPL"], Dataset.BARS_1MIN, FULL_DAY, FULL_DAY, since=since).frame
    assert len(recent) == 6 and recent["ts"].min() == pd.Timestamp(since)
    news = live.news(["AAPL", "MSFT", "NVDA", "IBM"], now - dt.timedelta(days=5), now + dt.timedelta(days=1))
    assert not news.frame.empty and (news.frame["published_utc"] < pd.Timestamp(now)).all()


def test_the_demos_numbers_are_pinned() -> None:
    """Speed work on the generator must not change what it generates: a few values, as generated
    before the generator was reworked for speed (issue 24), to the cent and the share."""
    daily = provider.bars(["AAPL", "BRK.B"], Dataset.BARS_1DAY, FULL_DAY, FULL_DAY).frame
    assert daily[["open", "high", "low", "close"]].round(2).values.tolist() == [
        [45.36, 45.87, 44.67, 45.15],
        [55.28, 56.17, 54.98, 55.02],
    ]
    assert daily["volume"].tolist() == [4609144.0, 5121702.0]
    assert daily["trade_count"].tolist() == [5760, 6392]
    minutes = provider.bars(["AAPL"], Dataset.BARS_1MIN, FULL_DAY, FULL_DAY).frame
    assert len(minutes) == 390
    assert minutes.iloc[[0, -1]][["open", "close"]].round(2).values.tolist() == [
        [45.36, 45.42],
        [45.2, 45.15],
    ]
