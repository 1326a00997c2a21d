"""The Alpaca provider (alpaca-py under our governor) against a local server speaking Alpaca's API.

Recorded bodies come from ``shared/fixtures/alpaca``; generated ones from the demo provider, so the
values can be compared with ``session_bars`` and the demo's news and corporate actions.
"""

import datetime as dt
import json
import logging
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import alpaca.common.rest
import pandas as pd
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.alpaca import AlpacaProvider
from ai_trader_assets.providers.alpaca.client import SIP_DELAY
from ai_trader_assets.providers.alpaca.parse import rfc3339_ns
from ai_trader_assets.providers.base import (
    AuthenticationError,
    NotServedError,
    PaginationError,
    ProviderError,
    ProviderUnavailableError,
)
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.demo_bars import session_bars
from ai_trader_assets.providers.http import RequestGovernor
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.settings import Secret
from ai_trader_assets_tests.support.alpaca_server import AlpacaServer, fixture, generated_trades
from ai_trader_assets_tests.support.fake_api import SleepRecorder, provider_spec, short_read_timeout

API_KEY = "AKSENTINEL7Q2W9E"
SECRET_KEY = "sk_SENTINEL_4f0c9d1e8b7a"
SESSION = dt.date(2026, 11, 20)
BARS = "/v2/stocks/bars"
NEWS = "/v1beta1/news"
ACTIONS = "/v1/corporate-actions"
TRADES = "/v2/stocks/trades"
VALUE_COLUMNS = ["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "trade_count"]


class CountingLimiter(RequestLimiter):
    """The shared limiter, counting the slots taken."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = 0

    def acquire(self) -> None:
        self.slots += 1
        super().acquire()


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with AlpacaServer(API_KEY, SECRET_KEY) as running:
        yield running


@pytest.fixture
def spec() -> ProviderSpec:
    return provider_spec("alpaca")  # limits and page sizes as shipped


@pytest.fixture(autouse=True)
def no_sdk_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own retry sleeps (3 s on 429/504) must never run: only the governor waits."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"the SDK slept {seconds} s: its retry loop stacked with ours")

    # The SDK module's own reference to `time`, not the time module itself (the limiter sleeps).
    monkeypatch.setattr(alpaca.common.rest, "time", types.SimpleNamespace(sleep=refuse))


def make_provider(
    server: AlpacaServer,
    spec: ProviderSpec,
    tmp_path: Path,
    sleep: SleepRecorder | None = None,
    *,
    key: str = API_KEY,
    secret: str = SECRET_KEY,
    limiter: RequestLimiter | None = None,
) -> AlpacaProvider:
    limiter = limiter or RequestLimiter("alpaca", spec.rate_limit, tmp_path / "limits")
    governor = RequestGovernor("alpaca", spec, limiter, sleep or SleepRecorder())
    return AlpacaProvider(Secret(key), Secret(secret), server.url, governor)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# ------------------------------------------------------------ recorded shapes


def test_recorded_multi_symbol_daily_bars(server: AlpacaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    server.respond(BARS, fixture("stock_bars_multi_AAPL_TSLA_1Day.json"))
    day = dt.date(2022, 3, 9)
    result = make_provider(server, spec, tmp_path).bars(["AAPL", "TSLA"], Dataset.BARS_1DAY, day, day)
    frame = result.frame
    assert frame["symbol"].tolist() == ["AAPL", "TSLA"]
    # t is midnight New York (05:00Z in March before DST): the session's midnight, our convention.
    assert frame["ts"].tolist() == [utc("2022-03-09 05:00")] * 2 == [calendar.session_midnight_utc(day)] * 2
    assert frame.loc[0, ["open", "high", "low", "close", "volume", "vwap"]].tolist() == [
        161.51,
        163.41,
        159.41,
        162.95,
        88496480.0,
        161.942117,
    ]
    assert frame.loc[1, ["open", "close", "volume"]].tolist() == [839.0, 858.97, 19227323.0]
    assert frame["trade_count"].tolist() == [700291, 528531]
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]" and frame["trade_count"].dtype == "Int64"
    assert (frame["source"] == "alpaca").all() and result.rejects.empty
    assert [(c.endpoint, c.status, c.rows, c.provider) for c in result.calls] == [(BARS, 200, 2, "alpaca")]
    query = server.requests[0].query
    assert query["symbols"] == ["AAPL,TSLA"] and query["timeframe"] == ["1Day"]
    assert query["adjustment"] == ["raw"] and query["feed"] == ["sip"]
    # Midnight New York of the first day to the last second of the last day, in UTC.
    assert query["start"] == ["2022-03-09T05:00:00+00:00"] and query["end"] == ["2022-03-10T04:59:59+00:00"]
    assert query["limit"] == ["10000"]  # a page size, not a total cap


def test_recorded_pages_are_followed_via_next_page_token(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    page1 = fixture("stock_bars_META_1Day_page1_go.json")
    page2 = fixture("stock_bars_META_1Day_page2_go.json")
    server.respond(BARS, page1, page2, fixture("stock_bars_empty.json"))
    result = make_provider(server, spec, tmp_path).bars(
        ["META"], Dataset.BARS_1DAY, dt.date(2022, 6, 8), dt.date(2022, 6, 13)
    )
    # June is daylight time: t is 04:00Z, still the session's midnight.
    assert result.frame["ts"].tolist() == [
        utc("2022-06-08 04:00"),
        utc("2022-06-09 04:00"),
        utc("2022-06-10 04:00"),
        utc("2022-06-13 04:00"),
    ]
    assert result.frame["close"].tolist() == [196.64, 184.0, 175.57, 164.26]
    assert result.frame.loc[3, ["high", "low", "trade_count"]].tolist() == [172.575, 164.03, 436284]
    tokens = [r.query.get("page_token") for r in server.requests]
    assert tokens == [None, [page1["next_page_token"]], [page2["next_page_token"]]]
    assert [c.rows for c in result.calls] == [2, 2, 0]


def test_recorded_news_pages(server: AlpacaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    page1 = fixture("news_v1beta1_page1_alpaca_py.json")
    server.respond(NEWS, page1, fixture("news_v1beta1_page2_alpaca_py.json"))
    result = make_provider(server, spec, tmp_path).news(
        ["AAPL", "CWAN"], dt.datetime(2024, 8, 1, tzinfo=dt.UTC), dt.datetime(2024, 12, 1, tzinfo=dt.UTC)
    )
    frame = result.frame
    assert frame["id"].tolist() == ["benzinga:40432158", "benzinga:41799100"]
    assert frame["published_utc"].tolist() == [utc("2024-08-18 20:15:44"), utc("2024-11-07 09:16:41")]
    assert frame.loc[0, ["title", "author", "article_url", "publisher", "description"]].tolist() == [
        "headline",
        "John",
        "https://",
        "source",
        "summary",
    ]
    assert frame.loc[1, "title"].startswith("Piper Sandler Maintains Neutral")
    assert frame.loc[1, "publisher"] == "benzinga" and pd.isna(frame.loc[1, "description"])  # empty summary
    assert (frame["source"] == "alpaca").all() and result.rejects.empty
    assert result.links is not None
    assert sorted(map(tuple, result.links.to_numpy().tolist())) == [
        ("benzinga:40432158", "AAPL"),
        ("benzinga:40432158", "QCOM"),
        ("benzinga:41799100", "CWAN"),
    ]
    first, second = server.requests
    assert first.query["symbols"] == ["AAPL,CWAN"] and first.query["limit"] == ["50"]
    assert second.query["page_token"] == [page1["next_page_token"]]
    assert [(c.endpoint, c.rows) for c in result.calls] == [(NEWS, 1), (NEWS, 1)]


def test_recorded_benzinga_news_html_and_the_half_open_window(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    page1 = fixture("news_v1beta1_page1_benzinga_go.json")
    server.respond(NEWS, page1, fixture("news_v1beta1_page2_benzinga_go.json"))
    # Alpaca's end is inclusive; ours is not: the article created exactly at `end` is left out.
    end = dt.datetime(2021, 4, 3, 15, 35, 21, tzinfo=dt.UTC)
    result = make_provider(server, spec, tmp_path).news(
        ["TSLA"], dt.datetime(2021, 4, 3, 12, 31, 15, tzinfo=dt.UTC), end
    )
    assert result.frame["id"].tolist() == ["benzinga:20472512", "benzinga:20471562"]
    description = result.frame.loc[0, "description"]
    assert description.startswith("Benzinga has examined the prospects")
    assert "week's bullish calls" in description and "&#39;" not in description and "\n" not in description
    assert result.links is not None and len(result.links) == 11 + 3
    assert result.rejects.empty


def test_recorded_corporate_actions_of_all_types(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    page1 = fixture("corporate_actions_v1_page1_all_types.json")
    server.respond(ACTIONS, page1, fixture("corporate_actions_v1_page2.json"))
    result = make_provider(server, spec, tmp_path).corporate_actions(
        ["MNTS", "SRE", "FCF", "ZMTBY"], dt.date(2023, 1, 1), dt.date(2024, 12, 31)
    )
    frame = result.frame.set_index("symbol")
    assert sorted(frame.index) == ["FCF", "MNTS", "SRE", "ZMTBY"]  # other action types are not asked for
    mnts, sre = frame.loc["MNTS"], frame.loc["SRE"]
    assert (mnts["action_type"], mnts["ex_date"], mnts["split_from"], mnts["split_to"]) == (
        "split",
        dt.date(2023, 8, 24),
        50.0,  # a 1-for-50 reverse split: 50 old shares become 1
        1.0,
    )
    assert (sre["ex_date"], sre["split_from"], sre["split_to"]) == (dt.date(2023, 8, 22), 1.0, 2.0)
    assert sre["id"] == "a7932b15-f816-4f83-921e-998b524487b1" and pd.isna(sre["cash_amount"])
    fcf = frame.loc["FCF"]
    assert (fcf["action_type"], fcf["cash_amount"], fcf["currency"]) == ("dividend", 0.125, "USD")
    assert (fcf["ex_date"], fcf["record_date"], fcf["pay_date"]) == (
        dt.date(2023, 5, 4),
        dt.date(2023, 5, 5),
        dt.date(2023, 5, 19),
    )
    assert fcf["declaration_date"] is None and fcf["id"] == "a7932b15-f816-4f83-921e-998b524487b4"
    assert frame.loc["ZMTBY", "cash_amount"] == 0.086928
    assert (result.frame["source"] == "alpaca").all() and result.rejects.empty
    first, second = server.requests
    assert first.query["types"] == ["cash_dividend,forward_split,reverse_split"]
    assert first.query["symbols"] == ["MNTS,SRE,FCF,ZMTBY"] and first.query["limit"] == ["1000"]
    assert second.query["page_token"] == [page1["next_page_token"]]


def test_more_than_1000_corporate_actions_all_arrive(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    def dividends(count: int, first: int) -> list[dict[str, Any]]:
        return [
            {
                "id": f"00000000-0000-4000-8000-{first + i:012d}",
                "symbol": "KO",
                "cusip": "191216100",
                "rate": 0.01 * (1 + (first + i) % 7),
                "special": False,
                "foreign": False,
                "ex_date": "2026-11-02",
                "process_date": "2026-11-16",
                "payable_date": "2026-11-16",
                "record_date": "2026-11-03",
            }
            for i in range(count)
        ]

    server.respond(
        ACTIONS,
        {"corporate_actions": {"cash_dividends": dividends(1000, 0)}, "next_page_token": "cGFnZTI="},
        {"corporate_actions": {"cash_dividends": dividends(5, 1000)}, "next_page_token": None},
    )
    result = make_provider(server, spec, tmp_path).corporate_actions(["KO"], dt.date(2026, 11, 1), SESSION)
    assert len(result.frame) == 1005 and result.frame["id"].is_unique and result.rejects.empty
    # The SDK's default limit=1000 would have been a total cap: one page, then stop.
    assert [r.query["limit"] for r in server.requests] == [["1000"], ["1000"]]
    assert server.requests[1].query["page_token"] == ["cGFnZTI="]


# ------------------------------------------------------------ generated data


def test_bars_at_every_interval_equal_the_demo_provider(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    provider = make_provider(server, spec, tmp_path)
    symbols = ["AAPL", "BRK.B", "MSFT"]
    timeframes = {}
    for dataset in (Dataset.BARS_1DAY, Dataset.BARS_1HOUR, Dataset.BARS_5MIN, Dataset.BARS_1MIN):
        result = provider.bars(symbols, dataset, SESSION, SESSION)
        expected = session_bars(symbols, SESSION, dataset).sort_values(["symbol", "ts"], ignore_index=True)
        got = result.frame[VALUE_COLUMNS].astype({"trade_count": "int64", "symbol": "object"})
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        assert result.rejects.empty and sum(c.rows for c in result.calls) == len(expected)
        timeframes[dataset] = server.requests[-1].query["timeframe"][0]
        if dataset == Dataset.BARS_1DAY:
            assert result.frame["ts"].tolist() == [calendar.session_midnight_utc(SESSION)] * 3
    assert timeframes == {
        Dataset.BARS_1DAY: "1Day",
        Dataset.BARS_1HOUR: "1Hour",
        Dataset.BARS_5MIN: "5Min",
        Dataset.BARS_1MIN: "1Min",
    }
    assert all(r.query["adjustment"] == ["raw"] and r.query["feed"] == ["sip"] for r in server.requests)


def test_grouped_daily_bars_and_a_holiday(server: AlpacaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    provider = make_provider(server, spec, tmp_path)
    result = provider.grouped_daily_bars(SESSION, ["IBM", "AAPL"])
    expected = DemoProvider().grouped_daily_bars(SESSION, ["AAPL", "IBM"]).frame
    pd.testing.assert_frame_equal(result.frame[VALUE_COLUMNS], expected[VALUE_COLUMNS])
    holiday = provider.grouped_daily_bars(dt.date(2026, 11, 26), ["AAPL"])  # Thanksgiving
    assert holiday.frame.empty and list(holiday.frame.columns)[:3] == ["symbol", "ts", "open"]
    server.respond(BARS, fixture("stock_bars_empty.json"))
    assert provider.bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION).frame.empty


def test_large_symbol_lists_are_chunked(server: AlpacaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    symbols = [f"S{i:03d}" for i in range(250)]
    result = make_provider(server, spec, tmp_path).bars(symbols, Dataset.BARS_1DAY, SESSION, SESSION)
    sent = [r.query["symbols"][0].split(",") for r in server.requests]
    assert [len(chunk) for chunk in sent] == [100, 100, 50]
    assert [symbol for chunk in sent for symbol in chunk] == symbols
    assert sorted(result.frame["symbol"]) == symbols and len(result.calls) == 3


def test_multi_symbol_pages_are_all_read(spec: ProviderSpec, tmp_path: Path) -> None:
    with AlpacaServer(API_KEY, SECRET_KEY, page_size=300) as paged:
        result = make_provider(paged, spec, tmp_path).bars(
            ["NVDA", "IBM"], Dataset.BARS_1MIN, SESSION, SESSION
        )
        expected = session_bars(["IBM", "NVDA"], SESSION, Dataset.BARS_1MIN)
        assert len(result.frame) == len(expected) == 780 and result.rejects.empty
        assert result.frame.groupby("symbol")["ts"].is_monotonic_increasing.all()
        assert [c.rows for c in result.calls] == [300, 300, 180]
        assert [r.query.get("page_token") is not None for r in paged.requests] == [False, True, True]


def test_news_equals_the_demo_provider(server: AlpacaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    start, end = dt.datetime(2026, 11, 2, tzinfo=dt.UTC), dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    symbols = ["AAPL", "MSFT", "NVDA"]
    result = make_provider(server, spec, tmp_path).news(symbols, start, end)
    demo = DemoProvider().news(symbols, start, end)
    columns = ["published_utc", "title", "author", "article_url", "description"]
    got = result.frame.sort_values(["published_utc", "article_url"], ignore_index=True)[columns]
    want = demo.frame.sort_values(["published_utc", "article_url"], ignore_index=True)[columns]
    pd.testing.assert_frame_equal(got, want)
    assert len(got) > 10 and result.frame["id"].str.fullmatch(r"benzinga:\d+").all()
    assert (result.frame["publisher"] == "benzinga").all() and result.rejects.empty
    assert result.links is not None and len(result.links) == len(demo.frame)
    assert server.requests[0].query["sort"] == ["asc"]


def test_corporate_actions_by_ex_date_though_alpaca_filters_by_process_date(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    symbols = [f"T{i:02d}" for i in range(60)]
    start, end = dt.date(2024, 1, 1), dt.date(2025, 11, 10)
    result = make_provider(server, spec, tmp_path).corporate_actions(symbols, start, end)
    demo = DemoProvider().corporate_actions(symbols, start, end).frame
    columns = ["symbol", "action_type", "ex_date", "split_from", "split_to", "cash_amount", "record_date"]
    columns += ["pay_date"]
    key = ["symbol", "action_type", "ex_date"]
    got = result.frame.sort_values(key, ignore_index=True)[columns]
    want = demo.sort_values(key, ignore_index=True)[columns]
    pd.testing.assert_frame_equal(got, want)
    assert {"split", "dividend"} <= set(got["action_type"]) and result.rejects.empty
    # Dividends are processed on their payable date, 14 days after the ex-date in the demo: asking
    # Alpaca for the ex-date window alone would lose those paid after `end`.
    last_dividend = want[want["action_type"] == "dividend"]["pay_date"].max()
    query = server.requests[0].query
    assert dt.date.fromisoformat(query["end"][0]) >= last_dividend > end
    assert dt.date.fromisoformat(query["start"][0]) < start


def test_shift_close_moves_one_daily_close(server: AlpacaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    server.shift_close("AAPL", SESSION, 1.25)
    result = make_provider(server, spec, tmp_path).bars(
        ["AAPL", "MSFT"], Dataset.BARS_1DAY, dt.date(2026, 11, 19), SESSION
    )
    demo = DemoProvider().bars(["AAPL", "MSFT"], Dataset.BARS_1DAY, dt.date(2026, 11, 19), SESSION).frame
    got = result.frame.set_index(["symbol", "ts"]).sort_index()
    want = demo.set_index(["symbol", "ts"]).sort_index()
    shifted = ("AAPL", pd.Timestamp(calendar.session_midnight_utc(SESSION)))
    assert got.loc[shifted, "close"] == pytest.approx(want.loc[shifted, "close"] * 1.25)
    assert got.loc[shifted, "high"] >= got.loc[shifted, "close"] and result.rejects.empty
    unchanged = [index for index in want.index if index != shifted]
    assert (got.loc[unchanged, "close"] == want.loc[unchanged, "close"]).all()


# ---------------------------------------------------------- failures and retries


def test_429_waits_retry_after_then_succeeds(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.fail(BARS, 429, headers={"Retry-After": "7"}, body={"message": "too many requests."})
    sleep = SleepRecorder()
    started = time.perf_counter()
    result = make_provider(server, spec, tmp_path, sleep).grouped_daily_bars(SESSION, ["AAPL"])
    assert len(result.frame) == 1 and len(server.requests) == 2
    assert sleep.waits == [7.0]  # ours, from Retry-After; the SDK's fixed 3 s never ran
    assert time.perf_counter() - started < 2


def test_429_without_retry_after_backs_off_within_bounds(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.fail(BARS, 429)
    sleep = SleepRecorder()
    result = make_provider(server, spec, tmp_path, sleep).grouped_daily_bars(SESSION, ["AAPL"])
    assert len(result.frame) == 1 and len(server.requests) == 2
    assert len(sleep.waits) == 1 and sleep.backed_off(spec.retries)


def test_5xx_storm_gives_up_after_max_attempts(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    attempts = spec.retries.max_attempts
    server.fail(BARS, 504, times=attempts + 2)  # 504 is one of the codes the SDK would retry itself
    sleep = SleepRecorder()
    limiter = CountingLimiter("alpaca", spec.rate_limit, tmp_path / "limits")
    started = time.perf_counter()
    with pytest.raises(
        ProviderUnavailableError, match=f"gave up after {attempts} attempts: HTTP 504"
    ) as info:
        make_provider(server, spec, tmp_path, sleep, limiter=limiter).bars(
            ["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION
        )
    assert len(server.requests) == attempts and limiter.slots == attempts  # a slot per attempt
    assert len(sleep.waits) == attempts - 1
    assert all(0 < w <= spec.retries.max_backoff_seconds + spec.retries.jitter_seconds for w in sleep.waits)
    assert time.perf_counter() - started < 3  # no SDK sleeps (3 s each) in between
    assert API_KEY not in str(info.value) and SECRET_KEY not in str(info.value)


def test_timeout_is_retried(server: AlpacaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    body = fixture("stock_bars_multi_AAPL_TSLA_1Day.json")
    server.fail(BARS, 200, body=body, delay_seconds=1.5)  # read timeout is 0.5 s
    sleep = SleepRecorder()
    day = dt.date(2022, 3, 9)
    result = make_provider(server, short_read_timeout(spec), tmp_path, sleep).bars(
        ["AAPL", "TSLA"], Dataset.BARS_1DAY, day, day
    )
    assert len(server.requests) == 2 and len(sleep.waits) == 1
    assert len(result.frame) == 2  # served by the generator on the retry


def test_a_corrupt_page_mid_listing_is_retried(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    page1 = fixture("stock_bars_META_1Day_page1_go.json")
    page2 = fixture("stock_bars_META_1Day_page2_go.json")
    cut = json.dumps(page2).encode()[:90]  # the second page cut off in transit
    server.respond(BARS, page1, cut, page2, fixture("stock_bars_empty.json"))
    result = make_provider(server, spec, tmp_path).bars(
        ["META"], Dataset.BARS_1DAY, dt.date(2022, 6, 8), dt.date(2022, 6, 13)
    )
    assert len(result.frame) == 4  # the full listing, never a short one
    tokens = [r.query.get("page_token") for r in server.requests]
    assert tokens == [
        None,
        [page1["next_page_token"]],
        [page1["next_page_token"]],
        [page2["next_page_token"]],
    ]


def test_a_persistently_corrupt_page_is_an_error_not_a_short_result(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    page1 = fixture("stock_bars_META_1Day_page1_go.json")
    attempts = spec.retries.max_attempts
    server.respond(BARS, page1, *[b'{"bars": {"META": [{"t": "2022-06-1'] * attempts)
    with pytest.raises(ProviderUnavailableError, match="undecodable JSON"):
        make_provider(server, spec, tmp_path).bars(
            ["META"], Dataset.BARS_1DAY, dt.date(2022, 6, 8), dt.date(2022, 6, 13)
        )
    assert len(server.requests) == 1 + attempts


def test_a_looping_page_token_is_an_error(server: AlpacaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    page = fixture("stock_bars_META_1Day_page1_go.json")
    server.respond(BARS, page, page, page)
    with pytest.raises(PaginationError, match="loop"):
        make_provider(server, spec, tmp_path).bars(
            ["META"], Dataset.BARS_1DAY, dt.date(2022, 6, 8), dt.date(2022, 6, 13)
        )
    assert len(server.requests) == 2  # the SDK alone would request the same page forever


def test_recent_data_the_plan_excludes_is_not_served_not_a_key_error(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    provider = make_provider(server, spec, tmp_path)
    server.fail(BARS, 422, body=fixture("error_422_recent_data_free_plan_transcribed.json"))
    with pytest.raises(NotServedError, match=r"HTTP 422.*does not permit querying data"):
        provider.bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION)
    server.fail(BARS, 403, body={"message": "subscription does not permit querying recent SIP data"})
    with pytest.raises(NotServedError, match="HTTP 403"):
        provider.bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION)
    assert len(server.requests) == 2


def test_a_sip_window_ends_sixteen_minutes_before_now(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    today = dt.datetime.now(tz=dt.UTC).date()
    make_provider(server, spec, tmp_path).bars(
        ["AAPL"], Dataset.BARS_1MIN, today - dt.timedelta(days=3), today
    )
    (end,) = server.requests[0].query["end"]
    assert abs(pd.Timestamp(end) - (pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=16))) < pd.Timedelta(
        seconds=60
    )


def test_other_errors_fail_at_once_with_the_body(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.fail(BARS, 422, body={"code": 42210000, "message": "invalid timeframe"})
    provider = make_provider(server, spec, tmp_path)
    with pytest.raises(ProviderError, match=r"HTTP 422.*invalid timeframe") as info:
        provider.bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION)
    assert not isinstance(info.value, ProviderUnavailableError) and len(server.requests) == 1
    server.respond(BARS, {"message": "not what was asked"})
    with pytest.raises(ProviderError, match="response without 'bars'"):
        provider.bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION)


@pytest.mark.parametrize(("key", "secret"), [("wrong-key-id", SECRET_KEY), (API_KEY, "wrong-secret")])
def test_a_refused_key_fails_at_once_naming_the_variables(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path, key: str, secret: str
) -> None:
    sleep = SleepRecorder()
    with pytest.raises(AuthenticationError, match="ALPACA_API_KEY and ALPACA_SECRET_KEY") as info:
        make_provider(server, spec, tmp_path, sleep, key=key, secret=secret).news(
            ["AAPL"], dt.datetime(2026, 11, 19, tzinfo=dt.UTC), dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
        )
    assert "HTTP 403" in str(info.value) and len(server.requests) == 1 and sleep.waits == []
    for value in (key, secret):
        assert value not in str(info.value)


# --------------------------------------------------------------- data quality


def test_malformed_bars_become_rejects_with_reasons(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    good = {"o": 10.0, "h": 11.0, "l": 9.5, "c": 10.5, "v": 1000, "n": 12, "vw": 10.2}
    rows = [
        {**good, "t": "2026-11-20T14:30:00Z"},
        {**good, "t": "2026-11-20T14:31:00Z", "h": 9.0, "l": 9.9},  # high below low
        {**good, "t": "2026-11-20T14:32:00Z", "o": None},
        {**good, "t": "2026-11-20T14:33:00Z", "c": -1},
        {**good, "t": "not a time"},
        {**good, "t": "2026-11-20T14:30:00Z"},  # duplicate key
        {**good, "t": "2026-11-20T14:34:00Z", "v": -5},
    ]
    server.respond(
        BARS,
        {"bars": {"AAPL": rows, "aapl": [{**good, "t": "2026-11-20T14:30:00Z"}]}, "next_page_token": None},
    )
    result = make_provider(server, spec, tmp_path).bars(["AAPL"], Dataset.BARS_1MIN, SESSION, SESSION)
    assert len(result.frame) == 1 and result.frame.loc[0, "ts"] == utc("2026-11-20 14:30")
    assert result.rejects["reason"].tolist() == [
        "high below max(open, close)",
        "missing open",
        "non-finite or non-positive price; low above min(open, close)",
        "missing ts",
        "duplicate (symbol, ts): an earlier row has the same key",
        "negative or non-finite volume",
        "malformed symbol",
    ]
    record = json.loads(result.rejects["record"].iloc[0])
    assert record == {**good, "t": "2026-11-20T14:31:00Z", "h": 9.0, "l": 9.9, "symbol": "AAPL"}  # raw, kept
    assert len(result.frame) + len(result.rejects) == len(rows) + 1  # nothing silently dropped


def test_malformed_news_and_corporate_actions_become_rejects(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    article = fixture("news_v1beta1_page2_alpaca_py.json")["news"][0]
    news = [
        article,
        {k: v for k, v in article.items() if k != "id"},
        article | {"id": 1, "created_at": None},
        article | {"id": 2, "headline": ""},
        article | {"id": 3, "created_at": "2024-12-05T00:00:00Z"},  # after the window: out of scope
    ]
    server.respond(NEWS, {"news": news, "next_page_token": None})
    provider = make_provider(server, spec, tmp_path)
    result = provider.news(
        ["CWAN"], dt.datetime(2024, 11, 1, tzinfo=dt.UTC), dt.datetime(2024, 12, 1, tzinfo=dt.UTC)
    )
    assert result.frame["id"].tolist() == ["benzinga:41799100"]
    assert result.rejects["reason"].tolist() == [
        "missing id",
        "missing or unparseable created_at",
        "missing headline",
    ]
    assert result.links is not None and result.links["news_id"].tolist() == ["benzinga:41799100"]

    split = {"id": "s1", "symbol": "SRE", "cusip": "X", "old_rate": 1, "new_rate": 2, "ex_date": "2024-03-13"}
    dividend = {"id": "d1", "symbol": "KO", "cusip": "Y", "rate": 0.5, "ex_date": "2024-03-14"}
    server.respond(
        ACTIONS,
        {
            "corporate_actions": {
                "forward_splits": [
                    split,
                    split | {"id": "s2", "new_rate": 0},
                    split | {"id": "s3", "symbol": "bad sym"},
                ],
                "reverse_splits": [split | {"id": "s4", "ex_date": None}],
                "cash_dividends": [dividend, dividend | {"id": "d2", "rate": -0.1}, dividend | {"id": "d1"}],
                "name_changes": [{"old_symbol": "A", "new_symbol": "B", "process_date": "2024-03-13"}],
            },
            "next_page_token": None,
        },
    )
    actions = provider.corporate_actions(["SRE", "KO"], dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    assert actions.frame["id"].tolist() == ["s1", "d1"]
    assert actions.rejects["reason"].tolist() == [
        "old_rate/new_rate must be positive",
        "malformed symbol",
        "missing or unparseable ex_date",
        "rate must be positive",
        "duplicate id: an earlier action has the same id",
    ]
    assert len(actions.frame) + len(actions.rejects) == 3 + 1 + 3


def test_actions_without_ids_get_a_stable_key(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.respond(ACTIONS, fixture("corporate_actions_v1_go_no_id_no_cusip.json"))
    result = make_provider(server, spec, tmp_path).corporate_actions(
        ["FBL", "NVDL"], dt.date(2024, 3, 1), dt.date(2024, 3, 31)
    )
    assert result.frame["id"].tolist() == [
        "alpaca-split-FBL-2024-03-13-1-5",
        "alpaca-split-NVDL-2024-03-13-1-6",
    ]
    assert result.frame["split_to"].tolist() == [5.0, 6.0] and result.rejects.empty


# ---------------------------------------------------------------------- secrets


def test_the_keys_travel_only_in_the_headers(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make_provider(server, spec, tmp_path)
    provider.bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION)
    provider.news(
        ["AAPL"], dt.datetime(2026, 11, 19, tzinfo=dt.UTC), dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    )
    provider.corporate_actions(["AAPL"], dt.date(2026, 1, 1), SESSION)
    server.fail(BARS, 500, times=spec.retries.max_attempts)
    with pytest.raises(ProviderUnavailableError) as info:
        provider.bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION)
    assert {r.path for r in server.requests} == {BARS, NEWS, ACTIONS}
    for request in server.requests:
        assert request.headers["APCA-API-KEY-ID"] == API_KEY
        assert request.headers["APCA-API-SECRET-KEY"] == SECRET_KEY
        for value in (API_KEY, SECRET_KEY):
            assert value not in request.path and value not in json.dumps(request.query)
    # The SDK clients hold placeholders: the keys live only in Secret objects, read per request.
    clients = (provider._stocks, provider._news, provider._actions)
    for value in (API_KEY, SECRET_KEY):
        assert value not in caplog.text and value not in repr(provider) and value not in str(info.value)
        assert all(value not in repr(vars(client)) for client in clients)


# ------------------------------------------------------------------ universe and refreshes


def test_the_universe_is_the_trading_apis_active_tradable_equities(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    limiter = RequestLimiter("alpaca", spec.rate_limit, tmp_path / "limits")
    governor = RequestGovernor("alpaca", spec, limiter)
    provider = AlpacaProvider(
        Secret(API_KEY), Secret(SECRET_KEY), server.url, governor, trading_url=server.url
    )
    server.assets.append({**server.assets[0], "symbol": "bad ticker", "id": "bad"})
    result = provider.listed_stocks()
    listed = result.frame.set_index("symbol")
    assert listed.loc["AAPL", "exchange"] == "XNAS" and listed.loc["IBM", "exchange"] == "XNYS"
    assert listed.loc["GBTC", "exchange"] == "OTC"  # kept here; the universe's exchanges filter it
    assert "ZVZZT" not in listed.index  # not tradable
    assert set(listed["type"]) == {"us_equity"}  # Alpaca does not tell stocks from ETFs
    assert result.rejects["reason"].tolist() == ["ticker is not a valid symbol"]
    (request,) = server.requests_to("/v2/assets")
    assert request.query == {"status": ["active"], "asset_class": ["us_equity"]}
    assert request.headers["APCA-API-KEY-ID"] == API_KEY and SECRET_KEY not in str(request.query)


def test_renames_come_from_name_change_actions(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    pages = [fixture(f"corporate_actions_v1_{name}.json") for name in ("page1_all_types", "page2")]
    server.respond(ACTIONS, *pages)
    provider = make_provider(server, spec, tmp_path)
    assert provider.ticker_changes("VFS") == [("BSAQ", "VFS", dt.date(2023, 8, 15))]
    first = server.requests_to(ACTIONS)[0]
    assert first.query["types"] == ["name_change"] and first.query["symbols"] == ["VFS"]


def test_a_refresh_asks_only_for_bars_after_what_is_stored(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    since = dt.datetime.combine(SESSION, dt.time(11, 0), calendar.NEW_YORK)
    result = make_provider(server, spec, tmp_path).bars(
        ["AAPL"], Dataset.BARS_1MIN, SESSION, SESSION, since=since
    )
    (request,) = server.requests_to(BARS)
    assert pd.Timestamp(request.query["start"][0]) == pd.Timestamp(since)
    assert result.frame["ts"].min() == pd.Timestamp(since) and len(result.frame) == 300  # 11:00 .. 15:59
    assert result.served_until is None  # a past session: nothing held back


# ---------------------------------------------------------------------- trades


def seconds(text: str) -> int:
    """A whole-second UTC time as nanoseconds since the epoch."""
    return int(pd.Timestamp(text).value)


def test_recorded_multi_symbol_trades(server: AlpacaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    server.respond(TRADES, fixture("stock_trades_multi_AAPL_TSLA.json"))
    result = make_provider(server, spec, tmp_path).trades(["AAPL", "TSLA"], dt.date(2022, 3, 9))
    frame = result.frame
    assert frame["symbol"].tolist() == ["AAPL", "TSLA"] and frame["trade_id"].tolist() == ["151", "145"]
    assert frame["sip_timestamp"].tolist() == [
        seconds("2022-03-09T05:00:02Z") + 183_000_000,
        seconds("2022-03-09T05:08:03Z") + 35_000_000,
    ]
    assert frame["price"].tolist() == [159.07, 833.0] and frame["size"].tolist() == [1.0, 1.0]
    assert frame["exchange"].tolist() == [4, 4]  # D: FINRA ADF
    assert frame["conditions"].tolist() == ["0,12,37"] * 2  # @ regular, T extended hours, I odd lot
    assert frame["tape"].tolist() == [3, 3] and not frame["regular_hours"].any()  # after midnight NY
    not_given = ["participant_timestamp", "sequence_number", "trf_id", "correction"]
    assert frame[not_given].isna().all().all() and (frame["source"] == "alpaca").all()
    assert result.rejects.empty and result.served_until is None
    assert [(c.endpoint, c.status, c.rows, c.provider) for c in result.calls] == [(TRADES, 200, 2, "alpaca")]
    (request,) = server.requests
    assert request.query == {
        "symbols": ["AAPL,TSLA"],
        "start": ["2022-03-09T05:00:00Z"],  # the New York day
        "end": ["2022-03-10T05:00:00Z"],
        "limit": ["10000"],  # providers.yaml's page size
        "feed": ["sip"],
        "sort": ["asc"],
    }


def test_recorded_canceled_trades_and_nanosecond_times(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.respond(TRADES, fixture("stock_trades_A_update_canceled_go.json"))
    provider = make_provider(server, spec, tmp_path)
    canceled = provider.trades(["A"], dt.date(2022, 10, 21)).frame
    assert canceled["correction"].tolist() == [8, 8]  # "u": "canceled"
    assert canceled["conditions"].tolist() == ["12,37"] * 2  # the blank " " is no condition
    assert canceled["trade_id"].tolist() == ["71697353758036", "71697353815352"]
    assert canceled["tape"].tolist() == [1, 1] and not canceled["regular_hours"].any()  # 16:19 New York
    page = fixture("stock_trades_AAPL_5_gzip_testdata_go.json")
    server.respond(TRADES, page, fixture("stock_trades_empty.json"))
    result = provider.trades(["AAPL"], dt.date(2021, 10, 13))
    second = seconds("2021-10-13T08:00:01Z")
    assert result.frame["sip_timestamp"].tolist() == [
        second - 1_000_000_000 + 89_607_680,  # .08960768Z: eight digits, exact
        second + 24_327_168,
        *[second + 447_670_272] * 3,
    ]
    assert result.frame["ts"].iloc[1] == utc("2021-10-13 08:00:01.024327")  # microseconds
    assert (
        result.frame["exchange"].tolist() == [11] * 5 and result.frame["conditions"].iloc[2] == "0,14,12,37"
    )
    assert [c.rows for c in result.calls] == [5, 0] and result.rejects.empty
    assert server.requests[-1].query["page_token"] == [page["next_page_token"]]
    nine = fixture("stock_trades_single_symbol_AAPL_docs.json")["trades"][0]["t"]
    ns, valid = rfc3339_ns(
        [nine, "2022-04-11T12:00:36Z", "2022-04-11T14:00:36.5+02:00", "2022-04-11T12:00:36.1234567891Z"]
    )
    assert nine == "2022-04-11T12:00:36.002951946Z" and valid.tolist() == [True, True, True, False]
    assert ns[:3].tolist() == [seconds("2022-04-11T12:00:36Z") + d for d in (2_951_946, 0, 500_000_000)]


def test_trades_of_many_symbols_page_through_the_stand_in(tmp_path: Path) -> None:
    ibm = generated_trades("IBM", SESSION, 5)
    outside = [
        {**ibm[0], "t": "2026-11-20T04:59:59.999999999Z", "i": 98},  # the day before (EST: UTC-5)
        {
            **ibm[0],
            "t": "2026-11-21T05:00:00Z",
            "i": 99,
        },  # the next day's midnight: Alpaca's end is inclusive
    ]
    with AlpacaServer(API_KEY, SECRET_KEY, page_size=7) as paged:
        paged.add_trades("IBM", ibm + outside)
        provider = make_provider(paged, provider_spec("alpaca", unthrottled=True), tmp_path)
        result = provider.trades(["MSFT", "AAPL", "IBM"], SESSION)
        expected = {(s, str(t["i"]), t["t"]) for s in ("AAPL", "MSFT") for t in generated_trades(s, SESSION)}
        expected |= {("IBM", str(t["i"]), t["t"]) for t in ibm}
        got = list(
            zip(result.frame["symbol"], result.frame["trade_id"], result.frame["sip_timestamp"], strict=True)
        )
        assert (
            len(got) == len({g[:2] for g in got}) == len(expected) == 85 and result.rejects.empty
        )  # each once
        assert {(s, i) for s, i, _ in got} == {(s, i) for s, i, _ in expected}
        assert result.frame.groupby("symbol")["sip_timestamp"].is_monotonic_increasing.all()
        assert {(s, i, seconds(t)) for s, i, t in expected} == set(got)
        pages = paged.requests_to(TRADES)
        assert sum(c.rows for c in result.calls) == 86 and len(pages) == len(result.calls) == 13  # 7 a page
        assert [r.query.get("page_token") is None for r in pages] == [True] + [False] * 12
        assert all(r.query["symbols"] == ["MSFT,AAPL,IBM"] and r.query["limit"] == ["10000"] for r in pages)
        for request in pages:
            assert request.headers["APCA-API-KEY-ID"] == API_KEY
            for value in (API_KEY, SECRET_KEY):
                assert value not in request.path and value not in json.dumps(request.query)
        since = dt.datetime.combine(SESSION, dt.time(12, 0), calendar.NEW_YORK)
        refresh = provider.trades(["MSFT", "AAPL", "IBM"], SESSION, since=since)
        assert paged.requests_to(TRADES)[-1].query["start"] == ["2026-11-20T17:00:00Z"]
        later = {g for g in got if g[2] >= seconds("2026-11-20T17:00:00Z")}
        assert (
            set(
                zip(
                    refresh.frame["symbol"],
                    refresh.frame["trade_id"],
                    refresh.frame["sip_timestamp"],
                    strict=True,
                )
            )
            == later
        )


def test_malformed_trades_become_rejects_with_reasons(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    good = {
        "t": "2026-11-20T15:00:00.123456789Z",
        "x": "Q",
        "p": 10.5,
        "s": 100,
        "c": ["@"],
        "i": 1,
        "z": "C",
    }
    rows = [
        good,
        {**good, "i": 2, "x": "R"},  # no exchange has this letter
        {**good, "i": 3, "c": ["@", "Ω"]},
        {**good, "i": 4, "u": "amended"},
        {**good, "i": 5, "t": "2026-11-20 15:00"},
        {**good, "i": 6, "z": "E"},
        {**good, "i": None},
        {**good, "i": 7, "p": 0},
        {**good, "p": 10.75, "u": "corrected"},  # the first trade, corrected: it supersedes
    ]
    server.respond(TRADES, {"trades": {"AAPL": rows}, "next_page_token": None})
    result = make_provider(server, spec, tmp_path).trades(["AAPL"], SESSION)
    assert result.frame[["trade_id", "price", "correction"]].values.tolist() == [["1", 10.75, 1]]
    assert result.frame["sip_timestamp"].tolist() == [seconds("2026-11-20T15:00:00Z") + 123_456_789]
    assert result.rejects["reason"].tolist() == [
        "unknown exchange letter 'R' (x)",
        "unknown condition code(s) 'Ω' (c)",
        "unknown update 'amended' (u)",
        "missing or unparseable time (t)",
        "unknown tape 'E' (z)",
        "missing or malformed trade id (i): None",
        "superseded: a later record of the fetch has the same trade key",
        "price missing, non-finite or <= 0",
    ]
    assert json.loads(result.rejects["record"].iloc[0]) == {"symbol": "AAPL", **rows[1]}  # raw, kept
    assert len(result.frame) + len(result.rejects) == len(rows)  # nothing silently dropped


def test_trade_listings_that_loop_or_break_are_errors(
    server: AlpacaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    page = fixture("stock_trades_AAPL_limit2_with_next_page_token.json")
    server.respond(TRADES, page, page)
    sleep = SleepRecorder()
    provider = make_provider(server, spec, tmp_path, sleep)
    with pytest.raises(PaginationError, match="loop"):
        provider.trades(["AAPL"], dt.date(2022, 3, 9))
    assert len(server.requests) == 2
    server.fail(TRADES, 503)  # retried, then a 200 that is not a trades page
    server.respond(TRADES, {"message": "not what was asked"})
    with pytest.raises(ProviderError, match="response without 'trades'"):
        provider.trades(["AAPL"], dt.date(2022, 3, 9))
    assert len(server.requests) == 4 and len(sleep.waits) == 1
    # The New York day the delayed feed has reached (from 00:00 UTC until New York's midnight the UTC
    # date is a day nobody trades yet; in New York's first 15 minutes, the feed is still in yesterday).
    today = (dt.datetime.now(calendar.NEW_YORK) - SIP_DELAY).date()
    result = provider.trades(["AAPL"], today)  # the SIP feed's last 15 minutes are asked for later
    (end,) = server.requests[-1].query["end"]
    assert result.served_until is not None and abs(
        pd.Timestamp(end) - pd.Timestamp(result.served_until)
    ) < pd.Timedelta(seconds=1)
