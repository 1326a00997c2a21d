"""Alpaca's stock trades (``/v2/stocks/trades``) for the ``ticks`` dataset.

One listing per chunk of symbols: ``symbols=A,B``, the session's New York day (from ``since`` when
later) as RFC 3339, ``limit`` the page size of ``providers.yaml``, ``sort=asc``, the configured feed,
every page to the end by ``next_page_token``. Each request is one call of the governed stock
client's ``get`` (the bars' transport: keys in headers, the governor's limits and retries, the body
checked for its ``trades`` map), inside :func:`~.sdk.listing`, so a repeated page token is a
:class:`PaginationError` as for the bars. Pages are parsed as they arrive (:func:`.parse.parse_trades`):
a session of a busy symbol is millions of records, which are never all held as JSON at once.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import pandas as pd
from alpaca.common.rest import RESTClient

from ai_trader_assets.datasets.frames import empty_frame
from ai_trader_assets.datasets.ticks import TICK_COLUMNS, session_bounds_ns, tick_problems
from ai_trader_assets.datasets.validation import EMPTY_REJECTS, split_rejects
from ai_trader_assets.providers.alpaca.parse import parse_trades
from ai_trader_assets.providers.alpaca.sdk import SOURCE, TRADES, listing
from ai_trader_assets.providers.base import PaginationError, ProviderCall, ProviderResult

# The path the SDK client appends to ``<base>/v2``.
TRADES_PATH = "/stocks/trades"
NS = 1_000_000_000


def rfc3339(ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 in UTC, the fraction only as long as needed."""
    seconds, fraction = divmod(ns, NS)
    text = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{fraction:09d}".rstrip("0") + "Z" if fraction else f"{text}Z"


def datetime_ns(moment: dt.datetime) -> int:
    """A datetime as nanoseconds since the epoch (naive values are taken as UTC, like the SDK does)."""
    aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    return int(pd.Timestamp(aware).as_unit("ns").value)


@dataclasses.dataclass(frozen=True)
class TradeWindow:
    """What one session's request asks for, in nanoseconds UTC.

    Attributes:
        start: The first instant asked for (the day's start, or ``since`` when later).
        end: The last instant asked for (the next day's midnight; earlier behind a delayed feed).
        day_end: The session day's exclusive end: a trade at or after it is the next session's.
        served_until: The delayed feed's horizon when it cut ``end`` short (None: not cut).
    """

    start: int
    end: int
    day_end: int
    served_until: dt.datetime | None = None

    @property
    def empty(self) -> bool:
        return self.end <= self.start


def trade_window(session: dt.date, since: dt.datetime | None, horizon: dt.datetime | None) -> TradeWindow:
    """The session's New York day from ``since`` (when later), cut at ``horizon`` (a feed whose last
    minutes the plan does not serve: asked for again later)."""
    day_start, day_end = session_bounds_ns(session)
    start = day_start if since is None else max(day_start, datetime_ns(since))
    if horizon is not None and datetime_ns(horizon) < day_end:
        return TradeWindow(start, datetime_ns(horizon), day_end, horizon)
    return TradeWindow(start, day_end, day_end)


def trade_pages(client: RESTClient, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every page of one listing: the same query plus ``page_token`` until ``next_page_token`` is
    null. Run inside :func:`~.sdk.listing`, which refuses a token seen before."""
    token: str | None = None
    while True:
        body = cast(dict[str, Any], client.get(TRADES_PATH, {**params, "page_token": token}))
        yield body
        following = body.get("next_page_token")  # "" is normalised to None by the client
        if following is None:
            return
        if not isinstance(following, str):
            raise PaginationError(f"{SOURCE} {TRADES}: next_page_token is not a string: {following!r}")
        token = following


def fetch_trades(
    client: RESTClient, chunks: Iterable[Sequence[str]], window: TradeWindow, feed: str, page_size: int
) -> ProviderResult:
    """The trades of each chunk of symbols in ``window``, every page, parsed page by page; a trade
    key repeated across pages keeps its later record (the earlier one is a reject)."""
    calls: list[ProviderCall] = []
    frames: list[pd.DataFrame] = []
    rejects: list[pd.DataFrame] = []
    for chunk in [] if window.empty else chunks:
        params = {
            "symbols": ",".join(chunk),
            "start": rfc3339(window.start),
            "end": rfc3339(window.end),
            "limit": page_size,
            "feed": feed,
            "sort": "asc",
        }
        with listing(calls):
            for body in trade_pages(client, params):
                frame, rejected = parse_trades(body["trades"], (window.start, window.day_end))
                frames.extend([frame] if not frame.empty else [])
                rejects.extend([rejected] if not rejected.empty else [])
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame(TICK_COLUMNS)
    if len(frames) > 1:  # each page is checked alone: a correction on a later page supersedes here
        frame, superseded = split_rejects(frame, tick_problems(frame))
        rejects.extend([superseded] if not superseded.empty else [])
    return ProviderResult(
        frame=frame,
        rejects=pd.concat(rejects, ignore_index=True) if rejects else EMPTY_REJECTS,
        calls=tuple(calls),
        served_until=window.served_until,
    )
