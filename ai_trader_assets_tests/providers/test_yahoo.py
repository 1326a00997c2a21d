"""The Yahoo provider against a local server speaking the chart endpoint (shapes from shared/fixtures)."""

import copy
import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.base import (
    AuthenticationError,
    NotServedError,
    ProviderError,
    ProviderUnavailableError,
)
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.demo_bars import session_bars, splits
from ai_trader_assets.providers.http import RequestGovernor
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.providers.yahoo import CLIENT_USER_AGENT, YahooProvider, round_significant
from ai_trader_assets_tests.support.fake_api import SleepRecorder, provider_spec, short_read_timeout
from ai_trader_assets_tests.support.yahoo_server import YahooServer, fixture

# INTC's demo data has a 2:1 split on 2026-04-10 and pays dividends: "today" three weeks later puts
# the split inside every intraday window.
TODAY = dt.date(2026, 4, 30)
SPLIT_DAY = dt.date(2026, 4, 10)
CHART = "/v8/finance/chart/"
SPLIT_AND_DIVIDEND = "chart_AAPL_1d_2020-08-31_2020-11-07_split_and_dividend.json"
AAPL_2020_01 = "chart_AAPL_1d_2020-01-01_2020-01-03.json"
PRICES = ["open", "high", "low", "close", "volume"]


@pytest.fixture
def server() -> Iterator[YahooServer]:
    with YahooServer(today=TODAY) as running:
        yield running


@pytest.fixture
def spec() -> ProviderSpec:
    return provider_spec("yahoo", unthrottled=True)  # the shipped 2 requests/s would make tests wait


def make_provider(
    server: YahooServer,
    spec: ProviderSpec,
    tmp_path: Path,
    *,
    sleep: SleepRecorder | None = None,
    today: dt.date = TODAY,
    base_url: str | None = None,
) -> YahooProvider:
    limiter = RequestLimiter("yahoo", spec.rate_limit, tmp_path / "limits")
    governor = RequestGovernor("yahoo", spec, limiter, sleep or SleepRecorder())
    return YahooProvider(base_url or server.url, governor, today=lambda: today)


def midnight(day: dt.date) -> int:
    return int(calendar.session_midnight_utc(day).timestamp())


def assert_matches_demo(
    frame: pd.DataFrame, dataset: Dataset, symbols: list[str], start: dt.date, end: dt.date
) -> None:
    """Same bars as the demo provider's raw ones (Yahoo has no vwap or trade count)."""
    expected = DemoProvider().bars(symbols, dataset, start, end).frame
    assert len(frame) == len(expected) > 0
    merged = frame.merge(expected, on=["symbol", "ts"], suffixes=("", "_demo"))
    assert len(merged) == len(expected)
    for column in PRICES:
        np.testing.assert_allclose(merged[column], merged[f"{column}_demo"], rtol=1e-6)
    assert frame["vwap"].isna().all() and frame["trade_count"].isna().all()
    assert (frame["source"] == "yahoo").all()


def merged_aapl_2020() -> dict[str, Any]:
    """One body from 2020-01-02 to 2020-11-06: the two recorded AAPL responses joined, as a request
    over that range would answer (it lists the 4:1 split of 2020-08-31)."""
    early = fixture(AAPL_2020_01)["chart"]["result"][0]
    body = fixture(SPLIT_AND_DIVIDEND)
    late = body["chart"]["result"][0]
    late["timestamp"] = early["timestamp"] + late["timestamp"]
    for key, values in late["indicators"]["quote"][0].items():
        values[:0] = early["indicators"]["quote"][0][key]
    late["indicators"]["adjclose"][0]["adjclose"][:0] = early["indicators"]["adjclose"][0]["adjclose"]
    return body


# ------------------------------------------------------------ recorded shapes


