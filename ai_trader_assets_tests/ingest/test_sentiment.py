"""Reading text for sentiment: the mentions' hard cases, VADER itself scoring (not a stand-in), the
finance overlay, and the per-symbol, per-session aggregate against numbers computed here."""

import datetime as dt
import statistics

import numpy as np
import pandas as pd
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.ingest.sentiment import MentionFinder, Scorer
from ai_trader_assets.ingest.sentiment.aggregate import aggregate

UNIVERSE = ["A", "AAPL", "ALL", "IT", "BRK.B", "TSLA", "NVDA", "GME", "F", "ON", "AMD"]


@pytest.fixture(scope="module")
def finder() -> MentionFinder:
    return MentionFinder(UNIVERSE, load_config().sentiment.stop_words)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A is up, a good day for a trade", ["A"]),  # a cashtag names A; the word "a" never does
        ("A rally today", []),  # one letter: only as a cashtag
        ("IT is down and ALL IN on TSLA", ["TSLA"]),  # stop-listed words, though tickers
        ("$IT and $ALL", ["IT", "ALL"]),  # ... count as cashtags
        ("see https://finance.example.com/quote/NVDA and www.example.com/GME", []),  # links
        ("```\nGME = 1\n```\n    AMD = 2\nand `TSLA`", []),  # code blocks, indented code, inline code
        ("i like aapl and tsla", []),  # bare lower-case words are not tickers
        ("$aapl to the moon", ["AAPL"]),  # a cashtag in any case is
        ("$BRK.B, $brk-b and BRK-B", ["BRK.B"]),  # one symbol, once per item
        ("TSLA TSLA $TSLA", ["TSLA"]),
        ("$100 calls on AMD.", ["AMD"]),  # money is not a cashtag; a sentence's full stop ends a word
        ("AMD-ish and GMEX", []),  # inside a longer word
        ("[removed]", []),
        ("F and ON", []),  # F: one letter; ON: stop-listed
    ],
)
def test_mentions_hard_cases(finder: MentionFinder, text: str, expected: list[str]) -> None:
    assert finder.symbols(text) == expected


def test_vader_itself_scores_and_the_overlay_reads_finance_talk() -> None:
    plain = Scorer()
    # VADER's own example: the library, not a stand-in, is scoring.
    assert plain.score("VADER is smart, handsome, and funny.") == pytest.approx(0.8316, abs=1e-4)
    finance = Scorer(load_config().sentiment.lexicon)
    assert plain.score("short squeeze incoming, loading calls") == 0.0
    assert (finance.score("short squeeze incoming, loading calls") or 0) > 0.5
    assert (finance.score("bagholder, buying puts") or 0) < -0.5
    # Deleted and removed bodies are kept but never scored.
    assert (
        finance.score("[removed]") is None
        and finance.score("[deleted]") is None
        and finance.score("") is None
    )
    scores = finance.scores(["great", None, "[deleted]"])
    assert scores[0] > 0 and np.isnan(scores[1:]).all()


def test_the_aggregate_matches_numbers_computed_independently() -> None:
    session = dt.date(2026, 11, 20)
    _, previous_close = calendar.session_open_close(dt.date(2026, 11, 19))
    _, close = calendar.session_open_close(session)
    at = [previous_close + dt.timedelta(minutes=1), close - dt.timedelta(minutes=1), close]
    later = close + dt.timedelta(seconds=1)  # after the close: the next session's
    items = pd.DataFrame(
        [
            # id, symbol, kind, created_utc, author_hash, compound, rank
            ("t3_a", "AAPL", "post", at[0], "h1", 0.60, 10),
            ("t1_b", "AAPL", "comment", at[1], "h2", -0.40, 50),
            ("t1_c", "AAPL", "comment", at[2], "h1", 0.00, 5),
            ("t1_d", "AAPL", "comment", at[2], None, np.nan, 99),  # removed: counted, not scored
            ("t3_a", "TSLA", "post", at[0], "h1", 0.60, 10),  # one item naming two symbols
            ("t3_e", "AAPL", "post", later, "h3", 0.90, 1),
        ],
        columns=["id", "symbol", "kind", "created_utc", "author_hash", "compound", "rank"],
    )
    items["created_utc"] = pd.to_datetime(items["created_utc"], utc=True)
    rows = aggregate(items, "reddit").set_index(["symbol", "ts"])
    midnight = pd.Timestamp(calendar.session_midnight_utc(session))
    aapl = rows.loc[("AAPL", midnight)]
    scored = [0.60, -0.40, 0.00]
    assert (aapl.mentions, aapl.unique_authors, aapl.posts, aapl.comments, aapl.scored) == (4, 2, 1, 3, 3)
    assert aapl.mean_compound == pytest.approx(statistics.mean(scored))
    assert aapl.median_compound == pytest.approx(statistics.median(scored))
    assert aapl.bullish_share == pytest.approx(1 / 3) and aapl.bearish_share == pytest.approx(1 / 3)
    assert aapl.top_ids == "t1_d,t1_b,t3_a,t1_c"  # by Reddit score
    assert aapl.source == "reddit"
    tsla = rows.loc[("TSLA", midnight)]
    assert (tsla.mentions, tsla.posts, tsla.comments, tsla.bullish_share) == (1, 1, 0, 1.0)
    following = pd.Timestamp(calendar.session_midnight_utc(dt.date(2026, 11, 23)))
    assert rows.loc[("AAPL", following)].mentions == 1
    assert len(rows) == 3
