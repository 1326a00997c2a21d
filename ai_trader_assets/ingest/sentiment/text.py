"""Reading text: which symbols an item names (:class:`MentionFinder`) and its tone (:class:`Scorer`).

Mentions. A cashtag (``$AAPL``, ``$BRK.B``, ``$brk-b``) counts for any symbol of the universe: the
``$`` says a ticker is meant, whatever the case. A bare word counts only when it is written in upper
case, is a universe symbol of two or more letters and is not on the stop-list (``IT``, ``ALL``,
``CEO``, ...): "a", "it" and "All in" never count, ``A`` only as ``$A``. Links, code blocks and inline
code are removed first (``/quote/AAPL`` in a URL is not a mention). Each item names a symbol at most
once.

Tone. VADER (``vaderSentiment``, its lexicon shipped with the package) with the finance overlay of
``sentiment.yaml``; a phrase of the overlay ("short squeeze") is joined into one token before scoring,
because VADER reads single words.
"""

import re
from collections.abc import Iterable, Mapping

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from ai_trader_assets.datasets.sentiment import GONE_BODIES

# Fenced blocks, then indented code lines (Markdown: four spaces), inline code, and links.
_CODE_BLOCK = re.compile(r"```.*?```|~~~.*?~~~", re.DOTALL)
_INDENTED_CODE = re.compile(r"^(?: {4}|\t).*$", re.MULTILINE)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\b(?:https?://|www\.)\S+|\]\([^)]*\)", re.IGNORECASE)
# $AAPL, $brk.b, $BRK-B: letters, optionally a share class; never $100 or $5k.
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:[.\-][A-Za-z]{1,2})?)(?![\w.\-]*\w)")
# An upper-case word (BRK.B included) standing alone: not inside a longer word, not after a $.
_BARE = re.compile(r"(?<![\w$.\-])([A-Z]{2,6}(?:[.\-][A-Z]{1,2})?)(?![\w\-]|\.\w)")


def plain_text(text: str) -> str:
    """The text without code and links: what people wrote, not what they pasted."""
    for pattern in (_CODE_BLOCK, _INDENTED_CODE, _INLINE_CODE, _LINK):
        text = pattern.sub(" ", text)
    return text


def _key(token: str) -> str:
    """BRK.B, BRK-B and brk.b are one symbol: compared upper-case with '.' for the class."""
    return token.upper().replace("-", ".")


class MentionFinder:
    """Finds the universe's symbols an item names.

    Args:
        universe: Every symbol a cashtag may name (the companies table's active symbols).
        stop_words: Upper-case words that are never a bare-word mention.
    """

    def __init__(self, universe: Iterable[str], stop_words: Iterable[str]) -> None:
        self._symbols = {_key(symbol): symbol for symbol in universe}
        stop = {_key(word) for word in stop_words}
        letters = {key: sum(c.isalpha() for c in key) for key in self._symbols}
        self._bare = {key for key in self._symbols if letters[key] >= 2 and key not in stop}

    def symbols(self, text: str | None) -> list[str]:
        """The symbols ``text`` names, each once, in order of first mention."""
        if not text:
            return []
        text = plain_text(text)
        found: dict[str, None] = {}
        for match in _CASHTAG.finditer(text):
            symbol = self._symbols.get(_key(match.group(1)))
            if symbol is not None:
                found.setdefault(symbol)
        for match in _BARE.finditer(text):
            key = _key(match.group(1))
            if key in self._bare:
                found.setdefault(self._symbols[key])
        return list(found)


class Scorer:
    """VADER's compound score (-1 .. +1) of a text, with a finance lexicon overlay.

    Args:
        overlay: Word or phrase -> valence on VADER's scale (-4 .. +4); empty: VADER alone.
    """

    def __init__(self, overlay: Mapping[str, float] | None = None) -> None:
        self._analyzer = SentimentIntensityAnalyzer()
        self._phrases: list[tuple[re.Pattern[str], str]] = []
        for word, valence in (overlay or {}).items():
            token = word.lower()
            if " " in token:
                # VADER splits on whitespace: a phrase is scored as one joined token.
                joined = token.replace(" ", "")
                pattern = re.compile(
                    r"\b" + r"\s+".join(map(re.escape, token.split())) + r"\b", re.IGNORECASE
                )
                self._phrases.append((pattern, joined))
                token = joined
            self._analyzer.lexicon[token] = float(valence)

    def score(self, text: str | None) -> float | None:
        """The compound score; None for no text or a body Reddit removed (never scored)."""
        if text is None or not text.strip() or text.strip() in GONE_BODIES:
            return None
        text = plain_text(text)
        for pattern, joined in self._phrases:
            text = pattern.sub(joined, text)
        return float(self._analyzer.polarity_scores(text)["compound"])

    def scores(self, texts: Iterable[str | None]) -> np.ndarray:
        """Compound scores as floats (NaN where not scored)."""
        return np.array([np.nan if (s := self.score(t)) is None else s for t in texts], dtype="float64")
