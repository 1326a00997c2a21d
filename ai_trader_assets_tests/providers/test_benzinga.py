"""The Benzinga news provider against a local server speaking its REST API (shapes from shared/fixtures)."""

import copy
import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.news import NEWS_COLUMNS
from ai_trader_assets.providers.base import (
    AuthenticationError,
    NotServedError,
    PaginationError,
    ProviderError,
    ProviderUnavailableError,
)
from ai_trader_assets.providers.benzinga import BenzingaProvider
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.http import RequestGovernor
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.providers.text import html_to_text
from ai_trader_assets.settings import Secret
from ai_trader_assets_tests.support.benzinga_server import BenzingaServer, benzinga_id, docs_example
from ai_trader_assets_tests.support.fake_api import SleepRecorder, provider_spec, short_read_timeout

API_KEY = "bz_SENTINEL_7c41d0"
NEWS = "/api/v2/news"
UTC = dt.UTC
# News of three sessions as ingestion asks for it: previous close to close (+1 s). It starts at 16:00 ET
# on the 25th (20:00 UTC), so requesting whole days from the UTC date (the 25th) is right only by luck;
# articles between midnight UTC and 20:00 UTC of the first day are outside and must be left out.
WINDOW = (dt.datetime(2024, 6, 25, 20, 0, tzinfo=UTC), dt.datetime(2024, 6, 28, 20, 0, 1, tzinfo=UTC))


@pytest.fixture
def server() -> Iterator[BenzingaServer]:
    with BenzingaServer(API_KEY) as running:
        yield running


def with_page_size(spec: ProviderSpec, size: int) -> ProviderSpec:
    return spec.model_copy(update={"page_sizes": spec.page_sizes.model_copy(update={"news": size})})


@pytest.fixture
def spec() -> ProviderSpec:
    return provider_spec("benzinga", unthrottled=True)  # paging tests make many requests


def make_provider(
    server: BenzingaServer,
    spec: ProviderSpec,
    tmp_path: Path,
    *,
    sleep: SleepRecorder | None = None,
    key: str = API_KEY,
    max_pages: int | None = None,
) -> BenzingaProvider:
    limiter = RequestLimiter("benzinga", spec.rate_limit, tmp_path / "limits")
    extra = {} if max_pages is None else {"max_pages": max_pages}
    governor = RequestGovernor("benzinga", spec, limiter, sleep or SleepRecorder())
    return BenzingaProvider(Secret(key), server.url, governor, **extra)


def expected_news(
    symbols: list[str], start: dt.datetime, end: dt.datetime
) -> tuple[set[str], set[tuple[str, str]]]:
    """The ids and (id, symbol) links the generated server's articles in [start, end) must give."""
    demo = DemoProvider().news(symbols, start, end)
    assert demo.links is not None
    ids = {f"benzinga:{benzinga_id(i)}" for i in demo.frame["id"]}
    links = {
        (f"benzinga:{benzinga_id(i)}", s)
        for i, s in zip(demo.links["news_id"], demo.links["symbol"], strict=True)
    }
    return ids, links


def article(
    news_id: object, created: object = "Wed, 26 Jun 2024 13:06:30 -0400", **fields: Any
) -> dict[str, Any]:
    return {
        "id": news_id,
        "author": "Desk",
        "created": created,
        "updated": created,
        "title": f"Headline {news_id}",
        "teaser": "",
        "body": "",
        "url": f"https://www.benzinga.com/news/{news_id}",
        "image": [],
        "channels": [],
        "stocks": [{"name": "AAPL"}],
        "tags": [],
    } | fields


# ------------------------------------------------------------ recorded shapes


