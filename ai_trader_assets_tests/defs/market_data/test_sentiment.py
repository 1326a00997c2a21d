"""Social sentiment end to end: the demo's Reddit-like posts and the stored news of layer-2 and layer-3
symbols scored, stored once in hot and cold (both engines, both lakes), read back by ``MarketData``,
``ai-trader sentiment`` and the ``social_sentiment`` view; Reddit off without its variables; the
retention windows 14/180 and 30/365."""

import datetime as dt
import json
import re
import statistics
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ai_trader_assets import calendar
from ai_trader_assets.cli import app
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.ingest.sentiment import Scorer
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.demo_social import DemoSocialSource
from ai_trader_assets.read import MarketData
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.retention import RetentionEngine
from ai_trader_assets.storage.social import SocialStore
from ai_trader_assets_tests.support.platform import Platform, lake_platform, metadata
from ai_trader_assets_tests.support.s3 import moto_server

AS_OF = dt.date(2026, 11, 20)
SESSION = AS_OF
SENTIMENT, NEWS = Dataset.SOCIAL_SENTIMENT, Dataset.NEWS
runner = CliRunner()


def configure(monkeypatch: pytest.MonkeyPatch, database: MarketDatabase, lake_url: str) -> None:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", database.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_LAKE_URL", lake_url)
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF.isoformat())
    monkeypatch.setenv("AI_TRADER_PROVIDER", "demo")
    for name in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_USER_AGENT"):
        monkeypatch.delenv(name, raising=False)
    CompaniesRepository(database).upsert(
        [{"symbol": "AAPL", "layer": 3}, {"symbol": "MSFT", "layer": 2}, {"symbol": "NVDA", "layer": 2}],
        source="test",
    )


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["local lake", "s3 lake"])
def platform(
    request: pytest.FixtureRequest, market_db: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Platform:
    return lake_platform(
        request,
        database=market_db,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
        configure=lambda url: configure(monkeypatch, market_db, url),
        as_of=AS_OF,
    )


def window(session: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A session's items: created after the previous close, up to this close."""
    return (
        calendar.session_open_close(calendar.previous_session(session))[1],
        calendar.session_open_close(session)[1],
    )


def expected_reddit(symbol: str, session: dt.date) -> dict[str, object]:
    """The demo's posts about ``symbol`` in the session, counted here with a plain regex."""
    start, end = window(session)
    items = DemoSocialSource().items(start, end + dt.timedelta(seconds=1)).frame
    items = items[(items["created_utc"] > start) & (items["created_utc"] <= end)]
    text = items["title"].fillna("") + " " + items["body"].fillna("")
    named = items[text.str.contains(rf"(?<![\w$])\$?{symbol}\b", regex=True, flags=re.IGNORECASE)]
    if named.empty:
        return {"mentions": 0}
    scored = named[~named["body"].isin(["[removed]", "[deleted]"])]
    scores = [Scorer(load_config().sentiment.lexicon).score(_text(r)) for r in scored.itertuples()]
    return {
        "mentions": len(named),
        "posts": int((named["kind"] == "post").sum()),
        "comments": int((named["kind"] == "comment").sum()),
        "unique_authors": named["author"].dropna().nunique(),
        "scored": len(scores),
        "mean_compound": statistics.mean(scores),
        "median_compound": statistics.median(scores),
    }


def _text(row: object) -> str:
    parts = [getattr(row, "title"), getattr(row, "body")]  # noqa: B009 - itertuples' fields
    return "\n".join(str(p) for p in parts if not pd.isna(p) and str(p).strip())


def expected_news(symbol: str, session: dt.date) -> dict[str, object]:
    start, end = window(session)
    clock = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    articles = DemoProvider(clock=lambda: clock).news([symbol], start, end + dt.timedelta(seconds=1)).frame
    articles = articles[articles["published_utc"] > start]
    if articles.empty:
        return {"mentions": 0}
    scorer = Scorer(load_config().sentiment.lexicon)
    scores = [
        scorer.score(f"{t}\n{d}") for t, d in zip(articles["title"], articles["description"], strict=True)
    ]
    return {
        "mentions": len(articles),
        "posts": len(articles),
        "comments": 0,
        "mean_compound": statistics.mean(scores),
    }


def test_demo_posts_and_stored_news_become_sentiment_stored_once_and_read_every_way(
    platform: Platform,
) -> None:
    for layer in (2, 3):
        assert platform.materialize(NEWS, f"{SESSION}|{layer}").success
        result = platform.materialize(SENTIMENT, f"{SESSION}|{layer}")
        assert result.success
        assert metadata(result, SENTIMENT)["reddit"] == "demo: on"
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["integrity"].passed, checks["integrity"].metadata

    hot = platform.hot(SENTIMENT).set_index(["symbol", "source"])
    cold = platform.cold(SENTIMENT, SESSION, 3)
    assert cold is not None and set(cold["symbol"]) == {"AAPL"}  # layer 3's partition holds layer 3's symbol
    expected = {
        (symbol, source): want(symbol, SESSION)
        for symbol in ("AAPL", "MSFT", "NVDA")
        for source, want in (("reddit", expected_reddit), ("news", expected_news))
    }
    # A row per symbol and source with items (the demo has no article about AAPL that session).
    assert sorted(k for k, v in expected.items() if v["mentions"]) == sorted(hot.index)
    assert len(hot) == platform.count("social_sentiment") == 5
    for (symbol, source), row in hot.iterrows():
        want = expected[(symbol, source)]
        for column in ("mentions", "posts", "comments", "unique_authors", "scored"):
            if column in want:
                assert row[column] == want[column], (symbol, source, column)
        assert row["mean_compound"] == pytest.approx(want["mean_compound"])
        if "median_compound" in want:
            assert row["median_compound"] == pytest.approx(want["median_compound"])
        assert len(row["top_ids"].split(",")) == min(5, row["mentions"])
    posts = platform.count("social_posts")
    assert posts > 0 and platform.count("social_mentions") > 0

    again = platform.materialize(SENTIMENT, f"{SESSION}|3", tags={"ai_trader/refresh": "full"})
    assert again.success and platform.count("social_posts") == posts  # each item stored once
    assert platform.count("social_sentiment") == 5

    with MarketData.from_env() as data:
        read = data.sentiment(["AAPL", "MSFT"], SESSION, SESSION)
        pairs = list(zip(read["symbol"], read["source"], strict=True))
        assert pairs == sorted(k for k in hot.index if k[0] in ("AAPL", "MSFT"))
        assert data.sentiment("MSFT", SESSION, SESSION, source="news")["source"].tolist() == ["news"]
    result = runner.invoke(
        app, ["sentiment", "AAPL", "--source", "reddit", "--start", str(SESSION), "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["source"] == "reddit" and row["mentions"] == hot.loc[("AAPL", "reddit")]["mentions"]
    query = "select source, count(*) as n from social_sentiment group by source order by source"
    result = runner.invoke(app, ["sql", query, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [{"source": "news", "n": 2}, {"source": "reddit", "n": 3}]


@pytest.fixture
def local_platform(market_db: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    configure(monkeypatch, market_db, str(tmp_path / "lake"))
    return Platform(market_db, Lake(str(tmp_path / "lake")), AS_OF)


def test_without_reddit_news_sentiment_is_stored_and_the_run_says_reddit_is_off(
    local_platform: Platform,
) -> None:
    platform = local_platform
    key = f"{SESSION}|2"
    assert platform.materialize(NEWS, key).success
    # A real market-data provider (never asked: sentiment reads the stored news) and no Reddit variables.
    result = platform.materialize(SENTIMENT, key, provider="yahoo")
    assert result.success
    said = metadata(result, SENTIMENT)
    assert said["reddit"].startswith("off: REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and REDDIT_USER_AGENT")
    assert said["provider requests"] == 0
    stored = platform.hot(SENTIMENT)
    assert sorted(stored["symbol"]) == ["MSFT", "NVDA"] and set(stored["source"]) == {"news"}
    assert platform.count("social_posts") == 0

    # A symbol whose news are not stored yet is left for later, not stored as "no news".
    CompaniesRepository(platform.database).upsert([{"symbol": "AMD", "layer": 2}], source="test")
    later = platform.materialize(SENTIMENT, key, provider="yahoo")
    assert later.success and "news not stored yet for 1 symbol-session" in metadata(later, SENTIMENT)["notes"]
    covered = Ledger(platform.database).covered(SENTIMENT, [SESSION], ["AMD", "MSFT"])
    assert (SESSION, "MSFT") in covered and (SESSION, "AMD") not in covered


def test_retention_keeps_sentiment_14_180_days_in_layer_2_and_30_365_in_layer_3(
    local_platform: Platform,
) -> None:
    platform = local_platform
    for layer in (2, 3):
        assert platform.materialize(NEWS, f"{SESSION}|{layer}").success
        assert platform.materialize(SENTIMENT, f"{SESSION}|{layer}").success

    def retain(days: int) -> tuple[set[str], set[str]]:
        RetentionEngine(
            platform.database, platform.lake, load_config(), SESSION + dt.timedelta(days=days)
        ).run()
        cold = platform.tables.frame(SENTIMENT, sessions=[SESSION], layers=[2, 3])
        return set(platform.hot(SENTIMENT)["symbol"]), set(cold["symbol"])

    assert retain(13) == ({"AAPL", "MSFT", "NVDA"}, {"AAPL", "MSFT", "NVDA"})
    assert retain(14) == ({"AAPL"}, {"AAPL", "MSFT", "NVDA"})  # layer 2: 14 days hot
    assert retain(29) == ({"AAPL"}, {"AAPL", "MSFT", "NVDA"})
    assert retain(30) == (set(), {"AAPL", "MSFT", "NVDA"})  # layer 3: 30 days hot
    assert retain(179) == (set(), {"AAPL", "MSFT", "NVDA"})
    assert retain(180) == (set(), {"AAPL"})  # layer 2: 180 days cold
    posts = platform.count("social_posts")
    assert retain(364) == (set(), {"AAPL"}) and platform.count("social_posts") == posts
    assert retain(365) == (set(), set())  # layer 3: 365 days cold
    # Raw items go with the longest window: what is left are comments after the close (the next session's).
    close = window(SESSION)[1]
    assert SocialStore(platform.database).older_than(close + dt.timedelta(microseconds=1)) == 0
    assert 0 < platform.count("social_posts") < posts
