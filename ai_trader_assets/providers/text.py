"""Provider text fields made plain: news bodies and teasers arrive as HTML with entities."""

import html
import re
from html.parser import HTMLParser

_BLOCK_TAGS = {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table"}
_SPACE = re.compile(r"\s+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(value: object) -> str | None:
    """Plain text of an HTML fragment (tags dropped, entities decoded, whitespace collapsed);
    None for a missing or blank value."""
    if not isinstance(value, str) or not value.strip():
        return None
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    # convert_charrefs has decoded the entities once; decoding again would turn "&amp;lt;" into "<".
    text = _SPACE.sub(" ", "".join(parser.parts)).strip()
    return text or None


def plain_title(value: object) -> str | None:
    """A headline as text: entities decoded (``&#39;``), whitespace collapsed; no tag stripping, since
    a title is not HTML and may hold a literal ``<``."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _SPACE.sub(" ", html.unescape(value)).strip() or None
