"""Benzinga's news items parsed into the news frame and its symbol links: ids ``benzinga:<id>``,
dates with their own offset, HTML stripped to text. A bad item is a reject with its reason."""

import datetime as dt
import email.utils
import logging
from typing import Any

import pandas as pd

from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.news import NEWS_COLUMNS, NEWS_SYMBOL_COLUMNS
from ai_trader_assets.datasets.symbols import SYMBOL_PATTERN as SYMBOL
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, rejects_frame
from ai_trader_assets.providers.base import ProviderCall, ProviderResult
from ai_trader_assets.providers.text import html_to_text, plain_title

SOURCE = "benzinga"
NEWS = "/api/v2/news"
PUBLISHER = "Benzinga"
DESCRIPTION_CHARS = 500  # of the body, when the teaser is empty

log = logging.getLogger(__name__)


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime (a naive one is taken as UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def parse_created(value: object) -> dt.datetime | None:
    """An RFC-2822 date with its own offset, in UTC; None when missing or unparseable.

    ``-0000`` (RFC 2822: UTC, local offset unknown) parses to a naive datetime, read as UTC.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return as_utc(parsed)


def _description(item: dict[str, Any]) -> str | None:
    """The teaser as plain text, or the start of the body (cut at a word) when the teaser is empty."""
    teaser = html_to_text(item.get("teaser"))
    if teaser:
        return teaser
    body = html_to_text(item.get("body"))
    if body is None or len(body) <= DESCRIPTION_CHARS:
        return body
    cut = body[:DESCRIPTION_CHARS]
    head, space, _ = cut.rpartition(" ")
    return (head if space and head else cut).rstrip() + "…"


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def item_id(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return _text(value)
    return None


def _symbols(item: dict[str, Any]) -> list[str]:
    """The well-formed ``stocks[].name`` of an item, each once, in order."""
    stocks = item.get("stocks")
    names = [s.get("name") for s in stocks if isinstance(s, dict)] if isinstance(stocks, list) else []
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and SYMBOL.match(n)))


def parse_news(
    items: list[Any], start: dt.datetime, end: dt.datetime, calls: list[ProviderCall]
) -> ProviderResult:
    """Items to NEWS_COLUMNS rows, ``news_symbols`` links and rejects; items created outside
    [start, end) (the request covers whole days) are left out: they were not asked for."""
    rows: list[dict[str, Any]] = []
    links: list[dict[str, str]] = []
    rejected: list[dict[str, Any]] = []
    reasons: list[str] = []
    outside = 0
    for item in items:
        if not isinstance(item, dict):
            rejected.append({"item": item})
            reasons.append("not a JSON object")
            continue
        news_id = item_id(item.get("id"))
        created = parse_created(item.get("created"))
        title = plain_title(item.get("title"))
        if created is not None and not start <= created < end:
            outside += 1
            continue
        problems = [
            reason
            for reason, bad in (
                ("missing id", news_id is None),
                ("missing or unparseable created", created is None),
                ("missing title", title is None),
            )
            if bad
        ]
        if problems:
            rejected.append(item)
            reasons.append("; ".join(problems))
            continue
        row_id = f"{SOURCE}:{news_id}"
        rows.append(
            {
                "id": row_id,
                "published_utc": created,
                "title": title,
                "author": _text(item.get("author")),
                "article_url": _text(item.get("url")),
                "publisher": PUBLISHER,
                "description": _description(item),
            }
        )
        links.extend({"news_id": row_id, "symbol": symbol} for symbol in _symbols(item))
    if outside:
        log.debug("benzinga %s: %d item(s) created outside the requested window left out", NEWS, outside)
    now = pd.Timestamp.now(tz="UTC").as_unit("us")
    if rows:
        frame = pd.DataFrame(rows).assign(source=SOURCE, ingested_at=now)
        frame["published_utc"] = pd.to_datetime(frame["published_utc"], utc=True)
        frame = conform(frame, NEWS_COLUMNS)
    else:
        frame = empty_frame(NEWS_COLUMNS)
    link_frame = (
        conform(pd.DataFrame(links), NEWS_SYMBOL_COLUMNS) if links else empty_frame(NEWS_SYMBOL_COLUMNS)
    )
    return ProviderResult(
        frame=frame,
        rejects=rejects_frame(rejected, reasons) if rejected else EMPTY_REJECTS,
        calls=tuple(calls),
        links=link_frame,
    )
