"""The Alpaca market-data provider, on the official ``alpaca-py`` SDK, behind our request governor.

Serves every dataset we ingest:

- bars at every stored interval (``/v2/stocks/bars``: 1Day, 1Hour, 5Min, 1Min), many symbols per
  request (chunks of :data:`SYMBOLS_PER_REQUEST`), unadjusted (``adjustment=raw``), on the feed of
  ``providers.yaml`` (``sip``: consolidated volume, comparable with Polygon and Yahoo);
- news (``/v1beta1/news``: Benzinga's articles, ids ``benzinga:<id>`` like the Benzinga provider's);
- corporate actions (``/v1/corporate-actions``: cash dividends, forward and reverse splits);
- the universe: active US equities from the trading API (``/v2/assets`` at ``ALPACA_TRADING_URL``,
  our JSON transport, the same key headers), and renames from name-change corporate actions.

Traps handled (see ``shared/fixtures/PROVIDER_NOTES.md``):

- Retries. The SDK retries 429 and 504 itself with fixed 3 s sleeps, blind to ``Retry-After``, and
  turns every other failure into an ``APIError`` holding the body. Our clients replace the SDK's
  single-request step (``RESTClient._one_request``) so each HTTP request runs inside
  :meth:`RequestGovernor.run` (one rate-limit slot per attempt, classified retries with backoff or
  ``Retry-After``, :class:`AuthenticationError` at once on 401/403) and the SDK's loop runs once
  (``_retry = 0``): the two retry policies never stack.
- Timeouts. The SDK sets none (a stalled socket would hang a run); every request gets
  ``(connect, read)`` from ``providers.yaml``; timeouts, dropped connections and a body that is not
  JSON (a page cut off in transit) are transient and retried, never a short result.
- ``limit`` is a *total* cap in the SDK, and ``CorporateActionsRequest.limit`` defaults to 1000, which
  would silently truncate: we always pass ``limit=None`` and set the *page* size (capped by the
  API's maximum) from ``providers.yaml``; every page is followed via ``next_page_token``, and a token
  seen twice (a loop the SDK would follow forever) raises :class:`PaginationError`.
- Daily bars are stamped at midnight New York in UTC (04:00Z/05:00Z); the session is derived from
  ``t`` in New York time and restamped with :func:`calendar.session_midnight_utc` explicitly, so the
  convention is ours, not a coincidence of Alpaca's.
- The corporate-actions ``start``/``end`` filter Alpaca's *process* date (a dividend is processed on
  its payable date, weeks after the ex-date; a large dividend's ex-date can follow its payable date),
  while our interface asks by ex-date: the request window is widened by :data:`PROCESS_LOOKBACK` /
  :data:`PROCESS_LOOKAHEAD` and the result kept by ex-date.
- News ``end`` is inclusive at Alpaca; ours is exclusive, so articles are kept in [start, end).
- Keys travel only in the ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers, read from
  :class:`Secret` at request time: the SDK clients hold placeholders, so no key sits in a plain
  attribute, a URL, a log line, an error message or a repr.
- Rows that fail validation (``high < low``, non-positive prices, missing fields, malformed symbols,
  non-positive ratios or amounts) become rejects with a reason and the raw record: nothing dropped
  silently.

Modules: :mod:`.client` (the provider), :mod:`.sdk` (the governed SDK clients), :mod:`.parse`.
Importing this package loads ``alpaca-py``: only the provider factory does, when Alpaca is built.
"""

from ai_trader_assets.providers.alpaca.client import AlpacaProvider
from ai_trader_assets.providers.alpaca.parse import parse_bars, parse_corporate_actions, parse_news

__all__ = ["AlpacaProvider", "parse_bars", "parse_corporate_actions", "parse_news"]
