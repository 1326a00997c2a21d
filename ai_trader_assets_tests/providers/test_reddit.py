"""The Reddit social source (PRAW) against a local server speaking Reddit's OAuth API (shapes from
shared/fixtures/reddit), and the parse of the recorded listing bodies."""

import copy
import datetime as dt
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ai_trader_assets.config import ProviderSpec, load_config
from ai_trader_assets.config.sentiment import RedditSpec
from ai_trader_assets.datasets.sentiment import SOCIAL_ITEM_COLUMNS
from ai_trader_assets.providers.base import (
    AuthenticationError,
    PaginationError,
    ProviderError,
    ProviderUnavailableError,
)
from ai_trader_assets.providers.factory import build_reddit
from ai_trader_assets.providers.http import RequestGovernor
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.providers.reddit import RedditAuthenticationError, RedditSource, parse
from ai_trader_assets.providers.social import SocialFetch
from ai_trader_assets.settings import ProviderAccess, Secret, SettingsError, load_settings
from ai_trader_assets_tests.support.fake_api import SleepRecorder, fixture_json, provider_spec
from ai_trader_assets_tests.support.reddit_server import RedditServer, spaced_posts

CLIENT_ID = "cid_SENTINEL_5b2e9a"
CLIENT_SECRET = "csecret_SENTINEL_0d7f41"
USER_AGENT = "linux:ai-trader-assets-tests:0.1 (by /u/tester)"
UTC = dt.UTC
END = dt.datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
START = END - dt.timedelta(hours=3)
LISTING = "/r/{subreddit}/new"


@pytest.fixture
def server() -> Iterator[RedditServer]:
    with RedditServer(CLIENT_ID, CLIENT_SECRET) as running:
        yield running


@pytest.fixture
def spec() -> ProviderSpec:
    return provider_spec("reddit", unthrottled=True)  # pacing has tests of its own (test_ratelimit)


def reddit_spec(*subreddits: str, page_size: int = 100, per_post: int = 20, depth: int = 1) -> RedditSpec:
    return RedditSpec.model_validate(
        {"subreddits": subreddits, "page_size": page_size, "comments": {"per_post": per_post, "depth": depth}}
    )


class Clock:
    """A movable tz-aware clock for the token's expiry."""

    def __init__(self) -> None:
        self.now = END

    def __call__(self) -> dt.datetime:
        return self.now


def make_source(
    server: RedditServer,
    spec: ProviderSpec,
    tmp_path: Path,
    reddit: RedditSpec,
    *,
    sleep: SleepRecorder | None = None,
    secret: str = CLIENT_SECRET,
    clock: Callable[[], dt.datetime] | None = None,
) -> RedditSource:
    recorder = sleep or SleepRecorder()
    governor = RequestGovernor("reddit", spec, RequestLimiter("reddit", spec.rate_limit, tmp_path), recorder)
    return RedditSource(
        reddit,
        governor,
        client_id=Secret(CLIENT_ID),
        client_secret=Secret(secret),
        user_agent=Secret(USER_AGENT),
        auth_url=server.url,
        oauth_url=server.url,
        sleep=recorder,
        **({"clock": clock} if clock else {}),
    )


def stocks_and_wsb() -> list[dict[str, Any]]:
    """r/stocks: 30 posts 10 minutes apart with 3 comments each; r/wallstreetbets: 40 posts 6 minutes
    apart without comments. Both start at END: the window [START, END) leaves the newest out."""
    return spaced_posts("stocks", END, 30, comments=3) + spaced_posts(
        "wallstreetbets", END, 40, dt.timedelta(minutes=6)
    )


def in_window(posts: list[dict[str, Any]]) -> set[str]:
    return {f"t3_{p['id']}" for p in posts if START.timestamp() <= p["created_utc"] < END.timestamp()}


# ------------------------------------------------------------------ reading