def test_recorded_split_is_undone_for_earlier_bars(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.respond(CHART + "AAPL", merged_aapl_2020())
    provider = make_provider(server, spec, tmp_path, today=dt.date(2020, 11, 7))
    result = provider.bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2020, 1, 2), dt.date(2020, 11, 6))
    frame = result.frame.set_index("ts")
    assert len(frame) == 50 and result.rejects.empty
    # Yahoo's 75.0875015258789 is 300.35 / 4: before the split the raw prices are 4x, volume / 4.
    jan2 = frame.loc[pd.Timestamp("2020-01-02 05:00", tz="UTC")]  # midnight New York (EST)
    assert jan2[PRICES].tolist() == [296.24, 300.6, 295.19, 300.35, 33_870_100.0]
    # The split's own date is already post-split: 129.04 as traded, not undone.
    aug31 = frame.loc[pd.Timestamp("2020-08-31 04:00", tz="UTC")]  # EDT
    assert aug31[PRICES].tolist() == [127.58, 131.0, 126.0, 129.04, 225_702_700.0]
    assert np.isnan(jan2["vwap"]) and pd.isna(jan2["trade_count"]) and jan2["source"] == "yahoo"
    (request,) = server.chart_requests("AAPL")
    assert request.query["period1"] == [str(midnight(dt.date(2020, 1, 2)))]
    assert request.query["period2"] == [str(midnight(dt.date(2020, 11, 8)))]  # through today + 1
    assert request.query["interval"] == ["1d"] and request.query["events"] == ["div,splits"]
    assert request.query["includePrePost"] == ["false"]
    assert result.calls[0].endpoint == "/v8/finance/chart/{symbol}" and result.calls[0].rows == 50


def test_recorded_split_and_dividend_actions(server: YahooServer, spec: ProviderSpec, tmp_path: Path) -> None:
    server.respond(CHART + "AAPL", fixture(SPLIT_AND_DIVIDEND))
    provider = make_provider(server, spec, tmp_path, today=dt.date(2020, 11, 7))
    result = provider.corporate_actions(["AAPL"], dt.date(2020, 8, 31), dt.date(2020, 11, 6))
    rows = result.frame.set_index("id")
    assert list(rows.index) == ["yahoo-split-AAPL-2020-08-31", "yahoo-dividend-AAPL-2020-11-06"]
    split = rows.loc["yahoo-split-AAPL-2020-08-31"]
    assert (split["action_type"], split["ex_date"], split["split_from"], split["split_to"]) == (
        "split",
        dt.date(2020, 8, 31),
        1.0,
        4.0,
    )
    dividend = rows.loc["yahoo-dividend-AAPL-2020-11-06"]
    assert (dividend["ex_date"], dividend["cash_amount"], dividend["currency"]) == (
        dt.date(2020, 11, 6),
        0.205,
        "USD",
    )
    assert result.rejects.empty and (result.frame["source"] == "yahoo").all()


def test_a_range_not_reaching_today_lists_no_later_split(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    """The recorded 2020-01 response ends before the 2020-08-31 split, so it cannot say its 75.0875 is
    300.35 / 4. That is why the provider asks through today (the real answer to its request lists the
    split, as in the test above); a canned body that does not is taken at its word."""
    server.respond(CHART + "AAPL", fixture(AAPL_2020_01))
    recorded_on = dt.date(2025, 2, 20)
    provider = make_provider(server, spec, tmp_path, today=recorded_on)
    result = provider.bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2020, 1, 1), dt.date(2020, 1, 3))
    (request,) = server.chart_requests("AAPL")
    assert int(request.query["period2"][0]) == midnight(recorded_on + dt.timedelta(days=1))
    assert result.frame["close"].tolist() == [75.0875]  # float32 noise rounded, nothing to undo


