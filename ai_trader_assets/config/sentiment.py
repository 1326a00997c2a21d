"""``sentiment.yaml``: what the Reddit source reads, which upper-case words are never tickers, and the
finance words the scorer reads beyond VADER's own lexicon."""

from typing import Annotated

from pydantic import Field, field_validator

from ai_trader_assets.config.base import Frozen, PositiveInt

# Reddit serves about the newest 1,000 items of a listing, however it is paged.
REDDIT_LISTING_CAP = 1000


class RedditComments(Frozen):
    per_post: Annotated[int, Field(strict=True, ge=0)]  # 0: posts only
    depth: PositiveInt  # 1: top-level comments only


class RedditSpec(Frozen):
    subreddits: tuple[str, ...] = Field(min_length=1)
    page_size: Annotated[int, Field(strict=True, gt=0, le=100)]  # Reddit serves at most 100 a page
    comments: RedditComments

    @field_validator("subreddits")
    @classmethod
    def _plain_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        wrong = [name for name in value if not name.replace("_", "").isalnum()]
        if wrong:
            raise ValueError(f"{wrong} are not subreddit names (letters, digits and _; no r/ prefix)")
        return value


class SentimentFile(Frozen):
    reddit: RedditSpec
    # Upper-case words that are never a bare-word mention (a cashtag still counts): A, IT, ALL, ...
    stop_words: frozenset[str]
    # Word or phrase -> valence on VADER's scale (-4 .. +4); phrases are matched as one token.
    lexicon: dict[str, Annotated[float, Field(ge=-4, le=4)]]

    @field_validator("stop_words")
    @classmethod
    def _upper_case(cls, value: frozenset[str]) -> frozenset[str]:
        wrong = sorted(word for word in value if word != word.upper())
        if wrong:
            raise ValueError(f"{wrong}: stop words are upper case (only upper-case words are tickers)")
        return value