def test_the_docs_example_parses_to_the_news_schema(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.respond(NEWS, docs_example())
    provider = make_provider(server, spec, tmp_path)
    result = provider.news(["AAPL"], dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC))
    frame = result.frame
    assert list(frame.columns) == list(NEWS_COLUMNS) and len(frame) == 1 and result.rejects.empty
    row = frame.iloc[0]
    assert row["id"] == "benzinga:36444586"  # the form Alpaca's Benzinga items use too
    assert row["title"] == "10 Information Technology Stocks With Whale Alerts In Today's Session"
    # "Mon, 01 Jan 2024 13:35:14 -0400": the offset written (not EST's -0500) gives 17:35:14 UTC.
    assert row["published_utc"] == pd.Timestamp("2024-01-01 17:35:14", tz="UTC")
    assert str(frame["published_utc"].dtype) == "datetime64[us, UTC]"
    assert (row["author"], row["publisher"], row["source"]) == ("Benzinga Insights", "Benzinga", "benzinga")
    assert row["article_url"].endswith(
        "/36444586/10-information-technology-stocks-with-whale-alerts-in-todays-session"
    )
    assert pd.isna(row["description"])  # teaser and body are both empty in the example
    assert result.links is not None
    assert sorted(result.links["symbol"]) == ["AAPL", "CLSK", "NVDA", "ORCL", "TSM"]
    assert set(result.links["news_id"]) == {"benzinga:36444586"}
    assert len(result.calls) == 1 and result.calls[0].endpoint == NEWS and result.calls[0].rows == 1

    (request,) = server.requests
    assert request.path == NEWS
    assert {k: v[0] for k, v in request.query.items()} == {
        "tickers": "AAPL",
        "dateFrom": "2023-12-31",  # the Eastern date of 2024-01-01T00:00Z
        "dateTo": "2024-01-01",
        "displayOutput": "full",
        "sort": "created:asc",
        "pageSize": "100",
        "page": "0",
    }
    assert request.headers["Authorization"] == f"token {API_KEY}"
    assert request.headers["Accept"] == "application/json"


def test_teaser_html_is_stripped_and_an_empty_teaser_falls_back_to_the_body(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    with_teaser = copy.deepcopy(docs_example()[0]) | {
        "teaser": "<p>Whale alerts &amp; <b>unusual</b> options&nbsp;activity in &quot;tech&quot;</p>"
    }
    long_body = (
        "<div><p>First &lt;paragraph&gt; of the story.</p>" + "<p>More words here.</p>" * 60 + "</div>"
    )
    from_body = article(2, created="Mon, 01 Jan 2024 14:00:00 -0500", body=long_body)
    server.respond(NEWS, [with_teaser, from_body])
    result = make_provider(server, spec, tmp_path).news(
        ["AAPL"], dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC)
    )
    descriptions = dict(zip(result.frame["id"], result.frame["description"], strict=True))
    assert descriptions["benzinga:36444586"] == 'Whale alerts & unusual options activity in "tech"'
    body_text = descriptions["benzinga:2"]
    assert body_text.startswith("First <paragraph> of the story. More words here.")
    full = html_to_text(long_body)
    assert full is not None and len(full) > 1000
    assert len(body_text) <= 501 and body_text.endswith("…") and "<p>" not in body_text
    assert full.startswith(body_text[:-1]) and full[len(body_text) - 1] == " "  # cut at a word
    assert result.frame.set_index("id").loc["benzinga:2", "published_utc"] == pd.Timestamp(
        "2024-01-01 19:00", tz="UTC"
    )


