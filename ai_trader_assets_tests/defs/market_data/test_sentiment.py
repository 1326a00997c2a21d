"""Social sentiment end to end: the demo's Reddit-like posts and the stored news of layer-2 and layer-3
symbols scored, stored once in hot and cold (both engines, both lakes), read back by ``MarketData``,
``ai-trader sentiment`` and the ``social_sentiment`` view; Reddit off without its variables; the
retention windows 14/180 and 30/365."""

import datetime as dt
import json
import re
import shutil
import statistics
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from ai_trader_assets import calendar
from ai_trader_assets.cli import app
from ai_trader_assets.config import DEFAULT_CONFIG_DIR, load_config
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
from ai_trader_assets_tests.support.reddit_server import RedditServer
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
    scorer = Scorer(load_config().sentiment.lexicon)
    scores = [s for r in scored.itertuples() if (s := scorer.score(_text(r))) is not None]
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
    texts = [f"{t}\n{d}" for t, d in zip(articles["title"], articles["description"], strict=True)]
    scores = [s for text in texts if (s := scorer.score(text)) is not None]
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
        run = platform.materialize(SENTIMENT, f"{SESSION}|{layer}")
        assert run.success
        assert metadata(run, SENTIMENT)["reddit"] == "demo: on"
    checks = {e.check_name: e for e in run.get_asset_check_evaluations()}
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
    # Numbers for the asset's Plots tab: the share of layer 2's 180-day window stored, the write rate.
    sessions = len(calendar.sessions(AS_OF - dt.timedelta(days=179), AS_OF))
    assert said["window coverage layer 2"] == round(2 / (2 * sessions), 4)
    assert said["rows/s"] > 0 and said["seconds"] > 0
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


CLIENT_ID, CLIENT_SECRET = "test-client-id", "test-client-secret-value"


def reddit_posts() -> list[dict[str, object]]:
    """Posts of the session's window with the hard cases, and one from before it."""
    start, _ = window(SESSION)
    at = start + dt.timedelta(hours=2)
    return [
        {
            "id": "p1",
            "subreddit": "stocks",
            "created_utc": at,
            "title": "$AAPL to the moon",
            "selftext": "IT stocks are ALL IN",  # IT and ALL are tickers, stop-listed
            "author": "alice",
            "score": 50,
            "comments": [
                {
                    "id": "c1",
                    "created_utc": at + dt.timedelta(minutes=5),
                    "body": "$TSLA is a bagholder trap",
                    "author": "bob",
                    "score": 5,
                },
                {
                    "id": "c2",
                    "created_utc": at + dt.timedelta(minutes=6),
                    "body": "[removed]",
                    "author": None,
                    "score": 1,
                },
            ],
        },
        {
            "id": "p2",
            "subreddit": "wallstreetbets",
            "created_utc": at + dt.timedelta(hours=1),
            "title": "Why I like aapl and NVDA",  # lower-case aapl is not a ticker
            "selftext": "see https://example.com/quote/TSLA and `MSFT`",  # a link and inline code
            "author": "bob",
            "score": 10,
        },
        {
            "id": "p3",
            "subreddit": "stocks",
            "created_utc": at + dt.timedelta(hours=3),
            "title": "$brk-b and BRK.B",  # one symbol, once
            "selftext": "[deleted]",  # kept, never scored
            "author": None,
            "score": 3,
        },
        {
            "id": "p0",
            "subreddit": "stocks",
            "created_utc": start - dt.timedelta(hours=1),  # the session before's
            "title": "$AAPL yesterday",
            "selftext": "",
            "author": "carol",
            "score": 1,
        },
    ]


