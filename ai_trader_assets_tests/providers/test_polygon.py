"""The Polygon provider against a local server speaking its REST API (shapes from shared/fixtures)."""

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.ticks import session_bounds_ns
from ai_trader_assets.providers.base import AuthenticationError, PaginationError, ProviderError
from ai_trader_assets.providers.http import RequestGovernor
from ai_trader_assets.providers.polygon import PolygonProvider, PolygonTransport
from ai_trader_assets.providers.polygon.trades import parse_trades
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.settings import Secret
from ai_trader_assets_tests.support.fake_api import SleepRecorder, provider_spec, short_read_timeout
from ai_trader_assets_tests.support.polygon_server import PolygonServer, fixture

API_KEY = "pk_SENTINEL_e2f81b"
SESSION = dt.date(2026, 11, 20)


@pytest.fixture
def server() -> Iterator[PolygonServer]:
    with PolygonServer(API_KEY, market=["AAPL", "MSFT", "NVDA", "IBM"]) as running:
        yield running


@pytest.fixture
def spec() -> ProviderSpec:
    return provider_spec("polygon")


def make_provider(
    server: PolygonServer,
    spec: ProviderSpec,
    tmp_path: Path,
    sleep: SleepRecorder | None = None,
    key: str = API_KEY,
) -> PolygonProvider:
    limiter = RequestLimiter("polygon", spec.rate_limit, tmp_path / "limits")
    governor = RequestGovernor("polygon", spec, limiter, sleep or SleepRecorder())
    transport = PolygonTransport(Secret(key), server.url, governor)
    return PolygonProvider(transport, spec)


# ------------------------------------------------------------ recorded shapes