def test_not_served_datasets(server: BenzingaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    provider = make_provider(server, spec, tmp_path)
    day = dt.date(2024, 6, 26)
    with pytest.raises(NotServedError, match="news only"):
        provider.bars(["AAPL"], Dataset.BARS_1DAY, day, day)
    with pytest.raises(NotServedError, match="news only"):
        provider.grouped_daily_bars(day, ["AAPL"])
    with pytest.raises(NotServedError, match="news only"):
        provider.corporate_actions(["AAPL"], day, day)
    empty = provider.news([], *WINDOW)
    assert empty.frame.empty and empty.links is not None and empty.links.empty
    assert list(empty.frame.columns) == list(NEWS_COLUMNS) and not server.requests


# ------------------------------------------------------------------ pagination


def test_generated_news_over_many_pages_and_ticker_chunks(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    symbols = [f"S{i:03d}" for i in range(60)]  # two requests: 50 tickers, then 10
    start, end = WINDOW
    result = make_provider(server, with_page_size(spec, 20), tmp_path).news(symbols, start, end)

    ids, links = expected_news(symbols, start, end)
    assert len(ids) > 60  # enough articles for several pages per chunk
    assert result.frame["id"].is_unique and set(result.frame["id"]) == ids
    assert result.links is not None
    assert set(zip(result.links["news_id"], result.links["symbol"], strict=True)) == links
    assert len(result.links) == len(links) and result.rejects.empty
    published = result.frame["published_utc"]
    assert published.min() >= pd.Timestamp(start) and published.max() < pd.Timestamp(end)
    assert result.frame["description"].notna().all()
    # No tags or entities left (the generated bodies say "margins < last year": text, not a tag).
    assert not result.frame["description"].str.contains(r"</?[a-z]+>|&[a-z#0-9]+;", regex=True).any()
    assert result.frame["description"].str.contains("&").all()

    chunks = [r.query["tickers"][0].split(",") for r in server.requests]
    pages = [int(r.query["page"][0]) for r in server.requests]
    first_chunk = sum(1 for c in chunks if c == symbols[:50])
    assert chunks == [symbols[:50]] * first_chunk + [symbols[50:]] * (len(chunks) - first_chunk)
    assert first_chunk >= 3 and pages == list(range(first_chunk)) + list(range(len(chunks) - first_chunk))
    # Eastern date of the first instant (16:00 ET on the 25th) to the UTC date of the last.
    assert {(r.query["dateFrom"][0], r.query["dateTo"][0]) for r in server.requests} == {
        ("2024-06-25", "2024-06-28")
    }
    assert all(r.query["pageSize"] == ["20"] for r in server.requests)
    assert len(result.calls) == len(server.requests) and sum(c.rows for c in result.calls) >= len(ids)


def test_each_article_once_however_many_chunks_name_it(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    symbols = [f"S{i:03d}" for i in range(51)]
    shared = article(
        7, stocks=[{"name": "S000"}, {"name": "S050"}, {"name": "brk/b"}, {"name": "S000"}, "S001", {}]
    )
    server.respond(NEWS, [shared, article(8, stocks=[{"name": "S000"}])], [shared])
    result = make_provider(server, spec, tmp_path).news(symbols, *WINDOW)
    assert sorted(result.frame["id"]) == ["benzinga:7", "benzinga:8"]
    assert result.links is not None
    assert sorted(zip(result.links["news_id"], result.links["symbol"], strict=True)) == [
        ("benzinga:7", "S000"),
        ("benzinga:7", "S050"),
        ("benzinga:8", "S000"),
    ]
    assert [len(r.query["tickers"][0].split(",")) for r in server.requests] == [50, 1]


def test_items_outside_the_window_are_left_out(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    start, end = dt.datetime(2024, 6, 26, 4, tzinfo=UTC), dt.datetime(2024, 6, 27, 4, tzinfo=UTC)
    server.respond(
        NEWS,
        [
            article(1, created="Wed, 26 Jun 2024 00:00:00 -0400"),  # 04:00 UTC: the first instant
            article(2, created="Wed, 26 Jun 2024 23:59:59 -0400"),  # 03:59:59 UTC on the 27th
            article(3, created="Thu, 27 Jun 2024 00:00:00 -0400"),  # the end: excluded
            article(4, created="Tue, 25 Jun 2024 23:59:59 -0400"),  # just before the start
        ],
    )
    result = make_provider(server, spec, tmp_path).news(["AAPL"], start, end)
    assert sorted(result.frame["id"]) == ["benzinga:1", "benzinga:2"] and result.rejects.empty


def test_a_page_that_is_not_a_list_is_an_error(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.respond(NEWS, {"message": "Invalid tickers"})
    with pytest.raises(ProviderError, match="not a JSON list"):
        make_provider(server, spec, tmp_path).news(["AAPL"], *WINDOW)


def test_an_error_status_quotes_the_bare_string_body(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.fail(NEWS, 400, body="Invalid date format")
    with pytest.raises(ProviderError, match=r"HTTP 400.*Invalid date format") as info:
        make_provider(server, spec, tmp_path).news(["AAPL"], *WINDOW)
    assert not isinstance(info.value, ProviderUnavailableError) and len(server.requests) == 1


def test_a_page_number_ignored_is_a_loop_not_endless_paging(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    full = [article(i) for i in range(3)]
    server.respond(NEWS, full, full, full)
    with pytest.raises(PaginationError, match="repeats page 0"):
        make_provider(server, with_page_size(spec, 3), tmp_path).news(["AAPL"], *WINDOW)
    assert len(server.requests) == 2


def test_paging_stops_at_max_pages(server: BenzingaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    symbols = [f"S{i:03d}" for i in range(20)]
    provider = make_provider(server, with_page_size(spec, 2), tmp_path, max_pages=3)
    with pytest.raises(PaginationError, match="more than 3 pages"):
        provider.news(symbols, *WINDOW)
    assert [r.query["page"][0] for r in server.requests] == ["0", "1", "2"]


def test_a_configured_page_size_above_benzingas_cap_is_capped(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    # Benzinga serves at most 100 per page: asking for 500 would make each full page look like the last.
    symbols = [f"S{i:03d}" for i in range(50)]
    start, end = dt.datetime(2024, 6, 3, 4, tzinfo=UTC), dt.datetime(2024, 6, 10, 4, tzinfo=UTC)
    result = make_provider(server, with_page_size(spec, 500), tmp_path).news(symbols, start, end)
    ids, _ = expected_news(symbols, start, end)
    assert len(ids) > 100 and set(result.frame["id"]) == ids
    assert {r.query["pageSize"][0] for r in server.requests} == {"100"} and len(server.requests) >= 2


# ---------------------------------------------------------- failures and retries


def test_429_waits_retry_after_then_succeeds(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.fail(NEWS, 429, headers={"Retry-After": "7"})
    sleep = SleepRecorder()
    result = make_provider(server, spec, tmp_path, sleep=sleep).news(["AAPL", "MSFT"], *WINDOW)
    assert set(result.frame["id"]) == expected_news(["AAPL", "MSFT"], *WINDOW)[0]
    assert sleep.waits == [7.0]
    assert len(server.requests) == 2


def test_429_without_retry_after_backs_off_within_bounds(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.fail(NEWS, 429, times=2)
    sleep = SleepRecorder()
    result = make_provider(server, spec, tmp_path, sleep=sleep).news(["AAPL"], *WINDOW)
    assert set(result.frame["id"]) == expected_news(["AAPL"], *WINDOW)[0] and len(server.requests) == 3
    assert len(sleep.waits) == 2 and sleep.backed_off(spec.retries)


def test_a_5xx_storm_gives_up_after_max_attempts(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    attempts = spec.retries.max_attempts
    server.fail(NEWS, 503, times=attempts + 2)
    sleep = SleepRecorder()
    with pytest.raises(ProviderUnavailableError, match=f"gave up after {attempts} attempts: HTTP 503"):
        make_provider(server, spec, tmp_path, sleep=sleep).news(["AAPL"], *WINDOW)
    assert len(server.requests) == attempts and len(sleep.waits) == attempts - 1
    assert all(w <= spec.retries.max_backoff_seconds + spec.retries.jitter_seconds for w in sleep.waits)


def test_a_timeout_is_retried(server: BenzingaServer, spec: ProviderSpec, tmp_path: Path) -> None:
    server.fail(NEWS, 200, body=[], delay_seconds=1.5)  # the read timeout is 0.5 s
    result = make_provider(server, short_read_timeout(spec), tmp_path).news(["AAPL"], *WINDOW)
    assert set(result.frame["id"]) == expected_news(["AAPL"], *WINDOW)[0]
    assert len(server.requests) == 2 and [r.query["page"] for r in server.requests] == [["0"], ["0"]]


def test_a_corrupt_page_mid_pagination_is_retried_then_complete(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    symbols = [f"S{i:03d}" for i in range(30)]
    server.truncate_page(1)
    sleep = SleepRecorder()
    result = make_provider(server, with_page_size(spec, 10), tmp_path, sleep=sleep).news(symbols, *WINDOW)
    ids, _ = expected_news(symbols, *WINDOW)
    assert len(ids) > 20 and set(result.frame["id"]) == ids and len(result.frame) == len(ids)
    pages = [int(r.query["page"][0]) for r in server.requests]
    assert pages[:3] == [0, 1, 1] and pages[2:] == list(range(1, len(pages) - 1))
    assert len(sleep.waits) == 1


def test_a_persistently_corrupt_page_is_an_error_never_a_short_result(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    symbols = [f"S{i:03d}" for i in range(30)]
    server.truncate_page(1, times=100)
    attempts = spec.retries.max_attempts
    with pytest.raises(
        ProviderUnavailableError, match=f"gave up after {attempts} attempts: undecodable JSON"
    ):
        make_provider(server, with_page_size(spec, 10), tmp_path).news(symbols, *WINDOW)
    assert [int(r.query["page"][0]) for r in server.requests] == [0] + [1] * attempts


def test_an_invalid_key_fails_at_once_and_the_key_is_nowhere(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "bz_WRONG_KEY_93ab"
    provider = make_provider(server, spec, tmp_path, key=wrong)
    with pytest.raises(AuthenticationError, match="BENZINGA_API_KEY") as info:
        provider.news(["AAPL"], *WINDOW)
    assert len(server.requests) == 1  # a refused key is not retried
    assert wrong not in str(info.value) and wrong not in repr(provider) and wrong not in caplog.text
    assert server.requests[0].headers["Authorization"] == f"token {wrong}"  # what Benzinga refused


def test_the_key_travels_only_in_the_authorization_header(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.fail(NEWS, 503)  # a retry's log lines too
    provider = make_provider(server, with_page_size(spec, 5), tmp_path)
    result = provider.news(["AAPL", "MSFT", "NVDA"], *WINDOW)
    assert len(result.frame) > 5 and len(server.requests) >= 3
    for request in server.requests:
        assert request.headers["Authorization"] == f"token {API_KEY}"
        assert "token" not in {k.lower() for k in request.query}
        assert API_KEY not in request.path and API_KEY not in json.dumps(request.query)
    assert API_KEY not in caplog.text and API_KEY not in repr(provider)
    assert API_KEY not in repr(vars(provider)) and API_KEY not in repr(vars(provider._transport))


# --------------------------------------------------------------- data quality


def test_malformed_items_are_quarantined_with_reasons(
    server: BenzingaServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    items: list[Any] = [
        article(1),
        {k: v for k, v in article(2).items() if k != "id"},
        article(3, created="yesterday-ish"),
        article(4, created=None),
        article(5, title=None),
        article(6, title="   "),
        article(None, created="not a date", title=""),
        "not an object",
        article(9, created="Wed, 26 Jun 2024 09:00:00 +0200"),  # 07:00 UTC: valid, any offset
    ]
    server.respond(NEWS, items)
    result = make_provider(server, spec, tmp_path).news(["AAPL"], *WINDOW)
    assert sorted(result.frame["id"]) == ["benzinga:1", "benzinga:9"]
    assert result.frame.set_index("id").loc["benzinga:9", "published_utc"] == pd.Timestamp(
        "2024-06-26 07:00", tz="UTC"
    )
    assert result.rejects["reason"].tolist() == [
        "missing id",
        "missing or unparseable created",
        "missing or unparseable created",
        "missing title",
        "missing title",
        "missing id; missing or unparseable created; missing title",
        "not a JSON object",
    ]
    records = [json.loads(r) for r in result.rejects["record"]]
    assert (
        records[1]["created"] == "yesterday-ish" and records[0]["title"] == "Headline 2"
    )  # raw records kept
    assert records[-1] == {"item": "not an object"}
    assert len(result.frame) + len(result.rejects) == len(items)  # nothing silently dropped
    assert result.links is not None and set(result.links["news_id"]) == {"benzinga:1", "benzinga:9"}


def test_generated_articles_look_like_benzingas(server: BenzingaServer) -> None:
    items = server.articles(["AAPL", "MSFT"], "2024-01-02", "2024-01-12")
    assert items and all(isinstance(a["id"], int) for a in items)
    offsets = {a["created"][-5:] for a in items}
    assert offsets == {"-0500"}  # January: EST
    summer = server.articles(["AAPL"], "2024-06-24", "2024-06-28")
    assert {a["created"][-5:] for a in summer} == {"-0400"}
    assert any(a["teaser"] == "" for a in items) and any("&amp;" in a["teaser"] for a in items)
    assert all(html_to_text(a["body"]) for a in items)
    assert set(docs_example()[0]) == set(items[0])  # the same keys as the docs example
