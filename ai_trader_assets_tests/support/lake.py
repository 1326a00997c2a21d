"""Lake helpers for tests: deterministic dataset frames (demo provider) and S3 lakes on the local server."""

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.registry import check_rows
from ai_trader_assets.ingest.sentiment import MentionFinder, Scorer
from ai_trader_assets.ingest.sentiment.aggregate import aggregate
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.demo_social import DemoSocialSource
from ai_trader_assets.settings import Secret
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets_tests.support.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY


def demo_frame(dataset: Dataset, symbols: Sequence[str], first: dt.date, last: dt.date) -> pd.DataFrame:
    """The demo provider's rows of a dataset for symbols over sessions first..last (news with symbols)."""
    provider = DemoProvider()
    if dataset == Dataset.NEWS:
        _, start = calendar.session_open_close(calendar.previous_session(first))
        _, end = calendar.session_open_close(last)
        result = provider.news(symbols, start, end)
        assert result.links is not None
        named = result.links.groupby("news_id")["symbol"].apply(lambda s: sorted(set(s))).to_dict()
        return result.frame.assign(symbols=[named.get(i, []) for i in result.frame["id"]])
    if dataset == Dataset.CORPORATE_ACTIONS:
        return provider.corporate_actions(symbols, first, last).frame
    if dataset == Dataset.SOCIAL_SENTIMENT:
        return demo_sentiment(symbols, first, last)
    if dataset == Dataset.TICKS:  # the last session's (a session of trades is plenty), one per key
        return check_rows(dataset, provider.trades(symbols, calendar.session_on_or_before(last)).frame)[0]
    return provider.bars(symbols, dataset, first, last).frame


def s3_lake(endpoint: str, bucket: str, prefix: str = "lake") -> Lake:
    return Lake(
        f"s3://{bucket}/{prefix}",
        s3_endpoint_url=endpoint,
        s3_region=REGION,
        s3_access_key_id=Secret(ACCESS_KEY_ID),
        s3_secret_access_key=Secret(SECRET_ACCESS_KEY),
    )


def demo_sentiment(symbols: Sequence[str], first: dt.date, last: dt.date) -> pd.DataFrame:
    """The Reddit sentiment rows of the demo's posts naming ``symbols`` in sessions first..last."""
    _, start = calendar.session_open_close(calendar.previous_session(first))
    _, end = calendar.session_open_close(last)
    config = load_config().sentiment
    items = DemoSocialSource().items(start, end).frame
    finder, scorer = MentionFinder(symbols, config.stop_words), Scorer(config.lexicon)
    texts = (items["title"].fillna("") + "\n" + items["body"].fillna("")).tolist()
    named = [(i, s) for i, text in enumerate(texts) for s in finder.symbols(text)]
    rows = items.iloc[[i for i, _ in named]].reset_index(drop=True)
    return aggregate(
        rows.assign(
            symbol=[s for _, s in named],
            author_hash=rows["author"],
            compound=scorer.scores(rows["title"].fillna("") + "\n" + rows["body"].fillna("")),
            rank=rows["score"],
        ),
        "reddit",
    )
