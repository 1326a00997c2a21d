"""Reddit's listing children as rows of :data:`~ai_trader_assets.datasets.sentiment.SOCIAL_ITEM_COLUMNS`.

A child is ``{"kind": "t3" | "t1" | "more", "data": {...}}``. What is read, and why:

- ``id`` is the fullname (``t3_...`` post, ``t1_...`` comment): ``name`` when given, else kind + id;
  fullnames are what comments' ``parent_id`` and listings' ``after`` use.
- ``created_utc`` (float epoch seconds), never ``created``: the latter carried a local offset in
  older data (the 2016 fixtures differ by eight hours).
- ``body`` is the post's ``selftext`` (empty for a link post) or the comment's ``body``; ``[deleted]``
  and ``[removed]`` are kept as such (the item existed; the scorer skips them).
- ``author`` is NA when ``[deleted]`` or missing.
- A child without an id or a creation time is a reject with a reason, never dropped silently. The
  rejected record keeps only the fields read to place it (no user name: rejects are stored).
"""

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.datasets.sentiment import SOCIAL_ITEM_COLUMNS
from ai_trader_assets.datasets.validation import rejects_frame

SOURCE = "reddit"
KINDS = {"t3": "post", "t1": "comment"}
DELETED_AUTHOR = "[deleted]"
# What a reject keeps of a child: enough to find it again on Reddit, no user name, no text.
REJECT_FIELDS = ("id", "name", "subreddit", "created_utc", "permalink", "parent_id", "link_id")

Row = dict[str, Any]
Reject = tuple[dict[str, Any], str]  # (record, reason)


def listing_children(body: Any) -> list[Any]:
    """The children of a Listing body (the transport has checked the shape)."""
    return list(body["data"]["children"])


def listing_after(body: Any) -> str | None:
    after = body["data"].get("after")
    return after if isinstance(after, str) and after else None


def created_at(value: Any) -> dt.datetime | None:
    """``created_utc`` as a tz-aware UTC instant; None when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _record(kind: Any, data: Any) -> dict[str, Any]:
    fields = data if isinstance(data, dict) else {}
    return {"kind": kind, **{key: fields[key] for key in REJECT_FIELDS if key in fields}}


def _fullname(kind: str, data: dict[str, Any]) -> str | None:
    name, short = data.get("name"), data.get("id")
    if isinstance(name, str) and name.startswith(f"{kind}_") and len(name) > len(kind) + 1:
        return name
    if isinstance(short, str) and short:
        return f"{kind}_{short}"
    return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _author(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value != DELETED_AUTHOR else None


def item_row(child: Any, *, expect: str, subreddit: str, parent_id: str | None = None) -> Row | Reject:
    """One child as a row, or ``(record, reason)`` when it cannot be read.

    Args:
        expect: ``t3`` (a listing of posts) or ``t1`` (a post's comments).
        subreddit: The subreddit read, for a child that does not name its own.
        parent_id: For comments, the post's fullname (every comment row points at its post).
    """
    if not isinstance(child, dict) or not isinstance(child.get("data"), dict):
        return {"child": str(child)[:200]}, "not a listing child ({kind, data})"
    kind, data = child.get("kind"), child["data"]
    if kind != expect:
        return _record(kind, data), f"expected kind {expect}, got {kind!r}"
    fullname = _fullname(expect, data)
    if fullname is None:
        return _record(kind, data), "no id"
    created = created_at(data.get("created_utc"))
    if created is None:
        return _record(kind, data), "no created_utc (a finite epoch in seconds)"
    post = expect == "t3"
    return {
        "id": fullname,
        "kind": KINDS[expect],
        "subreddit": _text(data.get("subreddit")) or subreddit,
        "created_utc": created,
        "title": _text(data.get("title")) if post else None,
        "body": _text(data.get("selftext" if post else "body")),
        "score": _integer(data.get("score")),
        "num_comments": _integer(data.get("num_comments")) if post else None,
        "permalink": _text(data.get("permalink")),
        "parent_id": None if post else parent_id,
        "author": _author(data.get("author")),
        "source": SOURCE,
    }


def _comment_children(children: Sequence[Any]) -> Iterator[Any]:
    """Comments in Reddit's order, each followed by its replies (present when depth > 1); ``more``
    stubs (ids of comments not sent) are left out: reading them costs a request each."""
    for child in children:
        if isinstance(child, dict) and child.get("kind") == "more":
            continue
        yield child
        data = child.get("data") if isinstance(child, dict) else None
        replies = data.get("replies") if isinstance(data, dict) else None
        if isinstance(replies, dict) and isinstance(replies.get("data"), dict):
            yield from _comment_children(replies["data"].get("children") or [])


def comment_rows(
    children: Sequence[Any], *, post_id: str, subreddit: str, limit: int
) -> tuple[list[Row], list[Reject]]:
    """The comments of one post (``/comments/{id}``'s second listing): at most ``limit`` rows, each
    with ``parent_id`` = the post's fullname."""
    rows: list[Row] = []
    rejects: list[Reject] = []
    for child in _comment_children(children):
        if len(rows) >= limit:
            break
        read = item_row(child, expect="t1", subreddit=subreddit, parent_id=post_id)
        if isinstance(read, tuple):
            rejects.append(read)
        else:
            rows.append(read)
    return rows, rejects


def listing_rows(body: Any, subreddit: str) -> tuple[list[Row], list[Reject]]:
    """Every post of one listing page (no window applied), and the children that could not be read."""
    rows: list[Row] = []
    rejects: list[Reject] = []
    for child in listing_children(body):
        read = item_row(child, expect="t3", subreddit=subreddit)
        if isinstance(read, tuple):
            rejects.append(read)
        else:
            rows.append(read)
    return rows, rejects


def items_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """Rows in the ``SOCIAL_ITEM_COLUMNS`` schema."""
    frame = pd.DataFrame(list(rows), columns=list(SOCIAL_ITEM_COLUMNS))
    frame["created_utc"] = pd.to_datetime(frame["created_utc"], utc=True)
    return conform(frame, SOCIAL_ITEM_COLUMNS)


def rejects_of(rejects: Sequence[Reject]) -> pd.DataFrame:
    return rejects_frame([record for record, _ in rejects], [reason for _, reason in rejects])