def test_recorded_nvda_split_and_msft_dividends(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    nvda = fixture("chart_NVDA_1d_2021_events_split.json")
    # Recorded in 2025: its prices also carry NVDA's 10:1 split of 2024-06-10, which a response
    # through today lists; the second body is that answer.
    through_today = copy.deepcopy(nvda)
    june_2024 = int(dt.datetime(2024, 6, 10, 13, 30, tzinfo=dt.UTC).timestamp())
    through_today["chart"]["result"][0]["events"]["splits"][str(june_2024)] = {
        "date": june_2024,
        "numerator": 10,
        "denominator": 1,
        "splitRatio": "10:1",
    }
    server.respond(CHART + "NVDA", nvda, through_today, nvda)
    server.respond(CHART + "MSFT", fixture("chart_MSFT_1d_2021_events_div.json"))
    provider = make_provider(server, spec, tmp_path, today=dt.date(2022, 1, 31))
    july = dt.date(2021, 7, 19), dt.date(2021, 7, 20)
    as_recorded = provider.bars(["NVDA"], Dataset.BARS_1DAY, *july).frame
    assert as_recorded["close"].tolist() == [75.119, 18.612]  # Yahoo's 18.7797508 x 4, then as sent
    assert as_recorded["volume"].tolist() == [749_060_000 / 4, 434_687_000.0]
    complete = provider.bars(["NVDA"], Dataset.BARS_1DAY, *july).frame
    assert complete["close"].tolist() == [751.19, 186.12]  # as traded on those days
    assert complete["volume"].tolist() == [18_726_500.0, 43_468_700.0]

    actions = provider.corporate_actions(["NVDA", "MSFT"], dt.date(2021, 2, 1), dt.date(2022, 1, 31))
    frame = actions.frame
    nvda_split = frame[frame["symbol"] == "NVDA"]
    assert nvda_split["id"].tolist() == ["yahoo-split-NVDA-2021-07-20"]
    assert nvda_split[["split_from", "split_to"]].iloc[0].tolist() == [1.0, 4.0]
    msft = frame[frame["symbol"] == "MSFT"]
    assert (msft["action_type"] == "dividend").all()
    assert msft["ex_date"].tolist() == [
        dt.date(2021, 2, 17),
        dt.date(2021, 5, 19),
        dt.date(2021, 8, 18),
        dt.date(2021, 11, 17),
    ]
    assert msft["cash_amount"].tolist() == [0.56, 0.56, 0.56, 0.62] and (msft["currency"] == "USD").all()
    assert actions.rejects.empty and frame["id"].is_unique


def test_empty_ranges_give_empty_frames(server: YahooServer, spec: ProviderSpec, tmp_path: Path) -> None:
    weekend = fixture("chart_AAPL_1m_weekend_empty_no_timestamp.json")  # no timestamp, quote [{}]
    provider = make_provider(server, spec, tmp_path, today=dt.date(2025, 2, 20))
    # A weekend holds no session: nothing is requested.
    assert provider.bars(["AAPL"], Dataset.BARS_1MIN, dt.date(2025, 2, 1), dt.date(2025, 2, 2)).frame.empty
    assert not server.requests
    server.respond(CHART + "AAPL", weekend, weekend, weekend)
    result = provider.bars(["AAPL"], Dataset.BARS_1MIN, dt.date(2025, 2, 3), dt.date(2025, 2, 3))
    assert result.frame.empty and result.rejects.empty and len(result.calls) == 2  # split probe + 1m
    assert list(result.frame.columns)[:3] == ["symbol", "ts", "open"]
    daily = provider.bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2025, 2, 3), dt.date(2025, 2, 3))
    assert daily.frame.empty and daily.rejects.empty


def test_float32_noise_is_rounded_to_seven_significant_digits() -> None:
    noisy = np.array(
        [75.0875015258789, 18.77975082397461 * 40, 0.20499999821186066, 1234567.891, np.nan, 0.0]
    )
    rounded = round_significant(noisy)
    assert rounded[:4].tolist() == [75.0875, 751.19, 0.205, 1234568.0]
    assert np.isnan(rounded[4]) and rounded[5] == 0.0