def test_reddit_items_are_stored_once_counted_by_hand_and_failures_name_the_variable(
    local_platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    platform = local_platform
    # Reddit's limits made quick for the stand-in (its 2 requests a second would make the test wait).
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    providers = yaml.safe_load((config / "providers.yaml").read_text())
    providers["providers"]["reddit"]["rate_limit"].update(
        requests_per_second=100, requests_per_minute=6000, burst=100
    )
    providers["providers"]["reddit"]["retries"].update(initial_backoff_seconds=0.01, jitter_seconds=0)
    (config / "providers.yaml").write_text(yaml.safe_dump(providers))
    monkeypatch.setenv("AI_TRADER_CONFIG_DIR", str(config))
    monkeypatch.setenv("AI_TRADER_HOME", str(tmp_path / "home"))
    CompaniesRepository(platform.database).upsert(
        [{"symbol": s, "layer": 2} for s in ("TSLA", "BRK.B")]
        + [{"symbol": s, "layer": 0} for s in ("IT", "ALL")],
        source="test",
    )
    with RedditServer(CLIENT_ID, CLIENT_SECRET, reddit_posts()) as server:
        for name, value in {
            "REDDIT_CLIENT_ID": CLIENT_ID,
            "REDDIT_CLIENT_SECRET": CLIENT_SECRET,
            "REDDIT_USER_AGENT": "ai-trader-assets tests",
            "REDDIT_AUTH_URL": server.url,
            "REDDIT_OAUTH_URL": server.url,
        }.items():
            monkeypatch.setenv(name, value)
        assert platform.materialize(NEWS, f"{SESSION}|2").success
        first = platform.materialize(SENTIMENT, f"{SESSION}|2")
        assert first.success
        said = metadata(first, SENTIMENT)
        assert said["reddit"] == "reddit: on" and said["social items stored"] == 5  # p0 is outside
        # An expired token mid-run is refreshed once; a 429 storm is waited out.
        server.expire_token_after(1)
        server.storm_429(2, retry_after="0")
        tokens = len(server.token_requests())
        second = platform.materialize(SENTIMENT, f"{SESSION}|3")
        assert second.success and len(server.token_requests()) == tokens + 2  # the run's, and one refresh
        assert platform.count("social_posts") == 5  # each item stored once, whatever the runs

        rows = platform.hot(SENTIMENT)
        reddit = rows[rows["source"] == "reddit"].set_index("symbol")
        # Hand-counted: p1 names AAPL; c1 TSLA; p2 NVDA (not aapl, not the link's TSLA, not `MSFT`); p3 BRK.B.
        assert sorted(reddit.index) == ["AAPL", "BRK.B", "NVDA", "TSLA"]
        scorer = Scorer(load_config().sentiment.lexicon)
        for symbol, kind, text in (
            ("AAPL", "post", "$AAPL to the moon\nIT stocks are ALL IN"),
            ("TSLA", "comment", "$TSLA is a bagholder trap"),
            ("NVDA", "post", "Why I like aapl and NVDA\nsee https://example.com/quote/TSLA and `MSFT`"),
        ):
            row, compound = reddit.loc[symbol], scorer.score(text)
            assert compound is not None
            assert (row.mentions, row.posts, row.comments, row.unique_authors, row.scored) == (
                1, int(kind == "post"), int(kind == "comment"), 1, 1
            )  # fmt: skip
            assert row.mean_compound == pytest.approx(compound) and row.median_compound == pytest.approx(
                compound
            )
            assert row.bullish_share == float(compound >= 0.05) and row.bearish_share == float(
                compound <= -0.05
            )
        assert reddit.loc["TSLA"].bearish_share == 1.0 and reddit.loc["AAPL"].bullish_share == 1.0
        deleted = reddit.loc["BRK.B"]  # a deleted body and author: counted, never scored
        assert (deleted.mentions, deleted.unique_authors, deleted.scored) == (1, 0, 0)
        assert pd.isna(deleted.mean_compound) and deleted.top_ids == "t3_p3"

        # Bad credentials fail the run naming the variable; no secret or token anywhere.
        server.refuse_credentials = True
        failed = platform.materialize(SENTIMENT, f"{SESSION}|2", tags={"ai_trader/refresh": "full"})
        assert not failed.success
        (failure,) = failed.get_step_failure_events()
        message = str(failure.event_specific_data.error)  # type: ignore[union-attr]
        assert "REDDIT_CLIENT_ID" in message
        said_everything = f"{message} {metadata(first, SENTIMENT)} {metadata(second, SENTIMENT)}"
        for secret in (CLIENT_SECRET, *server.issued_tokens):
            assert secret not in said_everything
        sent = [f"{r.path} {r.query}" for r in server.requests]
        assert not [line for line in sent if CLIENT_SECRET in line]  # never in a URL
