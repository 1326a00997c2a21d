"""The ``social_sentiment`` rows of a run's symbols and sessions, from two sources:

- **reddit**: the social source's items of the sessions' window (previous close, last close] are read
  once per run, authors hashed, each item scored and its mentions found, and stored in
  ``social_posts``/``social_mentions`` (upserted: scores change); the rows are then aggregated from
  what storage holds for the window, so items an earlier sync stored count even when Reddit's listing
  no longer reaches back to them. Without Reddit's variables this part is off, said in one line.
- **news**: the stored articles naming each symbol, scored by the same scorer (title and description).
  A symbol-session whose news is not stored yet is left unanswered (not recorded as covered), so it is
  computed again once the news are there, never stored as "no news".
"""

import dataclasses
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Sequence

import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.config.sentiment import SentimentFile
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.datasets.sentiment import GONE_BODIES, SENTIMENT_COLUMNS, SOCIAL_POST_COLUMNS
from ai_trader_assets.ingest.request import IngestReport
from ai_trader_assets.ingest.sentiment.aggregate import aggregate
from ai_trader_assets.ingest.sentiment.text import MentionFinder, Scorer
from ai_trader_assets.providers.base import ProviderCall, ProviderResult, ingest_time
from ai_trader_assets.providers.social import SocialFetch, SocialSource
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.social import SocialStore

# The stored articles of sessions first..last naming any of the symbols (the read side's news: hot and
# cold), with at least ``id, published_utc, symbols, title, author, description``.
NewsReader = Callable[[Sequence[str], dt.date, dt.date], pd.DataFrame]
REDDIT_OFF = (
    "off: REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and REDDIT_USER_AGENT are not set, so sentiment comes "
    "from the stored news only"
)


@dataclasses.dataclass(frozen=True)
class SentimentInputs:
    """What sentiment is computed from.

    Attributes:
        social: The social source (Reddit, or the demo's); None: Reddit is off.
        news: The stored news (built by the caller from the read side).
        store: The raw items' tables.
        ledger: Coverage (which symbol-sessions' news are stored).
        universe: The symbols a mention may name (the active companies).
        config: ``sentiment.yaml``.
    """

    social: SocialSource | None
    news: NewsReader
    store: SocialStore
    ledger: Ledger
    universe: Callable[[], Sequence[str]]
    config: SentimentFile