# ------------------------------------------------------- generated by the server


def test_daily_bars_across_a_split_are_raw(server: YahooServer, spec: ProviderSpec, tmp_path: Path) -> None:
    start, end = dt.date(2026, 3, 2), dt.date(2026, 4, 24)
    # The server answers as Yahoo does: before the split, half the raw price.
    url = f"{server.url}{CHART}INTC?period1={midnight(start)}&period2={midnight(start) + 86_400}&interval=1d"
    with urllib.request.urlopen(url) as response:  # noqa: S310 (a local http server)
        sent = json.load(response)["chart"]["result"][0]["indicators"]["quote"][0]["close"][0]
    raw = session_bars(["INTC"], start, Dataset.BARS_1DAY)["close"].iloc[0]
    assert sent == pytest.approx(raw / 2, rel=1e-7)
    server.requests.clear()

    result = make_provider(server, spec, tmp_path).bars(["INTC", "AAPL"], Dataset.BARS_1DAY, start, end)
    assert_matches_demo(result.frame, Dataset.BARS_1DAY, ["INTC", "AAPL"], start, end)
    assert result.rejects.empty and len(result.calls) == 2
    for request in server.requests:
        assert request.query["period2"] == [str(midnight(TODAY + dt.timedelta(days=1)))]


def test_splits_after_the_range_up_to_today_are_undone(spec: ProviderSpec, tmp_path: Path) -> None:
    # VZ's demo data splits 2:1 on 2026-10-12 and 3:1 on 2027-03-10: September 2026 is served at 1/6.
    today = dt.date(2027, 3, 19)
    assert [day for day, _ in splits("VZ", today)][-2:] == [dt.date(2026, 10, 12), dt.date(2027, 3, 10)]
    start, end = dt.date(2026, 9, 1), dt.date(2026, 9, 30)
    with YahooServer(today=today) as served:
        result = make_provider(served, spec, tmp_path, today=today).bars(
            ["VZ"], Dataset.BARS_1DAY, start, end
        )
    assert_matches_demo(result.frame, Dataset.BARS_1DAY, ["VZ"], start, end)


def test_grouped_daily_bars_is_one_request_per_symbol(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    provider = make_provider(server, spec, tmp_path)
    session = dt.date(2026, 4, 9)  # the day before INTC's split
    result = provider.grouped_daily_bars(session, ["INTC", "MSFT", "IBM"])
    assert_matches_demo(result.frame, Dataset.BARS_1DAY, ["INTC", "MSFT", "IBM"], session, session)
    assert sorted(r.path for r in server.requests) == [CHART + s for s in ("IBM", "INTC", "MSFT")]
    assert provider.grouped_daily_bars(dt.date(2026, 4, 3), ["INTC"]).frame.empty  # Good Friday
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    "case",
    [
        # 21 sessions over 30 days: at most 8 days per request -> 4 requests.
        (Dataset.BARS_1MIN, TODAY - dt.timedelta(days=29), "1m", 4),
        (Dataset.BARS_5MIN, dt.date(2026, 3, 2), "5m", 1),
        # Clock hours resampled from 5-minute bars (the 9:00 bar covers 9:30-10:00).
        (Dataset.BARS_1HOUR, dt.date(2026, 3, 2), "5m", 1),
    ],
    ids=["1min", "5min", "1hour"],
)
def test_intraday_bars_inside_the_windows_are_raw(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path, case: tuple[Dataset, dt.date, str, int]
) -> None:
    dataset, start, interval, requests = case
    result = make_provider(server, spec, tmp_path).bars(["INTC"], dataset, start, TODAY)
    assert_matches_demo(result.frame, dataset, ["INTC"], start, TODAY)
    assert result.rejects.empty
    bars_requests = server.chart_requests("INTC", interval)
    assert len(bars_requests) == requests
    spans = [int(r.query["period2"][0]) - int(r.query["period1"][0]) for r in bars_requests]
    assert max(spans) <= (8 if interval == "1m" else 60) * 86_400
    # One daily request through today first: it lists the split the intraday prices carry.
    (probe,) = server.chart_requests("INTC", "1d")
    assert probe.query["period2"] == [str(midnight(TODAY + dt.timedelta(days=1)))]
    assert len(result.calls) == requests + 1
    if dataset == Dataset.BARS_1HOUR:
        first = result.frame["ts"].iloc[0].tz_convert("America/New_York")
        assert (first.hour, first.minute) == (9, 0)


