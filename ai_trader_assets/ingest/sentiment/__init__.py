"""Social sentiment, computed rather than fetched: the items' mentions and tone (:mod:`.text`), the
per-symbol, per-session aggregate (:mod:`.aggregate`), and the rows of a run from Reddit and the
stored news (:mod:`.build`)."""

from ai_trader_assets.ingest.sentiment.build import NewsReader, SentimentBuilder, SentimentInputs
from ai_trader_assets.ingest.sentiment.text import MentionFinder, Scorer

__all__ = ["MentionFinder", "NewsReader", "Scorer", "SentimentBuilder", "SentimentInputs"]