class SentimentBuilder:
    """Called like a provider method: ``(symbols, first, last) -> ProviderResult`` of sentiment rows."""

    def __init__(self, inputs: SentimentInputs, report: IngestReport) -> None:
        self.inputs = inputs
        self.report = report
        self.scorer = Scorer(inputs.config.lexicon)
        self._finder: MentionFinder | None = None
        self._synced: set[tuple[dt.datetime, dt.datetime]] = set()
        self._salt: str | None = None
        report.reddit = f"{inputs.social.name}: on" if inputs.social is not None else REDDIT_OFF

    def __call__(self, symbols: list[str], first: dt.date, last: dt.date) -> ProviderResult:
        _, start = calendar.session_open_close(calendar.previous_session(first))
        _, end = calendar.session_open_close(last)
        calls: tuple[ProviderCall, ...] = ()
        rejects = None
        frames = []
        if self.inputs.social is not None:
            fetched = self._sync(start, end)
            if fetched is not None:
                calls, rejects = fetched.calls, fetched.rejects
            items = self.inputs.store.mentioned(symbols, start, end)
            items = items.rename(columns={"score": "rank"})
            frames.append(aggregate(items, "reddit"))
        news, unanswered = self._news(symbols, first, last)
        frames.append(news)
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        result = ProviderResult(frame=conform(frame, SENTIMENT_COLUMNS), calls=calls, unanswered=unanswered)
        return result if rejects is None else dataclasses.replace(result, rejects=rejects)

    # ------------------------------------------------------------------ reddit

    def _sync(self, start: dt.datetime, end: dt.datetime) -> SocialFetch | None:
        """Read the window's items from the source and store them (once per window and run)."""
        if (start, end) in self._synced or self.inputs.social is None:
            return None
        self._synced.add((start, end))
        # The source's window is [start, end); a session owns (previous close, close].
        fetched = self.inputs.social.items(start, end + dt.timedelta(seconds=1))
        self.report.notes.extend(fetched.notes)
        if fetched.reached:
            oldest = max(fetched.reached.values())
            self.report.notes.append(
                f"reddit: the listings reached back only to {oldest:%Y-%m-%d %H:%M} UTC "
                f"({', '.join('r/' + s for s in sorted(fetched.reached))}); older items of the window come "
                "only from what earlier syncs stored"
            )
        items = self._prepare(fetched.frame)
        self.inputs.store.store(items, self._mentions(items, fetched.frame))
        self.report.social_items += len(items)
        return fetched

    def _prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Items as stored: the author hashed (no user name is kept), the text scored."""
        if frame.empty:
            return conform(
                frame.assign(author_hash=pd.NA, compound=float("nan"), ingested_at=pd.NaT),
                SOCIAL_POST_COLUMNS,
            )
        if self._salt is None:
            self._salt = self.inputs.store.salt()
        key = self._salt.encode()
        authors = [
            None if pd.isna(a) else hmac.new(key, str(a).encode(), hashlib.sha256).hexdigest()[:32]
            for a in frame["author"]
        ]
        texts = [_item_text(t, b) for t, b in zip(frame["title"], frame["body"], strict=True)]
        items = frame.drop(columns=["author"]).assign(
            author_hash=pd.array(authors, dtype="string"),
            compound=self.scorer.scores(texts),
            ingested_at=ingest_time(),
        )
        return conform(items, SOCIAL_POST_COLUMNS)

    def _mentions(self, items: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
        if self._finder is None:
            self._finder = MentionFinder(self.inputs.universe(), self.inputs.config.stop_words)
        finder = self._finder
        links = [
            (item_id, symbol)
            for item_id, title, body in zip(raw["id"], raw["title"], raw["body"], strict=True)
            for symbol in finder.symbols(" \n".join(str(t) for t in (title, body) if not pd.isna(t)))
        ]
        return pd.DataFrame(links, columns=["item_id", "symbol"])

    # ------------------------------------------------------------------ news

    def _news(
        self, symbols: list[str], first: dt.date, last: dt.date
    ) -> tuple[pd.DataFrame, frozenset[tuple[dt.date, str]]]:
        """News sentiment of the symbol-sessions whose news are stored; the others unanswered."""
        sessions = calendar.sessions(first, last)
        covered = self.inputs.ledger.fetched(Dataset.NEWS, sessions, symbols)
        pairs = {(s, m) for s in sessions for m in symbols}
        unanswered = frozenset(p for p in pairs if p not in covered or covered[p][1] is not None)
        if unanswered:
            self.report.notes.append(
                f"news not stored yet for {len(unanswered)} symbol-session(s): their sentiment follows once "
                "the news asset has stored them"
            )
        articles = self.inputs.news(symbols, first, last)
        if articles.empty:
            return aggregate(pd.DataFrame(), "news"), unanswered
        wanted = set(symbols)
        named = articles.explode("symbols")
        named = named[named["symbols"].isin(wanted)]
        compound = self.scorer.scores(
            _item_text(t, d) for t, d in zip(named["title"], named["description"], strict=True)
        )
        items = pd.DataFrame(
            {
                "id": named["id"].astype(object).to_numpy(),
                "symbol": named["symbols"].astype(object).to_numpy(),
                "kind": "post",
                "created_utc": pd.to_datetime(named["published_utc"], utc=True).to_numpy(),
                "author_hash": named["author"].astype(object).to_numpy(),
                "compound": compound,
            }
        )
        items["created_utc"] = pd.to_datetime(items["created_utc"], utc=True)
        items["rank"] = items["compound"].abs().fillna(-1.0)  # the strongest-toned articles first
        rows = aggregate(items, "news")
        keep = [
            (pd.Timestamp(ts).tz_convert(calendar.NEW_YORK).date(), s) not in unanswered
            for ts, s in zip(rows["ts"], rows["symbol"], strict=True)
        ]
        return rows[keep].reset_index(drop=True), unanswered


def _item_text(title: object, body: object) -> str | None:
    """What is scored: title and body; nothing when the body was deleted or removed."""
    if not pd.isna(body) and str(body).strip() in GONE_BODIES:
        return None
    parts = [str(p) for p in (title, body) if not pd.isna(p) and str(p).strip()]
    return "\n".join(parts) or None