@pytest.mark.parametrize(
    ("dataset", "days"),
    [(Dataset.BARS_1MIN, 30), (Dataset.BARS_5MIN, 60), (Dataset.BARS_1HOUR, 60)],
)
def test_intraday_outside_the_window_is_not_served(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path, dataset: Dataset, days: int
) -> None:
    start = TODAY - dt.timedelta(days=days)
    with pytest.raises(NotServedError, match=f"last {days} days"):
        make_provider(server, spec, tmp_path).bars(["INTC"], dataset, start, TODAY)
    assert not server.requests


def test_news_is_not_served(server: YahooServer, spec: ProviderSpec, tmp_path: Path) -> None:
    with pytest.raises(NotServedError, match="news"):
        make_provider(server, spec, tmp_path).news(
            ["INTC"], dt.datetime(2026, 4, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 2, tzinfo=dt.UTC)
        )
    assert not server.requests


def test_corporate_actions_match_the_demo(server: YahooServer, spec: ProviderSpec, tmp_path: Path) -> None:
    start, end = dt.date(2025, 10, 1), dt.date(2026, 4, 30)
    result = make_provider(server, spec, tmp_path).corporate_actions(["INTC", "AAPL"], start, end)
    expected = DemoProvider().corporate_actions(["INTC", "AAPL"], start, end).frame
    keys = ["symbol", "action_type", "ex_date"]
    got = result.frame.sort_values(keys).reset_index(drop=True)
    want = expected.sort_values(keys).reset_index(drop=True)
    assert got[keys].values.tolist() == want[keys].values.tolist()
    assert (got["action_type"] == "split").sum() == 1 and (got["action_type"] == "dividend").sum() >= 2
    # Dividends before the split are served halved (Yahoo adjusts them too); stored as paid.
    np.testing.assert_allclose(got["cash_amount"], want["cash_amount"], rtol=1e-6)
    np.testing.assert_array_equal(got[["split_from", "split_to"]], want[["split_from", "split_to"]])
    assert got["id"].str.startswith("yahoo-").all() and result.rejects.empty
    # A range ending before the split: the split is not listed, yet the dividends are still undone.
    before = make_provider(server, spec, tmp_path).corporate_actions(["INTC"], start, dt.date(2026, 3, 31))
    want_before = DemoProvider().corporate_actions(["INTC"], start, dt.date(2026, 3, 31)).frame
    assert (before.frame["action_type"] == "dividend").all() and len(before.frame) == len(want_before) > 0
    np.testing.assert_allclose(
        before.frame.sort_values("ex_date")["cash_amount"], want_before.sort_values("ex_date")["cash_amount"]
    )
    assert server.requests[-1].query["period2"] == [str(midnight(TODAY + dt.timedelta(days=1)))]


# ---------------------------------------------------------- errors per symbol


