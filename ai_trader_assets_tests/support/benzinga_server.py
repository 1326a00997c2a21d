"""A local HTTP server speaking Benzinga's news API (``GET /api/v2/news``), for tests and benchmarks.

The shape follows ``../shared/fixtures/benzinga/news_v2_docs_response_example.json``: a JSON array of
``{id, author, created, updated, title, teaser, body, url, image, channels, stocks, tags}``, dates as
RFC-2822 strings with the Eastern offset of the moment (-0400 or -0500), teaser and body as HTML
with entities (a quarter of the articles have an empty teaser and a long body). Articles come from
the demo provider, so any ticker and date range has deterministic news; ``dateFrom``/``dateTo`` are
read as whole Eastern days, as Benzinga does. Paging is by ``page``/``pageSize`` (capped at 100).

The key must arrive as ``Authorization: token <key>``; otherwise the answer is Benzinga's 401 with a
JSON-array body (a ``token=`` query parameter is not accepted here, unlike Benzinga). Failures
and canned bodies are scripted through :class:`FakeApi` (``fail``, ``respond``);
:meth:`BenzingaServer.truncate_page` cuts a generated page's bytes (a corrupt page mid-pagination).
"""

import datetime as dt
import email.utils
import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any

from ai_trader_assets.calendar import NEW_YORK, new_york_today
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets_tests.support.fake_api import FakeApi, RecordedRequest, fixture_json

NEWS = "/api/v2/news"
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 15
ACCESS_DENIED = ['Access denied for user 0 "anonymous"']
__all__ = ["BenzingaServer", "RecordedRequest", "benzinga_id", "docs_example"]


def docs_example() -> list[dict[str, Any]]:
    """The response example of Benzinga's news docs (one article, ``created`` with -0400 in January)."""
    return fixture_json("benzinga", "news_v2_docs_response_example.json")  # type: ignore[no-any-return]


def benzinga_id(demo_id: str) -> int:
    """The integer id the server gives the demo article ``demo_id`` (stable across processes)."""
    digest = hashlib.blake2b(demo_id.encode(), digest_size=6).digest()
    return 10_000_000 + int.from_bytes(digest, "big")


def rfc2822_eastern(moment: dt.datetime) -> str:
    """``Wed, 26 Jun 2024 13:06:30 -0400``: the moment in Eastern time with its offset."""
    return email.utils.format_datetime(moment.astimezone(NEW_YORK))


def _article(demo: dict[str, Any], symbol: str) -> dict[str, Any]:
    news_id = benzinga_id(demo["id"])
    published: dt.datetime = demo["published_utc"].to_pydatetime()
    title = demo["title"]
    slug = title.lower().replace(" ", "-")
    paragraph = (
        f"<p>{title} &mdash; the synthetic desk&#39;s take on <strong>{symbol}</strong> &amp; its peers. "
        "Analysts at Demo &quot;Research&quot; see volumes &gt; average "
        "and margins &lt; last year&hellip;</p>"
    )
    empty_teaser = news_id % 4 == 0
    return {
        "id": news_id,
        "author": demo["author"],
        "created": rfc2822_eastern(published),
        "updated": rfc2822_eastern(published + dt.timedelta(minutes=news_id % 90)),
        "title": title,
        "teaser": "" if empty_teaser else f"<p>{symbol} &amp; peers: {title} &#8212; <em>synthetic</em>.</p>",
        "body": paragraph * (4 if empty_teaser else 1),
        "url": f"https://www.benzinga.com/news/{published:%y/%m}/{news_id}/{slug}",
        "image": []
        if news_id % 3 == 0
        else [{"size": "thumb", "url": f"https://cdn.benzinga.com/files/images/story/{news_id}.jpeg"}],
        "channels": [{"name": "News"}],
        "stocks": [{"name": symbol, "exchange": "NASDAQ"}],
        "tags": [{"name": "Demo"}],
    }


class BenzingaServer(FakeApi):
    """Start with ``with BenzingaServer(api_key) as server:``; point BENZINGA_BASE_URL at ``server.url``."""

    def __init__(self, api_key: str, max_page_size: int = MAX_PAGE_SIZE) -> None:
        super().__init__()
        self.api_key = api_key
        self.max_page_size = max_page_size
        self._demo = DemoProvider()
        self._cache: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._truncated: dict[int, int] = {}
        self._truncate_lock = threading.Lock()

    # ------------------------------------------------------------ FakeApi hooks

    def authorized(self, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        return headers.get("Authorization") == f"token {self.api_key}"

    def unauthorized(self) -> tuple[int, Any]:
        return 401, ACCESS_DENIED

    def error_body(self, status: int) -> Any:
        return f"HTTP {status}"  # Benzinga's errors are a bare JSON string or {"message": ...}

    def generate(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path != NEWS:
            return 404, "Not Found"
        page = int(query.get("page", ["0"])[0])
        size = min(int(query.get("pageSize", [str(DEFAULT_PAGE_SIZE)])[0]), self.max_page_size)
        items = self.articles(
            query.get("tickers", [""])[0].split(","),
            query.get("dateFrom", [""])[0],
            query.get("dateTo", [""])[0],
        )
        if query.get("sort", ["created:desc"])[0] != "created:asc":
            items = items[::-1]
        body = items[page * size : (page + 1) * size]
        with self._truncate_lock:
            if self._truncated.get(page, 0) > 0:
                self._truncated[page] -= 1
                encoded = json.dumps(body).encode()
                return 200, encoded[: len(encoded) // 2]
        return 200, body

    # ------------------------------------------------------------------ data

    def articles(self, tickers: list[str], date_from: str, date_to: str) -> list[dict[str, Any]]:
        """Every article naming ``tickers`` created on the Eastern days ``date_from``..``date_to``,
        oldest first (ties by id): what the pages of one query slice."""
        symbols = sorted({t.strip() for t in tickers if t.strip()})
        key = (",".join(symbols), date_from, date_to)
        if key not in self._cache:
            first = dt.date.fromisoformat(date_from) if date_from else new_york_today()
            last = dt.date.fromisoformat(date_to) if date_to else first
            start = dt.datetime.combine(first, dt.time(), NEW_YORK)
            end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), NEW_YORK)
            links = self._demo.news(symbols, start, end)
            frame = links.frame.assign(symbol=links.links["symbol"] if links.links is not None else None)
            generated = [_article(row, row["symbol"]) for row in frame.to_dict(orient="records")]
            generated.sort(key=lambda a: (email.utils.parsedate_to_datetime(a["created"]), a["id"]))
            self._cache[key] = generated
        return self._cache[key]

    def truncate_page(self, page: int, times: int = 1) -> None:
        """The next ``times`` answers for page number ``page`` are cut-off JSON (HTTP 200)."""
        with self._truncate_lock:
            self._truncated[page] = self._truncated.get(page, 0) + times