def test_recorded_aggregates_parse_to_the_bars_schema(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.respond(
        "/v2/aggs/ticker/AAPL/", fixture("v2_aggs_ticker_AAPL_range_1_day_2005-04-01_2005-04-04.json")
    )
    result = make_provider(server, spec, tmp_path).bars(
        ["AAPL"], Dataset.BARS_1DAY, dt.date(2005, 4, 1), dt.date(2005, 4, 4)
    )
    frame = result.frame
    assert list(frame["ts"]) == [
        pd.Timestamp("2005-04-01 05:00", tz="UTC"),
        pd.Timestamp("2005-04-04 04:00", tz="UTC"),
    ]
    assert frame.loc[0, ["open", "high", "low", "close"]].tolist() == [1.5032, 1.5064, 1.4489, 1.4604]
    assert frame.loc[0, "volume"] == 642646396.0 and frame.loc[0, "trade_count"] == 82132
    assert frame["open"].dtype == "float64" and str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert (frame["source"] == "polygon").all() and result.rejects.empty
    request = server.requests_to("/v2/aggs/ticker/AAPL/range/1/day/2005-04-01/2005-04-04")[0]
    assert request.query["adjusted"] == ["false"]  # raw prices; adjustment comes from corporate actions


def test_grouped_daily_takes_the_date_from_the_request(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.respond(
        "/v2/aggs/grouped/", fixture("v2_aggs_grouped_locale_us_market_stocks_2005-04-04_adjusted_true.json")
    )
    result = make_provider(server, spec, tmp_path).grouped_daily_bars(dt.date(2005, 4, 4), ["GIK"])
    # The fixture's t is 2020-10-14T20:00Z (a bar end, on another day); the session is the request's.
    assert result.frame["ts"].tolist() == [pd.Timestamp("2005-04-04 04:00", tz="UTC")]
    assert result.frame.loc[0, "close"] == 10.02 and len(result.calls) == 1


def test_grouped_daily_is_one_request_for_the_market(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    result = make_provider(server, spec, tmp_path).grouped_daily_bars(SESSION, ["AAPL", "IBM", "NOTLISTED"])
    assert sorted(result.frame["symbol"]) == ["AAPL", "IBM"]
    assert (
        len(server.requests) == 1
        and result.calls[0].endpoint == "/v2/aggs/grouped/locale/us/market/stocks/{date}"
    )


def test_recorded_news_splits_and_dividends(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.respond("/v2/reference/news", fixture("v2_reference_news_ticker_NFLX.json"))
    server.respond("/v3/reference/splits", fixture("v3_reference_splits.json"))
    server.respond("/v3/reference/dividends", fixture("v3_reference_dividends.json"))
    provider = make_provider(server, spec, tmp_path)
    news = provider.news(
        ["NFLX"], dt.datetime(2022, 4, 1, tzinfo=dt.UTC), dt.datetime(2022, 5, 1, tzinfo=dt.UTC)
    )
    assert news.frame.loc[0, "publisher"] == "MarketWatch"
    assert news.frame.loc[0, "published_utc"] == pd.Timestamp("2022-04-28 17:08", tz="UTC")
    assert news.links is not None and sorted(news.links["symbol"]) == ["AMZN", "MSFT", "NFLX", "TSN"]
    actions = provider.corporate_actions(["GOOGL"], dt.date(2022, 1, 1), dt.date(2025, 12, 31))
    splits = actions.frame[actions.frame["action_type"] == "split"]
    dividends = actions.frame[actions.frame["action_type"] == "dividend"]
    assert len(splits) == 10 and len(dividends) == 10 and actions.rejects.empty
    googl = splits[splits["symbol"] == "GOOGL"].iloc[0]
    assert (googl["ex_date"], googl["split_from"], googl["split_to"]) == (dt.date(2022, 7, 18), 1.0, 20.0)
    assert (
        dividends.iloc[0]["pay_date"] == dt.date(2025, 6, 30) and dividends.iloc[0]["cash_amount"] == 0.59375
    )
    assert actions.frame["id"].is_unique


# ------------------------------------------------------------------ pagination


def test_pagination_follows_next_url_over_several_pages(spec: ProviderSpec, tmp_path: Path) -> None:
    with PolygonServer(API_KEY, page_size=100) as paged:
        result = make_provider(paged, spec, tmp_path).bars(["NVDA"], Dataset.BARS_1MIN, SESSION, SESSION)
        assert len(result.frame) == 390 and result.frame["ts"].is_monotonic_increasing
        assert len(result.calls) == 4
        cursors = [r.query.get("cursor") for r in paged.requests]
        assert cursors == [None, ["100"], ["200"], ["300"]]


def test_looping_next_url_is_an_error(server: PolygonServer, spec: ProviderSpec, tmp_path: Path) -> None:
    page = {
        "status": "OK",
        "resultsCount": 1,
        "results": [{"o": 1, "h": 1, "l": 1, "c": 1, "v": 1, "t": 0}],
        "next_url": f"{server.url}/v2/aggs/ticker/AAPL/range/1/day/2026-11-20/2026-11-20?cursor=abc",
    }
    server.respond("/v2/aggs/ticker/AAPL/", page, page, page)
    with pytest.raises(PaginationError, match="loop"):
        make_provider(server, spec, tmp_path).bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION)


def test_a_truncated_page_is_an_error_not_a_short_result(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    body = fixture("v2_aggs_ticker_AAPL_range_1_day_2005-04-01_2005-04-04.json")
    body["results"] = body["results"][:1]  # says resultsCount 2, holds 1
    server.respond("/v2/aggs/ticker/AAPL/", body)
    with pytest.raises(PaginationError, match="truncated"):
        make_provider(server, spec, tmp_path).bars(
            ["AAPL"], Dataset.BARS_1DAY, dt.date(2005, 4, 1), dt.date(2005, 4, 4)
        )


# ---------------------------------------------------------- failures and retries


def test_429_waits_retry_after_then_succeeds(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.fail("/v2/aggs/grouped/", 429, headers={"Retry-After": "7"})
    sleep = SleepRecorder()
    result = make_provider(server, spec, tmp_path, sleep).grouped_daily_bars(SESSION, ["AAPL"])
    assert len(result.frame) == 1
    assert sleep.waits == [7.0]
    assert len(server.requests) == 2


def test_500_then_success_backs_off_within_bounds(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.fail("/v2/aggs/grouped/", 500)
    sleep = SleepRecorder()
    result = make_provider(server, spec, tmp_path, sleep).grouped_daily_bars(SESSION, ["AAPL"])
    assert len(result.frame) == 1 and len(server.requests) == 2
    assert len(sleep.waits) == 1 and sleep.backed_off(spec.retries)


def test_persistent_5xx_gives_up_after_max_attempts(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    attempts = spec.retries.max_attempts
    server.fail("/v2/aggs/grouped/", 503, times=attempts + 2)
    sleep = SleepRecorder()
    with pytest.raises(ProviderError, match=f"gave up after {attempts} attempts: HTTP 503"):
        make_provider(server, spec, tmp_path, sleep).grouped_daily_bars(SESSION, ["AAPL"])
    assert len(server.requests) == attempts
    assert all(w <= spec.retries.max_backoff_seconds + spec.retries.jitter_seconds for w in sleep.waits)
    assert sleep.waits == sorted(sleep.waits) or len(set(sleep.waits)) > 1  # growing, jittered


def test_timeout_is_retried(server: PolygonServer, spec: ProviderSpec, tmp_path: Path) -> None:
    server.fail("/v2/aggs/grouped/", 200, body={"status": "OK"}, delay_seconds=1.5)
    provider = make_provider(server, short_read_timeout(spec), tmp_path)
    result = provider.grouped_daily_bars(SESSION, ["AAPL"])
    assert len(result.frame) == 1 and len(server.requests) == 2


def test_401_fails_at_once_naming_the_variable(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    with pytest.raises(AuthenticationError, match="POLYGON_API_KEY") as info:
        make_provider(server, spec, tmp_path, key="wrong-key").grouped_daily_bars(SESSION, ["AAPL"])
    assert len(server.requests) == 1
    assert "wrong-key" not in str(info.value)


# --------------------------------------------------------------- data quality


def test_malformed_rows_become_rejects_with_reasons(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    good = {"o": 10.0, "h": 11.0, "l": 9.5, "c": 10.5, "v": 1000.5, "vw": 10.2, "n": 12}
    rows = [
        {**good, "t": 1763620200000},
        {**good, "t": 1763620260000, "o": None},
        {**good, "t": 1763620320000, "c": -1.0},
        {**good, "t": 1763620380000, "h": 10.0},  # below the close
        {**good, "t": 1763620440000, "l": 10.4},  # above the open
        {**good, "t": 1763620500000, "v": -5},
        {**good, "t": 1763620560000, "o": "NaN"},
        {**good, "t": 1763620200000},  # duplicate key
        {k: v for k, v in good.items() if k != "h"} | {"t": 1763620620000},
    ]
    server.respond("/v2/aggs/ticker/AAPL/", {"status": "OK", "resultsCount": len(rows), "results": rows})
    result = make_provider(server, spec, tmp_path).bars(["AAPL"], Dataset.BARS_1MIN, SESSION, SESSION)
    assert len(result.frame) == 1 and result.frame.loc[0, "volume"] == 1000.5  # fractional volume kept
    reasons = result.rejects["reason"].tolist()
    assert reasons == [
        "missing open",
        "non-finite or non-positive price; low above min(open, close)",
        "high below max(open, close)",
        "low above min(open, close)",
        "negative or non-finite volume",
        "missing open",
        "duplicate (symbol, ts): an earlier row has the same key",
        "missing high",
    ]
    assert json.loads(result.rejects["record"].iloc[0])["o"] is None  # the provider's raw record is kept
    assert len(result.frame) + len(result.rejects) == len(rows)  # nothing silently dropped


def test_empty_results_and_a_holiday(server: PolygonServer, spec: ProviderSpec, tmp_path: Path) -> None:
    provider = make_provider(server, spec, tmp_path)
    holiday = provider.grouped_daily_bars(dt.date(2026, 11, 26), ["AAPL"])  # Thanksgiving
    assert holiday.frame.empty and list(holiday.frame.columns)[:3] == ["symbol", "ts", "open"]
    server.respond("/v2/aggs/ticker/AAPL/", {"status": "OK", "resultsCount": 0, "queryCount": 0})
    assert provider.bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION).frame.empty


# ---------------------------------------------------------------------- secrets


def test_the_key_travels_only_in_the_authorization_header(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = fixture("v2_reference_news_ticker_NFLX.json") | {
        "next_url": f"{server.url}/v2/reference/news?cursor=p2&apiKey={API_KEY}"
    }
    server.respond("/v2/reference/news", page, fixture("v2_reference_news_ticker_NFLX.json"))
    provider = make_provider(server, spec, tmp_path)
    provider.news(["NFLX"], dt.datetime(2022, 4, 1, tzinfo=dt.UTC), dt.datetime(2022, 5, 1, tzinfo=dt.UTC))
    provider.bars(["AAPL"], Dataset.BARS_1DAY, SESSION, SESSION)
    assert len(server.requests) == 3
    for request in server.requests:
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        assert API_KEY not in request.path and API_KEY not in json.dumps(request.query)
    assert API_KEY not in caplog.text and API_KEY not in repr(provider)


def test_a_delayed_plan_says_how_far_its_bars_reach(
    server: PolygonServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    """A delayed plan answers with status DELAYED: the latest 15 minutes are not served yet, so the
    provider says where its answer ends (a trading session is stored up to there, not further)."""
    body = fixture("v2_aggs_ticker_AAPL_range_1_day_2005-04-01_2005-04-04.json")
    server.respond("/v2/aggs/ticker/AAPL/", body, {**body, "status": "DELAYED"})
    provider = make_provider(server, spec, tmp_path)
    real_time = provider.bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2005, 4, 1), dt.date(2005, 4, 4))
    assert real_time.served_until is None
    before = dt.datetime.now(dt.UTC)
    delayed = provider.bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2005, 4, 1), dt.date(2005, 4, 4))
    assert delayed.served_until is not None
    lag = before - delayed.served_until
    assert dt.timedelta(minutes=15) - dt.timedelta(seconds=5) <= lag <= dt.timedelta(minutes=15)
    configured = PolygonProvider(provider._transport, spec.model_copy(update={"delay_minutes": 20}))
    server.respond("/v2/aggs/ticker/AAPL/", body)
    lagged = configured.bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2005, 4, 1), dt.date(2005, 4, 4))
    assert lagged.served_until is not None and before - lagged.served_until >= dt.timedelta(minutes=19)


# ---------------------------------------------------------------------- trades


def trades_provider(
    server: PolygonServer, tmp_path: Path, page_size: int = 50_000, sleep: SleepRecorder | None = None
) -> PolygonProvider:
    spec = provider_spec("polygon", unthrottled=True)
    sizes = spec.page_sizes.model_copy(update={"trades": page_size})
    return make_provider(server, spec.model_copy(update={"page_sizes": sizes}), tmp_path, sleep)


def test_recorded_trades_parse_with_their_nanoseconds() -> None:
    docs = fixture("v3_trades_AAPL_docs_example.json")["results"]
    frame, rejects = parse_trades("AAPL", docs)
    assert frame["sip_timestamp"].tolist() == [1517562000016036600, 1517562000016038100]
    assert frame["participant_timestamp"].tolist() == [1517562000015577000, 1517562000015577600]
    assert frame["ts"].iloc[0] == pd.Timestamp("2018-02-02 09:00:00.016036", tz="UTC")
    assert frame["size"].tolist() == [100.0, 100.0] and frame["conditions"].tolist() == ["12,41"] * 2
    assert frame["trade_id"].tolist() == ["1", "2"] and frame["sequence_number"].tolist() == [1063, 1064]
    assert frame["correction"].isna().all() and frame["trf_id"].isna().all() and rejects.empty
    corrected, _ = parse_trades("AAPL", fixture("v3_trades_AAPL_limit_2.json")["results"])
    assert corrected["sip_timestamp"].tolist() == [1651181822461979400] * 2
    assert corrected["exchange"].tolist() == [11, 12] and corrected["trade_id"].tolist() == ["183276"] * 2
    assert corrected["correction"].tolist() == [1, 1] and corrected["trf_id"].tolist() == [3, 3]
    assert corrected["conditions"].tolist() == ["12,37"] * 2 and corrected["size"].tolist() == [10.0, 10.0]
    assert (corrected["source"] == "polygon").all() and not corrected["regular_hours"].any()
    trade = docs[0]
    broken = [
        {k: v for k, v in trade.items() if k != "sip_timestamp"},
        {**trade, "sip_timestamp": 1.517562000016036e18},  # already rounded by a float: refused
        {**trade, "price": None},
        {k: v for k, v in trade.items() if k != "id"},
        {**trade, "conditions": ["x"]},
    ]
    frame, rejects = parse_trades("AAPL", [{**trade, "size": 0, "decimal_size": "0.5"}, *broken])
    assert frame["size"].tolist() == [0.5]  # decimal_size, not the truncated size
    reasons = rejects["reason"].tolist()
    assert reasons[:2] == ["missing or non-integer sip_timestamp"] * 2 and reasons[3] == "missing id"
    assert reasons[2] == "missing, non-numeric or non-positive price" and "conditions" in reasons[4]
    assert json.loads(rejects["record"].iloc[4])["conditions"] == ["x"]


def test_trades_follow_every_page_with_the_key_only_in_the_header(
    server: PolygonServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.trades_per_session = 23
    server.fail("/v3/trades/AAPL", 503, times=2)
    server.fail("/v3/trades/MSFT", 429, headers={"Retry-After": "3"})
    sleep = SleepRecorder()
    result = trades_provider(server, tmp_path, 5, sleep).trades(["AAPL", "MSFT"], SESSION)
    held = [(s, t) for s in ("AAPL", "MSFT") for t in server.session_trades(s, SESSION)]
    frame = result.frame
    rows = frame[["symbol", "sip_timestamp", "exchange", "trade_id"]].itertuples(index=False, name=None)
    assert list(rows) == [(s, t["sip_timestamp"], t["exchange"], t["id"]) for s, t in held]
    assert frame["size"].tolist() == [float(t.get("decimal_size", t["size"])) for _, t in held]
    assert result.rejects.empty and frame["regular_hours"].any() and not frame["regular_hours"].all()
    assert len(held) == 46 and [c.endpoint for c in result.calls] == ["/v3/trades/{ticker}"] * 10
    assert len(server.requests) == 13 and len(sleep.waits) == 3 and 3.0 in sleep.waits
    start, end = session_bounds_ns(SESSION)
    query = {k: v[0] for k, v in server.requests_to("/v3/trades/MSFT")[0].query.items()}
    asked = {"timestamp.gte": str(start), "timestamp.lt": str(end), "order": "asc", "sort": "timestamp"}
    assert query == asked | {"limit": "5"}
    for request in server.requests:
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        assert API_KEY not in request.path and API_KEY not in json.dumps(request.query)
    assert API_KEY not in caplog.text


@pytest.mark.parametrize("how", ["drop_results", "truncate", "status"])
def test_a_trades_page_cut_short_raises(server: PolygonServer, tmp_path: Path, how: str) -> None:
    provider = trades_provider(server, tmp_path, 10)
    if how == "status":
        server.respond("/v3/trades/", {"status": "NOT_FOUND", "request_id": "x", "results": []})
        error, message = ProviderError, "status 'NOT_FOUND'"
    elif how == "drop_results":
        server.cut_short("/v3/trades/", skip=1, drop_results=True)
        error, message = PaginationError, "cut short"
    else:  # every attempt at the second page stops halfway
        server.cut_short("/v3/trades/", skip=1, times=provider_spec("polygon").retries.max_attempts)
        error, message = ProviderError, "gave up after .* undecodable JSON"
    with pytest.raises(error, match=message):
        provider.trades(["AAPL"], SESSION)


def test_since_narrows_the_trades_request(server: PolygonServer, tmp_path: Path) -> None:
    provider = trades_provider(server, tmp_path)
    since = dt.datetime(2026, 11, 20, 15, 0, 0, 123456, tzinfo=dt.UTC)
    since_ns = int(pd.Timestamp(since).as_unit("ns").value)
    result = provider.trades(["AAPL"], SESSION, since=since)
    assert server.requests[0].query["timestamp.gte"] == [str(since_ns)]
    held = [t["sip_timestamp"] for t in server.session_trades("AAPL", SESSION)]
    later = [sip for sip in held if sip >= since_ns]
    assert result.frame["sip_timestamp"].tolist() == later and 0 < len(later) < 40
    whole_day = provider.trades(["AAPL"], SESSION, since=dt.datetime(2026, 11, 19, tzinfo=dt.UTC))
    assert server.requests[1].query["timestamp.gte"] == [str(session_bounds_ns(SESSION)[0])]
    assert len(whole_day.frame) == 40
    assert provider.trades(["AAPL"], SESSION, since=dt.datetime(2026, 11, 22, tzinfo=dt.UTC)).frame.empty
    assert len(server.requests) == 2  # nothing left of the day: nothing asked