def test_an_unknown_symbol_is_a_reject_and_the_others_go_on(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.mark_unknown("ZZZZ")
    session = dt.date(2026, 4, 9)
    result = make_provider(server, spec, tmp_path).bars(
        ["AAPL", "ZZZZ", "MSFT"], Dataset.BARS_1DAY, session, session
    )
    assert sorted(result.frame["symbol"]) == ["AAPL", "MSFT"]
    (reason,) = result.rejects["reason"].tolist()
    assert "unknown or delisted" in reason
    record = json.loads(result.rejects["record"].iloc[0])
    assert record["symbol"] == "ZZZZ" and "No data found, symbol may be delisted" in record["error"]
    assert [c.status for c in result.calls] == [200, 404, 200]
    assert len(server.chart_requests("ZZZZ")) == 1  # a 404 is not retried


def test_a_404_without_yahoos_body_is_an_error(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    provider = make_provider(server, spec, tmp_path, base_url=server.url + "/wrong-prefix")
    with pytest.raises(ProviderError, match="HTTP 404"):
        provider.bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2026, 4, 9), dt.date(2026, 4, 9))


def test_chart_error_in_a_body_is_a_clear_error(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    error = {"chart": {"result": None, "error": {"code": "Bad Request", "description": "Data doesn't exist"}}}
    server.respond(CHART + "AAPL", error)
    provider = make_provider(server, spec, tmp_path)
    with pytest.raises(ProviderError, match="Bad Request: Data doesn't exist"):
        provider.bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2026, 4, 9), dt.date(2026, 4, 9))
    # Yahoo's own 422 for a range it refuses is an error too, not retried.
    server.fail(
        CHART + "AAPL", 422, body={"chart": {"result": None, "error": {"code": "Unprocessable Entity"}}}
    )
    with pytest.raises(ProviderError, match="HTTP 422"):
        provider.bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2026, 4, 9), dt.date(2026, 4, 9))
    assert len(server.requests) == 2


# ---------------------------------------------------------- failures and retries

SESSION = dt.date(2026, 4, 9)
CORRUPT = json.dumps(fixture(SPLIT_AND_DIVIDEND)).encode()[:700]  # a body cut off mid-way


def test_429_waits_retry_after_then_succeeds(server: YahooServer, spec: ProviderSpec, tmp_path: Path) -> None:
    server.fail(CHART + "AAPL", 429, headers={"Retry-After": "7"})
    sleep = SleepRecorder()
    result = make_provider(server, spec, tmp_path, sleep=sleep).grouped_daily_bars(SESSION, ["AAPL"])
    assert len(result.frame) == 1 and sleep.waits == [7.0] and len(server.requests) == 2