def test_a_read_returns_each_item_once_with_kinds_and_parents(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    posts = stocks_and_wsb()
    server.add_posts(posts)
    fetched = make_source(server, spec, tmp_path, reddit_spec("stocks", "wallstreetbets", per_post=2)).items(
        START, END
    )
    frame = fetched.frame
    assert list(frame.columns) == list(SOCIAL_ITEM_COLUMNS) and fetched.rejects.empty
    assert dict(frame.dtypes.astype(str)) == {
        k: str(pd.Series(dtype=v).dtype) for k, v in SOCIAL_ITEM_COLUMNS.items()
    }
    assert frame["id"].is_unique and set(frame["source"]) == {"reddit"}
    found = frame[frame["kind"] == "post"]
    assert set(found["id"]) == in_window(posts)  # the post at END itself is outside [START, END)
    assert found["created_utc"].between(START, END, inclusive="left").all()
    assert found["title"].notna().all() and found["parent_id"].isna().all()
    # Comments: only r/stocks' posts have some; two each (per_post), the top-scored, pointing at the post.
    comments = frame[frame["kind"] == "comment"]
    stocks = found[found["subreddit"] == "stocks"]
    assert len(comments) == 2 * len(stocks) and set(comments["parent_id"]) == set(stocks["id"])
    assert comments["title"].isna().all() and comments["num_comments"].isna().all()
    assert all(i.startswith("t1_") and i.endswith(("c0", "c1")) for i in comments["id"])
    # created_utc, never `created` (the server's is 8 hours off, as in the 2016 fixtures).
    post = found[found["id"] == "t3_pstoc1"].iloc[0]
    assert post["created_utc"] == pd.Timestamp(END - dt.timedelta(minutes=10))
    assert post["permalink"] == "/r/stocks/comments/pstoc1/post_pstoc1/" and post["author"] == "user1"
    assert pd.isna(found[found["id"] == "t3_pstoc4"].iloc[0]["author"])  # "[deleted]" -> NA
    # One listing request per subreddit (both reach START on the first page), one per post with comments.
    templates = [c.endpoint for c in fetched.calls]
    assert templates.count(LISTING) == 2 and templates.count("/comments/{id}") == len(stocks)
    asked = server.requests_to("/comments/")[0].query
    assert (asked["limit"], asked["depth"], asked["sort"]) == (["2"], ["1"], ["top"])
    assert fetched.reached == {} and fetched.notes == ()


def test_comments_keep_removed_bodies_skip_more_stubs_and_read_replies_at_depth(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    [post] = spaced_posts("stocks", END - dt.timedelta(minutes=1), 1, comments=5)
    post["comments"][0]["replies"] = [
        {"id": "reply0", "created_utc": END.timestamp() - 5, "body": "a reply", "author": "r", "score": 3}
    ]
    server.add_posts([post])
    fetched = make_source(server, spec, tmp_path, reddit_spec("stocks", per_post=4, depth=2)).items(
        START, END
    )
    comments = fetched.frame[fetched.frame["kind"] == "comment"].set_index("id")
    # Four top-level comments asked for (a `more` stub holds the fifth) and the reply: at most per_post.
    assert len(comments) == 4 and "t1_reply0" in comments.index and "t1_pstoc0c4" not in comments.index
    assert (comments["parent_id"] == "t3_pstoc0").all()
    removed = comments.loc["t1_pstoc0c2"]
    assert removed["body"] == "[removed]" and pd.isna(removed["author"])


def test_a_post_without_comments_costs_no_comments_request(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.add_posts(spaced_posts("stocks", END - dt.timedelta(minutes=1), 3))
    fetched = make_source(server, spec, tmp_path, reddit_spec("stocks")).items(START, END)
    assert len(fetched.frame) == 3 and not server.requests_to("/comments/")


def test_paging_follows_after_and_stops_at_the_window_start(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    posts = spaced_posts("wallstreetbets", END - dt.timedelta(seconds=30), 250, dt.timedelta(minutes=2))
    server.add_posts(posts)
    fetched = make_source(server, spec, tmp_path, reddit_spec("wallstreetbets", page_size=50)).items(
        START, END
    )
    assert set(fetched.frame["id"]) == in_window(posts) and len(fetched.frame) == 90
    # 50 posts span 100 minutes: the second page reaches back past START, so no third page is asked for.
    pages = server.requests_to("/r/wallstreetbets/new")
    assert [r.query.get("after") for r in pages] == [None, [f"t3_{posts[49]['id']}"]]
    assert all(r.query["limit"] == ["50"] for r in pages)
    assert fetched.reached == {}


def test_the_listing_cap_is_reported_in_reached_and_notes(spec: ProviderSpec, tmp_path: Path) -> None:
    posts = spaced_posts("wallstreetbets", END - dt.timedelta(seconds=30), 300, dt.timedelta(seconds=30))
    with RedditServer(CLIENT_ID, CLIENT_SECRET, posts, listing_cap=120) as server:
        fetched = make_source(server, spec, tmp_path, reddit_spec("wallstreetbets", page_size=100)).items(
            START, END
        )
    oldest = dt.datetime.fromtimestamp(posts[119]["created_utc"], UTC)
    assert len(fetched.frame) == 120 and fetched.reached == {"wallstreetbets": oldest}
    [note] = fetched.notes
    assert note.startswith(
        f"r/wallstreetbets: the listing ended at {oldest:%Y-%m-%d %H:%M} UTC after 120 items"
    )
    assert "older items of the window could not be read" in note


def test_a_page_repeating_itself_is_a_loop_not_more_data(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    page = server.generate("/r/stocks/new", {})[1]  # an empty listing...
    page["data"].update(children=[_child("aaa", END - dt.timedelta(minutes=1))], after="t3_aaa")
    server.respond("/r/stocks/new", page, copy.deepcopy(page))
    with pytest.raises(PaginationError, match="repeats"):
        make_source(server, spec, tmp_path, reddit_spec("stocks", per_post=0)).items(START, END)


def test_an_item_on_two_pages_is_returned_once(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    first = server.generate("/r/stocks/new", {})[1]
    first["data"].update(children=[_child("aaa", END - dt.timedelta(minutes=1))], after="t3_aaa")
    second = copy.deepcopy(first)  # a post arrived meanwhile: the listing shifted by one
    second["data"].update(children=[_child("aaa", END - dt.timedelta(minutes=1)), _child("bbb", START)])
    second["data"]["after"] = None
    server.respond("/r/stocks/new", first, second)
    fetched = make_source(server, spec, tmp_path, reddit_spec("stocks", per_post=0)).items(START, END)
    assert list(fetched.frame["id"]) == ["t3_aaa", "t3_bbb"]


def test_a_refused_subreddit_is_skipped_with_a_note_and_all_refused_is_an_error(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.add_posts(spaced_posts("stocks", END - dt.timedelta(minutes=1), 2))
    server.private_subreddits.add("options")
    fetched = make_source(server, spec, tmp_path, reddit_spec("options", "stocks")).items(START, END)
    assert len(fetched.frame) == 2
    assert fetched.notes[0] == "r/options: Reddit refused the listing (HTTP 403, private); skipped"
    with pytest.raises(ProviderError, match="refused every configured subreddit"):
        make_source(server, spec, tmp_path, reddit_spec("options")).items(START, END)


# --------------------------------------------------------------- the token


def test_a_token_expiring_mid_run_is_refreshed_once_and_the_run_completes(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    posts = stocks_and_wsb()
    server.add_posts(posts)
    server.expire_token_after(3)  # the 4th API call gets 401
    fetched = make_source(server, spec, tmp_path, reddit_spec("stocks", "wallstreetbets")).items(START, END)
    assert len(server.token_requests()) == 2  # exactly one refresh
    assert set(fetched.frame.loc[fetched.frame["kind"] == "post", "id"]) == in_window(posts)
    statuses = [c.status for c in fetched.calls]
    assert statuses.count(401) == 1 and statuses.count(200) == len(fetched.calls) - 1
    # The refused request was sent again with the new token.
    refused, retried = server.api_requests()[3:5]
    assert (
        refused.path == retried.path and refused.headers["Authorization"] != retried.headers["Authorization"]
    )


def test_a_token_is_refreshed_before_it_expires(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.add_posts(spaced_posts("stocks", END - dt.timedelta(minutes=1), 2))
    clock = Clock()
    source = make_source(server, spec, tmp_path, reddit_spec("stocks"), clock=clock)
    source.items(START, END)
    clock.now += dt.timedelta(minutes=54)  # 6 minutes left of the hour: still used
    source.items(START, END)
    assert len(server.token_requests()) == 1
    clock.now += dt.timedelta(minutes=2)  # 4 minutes left: within the margin, replaced beforehand
    fetched = source.items(START, END)
    assert len(server.token_requests()) == 2 and {c.status for c in fetched.calls} == {200}


def test_tokens_refused_again_and_again_end_in_an_authentication_error(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.add_posts(spaced_posts("stocks", END - dt.timedelta(minutes=1), 2))
    server.refuse_tokens = True
    with pytest.raises(RedditAuthenticationError, match="REDDIT_CLIENT_ID") as info:
        make_source(server, spec, tmp_path, reddit_spec("stocks")).items(START, END)
    assert "3 access tokens in a row" in str(info.value)
    assert len(server.token_requests()) == 3 and len(server.api_requests()) == 3


def test_bad_credentials_raise_an_authentication_error_naming_the_variables(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    sleep = SleepRecorder()
    with pytest.raises(AuthenticationError) as info:
        make_source(server, spec, tmp_path, reddit_spec("stocks"), secret="wrong-secret", sleep=sleep).items(
            START, END
        )
    message = str(info.value)
    assert "REDDIT_CLIENT_ID" in message and "REDDIT_CLIENT_SECRET" in message and "HTTP 401" in message
    assert "wrong-secret" not in message and CLIENT_ID not in message
    assert len(server.token_requests()) == 1 and not server.api_requests() and sleep.waits == []


# (where, the 200's body, what the error names)
ERRORS_IN_200 = [
    ("token", None, "/api/v1/access_token: HTTP 200 carrying error 'unauthorized_client'"),
    (
        "/r/stocks/new",
        {"message": "Forbidden", "error": 403},
        "/r/{subreddit}/new: HTTP 200 carrying error 403",
    ),
    ("/r/stocks/new", {"kind": "t3", "data": {}}, "/r/{subreddit}/new: expected a Listing"),
]


@pytest.mark.parametrize("case", ERRORS_IN_200, ids=["token", "listing-error", "not-a-listing"])
def test_an_error_inside_a_200_is_an_error_never_an_empty_result(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path, case: tuple[str, Any, str]
) -> None:
    where, body, named = case
    if where == "token":
        server.token_error_in_200 = True  # the fixture's {"error": "unauthorized_client", ...}
    else:
        server.respond(where, body)
    with pytest.raises(ProviderError) as info:
        make_source(server, spec, tmp_path, reddit_spec("stocks")).items(START, END)
    assert named in str(info.value)
    assert isinstance(info.value, AuthenticationError) == (where == "token")


# ------------------------------------------------------------ rate limits


def test_a_429_storm_backs_off_and_completes(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    posts = spaced_posts("stocks", END - dt.timedelta(minutes=1), 5)
    server.add_posts(posts)
    server.storm_429(1, "/api/v1/access_token", json_first=True)  # the JSON form, on the token endpoint
    server.storm_429(4, "/r/stocks/new")  # HTML with retry-after 0, JSON, HTML, JSON
    sleep = SleepRecorder()
    fetched = make_source(server, spec, tmp_path, reddit_spec("stocks"), sleep=sleep).items(START, END)
    assert set(fetched.frame["id"]) == in_window(posts)
    assert len(server.token_requests()) == 2 and len(server.requests_to("/r/stocks/new")) == 5
    # retry-after 0 is honoured; the JSON form has none, so the exponential backoff of the attempt applies
    # (the token's 1st, the listing's 2nd and 4th).
    retries = spec.retries
    assert len(sleep.waits) == 5 and sleep.waits[1] == 0 and sleep.waits[3] == 0
    for wait, attempt in [(sleep.waits[0], 1), (sleep.waits[2], 2), (sleep.waits[4], 4)]:
        low = retries.initial_backoff_seconds * 2 ** (attempt - 1)
        assert low <= wait <= low + retries.jitter_seconds
    assert [c.status for c in fetched.calls].count(429) == 5


def test_5xx_and_dropped_bodies_are_retried(server: RedditServer, spec: ProviderSpec, tmp_path: Path) -> None:
    server.add_posts(spaced_posts("stocks", END - dt.timedelta(minutes=1), 2, comments=2))
    server.fail("/comments/", 503, times=2)
    server.fail("/r/stocks/new", 200, body=b'{"kind": "Listing", "data": {"chil')  # cut off in transit
    fetched = make_source(server, spec, tmp_path, reddit_spec("stocks")).items(START, END)
    assert len(fetched.frame) == 6
    assert [c.status for c in fetched.calls if c.endpoint == "/comments/{id}"] == [503, 503, 200, 200]
    assert [c.status for c in fetched.calls if c.endpoint == LISTING] == [200, 200]


def test_a_429_storm_longer_than_the_retries_gives_up_naming_the_endpoint(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.storm_429(spec.retries.max_attempts, "/r/stocks/new")
    with pytest.raises(
        ProviderUnavailableError, match=r"reddit /r/\{subreddit\}/new: gave up after 5 attempts"
    ):
        make_source(server, spec, tmp_path, reddit_spec("stocks")).items(START, END)


def test_a_spent_rate_limit_window_waits_its_reset_once(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    server.add_posts(spaced_posts("stocks", END - dt.timedelta(minutes=1), 3, comments=1))
    server.exhaust_ratelimit(reset_seconds=7)  # on the listing's answer
    sleep = SleepRecorder()
    started = time.monotonic()
    fetched = make_source(server, spec, tmp_path, reddit_spec("stocks"), sleep=sleep).items(START, END)
    # The next request waited the reset through our sleep; prawcore's limiter (time.sleep) never did.
    assert len(fetched.frame) == 6 and time.monotonic() - started < 3
    [wait] = sleep.waits
    assert 6 < wait <= 7


# ------------------------------------------------------------------ secrets


def test_no_secret_or_token_appears_in_urls_calls_errors_or_logs(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.add_posts(stocks_and_wsb())
    server.expire_token_after(2)
    server.storm_429(2, "/comments/")
    source = make_source(server, spec, tmp_path, reddit_spec("stocks", "wallstreetbets"))
    fetched = source.items(START, END)
    server.refuse_tokens = True
    with pytest.raises(RedditAuthenticationError) as refused:
        source.items(START, END)
    with pytest.raises(AuthenticationError) as bad:
        make_source(server, spec, tmp_path, reddit_spec("stocks"), secret="wrong-secret").items(START, END)
    secrets = [CLIENT_ID, CLIENT_SECRET, "wrong-secret", *server.issued_tokens]
    assert len(server.issued_tokens) >= 2
    urls = [f"{r.path}?{r.query}" for r in server.requests]
    shown = [*urls, repr(fetched.calls), str(refused.value), str(bad.value), repr(source), caplog.text]
    shown.append(repr(source._session))
    leaks = [(secret, text[:80]) for secret in secrets for text in shown if secret in text]
    assert not leaks
    # The credentials travel only as HTTP Basic to the token endpoint; tokens only as bearer headers.
    for request in server.requests:
        auth = request.headers.get("Authorization", "")
        assert (
            auth.startswith("Basic ")
            if request.path == "/api/v1/access_token"
            else auth.startswith("bearer ")
        )
    assert all(form == {"grant_type": ["client_credentials"]} for form in server.token_forms)


# -------------------------------------------------------- recorded bodies


def _child(short_id: str, created: dt.datetime, **fields: Any) -> dict[str, Any]:
    data = {
        "id": short_id,
        "name": f"t3_{short_id}",
        "subreddit": "stocks",
        "created_utc": created.timestamp(),
    }
    return {
        "kind": "t3",
        "data": {**data, "title": "t", "selftext": "", "author": "a", "num_comments": 0, **fields},
    }


def test_the_recorded_listings_parse(tmp_path: Path) -> None:
    body = fixture_json("reddit", "listing_r_askreddit_new_limit100_2016.json")
    rows, rejects = parse.listing_rows(body, "askreddit")
    frame = parse.items_frame(rows)
    assert len(frame) == 100 and not rejects and set(frame["kind"]) == {"post"}
    first = frame.iloc[0]
    assert first["id"] == "t3_48fbm9" and first["subreddit"] == "AskReddit" and first["author"] == "RedHeadQc"
    # created_utc (1456821458), not created (1456850258: eight hours off).
    assert first["created_utc"] == pd.Timestamp(1456821458, unit="s", tz="UTC")
    assert first["title"].startswith("[Serious] Parents of Reddit") and first["num_comments"] == 1
    assert (
        first["permalink"] == "/r/AskReddit/comments/48fbm9/serious_parents_of_reddit_whats_the_biggest_lie/"
    )
    assert frame["body"].notna().all() and (frame["body"] == "").sum() == 99  # link posts: empty selftext
    assert parse.listing_after(body) == "t3_48f6io"
    for name, count in [
        ("listing_r_all_new_before_param_2016.json", 4),
        ("listing_user_sort_new_limit1_2021_with_ratelimit_headers.json", 1),
        ("listing_empty.json", 0),
    ]:
        rows, rejects = parse.listing_rows(fixture_json("reddit", name), "all")
        assert len(rows) == count and not rejects
    assert parse.listing_after(fixture_json("reddit", "listing_empty.json")) is None


def test_deleted_authors_are_na_and_malformed_children_are_rejected_with_reasons() -> None:
    body = fixture_json("reddit", "listing_r_askreddit_new_limit100_2016.json")
    children = body["data"]["children"]
    children[0]["data"]["author"] = "[deleted]"
    children[1]["data"]["selftext"] = "[removed]"
    del children[2]["data"]["id"], children[2]["data"]["name"]
    children[3]["data"]["created_utc"] = None
    children[4] = {"kind": "t1", "data": children[4]["data"]}
    rows, rejects = parse.listing_rows(body, "askreddit")
    frame = parse.items_frame(rows)
    assert len(frame) == 97 and pd.isna(frame.iloc[0]["author"]) and frame.iloc[1]["body"] == "[removed]"
    quarantined = parse.rejects_of(rejects)
    assert list(quarantined["reason"]) == [
        "no id",
        "no created_utc (a finite epoch in seconds)",
        "expected kind t3, got 't1'",
    ]
    assert all("author" not in record for record in quarantined["record"])  # no user name is stored


def test_malformed_children_reach_the_rejects_of_a_read(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    page = server.generate("/r/stocks/new", {})[1]
    page["data"]["children"] = [
        _child("good", END - dt.timedelta(minutes=1)),
        _child("bad", END, created_utc="x"),
    ]
    server.respond("/r/stocks/new", page)
    fetched: SocialFetch = make_source(server, spec, tmp_path, reddit_spec("stocks")).items(START, END)
    assert list(fetched.frame["id"]) == ["t3_good"]
    assert list(fetched.rejects["reason"]) == ["no created_utc (a finite epoch in seconds)"]


# ----------------------------------------------------- settings and factory


def test_reddit_keys_never_pick_or_block_the_primary_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in [
        ("REDDIT_CLIENT_ID", CLIENT_ID),
        ("REDDIT_CLIENT_SECRET", CLIENT_SECRET),
        ("REDDIT_USER_AGENT", USER_AGENT),
    ]:
        monkeypatch.setenv(variable, value)
    settings = load_settings()
    assert settings.provider == "demo" and settings.access.configured("reddit")
    assert CLIENT_SECRET not in repr(settings) and CLIENT_ID not in repr(settings)
    monkeypatch.setenv("POLYGON_API_KEY", "pk")
    assert load_settings().provider == "polygon"
    monkeypatch.setenv("AI_TRADER_PROVIDER", "reddit")
    with pytest.raises(SettingsError, match="AI_TRADER_PROVIDER"):
        load_settings()


@pytest.mark.parametrize(
    ("agent", "oauth_url", "named"),
    [
        ("bot", "https://oauth.reddit.com", "REDDIT_USER_AGENT"),
        (USER_AGENT, "https://x.test/api", "REDDIT_OAUTH_URL"),
    ],
)
def test_a_short_user_agent_or_a_url_with_a_path_is_refused_up_front(
    spec: ProviderSpec, tmp_path: Path, agent: str, oauth_url: str, named: str
) -> None:
    governor = RequestGovernor("reddit", spec, RequestLimiter("reddit", spec.rate_limit, tmp_path))
    with pytest.raises(ProviderError, match=named):
        RedditSource(
            reddit_spec("stocks"),
            governor,
            client_id=Secret(CLIENT_ID),
            client_secret=Secret(CLIENT_SECRET),
            user_agent=Secret(agent),
            oauth_url=oauth_url,
        )


def test_the_factory_builds_reddit_only_when_configured(
    server: RedditServer, spec: ProviderSpec, tmp_path: Path
) -> None:
    shipped = load_config()
    providers = shipped.providers.model_copy(
        update={"providers": {**shipped.providers.providers, "reddit": spec}}
    )
    config = shipped.model_copy(update={"providers": providers})
    keys = {"REDDIT_CLIENT_ID": Secret(CLIENT_ID), "REDDIT_CLIENT_SECRET": Secret(CLIENT_SECRET)}
    assert build_reddit(config, ProviderAccess(keys=keys), tmp_path) is None  # no user agent
    endpoints = {"REDDIT_AUTH_URL": server.url, "REDDIT_OAUTH_URL": server.url}
    access = ProviderAccess(endpoints=endpoints, keys={**keys, "REDDIT_USER_AGENT": Secret(USER_AGENT)})
    source = build_reddit(config, access, tmp_path)
    assert isinstance(source, RedditSource) and source.spec == shipped.sentiment.reddit
    assert source.items(START, END).frame.empty and len(server.token_requests()) == 1


def test_importing_the_providers_and_the_read_side_does_not_load_praw() -> None:
    shown = "import sys, ai_trader_assets.providers, ai_trader_assets.read; print('praw' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", shown], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