def test_429_without_retry_after_backs_off_within_bounds(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.fail(CHART + "AAPL", 429)
    server.fail(CHART + "AAPL", 500)
    sleep = SleepRecorder()
    result = make_provider(server, spec, tmp_path, sleep=sleep).grouped_daily_bars(SESSION, ["AAPL"])
    assert len(result.frame) == 1 and len(server.requests) == 3
    assert len(sleep.waits) == 2 and sleep.backed_off(spec.retries)


def test_persistent_5xx_gives_up_after_max_attempts(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    attempts = spec.retries.max_attempts
    server.fail(CHART + "AAPL", 503, times=attempts + 2)
    sleep = SleepRecorder()
    with pytest.raises(ProviderUnavailableError, match=f"gave up after {attempts} attempts: HTTP 503"):
        make_provider(server, spec, tmp_path, sleep=sleep).grouped_daily_bars(SESSION, ["AAPL"])
    assert len(server.requests) == attempts and len(sleep.waits) == attempts - 1
    assert all(w <= spec.retries.max_backoff_seconds + spec.retries.jitter_seconds for w in sleep.waits)


def test_timeout_is_retried(server: YahooServer, spec: ProviderSpec, tmp_path: Path) -> None:
    server.fail(
        CHART + "AAPL", 200, body=fixture(SPLIT_AND_DIVIDEND), delay_seconds=1.5
    )  # read timeout 0.5 s
    result = make_provider(server, short_read_timeout(spec), tmp_path).grouped_daily_bars(SESSION, ["AAPL"])
    assert result.frame["ts"].tolist() == [pd.Timestamp(calendar.session_midnight_utc(SESSION))]
    assert len(server.requests) == 2


def test_a_corrupt_response_mid_way_is_retried_and_the_result_complete(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.fail(CHART + "MSFT", 200, body=CORRUPT)  # the 2nd of three per-symbol requests
    symbols = ["AAPL", "MSFT", "NVDA"]
    result = make_provider(server, spec, tmp_path).bars(
        symbols, Dataset.BARS_1DAY, dt.date(2026, 4, 6), SESSION
    )
    assert_matches_demo(result.frame, Dataset.BARS_1DAY, symbols, dt.date(2026, 4, 6), SESSION)
    assert [r.path.rsplit("/", 1)[1] for r in server.requests] == ["AAPL", "MSFT", "MSFT", "NVDA"]


def test_a_persistently_corrupt_response_is_an_error_not_a_short_result(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    attempts = spec.retries.max_attempts
    server.fail(CHART + "MSFT", 200, body=CORRUPT, times=attempts)
    with pytest.raises(ProviderUnavailableError, match="undecodable JSON"):
        make_provider(server, spec, tmp_path).bars(
            ["AAPL", "MSFT", "NVDA"], Dataset.BARS_1DAY, SESSION, SESSION
        )
    assert not server.chart_requests("NVDA")


def test_a_short_quote_array_is_an_error(server: YahooServer, spec: ProviderSpec, tmp_path: Path) -> None:
    body = fixture(SPLIT_AND_DIVIDEND)
    body["chart"]["result"][0]["indicators"]["quote"][0]["close"].pop()
    server.respond(CHART + "AAPL", body)
    with pytest.raises(ProviderError, match="48 values for 49 timestamps"):
        make_provider(server, spec, tmp_path, today=dt.date(2020, 11, 7)).bars(
            ["AAPL"], Dataset.BARS_1DAY, dt.date(2020, 9, 1), dt.date(2020, 9, 30)
        )


# ---------------------------------------------------------------------- no key


def test_no_credential_is_ever_sent(server: YahooServer, spec: ProviderSpec, tmp_path: Path) -> None:
    provider = make_provider(server, spec, tmp_path)
    provider.bars(["INTC"], Dataset.BARS_1DAY, SESSION, SESSION)
    provider.bars(["INTC"], Dataset.BARS_5MIN, SESSION, SESSION)
    provider.corporate_actions(["INTC"], dt.date(2026, 1, 1), SESSION)
    assert len(server.requests) == 4
    for request in server.requests:
        assert set(request.query) == {"period1", "period2", "interval", "events", "includePrePost"}
        names = {name.lower() for name in request.headers}
        assert not names & {"authorization", "cookie", "x-api-key", "apikey", "x-api-token"}
        assert not any("key" in name or "token" in name or "auth" in name for name in names)
        assert request.headers["User-Agent"] == CLIENT_USER_AGENT


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_client_is_unavailable_at_once_not_a_key_error(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path, status: int
) -> None:
    # Yahoo has no key: a 401/403 is its cookie policy turning the client away, so failover may act.
    server.fail(CHART + "AAPL", status)
    with pytest.raises(ProviderUnavailableError, match="refused this client") as info:
        make_provider(server, spec, tmp_path).grouped_daily_bars(SESSION, ["AAPL"])
    assert not isinstance(info.value, AuthenticationError)
    assert "no key is involved" in str(info.value) and len(server.requests) == 1


def test_share_classes_are_asked_with_yahoos_hyphen_and_stored_under_our_symbol(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    result = make_provider(server, spec, tmp_path).bars(["BRK.B"], Dataset.BARS_1DAY, SESSION, SESSION)
    assert [r.path for r in server.requests] == [CHART + "BRK-B"]
    assert result.frame["symbol"].tolist() == ["BRK.B"] and result.rejects.empty


# --------------------------------------------------------------- data quality


def test_null_and_inconsistent_rows_become_rejects(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    body = fixture(SPLIT_AND_DIVIDEND)
    result_body = body["chart"]["result"][0]
    quote = result_body["indicators"]["quote"][0]
    for key in ("open", "high", "low", "close", "volume"):
        quote[key][3] = None  # Yahoo's null row
    quote["high"][5], quote["low"][5] = quote["low"][5], quote["high"][5]  # high < low
    quote["close"][7] = None
    # A bar stamped on a Saturday inside the requested range.
    result_body["timestamp"].append(int(dt.datetime(2020, 11, 7, 14, 30, tzinfo=dt.UTC).timestamp()))
    for key in ("open", "high", "low", "close", "volume"):
        quote[key].append(quote[key][-1])
    server.respond(CHART + "AAPL", body)
    result = make_provider(server, spec, tmp_path, today=dt.date(2020, 11, 7)).bars(
        ["AAPL"], Dataset.BARS_1DAY, dt.date(2020, 8, 31), dt.date(2020, 11, 7)
    )
    assert result.rejects["reason"].tolist() == [
        "null row: Yahoo sent no prices for this timestamp",
        "high below max(open, close); low above min(open, close)",
        "missing close",
        "not an NYSE session",
    ]
    swapped = json.loads(result.rejects["record"].iloc[1])
    assert swapped["high"] == quote["high"][5] and swapped["symbol"] == "AAPL"  # Yahoo's raw values
    assert json.loads(result.rejects["record"].iloc[0])["close"] is None
    assert len(result.frame) + len(result.rejects) == len(
        result_body["timestamp"]
    )  # nothing dropped silently


def test_rows_outside_the_requested_sessions_are_not_returned(
    server: YahooServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    # The response runs through today (and may end in a live bar): only the asked sessions come back.
    server.respond(CHART + "AAPL", fixture(SPLIT_AND_DIVIDEND))
    result = make_provider(server, spec, tmp_path, today=dt.date(2020, 11, 7)).bars(
        ["AAPL"], Dataset.BARS_1DAY, dt.date(2020, 9, 1), dt.date(2020, 9, 4)
    )
    assert [ts.date() for ts in result.frame["ts"]] == [dt.date(2020, 9, d) for d in (1, 2, 3, 4)]
    assert result.rejects.empty


# ---------------------------------------------------------------- server knobs


def test_shift_close_moves_one_daily_close(server: YahooServer, spec: ProviderSpec, tmp_path: Path) -> None:
    server.shift_close("AAPL", SESSION, 1.5)
    result = make_provider(server, spec, tmp_path).bars(
        ["AAPL"], Dataset.BARS_1DAY, dt.date(2026, 4, 8), SESSION
    )
    expected = DemoProvider().bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2026, 4, 8), SESSION).frame
    assert result.frame["close"].iloc[0] == pytest.approx(expected["close"].iloc[0], rel=1e-6)  # untouched
    assert result.frame["close"].iloc[1] == pytest.approx(1.5 * expected["close"].iloc[1], rel=1e-6)
    assert result.frame["high"].iloc[1] >= result.frame["close"].iloc[1] and result.rejects.empty


def test_yahoos_own_hour_bars_start_at_half_past(server: YahooServer) -> None:
    open_, _ = calendar.session_open_close(SESSION)
    query = f"period1={midnight(SESSION)}&period2={midnight(SESSION) + 86_400}&interval=60m"
    with urllib.request.urlopen(f"{server.url}{CHART}INTC?{query}") as response:  # noqa: S310
        result = json.load(response)["chart"]["result"][0]
    assert result["timestamp"][:2] == [int(open_.timestamp()), int(open_.timestamp()) + 3600]  # 9:30, 10:30
    assert len(result["timestamp"]) == 7 and result["meta"]["tradingPeriods"]["regular"][0][0][
        "start"
    ] == int(open_.timestamp())
